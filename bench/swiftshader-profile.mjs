// Where a WebGPU training step's time goes inside SwiftShader (the software adapter here): trains
// the FCN 3x256 on WebGPU in headless Chromium, copies the GPU process's JIT code out of
// /proc/<pid>/mem while it runs, records `perf record -a` for a few seconds, then hands both to
// bench/swiftshader-profile.py (share of each code region, its hottest loops and their
// instruction mix). Needs perf and root (or ptrace and perf_event permissions).
//   node bench/swiftshader-profile.mjs      (LAYERLAB_DIST=dist; OUT=folder; SECONDS=10)
import { chromium } from 'playwright-core';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.OUT || fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-swiftshader-'));
fs.mkdirSync(out, { recursive: true });
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'] });
const page = await (await browser.newContext({ serviceWorkers: 'block' })).newPage();
const config = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1',
  seed: 0, 'train-limit': 128 * 400, 'test-limit': 500, 'eval-batch-size': 500, run: 1, backend: 'webgpu' };
await page.goto(server.url + '#' + Object.entries(config).map(([k, v]) => `${k}=${v}`).join('&'));
// Past the first step's compilation: steady training from here on.
await page.waitForFunction(() => document.querySelector('[data-testid=run]')?.disabled, null, { timeout: 120_000 });
await new Promise((r) => setTimeout(r, 8000));

const gpu = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
  try { return fs.readFileSync(`/proc/${p}/cmdline`).includes('--type=gpu-process'); } catch { return false; }
});
if (!gpu) throw new Error('no Chromium GPU process found');
const mem = fs.openSync(`/proc/${gpu}/mem`, 'r');
let regions = 0;
for (const line of fs.readFileSync(`/proc/${gpu}/maps`, 'utf8').split('\n')) {
  const [range, perms] = line.split(/\s+/);
  if (!line.includes('swiftshader_jit') || !perms.includes('x')) continue;
  const [lo, hi] = range.split('-').map((h) => BigInt('0x' + h));
  const bytes = Buffer.alloc(Number(hi - lo));
  fs.readSync(mem, bytes, 0, bytes.length, lo);
  fs.writeFileSync(path.join(out, `jit-${lo.toString(16)}.bin`), bytes);
  regions += 1;
}
fs.closeSync(mem);
const data = path.join(out, 'perf.data');
spawnSync('perf', ['record', '-q', '-a', '-o', data, '--', 'sleep', String(process.env.SECONDS || 10)], { stdio: 'inherit' });
await browser.close();
await server.close();
const script = execFileSync('perf', ['script', '-i', data, '-F', 'ip,dso'], { maxBuffer: 1 << 30 }).toString();
const ips = script.split('\n').filter((l) => l.includes('swiftshader_jit')).map((l) => l.trim().split(/\s+/)[0]);
fs.writeFileSync(path.join(out, 'ips.txt'), ips.join('\n') + '\n');
console.log(`GPU process ${gpu}: ${regions} JIT regions, ${ips.length} samples in JIT code; files in ${out}`);
spawnSync('python3', [path.join(here, 'swiftshader-profile.py'), out], { stdio: 'inherit' });
