#!/usr/bin/env python3
"""An independent NumPy re-implementation of the FCN protocol (PyTorch semantics), used to
cross-check the engine's numbers. Not part of the test suite (it needs NumPy).

Usage: tools/reference_fcn.py DATA_DIR [--epochs 5] [--seed 0] [--depth 3] [--width 256]
Prints the trained test error, each layer's error re-initialized to checkpoint 0, and the
re-randomized errors.
"""
import argparse, os
import numpy as np

def idx(path):
    raw = open(path, 'rb').read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)

p = argparse.ArgumentParser()
p.add_argument('data'); p.add_argument('--epochs', type=int, default=5)
p.add_argument('--seed', type=int, default=0); p.add_argument('--depth', type=int, default=3)
p.add_argument('--width', type=int, default=256); p.add_argument('--lr', type=float, default=0.01)
a = p.parse_args()
norm = lambda x: ((x.reshape(len(x), -1).astype(np.float32) / 255.0) - 0.1307) / 0.3081
xtr, ytr = norm(idx(os.path.join(a.data, 'train-images-idx3-ubyte'))), idx(os.path.join(a.data, 'train-labels-idx1-ubyte'))
xte, yte = norm(idx(os.path.join(a.data, 't10k-images-idx3-ubyte'))), idx(os.path.join(a.data, 't10k-labels-idx1-ubyte'))
rng = np.random.default_rng(a.seed)
sizes = [784] + [a.width] * a.depth + [10]
def init():
    out = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        b = 1 / np.sqrt(i)
        out.append([rng.uniform(-b, b, (i, o)).astype(np.float32), rng.uniform(-b, b, o).astype(np.float32)])
    return out
def forward(ps, x):
    hs = [x]
    for j, (w, b) in enumerate(ps):
        x = x @ w + b
        if j < len(ps) - 1:
            x = np.maximum(x, 0)
        hs.append(x)
    return hs
def error(ps):
    return float(np.mean(forward(ps, xte)[-1].argmax(1) != yte))
params = init(); initial = [[w.copy(), b.copy()] for w, b in params]
mom = [[np.zeros_like(w), np.zeros_like(b)] for w, b in params]
for epoch in range(a.epochs):
    order = rng.permutation(len(xtr))
    for s in range(0, len(order), 128):
        ix = order[s:s + 128]; x, y = xtr[ix], ytr[ix]; n = len(ix)
        hs = forward(params, x)
        z = hs[-1] - hs[-1].max(1, keepdims=True); pr = np.exp(z); pr /= pr.sum(1, keepdims=True)
        g = pr; g[np.arange(n), y] -= 1; g /= n
        for j in range(len(params) - 1, -1, -1):
            w, b = params[j]
            gw, gb = hs[j].T @ g, g.sum(0)
            if j > 0:
                g = (g @ w.T) * (hs[j] > 0)
            for k, gr in enumerate((gw, gb)):
                mom[j][k] = gr if (epoch == 0 and s == 0) else mom[j][k] * 0.9 + gr
                params[j][k] = params[j][k] - a.lr * mom[j][k]
    print(f'epoch {epoch + 1}: test error {error(params):.4f}', flush=True)
print('trained', error(params))
for d in range(len(params)):
    mixed = [initial[j] if j == d else params[j] for j in range(len(params))]
    b = 1 / np.sqrt(sizes[d])
    fresh = [[rng.uniform(-b, b, params[d][0].shape).astype(np.float32), rng.uniform(-b, b, params[d][1].shape).astype(np.float32)] if j == d else params[j] for j in range(len(params))]
    rel = np.sqrt(sum(((params[d][k] - initial[d][k]) ** 2).sum() for k in range(2)) / sum((initial[d][k] ** 2).sum() for k in range(2)))
    print(f'layer{d + 1}: reinit@0 {error(mixed):.4f}  rerandomized {error(fresh):.4f}  l2_relative {rel:.3f}')
