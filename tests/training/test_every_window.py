"""``--every-window`` (the wlm and AWD recipes): a stream's every window as
word_language_model's ``get_batch`` cuts it, the last one shorter, trained as a chunk
of its own length. The notebook's rule stays the default."""

import numpy as np
import pytest
from numpy_cells import init, loss_and_grads, opt_step

import pytrnn
from pytrnn.data.batches import window_chunks, window_starts
from pytrnn.training.windows import Windows

D, H, L, B = 7, 4, 5, 2


def get_batch_windows(n, bptt):
    """main.py's loop, transcribed: ``for i in range(0, len(source) - 1, bptt)``,
    ``seq_len = min(bptt, len(source) - 1 - i)``."""
    return [(i, min(bptt, n - 1 - i)) for i in range(0, n - 1, bptt)]


@pytest.mark.parametrize("n", [6, 11, 12, 13, 16, 36, 71, 72, 80])
def test_every_window_is_get_batchs(n):
    starts = window_starts(n, L, every=True)
    assert [(int(i), min(L, n - 1 - int(i))) for i in starts] == get_batch_windows(n, L)
    notebook = window_starts(n, L)  # i + 1 + L >= n ends a pass
    assert all(i + 1 + L < n for i in notebook[1:])
    assert set(notebook) <= set(starts) and (len(notebook) < len(starts)) == (n > L + 1)


@pytest.mark.parametrize("fuse", [1, 2, 4])
def test_the_batcher_scores_every_target_once(fuse):
    """Every target token of every stream is in exactly one real window, the
    shorter last one a chunk of its own; weight-0 copies pad only full chunks."""
    ids = np.arange(B * 23) % D  # streams of 23: windows 0, 5, 10, 15 and one of 2
    cfg = pytrnn.TrainConfig(level="word", layout="stream", batch=B, fuse=fuse,
                             every_window=True)  # fmt: skip
    w = Windows(cfg, pytrnn.RNNConfig(window=L), ids, "words", "jax")
    assert "4 windows of 5 and one of 2" in w.line()

    class M:
        cfg = pytrnn.RNNConfig(window=L)

    order, seen, units = w.order(0), [], 0
    for j in range(0, len(order), w.chunk):
        for c in w.chunks(M, order, j, min(w.chunk, len(order) - j)):
            real = c.weights > 0
            seen += list(np.asarray(c.Y)[real].ravel())
            units += sum(c.units)
    assert units == B * 22 and len(seen) == B * 22
    assert sorted(seen) == sorted(np.concatenate([s[1:] for s in w.streams]))


def test_the_shorter_window_trains_wlms_step():
    """Two full windows fused in one call, then the shorter one: each step is torch's
    on the mean over its own tokens (5 x 2, then 3 x 2), norm-clipped, with two
    biases; against numpy, window by window."""
    rng = np.random.default_rng(3)
    S = 2 * L + 4  # starts 0, 5, 10: the last has 3 steps
    streams = rng.integers(0, D, (B, S))
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=L, cell="lstm", lr=0.5,
                           reg=0.0, clip=0.0, clip_norm=0.5, loss_scale="token",
                           two_biases=True)  # fmt: skip
    m = pytrnn.RNN(cfg, mode="scan", backend="jax")
    P = init("lstm", 1, D, H, rng, two=True)
    m.set_params(P)
    starts = window_starts(S, L, every=True)
    chunks = window_chunks(streams, starts, L, 2, True, cfg.dtype)
    assert [np.shape(c.X) for c in chunks] == [(2, L, B), (1, 3, B)]
    losses = [float(v) for c in chunks for v in m.train(c)[0]]
    want = []
    for i in starts:
        n = min(L, S - 1 - i)
        parts = [loss_and_grads("lstm", 1, P, s[i : i + n], s[i + 1 : i + 1 + n], 0.0,
                                scale=1 / (n * B)) for s in streams]  # fmt: skip
        g = {k: sum(p[2][k] for p in parts) for k in P}
        want.append(sum(p[1] for p in parts) / (n * B))
        P = opt_step("sgd", P, g, {}, 0.5, 0.0, clip_norm=0.5)
    np.testing.assert_allclose(losses, want, rtol=1e-9)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
