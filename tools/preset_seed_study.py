#!/usr/bin/env python3
"""Seed study of candidate classroom presets with the native CLI: for each candidate, seeds 0-9,
whether the paper's FCN pattern shows (layer1 reset to checkpoint 0 adds more than the 5-point
threshold, layers 2-4 add at most 5 points), with the margins. Used to choose `quick`.

    python3 tools/preset_seed_study.py [path/to/layerlab] [mnist dir]
"""
import json
import os
import subprocess
import sys
import tempfile

CLI = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/layerlab/target/release/layerlab")
DATA = sys.argv[2] if len(sys.argv) > 2 else "data/mnist"
THRESHOLD = 0.05
CANDIDATES = {
    "quick before (lr 0.01, 20k, 2 epochs)": ["--preset", "quick", "--lr", "0.01"],
    "lr 0.01, 20k, 3 epochs": ["--preset", "quick", "--lr", "0.01", "--epochs", "3", "--checkpoints", "0,1,3"],
    "lr 0.02, 30k, 2 epochs": ["--preset", "quick", "--lr", "0.02", "--train-limit", "30000"],
    "lr 0.02, 20k, 3 epochs": ["--preset", "quick", "--lr", "0.02", "--epochs", "3", "--checkpoints", "0,1,3"],
    "quick now (lr 0.05, 20k, 2 epochs)": ["--preset", "quick"],
}


def run(args, seed):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([CLI, "run", "--data", DATA, "--quiet", "--out", out.name, "--seed", str(seed)] + args,
                       check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(out.name))
    base = r["final_test_error"]
    rise = [row[0] - base for row in r["robustness"]["reinitialized"]]
    seconds = r["timing"]["train_seconds"] + r["timing"]["sweep_seconds"]
    return base, rise[0], max(rise[1:]), min(r["robustness"]["rerandomized"]), seconds


print("| candidate | paper pattern | trained error (mean) | layer1 rise (lowest) | layers 2-4 rise (highest) | ReRnd (lowest) | native s/run |")
print("|---|---|---|---|---|---|---|")
for name, args in CANDIDATES.items():
    rows = [run(args, seed) for seed in range(10)]
    ok = sum(1 for _, l1, rest, _, _ in rows if l1 > THRESHOLD and rest <= THRESHOLD)
    print(f"| {name} | {ok} of 10 | {100 * sum(r[0] for r in rows) / 10:.1f}% | +{100 * min(r[1] for r in rows):.1f} "
          f"| +{100 * max(r[2] for r in rows):.1f} | {100 * min(r[3] for r in rows):.1f}% | {sum(r[4] for r in rows) / 10:.1f} |",
          flush=True)
