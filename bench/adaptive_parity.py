"""The adaptive softmax beside the full one, ``pytrnn train --recipe wlm``, on a
corpus of about 14K types (the WikiText-2 cut) and one of about 33K (synthetic,
Zipf's law), the same epochs and seed: words/s, validation and test perplexity,
peak RSS; then the peak RSS alone at 267K types (WikiText-103's count, synthetic),
each run stopped after its first minute of training.

    python bench/adaptive_parity.py ../shared/corpora/wikitext2-valid --epochs 2

Cutoffs by the paper's rule of thumb (bench.words.coverage_cutoffs): the head
holds the most frequent words up to 80% of the training tokens, the first cluster
up to 95%. A benchmark, not a test: it prints what it finds.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np


def synthetic_folder(
    folder: Path, types: int, train_tokens: int, seed: int = 0
) -> Path:
    """train/valid/test.txt of whitespace tokens (lines of 4 to 30) drawn by Zipf's
    law from a lexicon of ``types`` words, the training text opening with every one
    of them once (so the vocabulary has ``types`` words)."""
    from pytrnn.bench.words import lexicon

    lex = np.array(lexicon(types))
    p = 1.0 / np.arange(1, types + 1)
    p /= p.sum()
    folder.mkdir(parents=True, exist_ok=True)
    for name, n, s in (
        ("train", train_tokens, seed),
        ("valid", train_tokens // 8, seed + 1),
        ("test", train_tokens // 8, seed + 2),
    ):
        rng = np.random.default_rng(s)
        ids = rng.choice(types, size=n, p=p)
        lines = (
            [" ".join(lex[k : k + 25]) for k in range(0, types, 25)]
            if name == "train"
            else []
        )
        i = 0
        while i < n:
            k = int(rng.integers(4, 31))
            lines.append(" ".join(lex[ids[i : i + k]]))
            i += k
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def cutoffs_for(folder: Path) -> tuple[str, int]:
    """(cutoffs, types) of a folder's training text read as data.Corpus reads it."""
    from pytrnn.bench.words import coverage_cutoffs

    counts = Counter()
    with open(folder / "train.txt", encoding="utf-8") as f:
        for line in f:
            counts.update(line.split() + ["<eos>"])
    return coverage_cutoffs(list(counts.values())), len(counts)


RSS_PROBE = r"""
import resource, subprocess, sys, threading, time
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
limit, out, trained = float(sys.argv[1]), [], []

def watchdog():  # the first minute of training, whatever the output does
    while p.poll() is None:
        if limit and trained and time.monotonic() - trained[0] > limit:
            p.kill()
        time.sleep(0.5)

threading.Thread(target=watchdog, daemon=True).start()
for line in p.stdout:
    out.append(line)
    if line.startswith("compiled"):
        trained.append(time.monotonic())
p.wait()
print("".join(out))
print("PEAK_RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run(folder, epochs, adaptive, cutoffs, work, name, stop_after=0.0) -> dict:
    ckpt, log = work / f"{name}.npz", work / f"{name}.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "pytrnn.cli",
        "train",
        "--recipe",
        "wlm",
        "--corpus",
        str(folder),
        "--passes",
        str(epochs),
        "--checkpoint",
        str(ckpt),
        "--log",
        str(log),
        "--sample-length",
        "0",
        "--overwrite",
        "--seed",
        "1111",
    ]
    if adaptive:
        cmd += ["--softmax", "adaptive", "--cutoffs", cutoffs]
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(stop_after), *cmd],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    rss = int(re.search(r"PEAK_RSS_KB (\d+)", p.stdout).group(1)) / 1024
    out = {"rss_mb": rss, "wall": wall}
    if stop_after:
        return out
    if not log.exists():
        sys.exit(f"pytrnn failed:\n{p.stdout[-3000:]}")
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    recs = [r for r in recs if "pass" in r]  # the run's own line first
    test = re.search(r"test \(pass \d+\): loss/word=([\d.]+)", p.stdout)
    out.update(
        epochs=[
            {k: r[k] for k in ("pass", "val_ppl", "seconds", "words_per_s")}
            for r in recs
        ],
        test_ppl=math.exp(float(test.group(1))),
    )
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--only", default="14k,33k,267k", help="which corpora to run")
    a = ap.parse_args()
    only = set(a.only.split(","))
    from pytrnn.bench.grid import matmul_peak_gflops

    peak = matmul_peak_gflops(2048)
    print(f"float32 matmul peak here: {peak:.0f} GFLOP/s")
    results = {"peak_gflops": peak, "corpora": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folders = ([a.data] if "14k" in only else []) + (
            [synthetic_folder(work / "zipf33k", 33_278, 300_000)]
            if "33k" in only
            else []
        )
        for folder in folders:
            cuts, types = cutoffs_for(folder)
            print(f"{folder.name}: {types:,} types, cutoffs {cuts}")
            rows = {}
            for adaptive in (False, True):
                name = "adaptive" if adaptive else "full"
                r = run(folder, a.epochs, adaptive, cuts, work, f"{folder.name}-{name}")
                rows[name] = r
                for e in r["epochs"]:
                    print(
                        f"  {name:8s} epoch {e['pass']}: {e['words_per_s']:8,.0f} words/s, "
                        f"valid ppl {e['val_ppl']:9.2f}"
                    )
                print(
                    f"  {name:8s} test ppl {r['test_ppl']:.2f}, peak RSS {r['rss_mb']:,.0f} MB"
                )
            f, ad = rows["full"], rows["adaptive"]
            speed = ad["epochs"][-1]["words_per_s"] / f["epochs"][-1]["words_per_s"]
            ppl = ad["epochs"][-1]["val_ppl"] / f["epochs"][-1]["val_ppl"]
            print(
                f"  adaptive / full: {speed:.2f}x the words/s, {ppl:.3f}x the valid ppl"
            )
            results["corpora"].append(
                {
                    "name": folder.name,
                    "types": types,
                    "cutoffs": cuts,
                    "rows": rows,
                    "speed": speed,
                    "ppl_ratio": ppl,
                }
            )
        if "267k" in only:
            big = synthetic_folder(work / "zipf267k", 267_735, 400_000)
            cuts, types = cutoffs_for(big)
            print(f"{big.name}: {types:,} types, cutoffs {cuts} (peak RSS only)")
            for adaptive in (False, True):
                name = "adaptive" if adaptive else "full"
                r = run(big, 1, adaptive, cuts, work, f"big-{name}", stop_after=60.0)
                print(f"  {name:8s} peak RSS {r['rss_mb']:,.0f} MB")
                results[f"rss_267k_{name}_mb"] = r["rss_mb"]
    if a.out:
        a.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
