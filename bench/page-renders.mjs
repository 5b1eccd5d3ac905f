// How much the page re-renders while a run trains: DOM mutations (and batches of them, about one
// per message from the engine) over three seconds of training, by where they land. Each batch
// costs the browser's own threads (style, layout, paint, compositor) CPU that the engine's two
// threads lose on a two-core machine (BENCHMARKS.md, issue 11).
//   node bench/page-renders.mjs        (after trunk build --release; MODEL=fcn for the MLP)
import { chromium } from 'playwright-core';
import { serve } from '../tests/e2e/serve.mjs';
const server = await serve(process.env.LAYERLAB_DIST || 'dist');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
const page = await (await browser.newContext()).newPage();
await page.goto(`${server.url}#model=${process.env.MODEL || 'vgg11'}&width-mult=0.25&epochs=1&lr=0.02&batch-size=128&checkpoints=0,1&train-limit=50000&test-limit=200&run=1&backend=cpu`);
await page.waitForSelector('[data-testid=device][data-threads]', { timeout: 120000 });
await page.waitForTimeout(4000);
const r = await page.evaluate(() => new Promise((done) => {
  let mutations = 0, batches = 0;
  const where = {}; const obs = new MutationObserver((list) => { batches++; mutations += list.length; for (const m of list) { let n = m.target.nodeType === 1 ? m.target : m.target.parentElement; let path = []; while (n && path.length < 4) { path.push(n.tagName + (n.getAttribute('data-testid') ? '[' + n.getAttribute('data-testid') + ']' : n.className && typeof n.className === 'string' ? '.' + n.className.split(' ')[0] : '')); n = n.parentElement; } const k = m.type + ' ' + (m.attributeName || '') + ' ' + path.join('<'); where[k] = (where[k] || 0) + 1; } });
  obs.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  setTimeout(() => { obs.disconnect(); done({ mutations, batches, where: Object.entries(where).sort((a, b) => b[1] - a[1]).slice(0, 15) }); }, 3000);
}));
console.log(r);
await browser.close(); await server.close();
