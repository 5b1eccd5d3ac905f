// LayerLab's benchmark, in one go: the engine natively (CLI), the page in headless Chromium on
// WebGPU and on its CPU backend, and TF.js training the same MLP in the same browser on the same
// adapter. Prints one table and writes bench-out/benchmarks.json.
//   scripts/bench.sh   (builds what is needed, then runs this)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const DIST = process.env.LAYERLAB_DIST || path.join(repo, 'dist');
const OUT = path.join(repo, 'bench-out');
const CLI = process.env.LAYERLAB_CLI || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'release', 'layerlab');
const MNIST = path.join(repo, 'data', 'mnist');
const CIFAR = process.env.LAYERLAB_CIFAR_DIR || path.join(repo, '..', 'shared', 'data', 'cifar10-jpeg');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(OUT, { recursive: true });

const rows = [];
const record = (group, what, value, unit, note = '') => {
  rows.push({ group, what, value, unit, note });
  console.log(`  ${group.padEnd(10)} ${what.padEnd(58)} ${String(value).padStart(10)} ${unit} ${note}`);
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// The targets' ratios at the same minutes. This host's speed drifts by 10-20% over minutes (the
// same binary's CLI FCN read 107k-131k samples/s within one stop, BENCHMARKS.md), and the single
// rows of a ratio below are minutes apart, so a ratio near its target read above it in one table
// and below in the next. Each ratio a target names is also measured in SAME_MINUTES_ROUNDS
// rounds (default 3), each round its two sides back to back (`roundPair(r)` gives [ours,
// theirs], in that order): the median of the rounds' ratios, with every round's pair in the note.
const ROUNDS = Math.max(1, Number(process.env.SAME_MINUTES_ROUNDS || 3));
async function sameMinutes(what, roundPair) {
  const pairs = [];
  for (let r = 1; r <= ROUNDS; r++) pairs.push(await roundPair(r));
  const ratios = pairs.map(([ours, theirs]) => ours / theirs);
  const each = pairs.map(([ours, theirs]) => `${round(ours, 0)}/${round(theirs, 0)}`).join(', ');
  record('ratio', what, round(median(ratios), 2), 'x', `(median of ${pairs.length} rounds: ${each})`);
}

// ---- native ----
/** The FCN's issue command (issue 11: 5 epochs of MNIST, batch 128, SGD with momentum). */
const FCN_ISSUE = ['--model', 'fcn', '--depth', '3', '--width', '256', '--epochs', '5', '--batch-size', '128', '--optimizer', 'sgd', '--lr', '0.01', '--momentum', '0.9', '--checkpoints', '0,1,2,3,5', '--seed', '0'];
/** VGG-11 x0.25 natively at batch 128 for the page's same-minutes rounds: the issue-4 command's
 * model, data, batch and learning rate over 2 epochs, its sweep on 1,000 test images (a round
 * takes seconds, where the whole command takes a minute). */
const VGG_NATIVE_ROUND = ['--model', 'vgg11', '--width-mult', '0.25', '--dataset', 'cifar10', '--epochs', '2', '--lr', '0.02', '--momentum', '0.9', '--checkpoints', '0,2', '--test-limit', '1000', '--seed', '0'];
function cli(name, args, data = MNIST) {
  const out = path.join(OUT, `native-${name}.json`);
  execFileSync(CLI, ['run', '--data', data, '--out', out, '--quiet', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}
const hasCifar = fs.existsSync(path.join(CIFAR, 'test_batch.bin.gz'));
/** Native training samples/s, for the page-against-native ratios. */
const native = {};
// BENCH_NATIVE=0 leaves out the native and PyTorch rows (the browser's alone, for the WebGPU work).
if (process.env.BENCH_NATIVE !== '0') {
  console.log('native (CLI, CPU backend flex; matrix products in crates/gemm on every core)');
  const fcnIssue = cli('fcn-5epochs', FCN_ISSUE);
  record('native', 'FCN 3x256, batch 128, SGD: training samples/s (5 epochs)', round(fcnIssue.timing.samples_per_second, 0), 'samples/s');
  native.fcn = fcnIssue.timing.steady_samples_per_second;
  record('native', 'FCN 3x256: reset sweep, 29 evaluations of 10k test images', round(fcnIssue.timing.sweep_seconds, 2), 's');
  if (hasCifar) {
    for (const [name, preset] of [['vgg', 'vgg-small'], ['resnet', 'resnet-small']]) {
      const r = cli(name, ['--preset', preset, '--epochs', '1', '--checkpoints', '0,1', '--train-limit', '2000', '--test-limit', '1000'], CIFAR);
      record('native', `${preset} (x0.25, batch 128): training samples/s`, round(r.timing.samples_per_second, 0), 'samples/s');
      record('native', `${preset}: sweep on 1000 test images (${r.units.length * 2 + 1 + 1} evaluations)`, round(r.timing.sweep_seconds, 1), 's');
    }
  }

  // ---- PyTorch CPU, same protocols, same run (bench/torch_cpu.py) ----
  // The issue-4 VGG command natively (10 epochs, sweep of 71 evaluations of 10k test images), then
  // PyTorch on the same protocols, when a Python with torch is there (scripts/bench.sh makes one).
  const TORCH_PYTHON = process.env.LAYERLAB_TORCH_PYTHON || path.join(os.homedir(), '.cache', 'layerlab', 'torch-venv', 'bin', 'python');
  let vggIssue = null;
  if (hasCifar) {
    vggIssue = cli('vgg-issue4', ['--model', 'vgg11', '--width-mult', '0.25', '--dataset', 'cifar10', '--epochs', '10', '--lr', '0.02', '--momentum', '0.9', '--checkpoints', '0,1,2,5,10', '--seed', '0'], CIFAR);
    record('native', 'VGG-11 x0.25, 10k CIFAR, batch 128, 10 epochs: training samples/s', round(vggIssue.timing.samples_per_second, 0), 'samples/s');
    native.vgg = vggIssue.timing.steady_samples_per_second;
    record('native', 'VGG-11 x0.25: sweep, 71 evaluations of 10k test images', round(vggIssue.timing.sweep_seconds, 1), 's');
  }
  if (fs.existsSync(TORCH_PYTHON)) {
    const args = [path.join(here, 'torch_cpu.py'), '--mnist', MNIST, ...(hasCifar ? ['--cifar', CIFAR] : [])];
    const torch = JSON.parse(execFileSync(TORCH_PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'] }).toString());
    const note = `(torch ${torch.torch}, ${torch.threads} threads)`;
    const fcnBest = Math.max(torch.fcn.samples_per_second, torch.fcn.dataloader_samples_per_second);
    record('pytorch', 'FCN 3x256, same protocol: training samples/s (indexing loop)', round(torch.fcn.samples_per_second, 0), 'samples/s', note);
    record('pytorch', 'FCN 3x256: training samples/s through a DataLoader', round(torch.fcn.dataloader_samples_per_second, 0), 'samples/s');
    record('pytorch', `FCN 3x256: reset sweep, ${torch.fcn.evaluations} evaluations of 10k test images`, round(torch.fcn.sweep_seconds, 2), 's');
    record('ratio', 'FCN training: LayerLab native / PyTorch CPU (the faster loop)', round(fcnIssue.timing.samples_per_second / fcnBest, 2), 'x');
    record('ratio', 'FCN sweep time: LayerLab native / PyTorch CPU', round(fcnIssue.timing.sweep_seconds / torch.fcn.sweep_seconds, 2), 'x');
    if (torch.vgg && vggIssue) {
      record('pytorch', 'VGG-11 x0.25, same protocol: training samples/s', round(torch.vgg.samples_per_second, 0), 'samples/s', `(test error ${round(torch.vgg.error * 100, 1)}%)`);
      record('pytorch', `VGG-11 x0.25: sweep, ${torch.vgg.evaluations} evaluations of 10k test images`, round(torch.vgg.sweep_seconds, 1), 's');
      record('ratio', 'VGG training: LayerLab native / PyTorch CPU', round(vggIssue.timing.samples_per_second / torch.vgg.samples_per_second, 2), 'x');
      record('ratio', 'VGG sweep time: LayerLab native / PyTorch CPU', round(vggIssue.timing.sweep_seconds / torch.vgg.sweep_seconds, 2), 'x');
    }
    const fcnOnly = [path.join(here, 'torch_cpu.py'), '--mnist', MNIST, '--fcn-training-only'];
    await sameMinutes('FCN training at the same minutes: LayerLab native / PyTorch CPU (indexing loop; target >= 1.5)', (r) => [
      cli(`fcn-5epochs-round${r}`, FCN_ISSUE).timing.samples_per_second,
      JSON.parse(execFileSync(TORCH_PYTHON, fcnOnly, { stdio: ['ignore', 'pipe', 'inherit'] }).toString()).fcn.samples_per_second,
    ]);
  } else {
    record('pytorch', 'PyTorch CPU', 'n/a', '', `(no ${TORCH_PYTHON}; scripts/bench.sh installs it)`);
  }

}
// ---- browser ----
const server = await serve(DIST, 0, { '/bench/': here });
async function browser(webgpu) {
  const args = ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// The WebGPU counters (bench/gpu-counters.js), run before any other script of a page or of an
// engine worker: its loader is served with the counters in front (the service worker is blocked
// so that every request reaches the route).
const COUNTERS = fs.readFileSync(path.join(here, 'gpu-counters.js'), 'utf8');
async function counted(context) {
  await context.addInitScript({ content: COUNTERS });
  await context.route('**/*_loader.js', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: COUNTERS + '\n' + (await response.text()) });
  });
  return context;
}
async function workerCounts(page) {
  for (const worker of page.workers()) {
    const counts = await worker.evaluate(() => self.__gpuCounts || null).catch(() => null);
    if (counts && counts.pipelines > 0) return counts;
  }
  return null;
}

/** The engine worker's FCN step profile (engine::train::profile), `steps` steps per phase. */
async function stepProfile(page, steps) {
  for (const worker of page.workers()) {
    const has = await worker.evaluate(() => typeof wasm_bindgen !== 'undefined' && typeof wasm_bindgen.profile_fcn_step === 'function').catch(() => false);
    if (has) return JSON.parse(await worker.evaluate((n) => wasm_bindgen.profile_fcn_step(n), steps));
  }
  return null;
}
function recordProfile(where, p) {
  if (!p) return;
  const parts = ['forward', 'loss', 'backward', 'optimizer'].map((k) => `${k} ${round(p[`${k}_ms`])}`).join(', ');
  record('profile', `FCN step on ${where}, batch ${p.batch}: ms per step`, round(p.step_ms), 'ms', `(${parts}; one read-back ${round(p.sync_ms)} ms)`);
}

async function layerlabRun(b, config, backend, label, profileSteps = 0) {
  const context = await counted(await b.newContext({ acceptDownloads: true, serviceWorkers: 'block' }));
  const page = await context.newPage();
  const frag = Object.entries({ ...config, run: 1, backend }).map(([k, v]) => `${k}=${v}`).join('&');
  await page.goto(server.url + '#' + frag);
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
  const gpuCounts = await workerCounts(page);
  const profile = profileSteps > 0 ? await stepProfile(page, profileSteps) : null;
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
  const file = path.join(OUT, `browser-${label}.json`);
  await download.saveAs(file);
  const adapter = (await page.textContent('[data-testid=device]')).trim();
  await context.close();
  return { result: JSON.parse(fs.readFileSync(file, 'utf8')), adapter, gpuCounts, profile };
}

/** A run on the page's CPU engine with WebAssembly threads: a first visit waits for the service
 * worker, whose COOP/COEP headers make the page cross-origin isolated, and reloads once. */
async function threadedRun(b, config, label) {
  const context = await b.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const frag = Object.entries({ ...config, run: 1, backend: 'cpu' }).map(([k, v]) => `${k}=${v}`).join('&');
  await page.goto(server.url + '#' + frag);
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
  const threads = Number(await page.getAttribute('[data-testid=device]', 'data-threads'));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
  const file = path.join(OUT, `browser-${label}.json`);
  await download.saveAs(file);
  await context.close();
  return { result: JSON.parse(fs.readFileSync(file, 'utf8')), threads };
}

// The page's CPU engine is timed over a steady window, as the CLI's whole runs are: one epoch of
// MNIST for the FCN (468 steps after the first), 30 steps of VGG-11 x0.25 below. Over the 100
// and 5 steps used before, V8's tier-up of the module and the helper threads' start-up were a
// visible share: the same build read 15-20% (FCN) and 5-10% (VGG) lower there
// (BENCHMARKS.md, "The page's steady window").
const PAGE_FCN_STEADY = 128 * 469;
const FCN = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', seed: 0, 'test-limit': 500, 'eval-batch-size': 500 };
console.log('browser (headless Chromium; WebGPU here is SwiftShader, a software adapter)');
const gpu = await browser(true);
const cpuBrowser = await browser(false);
let adapterName = '';
const layerlab = {};
{
  // Two runs that differ only in their number of steps (11 and 21; the same evaluations and
  // sweep): the difference of their dispatch counts is ten training steps' worth.
  const short = await layerlabRun(gpu, { ...FCN, 'train-limit': 128 * 11 }, 'webgpu', 'fcn-webgpu-short');
  const { result, adapter, gpuCounts, profile } = await layerlabRun(gpu, { ...FCN, 'train-limit': 128 * 21 }, 'webgpu', 'fcn-webgpu', 9);
  recordProfile('WebGPU', profile);
  adapterName = adapter;
  if (gpuCounts && short.gpuCounts) {
    layerlab.dispatchesPerStep = (gpuCounts.dispatches - short.gpuCounts.dispatches) / 10;
    record('gpu', 'LayerLab FCN on WebGPU: compute dispatches per training step', round(layerlab.dispatchesPerStep), 'dispatches');
    record('gpu', 'LayerLab FCN on WebGPU: queue submissions per training step', round((gpuCounts.submits - short.gpuCounts.submits) / 10), 'submits');
    record('gpu', 'LayerLab FCN on WebGPU: compute pipelines created (whole run)', gpuCounts.pipelines, 'pipelines', `(${gpuCounts.shaderModules} shader modules)`);
  }
  layerlab.webgpuFirstStep = result.timing.first_step_seconds;
  // The steady rate over one epoch (469 steps), as a run trains: its loss curve (~64 points) is
  // read back every 8 steps there, where the 21 steps above read it back after every step and so
  // wait for the device each time (TF.js's loop below reads every 20 steps).
  const epoch = await layerlabRun(gpu, { ...FCN, 'train-limit': PAGE_FCN_STEADY }, 'webgpu', 'fcn-webgpu-epoch');
  layerlab.webgpu = epoch.result.timing.steady_samples_per_second;
  record('browser', `LayerLab FCN 3x256 on WebGPU (${adapter}): samples/s`, round(layerlab.webgpu), 'samples/s', '(one epoch after the first step; the loss read back every 8 steps)');
  record('browser', 'LayerLab FCN 3x256 on WebGPU, 21 steps (the loss read back after every step): samples/s', round(result.timing.steady_samples_per_second), 'samples/s', '(after the first step)');
  record('browser', 'LayerLab on WebGPU: time to first step (kernel compilation)', round(result.timing.first_step_seconds, 2), 's');
  record('browser', 'LayerLab on WebGPU: sweep on 500 test images (14 evaluations)', round(result.timing.sweep_seconds, 1), 's');
  // The profile: forward passes alone (the sweep is 14 forward passes of 500 images).
  layerlab.webgpuForward = (14 * 500) / result.timing.sweep_seconds;
  record('profile', 'LayerLab on WebGPU: forward images/s during the sweep (batch 500)', round(layerlab.webgpuForward), 'images/s');
}
{
  const { result, profile } = await layerlabRun(cpuBrowser, { ...FCN, 'train-limit': PAGE_FCN_STEADY }, 'cpu', 'fcn-cpu', 21);
  recordProfile('the CPU backend (wasm)', profile);
  layerlab.wasm = result.timing.steady_samples_per_second;
  record('browser', 'LayerLab FCN 3x256 on the CPU backend (wasm, 1 thread): samples/s', round(layerlab.wasm), 'samples/s');
  record('browser', 'LayerLab on CPU: time to first step', round(result.timing.first_step_seconds, 2), 's');
}
{
  const { result, threads } = await threadedRun(cpuBrowser, { ...FCN, 'train-limit': PAGE_FCN_STEADY }, 'fcn-cpu-threads');
  layerlab.wasmThreads = result.timing.steady_samples_per_second;
  record('browser', `LayerLab FCN 3x256 on the CPU backend (wasm, ${threads} threads): samples/s`, round(layerlab.wasmThreads), 'samples/s');
  if (native.fcn) {
    await sameMinutes('FCN training after the first step at the same minutes: page CPU engine with threads / native CLI (target >= 0.5)', async (r) => [
      (await threadedRun(cpuBrowser, { ...FCN, 'train-limit': PAGE_FCN_STEADY }, `fcn-cpu-threads-round${r}`)).result.timing.steady_samples_per_second,
      cli(`fcn-5epochs-page-round${r}`, FCN_ISSUE).timing.steady_samples_per_second,
    ]);
  }
}
if (process.env.BENCH_CNN !== '0') {
  // VGG-11 x0.25 on WebGPU at batch 32 and 128 (TF.js's rows on the same shapes come below).
  for (const batch of [32, 128]) {
    const cfg = { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': batch, checkpoints: '0,1', 'train-limit': batch * 4, 'test-limit': 16, 'eval-batch-size': 16 };
    try {
      const { result, gpuCounts } = await layerlabRun(gpu, cfg, 'webgpu', `vgg11-webgpu-${batch}`);
      layerlab[`vgg${batch}`] = result.timing.steady_samples_per_second;
      if (batch === 32) layerlab.vgg32Counts = gpuCounts;
      record('browser', `LayerLab VGG-11 x0.25 batch ${batch} on WebGPU: samples/s`, round(result.timing.steady_samples_per_second, 2), 'samples/s', `(first step ${round(result.timing.first_step_seconds, 1)} s)`);
    } catch (e) {
      record('browser', `LayerLab VGG-11 x0.25 batch ${batch} on WebGPU`, 'n/a', '', String(e).slice(0, 80));
    }
  }
  // Small runs: on a software adapter a ResNet step of 32 images takes about 40 s.
  for (const [model, lr] of [['vgg11', 0.02], ['resnet18', 0.05]]) {
    const cfg = { model, 'width-mult': 0.25, epochs: 1, lr, 'batch-size': 32, checkpoints: '0,1', 'train-limit': 32 * 3, 'test-limit': 16, 'eval-batch-size': 16 };
    for (const [backend, b] of [['webgpu', gpu], ['cpu', cpuBrowser]]) {
      try {
        const { result, gpuCounts } = await layerlabRun(b, cfg, backend, `${model}-${backend}`);
        record('browser', `LayerLab ${model} x0.25 batch 32 on ${backend === 'cpu' ? 'the CPU backend (1 thread)' : 'WebGPU'}: samples/s`, round(result.timing.steady_samples_per_second), 'samples/s');
        // This run and the batch-32 one above differ only in their steps (3 and 4).
        if (model === 'vgg11' && backend === 'webgpu' && gpuCounts && layerlab.vgg32Counts) {
          record('gpu', 'LayerLab VGG-11 x0.25 on WebGPU: compute dispatches per training step', round(layerlab.vgg32Counts.dispatches - gpuCounts.dispatches), 'dispatches');
        }
      } catch (e) {
        record('browser', `LayerLab ${model} x0.25 on ${backend}`, 'n/a', '', String(e).slice(0, 80));
      }
    }
  }
  // VGG-11 x0.25 on the CPU engine with threads, at batch 32 and at the CLI's batch 128.
  for (const batch of [32, 128]) {
    const cfg = { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': batch, checkpoints: '0,1', 'train-limit': batch * 31, 'test-limit': 16, 'eval-batch-size': 16 };
    const { result, threads } = await threadedRun(cpuBrowser, cfg, `vgg11-cpu-threads-${batch}`);
    layerlab[`vggCpuThreads${batch}`] = result.timing.steady_samples_per_second;
    record('browser', `LayerLab vgg11 x0.25 batch ${batch} on the CPU backend (${threads} threads): samples/s`, round(result.timing.steady_samples_per_second), 'samples/s');
    if (batch === 128 && native.vgg) {
      await sameMinutes('VGG-11 x0.25 training after the first step, batch 128, at the same minutes: page CPU engine with threads / native CLI (target >= 0.5)', async (r) => [
        (await threadedRun(cpuBrowser, cfg, `vgg11-cpu-threads-128-round${r}`)).result.timing.steady_samples_per_second,
        cli(`vgg-page-round${r}`, VGG_NATIVE_ROUND, CIFAR).timing.steady_samples_per_second,
      ]);
    }
  }
}

// A cold visit (a fresh profile: nothing cached), as a student opening the class's quick link:
// every byte the browser receives (page, workers, service worker, data), and the time to the
// heat maps.
{
  const context = await cpuBrowser.newContext();
  let bytes = 0;
  const bySort = {};
  context.on('requestfinished', async (r) => {
    const sizes = await r.sizes().catch(() => null);
    if (!sizes) return;
    const n = sizes.responseBodySize + sizes.responseHeadersSize;
    bytes += n;
    const sort = r.url().includes('/data/') ? 'data' : r.url().endsWith('.wasm') ? 'wasm' : 'other';
    bySort[sort] = (bySort[sort] || 0) + n;
  });
  const page = await context.newPage();
  const quick = { model: 'fcn', depth: 3, width: 256, epochs: 2, lr: 0.05, checkpoints: '0,1,2', 'train-limit': 20000, 'test-limit': 5000, run: 1 };
  const t0 = Date.now();
  await page.goto(server.url + '#' + Object.entries(quick).map(([k, v]) => `${k}=${v}`).join('&'));
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
  const seconds = (Date.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 2000)); // the service worker's precache, if any, lands
  const parts = Object.entries(bySort).map(([k, v]) => `${k} ${round(v / 1e6, 2)}`).join(', ');
  record('browser', 'cold visit, quick preset: bytes received (all responses)', round(bytes / 1e6, 2), 'MB', `(${parts})`);
  record('browser', 'cold visit, quick preset: navigation to heat maps', round(seconds, 1), 's');
  await context.close();
}

// Classroom preset, click to heat maps (auto backend: the CPU here, since the adapter is software).
{
  const page = await (await cpuBrowser.newContext()).newPage();
  const quick = { model: 'fcn', depth: 3, width: 256, epochs: 2, lr: 0.05, checkpoints: '0,1,2', 'train-limit': 20000, 'test-limit': 5000 };
  const t0 = Date.now();
  await page.goto(server.url + '#' + Object.entries(quick).map(([k, v]) => `${k}=${v}`).join('&'));
  await page.waitForSelector('header h1');
  const painted = Date.now() - t0;
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120_000 });
  const interactive = Date.now() - t0;
  record('browser', 'page: navigation to first paint of the app', painted, 'ms');
  record('browser', 'page: navigation to interactive (engine worker ready)', interactive, 'ms');
  const t1 = Date.now();
  await page.click('[data-testid=run]');
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
  record('browser', 'classroom "quick" preset: click to heat maps (auto: CPU backend here)', round((Date.now() - t1) / 1000, 1), 's', '(data cached)');
  await page.context().close();
}

// TF.js, same browser sessions, same adapter.
const tfjs = {};
for (const [backend, b] of [['webgpu', gpu], ['wasm', cpuBrowser], ['webgl', gpu]]) {
  const page = await (await counted(await b.newContext())).newPage();
  await page.goto(server.url + 'bench/tfjs.html');
  await page.waitForFunction(() => window.benchReady);
  try {
    const steps = backend === 'webgpu' ? 20 : 100;
    const r = await page.evaluate(([backend, steps]) => window.benchTfjs(backend, steps), [backend, steps]);
    tfjs[backend] = r.samplesPerSecond;
    record('tfjs', `TF.js 4.22 ${backend}: same MLP, batch 128, SGD momentum: samples/s`, round(r.samplesPerSecond), 'samples/s', `(first step ${round(r.firstStepMs / 1000, 2)} s)`);
    if (r.gpu && backend === 'webgpu') {
      tfjs[`${backend}Dispatches`] = r.gpu.dispatchesPerStep;
      record('gpu', `TF.js ${backend}: compute dispatches per training step`, round(r.gpu.dispatchesPerStep), 'dispatches');
      record('gpu', `TF.js ${backend}: queue submissions per training step`, round(r.gpu.submitsPerStep), 'submits');
      record('gpu', `TF.js ${backend}: compute pipelines created (through training)`, r.gpu.pipelines, 'pipelines');
      tfjs[`${backend}FirstStep`] = r.firstStepMs / 1000;
    }
    tfjs[`${backend}Forward`] = r.forwardImagesPerSecond;
    record('profile', `TF.js ${backend}: forward images/s (batch 500, predictions read back)`, round(r.forwardImagesPerSecond), 'images/s');
  } catch (e) {
    record('tfjs', `TF.js ${backend}`, 'n/a', '', String(e).slice(0, 80));
  }
  await page.context().close();
}
// TF.js training VGG-11 x0.25 on the same shapes, webgpu and webgl, batch 32 and 128.
if (process.env.BENCH_CNN !== '0') {
  for (const backend of ['webgpu', 'webgl']) {
    for (const batch of [32, 128]) {
      const page = await (await counted(await gpu.newContext())).newPage();
      await page.goto(server.url + 'bench/tfjs.html');
      await page.waitForFunction(() => window.benchReady);
      try {
        const r = await page.evaluate(([backend, batch]) => window.benchTfjsVgg(backend, batch, 3), [backend, batch]);
        tfjs[`vgg${backend}${batch}`] = r.samplesPerSecond;
        record('tfjs', `TF.js 4.22 ${backend}: VGG-11 x0.25 batch ${batch}: samples/s`, round(r.samplesPerSecond, 2), 'samples/s', `(first step ${round(r.firstStepMs / 1000, 1)} s)`);
      } catch (e) {
        record('tfjs', `TF.js ${backend} VGG-11 x0.25 batch ${batch}`, 'n/a', '', String(e).slice(0, 80));
      }
      await page.context().close();
    }
  }
  for (const batch of [32, 128]) {
    const best = Math.max(tfjs[`vggwebgpu${batch}`] || 0, tfjs[`vggwebgl${batch}`] || 0);
    if (best > 0 && layerlab[`vgg${batch}`]) record('ratio', `VGG-11 x0.25 batch ${batch}: LayerLab WebGPU / the faster TF.js GPU backend (target >= 2)`, round(layerlab[`vgg${batch}`] / best, 2), 'x');
  }
}
await gpu.close();
await cpuBrowser.close();
await server.close();

if (tfjs.webgpu) record('ratio', 'LayerLab WebGPU / TF.js webgpu (same adapter)', round(layerlab.webgpu / tfjs.webgpu, 2), 'x');
if (tfjs.webgpu && tfjs.webgl) record('ratio', 'LayerLab WebGPU / the faster of TF.js webgpu and webgl (target >= 1.5)', round(layerlab.webgpu / Math.max(tfjs.webgpu, tfjs.webgl), 2), 'x');
if (tfjs.webgpuFirstStep) record('ratio', 'time to the first FCN step: LayerLab WebGPU / TF.js webgpu (target <= 0.5)', round(layerlab.webgpuFirstStep / tfjs.webgpuFirstStep, 2), 'x');
if (tfjs.webgpuDispatches && layerlab.dispatchesPerStep) record('ratio', 'dispatches per FCN step: LayerLab / TF.js webgpu (target <= 1)', round(layerlab.dispatchesPerStep / tfjs.webgpuDispatches, 2), 'x');
if (native.fcn && layerlab.wasmThreads) record('ratio', 'FCN training after the first step: page CPU engine with threads / native CLI (target >= 0.5)', round(layerlab.wasmThreads / native.fcn, 2), 'x');
if (native.vgg && layerlab.vggCpuThreads128) record('ratio', 'VGG-11 x0.25 training after the first step, batch 128: page CPU engine with threads / native CLI (target >= 0.5)', round(layerlab.vggCpuThreads128 / native.vgg, 2), 'x');
if (tfjs.wasm) record('ratio', 'LayerLab CPU (wasm) / TF.js wasm', round(layerlab.wasm / tfjs.wasm, 2), 'x');
if (tfjs.webgpuForward) record('ratio', 'forward only: LayerLab WebGPU / TF.js webgpu', round(layerlab.webgpuForward / tfjs.webgpuForward, 2), 'x');
if (tfjs.webgl) record('ratio', 'LayerLab best browser path / TF.js webgl', round(Math.max(layerlab.webgpu, layerlab.wasm) / tfjs.webgl, 2), 'x');

// Size of what a visitor downloads.
for (const f of fs.readdirSync(DIST).filter((f) => f.endsWith('.wasm'))) {
  const bytes = fs.readFileSync(path.join(DIST, f));
  record('size', `${f.replace(/-[0-9a-f]{16}/, '')}: raw / gzip -9`, `${round(bytes.length / 1e6, 2)} / ${round(zlib.gzipSync(bytes, { level: 9 }).length / 1e6, 2)}`, 'MB');
}

const machine = `${os.cpus().length} × ${os.cpus()[0].model}, ${round(os.totalmem() / 2 ** 30, 0)} GiB, ${os.platform()} ${os.release()}; Chromium ${execFileSync(CHROMIUM, ['--version']).toString().trim()}; adapter: ${adapterName}`;
fs.writeFileSync(path.join(OUT, 'benchmarks.json'), JSON.stringify({ date: new Date().toISOString(), machine, rows }, null, 2));
console.log(`\nmachine: ${machine}\nwritten to bench-out/benchmarks.json`);
