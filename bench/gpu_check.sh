#!/usr/bin/env bash
# The project's GPU check, for a borrowed GPU machine (see the device tool; ~15 min a
# session). Prepare here with bench/fetch_gpu_wheels.sh, then run with .whl carried:
#   bash bench/gpu_check.sh
# It installs PyTensor from the carried wheels, prints `pytrnn info`, runs the tests
# that compare backends (JAX on the GPU against C, Numba and numpy), and times
# training on the GPU against the CPU, at the char level and at the word level
# (V = 8,003, batch 64 float32, both layouts, sentences also fused). Finishes within 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -m cli info 2>&1 | tee "$OUT/info.txt"
timeout 150 python3 -m pytest -q -x -p no:cacheprovider tests/runtime/test_backends.py \
  tests/graphs/test_reference.py 2>&1 | tail -15 | tee "$OUT/tests.txt"
timeout 120 python3 - <<'PY' 2>&1 | tee "$OUT/throughput.txt"
import time, numpy as np, pytrnn
from pytrnn.data.corpora import load_corpus, Vocab
_, text = load_corpus(None)
vocab = Vocab.from_text(text)
data = vocab.encode(text).astype(np.int32)
for device in ("gpu", "cpu"):
    for batch, dtype in ((1, "float64"), (64, "float32"), (256, "float32")):
        cfg = pytrnn.RNNConfig(vocab_size=vocab.size, dtype=dtype)
        m = pytrnn.RNN(cfg, mode="scan", device=device)  # the CLI default
        S = len(data) // batch
        streams = data[: S * batch].reshape(batch, S)
        K, steps = 32, 320  # windows per call (one lax.scan on JAX), windows timed
        offs = (np.arange(steps)[:, None] * 25) + np.arange(25)[None, :]
        X = streams[:, offs].transpose(1, 2, 0); Y = streams[:, offs + 1].transpose(1, 2, 0)
        if batch == 1:
            X, Y = X[..., 0], Y[..., 0]
        t0 = time.perf_counter(); m.train_windows(X[:K], Y[:K], wmask=np.zeros(K)); c = time.perf_counter() - t0
        t0 = time.perf_counter()
        for k in range(0, steps, K):
            losses, _ = m.train_windows(X[k:k + K], Y[k:k + K])
        float(losses[-1]); dt = time.perf_counter() - t0
        print(f"{device} batch {batch} {dtype}: {steps * 25 * batch / dt:,.0f} chars/s "
              f"(compile {c:.1f} s, device {m.device}, storage {type(m.params['Whh'].get_value(borrow=True)).__name__})")
PY
timeout 190 python3 - <<'PY' 2>&1 | tee "$OUT/words.txt"
# the word level at V = 8,003, H = 100, batch 64 float32, both layouts, GPU then CPU
import tempfile
from pathlib import Path
from pytrnn.bench.words import FUSE, Setting, pytrnn_row, synthetic_text
with tempfile.TemporaryDirectory() as d:
    path = Path(d) / "words.txt"
    text = synthetic_text(300_000, distinct=24_000, glossary=8_100)
    path.write_text(text)
    for device in ("gpu", "cpu"):
        for s in (Setting("stream", 64, "float32"), Setting("sentences", 64, "float32"),
                  Setting("sentences", 64, "float32", FUSE)):
            r = pytrnn_row(path, s, len(text), 100, 8000, "jax", device)
            print(f"{device} words {r.name}: {r.chars_per_s:,.0f} words/s "
                  f"(compile {r.compile_s:.1f} s, device {r.note})")
PY
echo "gpu_check done"
