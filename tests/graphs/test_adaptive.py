"""The adaptive softmax (--softmax adaptive) against an independent numpy
transcription of torch.nn.AdaptiveLogSoftmaxWithLoss (tests/numpy_adaptive.py,
its backward checked by finite differences): every token's log-probability, the
loss and the gradients of all parameters to 1e-9 in float64, in both modes, on
JAX, C and Numba, with batches, padding masks, carried state and fused windows."""

import numpy as np
import numpy_adaptive as asm
import pytest
from numpy_cells import final_states, forward, init, loss_and_grads, opt_step

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.graphs.adaptive import CAPACITY_MIN, capacities

D, H, L = 11, 8, 5
CUTS = "3,7"  # head: ids 0..2 and two clusters (3..6 and 7..10), widths 2 and 0 -> 2, 0
LR, REG = 0.05, 0.01
_MODELS: dict = {}


def model(mode="scan", backend="jax", carry=False, **kw):
    cfg = pytrnn.RNNConfig(
        vocab_size=D,
        hidden=H,
        window=L,
        lr=LR,
        reg=REG,
        clip=0.0,
        cell="lstm",
        emsize=4,
        softmax="adaptive",
        cutoffs=CUTS,
        div_value=2.0,
        **kw,
    )
    key = (mode, backend, carry, cfg)
    if key not in _MODELS:
        _MODELS[key] = pytrnn.RNN(cfg, mode=mode, backend=backend, carry_state=carry)
    return _MODELS[key]


def params(rng, head_bias=False):
    P = init("lstm", 1, D, H, rng, emsize=4)
    del P["Why"], P["by"]
    P.update(asm.init(rng, H, [3, 7, D], div_value=2.0, head_bias=head_bias))
    return P


def test_transcription_is_consistent_and_its_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    P = asm.init(rng, H, [3, 7, D], div_value=2.0, head_bias=True)
    h, y = rng.standard_normal((9, H)), np.array([0, 4, 9, 2, 10, 3, 7, 1, 6])
    out, loss = asm.forward(P, h, y)
    lp = asm.log_prob(P, h)
    np.testing.assert_allclose(out, lp[np.arange(9), y], rtol=1e-12)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-12)
    assert loss == pytest.approx(-out.mean(), rel=1e-12)
    w = rng.random(9)
    g, dh = asm.grads(P, h, y, w)
    f = lambda Q, hh: -(w * asm.forward(Q, hh, y)[0]).sum()  # noqa: E731
    eps = 1e-6
    for k in P:
        for idx in list(np.ndindex(P[k].shape))[::3]:
            Q = {n: v.copy() for n, v in P.items()}
            Q[k][idx] += eps
            up = f(Q, h)
            Q[k][idx] -= 2 * eps
            assert g[k][idx] == pytest.approx(
                (up - f(Q, h)) / (2 * eps), rel=1e-6, abs=1e-9
            )
    for idx in list(np.ndindex(h.shape))[::5]:
        hh = h.copy()
        hh[idx] += eps
        up = f(P, hh)
        hh[idx] -= 2 * eps
        assert dh[idx] == pytest.approx((up - f(P, hh)) / (2 * eps), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    "mode, backend",
    [("scan", "jax"), ("unroll", "jax"), ("scan", "c"), ("scan", "numba")],
)
def test_adaptive_steps_match_numpy(mode, backend):
    """Three steps (torch's head bias on), then held-out scoring and the next
    token's distribution through the full log_prob."""
    m = model(mode, backend, head_bias=True)
    rng = np.random.default_rng(1)
    P = params(rng, head_bias=True)
    assert list(m.get_params())[-6:] == [
        "head_W",
        "head_b",
        "tail0_proj",
        "tail0_out",
        "tail1_proj",
        "tail1_out",
    ]
    m.set_params(P)
    for _ in range(3):
        x, y = rng.integers(0, D, L), rng.integers(0, D, L)
        loss, data = m.train_step(x, y)
        want, want_data, g = loss_and_grads("lstm", 1, P, x, y, REG)
        P = opt_step("sgd", P, g, {}, LR, 0.0)
        assert loss == pytest.approx(want, rel=1e-9)
        assert data == pytest.approx(want_data, rel=1e-9)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    hs = forward("lstm", 1, P, x)[0]
    np.testing.assert_allclose(
        m.predict_prob(x), np.exp(asm.log_prob(P, hs[-1:])[0]), rtol=1e-9
    )
    X, Y = np.stack([x, y], 1), np.stack([y, x], 1)
    want = -sum(
        asm.forward(P, forward("lstm", 1, P, X[:, b])[0], Y[:, b])[0].sum()
        for b in range(2)
    )
    assert m.batch_loss(X, Y, np.ones((L, 2))) == pytest.approx(want, rel=1e-9)


