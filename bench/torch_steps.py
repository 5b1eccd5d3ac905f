#!/usr/bin/env python3
"""PyTorch's training step on the shapes of examples/gpu_native.rs (the engine's
profile::steady_steps): FCN 3x256 on MNIST shapes and VGG-11 x0.25 on CIFAR shapes, SGD momentum
0.9, random inputs and labels; the first step, then the mean of STEPS steps after three warm-up
steps, queued back to back with one synchronisation at the end. A reference for the WebGPU
kernels on a hardware GPU. Prints one JSON object a line.

  bench/torch_steps.py [--device cuda] [--steps 20]
"""
import argparse, json, time
import torch
from torch import nn
from torch_cpu import vgg11_quarter

def fcn():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))

def steps(model, shape, batch, n, device):
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand((batch, *shape), device=device) * 2 - 1
    y = torch.randint(0, 10, (batch,), device=device)
    sync = (lambda: torch.cuda.synchronize()) if device.startswith('cuda') else (lambda: None)
    def step():
        opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    t = time.perf_counter(); step(); sync(); first = time.perf_counter() - t
    for _ in range(3): step()
    sync(); t = time.perf_counter()
    for _ in range(n): step()
    sync(); ms = (time.perf_counter() - t) * 1e3 / n
    return {'batch': batch, 'first_step_ms': first * 1e3, 'step_ms': ms, 'samples_per_s': batch * 1e3 / ms}

def main():
    p = argparse.ArgumentParser(); p.add_argument('--device', default='cpu'); p.add_argument('--steps', type=int, default=20)
    a = p.parse_args(); torch.manual_seed(0)
    name = torch.cuda.get_device_name() if a.device.startswith('cuda') else 'cpu'
    print(json.dumps({'torch': torch.__version__, 'device': name}))
    for label, make, shape, batches in [('fcn 3x256', fcn, (784,), (128, 512)),
                                        ('vgg11 x0.25', lambda: vgg11_quarter()[0], (3, 32, 32), (32, 128))]:
        for batch in batches:
            print(json.dumps({'model': label, 'torch': steps(make(), shape, batch, a.steps, a.device)}), flush=True)

if __name__ == '__main__':
    main()
