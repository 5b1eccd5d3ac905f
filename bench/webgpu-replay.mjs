// Where a WebGPU training step's time goes, kernel by kernel: records every compute dispatch of
// the engine worker during a window of training (REC_START ms after load, REC_LEN ms long), then
// after the run replays each one alone (its own submit, waited for, three times) and sums the
// times by kernel and workgroup count. Replayed alone a dispatch also pays one submit and wait
// (printed as "empty submit+wait"), so tiny kernels read high; the big ones are what it is for.
//   node bench/webgpu-replay.mjs                       (FCN 3x256, batch 128; PER_STEP=60 its dispatches per step)
//   CFG='model=vgg11&width-mult=0.25&...' PER_STEP=147 REC_START=12000 REC_LEN=4000 node bench/webgpu-replay.mjs
//   MASK=8 node bench/webgpu-replay.mjs                (families off first, as bench/webgpu-kernels-ab.mjs)
import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';
const here = path.dirname(fileURLToPath(import.meta.url));
const server = await serve(process.env.LAYERLAB_DIST || path.join(here, '..', 'dist'));
const REC = `(() => { if (typeof GPUDevice === 'undefined') return;
 const names = new WeakMap(); self.__rec = null; self.__recSubmits = 0;
 const wrapP = (n) => { const o = GPUDevice.prototype[n]; GPUDevice.prototype[n] = function (d) { const r = o.call(this, d); self.__dev = this;
   const set = (p) => { names.set(p, (d.compute.module.__name || '?')); return p; }; return r instanceof Promise ? r.then(set) : set(r); }; };
 wrapP('createComputePipeline'); wrapP('createComputePipelineAsync');
 const om = GPUDevice.prototype.createShaderModule; GPUDevice.prototype.createShaderModule = function (d) { const m = om.call(this, d); m.__name = (d.code.match(/fn (\\w+)\\(/) || [0, '?'])[1]; return m; };
 const P = GPUComputePassEncoder.prototype;
 const sp = P.setPipeline; P.setPipeline = function (p) { this.__p = p; return sp.call(this, p); };
 const sb = P.setBindGroup; P.setBindGroup = function (i, g, o) { (this.__g ||= [])[i] = [g, o]; return sb.apply(this, arguments); };
 const dw = P.dispatchWorkgroups; P.dispatchWorkgroups = function (x, y, z) { if (self.__rec) self.__rec.push({ p: this.__p, n: names.get(this.__p), g: (this.__g || []).slice(), x, y: y || 1, z: z || 1 }); return dw.apply(this, arguments); };
 const qs = GPUQueue.prototype.submit; GPUQueue.prototype.submit = function (b) { if (self.__rec) self.__recSubmits++; return qs.call(this, b); };
 setTimeout(() => { self.__rec = []; }, ${process.env.REC_START || 9000});
 setTimeout(() => { self.__recDone = self.__rec; self.__rec = null; }, ${(+(process.env.REC_START || 9000)) + (+(process.env.REC_LEN || 3000))});
 self.__replay = async () => { const dev = self.__dev; const recs = self.__recDone; const out = [];
   for (const r of recs) { const go = async (n) => { const e = dev.createCommandEncoder(); for (let i = 0; i < n; i++) { const p = e.beginComputePass(); p.setPipeline(r.p); r.g.forEach((g, i) => g && p.setBindGroup(i, g[0], g[1] || [])); p.dispatchWorkgroups(r.x, r.y, r.z); p.end(); } dev.queue.submit([e.finish()]); await dev.queue.onSubmittedWorkDone(); };
     await go(1); const t0 = performance.now(); await go(3); const t = (performance.now() - t0) / 3; out.push([r.n, r.x * r.y * r.z, t]); }
   const empty = async () => { const t0 = performance.now(); dev.queue.submit([]); await dev.queue.onSubmittedWorkDone(); return performance.now() - t0; };
   let e = 0; for (let i = 0; i < 5; i++) e += await empty();
   return { out, submits: self.__recSubmits, emptySubmitMs: e / 5 }; };
})();`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
const context = await browser.newContext({ serviceWorkers: 'block' });
await context.route('**/*_loader.js', async (route) => { const response = await route.fetch(); await route.fulfill({ response, body: REC + '\n' + (await response.text()) }); });
const page = await context.newPage();
const cfg = process.env.CFG || 'model=fcn&depth=3&width=256&batch-size=128&lr=0.01&momentum=0.9&epochs=1&checkpoints=0,1&seed=0&test-limit=500&eval-batch-size=500&train-limit=5120';
// MASK: kernel families switched back to burn's operations first (set_gpu_kernels_off), then Run.
await page.goto(server.url + '#' + cfg + '&backend=webgpu');
await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120000 });
for (const w of page.workers()) await w.evaluate((m) => typeof wasm_bindgen !== 'undefined' && wasm_bindgen.set_gpu_kernels_off && wasm_bindgen.set_gpu_kernels_off(m), +(process.env.MASK || 0)).catch(() => {});
await page.click('[data-testid=run]');
await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 900000 });
for (const w of page.workers()) {
  const r = await w.evaluate(() => self.__recDone ? self.__replay() : null).catch((e) => String(e));
  if (!r) continue; if (typeof r === 'string') { console.log(r); continue; }
  const steps = r.out.length / (+(process.env.PER_STEP || 60));
  const by = new Map(); let tot = 0;
  for (const [n, wg, t] of r.out) { const k = n + ' wg=' + wg; const v = by.get(k) || [0, 0]; v[0] += 1; v[1] += t; by.set(k, v); tot += t; }
  console.log(`${r.out.length} dispatches, ${r.submits} submits in the window; ~${steps} steps; replayed total ${tot.toFixed(1)} ms = ${(tot / steps).toFixed(1)} ms/step; empty submit+wait ${r.emptySubmitMs.toFixed(2)} ms`);
  for (const [k, [c, t]] of [...by].sort((a, b) => b[1][1] - a[1][1])) console.log(`${(t / steps).toFixed(2).padStart(8)} ms/step  x${(c / steps).toFixed(1)} n=${c} mean ${(t / c).toFixed(2)} ms  ${k}`);
}
await browser.close(); await server.close();
