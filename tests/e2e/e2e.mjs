// End-to-end tests of the built page in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; no browser is downloaded). Run by the README's test command after
// `trunk build --release`:  node tests/e2e/e2e.mjs
//
// Environment: LAYERLAB_DIST (default dist/), CHROMIUM (default /usr/bin/chromium),
// LAYERLAB_CLI (the native binary, for the CPU-equals-CLI check), LAYERLAB_STAGE (the build's
// staging step, default beside the CLI), LAYERLAB_MNIST_DIR.
// Screenshots and exported files go to tests/e2e/output/.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { HASHED, serve } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const DIST = process.env.LAYERLAB_DIST || path.join(repo, 'dist');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.join(here, 'output');
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
const CLI = process.env.LAYERLAB_CLI || path.join(targetDir, 'release', 'layerlab');
// The build's staging step (content hashes, service worker), rerun on a copy by the update test.
const STAGE = process.env.LAYERLAB_STAGE || path.join(path.dirname(CLI), 'layerlab-stage');
const MNIST = process.env.LAYERLAB_MNIST_DIR || path.join(repo, 'data', 'mnist');
const only = process.argv[2];

fs.mkdirSync(OUT, { recursive: true });

// A small experiment: SwiftShader (software WebGPU) runs about one step per second.
const SMALL = {
  model: 'fcn', depth: '1', width: '32', epochs: '1', 'batch-size': '64', lr: '0.05',
  momentum: '0.9', checkpoints: '0,1', seed: '0', 'train-limit': '640', 'test-limit': '256',
  'eval-batch-size': '256',
};
// A module using relaxed SIMD's `f32x4.relaxed_madd`, as ui::dom::relaxed_simd probes with.
const RELAXED_SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 28, 1, 26, 0,
  67, 0, 0, 128, 63, 253, 19, 67, 0, 0, 128, 63, 253, 19, 67, 0, 0, 128, 63, 253, 19, 253, 133, 2, 11]);
const fragment = (config, extra = {}) =>
  '#' + Object.entries({ ...config, ...extra }).map(([k, v]) => `${k}=${v}`).join('&');

function launch({ webgpu, flags = [] }) {
  const args = [
    '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', ...flags,
  ];
  // playwright gives every launch a fresh, temporary profile (--user-data-dir).
  if (webgpu) args.push('--enable-unsafe-webgpu');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

async function openPage(browser, url, init, options = {}) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1500, height: 1100 }, ...options });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return { page, errors };
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function heatmapCells(page, id = 'error') {
  return page.$$eval(`[data-testid=heatmap-${id}] [data-testid=heatmap-cell]`, (els) =>
    els.map((e) => ({ row: e.dataset.row, col: e.dataset.col, value: Number(e.dataset.value) })));
}

async function exportJson(page, name) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
  const file = path.join(OUT, name);
  await download.saveAs(file);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The value a result file holds for a displayed error-map cell. */
function resultValue(result, row, col) {
  const ck = col === 'ReRnd' ? -1 : result.checkpoints.indexOf(Number(col));
  if (row === 'fullmodel') return result.robustness.full_model[ck];
  const u = result.units.indexOf(row);
  return ck < 0 ? result.robustness.rerandomized[u] : result.robustness.reinitialized[u][ck];
}

async function checkFinishedPage(page, errors, label, expectBackend) {
  const result = await exportJson(page, `${label}-result.json`);
  assert(result.format === 'layerlab-result' && result.version === 2, 'exported file is a LayerLab result');
  const units = result.units.length;
  const ckpts = result.checkpoints.length;
  const cells = await heatmapCells(page);
  assert(cells.length === units * (1 + ckpts) + ckpts,
    `error map has ${cells.length} cells, expected ${units} units × (1 + ${ckpts}) + ${ckpts} fullmodel`);
  assert(cells.filter((c) => c.row === 'fullmodel').length === ckpts, 'fullmodel row present');
  for (const c of cells) {
    assert(Number.isFinite(c.value) && c.value >= 0 && c.value <= 1, `cell ${c.row}/${c.col} = ${c.value} not in [0, 1]`);
    assert(c.value === resultValue(result, c.row, c.col), `cell ${c.row}/${c.col} shows ${c.value}, file has ${resultValue(result, c.row, c.col)}`);
  }
  for (const id of ['l2', 'linf']) {
    const d = await heatmapCells(page, id);
    assert(d.length === units * (1 + ckpts), `${id} map has ${d.length} cells`);
  }
  const lossPoints = Number(await page.getAttribute('[data-testid=curve-loss]', 'data-points'));
  const errorPoints = Number(await page.getAttribute('[data-testid=curve-error]', 'data-points'));
  assert(lossPoints > 0 && errorPoints > 0, `curves have points (loss ${lossPoints}, error ${errorPoints})`);
  assert(typeof result.initial_test_error === 'number', 'the untrained test error is recorded');
  assert(errorPoints === result.history.length + 1, 'one test-error point per epoch, from epoch 0');
  const backend = await page.getAttribute('[data-testid=device]', 'data-backend');
  assert(backend === expectBackend, `device is ${backend}, expected ${expectBackend}`);
  assert(result.timing.backend.startsWith(expectBackend), `result says backend ${result.timing.backend}`);
  await page.screenshot({ path: path.join(OUT, `${label}.png`), fullPage: true });
  const real = errors.filter((e) => !/favicon/.test(e));
  assert(real.length === 0, `console errors: ${real.join(' | ')}`);
  return result;
}

/**
 * Compares two result files field by field, timing aside: every value must be identical (the CPU
 * backend computes the same bits natively and in wasm). Returns how many values were compared.
 */
function compareResults(page, cli) {
  let values = 0;
  const walk = (a, b, where) => {
    if (Array.isArray(a)) {
      assert(Array.isArray(b) && a.length === b.length, `${where}: shapes differ`);
      a.forEach((x, i) => walk(x, b[i], `${where}[${i}]`));
    } else if (a !== null && typeof a === 'object') {
      assert(b !== null && typeof b === 'object', `${where}: page has an object, CLI ${b}`);
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        if (where === '' && k === 'timing') continue;
        walk(a[k], b[k], `${where}.${k}`);
      }
    } else {
      assert(a === b, `${where}: page ${a}, CLI ${b}`);
      values += 1;
    }
  };
  walk(page, cli, '');
  return values;
}

/** Everything the results area displays, for comparing two pages. */
async function displayed(page) {
  const maps = {};
  for (const id of ['error', 'l2', 'linf']) maps[id] = await heatmapCells(page, id);
  const verdicts = await page.$$eval('[data-testid=verdict]', (els) => els.map((e) => [e.dataset.unit, e.dataset.verdict, e.textContent]));
  const curves = await page.$$eval('[data-testid^=curve-] .series', (els) => els.map((e) => [e.dataset.series, e.dataset.points, e.querySelector('polyline').getAttribute('points')]));
  const summary = await page.textContent('[data-testid=summary]');
  return { maps, verdicts, curves, summary };
}

