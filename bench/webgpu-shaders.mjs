// Dumps the WGSL the page's WebGPU worker compiles (every createShaderModule) during a short FCN
// run, one file per module, to read what cubecl made of a kernel (and what SwiftShader compiles).
// With COMPILE=1 it then compiles each module again, one at a time, in a fresh page
// (createComputePipelineAsync, subgroups on where the adapter has them) and prints the
// milliseconds each took, largest first: what the first step's kernel compilation is made of.
//   node bench/webgpu-shaders.mjs            (LAYERLAB_DIST=dist; OUT=a folder, a temporary one by default)
//   COMPILE=1 node bench/webgpu-shaders.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const out = process.env.OUT || fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-shaders-'));
fs.mkdirSync(out, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'] });
const context = await browser.newContext({ serviceWorkers: 'block' });
const CAPTURE = `(() => { if (typeof GPUDevice === 'undefined') return; self.__shaders = [];
  const original = GPUDevice.prototype.createShaderModule;
  GPUDevice.prototype.createShaderModule = function (d) { self.__shaders.push(d.code); return original.call(this, d); }; })();`;
await context.route('**/*_loader.js', async (route) => {
  const response = await route.fetch();
  await route.fulfill({ response, body: CAPTURE + '\n' + (await response.text()) });
});
const page = await context.newPage();
const config = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', seed: 0,
  'train-limit': 128 * 4, 'test-limit': 500, 'eval-batch-size': 500, run: 1, backend: 'webgpu' };
await page.goto(server.url + '#' + Object.entries(config).map(([k, v]) => `${k}=${v}`).join('&'));
await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
for (const worker of page.workers()) {
  const shaders = await worker.evaluate(() => self.__shaders || null).catch(() => null);
  if (!shaders || !shaders.length) continue;
  shaders.forEach((code, i) => {
    const name = (code.match(/fn (\w+)\(/) || [0, 'shader'])[1];
    fs.writeFileSync(path.join(out, `${String(i).padStart(3, '0')}-${name}.wgsl`), code);
  });
  console.log(`${shaders.length} shader modules in ${out}`);
  if (process.env.COMPILE) await timeCompiles(shaders);
}

/** Each module compiled alone in a fresh page; prints ms per module, largest first, and the sum. */
async function timeCompiles(shaders) {
  const blank = await context.newPage();
  await blank.goto(server.url + '#');
  // REVERSE=1 compiles them last to first: whether the first compile pays a one-time cost.
  const order = shaders.map((_, i) => i);
  if (process.env.REVERSE) order.reverse();
  const ordered = await blank.evaluate(async (codes) => {
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter.requestDevice({ requiredFeatures: adapter.features.has('subgroups') ? ['subgroups'] : [] });
    const out = [];
    for (const code of codes) {
      const start = performance.now();
      const module = device.createShaderModule({ code });
      await device.createComputePipelineAsync({ layout: 'auto', compute: { module } });
      out.push(performance.now() - start);
    }
    return out;
  }, order.map((i) => shaders[i]));
  const times = [];
  order.forEach((i, at) => { times[i] = ordered[at]; });
  const rows = times.map((ms, i) => [ms, `${String(i).padStart(3, '0')}-${(shaders[i].match(/fn (\w+)\(/) || [0, 'shader'])[1]}`]);
  rows.sort((a, b) => b[0] - a[0]);
  for (const [ms, name] of rows) console.log(`${ms.toFixed(0).padStart(7)} ms  ${name}`);
  console.log(`${times.reduce((a, b) => a + b, 0).toFixed(0).padStart(7)} ms  all ${times.length} modules`);
  await blank.close();
}
await browser.close();
await server.close();
