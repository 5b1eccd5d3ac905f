// The classroom presets' seed study in the page: the `quick` preset over seeds 0–9 on the CPU
// path (click to heat maps, data cached), with each seed's verdicts. Writes
// bench-out/seed-study.json and prints a markdown table.
//   node bench/seed-study.mjs        (after trunk build --release; scripts/bench.sh builds it)
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const DIST = process.env.LAYERLAB_DIST || path.join(repo, 'dist');
const OUT = path.join(repo, 'bench-out');
const SEEDS = (process.env.SEEDS || '0-9').split('-').map(Number);
const THRESHOLD = 0.05;
fs.mkdirSync(OUT, { recursive: true });

const server = await serve(DIST);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
const rows = [];
for (let seed = SEEDS[0]; seed <= SEEDS[SEEDS.length - 1]; seed++) {
  await page.goto('about:blank');
  await page.goto(`${server.url}#backend=cpu`);
  await page.waitForSelector('[data-testid=preset-quick]');
  await page.click('[data-testid=preset-quick]');
  await page.fill('#field-seed', String(seed));
  await page.waitForSelector('[data-testid=run]:not([disabled])', { timeout: 120_000 });
  const t0 = Date.now();
  await page.click('[data-testid=run]');
  await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
  const seconds = (Date.now() - t0) / 1000;
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
  const file = path.join(OUT, `seed-study-quick-${seed}.json`);
  await download.saveAs(file);
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  const base = r.final_test_error;
  const rise = r.robustness.reinitialized.map((row) => row[0] - base);
  const pattern = rise[0] > THRESHOLD && rise.slice(1).every((d) => d <= THRESHOLD);
  rows.push({ seed, seconds, trained: base, rise, rerandomized_min: Math.min(...r.robustness.rerandomized), pattern });
  console.log(`seed ${seed}: ${seconds.toFixed(1)} s, trained ${(base * 100).toFixed(2)}%, rises ${rise.map((d) => (d * 100).toFixed(1)).join(' / ')} pts, pattern ${pattern}`);
}
await browser.close();
await server.close();
fs.writeFileSync(path.join(OUT, 'seed-study.json'), JSON.stringify(rows, null, 2));
const pct = (x) => `${(x * 100).toFixed(1)}`;
console.log('\n| seed | click to heat maps | trained error | layer1 reset to 0 | layers 2–4 reset to 0 | ReRnd (lowest) | paper pattern |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.seed} | ${r.seconds.toFixed(1)} s | ${pct(r.trained)}% | +${pct(r.rise[0])} | ${r.rise.slice(1).map((d) => `+${pct(d)}`).join(' / ')} | ${pct(r.rerandomized_min)}% | ${r.pattern ? 'yes' : 'no'} |`);
}
console.log(`\n${rows.filter((r) => r.pattern).length} of ${rows.length} seeds show the paper's pattern; slowest ${Math.max(...rows.map((r) => r.seconds)).toFixed(1)} s.`);
