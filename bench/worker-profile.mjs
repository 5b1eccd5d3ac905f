// Where the page's CPU engine spends its time: a V8 CPU profile of the engine worker and its
// helper workers, four seconds in the middle of a training run, taken over the DevTools protocol
// (Playwright gives no session for workers). Prints each worker's top functions by self time,
// then all workers' CPU µs per training step by function, and writes /tmp/worker-N.cpuprofile.
//   node --experimental-websocket bench/worker-profile.mjs      (Node 20; after trunk build --release)
//   THREADS=0: the one-thread engine (service workers blocked); MODEL=vgg: VGG-11 x0.25, batch 128;
//   BACKEND=webgpu: the WebGPU engine (its module is layerlab-worker-*_bg.wasm, built into
//   $CARGO_TARGET_DIR/wasm32-unknown-unknown/webgpu-release/layerlab_worker.wasm).
// The release wasm has no function names. For names, serve a copy of dist whose threaded module
// is rebuilt with them, e.g.:
//   cp -r dist /tmp/dist-names && wasm-bindgen --target no-modules --no-typescript --keep-debug \
//     --out-dir /tmp/wb --out-name layerlab-worker-cpu-mt $CARGO_TARGET_DIR/wasm-threads/wasm32-unknown-unknown/release/layerlab_worker_cpu.wasm \
//     && cp /tmp/wb/layerlab-worker-cpu-mt_bg.wasm /tmp/dist-names/layerlab-worker-cpu-mt-*_bg.wasm
// (the out-name must be the module's own: its imports name its glue file, and the same source
// tree's build, so that the glue in dist matches).
//   LAYERLAB_DIST=/tmp/dist-names node --experimental-websocket bench/worker-profile.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import { serve } from '../tests/e2e/serve.mjs';
const server = await serve(process.env.LAYERLAB_DIST || 'dist');
const threads = process.env.THREADS !== '0';
const model = process.env.MODEL || 'fcn';
const backend = process.env.BACKEND || 'cpu';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking', '--remote-debugging-port=9333', '--enable-unsafe-webgpu'] });
const context = await browser.newContext(threads ? {} : { serviceWorkers: 'block' });
const page = await context.newPage();
const cfg = model === 'fcn' ? 'model=fcn&epochs=8&train-limit=60000&test-limit=500&checkpoints=0,8' : 'model=vgg11&width-mult=0.25&epochs=3&lr=0.02&batch-size=128&train-limit=10000&test-limit=200&checkpoints=0,1';
await page.goto(`${server.url}#${cfg}&run=1&backend=${backend}`);
await page.waitForSelector('[data-testid=device][data-threads]', { timeout: 120000 });
// Past the first step (kernel compilation on WebGPU) and into steady training.
await page.waitForTimeout(backend === 'webgpu' ? 8000 : model === 'fcn' ? 2500 : 8000);
// The worker's CPU profile through the browser's own DevTools endpoint (flat sessions).
const version = await (await fetch('http://127.0.0.1:9333/json/version')).json();
const ws = new WebSocket(version.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener('open', r));
let id = 0; const pending = new Map(); const attached = [];
ws.addEventListener('message', (e) => {
  const m = JSON.parse(e.data);
  if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
  if (m.method === 'Target.attachedToTarget') attached.push(m.params);
});
const send = (method, params = {}, sessionId) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params, sessionId })); });
const { result } = await send('Target.getTargets');
const workers = result.targetInfos.filter((t) => t.type === 'worker');
console.log('workers', workers.map((w) => w.url.slice(-60)));
const sessions = [];
for (const w of workers) {
  const r = await send('Target.attachToTarget', { targetId: w.targetId, flatten: true });
  sessions.push({ url: w.url, sid: r.result.sessionId });
}
for (const s of sessions) { await send('Profiler.enable', {}, s.sid); await send('Profiler.setSamplingInterval', { interval: 200 }, s.sid); }
// The run's step counter, from the page's progress line: CPU time per training step, summed over
// the workers, compares a one-thread run with a threaded one (where each function's time grows,
// and how much is waiting).
const stepNow = async () => Number(((await page.textContent('[data-testid=progress-detail]')) || '').match(/step (\d+)/)?.[1]);
await Promise.all(sessions.map((s) => send('Profiler.start', {}, s.sid)));
const firstStep = await stepNow();
await new Promise((r) => setTimeout(r, 4000));
const steps = (await stepNow()) - firstStep;
const perStep = new Map();
for (const [i, s] of sessions.entries()) {
  const r = await send('Profiler.stop', {}, s.sid);
  const prof = r.result.profile;
  // Self time per function.
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const sid of prof.samples) counts.set(sid, (counts.get(sid) || 0) + 1);
  const self = new Map();
  let total = 0;
  for (const [nid, c] of counts) { const n = byId.get(nid); const name = n.callFrame.functionName || '(' + n.callFrame.url.slice(-20) + ')'; self.set(name, (self.get(name) || 0) + c); total += c; }
  console.log(`--- ${s.url.slice(-50)}: ${total} samples`);
  [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 22).forEach(([n, c]) => console.log((100 * c / total).toFixed(1).padStart(5), n.slice(0, 110)));
  fs.writeFileSync(`/tmp/worker-${i}.cpuprofile`, JSON.stringify(prof));
  const usPerSample = (prof.endTime - prof.startTime) / total;
  for (const [n, c] of self) perStep.set(n, (perStep.get(n) || 0) + (c * usPerSample) / steps);
}
if (steps > 0) {
  const sum = [...perStep.values()].reduce((a, b) => a + b, 0);
  console.log(`--- all workers: ${steps} steps in the window, CPU µs per step ${sum.toFixed(0)}`);
  [...perStep.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30).forEach(([n, v]) => console.log(v.toFixed(0).padStart(6), n.slice(0, 110)));
}
ws.close(); await browser.close(); await server.close();
