"""Ctrl-C while compiling, many times over: every try must exit 130 and write
nothing (no checkpoint, no lock file), wherever the interrupt lands, JAX's gc
callback included, which swallows the KeyboardInterrupt raised inside it.

Each try starts ``pytrnn train`` with a fresh PyTensor compile folder (so compiling
takes seconds), waits for the line printed just before compiling, sleeps a random
fraction of the compile time and sends SIGINT.

    python bench/interrupt_compile.py [--tries 20] [--seed 0]
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "train",
    "--mode",
    "unroll",
    "--hidden",
    "8",
    "--window",
    "40",
    "--limit-chars",
    "3000",
    "--passes",
    "1",
    "--sample-length",
    "0",
]


def one_try(folder: Path, delay: float) -> tuple[int, bool, bool, bool, str]:
    """(exit code, reached 'compiled', left any file, the interrupt was swallowed
    by a callback, last stderr line)."""
    ckpt = folder / "m.npz"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTENSOR_FLAGS": f"base_compiledir={folder / 'pt'}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytrnn.cli", *ARGS, "--checkpoint", str(ckpt)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in proc.stdout:
        if line.startswith("corpus "):  # printed just before compiling
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    left = [p.name for p in folder.iterdir() if p.name != "pt"]
    return (
        proc.returncode,
        "compiled" in out,
        bool(left),
        "Exception ignored" in err,
        (err.strip().splitlines() or [""])[-1],
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--max-delay",
        type=float,
        default=2.0,
        help="seconds after the line before compiling, at most",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    ok = swallowed = 0
    for i in range(args.tries):
        with tempfile.TemporaryDirectory() as d:
            delay = rng.uniform(0, args.max_delay)
            code, compiled, left, ignored, last = one_try(Path(d), delay)
        good = code == 130 and not left and not compiled
        ok += good
        swallowed += ignored
        print(
            f"try {i + 1:2d}: SIGINT {delay:.2f} s into compiling -> exit {code}, "
            f"{'reached training' if compiled else 'stopped in compile'}, "
            f"{'files left' if left else 'nothing written'}"
            f"{', a callback swallowed the interrupt' if ignored else ''}: {last}"
        )
    print(
        f"{ok} of {args.tries} tries exited 130 while compiling and wrote nothing "
        f"({swallowed} of them had the KeyboardInterrupt swallowed by a callback)"
    )
    return 0 if ok == args.tries else 1


if __name__ == "__main__":
    sys.exit(main())
