"""``--output-chunk``: the full softmax's output layer in chunks of rows, its
gradient computed in the same pass (pytrnn.graphs.chunked). The Op against a
plain-numpy log-softmax and its gradient (1e-12, float64, every backend, chunks
that do and do not divide the rows); training and held-out scoring with it
against the whole layer's (which tests/graphs hold to the numpy references) in
every configuration the graphs carry: each cell, tied and untied, layers, masks,
carried state, fused windows, AWD's regularizers; against numpy's AWD step
itself (tests/graphs/test_awd.py)."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from helpers import AWD_ON

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.graphs import chunked


def numpy_layer(h, W, b, y, m):
    """loss = sum(m * -log softmax(h W + b)[y]), the errors, and the loss's
    gradient with respect to h, W and b."""
    z = h @ W + b
    z = z - z.max(axis=1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    err = -lp[rows, y]
    dz = np.exp(lp) * m[:, None]
    dz[rows, y] -= m
    return (m * err).sum(), err, dz @ W.T, h.T @ dz, dz.sum(axis=0)


@pytest.mark.parametrize("backend", ["jax", "c", "numba"])
def test_the_op_is_numpys_log_softmax_and_its_gradient(backend):
    from pytrnn.runtime.backends import compile_mode

    rng = np.random.default_rng(0)
    N, H, D = 37, 5, 11
    h, W, b = rng.normal(size=(N, H)), rng.normal(size=(H, D)), rng.normal(size=D)
    y = rng.integers(0, D, N).astype(np.int32)
    m = (rng.random(N) > 0.3).astype(np.float64)
    want = numpy_layer(h, W, b, y, m)
    hv, Wv, bv = (
        pt.tensor(n, shape=a.shape) for n, a in (("h", h), ("W", W), ("b", b))
    )
    yv = pt.tensor("y", shape=(N,), dtype="int32")
    mv = pt.tensor("m", shape=(N,))
    for chunk in (4, 8, 37, 100):  # uneven, even, one chunk, more rows than N
        loss = 3.0 * chunked.fused_loss(hv, Wv, bv, yv, mv, chunk)
        errs = chunked.chunked_errors(hv, Wv, bv, yv, chunk)
        f = pytensor.function(
            [hv, Wv, bv, yv, mv],
            [loss, errs, *pytensor.grad(loss, [hv, Wv, bv, mv])],
            mode=compile_mode(backend),
        )
        got = f(h, W, b, y, m)
        np.testing.assert_allclose(got[0], 3 * want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-13)
        for g, w in zip(got[2:5], want[2:]):
            np.testing.assert_allclose(g, 3 * w, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(got[5], 3 * want[1], rtol=1e-12)  # d loss / d m


D, H, L = 9, 4, 5
CASES = {
    "notebook, per window": (dict(), "unroll", "c", None, False, False),
    "gru, 2 layers, embedding, masked": (
        dict(cell="gru", layers=2, emsize=3),
        "scan",
        "jax",
        3,
        True,
        False,
    ),
    "awd: lstm tied, every regularizer, carried": (
        dict(AWD_ON, optimizer="asgd"),
        "scan",
        "jax",
        2,
        False,
        True,
    ),
    "wlm: two biases, tied, carried, truncated": (
        dict(emsize=H, tied=True, init="wlm", bptt_truncate=3, dropout=0.2),
        "unroll",
        "jax",
        4,
        False,
        True,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_training_and_scoring_equal_the_whole_layer(case):
    """Two fused chunks of windows (a padded one among them), then held-out
    scoring, with chunks of 3 rows and with the whole layer: every parameter,
    loss and score to 1e-12."""
    kw, mode, backend, B, masked, carry = CASES[case]
    rng = np.random.default_rng(3)
    shape = (3, L) if B is None else (3, L, B)
    X, Y = rng.integers(0, D, shape), rng.integers(0, D, shape)
    M = None
    if masked:  # left-padded sentences
        M = (np.arange(L)[None, :, None] >= rng.integers(0, 3, (3, 1, B))).astype(float)
    got = {}
    for chunk in (0, 3):
        cfg = pytrnn.RNNConfig(
            vocab_size=D, hidden=H, window=L, output_chunk=chunk, **kw
        )
        m = pytrnn.RNN(cfg, mode=mode, backend=backend, seed=1, carry_state=carry)
        if carry:
            m.reset_carry(B)
        out = []
        for k in range(2):
            drops = (
                m.draw_drop(L, B, 3, rng=np.random.default_rng([5, k]))
                if (cfg.drops or cfg.wdrop or cfg.dropoute)
                else None
            )
            out += list(
                m.train_windows(X, Y, wmask=[1, 1, k == 0], drops=drops, masks=M)
            )
        if B is not None:
            Mh = np.ones((L, B)) if M is None else M[0]
            out.append(m.batch_loss(X[0], Y[0], Mh))
        else:
            out += list(m.seq_loss(X[0], Y[0]))
        got[chunk] = (m.get_params(), out, m.get_carry() if carry else None)
    (P0, out0, c0), (P1, out1, c1) = got[0], got[3]
    for k in P0:
        np.testing.assert_allclose(P1[k], P0[k], rtol=1e-12, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(np.hstack(out1), np.hstack(out0), rtol=1e-12)
    if carry:
        np.testing.assert_allclose(c1, c0, rtol=1e-12, atol=1e-13)


def test_bad_values_are_one_line():
    with pytest.raises(ConfigError, match="number of rows"):
        pytrnn.RNNConfig(output_chunk=-1).validate()
    with pytest.raises(ConfigError, match="full softmax"):
        pytrnn.RNNConfig(
            vocab_size=20, softmax="adaptive", cutoffs="5", output_chunk=4
        ).validate()


def test_rows_per_chunk_are_chosen_from_the_vocabulary():
    """Left unset, a step whose logits pass 256 MiB (8 MiB with bf16) goes in
    about 6 chunks of at least 8 MiB of logits (32 to 256 rows); smaller steps
    (the notebook's, wlm's on WikiText-2 in float32, every test model) keep the
    whole layer; a typed value wins; the adaptive softmax is never cut."""
    rows = chunked.output_rows
    assert rows(pytrnn.RNNConfig(), 25) == 0  # the notebook's
    assert rows(pytrnn.RNNConfig(vocab_size=12_252, dtype="float32"), 700) == 0
    wt103 = pytrnn.RNNConfig(vocab_size=267_735, dtype="float32")
    assert rows(wt103, 700) == 117  # 750 MB of logits whole: 6 chunks of 117
    assert chunked.rows_per_chunk(117, 700) == (6, 117)
    assert rows(pytrnn.RNNConfig(vocab_size=33_278), 2800) == 256  # 745 MB, float64
    bf16 = pytrnn.RNNConfig(vocab_size=12_252, dtype="float32", precision="bf16")
    assert rows(bf16, 700) == 171 and chunked.rows_per_chunk(171, 700) == (5, 140)
    assert rows(bf16, 100) == 0  # 4.9 MB
    assert rows(pytrnn.RNNConfig(vocab_size=98), 64 * 50 * 10_000) == 256
    assert rows(wt103.__class__(vocab_size=267_735, output_chunk=0), 700) == 0
    assert rows(pytrnn.RNNConfig(output_chunk=7), 25) == 7
    adaptive = pytrnn.RNNConfig(vocab_size=267_735, softmax="adaptive", cutoffs="9")
    assert rows(adaptive, 700) == 0
    assert chunked.rows_per_chunk(3, 7) == (3, 3)
