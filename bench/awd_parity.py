"""AWD-LSTM's recipe beside word_language_model's (tied) on one folder, pytrnn
both, the same epochs: per epoch the validation perplexity and seconds, then the
test perplexity, and for each model the neural cache tuned on valid only (``pytrnn
tune``'s grid over W, theta, lambda, as AWD tuned pointer.py) and applied once to test.

    python bench/awd_parity.py ../shared/corpora/wikitext2-valid --epochs 6 \\
        --awd-overrides "--emsize 200 --hidden 400 --batch 20"

``--awd-overrides`` scale ``--recipe awd-lstm`` down to fit this machine; they are
printed, and apply to every AWD row (the cache rows score the same checkpoint).
A benchmark, not a test: it prints what it finds, whichever way it goes.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train(data, recipe, extra, epochs, work, name) -> dict:
    ckpt, log = work / f"{name}.npz", work / f"{name}.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "pytrnn.cli",
        "train",
        "--recipe",
        recipe,
        "--corpus",
        str(data),
        "--passes",
        str(epochs),
        "--checkpoint",
        str(ckpt),
        "--log",
        str(log),
        "--sample-length",
        "0",
        "--overwrite",
        *extra,
    ]
    print("  $ pytrnn " + " ".join(shlex.quote(c) for c in cmd[3:]), flush=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"pytrnn failed ({p.returncode}):\n{p.stderr[-3000:]}")
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    recs = [r for r in recs if "pass" in r]  # the run's own line first
    test = re.search(r"test \(pass (\d+)\): loss/word=([\d.]+)", p.stdout)
    switched = [
        line for line in p.stdout.splitlines() if "switching to averaged" in line
    ]
    return {
        "epochs": recs,
        "test_ppl": math.exp(float(test.group(2))),
        "test_pass": int(test.group(1)),
        "wall": wall,
        "checkpoint": ckpt,
        "switched": switched,
    }


def cache_rows(ckpt: Path, data: Path) -> dict:
    """The cache tuned on valid over ``pytrnn tune``'s grid (pytrnn.tools.tune,
    the cache only), then test with the best and without."""
    from pytrnn.runtime.dynamic import Dynamic
    from pytrnn.tools.tune import Grid, tune

    t0 = time.perf_counter()
    grid = Grid(dynamic=False)
    rows, _ = tune(ckpt, data / "valid.txt", data / "test.txt", grid, Dynamic(0.0),
                   say=lambda line: None)  # fmt: skip
    static, cache = rows
    return {
        "valid": math.exp(static.valid),
        "valid_cache": math.exp(cache.valid),
        "W": cache.cache.window,
        "theta": cache.cache.theta,
        "lambda": cache.cache.lam,
        "test": math.exp(static.test),
        "test_cache": math.exp(cache.test),
        "tune_s": time.perf_counter() - t0 - static.seconds - cache.seconds,
        "test_cache_s": cache.seconds,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--awd-overrides", default="--emsize 200 --hidden 400 --batch 20")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    awd_extra = shlex.split(a.awd_overrides)
    print(f"AWD-LSTM overrides, every AWD row: {a.awd_overrides}; epochs: {a.epochs}")
    out = {"overrides": a.awd_overrides, "epochs": a.epochs}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = {
            "awd-lstm": train(a.data, "awd-lstm", awd_extra, a.epochs, work, "awd"),
            "wlm --tied": train(a.data, "wlm", ["--tied"], a.epochs, work, "wlm"),
        }
        for name, r in runs.items():
            print(f"{name}:")
            for e in r["epochs"]:
                print(
                    f"  epoch {e['pass']}: valid ppl {e['val_ppl']:8.2f}  "
                    f"{e['seconds']:6.1f} s training + {e.get('score_seconds', 0):.1f} s "
                    f"validation, {e['words_per_s']:,.0f} tokens/s"
                )
            for line in r["switched"]:
                print("  " + line)
            c = cache_rows(r["checkpoint"], a.data)
            r["cache"] = c
            print(
                f"  test ppl {c['test']:.2f} (best pass {r['test_pass']}); with the cache "
                f"tuned on valid (W {c['W']}, theta {c['theta']}, lambda {c['lambda']}: "
                f"valid {c['valid']:.2f} -> {c['valid_cache']:.2f}): test "
                f"{c['test_cache']:.2f}  ({c['tune_s']:.0f} s to tune, "
                f"{c['test_cache_s']:.1f} s for test)"
            )
            del r["checkpoint"]
        out["runs"] = runs
    awd, wlm = runs["awd-lstm"], runs["wlm --tied"]
    print(
        f"AWD-LSTM below wlm --tied at {a.epochs} epochs: valid "
        f"{awd['epochs'][-1]['val_ppl']:.2f} vs {wlm['epochs'][-1]['val_ppl']:.2f}, test "
        f"{awd['cache']['test']:.2f} vs {wlm['cache']['test']:.2f}; the cache on test: "
        f"{awd['cache']['test']:.2f} -> {awd['cache']['test_cache']:.2f} (AWD), "
        f"{wlm['cache']['test']:.2f} -> {wlm['cache']['test_cache']:.2f} (wlm)"
    )
    if a.out:
        a.out.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
