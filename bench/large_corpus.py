"""Peak memory of `pytrnn train` on a large text (default 100 MB).

Writes the text (pydoc's topics repeated) to a temp folder, starts a real training
run, lets it train for a few seconds after compiling, stops it with SIGINT (which
saves a checkpoint) and prints the child's peak RSS.

    python bench/large_corpus.py [--mb 100] [--train-seconds 10]
"""

import argparse
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytrnn.data import pydoc_text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=100)
    ap.add_argument("--train-seconds", type=float, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        text = pydoc_text()
        reps = int(args.mb * 1e6 / len(text.encode())) + 1
        path = Path(d) / "big.txt"
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(reps):
                f.write(text)
        size = path.stat().st_size
        t0 = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "train", "--corpus", str(path), "--passes", "1",
             "--checkpoint", str(Path(d) / "m.npz")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            print(line.rstrip())
            if line.startswith("compiled"):
                break
        ready = time.time() - t0
        time.sleep(args.train_seconds)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=300)[0]
        print(rest.strip().splitlines()[-1] if rest.strip() else "")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"text {size / 1e6:.1f} MB; load+encode+compile {ready:.1f} s; "
              f"peak RSS {peak_mb:.0f} MB (exit {proc.returncode})")


if __name__ == "__main__":
    main()
