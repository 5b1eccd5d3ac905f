// Same-time A/B of the page's CPU engine on one thread and with WebAssembly threads: a context
// with service workers blocked is never cross-origin isolated (the one-thread engine), a plain
// one is from its first load on (the service worker's headers, one reload). Alternates runs of
// the bench's FCN config and of VGG-11 x0.25 at batch 32 and 128, twice each, and prints steady
// samples/s (after the first step) and the sweep's time.
//   node bench/cpu-threads-ab.mjs        (after trunk build --release; BENCH_CNN=0 for the FCN only)
//   CONFIGS=<part of a config's name> and ENGINE='one thread'|threads keep only those; VGG_STEPS=n
//   makes the batch-128 VGG run n steps (default 6).
//   LAYERLAB_DIST_B=/tmp/dist-before: a build A/B instead, each engine alternating between dist/ (or
//   LAYERLAB_DIST) and that build, ROUNDS times (default 2).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DIST = process.env.LAYERLAB_DIST || path.join(here, '..', 'dist');
const OUT = path.join(here, '..', 'bench-out');
fs.mkdirSync(OUT, { recursive: true });
const server = await serve(DIST);
const serverB = process.env.LAYERLAB_DIST_B ? await serve(process.env.LAYERLAB_DIST_B) : null;
const builds = serverB ? [['', server], [' (build B)', serverB]] : [['', server]];
const ROUNDS = Number(process.env.ROUNDS || 2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
const configs = {
  'FCN 3x256 batch 128': { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, epochs: 1, checkpoints: '0,1', 'train-limit': 128 * 101, 'test-limit': 2000, 'eval-batch-size': 500 },
  'VGG-11 x0.25 batch 32': { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': 32, checkpoints: '0,1', 'train-limit': 32 * 16, 'test-limit': 200, 'eval-batch-size': 100 },
  'VGG-11 x0.25 batch 128': { model: 'vgg11', 'width-mult': 0.25, epochs: 1, lr: 0.02, 'batch-size': 128, checkpoints: '0,1', 'train-limit': 128 * Number(process.env.VGG_STEPS || 6), 'test-limit': 200, 'eval-batch-size': 100 },
};
if (process.env.BENCH_CNN === '0') for (const k of Object.keys(configs)) if (!k.startsWith('FCN')) delete configs[k];
if (process.env.CONFIGS) for (const k of Object.keys(configs)) if (!k.includes(process.env.CONFIGS)) delete configs[k];
const engines = { 'one thread': { serviceWorkers: 'block' }, threads: {} };
if (process.env.ENGINE) for (const k of Object.keys(engines)) if (k !== process.env.ENGINE) delete engines[k];
const rows = [];
for (const [label, config] of Object.entries(configs)) {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [engineName, options] of Object.entries(engines)) for (const [build, server] of builds) {
      const engine = engineName + build;
      const context = await browser.newContext({ acceptDownloads: true, ...options });
      const page = await context.newPage();
      const frag = Object.entries({ ...config, run: 1, backend: 'cpu' }).map(([k, v]) => `${k}=${v}`).join('&');
      await page.goto(`${server.url}#${frag}`);
      await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 1_800_000 });
      const threads = await page.getAttribute('[data-testid=device]', 'data-threads');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
      const file = path.join(OUT, 'cpu-threads-ab.json');
      await download.saveAs(file);
      const { timing } = JSON.parse(fs.readFileSync(file, 'utf8'));
      await context.close();
      const row = { config: label, engine, threads: Number(threads), samples_per_second: Math.round(timing.steady_samples_per_second), sweep_seconds: Number(timing.sweep_seconds.toFixed(2)) };
      rows.push(row);
      console.log(`${label}: ${engine} (${threads} threads): ${row.samples_per_second} samples/s, sweep ${row.sweep_seconds} s`);
    }
  }
}
fs.writeFileSync(path.join(OUT, 'cpu-threads-ab-rows.json'), JSON.stringify(rows, null, 1));
await browser.close();
await server.close();
if (serverB) await serverB.close();
