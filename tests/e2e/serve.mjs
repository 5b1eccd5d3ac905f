// A minimal static file server for dist/ (the built page), used by the e2e tests and the
// benchmarks so they need nothing but Node. It behaves like a well-set static host: gzip for
// text and wasm when the browser accepts it, and content-hashed files cached for good (so the
// service worker's precache is served from the HTTP cache, not downloaded twice).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.wasm', '.css', '.svg', '.json', '.txt']);
/** A content-hashed file name (trunk's and layerlab-stage's 16 hex digits). */
export const HASHED = /-[0-9a-f]{16}(_bg|_loader|_helper)?\.[a-z.]+$/;
/** Gzipped bodies by path and modification time. */
const gzipped = new Map();

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.gz': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serves `root` on 127.0.0.1 (a free port unless given); `mounts` maps URL prefixes such as
 * '/bench/' to other folders. Resolves to { url, close }. */
export function serve(root, port = 0, mounts = {}) {
  const server = http.createServer((req, res) => {
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const prefix = Object.keys(mounts).find((p) => pathname.startsWith(p));
    const base = path.resolve(prefix ? mounts[prefix] : root);
    let file = path.join(base, prefix ? pathname.slice(prefix.length) : pathname);
    if (!file.startsWith(base)) {
      res.writeHead(403).end();
      return;
    }
    if (pathname.endsWith('/')) file = path.join(file, 'index.html');
    fs.stat(file, (err, stat) => {
      if (err || !stat.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const headers = {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'cache-control': HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache',
      };
      if (COMPRESSIBLE.has(path.extname(file)) && /\bgzip\b/.test(req.headers['accept-encoding'] || '')) {
        const key = `${file}:${stat.mtimeMs}:${stat.size}`;
        if (!gzipped.has(key)) gzipped.set(key, zlib.gzipSync(fs.readFileSync(file), { level: 6 }));
        const body = gzipped.get(key);
        res.writeHead(200, { ...headers, 'content-encoding': 'gzip', 'content-length': body.length, vary: 'accept-encoding' });
        res.end(body);
        return;
      }
      res.writeHead(200, { ...headers, 'content-length': stat.size });
      fs.createReadStream(file).pipe(res);
    });
  });
  // Compressed up front, so the first visit does not wait for the compression (timings).
  for (const name of fs.readdirSync(root)) {
    const file = path.resolve(root, name);
    const stat = fs.statSync(file);
    if (stat.isFile() && COMPRESSIBLE.has(path.extname(file))) {
      gzipped.set(`${file}:${stat.mtimeMs}:${stat.size}`, zlib.gzipSync(fs.readFileSync(file), { level: 6 }));
    }
  }
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] || 'dist';
  const port = Number(process.argv[3] || 8080);
  serve(root, port).then(({ url }) => console.log(`serving ${root} at ${url}`));
}