function runCli(args, out) {
  assert(fs.existsSync(CLI), `the native CLI is missing at ${CLI} (build it with cargo build --release)`);
  execFileSync(CLI, ['run', '--data', MNIST, '--out', out, '--quiet', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(fs.readFileSync(out, 'utf8'));
}

const CIFAR = process.env.LAYERLAB_CIFAR_DIR || path.join(repo, '..', 'shared', 'data', 'cifar10-jpeg');

/** A ustar archive of `files` ({ name: Buffer }), as the official CIFAR-10 archive is laid out. */
function tar(files) {
  const blocks = [];
  for (const [name, data] of Object.entries(files)) {
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('0', 156);
    h.write('ustar\0', 257); h.write('00', 263);
    h.fill(' ', 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const tests = {
  async webgpu() {
    const browser = await launch({ webgpu: true });
    try {
      const { page, errors } = await openPage(browser, server.url + fragment(SMALL, { run: 1, backend: 'webgpu' }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      const result = await checkFinishedPage(page, errors, 'webgpu', 'webgpu');
      const adapter = await page.textContent('[data-testid=device]');
      // The engine's static constructors ran once for the whole run: a module linked as a
      // "command" reruns them on every call into it (half of a WebGPU step's time).
      let runs = null;
      for (const worker of page.workers()) {
        const has = await worker.evaluate(() => typeof wasm_bindgen !== 'undefined' && typeof wasm_bindgen.constructor_runs === 'function');
        if (has) runs = await worker.evaluate(() => wasm_bindgen.constructor_runs());
      }
      assert(runs === 1, `the WebGPU engine's static constructors ran ${runs} times, not once`);
      console.log(`    adapter: ${adapter.trim()}; trained error ${result.final_test_error}; constructors run once`);
    } finally {
      await browser.close();
    }
  },

  async webgpu_kernels_and_verdicts_match_cpu() {
    // The WebGPU worker's own kernels against the CPU backend on small shapes (outputs and
    // gradients), then a whole FCN run on WebGPU against the CLI's with the same seed: the
    // same verdicts, and errors within a test image or two.
    const config = { model: 'fcn', depth: '2', width: '64', epochs: '1', 'batch-size': '100', lr: '0.05', momentum: '0.9',
      checkpoints: '0,1', seed: '2', 'train-limit': '3000', 'test-limit': '1000' };
    const browser = await launch({ webgpu: true });
    try {
      const { page, errors } = await openPage(browser, server.url + fragment(config, { backend: 'webgpu' }));
      await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120_000 });
      let rows = null;
      for (const worker of page.workers()) {
        const has = await worker.evaluate(() => typeof wasm_bindgen !== 'undefined' && typeof wasm_bindgen.kernel_check === 'function');
        if (has) rows = JSON.parse(await worker.evaluate(() => wasm_bindgen.kernel_check()));
      }
      assert(rows && rows.length >= 8, 'the WebGPU worker runs its kernel check');
      const failed = rows.filter((r) => !r.passed);
      assert(failed.length === 0, `kernels off the CPU: ${JSON.stringify(failed)}`);
      // An adapter with subgroups of four (SwiftShader's) has its products share reads across
      // them: that kernel is among the ones checked.
      const fours = await page.evaluate(async () => {
        const adapter = await navigator.gpu.requestAdapter();
        return adapter.features.has('subgroups') && adapter.info.subgroupMinSize === 4 && adapter.info.subgroupMaxSize === 4;
      });
      const shared = rows.filter((r) => r.what.includes('(subgroups of four)')).length;
      assert(!fours || shared >= 12, `the subgroup product kernel was checked on this adapter (${shared} rows)`);
      const worst = rows.reduce((a, r) => Math.max(a, r.max_abs_diff / Math.max(r.tolerance, 1e-30)), 0);
      console.log(`    ${rows.length} kernel outputs and gradients within tolerance (worst at ${(worst * 100).toFixed(1)}% of it)`);
      await page.click('[data-testid=run]');
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      const gpu = await checkFinishedPage(page, errors, 'webgpu-verdicts', 'webgpu');
      const gpuVerdicts = await page.$$eval('[data-testid=verdict]', (els) => els.map((e) => [e.dataset.unit, e.dataset.verdict]));
      const cli = runCli(Object.entries(config).flatMap(([k, v]) => [`--${k}`, v]), path.join(OUT, 'cli-verdicts.json'));
      const { page: cpuPage } = await openPage(browser, server.url + execFileSync(CLI, ['link', path.join(OUT, 'cli-verdicts.json')]).toString().trim());
      await cpuPage.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 60_000 });
      const cpuVerdicts = await cpuPage.$$eval('[data-testid=verdict]', (els) => els.map((e) => [e.dataset.unit, e.dataset.verdict]));
      assert(JSON.stringify(gpuVerdicts) === JSON.stringify(cpuVerdicts), `verdicts: WebGPU ${gpuVerdicts}, CPU ${cpuVerdicts}`);
      const gap = Math.abs(gpu.final_test_error - cli.final_test_error);
      assert(gap <= 0.005, `trained test error: WebGPU ${gpu.final_test_error}, CPU ${cli.final_test_error}`);
      console.log(`    verdicts ${gpuVerdicts.map((v) => v.join(' ')).join(', ')} on both; trained error ${gpu.final_test_error} (WebGPU) and ${cli.final_test_error} (CPU)`);
    } finally {
      await browser.close();
    }
  },

  async fallback_cpu_matches_cli() {
    const browser = await launch({ webgpu: false });
    let result;
    try {
      // Service workers blocked: the page cannot become cross-origin isolated, so one thread.
      const { page, errors } = await openPage(browser, server.url + fragment(SMALL, { run: 1 }), undefined, { serviceWorkers: 'block' });
      await page.waitForSelector('[data-testid=fallback-message]', { timeout: 120_000 });
      const message = await page.textContent('[data-testid=fallback-message]');
      assert(/WebGPU/.test(message) && /CPU/.test(message), `fallback message: ${message}`);
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      result = await checkFinishedPage(page, errors, 'fallback-cpu', 'cpu');
      // Not cross-origin isolated: one thread, and the page says why.
      assert(await page.getAttribute('[data-testid=device]', 'data-threads') === '1', 'one CPU thread without the service worker');
      const note = await page.textContent('[data-testid=threads-note]');
      assert(/one CPU thread/i.test(note) && /reload/i.test(note), `threads note: ${note}`);
      // A reload takes the data from the browser's cache: no data file is downloaded again.
      const fetched = [];
      page.on('request', (r) => { if (r.url().includes('/data/mnist/')) fetched.push(r.url()); });
      await page.goto('about:blank');
      await page.goto(server.url + fragment(SMALL, { run: 1 }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      assert(fetched.length === 0, `after a reload the data was downloaded again: ${fetched.join(', ')}`);
      // `backend=webgpu` where there is no WebGPU at all: the CPU engine (full speed), not the
      // WebGPU engine's own CPU fallback, and the message says why.
      const wasm = [];
      page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(r.url()); });
      await page.goto('about:blank');
      await page.goto(server.url + fragment(SMALL, { run: 1, backend: 'webgpu' }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      const why = await page.textContent('[data-testid=fallback-message]');
      assert(/WebGPU is not available/.test(why), `fallback message: ${why}`);
      assert(wasm.some((u) => /layerlab-worker-cpu-(mt-)?[0-9a-f]{16}_bg\.wasm/.test(u)), `the CPU engine was not loaded: ${wasm.join(', ')}`);
      assert(!wasm.some((u) => /layerlab-worker-[0-9a-f]{16}_bg\.wasm/.test(u)), `the WebGPU engine was loaded: ${wasm.join(', ')}`);
    } finally {
      await browser.close();
    }
    // The same config natively: the same numbers.
    const cli = runCli(Object.entries(SMALL).flatMap(([k, v]) => [`--${k}`, v]), path.join(OUT, 'cli-result.json'));
    console.log(`    page CPU vs CLI: all ${compareResults(result, cli)} values identical`);
  },

  async compat_engine_without_relaxed_simd() {
    // A browser without WebAssembly relaxed SIMD: the CPU engines that fuse multiply and add do
    // not compile there, so the page loads the compat engine (one thread, a multiply and an add),
    // says so, does not reload for threads it will not use, and finishes the run, close to the
    // CLI's numbers but not promised equal to them.
    // First the modules themselves, in this Node, whose V8 has no relaxed SIMD: the compat engine
    // compiles without it, the others do not.
    assert(!WebAssembly.validate(RELAXED_SIMD_PROBE), 'this Node runs relaxed SIMD: it cannot show which engines need it');
    const dist = fs.readdirSync(DIST);
    const module = (re) => fs.readFileSync(path.join(DIST, dist.find((n) => re.test(n))));
    assert(WebAssembly.validate(module(/^layerlab-worker-cpu-compat-[0-9a-f]{16}_bg\.wasm$/)), 'the compat engine needs relaxed SIMD');
    assert(!WebAssembly.validate(module(/^layerlab-worker-cpu-[0-9a-f]{16}_bg\.wasm$/)), 'the CPU engine compiles without relaxed SIMD: its products are not fused');
    // Chromium cannot turn relaxed SIMD off (V8's flag no longer does), so the page is told it is
    // missing: its probe (ui::dom::relaxed_simd) fails to validate, as it would there.
    const withoutRelaxedSimd = `{
      const validate = WebAssembly.validate;
      WebAssembly.validate = (source) => {
        const b = new Uint8Array(source.buffer ? source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength) : source);
        for (let i = 0; i + 2 < b.length; i++) if (b[i] === 0xfd && b[i + 1] === 0x85 && b[i + 2] === 0x02) return false;
        return validate(source);
      };
    }`;
    const browser = await launch({ webgpu: false });
    let result;
    try {
      const { page, errors } = await openPage(browser, 'about:blank', withoutRelaxedSimd);
      const wasm = [];
      page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasm.push(r.url()); });
      await page.goto(server.url + fragment(SMALL, { run: 1, backend: 'cpu' }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      result = await checkFinishedPage(page, errors, 'compat-cpu', 'cpu');
      assert(wasm.some((u) => /layerlab-worker-cpu-compat-[0-9a-f]{16}_bg\.wasm/.test(u)), `the compat engine was not loaded: ${wasm.join(', ')}`);
      assert(!wasm.some((u) => /layerlab-worker-cpu-(mt-)?[0-9a-f]{16}_bg\.wasm/.test(u)), `an engine that needs relaxed SIMD was loaded: ${wasm.join(', ')}`);
      assert(await page.getAttribute('[data-testid=device]', 'data-threads') === '1', 'the compat engine has one thread');
      assert(/multiply then add/.test(result.timing.backend), `the result file names the arithmetic: ${result.timing.backend}`);
      const note = await page.textContent('[data-testid=threads-note]');
      assert(/relaxed SIMD/.test(note) && /last digits/.test(note), `threads note: ${note}`);
      assert(!(await page.evaluate(() => crossOriginIsolated)), 'the page did not reload for threads the compat engine cannot use');
    } finally {
      await browser.close();
    }
    const cli = runCli(Object.entries(SMALL).flatMap(([k, v]) => [`--${k}`, v]), path.join(OUT, 'cli-compat-result.json'));
    let same = 0;
    let cells = 0;
    const rows = [...result.units, 'fullmodel'];
    const cols = ['ReRnd', ...result.checkpoints.map(String)];
    for (const row of rows) {
      for (const col of cols) {
        if (row === 'fullmodel' && col === 'ReRnd') continue;
        const [ours, theirs] = [resultValue(result, row, col), resultValue(cli, row, col)];
        assert(Math.abs(ours - theirs) <= 0.05, `${row}/${col}: compat ${ours}, CLI ${theirs}`);
        same += ours === theirs ? 1 : 0;
        cells += 1;
      }
    }
    console.log(`    compat engine vs CLI: ${same} of ${cells} error cells identical, all within 5 points`);
  },

  async page_cpu_equals_cli_bit_for_bit() {
    // Issue 17's config and three more: a CNN with augmentation, Adam with weight decay, and a
    // ResNet (batch norm) with SGD and weight decay. Each result file must equal the CLI's.
    const configs = [
      ['fcn-issue-17', { model: 'fcn', depth: '3', width: '128', epochs: '2', 'batch-size': '64', lr: '0.02', momentum: '0.9',
        checkpoints: '0,1,2', seed: '7', 'train-limit': '6000', 'test-limit': '2000' }, MNIST],
      ['fcn-adam-wd', { model: 'fcn', depth: '2', width: '96', epochs: '2', 'batch-size': '50', optimizer: 'adam', lr: '0.002',
        'weight-decay': '0.0005', checkpoints: '0,1,2', seed: '3', 'train-limit': '3000', 'test-limit': '1000' }, MNIST],
      ['vgg-augment', { model: 'vgg11', 'width-mult': '0.125', epochs: '2', 'batch-size': '32', lr: '0.02', momentum: '0.9',
        augment: 'true', checkpoints: '0,2', seed: '5', 'train-limit': '320', 'test-limit': '200', 'eval-batch-size': '100' }, CIFAR],
      ['resnet-wd', { model: 'resnet18', 'width-mult': '0.125', epochs: '1', 'batch-size': '32', lr: '0.02', momentum: '0.9',
        'weight-decay': '0.0005', checkpoints: '0,1', seed: '1', 'train-limit': '160', 'test-limit': '100', 'eval-batch-size': '100' }, CIFAR],
    ];
    // On the CPU engine with WebAssembly threads: a first visit waits for the service worker,
    // whose COOP/COEP headers make the page cross-origin isolated, reloads once, and runs the
    // linked config on every core. (The one-thread engine is fallback_cpu_matches_cli's.)
    const browser = await launch({ webgpu: false });
    try {
      for (const [label, config, data] of configs) {
        const { page, errors } = await openPage(browser, server.url + fragment(config, { run: 1, backend: 'cpu' }));
        await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
        const result = await checkFinishedPage(page, errors, `equal-${label}`, 'cpu');
        assert(await page.evaluate(() => crossOriginIsolated), 'the page is cross-origin isolated after the first visit');
        assert(!/multiply then add/.test(result.timing.backend), `the threaded engine's products are fused: ${result.timing.backend}`);
        const threads = Number(await page.getAttribute('[data-testid=device]', 'data-threads'));
        const cores = await page.evaluate(() => Math.min(navigator.hardwareConcurrency, 8));
        assert(threads === cores, `the CPU engine trains on ${threads} threads, the machine has ${cores} cores`);
        assert(await page.$('[data-testid=threads-note]') === null, 'no one-thread note on the threaded engine');
        await page.close();
        const out = path.join(OUT, `cli-${label}.json`);
        const args = Object.entries(config).flatMap(([k, v]) => [`--${k}`, v]);
        execFileSync(CLI, ['run', '--data', data, '--out', out, '--quiet', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
        const cli = JSON.parse(fs.readFileSync(out, 'utf8'));
        console.log(`    ${label}: all ${compareResults(result, cli)} values identical (page on ${threads} threads ${result.timing.train_seconds.toFixed(1)} s, CLI ${cli.timing.train_seconds.toFixed(1)} s of training)`);
      }
    } finally {
      await browser.close();
    }
  },

  async share_link_saved_runs_and_import() {
    const a = await launch({ webgpu: false });
    const b = await launch({ webgpu: false });
    try {
      const { page, errors } = await openPage(a, server.url + fragment(SMALL, { run: 1, backend: 'cpu' }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
      const original = await displayed(page);
      const small = await exportJson(page, 'share-source-result.json');
      await page.click('[data-testid=share]');
      const link = await page.inputValue('[data-testid=share-url]');
      console.log(`    share link: ${link.length} characters`);
      assert(link.includes('#r=') && link.length < 4096, `link: ${link.slice(0, 80)}…`);

      // A fresh profile, no WebGPU: the result opens at once, nothing is trained.
      const other = await openPage(b, link);
      await other.page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 60_000 });
      await other.page.waitForSelector('[data-testid=shared-banner]');
      assert(await other.page.$('[data-testid=progress]') === null, 'opening a link must not train');
      const opened = await displayed(other.page);
      assert(JSON.stringify(opened) === JSON.stringify(original),
        `the link shows other values:\n  ${JSON.stringify(opened).slice(0, 400)}\n  ${JSON.stringify(original).slice(0, 400)}`);
      await other.page.screenshot({ path: path.join(OUT, 'shared-link.png'), fullPage: true });
      assert(other.errors.length === 0, `console errors: ${other.errors.join(' | ')}`);

      // The run is in the saved list after a reload.
      await page.goto('about:blank');
      await page.goto(server.url);
      await page.waitForSelector('[data-testid=saved-run]', { timeout: 30_000 });
      const names = await page.$$eval('[data-testid=saved-run-name]', (els) => els.map((e) => e.textContent));
      assert(names.some((n) => n.includes('fcn 1x32')), `saved runs: ${names.join(', ')}`);

      // A damaged link: a clear message, the saved runs untouched.
      await page.goto('about:blank');
      await page.goto(server.url + '#r=' + link.split('#r=')[1].slice(0, 200) + 'Zz');
      await page.waitForSelector('[data-testid=notices]');
      const notice = await page.textContent('[data-testid=notices]');
      assert(/cannot be opened/.test(notice), `notice: ${notice}`);
      await page.waitForSelector('[data-testid=saved-run]');
      assert((await page.$$('[data-testid=saved-run]')).length === names.length, 'saved runs unchanged');

      // A result file written by the CLI opens like any run.
      const cliFile = path.join(OUT, 'cli-import.json');
      const cli = runCli(['--depth', '2', '--width', '16', '--epochs', '1', '--checkpoints', '0,1', '--train-limit', '300', '--test-limit', '200'], cliFile);
      await page.setInputFiles('[data-testid=import-file]', cliFile);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=heatmap-error] [data-testid=heatmap-cell]').length === 3 * 3 + 2, null, { timeout: 30_000 });
      const cells = await heatmapCells(page);
      for (const c of cells) assert(c.value === resultValue(cli, c.row, c.col), `imported ${c.row}/${c.col}`);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid=saved-run]').length === n + 1, names.length);
      // A file that is not a result: a message, nothing else changes.
      const bad = path.join(OUT, 'not-a-result.json');
      fs.writeFileSync(bad, '{"format":"something-else"}');
      await page.setInputFiles('[data-testid=import-file]', bad);
      await page.waitForFunction(() => /not-a-result.json cannot be opened/.test(document.querySelector('[data-testid=notices]')?.textContent || ''));
      assert((await page.$$('[data-testid=saved-run]')).length === names.length + 1, 'saved runs unchanged by a bad file');

      // Compare the browser run with the imported CLI run: both maps and their difference over
      // the shared units (layer1, layer2, fullmodel) and checkpoints (ReRnd, 0, 1).
      const rows = await page.$$('[data-testid=saved-run]');
      const rowNames = await page.$$eval('[data-testid=saved-run-name]', (els) => els.map((e) => e.textContent));
      const pickSmall = rowNames.findIndex((n) => n.includes('fcn 1x32'));
      const pickCli = rowNames.findIndex((n) => n.includes('2x16'));
      assert(pickSmall >= 0 && pickCli >= 0, `saved runs: ${rowNames.join(', ')}`);
      await (await rows[pickSmall].$('input[type=checkbox]')).check();
      await (await rows[pickCli].$('input[type=checkbox]')).check();
      await page.click('[data-testid=compare]');
      await page.waitForSelector('[data-testid=comparison] [data-testid=heatmap-difference]');
      const diff = await heatmapCells(page, 'difference');
      assert(diff.length === 3 * 3 - 1, `difference map has ${diff.length} cells`);
      const signs = new Set();
      for (const c of diff) {
        const d = resultValue(cli, c.row, c.col) - resultValue(small, c.row, c.col);
        assert(Math.abs(Math.abs(c.value) - Math.abs(d)) < 1e-12, `difference ${c.row}/${c.col}: ${c.value}, expected ±${d}`);
        if (Math.abs(d) > 1e-12) signs.add(Math.sign(c.value) === Math.sign(d));
      }
      assert(signs.size <= 1, 'the difference is one run minus the other throughout');
      const real = errors.filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await a.close();
      await b.close();
    }
  },

  async joint_resets_are_shown_and_shared() {
    const browser = await launch({ webgpu: false });
    try {
      const config = { ...SMALL, depth: '2', joint: 'layer1,layer2;layer2,layer3' };
      const { page, errors } = await openPage(browser, server.url + fragment(config, { run: 1, backend: 'cpu' }));
      await page.waitForSelector('[data-testid=heatmap-joint][data-state=done]', { timeout: 600_000 });
      const result = await exportJson(page, 'joint-result.json');
      const cells = await heatmapCells(page, 'joint');
      const sets = ['layer1+layer2', 'layer2+layer3'];
      assert(cells.length === sets.length * (1 + result.checkpoints.length), `joint map has ${cells.length} cells`);
      for (const c of cells) {
        const units = c.row.split('+');
        const same = (j) => JSON.stringify(j.units) === JSON.stringify(units);
        const expected = c.col === 'ReRnd'
          ? result.robustness.joint_rerandomized.find(same).test_error
          : result.robustness.joint.find((j) => same(j) && j.checkpoint === Number(c.col)).test_error;
        assert(c.value === expected, `joint cell ${c.row}/${c.col} shows ${c.value}, the file has ${expected}`);
      }
      // Both layers of an FCN back at their random start: the pair breaks what each alone may not.
      const both = cells.find((c) => c.row === 'layer1+layer2' && c.col === '0').value;
      console.log(`    layer1+layer2 at checkpoint 0: ${(both * 100).toFixed(1)}% error (trained ${(result.final_test_error * 100).toFixed(1)}%)`);
      await page.click('[data-testid=share]');
      const link = await page.inputValue('[data-testid=share-url]');
      const other = await openPage(browser, link);
      await other.page.waitForSelector('[data-testid=heatmap-joint][data-state=done]', { timeout: 60_000 });
      assert(JSON.stringify(await heatmapCells(other.page, 'joint')) === JSON.stringify(cells), 'the link carries the joint map');
      assert(errors.length === 0 && other.errors.length === 0, `console errors: ${[...errors, ...other.errors].join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async seeds_and_interpolation_in_the_page() {
    const browser = await launch({ webgpu: false });
    try {
      const config = { ...SMALL, depth: '2', seeds: '0-2', interpolation: '0,0.5,1' };
      const { page, errors } = await openPage(browser, server.url + fragment(config, { run: 1, backend: 'cpu' }));
      await page.waitForSelector('[data-testid=heatmap-interpolation][data-state=done]', { timeout: 600_000 });
      const result = await checkFinishedPage(page, errors, 'seeds-interpolation', 'cpu');
      assert(result.seed_runs.length === 3 && result.seed_runs.map((s) => s.seed).join() === '0,1,2', 'three seed runs');
      assert(result.seed_summary && result.seed_summary.std.robustness.reinitialized.length === result.units.length, 'a seed summary');
      // The mean map: identical, value for value, to the CLI's run of the same seeds.
      const cli = runCli(Object.entries(config).flatMap(([k, v]) => [`--${k}`, v]), path.join(OUT, 'cli-seeds.json'));
      console.log(`    page vs CLI (3 seeds, interpolation): all ${compareResults(result, cli)} values identical`);
      // Each mean cell's tooltip gives its spread over the seeds.
      const tip = await page.textContent('[data-testid=heatmap-error] [data-testid=heatmap-cell][data-row=layer1][data-col="0"] title');
      assert(/over 3 seeds/.test(tip) && /±/.test(tip), `tooltip: ${tip}`);
      // Verdicts count the seeds, from the file's own seed runs.
      const seedVerdicts = await page.$$eval('[data-testid=verdict]', (els) => els.map((e) => [e.dataset.unit, e.querySelector('[data-testid=verdict-seeds]')?.textContent]));
      for (const [unit, text] of seedVerdicts) {
        const u = result.units.indexOf(unit);
        const critical = result.seed_runs.filter((s) => s.robustness.reinitialized[u][0] - s.final_test_error > 0.05).length;
        assert(text === `critical in ${critical} of 3 seeds`, `${unit}: "${text}", the file says ${critical} of 3`);
      }
      // The interpolation map and each unit's α* (the default threshold is the file's ε).
      const path_ = await heatmapCells(page, 'interpolation');
      assert(path_.length === result.units.length * 3, `interpolation map has ${path_.length} cells`);
      for (const c of path_) {
        const a = result.interpolation.alphas.map((x) => `α=${x}`).indexOf(c.col);
        assert(c.value === result.interpolation.test_error[result.units.indexOf(c.row)][a], `interpolation ${c.row}/${c.col}`);
      }
      const alphas = await page.$$eval('[data-testid=criticality]', (els) => els.map((e) => e.dataset.alpha));
      assert(JSON.stringify(alphas.map(Number)) === JSON.stringify(result.interpolation.criticality), `α* ${alphas} vs ${result.interpolation.criticality}`);
      // Clicking a cell: the detail panel gives the spread and the seed count.
      await page.click('[data-testid=heatmap-error] [data-testid=heatmap-cell][data-row=layer1][data-col="0"]');
      await page.waitForSelector('[data-testid=detail-spread]');
      assert(/Critical in \d of 3 seeds/.test(await page.textContent('[data-testid=detail-seeds]')), 'detail names the seeds');
      // A share link carries the mean maps, their spread and the interpolation.
      await page.click('[data-testid=share]');
      const link = await page.inputValue('[data-testid=share-url]');
      const other = await openPage(browser, link);
      await other.page.waitForSelector('[data-testid=heatmap-interpolation][data-state=done]', { timeout: 60_000 });
      assert(JSON.stringify(await heatmapCells(other.page, 'interpolation')) === JSON.stringify(path_), 'the link carries the interpolation');
      assert(JSON.stringify(await heatmapCells(other.page, 'error')) === JSON.stringify(await heatmapCells(page, 'error')), 'the link carries the mean map');
      assert(/Mean of 3 seeds/.test(await other.page.textContent('[data-testid=seeds-summary]')), 'the link is a multi-seed result');
      // Saved in IndexedDB: after a reload the saved run reopens with its seeds and path.
      await page.goto('about:blank');
      await page.goto(server.url);
      await page.click('[data-testid=saved-run] [data-testid=saved-run-name]', { timeout: 30_000 });
      await page.waitForSelector('[data-testid=heatmap-interpolation][data-state=done]', { timeout: 30_000 });
      assert(JSON.stringify(await heatmapCells(page, 'interpolation')) === JSON.stringify(path_), 'the saved run keeps the interpolation');
      assert(/Mean of 3 seeds/.test(await page.textContent('[data-testid=seeds-summary]')), 'the saved run keeps its seeds');
      assert(errors.length === 0 && other.errors.length === 0, `console errors: ${[...errors, ...other.errors].join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async a_study_file_opens_saves_and_shares() {
    const browser = await launch({ webgpu: false });
    try {
      // A depth study written by the CLI.
      const file = path.join(OUT, 'cli-study.json');
      execFileSync(CLI, ['study', '--data', MNIST, '--out', file, '--quiet', '--depth', '1,2,3', '--width', '16', '--epochs', '1',
        '--checkpoints', '0,1', '--lr', '0.05', '--train-limit', '600', '--test-limit', '300'], { stdio: ['ignore', 'ignore', 'inherit'] });
      const study = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert(study.study.runs.length === 3, 'three runs in the file');
      const { page, errors } = await openPage(browser, server.url);
      // The engine is ready once a first visit has settled (it reloads once, cross-origin isolated).
      await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 60_000 });
      await page.setInputFiles('[data-testid=import-file]', file);
      await page.waitForSelector('[data-testid=heatmap-study][data-state=done]', { timeout: 30_000 });
      const check = async (p) => {
        const cells = await heatmapCells(p, 'study');
        assert(cells.length === 1 * 2 + 3 + 4, `study map has ${cells.length} cells`);
        for (const c of cells) {
          const run = study.study.runs.find((r) => `depth=${r.values[0]}` === c.row);
          assert(c.value === run.reinitialized[run.units.indexOf(c.col)], `study cell ${c.row}/${c.col}`);
        }
        const rows = await p.$$eval('[data-testid=study-row]', (els) => els.map((e) => [e.dataset.run, e.dataset.critical]));
        for (const [label, critical] of rows) {
          const run = study.study.runs.find((r) => `depth=${r.values[0]}` === label);
          const expected = run.units.filter((u, i) => run.reinitialized[i] - run.final_test_error > 0.05).join(',');
          assert(critical === expected, `${label}: critical "${critical}", the file says "${expected}"`);
        }
        return cells;
      };
      const cells = await check(page);
      // Picking the depth-3 run shows its own maps.
      await page.click('[data-testid=heatmap-study] [data-testid=heatmap-cell][data-row="depth=3"][data-col=layer1]');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=heatmap-error] [data-testid=heatmap-cell]').length === 4 * 3 + 2);
      const deep = study.study.runs[2].result;
      for (const c of await heatmapCells(page)) assert(c.value === resultValue(deep, c.row, c.col), `depth-3 map ${c.row}/${c.col}`);
      // Its curves and its settings too.
      const lossPoints = Number(await page.getAttribute('[data-testid=curve-loss]', 'data-points'));
      assert(lossPoints === deep.loss_curve.length, `the loss curve is the depth-3 run's (${lossPoints} points)`);
      assert(await page.inputValue('#field-depth') === '3', 'the form holds the picked run\'s config');
      // Saved like any run, and its file exported whole.
      await page.waitForSelector('[data-testid=saved-run]', { timeout: 10_000 });
      const exported = await exportJson(page, 'study-exported.json');
      assert(JSON.stringify(exported.study) === JSON.stringify(study.study), 'the exported file holds the whole study');
      // A link carries every row and the first run's maps.
      await page.click('[data-testid=share]');
      const link = await page.inputValue('[data-testid=share-url]');
      const other = await openPage(browser, link);
      await other.page.waitForSelector('[data-testid=heatmap-study][data-state=done]', { timeout: 60_000 });
      assert(JSON.stringify(await check(other.page)) === JSON.stringify(cells), 'the link carries the study map');
      // Its first run's maps are there; another run's are not, and the page says so.
      assert(/Below: the curves and maps of depth=1/.test(await other.page.textContent('[data-testid=study-shown]')), 'the link shows the first run');
      await other.page.click('[data-testid=study-row][data-run="depth=3"] button');
      await other.page.waitForFunction(() => /A link holds each run's row/.test(document.querySelector('[data-testid=study-shown]')?.textContent || ''));
      // Saved in IndexedDB: after a reload the saved study reopens whole.
      await page.goto('about:blank');
      await page.goto(server.url);
      await page.click('[data-testid=saved-run] [data-testid=saved-run-name]', { timeout: 30_000 });
      await page.waitForSelector('[data-testid=heatmap-study][data-state=done]', { timeout: 30_000 });
      assert(JSON.stringify(await check(page)) === JSON.stringify(cells), 'the saved study keeps its map');
      await page.click('[data-testid=heatmap-study] [data-testid=heatmap-cell][data-row="depth=2"][data-col=layer1]');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=heatmap-error] [data-testid=heatmap-cell]').length === 3 * 3 + 2);
      const real = [...errors, ...other.errors].filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async cnn_on_webgpu_and_cifar_archive_drop() {
    const browser = await launch({ webgpu: true });
    try {
      const cnn = {
        model: 'vgg11', 'width-mult': '0.125', epochs: '1', 'batch-size': '16', lr: '0.02', checkpoints: '0,1',
        seed: '0', 'train-limit': '64', 'test-limit': '48', 'eval-batch-size': '48',
      };
      const { page, errors } = await openPage(browser, server.url + fragment(cnn, { run: 1, backend: 'webgpu' }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 900_000 });
      const result = await checkFinishedPage(page, errors, 'vgg-webgpu', 'webgpu');
      assert(result.units.length === 11 && result.units[0] === 'stage1.block1' && result.units[10] === 'final_linear', `units ${result.units}`);
      assert(result.class_names[9] === 'truck', 'CIFAR-10 class names');

      // The official archive dropped on the page is decoded in the engine's worker and cached.
      const raw = zlib.gunzipSync(fs.readFileSync(path.join(CIFAR, 'test_batch.bin.gz')));
      const archive = path.join(OUT, 'cifar-10-binary.tar.gz');
      fs.writeFileSync(archive, zlib.gzipSync(tar({
        'cifar-10-batches-bin/batches.meta.txt': fs.readFileSync(path.join(CIFAR, 'batches.meta.txt')),
        'cifar-10-batches-bin/data_batch_1.bin': raw.subarray(0, 3073 * 1000),
        'cifar-10-batches-bin/test_batch.bin': raw.subarray(3073 * 1000, 3073 * 1500),
      })));
      await page.click('[data-testid=notices] button').catch(() => {});
      await page.setInputFiles('[data-testid=import-file]', archive);
      await page.waitForFunction(() => /cifar10 is ready: 1000 training and 500 test images/.test(document.querySelector('[data-testid=notices]')?.textContent || ''), null, { timeout: 60_000 });
      // A damaged archive: a clear message.
      const damaged = path.join(OUT, 'damaged.tar.gz');
      fs.writeFileSync(damaged, fs.readFileSync(archive).subarray(0, 5000));
      await page.setInputFiles('[data-testid=import-file]', damaged);
      await page.waitForFunction(() => /gzip stream is corrupt|truncated/.test(document.querySelector('[data-testid=notices]')?.textContent || ''), null, { timeout: 60_000 });
    } finally {
      await browser.close();
    }
  },

  async stop_is_prompt() {
    const browser = await launch({ webgpu: false });
    try {
      const config = { ...SMALL, depth: '3', width: '256', epochs: '3', 'train-limit': '60000', 'test-limit': '1000', 'eval-batch-size': '1000', checkpoints: '0,1,3' };
      const { page, errors } = await openPage(browser, server.url + fragment(config, { run: 1, backend: 'cpu' }));
      await page.waitForFunction(() => {
        const p = document.querySelector('[data-testid=progress]');
        const d = document.querySelector('[data-testid=progress-detail]');
        return p && p.dataset.phase === 'training' && /step ([2-9]\d|\d{3,})\//.test(d.textContent);
      }, null, { timeout: 300_000 });
      // The page stays responsive while training: a scroll and a click are served.
      await page.mouse.wheel(0, 300);
      const clicked = Date.now();
      await page.click('[data-testid=stop]');
      await page.waitForFunction(() => document.querySelector('[data-testid=progress]').dataset.phase !== 'training', null, { timeout: 1000 });
      const acknowledged = Date.now() - clicked;
      // Training itself has stopped when the sweep (or the end) is reached.
      await page.waitForFunction(() => ['reset sweep', 'done'].includes(document.querySelector('[data-testid=progress]').dataset.phase), null, { timeout: 5000 });
      const stopped = Date.now() - clicked;
      console.log(`    stop acknowledged after ${acknowledged} ms, training stopped after ${stopped} ms`);
      assert(stopped < 1000, `training stopped ${stopped} ms after the click`);
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      const result = await exportJson(page, 'stopped-result.json');
      assert(result.stopped_early === true, 'the result says it was stopped');
      assert(result.trained_epochs < 3, `trained ${result.trained_epochs} epochs`);
      const real = errors.filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
      await page.screenshot({ path: path.join(OUT, 'stopped.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  },
  async diverging_run_is_kept_as_data() {
    const browser = await launch({ webgpu: false });
    try {
      // The link: lr 3 sends the loss to NaN in the first epoch.
      const cfg = { model: 'fcn', depth: '3', width: '256', epochs: '2', lr: '3', 'train-limit': '5000', 'test-limit': '1000', checkpoints: '0,1,2' };
      const { page, errors } = await openPage(browser, server.url + fragment(cfg, { run: 1, backend: 'cpu' }));
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      await page.waitForSelector('[data-testid=legend-non-finite]');
      const notices = (await page.$('[data-testid=notices]')) ? await page.textContent('[data-testid=notices]') : '';
      assert(!/unreadable message/.test(notices), `notices: ${notices}`);
      const verdicts = await page.$$eval('[data-testid=verdict]', (els) => els.map((e) => e.dataset.verdict));
      assert(verdicts.length === 4 && verdicts.every((v) => v === 'unknown'), `verdicts ${verdicts}`);
      assert(/diverged in epoch 1 at step/.test(await page.textContent('[data-testid=results]')), 'the page says where it diverged');
      const result = await exportJson(page, 'diverged-result.json');
      assert(result.diverged && result.diverged.epoch === 1, `diverged: ${JSON.stringify(result.diverged)}`);
      assert(JSON.stringify(result).includes('"NaN"'), 'non-finite values are written, not nulled');
      await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 10_000 });
      await page.waitForSelector('[data-testid=saved-run]', { timeout: 10_000 });
      const cells = await heatmapCells(page);
      // The exported file opens again, cell for cell, and the saved run survives a reload.
      const other = await openPage(browser, server.url);
      await other.page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 60_000 });
      await other.page.setInputFiles('[data-testid=import-file]', path.join(OUT, 'diverged-result.json'));
      await other.page.waitForSelector('[data-testid=legend-non-finite]', { timeout: 30_000 });
      const again = await heatmapCells(other.page);
      assert(JSON.stringify(again) === JSON.stringify(cells), 'the re-imported map differs');
      await page.goto('about:blank');
      await page.goto(server.url);
      await page.waitForSelector('[data-testid=saved-run]', { timeout: 30_000 });
      await page.click('[data-testid=saved-run] [data-testid=saved-run-name]');
      await page.waitForSelector('[data-testid=legend-non-finite]', { timeout: 30_000 });
      const real = errors.concat(other.errors).filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async reload_during_the_sweep_finishes_the_run() {
    const browser = await launch({ webgpu: false });
    try {
      const cfg = {
        model: 'fcn', depth: '3', width: '256', epochs: '2', 'batch-size': '128', lr: '0.01', momentum: '0.9', checkpoints: '0,1,2',
        seed: '0', 'train-limit': '2000', 'test-limit': '10000', 'eval-batch-size': '1000',
      };
      const { page, errors } = await openPage(browser, server.url + fragment(cfg, { run: 1, backend: 'cpu' }));
      page.on('dialog', (d) => d.accept());
      await page.waitForFunction(() => /reset sweep: ([3-9]|1\d) of/.test(document.querySelector('[data-testid=progress-detail]')?.textContent || ''), null, { timeout: 300_000 });
      await page.reload();
      await page.waitForSelector('[data-testid=resume-offer]', { timeout: 30_000 });
      const offer = await page.textContent('[data-testid=resume-offer]');
      assert(/in the reset sweep \(\d+ of 19 cells done\)/.test(offer), `offer: ${offer}`);
      await page.waitForSelector('[data-testid=resume]:not([disabled])', { timeout: 30_000 });
      await page.click('[data-testid=resume]');
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      const resumed = await exportJson(page, 'resumed-result.json');
      assert(resumed.notes.some((n) => /finished after the page was reloaded/.test(n)), `notes: ${resumed.notes}`);
      await page.waitForSelector('[data-testid=saved-run]', { timeout: 10_000 });
      // The finished run is the same as one that was never interrupted: the CLI's.
      const cli = runCli(Object.entries(cfg).flatMap(([k, v]) => [`--${k}`, v]), path.join(OUT, 'cli-resumed.json'));
      const { notes: _a, ...page_ } = resumed;
      const { notes: _b, ...cli_ } = cli;
      console.log(`    resumed page run vs CLI: all ${compareResults(page_, cli_)} values identical`);
      // Nothing is left to resume.
      await page.goto('about:blank');
      await page.goto(server.url);
      await page.waitForSelector('[data-testid=saved-run]', { timeout: 30_000 });
      assert(await page.$('[data-testid=resume-offer]') === null, 'the finished run is still offered');
      const real = errors.filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async reload_during_a_multi_seed_run_keeps_its_finished_seeds() {
    const browser = await launch({ webgpu: false });
    try {
      const cfg = {
        model: 'fcn', depth: '3', width: '256', epochs: '2', 'batch-size': '128', lr: '0.01', momentum: '0.9', checkpoints: '0,1,2',
        seeds: '4,9', 'train-limit': '2000', 'test-limit': '10000', 'eval-batch-size': '1000',
      };
      const { page, errors } = await openPage(browser, server.url + fragment(cfg, { run: 1, backend: 'cpu' }));
      page.on('dialog', (d) => d.accept());
      // Reloaded in the second seed's sweep: the first seed is done and stored.
      await page.waitForFunction(() => /seed 9 \(2 of 2\) · reset sweep: ([3-9]|1\d) of/.test(document.querySelector('[data-testid=progress-detail]')?.textContent || ''), null, { timeout: 300_000 });
      await page.reload();
      await page.waitForSelector('[data-testid=resume-offer]', { timeout: 30_000 });
      const offer = await page.textContent('[data-testid=resume-offer]');
      assert(/seeds 4,9 \(1 of 2 done\), interrupted in the reset sweep/.test(offer), `offer: ${offer}`);
      await page.waitForSelector('[data-testid=resume]:not([disabled])', { timeout: 30_000 });
      await page.click('[data-testid=resume]');
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      const resumed = await exportJson(page, 'resumed-seeds.json');
      assert(resumed.seed_runs.map((r) => r.seed).join() === '4,9', 'both seeds are in the result');
      assert(resumed.notes.some((n) => /seed 9: finished after the page was reloaded/.test(n)), `notes: ${resumed.notes}`);
      // The same numbers as a run that was never interrupted.
      const cli = runCli(Object.entries(cfg).flatMap(([k, v]) => [`--${k}`, v]), path.join(OUT, 'cli-resumed-seeds.json'));
      const { notes: _a, ...page_ } = resumed;
      const { notes: _b, ...cli_ } = cli;
      console.log(`    resumed multi-seed page run vs CLI: all ${compareResults(page_, cli_)} values identical`);
      const real = errors.filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async hostile_files_links_and_archives_leave_the_page_responsive() {
    const browser = await launch({ webgpu: false });
    try {
      const base = runCli(['--depth', '1', '--width', '8', '--epochs', '1', '--checkpoints', '0,1', '--train-limit', '200', '--test-limit', '100'], path.join(OUT, 'cli-small.json'));
      /** The CLI's result, stretched to `units` × `ckpts` (valid shapes, as a hostile author would write). */
      const stretched = (units, ckpts, extra = {}) => {
        const r = JSON.parse(JSON.stringify(base));
        r.units = Array.from({ length: units }, (_, i) => `u${i}`);
        r.checkpoints = Array.from({ length: ckpts }, (_, i) => i);
        const grid = (v) => Array.from({ length: units }, () => Array.from({ length: ckpts }, () => v));
        r.robustness = { rerandomized: r.units.map((_, i) => (i % 100) / 100), reinitialized: grid(0.5), full_model: r.checkpoints.map(() => 0.9), joint: [], joint_rerandomized: [] };
        r.distance = { l2_relative: grid(0.1), linf: grid(0.2), rerandomized_l2_relative: r.units.map(() => 1), rerandomized_linf: r.units.map(() => 1) };
        r.per_class = { trained: [], rerandomized: [], reinitialized: [], full_model: [] };
        return Object.assign(r, extra);
      };
      const write = (name, value) => { const f = path.join(OUT, name); fs.writeFileSync(f, typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value)); return f; };
      const responsive = async (page) => {
        const t0 = Date.now();
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
        await page.click('[data-testid=preset-quick]');
        return Date.now() - t0;
      };
      const { page, errors } = await openPage(browser, server.url);
      await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 60_000 });

      // A big but valid result: 100 units × 80 checkpoints, drawn as one canvas per map.
      const big = write('big-result.json', stretched(100, 80));
      let t0 = Date.now();
      await page.setInputFiles('[data-testid=import-file]', big);
      await page.waitForSelector('[data-testid=heatmap-error][data-render=canvas]', { timeout: 30_000 });
      const shown = Date.now() - t0;
      const lag = await responsive(page);
      console.log(`    8,100-cell result shown after ${shown} ms; a click then took ${lag} ms`);
      assert(lag < 3000, `the page took ${lag} ms to answer a click`);
      const nodes = await page.evaluate(() => document.querySelectorAll('*').length);
      assert(nodes < 5000, `${nodes} DOM nodes for a big map`);
      // The same result as a share link (made by the CLI) opens the same way.
      const payload = execFileSync(CLI, ['link', big]).toString().trim();
      console.log(`    its share link: ${payload.length} characters`);
      const linked = await openPage(browser, server.url + payload);
      await linked.page.waitForSelector('[data-testid=heatmap-error][data-render=canvas]', { timeout: 30_000 });
      assert((await responsive(linked.page)) < 3000, 'the link page is responsive');

      // Over the caps: refused with a message, within seconds, nothing saved.
      const saved = (await page.$$('[data-testid=saved-run]')).length;
      const refusals = [
        ['huge-map.json', stretched(600, 300)],
        ['many-notes.json', stretched(2, 2, { notes: Array.from({ length: 1_000_000 }, (_, i) => `note ${i}`) })],
        ['long-name.json', stretched(2, 2, { units: ['x'.repeat(100_000), 'y'] })],
        ['negative-error.json', stretched(2, 2, { final_test_error: -0.5 })],
      ];
      for (const [name, value] of refusals) {
        await page.click('[data-testid=notices] button').catch(() => {});
        t0 = Date.now();
        await page.setInputFiles('[data-testid=import-file]', write(name, value));
        await page.waitForFunction((n) => (document.querySelector('[data-testid=notices]')?.textContent || '').includes(`${n} cannot be opened`), name, { timeout: 30_000 });
        const lagged = await responsive(page);
        console.log(`    ${name}: refused after ${Date.now() - t0} ms; a click then took ${lagged} ms`);
        assert(lagged < 3000, `${name}: the page took ${lagged} ms to answer`);
      }
      assert((await page.$$('[data-testid=saved-run]')).length === saved, 'no refused file was saved');

      // A CIFAR-10 archive whose members are gzip bombs: one budget for all, refused fast.
      const zeros = Buffer.alloc(3073 * 60_000);
      const bomb = zlib.gzipSync(zeros, { level: 9 });
      const archive = write('nested-bomb.tar.gz', zlib.gzipSync(tar({
        'cifar-10-batches-bin/data_batch_1.bin.gz': bomb,
        'cifar-10-batches-bin/data_batch_2.bin.gz': bomb,
        'cifar-10-batches-bin/test_batch.bin.gz': bomb,
      })));
      console.log(`    nested gzip bomb: ${fs.statSync(archive).size} bytes, ${3 * zeros.length} inside`);
      t0 = Date.now();
      await page.setInputFiles('[data-testid=import-file]', archive);
      await page.waitForFunction(() => /exceeds the \d+-byte limit/.test(document.querySelector('[data-testid=notices]')?.textContent || ''), null, { timeout: 120_000 });
      console.log(`    nested gzip bomb refused after ${Date.now() - t0} ms`);
      assert((await responsive(page)) < 3000, 'responsive after the archive');
      const real = errors.concat(linked.errors).filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await browser.close();
    }
  },

  async a_full_storage_quota_is_reported_and_the_run_kept() {
    const browser = await launch({ webgpu: false });
    try {
      // Every save's transaction aborts with QuotaExceededError after its write succeeded, as
      // a full origin quota does.
      const quota = () => {
        const add = IDBObjectStore.prototype.add;
        IDBObjectStore.prototype.add = function (...args) {
          const request = add.apply(this, args);
          const tx = this.transaction;
          request.addEventListener('success', () => {
            Object.defineProperty(tx, 'error', { get: () => new DOMException('The quota has been exceeded.', 'QuotaExceededError') });
            tx.abort();
          });
          return request;
        };
      };
      const { page } = await openPage(browser, server.url + fragment(SMALL, { run: 1, backend: 'cpu' }), quota);
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      await page.waitForFunction(() => /could not be saved in this browser \(QuotaExceededError/.test(document.querySelector('[data-testid=notices]')?.textContent || ''), null, { timeout: 30_000 });
      const result = await exportJson(page, 'quota-result.json');
      assert(result.units.length === 2, 'the run is still there to download');
      assert((await page.$$('[data-testid=saved-run]')).length === 0, 'nothing was listed as saved');
      await page.screenshot({ path: path.join(OUT, 'quota.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  },

  async served_under_a_subpath() {
    // dist/ copied to <host>/layerlab/, as a GitHub Pages project site serves it.
    const empty = path.join(OUT, 'empty-root');
    fs.mkdirSync(empty, { recursive: true });
    const sub = await serve(empty, 0, { '/layerlab/': DIST });
    const browser = await launch({ webgpu: false });
    try {
      const base = sub.url + 'layerlab/';
      const { page, errors } = await openPage(browser, base + fragment(SMALL, { run: 1, backend: 'cpu' }));
      const failed = [];
      page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      await page.click('[data-testid=share]');
      const link = await page.inputValue('[data-testid=share-url]');
      assert(link.startsWith(base + '#r='), `link: ${link.slice(0, 80)}`);
      const other = await openPage(browser, link);
      other.page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
      await other.page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 60_000 });
      await other.page.waitForSelector('[data-testid=shared-banner]');
      const missing = failed.filter((f) => !/favicon/.test(f));
      assert(missing.length === 0, `failed requests: ${missing.join(', ')}`);
      const real = errors.concat(other.errors).filter((e) => !/favicon/.test(e));
      assert(real.length === 0, `console errors: ${real.join(' | ')}`);
    } finally {
      await browser.close();
      await sub.close();
    }
  },
  async classroom_quick_preset_honest_curves_and_help() {
    const browser = await launch({ webgpu: false });
    try {
      const { page, errors } = await openPage(browser, server.url + '#backend=cpu');
      // First visit: the guide; every map has a "?".
      await page.waitForSelector('[data-testid=guide]');
      await page.click('[data-testid=preset-quick]');
      await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 60_000 });
      const t0 = Date.now();
      await page.click('[data-testid=run]');
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 300_000 });
      const seconds = (Date.now() - t0) / 1000;
      console.log(`    quick preset, click to heat maps on the CPU path: ${seconds.toFixed(1)} s`);
      const result = await checkFinishedPage(page, errors, 'quick', 'cpu');
      // The paper's pattern: only layer1 critical.
      const verdicts = await page.$$eval('[data-testid=verdict]', (els) => els.map((e) => [e.dataset.unit, e.dataset.verdict]));
      assert(JSON.stringify(verdicts) === JSON.stringify([['layer1', 'critical'], ['layer2', 'robust'], ['layer3', 'robust'], ['layer4', 'robust']]), `verdicts ${verdicts}`);
      // The loss curve has no cliff at the epoch boundary: the steps across it are no larger
      // than three times the median step.
      const curve = result.loss_curve;
      const steps = curve.slice(1).map((p, i) => Math.abs(p[1] - curve[i][1]));
      const median = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)];
      for (let i = 0; i < steps.length; i++) {
        const crosses = Math.floor(curve[i][0]) !== Math.floor(curve[i + 1][0]) || Number.isInteger(curve[i + 1][0]);
        if (crosses) assert(steps[i] <= 3 * median, `loss step ${steps[i]} at epoch ${curve[i + 1][0]} vs median ${median}`);
      }
      console.log(`    loss curve: ${curve.length} points, median step ${median.toFixed(4)}, at the boundaries ≤ 3× that`);
      await page.click('[data-testid=help-error]');
      const help = await page.textContent('[data-testid=help-text-error]');
      assert(/robust/.test(help) && /critical/.test(help) && /ReRnd/.test(help), `help: ${help}`);
      await page.locator('[data-testid=curve-loss] .dot').nth(20).hover({ force: true });
      assert(/train loss at epoch/.test(await page.textContent('[data-testid=curve-loss-hover]')), 'hovering the curve shows its value');
      await page.screenshot({ path: path.join(OUT, 'quick-preset.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  },

  async offline_after_one_visit_and_updates() {
    // A copy of the build, served from a folder the test can change (a redeploy).
    const site = fs.mkdtempSync(path.join(OUT, 'site-'));
    fs.cpSync(DIST, site, { recursive: true });
    const hosted = await serve(site);
    const names = (dir) => fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
    const browser = await launch({ webgpu: false });
    try {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const requested = new Set();
      context.on('request', (r) => requested.add(new URL(r.url()).pathname));
      const quick = async (label) => {
        await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 60_000 });
        await page.click('[data-testid=preset-quick]');
        await page.click('[data-testid=run]');
        await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 120_000 });
        console.log(`    ${label}: the quick preset's heat maps are shown`);
      };
      // The first visit: the service worker installs; a quick run caches its data.
      await page.goto(hosted.url);
      await quick('online');
      await page.waitForFunction(() => navigator.serviceWorker && navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
      // Every file the page fetched, and every file of the build, but index.html is hashed.
      const fetched = [...requested].map((p) => path.basename(p)).filter((n) => n && n !== 'index.html');
      const unhashed = [...new Set([...fetched, ...names(site).filter((n) => n !== 'index.html')])].filter((n) => !HASHED.test(n));
      assert(unhashed.length === 0, `assets without a content hash: ${unhashed.join(', ')}`);
      assert(fetched.some((n) => n.startsWith('layerlab-worker-cpu-')), `the CPU worker is fetched by its hashed name: ${fetched.join(', ')}`);
      assert(!fetched.some((n) => /^layerlab-worker-[0-9a-f]{16}/.test(n)), 'the WebGPU worker is not downloaded on the CPU path');
      console.log(`    ${fetched.length} files fetched, all content-hashed but index.html`);

      // Offline: the page reloads from the service worker and a quick run finishes.
      await context.setOffline(true);
      await page.reload();
      await quick('offline');
      await context.setOffline(false);

      // A second build with a changed worker: the page still shows the first, offers the update,
      // and runs the new worker after the reload.
      const worker = names(site).find((n) => /^layerlab-worker-cpu-[0-9a-f]{16}\.js$/.test(n));
      fs.appendFileSync(path.join(site, worker), '\n// a second build\n');
      execFileSync(STAGE, ['--dist', site], { stdio: ['ignore', 'ignore', 'inherit'] });
      const loader = names(site).find((n) => /^layerlab-worker-cpu-[0-9a-f]{16}_loader\.js$/.test(n));
      assert(!loader.includes(worker.replace('.js', '')), 'the changed worker has a new name');
      await page.reload();
      await page.waitForSelector('[data-testid=update-banner]', { timeout: 30_000 });
      const before = await page.getAttribute('meta[name=layerlab-worker-cpu]', 'content');
      assert(!before.endsWith(loader), 'the page still runs the first build until the reload');
      await Promise.all([page.waitForNavigation(), page.click('[data-testid=update-reload]')]);
      await page.waitForFunction((l) => document.querySelector('meta[name=layerlab-worker-cpu]')?.content.endsWith(l), loader, { timeout: 30_000 });
      await quick('after the update');
      assert(await page.$('[data-testid=update-banner]') === null, 'no update notice once updated');
      assert(errors.length === 0, `page errors: ${errors.join(' | ')}`);
      await context.close();
    } finally {
      await browser.close();
      await hosted.close();
      fs.rmSync(site, { recursive: true, force: true });
    }
  },

  async presentation_and_phone_views() {
    const browser = await launch({ webgpu: false });
    try {
      const fcnFile = path.join(OUT, 'cli-quick.json');
      runCli(['--preset', 'quick'], fcnFile);
      const cnnFile = path.join(OUT, 'cli-vgg.json');
      execFileSync(CLI, ['run', '--data', CIFAR, '--out', cnnFile, '--quiet', '--model', 'vgg11', '--width-mult', '0.125', '--epochs', '1',
        '--checkpoints', '0,1', '--train-limit', '256', '--test-limit', '200', '--batch-size', '64'], { stdio: ['ignore', 'ignore', 'inherit'] });
      const link = (file) => server.url + execFileSync(CLI, ['link', file]).toString().trim();
      for (const [label, file] of [['fcn', fcnFile], ['vgg', cnnFile]]) {
        // A projector: 1024×768, the presentation view shows the whole test-error map.
        const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
        const page = await context.newPage();
        await page.goto(link(file));
        await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 60_000 });
        await page.keyboard.press('p');
        await page.waitForSelector('[data-testid=presentation] [data-testid=heatmap-error]');
        const box = await page.$eval('[data-testid=presentation] [data-testid=heatmap-error] svg', (e) => e.getBoundingClientRect().toJSON());
        assert(box.left >= 0 && box.top >= 0 && box.right <= 1024 && box.bottom <= 768, `${label}: presentation map at ${JSON.stringify(box)}`);
        const cell = await page.$eval('[data-testid=presentation] [data-testid=heatmap-cell] text', (e) => parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a);
        console.log(`    ${label}: presentation map ${Math.round(box.width)}×${Math.round(box.height)} px, cell text ${cell.toFixed(1)} px`);
        await page.screenshot({ path: path.join(OUT, `presentation-${label}.png`) });
        await page.keyboard.press('ArrowRight');
        assert(await page.getAttribute('[data-testid=presentation]', 'data-view') === 'l2', 'ArrowRight shows the ℓ2 map');
        await page.keyboard.press('ArrowDown');
        assert(await page.getAttribute('[data-testid=presentation]', 'data-view') === 'error', 'ArrowDown walks the error map');
        await page.waitForSelector('[data-testid=present-detail]');
        await page.keyboard.press('ArrowDown');
        assert(/re-initialized|whole model|re-randomized/.test(await page.textContent('[data-testid=present-detail]')), 'a cell detail');
        await page.keyboard.press('Escape');
        assert(await page.$('[data-testid=presentation]') === null, 'Esc closes');
        await context.close();

        // A phone: 390×844, the shared link's heat map starts on the first screen.
        const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
        const p2 = await phone.newPage();
        await p2.goto(link(file));
        await p2.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 60_000 });
        const map = await p2.$eval('[data-testid=heatmap-error]', (e) => ({ box: e.getBoundingClientRect().toJSON(), scroll: e.scrollWidth, client: e.clientWidth }));
        assert(map.box.top < 844 && map.box.top >= 0, `${label}: the phone's map starts at ${map.box.top}px`);
        assert(map.box.right <= 390 + 1, `${label}: the map is ${map.box.right}px wide`);
        const page_width = await p2.evaluate(() => document.documentElement.scrollWidth);
        assert(page_width <= 390 + 1, `${label}: the page scrolls sideways (${page_width}px)`);
        console.log(`    ${label}: on a phone the map starts at ${Math.round(map.box.top)} px; ${map.scroll > map.client ? 'scrolls sideways inside its box' : 'fits the width'}`);
        assert(!(await p2.isVisible('[data-testid=run]')), 'the form waits behind its button');
        await p2.click('[data-testid=settings-toggle]');
        assert(await p2.isVisible('[data-testid=run]'), 'the button shows the form');
        await p2.screenshot({ path: path.join(OUT, `phone-${label}.png`) });
        await phone.close();
      }
    } finally {
      await browser.close();
    }
  },
};

assert(fs.existsSync(path.join(DIST, 'index.html')), `no built page in ${DIST}: run trunk build --release first`);
const server = await serve(DIST);
let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  if (only && only !== name) continue;
  const started = Date.now();
  try {
    await test();
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)\n    ${e.stack || e}`);
  }
}
await server.close();
console.log(failed ? `${failed} e2e test(s) failed` : 'all e2e tests passed');
process.exit(failed ? 1 : 0);
