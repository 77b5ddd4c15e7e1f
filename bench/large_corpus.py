"""Peak memory of `pytrnn train` on a large text (default 100 MB).

Writes the text (pydoc's topics repeated) to a temp folder, starts a real training
run, lets it train for a few seconds after compiling, stops it with SIGINT (which
saves a checkpoint) and prints the child's peak RSS. With ``--limit-chars N`` it
trains on the text's first N chars, and runs the same on a file of just those N
chars, so the two peaks say whether the limit reads only a prefix.

    python bench/large_corpus.py [--mb 100] [--train-seconds 10] [--limit-chars N]
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytrnn.data.corpora import pydoc_text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--train-seconds", type=float, default=10)
    ap.add_argument("--limit-chars", type=int, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        text = pydoc_text()
        reps = int(args.mb * 1e6 / len(text.encode())) + 1
        path = Path(d) / "big.txt"
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(reps):
                f.write(text)
        size = path.stat().st_size
        limit = (
            [] if args.limit_chars is None else ["--limit-chars", str(args.limit_chars)]
        )
        big = peak(path, Path(d) / "m.npz", limit, args.train_seconds)
        print(
            f"text {size / 1e6:.1f} MB{' ' + ' '.join(limit) if limit else ''}: {big}"
        )
        if limit:
            small = Path(d) / "prefix.txt"
            small.write_text(
                text * (args.limit_chars // len(text) + 1), encoding="utf-8"
            )
            print(
                f"a file of {small.stat().st_size / 1e6:.1f} MB, the same "
                f"--limit-chars: {peak(small, Path(d) / 's.npz', limit, args.train_seconds)}"
            )


def peak(path, ckpt, extra, train_seconds) -> str:
    """Train on ``path`` until compiled + train_seconds, SIGINT; the child's peak RSS."""
    t0 = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytrnn.cli",
            "train",
            "--corpus",
            str(path),
            "--passes",
            "100",
            "--checkpoint",
            str(ckpt),
            "--sample-length",
            "0",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        print(line.rstrip())
        if line.startswith("compiled"):
            break
    ready = time.time() - t0
    time.sleep(train_seconds)
    os.kill(proc.pid, signal.SIGINT)  # not send_signal: its poll() would reap the child
    rest = proc.stdout.read()
    print(rest.strip().splitlines()[-1] if rest.strip() else "")
    _, status, usage = os.wait4(
        proc.pid, 0
    )  # this child's own peak, not the max of all
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (
        f"load+encode+compile {ready:.1f} s; peak RSS {usage.ru_maxrss / 1024:.0f} MB "
        f"(exit {proc.returncode})"
    )


if __name__ == "__main__":
    main()
