// A WGSL microbenchmark of matrix-product kernel shapes on the browser's WebGPU adapter, outside
// the engine: each variant `[reads, rows, column quads, workgroup x, workgroup y, options]` is a
// kernel whose unit keeps rows × 4·quads outputs in registers and reads its operands from storage
// buffers as vec4 ("storage") or from rgba32float textures ("texture"); options "fma" and "arr"
// (accumulators in a function array, as cubecl writes them). Prints ms per dispatch and GFLOP/s
// for the FCN's product shapes (best of three batches of six dispatches, checked against the CPU),
// and the time to create the pipeline (createComputePipelineAsync) and to run its first dispatch.
//   V='[["storage",8,4,16,4,""],["texture",8,4,16,4,""]]' node bench/webgpu-matmul/run.mjs
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const page_html = fs.readFileSync(path.join(here, 'index.html'));
const server = http.createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end(page_html); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--enable-unsafe-webgpu'] });
const page = await browser.newPage();
page.on('console', (m) => console.log(m.text()));
const variants = process.env.V || '[["storage",4,1,8,8,""],["storage",8,4,16,4,""],["texture",8,4,16,4,""]]';
await page.goto(`http://127.0.0.1:${server.address().port}/?v=${encodeURIComponent(variants)}`);
await page.waitForFunction(() => document.getElementById('out').textContent.includes('DONE'), null, { timeout: 600_000 });
await browser.close();
server.close();
