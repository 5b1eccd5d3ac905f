// A quick look at the page's WebGPU path while working on its kernels (bench/run.mjs gives the
// recorded figures): the bench's FCN run on WebGPU with its dispatch counts and step profile,
// then VGG-11 x0.25 at batch 32.
//   node bench/webgpu-quick.mjs            (LAYERLAB_DIST=dist by default; BENCH_CNN=0: FCN only)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-quick-'));
const COUNTERS = fs.readFileSync(path.join(here, 'gpu-counters.js'), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'],
});

async function run(config, profileSteps) {
  const context = await browser.newContext({ acceptDownloads: true, serviceWorkers: 'block' });
  await context.route('**/*_loader.js', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: COUNTERS + '\n' + (await response.text()) });
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log('  console:', m.text().slice(0, 300)); });
  const frag = Object.entries({ ...config, run: 1, backend: 'webgpu' }).map(([k, v]) => `${k}=${v}`).join('&');
  await page.goto(server.url + '#' + frag);
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
  let counts = null;
  let profile = null;
  for (const worker of page.workers()) {
    const c = await worker.evaluate(() => self.__gpuCounts || null).catch(() => null);
    if (c && c.pipelines > 0) {
      counts = c;
      if (profileSteps) profile = JSON.parse(await worker.evaluate((n) => wasm_bindgen.profile_fcn_step(n), profileSteps));
    }
  }
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
  const file = path.join(out, 'r.json');
  await download.saveAs(file);
  await context.close();
  return { timing: JSON.parse(fs.readFileSync(file, 'utf8')).timing, counts, profile };
}

const FCN = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', seed: 0, 'test-limit': 500, 'eval-batch-size': 500 };
const short = await run({ ...FCN, 'train-limit': 128 * 11 });
const long = await run({ ...FCN, 'train-limit': 128 * 21 }, 3);
const t = long.timing;
console.log(`FCN: ${t.steady_samples_per_second.toFixed(1)} samples/s after the first step, first step ${t.first_step_seconds.toFixed(2)} s, sweep ${t.sweep_seconds.toFixed(2)} s`);
if (short.counts && long.counts) {
  console.log(`FCN: ${(long.counts.dispatches - short.counts.dispatches) / 10} dispatches and ${(long.counts.submits - short.counts.submits) / 10} submits per step; ${long.counts.pipelines} pipelines, ${long.counts.shaderModules} shader modules`);
}
if (long.profile) console.log('FCN step profile (ms):', JSON.stringify(long.profile));
if (process.env.BENCH_CNN !== '0') {
  const vgg = await run({ model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': 32, checkpoints: '0,1', 'train-limit': 32 * 4, 'test-limit': 16, 'eval-batch-size': 16 });
  console.log(`VGG-11 x0.25 batch 32: ${vgg.timing.steady_samples_per_second.toFixed(2)} samples/s, first step ${vgg.timing.first_step_seconds.toFixed(2)} s; ${vgg.counts?.pipelines} pipelines`);
}
await browser.close();
await server.close();
fs.rmSync(out, { recursive: true, force: true });
