import { chromium } from 'playwright-core';
import fs from 'node:fs';
import { serve } from '../tests/e2e/serve.mjs';
const server = await serve(process.env.LAYERLAB_DIST || '/work/main/dist');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update'] });
const context = await browser.newContext({ serviceWorkers: 'block' });
const CAP = `(() => { if (typeof GPUDevice === 'undefined') return; self.__shaders = []; const o = GPUDevice.prototype.createShaderModule; GPUDevice.prototype.createShaderModule = function (d) { self.__shaders.push(d.code); return o.call(this, d); }; })();`;
await context.route('**/*_loader.js', async (route) => { const response = await route.fetch(); await route.fulfill({ response, body: CAP + '\n' + (await response.text()) }); });
const page = await context.newPage();
const config = { model: 'fcn', depth: 3, width: 256, 'batch-size': 128, lr: 0.01, momentum: 0.9, epochs: 1, checkpoints: '0,1', seed: 0, 'train-limit': 128 * 4, 'test-limit': 500, 'eval-batch-size': 500, run: 1, backend: 'webgpu' };
await page.goto(server.url + '#' + Object.entries(config).map(([k, v]) => `${k}=${v}`).join('&'));
await page.waitForSelector('[data-testid=heatmap-error][data-state=done]', { timeout: 600_000 });
for (const w of page.workers()) { const s = await w.evaluate(() => self.__shaders || null).catch(() => null); if (s && s.length) { s.forEach((c, i) => fs.writeFileSync(`/tmp/gp/shader-${i}.wgsl`, c)); console.log(s.length); } }
await browser.close(); process.exit(0);
