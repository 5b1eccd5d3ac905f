// One classroom preset in the page on the CPU backend, click to heat maps (data cached), then
// the same preset and seed with the native CLI: the two result files must be identical (timing
// aside). Prints the time, the verdicts and the comparison.
//   PRESET=vgg-small SEED=0 [THREADS=0] node bench/preset-page.mjs   (after trunk build --release and
//   cargo build --release; the CIFAR-10 data from LAYERLAB_CIFAR_DIR or ../shared)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const DIST = process.env.LAYERLAB_DIST || path.join(repo, 'dist');
const OUT = path.join(repo, 'bench-out');
const CLI = process.env.LAYERLAB_CLI || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, 'target'), 'release', 'layerlab');
const PRESET = process.env.PRESET || 'vgg-small';
const SEED = process.env.SEED || '0';
const DATA = PRESET.startsWith('vgg') || PRESET.startsWith('resnet')
  ? process.env.LAYERLAB_CIFAR_DIR || path.join(repo, '..', 'shared', 'data', 'cifar10-jpeg')
  : path.join(repo, 'data', 'mnist');
fs.mkdirSync(OUT, { recursive: true });

const server = await serve(DIST);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
// THREADS=0: service workers blocked, so the page is never cross-origin isolated: one CPU thread.
const threadsOff = process.env.THREADS === '0';
const page = await (await browser.newContext({ acceptDownloads: true, ...(threadsOff ? { serviceWorkers: 'block' } : {}) })).newPage();
await page.goto(`${server.url}#backend=cpu`);
// The engine is ready once the page has settled (a first visit reloads once, cross-origin isolated).
await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120_000 });
await page.click(`[data-testid=preset-${PRESET}]`);
await page.fill('#field-seed', SEED);
await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120_000 });
const t0 = Date.now();
await page.click('[data-testid=run]');
await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 3_600_000 });
const seconds = (Date.now() - t0) / 1000;
const threads = await page.getAttribute('[data-testid=device]', 'data-threads');
const verdicts = await page.$$eval('[data-testid=verdict]', (els) => els.map((e) => `${e.dataset.unit} ${e.dataset.verdict}`));
const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
const pageFile = path.join(OUT, `preset-page-${PRESET}-${SEED}.json`);
await download.saveAs(pageFile);
await browser.close();
await server.close();
const inPage = JSON.parse(fs.readFileSync(pageFile, 'utf8'));
console.log(`${PRESET} seed ${SEED} in the page (CPU, ${threads} thread(s)): ${seconds.toFixed(1)} s from the click to the heat maps; training ${inPage.timing.train_seconds.toFixed(1)} s, sweep ${inPage.timing.sweep_seconds.toFixed(1)} s`);
console.log(`verdicts: ${verdicts.join(', ')}`);

const cliFile = path.join(OUT, `preset-cli-${PRESET}-${SEED}.json`);
execFileSync(CLI, ['run', '--data', DATA, '--preset', PRESET, '--seed', SEED, '--out', cliFile, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
const native = JSON.parse(fs.readFileSync(cliFile, 'utf8'));
const strip = (r) => JSON.stringify({ ...r, timing: undefined });
console.log(`CLI: training ${native.timing.train_seconds.toFixed(1)} s, sweep ${native.timing.sweep_seconds.toFixed(1)} s; result files ${strip(inPage) === strip(native) ? 'identical' : 'DIFFERENT'} (timing aside)`);
