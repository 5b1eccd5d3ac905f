// Same-time A/B of the page's two engine builds on its CPU backend: the CPU-only worker (what
// the page loads for `backend=cpu` and for `auto` without a hardware GPU) against the WebGPU
// worker running the same CPU backend (burn built with its wgpu and fusion features). Serves
// dist/ twice, the second copy with the CPU engine's <meta> pointing at the WebGPU worker, and
// alternates runs of the bench's FCN config and of a VGG-11 x0.25 config.
//   node bench/cpu-engine-ab.mjs        (after trunk build --release)
// B=compat: the second copy's CPU engine is instead the compat one (web/worker-cpu-compat: the
// products by a multiply and an add, for browsers without relaxed SIMD), both on one thread
// (service workers blocked), over longer windows (one MNIST epoch, 30 VGG steps).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = process.env.LAYERLAB_DIST || path.join(here, '..', 'dist');
const swapped = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-ab-'));
fs.cpSync(DIST, swapped, { recursive: true });
const index = path.join(swapped, 'index.html');
const html = fs.readFileSync(index, 'utf8');
const compat = process.env.B === 'compat';
const other = compat ? 'layerlab-worker-cpu-compat' : 'layerlab-worker';
const otherLoader = html.match(new RegExp(`name="${other}" content="([^"]+)"`))[1];
fs.writeFileSync(index, html.replace(/(name="layerlab-worker-cpu" content=")[^"]+/, `$1${otherLoader}`));

const builds = compat
  ? { 'CPU engine (relaxed madd)': await serve(DIST), 'compat engine (mul, add)': await serve(swapped) }
  : { 'CPU-only worker': await serve(DIST), 'WebGPU worker, CPU backend': await serve(swapped) };
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const configs = {
  'FCN 3x256 batch 128': { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, epochs: 1, checkpoints: '0,1', 'train-limit': 128 * (compat ? 469 : 101), 'test-limit': 500, 'eval-batch-size': 500 },
  'VGG-11 x0.25 batch 32': { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': 32, checkpoints: '0,1', 'train-limit': 32 * (compat ? 30 : 12), 'test-limit': 16, 'eval-batch-size': 16 },
};
for (const [label, config] of Object.entries(configs)) {
  for (let round = 0; round < 2; round++) {
    for (const [build, server] of Object.entries(builds)) {
      const page = await (await browser.newContext(compat ? { serviceWorkers: 'block' } : {})).newPage();
      const frag = Object.entries({ ...config, run: 1, backend: 'cpu' }).map(([k, v]) => `${k}=${v}`).join('&');
      await page.goto(server.url + '#' + frag);
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      // The summary line's speed: training samples/s over the whole run (result.timing).
      const summary = await page.textContent('[data-testid=summary]');
      console.log(`${label.padEnd(24)} ${build.padEnd(28)} ${summary.match(/([\d.]+) examples\/s/)[1]} samples/s`);
      await page.context().close();
    }
  }
}
await browser.close();
for (const s of Object.values(builds)) await s.close();
fs.rmSync(swapped, { recursive: true, force: true });
