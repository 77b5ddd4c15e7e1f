"""Execute notebooks in place at the full budget, as they are committed:

    python notebooks/execute.py 01_char_rnn_reproduction.ipynb [...]

Runs in this folder (runs/ lands here, ignored by git) with nbclient, which the
[test] extras install.
"""

import os
import sys
import time
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
os.environ.pop("PYTRNN_BUDGET", None)  # the kernel inherits it: full budget here

for name in sys.argv[1:] or sorted(p.name for p in HERE.glob("*.ipynb")):
    path = HERE / name
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    nbclient.NotebookClient(
        nb,
        timeout=3600,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
    ).execute()
    nbformat.write(nb, path)
    print(f"{name}: {time.time() - t0:.0f} s")
