#!/usr/bin/env python3
"""PyTorch CPU on the same protocols as bench/run.mjs's native rows, so that a ratio to PyTorch
comes from one run on one machine. Called by bench/run.mjs when a Python with torch is found
(scripts/bench.sh installs one in ~/.cache/layerlab/torch-venv). Prints one JSON object.

  bench/torch_cpu.py --mnist DIR --cifar DIR
  bench/torch_cpu.py --mnist DIR --fcn-training-only

- fcn: FCN 3x256 on the 60k MNIST, batch 128, SGD momentum 0.9, lr 0.01, 5 epochs: samples/s
  over the whole training (first step included, as the CLI's figure), then the sweep of that
  protocol (checkpoints 0,1,2,3,5: 4 layers x 6 variants + 5 fullmodel = 29 evaluations of 10k).
  The same training through a DataLoader is timed too (the idiomatic, slower loop).
- vgg: VGG-11 x0.25 (the engine's shapes: 3x3 convs with bias, ReLU, 2x2 max pool per stage,
  fc 128-128-10) on the 10k CIFAR-10 subset, batch 128, lr 0.02, 10 epochs, checkpoints
  0,1,2,5,10: training samples/s, then the naive sweep of 11 units x 6 variants + 5 fullmodel =
  71 evaluations of the 10k test images (the issue-4 command). Evaluation batch 1000 for both.
"""
import argparse, copy, gzip, json, os, time
import numpy as np
import torch
from torch import nn

def idx(path):
    raw = open(path, 'rb').read(); nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)

def cifar(path):
    raw = np.frombuffer(gzip.open(path).read(), np.uint8).reshape(-1, 3073)
    x = torch.tensor(raw[:, 1:].reshape(-1, 3, 32, 32), dtype=torch.float32) / 255.0
    return (x - 0.5) / 0.25, torch.tensor(raw[:, 0], dtype=torch.long)

def error(model, x, y):
    model.eval()
    with torch.no_grad():
        wrong = sum((model(x[i:i + 1000]).argmax(1) != y[i:i + 1000]).sum().item() for i in range(0, len(x), 1000))
    model.train()
    return wrong / len(x)

def train(model, x, y, epochs, lr, checkpoints):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    saved = {0: copy.deepcopy(model.state_dict())}
    t = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            b = order[i:i + 128]
            opt.zero_grad(); nn.functional.cross_entropy(model(x[b]), y[b]).backward(); opt.step()
        if epoch in checkpoints:
            saved[epoch] = copy.deepcopy(model.state_dict())
    seconds = time.perf_counter() - t
    return saved, epochs * len(x) / seconds

def train_with_dataloader(model, x, y, epochs, lr):
    """The idiomatic loop (torch.utils.data.DataLoader, as tools/reference_fcn_torch.py): slower
    per step than indexing, reported beside it; ratios use the faster."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
    t = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad(); nn.functional.cross_entropy(model(xb), yb).backward(); opt.step()
    return epochs * len(x) / (time.perf_counter() - t)

def sweep(model, units, saved, x, y):
    """Every unit at every checkpoint and re-randomized, and the full model at each checkpoint,
    each a full evaluation (no cached prefix): the reference way."""
    trained = copy.deepcopy(model.state_dict())
    t = time.perf_counter(); evaluations = 0
    for prefix, module in units:
        for state in saved.values():
            sd = dict(trained); sd.update({k: v for k, v in state.items() if k.startswith(prefix)})
            model.load_state_dict(sd); error(model, x, y); evaluations += 1
        model.load_state_dict(trained)
        for m in module.modules():
            if hasattr(m, 'reset_parameters'): m.reset_parameters()
        error(model, x, y); evaluations += 1
    for epoch, state in saved.items():
        if epoch == max(saved): continue
        model.load_state_dict(state); error(model, x, y); evaluations += 1
    model.load_state_dict(trained); error(model, x, y); evaluations += 1
    return time.perf_counter() - t, evaluations

def vgg11_quarter():
    layers, units, c = [], [], 3
    for stage, widths in enumerate([[16], [32], [64, 64], [128, 128], [128, 128]]):
        for block, w in enumerate(widths):
            last = block == len(widths) - 1
            seq = nn.Sequential(nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), *( [nn.MaxPool2d(2)] if last else []))
            layers.append(seq); c = w
    layers += [nn.Sequential(nn.Flatten(), nn.Linear(128, 128), nn.ReLU()), nn.Sequential(nn.Linear(128, 128), nn.ReLU()), nn.Linear(128, 10)]
    model = nn.Sequential(*layers)
    for m in model.modules():  # the engine's He-normal draws (fan-out for convs), so it trains
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu'); nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.out_features != 10:
            nn.init.kaiming_normal_(m.weight, nonlinearity='relu'); nn.init.zeros_(m.bias)
    return model, [(f'{i}.', m) for i, m in enumerate(model)]

def main():
    p = argparse.ArgumentParser(); p.add_argument('--mnist'); p.add_argument('--cifar')
    p.add_argument('--fcn-training-only', action='store_true', help="the FCN's training rate alone (the indexing loop): a round of run.mjs's same-minutes ratio")
    a = p.parse_args(); torch.manual_seed(0); out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    if a.mnist:
        load = lambda i, l: ((torch.tensor(idx(os.path.join(a.mnist, i)).reshape(-1, 784), dtype=torch.float32) / 255.0 - 0.1307) / 0.3081,
                             torch.tensor(idx(os.path.join(a.mnist, l)), dtype=torch.long))
        xtr, ytr = load('train-images-idx3-ubyte', 'train-labels-idx1-ubyte')
        xte, yte = load('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
        fcn = lambda: nn.Sequential(nn.Sequential(nn.Linear(784, 256), nn.ReLU()), nn.Sequential(nn.Linear(256, 256), nn.ReLU()),
                                    nn.Sequential(nn.Linear(256, 256), nn.ReLU()), nn.Linear(256, 10))
        if a.fcn_training_only:
            _, rate = train(fcn(), xtr, ytr, 5, 0.01, {1, 2, 3, 5})
            print(json.dumps({**out, 'fcn': {'samples_per_second': rate}}))
            return
        dataloader_rate = train_with_dataloader(fcn(), xtr, ytr, 5, 0.01)
        model = fcn()
        saved, rate = train(model, xtr, ytr, 5, 0.01, {1, 2, 3, 5})
        seconds, n = sweep(model, [(f'{i}.', m) for i, m in enumerate(model)], saved, xte, yte)
        out['fcn'] = {'samples_per_second': rate, 'sweep_seconds': seconds, 'evaluations': n, 'error': error(model, xte, yte),
                      'dataloader_samples_per_second': dataloader_rate}
    if a.cifar:
        xtr, ytr = cifar(os.path.join(a.cifar, 'data_batch_1.bin.gz'))
        xte, yte = cifar(os.path.join(a.cifar, 'test_batch.bin.gz'))
        model, units = vgg11_quarter()
        saved, rate = train(model, xtr, ytr, 10, 0.02, {1, 2, 5, 10})
        seconds, n = sweep(model, units, saved, xte, yte)
        out['vgg'] = {'samples_per_second': rate, 'sweep_seconds': seconds, 'evaluations': n, 'error': error(model, xte, yte)}
    print(json.dumps(out))

if __name__ == '__main__':
    main()
