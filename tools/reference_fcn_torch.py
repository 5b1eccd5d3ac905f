#!/usr/bin/env python3
"""The FCN protocol in PyTorch, to compare the engine with the reference implementation.
Not part of the test suite (needs torch). Usage:
  tools/reference_fcn_torch.py DATA_DIR [--epochs 5] [--seed 0] [--milestones 30,60,90]
Prints trained test error, each layer re-initialized to checkpoint 0, each layer
re-randomized (fresh draw by reset_parameters), and the l2-relative distance."""
import argparse, copy, os
import numpy as np
import torch
from torch import nn

def idx(path):
    raw = open(path, 'rb').read(); nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)

p = argparse.ArgumentParser()
p.add_argument('data'); p.add_argument('--epochs', type=int, default=5); p.add_argument('--seed', type=int, default=0)
p.add_argument('--milestones', default=''); p.add_argument('--lr', type=float, default=0.01)
a = p.parse_args()
torch.manual_seed(a.seed)
def load(images, labels):
    x = torch.tensor(idx(os.path.join(a.data, images)).reshape(-1, 784), dtype=torch.float32) / 255.0
    return (x - 0.1307) / 0.3081, torch.tensor(idx(os.path.join(a.data, labels)), dtype=torch.long)
xtr, ytr = load('train-images-idx3-ubyte', 'train-labels-idx1-ubyte')
xte, yte = load('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
layers = [m for m in model if isinstance(m, nn.Linear)]
initial = copy.deepcopy(model.state_dict())
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9)
milestones = [int(m) for m in a.milestones.split(',') if m]
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.2)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=128, shuffle=True)
def error(m):
    with torch.no_grad():
        return (m(xte).argmax(1) != yte).float().mean().item()
for epoch in range(a.epochs):
    for x, y in loader:
        opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    sched.step()
print('trained', round(error(model), 4))
trained = copy.deepcopy(model.state_dict())
for d, layer in enumerate(layers):
    key = [k for k in initial if k.startswith(f'{2 * d}.')]
    m = copy.deepcopy(model); sd = m.state_dict()
    for k in key: sd[k] = initial[k]
    m.load_state_dict(sd); reinit = error(m)
    m = copy.deepcopy(model); [l for l in m if isinstance(l, nn.Linear)][d].reset_parameters(); rerand = error(m)
    num = sum(((trained[k] - initial[k]) ** 2).sum() for k in key); den = sum((initial[k] ** 2).sum() for k in key)
    print(f'layer{d + 1}: reinit@0 {reinit:.4f}  rerandomized {rerand:.4f}  l2_relative {(num / den).sqrt().item():.3f}')
