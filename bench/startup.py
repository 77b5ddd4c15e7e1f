"""Word-level start-up: seconds from the command to the "compiled" line.

    python bench/startup.py          # warm: run twice, quote the second
    PYTENSOR_FLAGS=base_compiledir=/tmp/empty python bench/startup.py   # cold: the first

300,000 chars of the word bench's text (V = 8,003), `pytrnn train --level word` in
the sentence layout and in the stream layout at batch 20, each run twice.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytrnn.bench.words import synthetic_text

d = Path(tempfile.mkdtemp())
corpus = d / "words.txt"
corpus.write_text(synthetic_text(120_000, glossary=8100), encoding="utf-8")
for extra in ([], ["--layout", "stream", "--batch", "20"]):
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytrnn.cli",
                "train",
                "--corpus",
                str(corpus),
                "--level",
                "word",
                "--passes",
                "1",
                "--limit-chars",
                "300000",
                "--sample-length",
                "0",
                "--checkpoint",
                str(d / "w.npz"),
                "--overwrite",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for line in proc.stdout:
            if line.startswith("compiled"):
                print(
                    " ".join(extra) or "sentences",
                    f"{time.perf_counter() - t0:.1f} s to: {line.strip()}",
                )
                break
        proc.kill()
        proc.wait()
