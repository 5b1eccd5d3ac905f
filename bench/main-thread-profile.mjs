// Where the page's main thread spends its time while the engine trains in its worker: a V8 CPU
// profile of the main thread (Chrome DevTools Protocol) over a CPU-backend FCN run, summed by
// function (self time), plus the share of the profile that was idle.
//   node bench/main-thread-profile.mjs   (after trunk build --release; THREADS=0 for one thread)
import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
const context = await browser.newContext(process.env.THREADS === '0' ? { serviceWorkers: 'block' } : {});
const page = await context.newPage();
const config = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, epochs: 1, checkpoints: '0,1', 'train-limit': 128 * 400, 'test-limit': 2000, 'eval-batch-size': 500, run: 1, backend: 'cpu' };
const frag = Object.entries(config).map(([k, v]) => `${k}=${v}`).join('&');
// A first visit reloads once for the service worker; profile after the run is under way.
await page.goto(`${server.url}#${frag}`);
await page.waitForSelector('[data-testid=device]', { timeout: 60_000 });
await page.waitForTimeout(1500);
const cdp = await context.newCDPSession(page);
await cdp.send('Profiler.enable');
await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
await cdp.send('Profiler.start');
await page.waitForTimeout(Number(process.env.SECONDS || 3) * 1000);
const { profile } = await cdp.send('Profiler.stop');
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (const id of profile.samples) {
  const n = byId.get(id);
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
  self.set(key, (self.get(key) || 0) + 1);
}
const total = profile.samples.length;
console.log(`threads: ${await page.getAttribute('[data-testid=device]', 'data-threads')}; ${total} samples`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(100 * v / total).toFixed(1)}%  ${k}`);
await browser.close();
await server.close();
