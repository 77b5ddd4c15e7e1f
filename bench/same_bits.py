"""The notebook's default, bit for bit, across a change: train it on every backend
and mode, per window and fused, in a source tree (this one, or a ``git worktree``
of an older commit), keep the final parameters, and compare two such files.

    git worktree add /tmp/before <commit>
    python bench/same_bits.py --tree /tmp/before --out /tmp/before.npz
    python bench/same_bits.py --tree . --out /tmp/after.npz
    python bench/same_bits.py --compare /tmp/before.npz /tmp/after.npz

Each run is ``pytrnn train`` with the notebook's defaults (tanh, H = 100, window 25,
SGD lr 0.01, L2 0.01, clip 5, float64) on the first 3,000 chars of the embedded
corpus for one pass (the word level: 20,000 chars, 4 sentences a step; then an AWD-LSTM
run with every regularizer and an adaptive-softmax run, each a stream of 4); the tree's own CLI runs it (``cli`` before the CLI moved into
the package, ``pytrnn.cli`` after).
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RUNS = [  # (backend, mode, fuse or None for the default, level)
    ("jax", "unroll", None, "char"),
    ("jax", "scan", None, "char"),
    ("jax", "unroll", 1, "char"),
    ("jax", "scan", 1, "char"),
    ("numba", "unroll", None, "char"),
    ("numba", "scan", None, "char"),
    ("numba", "scan", 4, "char"),
    ("c", "unroll", None, "char"),
    ("c", "scan", None, "char"),
    ("c", "scan", 4, "char"),
    # the word level's defaults: sentences one step each, and fused groups on JAX
    ("jax", "scan", None, "word"),
    ("jax", "scan", 4, "word"),
    ("c", "scan", None, "word"),
    # AWD-LSTM's regularizers, every one on, with variable BPTT and NT-ASGD switching to
    # the average at pass 5; and the adaptive softmax (a word stream, batch 4)
    ("jax", "scan", None, "awd"),
    ("jax", "scan", None, "adaptive"),
]
# the options of the two runs that are not the word level's defaults
EXTRA = {
    "awd": [
        "--layout",
        "stream",
        "--cell",
        "lstm",
        "--layers",
        "2",
        "--emsize",
        "32",
        "--hidden",
        "32",
        "--window",
        "10",
        "--dropouti",
        ".2",
        "--dropouth",
        ".2",
        "--dropouto",
        ".2",
        "--dropoute",
        ".1",
        "--wdrop",
        ".2",
        "--ar",
        "2",
        "--tar",
        "1",
        "--wdecay",
        "1e-6",
        "--locked-dropout",
        "--variable-bptt",
        "--nt-asgd",
        "1",
        "--lr",
        "30",
        "--clip-norm",
        ".25",
        "--loss-scale",
        "token",
        "--passes",
        "5",
        "--val-frac",
        ".1",
    ],
    "adaptive": [
        "--layout",
        "stream",
        "--softmax",
        "adaptive",
        "--cutoffs",
        "100,300",
        "--hidden",
        "32",
        "--window",
        "10",
    ],
}


def name(backend, mode, fuse, level="char") -> str:
    return f"{level}-{backend}-{mode}-fuse{fuse or 'default'}".removeprefix("char-")


def train_all(
    tree: Path, out: Path, backends=("jax", "numba", "c"), levels=("char", "word")
) -> None:
    cli = "pytrnn.cli" if (tree / "pytrnn" / "cli").exists() else "cli"
    arrays = {}
    with tempfile.TemporaryDirectory() as d:
        for backend, mode, fuse, level in [
            r for r in RUNS if r[0] in backends and r[3] in levels
        ]:
            run = name(backend, mode, fuse, level)
            ckpt = Path(d) / f"{run}.npz"
            size = (
                ["--limit-chars", "3000"]
                if level == "char"
                else ["--level", "word", "--limit-chars", "20000", "--batch", "4"]
            )
            cmd = [
                sys.executable,
                "-m",
                cli,
                "train",
                *size,
                "--passes",
                "1",
                *EXTRA.get(level, []),
                "--backend",
                backend,
                "--mode",
                mode,
                "--sample-length",
                "0",
                "--checkpoint",
                str(ckpt),
            ] + ([] if fuse is None else ["--fuse", str(fuse)])
            r = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"{run} failed:\n{r.stderr[-2000:]}")
            print(run, r.stdout.strip().splitlines()[-1], flush=True)
            with np.load(ckpt, allow_pickle=False) as z:
                for k in z.files:
                    if k != "meta":
                        arrays[f"{run}/{k}"] = z[k]
    np.savez(out, **arrays)


def compare(a: Path, b: Path) -> int:
    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        keys = sorted(set(za.files) & set(zb.files))  # the runs both files hold
        differ = [
            k
            for k in keys
            if za[k].dtype != zb[k].dtype or za[k].tobytes() != zb[k].tobytes()
        ]
    runs = sorted({k.split("/")[0] for k in keys})
    print(
        f"{len(keys)} arrays over {len(runs)} runs: "
        f"{len(keys) - len(differ)} bitwise equal, {len(differ)} differ"
    )
    for k in differ:
        print("  differs:", k)
    return 1 if differ else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", type=Path, default=Path("."))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path, nargs=2)
    ap.add_argument("--backends", default="jax,numba,c", help="comma-separated")
    ap.add_argument(
        "--levels", default="char,word,awd,adaptive", help="comma-separated"
    )
    args = ap.parse_args()
    if args.compare:
        return compare(*args.compare)
    train_all(
        args.tree.resolve(),
        args.out,
        tuple(args.backends.split(",")),
        tuple(args.levels.split(",")),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
