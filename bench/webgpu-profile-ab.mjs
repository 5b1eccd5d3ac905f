// Same-time A/B of two builds of the page on its WebGPU backend: the bench's FCN and VGG-11
// configs, alternating between the builds, twice each. Used to price a change to the WebGPU
// worker's build profile (its size against its speed).
//   LAYERLAB_DIST_A=/path/to/old-dist LAYERLAB_DIST_B=dist node bench/webgpu-profile-ab.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../tests/e2e/serve.mjs';

const builds = {
  A: await serve(process.env.LAYERLAB_DIST_A),
  B: await serve(process.env.LAYERLAB_DIST_B || 'dist'),
};
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-ab-'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu'],
});
const configs = {
  'FCN 3x256 batch 128': { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', 'train-limit': 128 * 21, 'test-limit': 500, 'eval-batch-size': 500 },
  'VGG-11 x0.25 batch 32': { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': 32, checkpoints: '0,1', 'train-limit': 32 * 3, 'test-limit': 16, 'eval-batch-size': 16 },
};
for (const [label, config] of Object.entries(configs)) {
  for (let round = 0; round < 2; round++) {
    for (const [build, server] of Object.entries(builds)) {
      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();
      const frag = Object.entries({ ...config, run: 1, backend: 'webgpu' }).map(([k, v]) => `${k}=${v}`).join('&');
      await page.goto(server.url + '#' + frag);
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
      const file = path.join(out, `${build}.json`);
      await download.saveAs(file);
      const t = JSON.parse(fs.readFileSync(file, 'utf8')).timing;
      console.log(`${label.padEnd(24)} build ${build}: ${t.steady_samples_per_second.toFixed(1)} samples/s after the first step, first step ${t.first_step_seconds.toFixed(2)} s, sweep ${t.sweep_seconds.toFixed(2)} s`);
      await context.close();
    }
  }
}
await browser.close();
for (const s of Object.values(builds)) await s.close();
fs.rmSync(out, { recursive: true, force: true });
