// Same-build comparison of the WebGPU worker's own kernels (src/engine/kernels/gpu.rs) with
// burn's operations: each run switches kernel families off in its fresh worker
// (`set_gpu_kernels_off`: dense 1, convolution 2, pooling 4, loss 8, SGD 16, the SGD over flat
// buffers 32) before it starts,
// alternating the variants, twice each. Measured by the result's timing, as bench/run.mjs does.
//   node bench/webgpu-kernels-ab.mjs      (LAYERLAB_DIST=dist; BENCH_CNN=0 for the FCN only)
//   VARIANTS='{"all":0,"burn loss+sgd":24}' node bench/webgpu-kernels-ab.mjs   (other variants)
//   FCN_STEPS=469 trains the FCN for that many steps (one epoch: the loss read back every 8)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-kernels-ab-'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'],
});
const variants = process.env.VARIANTS ? JSON.parse(process.env.VARIANTS) : { 'burn ops': 31, 'own kernels': 0, 'own, burn conv': 2 };
const configs = {
  'FCN 3x256 batch 128': { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', seed: 0, 'train-limit': 128 * +(process.env.FCN_STEPS || 21), 'test-limit': 500, 'eval-batch-size': 500 },
  'VGG-11 x0.25 batch 32': { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': 32, checkpoints: '0,1', 'train-limit': 32 * 4, 'test-limit': 16, 'eval-batch-size': 16 },
};
if (process.env.BENCH_CNN === '0') delete configs['VGG-11 x0.25 batch 32'];

async function run(config, mask) {
  const context = await browser.newContext({ acceptDownloads: true, serviceWorkers: 'block' });
  const page = await context.newPage();
  const frag = Object.entries({ ...config, backend: 'webgpu' }).map(([k, v]) => `${k}=${v}`).join('&');
  await page.goto(server.url + '#' + frag);
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120_000 });
  let set = false;
  for (const worker of page.workers()) {
    const has = await worker.evaluate(() => typeof wasm_bindgen !== 'undefined' && typeof wasm_bindgen.set_gpu_kernels_off === 'function').catch(() => false);
    if (has) {
      await worker.evaluate((m) => wasm_bindgen.set_gpu_kernels_off(m), mask);
      set = true;
    }
  }
  if (!set) throw new Error('no WebGPU worker with set_gpu_kernels_off');
  await page.click('[data-testid=run]');
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
  const file = path.join(out, 'r.json');
  await download.saveAs(file);
  await context.close();
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

for (const [label, config] of Object.entries(configs)) {
  for (let round = 0; round < 2; round++) {
    for (const [variant, mask] of Object.entries(variants)) {
      if (label.startsWith('FCN') && variant === 'own, burn conv') continue;
      const r = await run(config, mask);
      const t = r.timing;
      console.log(`${label.padEnd(22)} ${variant.padEnd(15)} ${t.steady_samples_per_second.toFixed(2)} samples/s after the first step, first step ${t.first_step_seconds.toFixed(2)} s, sweep ${t.sweep_seconds.toFixed(2)} s, error ${r.final_test_error}`);
    }
  }
}
await browser.close();
await server.close();
fs.rmSync(out, { recursive: true, force: true });
