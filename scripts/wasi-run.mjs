// Runs a wasm32-wasip1 program under Node's WASI, on V8 as the page runs the engine: the kernels'
// tests (scripts/test-wasm-kernels.sh) and the per-kernel timings (bench/wasm-kernels.sh), one
// thread, SIMD128 and relaxed SIMD. `data/` is visible to it as `/data` (dense_layers reads MNIST
// there).
//   node scripts/wasi-run.mjs PROGRAM.wasm [ARGS...]
import { WASI } from 'node:wasi';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const [program, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [program, ...args], env: {}, preopens: { '/data': path.join(root, 'data') } });
const module = await WebAssembly.compile(fs.readFileSync(program));
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
