#!/usr/bin/env python3
"""Where SwiftShader's JIT time goes: maps `perf` samples onto the JIT code copied out of
Chromium's GPU process (bench/swiftshader-profile.mjs writes both) and prints, per code region,
its share of the samples and its hottest loops (found by their back edges) with what the
instructions are: multiply-adds, gathers (per-lane loads and inserts), masking, stack stores and
loads. Needs objdump.
    python3 bench/swiftshader-profile.py DIR
"""
import collections
import glob
import os
import re
import subprocess
import sys

KIND = {
    'mulps': 'fma', 'addps': 'fma', 'insertps': 'gather', 'pextrd': 'gather', 'movss': 'gather',
    'pinsrd': 'gather', 'movslq': 'gather', 'pand': 'mask', 'por': 'mask', 'pxor': 'mask',
    'pandn': 'mask', 'pcmpgtd': 'mask', 'pcmpeqd': 'mask', 'idiv': 'divide', 'cltd': 'divide',
}


def kind(text):
    mnemonic = text.split()[0]
    if mnemonic in ('movups', 'movaps'):
        target = text.split(',')[-1].strip()
        return 'stack store' if target.endswith(')') else ('stack load' if '(' in text else 'move')
    return KIND.get(mnemonic, 'other')


def main(folder):
    samples = collections.Counter(int(line, 16) for line in open(os.path.join(folder, 'ips.txt')) if line.strip())
    regions = []
    for path in glob.glob(os.path.join(folder, 'jit-*.bin')):
        base = int(os.path.basename(path)[4:-4], 16)
        regions.append((base, base + os.path.getsize(path), path))
    total = sum(samples.values())
    in_region = collections.Counter()
    for ip, n in samples.items():
        for lo, hi, path in regions:
            if lo <= ip < hi:
                in_region[path] += n
                break
    print(f'{total} samples in JIT code, {sum(in_region.values())} inside the copied regions')
    for path, n in in_region.most_common(6):
        if n < total * 0.02:
            break
        base = int(os.path.basename(path)[4:-4], 16)
        listing = subprocess.run(['objdump', '-D', '-b', 'binary', '-m', 'i386:x86-64', f'--adjust-vma={base:#x}', path],
                                 capture_output=True, text=True, check=True).stdout
        code = []
        for line in listing.splitlines():
            m = re.match(r'\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*(.*)', line)
            if m and m.group(3):
                code.append((int(m.group(1), 16), m.group(3)))
        print(f'\n{os.path.basename(path)}: {100 * n / total:.1f}% of the samples')
        loops = []
        for address, text in code:
            m = re.match(r'j\w+\s+0x([0-9a-f]+)', text)
            if m and int(m.group(1), 16) < address - 500:
                start = int(m.group(1), 16)
                loops.append((sum(v for ip, v in samples.items() if start <= ip <= address), start, address))
        for hits, start, end in sorted(loops, reverse=True)[:3]:
            body = [(a, t) for a, t in code if start <= a <= end]
            static = collections.Counter(t.split()[0] for _, t in body)
            weight = collections.Counter()
            for a, t in body:
                weight[kind(t)] += samples.get(a, 0)
            mix = ', '.join(f'{k} {100 * v / max(hits, 1):.0f}%' for k, v in weight.most_common(6))
            print(f'  loop {start:#x}-{end:#x}: {100 * hits / total:.1f}% of the samples, {len(body)} instructions '
                  f'({static["mulps"]} mulps, {static["insertps"]} insertps); samples: {mix}')


if __name__ == '__main__':
    main(sys.argv[1])