def test_fused_batched_carried_padded_windows_match_numpy():
    """K windows of B streams in one fused call (JAX), right-padded under masks,
    carrying state; each cluster's rows bounded by the capacity the model picks."""
    rng = np.random.default_rng(2)
    B, K = 3, 2
    m = model("scan", "jax", carry=True, loss_scale="token")
    P = params(rng)
    m.set_params(P)
    m.reset_carry(B)
    X, Y = rng.integers(0, D, (K, L, B)), rng.integers(0, D, (K, L, B))
    n = (5, 3)
    M = np.zeros((K, L, B))
    for k in range(K):
        M[k, : n[k]] = 1
    losses, data = m.train_windows(X, Y, masks=M)
    h = [None] * B
    for k in range(K):
        g_sum, d_sum, new_h = None, 0.0, []
        for b in range(B):
            x, y = X[k, : n[k], b], Y[k, : n[k], b]
            _, d, g = loss_and_grads(
                "lstm", 1, P, x, y, REG / B, init=h[b], scale=1 / (n[k] * B)
            )
            new_h.append(final_states("lstm", forward("lstm", 1, P, x, None, h[b])[2]))
            d_sum += d / B
            g_sum = g if g_sum is None else {q: g_sum[q] + g[q] for q in g}
        h = new_h
        assert data[k] == pytest.approx(d_sum, rel=1e-9)
        P = opt_step("sgd", P, g_sum, {}, LR, 0.0)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_capacities_bound_each_clusters_rows():
    cfg = pytrnn.RNNConfig(
        vocab_size=100, hidden=8, softmax="adaptive", cutoffs="10,50"
    )
    Y = np.zeros((3, 40, 2), int)  # 3 windows of 40 x 2 rows
    Y[1, :30, :] = 20  # 60 rows of window 1 in cluster 0
    Y[2, :5, 0] = 70
    assert capacities(cfg, Y, windows=True) == (64, CAPACITY_MIN)
    assert capacities(cfg, Y[1]) == (64, CAPACITY_MIN)
    assert capacities(cfg, np.full(6, 20)) == (6, 6)  # never more than the rows


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(cutoffs="7,3"), "--cutoffs must be unique integers, increasing"),
        (dict(cutoffs="3,11"), "between 1 and V - 1 = 10"),
        (dict(cutoffs="0,5"), "--cutoffs must be unique integers"),
        (dict(cutoffs="a,b"), "--cutoffs must be integers separated by commas"),
        (dict(cutoffs=None), "--softmax adaptive needs --cutoffs"),
        (dict(div_value=0.0), "--div-value must be positive"),
        (
            dict(tied=True, emsize=8),
            "--tied cannot be combined with --softmax adaptive",
        ),
    ],
)
def test_bad_adaptive_values(kw, needle):
    base = dict(vocab_size=D, hidden=8, softmax="adaptive", cutoffs=CUTS)
    with pytest.raises(ConfigError, match=needle):
        pytrnn.RNNConfig(**{**base, **kw}).validate()
