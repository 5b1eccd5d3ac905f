// A multi-seed run in the page on the CPU backend and with the native CLI, then each of its
// seeds alone with the CLI: prints the times, whether the page's and the CLI's result files are
// identical (timing aside), and how far the multi-seed mean map is from the mean of the
// separately run seeds (and whether it is the same bits).
//   CONFIG='model=fcn&depth=3&width=256&epochs=5&seeds=0-4' node bench/seeds-page.mjs
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
const MNIST = path.join(repo, 'data', 'mnist');
const CONFIG = process.env.CONFIG || 'model=fcn&depth=3&width=256&epochs=5&seeds=0-4';
fs.mkdirSync(OUT, { recursive: true });
const pairs = CONFIG.split('&').map((p) => p.split('='));
const cli = (args, out) => {
  const t0 = Date.now();
  execFileSync(CLI, ['run', '--data', MNIST, '--out', out, '--quiet', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  return [JSON.parse(fs.readFileSync(out, 'utf8')), (Date.now() - t0) / 1000];
};

const server = await serve(DIST);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
const t0 = Date.now();
await page.goto(`${server.url}#${CONFIG}&backend=cpu&run=1`);
page.on('dialog', (d) => d.accept());
await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 3_600_000 });
const seconds = (Date.now() - t0) / 1000;
const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
const pageFile = path.join(OUT, 'seeds-page.json');
await download.saveAs(pageFile);
await browser.close();
await server.close();
const inPage = JSON.parse(fs.readFileSync(pageFile, 'utf8'));
console.log(`page (CPU): ${seconds.toFixed(1)} s from navigation to the heat maps (training ${inPage.timing.train_seconds.toFixed(1)} s, sweep ${inPage.timing.sweep_seconds.toFixed(1)} s)`);

const args = pairs.flatMap(([k, v]) => [`--${k}`, v]);
const [multi, multiSeconds] = cli(args, path.join(OUT, 'seeds-cli.json'));
const strip = (r) => JSON.stringify({ ...r, timing: undefined });
console.log(`CLI: ${multiSeconds.toFixed(1)} s; page and CLI result files ${strip(inPage) === strip(multi) ? 'identical' : 'DIFFERENT'} (timing aside)`);

// Each seed on its own, then the mean of their maps, cell by cell.
const singles = multi.seed_runs.map((s) => {
  const without = args.filter((_, i) => args[i] !== '--seeds' && args[i - 1] !== '--seeds');
  return cli([...without, '--seed', String(s.seed)], path.join(OUT, `seed-${s.seed}.json`))[0];
});
let worst = 0;
let sameBits = true;
const cells = (r) => [...r.robustness.rerandomized, ...r.robustness.reinitialized.flat(), ...r.robustness.full_model];
const mean = cells(singles[0]).map((_, i) => singles.reduce((s, r) => s + cells(r)[i], 0) / singles.length);
cells(multi).forEach((v, i) => {
  worst = Math.max(worst, Math.abs(v - mean[i]));
  if (v !== mean[i]) sameBits = false;
});
console.log(`mean map of the ${singles.length}-seed run against the mean of ${singles.length} separate runs: largest difference ${(worst * 100).toFixed(4)} points; ${sameBits ? 'the same bits' : 'NOT the same bits'} in all ${mean.length} cells`);
const threshold = 0.05;
for (const [u, unit] of multi.units.entries()) {
  const critical = multi.seed_runs.filter((s) => s.robustness.reinitialized[u][0] - s.final_test_error > threshold).length;
  const m = multi.robustness.reinitialized[u][0];
  const sd = multi.seed_summary.std.robustness.reinitialized[u][0];
  const alpha = multi.interpolation ? ` · α* ${multi.interpolation.criticality[u]}` : '';
  console.log(`  ${unit}: checkpoint 0 ${(m * 100).toFixed(2)}% ± ${(sd * 100).toFixed(2)} · critical in ${critical} of ${multi.seed_runs.length} seeds${alpha}`);
}
