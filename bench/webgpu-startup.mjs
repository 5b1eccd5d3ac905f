// What the WebGPU worker does from the start of a run to its first training steps: every shader
// module it creates (with its WGSL size), pipeline, submit and read-back (with how long the read
// waited on the device), and the phases it posts to the page, in milliseconds from the start of
// data loading. The gaps before a module are cubecl writing its WGSL in the worker; a read-back's
// wait is the browser compiling the pipelines sent before it and running the work.
//   node bench/webgpu-startup.mjs            (LAYERLAB_DIST=dist; LINES=140 lines of the log)
import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'] });
const context = await browser.newContext({ serviceWorkers: 'block' });
// Wraps the worker's WebGPU entry points before its module loads (the loader script runs first).
const LOG = `(() => { if (typeof GPUDevice === 'undefined') return; self.__log = [];
  const now = () => performance.now();
  const module = GPUDevice.prototype.createShaderModule;
  GPUDevice.prototype.createShaderModule = function (d) {
    self.__log.push([now(), 'module ' + (d.code.match(/fn (\\w+)\\(/) || [0, '?'])[1] + ' (' + d.code.length + ' bytes)']);
    return module.call(this, d); };
  const pipeline = GPUDevice.prototype.createComputePipeline;
  GPUDevice.prototype.createComputePipeline = function (d) { const p = pipeline.call(this, d); self.__log.push([now(), 'pipeline']); return p; };
  const submit = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (b) { self.__log.push([now(), 'submit (' + b.length + ' command buffers)']); return submit.call(this, b); };
  const map = GPUBuffer.prototype.mapAsync;
  GPUBuffer.prototype.mapAsync = function (...a) { const start = now();
    return map.apply(this, a).then((v) => { self.__log.push([start, 'read-back waited ' + (now() - start).toFixed(0) + ' ms']); return v; }); };
  const post = self.postMessage;
  self.postMessage = function (m, ...rest) {
    try { const s = typeof m === 'string' ? m : JSON.stringify(m); if (/"phase"/.test(s)) self.__log.push([now(), 'phase ' + s.slice(0, 60)]); } catch {}
    return post.call(this, m, ...rest); };
})();`;
await context.route('**/*_loader.js', async (route) => {
  const response = await route.fetch();
  await route.fulfill({ response, body: LOG + '\n' + (await response.text()) });
});
const page = await context.newPage();
const config = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', seed: 0,
  'train-limit': 128 * 21, 'test-limit': 500, 'eval-batch-size': 500, run: 1, backend: 'webgpu' };
await page.goto(server.url + '#' + Object.entries(config).map(([k, v]) => `${k}=${v}`).join('&'));
await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
for (const worker of page.workers()) {
  const log = await worker.evaluate(() => self.__log || null).catch(() => null);
  if (!log || !log.length) continue;
  log.sort((a, b) => a[0] - b[0]);
  const start = log[0][0];
  let previous = start;
  for (const [t, what] of log.slice(0, +(process.env.LINES || 140))) {
    console.log(`${(t - start).toFixed(0).padStart(6)} ms (+${(t - previous).toFixed(0).padStart(4)})  ${what}`);
    previous = t;
  }
}
await browser.close();
await server.close();
