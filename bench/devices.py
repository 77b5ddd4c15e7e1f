"""Throughput with 1 and 2 forced host devices (XLA_FLAGS), batch 32: python bench/devices.py"""

import os
import time

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import numpy as np

import pytrnn
from pytrnn.data.corpora import Vocab, load_corpus

_, t = load_corpus(None)
v = Vocab.from_text(t)
d = v.encode(t).astype(np.int32)
B, K = 32, 16
S = len(d) // B
streams = d[: S * B].reshape(B, S)
offs = (np.arange(K * 8)[:, None] * 25) + np.arange(25)[None, :]
X = streams[:, offs].transpose(1, 2, 0)
Y = streams[:, offs + 1].transpose(1, 2, 0)
for n in (1, 2):
    m = pytrnn.RNN(pytrnn.RNNConfig(vocab_size=v.size), mode="unroll", devices=n)
    t0 = time.time()
    m.train_windows(X[:K], Y[:K], wmask=np.zeros(K))
    c = time.time() - t0
    t0 = time.time()
    for k in range(0, len(X), K):
        m.train_windows(X[k : k + K], Y[k : k + K])
    print(
        f"devices {n}: {len(X) * 25 * B / (time.time() - t0):,.0f} chars/s (batch {B} float64 unroll fuse {K}; compile {c:.1f} s)"
    )
