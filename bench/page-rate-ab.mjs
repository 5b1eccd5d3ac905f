// Same-time A/B of two builds of the page's CPU engine on a long FCN run: the steady rate read
// off the page's own progress line (its step counter) over windows of a few seconds, well past
// the first step, alternating builds round by round. The short runs of cpu-threads-ab.mjs (101
// steps) swing with the machine's moment; windows of one long run, repeated, show less of that.
//   LAYERLAB_DIST=/tmp/dist-new LAYERLAB_DIST_B=/tmp/dist-old node bench/page-rate-ab.mjs
//   ROUNDS (default 3), WINDOWS per run (default 3), WINDOW_MS (default 3000); THREADS=0 for
//   the one-thread engine (service workers blocked: never cross-origin isolated).
import { chromium } from 'playwright-core';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../tests/e2e/serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const builds = [['A', process.env.LAYERLAB_DIST || path.join(here, '..', 'dist')]];
if (process.env.LAYERLAB_DIST_B) builds.push(['B', process.env.LAYERLAB_DIST_B]);
const ROUNDS = Number(process.env.ROUNDS || 3);
const WINDOWS = Number(process.env.WINDOWS || 3);
const WINDOW_MS = Number(process.env.WINDOW_MS || 3000);
const servers = await Promise.all(builds.map(([, dist]) => serve(dist)));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
const BATCH = 128;
const config = `model=fcn&depth=3&width=256&batch-size=${BATCH}&lr=0.01&epochs=20&train-limit=60000&test-limit=500&checkpoints=0,20`;
const rates = builds.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [name]] of builds.entries()) {
    const context = await browser.newContext(process.env.THREADS === '0' ? { serviceWorkers: 'block' } : {});
    const page = await context.newPage();
    await page.goto(`${servers[i].url}#${config}&run=1&backend=cpu`);
    const threads = await (await page.waitForSelector('[data-testid=device][data-threads]', { timeout: 120000 })).getAttribute('data-threads');
    await page.waitForTimeout(3000);
    const step = async () => Number((await page.textContent('[data-testid=progress-detail]')).match(/step (\d+)/)[1]);
    const windows = [];
    for (let w = 0; w < WINDOWS; w++) {
      const [s0, t0] = [await step(), Date.now()];
      await page.waitForTimeout(WINDOW_MS);
      const [s1, t1] = [await step(), Date.now()];
      windows.push(Math.round(((s1 - s0) * BATCH) / ((t1 - t0) / 1000)));
    }
    rates[i].push(...windows);
    console.log(`round ${round + 1}, build ${name} (${threads} threads): ${windows.join(' ')} samples/s`);
    await context.close();
  }
}
for (const [i, [name, dist]] of builds.entries()) {
  const mean = rates[i].reduce((a, b) => a + b, 0) / rates[i].length;
  console.log(`build ${name} (${dist}): mean ${Math.round(mean)} samples/s over ${rates[i].length} windows`);
}
await browser.close();
await Promise.all(servers.map((s) => s.close()));
