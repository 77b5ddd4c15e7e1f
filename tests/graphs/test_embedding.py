"""wlm's model in pytrnn's graphs: an embedding (``--emsize``, ``Wemb``), tied
weights (``--tied``), the mean-per-token loss (``--loss-scale token``) and wlm's
initialisation (``--init wlm``), against the independent numpy reference
(tests/numpy_cells.py), which finite differences check in turn: forward, BPTT,
the norm clip and the update, to 1e-9 in float64, in both modes, on JAX, C and
Numba, with layers, dropout masks, batches, carried state and fused windows."""

import numpy as np
import pytest
from numpy_cells import final_states, forward, init, loss_and_grads, names, opt_step

import pytrnn
from pytrnn.errors import ConfigError

D, H, L = 6, 4, 5
LR, REG = 0.05, 0.01
_MODELS: dict = {}


def model(mode="scan", backend="jax", carry=False, **kw):
    cfg = pytrnn.RNNConfig(
        vocab_size=D, hidden=H, window=L, lr=LR, reg=REG, clip=0.0, **kw
    )
    key = (mode, backend, carry, cfg)
    if key not in _MODELS:
        _MODELS[key] = pytrnn.RNN(cfg, mode=mode, backend=backend, carry_state=carry)
    return _MODELS[key]


def drop_masks(rng, layers, T, width, B=None, p=0.3):
    shape = (layers + 1, T) + (() if B is None else (B,)) + (width,)
    return ((rng.random(shape) >= p) / (1 - p)).astype(float)


def fd_check(cell, layers, P, x, y, **kw):
    _, _, g = loss_and_grads(cell, layers, P, x, y, REG, **kw)
    eps = 1e-6
    for k in P:
        for idx in list(np.ndindex(P[k].shape))[:: max(P[k].size // 5, 1)]:
            Q = {n: v.copy() for n, v in P.items()}
            Q[k][idx] += eps
            lp = loss_and_grads(cell, layers, Q, x, y, REG, **kw)[0]
            Q[k][idx] -= 2 * eps
            lm = loss_and_grads(cell, layers, Q, x, y, REG, **kw)[0]
            assert g[k][idx] == pytest.approx(
                (lp - lm) / (2 * eps), rel=1e-5, abs=1e-8
            ), (k, idx)


@pytest.mark.parametrize(
    "cell, layers, emsize, tied",
    [("lstm", 2, 3, False), ("gru", 1, H, True), ("rnn", 2, H, True)],
)
def test_numpy_reference_with_embedding_matches_finite_differences(
    cell, layers, emsize, tied
):
    rng = np.random.default_rng(0)
    P = init(cell, layers, D, H, rng, emsize=emsize, tied=tied)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    drop = drop_masks(rng, layers, L, max(emsize, H))
    fd_check(cell, layers, P, x, y, drop=drop, scale=1 / L)


def test_tied_gradient_is_the_sum_of_both_uses():
    """The reference's tied Wemb gradient equals the untied model's dWemb + dWhy.T."""
    rng = np.random.default_rng(1)
    P = init("lstm", 1, D, H, rng, emsize=H, tied=True)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    untied = {**P, "Why": P["Wemb"].T.copy()}
    g_tied = loss_and_grads("lstm", 1, P, x, y, 0.0)[2]
    g_two = loss_and_grads("lstm", 1, untied, x, y, 0.0)[2]
    np.testing.assert_allclose(
        g_tied["Wemb"], g_two["Wemb"] + g_two["Why"].T, rtol=1e-12
    )


def against_numpy(
    m, cell, layers, emsize, tied, scale, seqs, rng, drops=None, clip_norm=0.0
):
    P = init(cell, layers, D, H, rng, emsize=emsize, tied=tied)
    assert list(m.get_params()) == names(cell, layers, emsize, tied)  # the contract
    m.set_params(P)
    for i, (x, y) in enumerate(seqs):
        drop = None if drops is None else drops[i]
        loss, data = m.train_step(x, y, drop=drop)
        s = 1 / len(x) if scale == "token" else 1.0
        want, want_data, g = loss_and_grads(
            cell, layers, P, x, y, REG, drop=drop, scale=s
        )
        P = opt_step("sgd", P, g, {}, LR, 0.0, clip_norm=clip_norm)
        assert loss == pytest.approx(want, rel=1e-9)
        assert data == pytest.approx(want_data, rel=1e-9)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


CASES = [  # mode, backend, cell, layers, emsize, tied, loss scale, dropout
    ("scan", "jax", "lstm", 2, 3, False, "token", True),
    ("unroll", "jax", "lstm", 2, H, True, "token", True),
    ("scan", "jax", "rnn", 1, 7, False, "window", False),
    ("unroll", "jax", "gru", 1, H, True, "window", False),
    ("scan", "c", "lstm", 2, H, True, "token", True),
    ("scan", "numba", "rnn", 2, 3, False, "token", True),
]


@pytest.mark.parametrize(
    "mode, backend, cell, layers, emsize, tied, scale, dropout", CASES
)
def test_embedding_tied_and_token_scale_match_numpy(
    mode, backend, cell, layers, emsize, tied, scale, dropout
):
    """Three steps; --clip-norm 0.5 (it bites) as wlm clips; dropout on the
    embedding's output and each layer's, with masks given so numpy sees them."""
    rng = np.random.default_rng(2)
    seqs = [(rng.integers(0, D, L), rng.integers(0, D, L)) for _ in range(3)]
    drops = (
        [drop_masks(rng, layers, L, max(emsize, H)) for _ in seqs] if dropout else None
    )
    m = model(
        mode,
        backend,
        cell=cell,
        layers=layers,
        emsize=emsize,
        tied=tied,
        loss_scale=scale,
        dropout=0.3 if dropout else 0.0,
        clip_norm=0.5,
    )
    against_numpy(
        m,
        cell,
        layers,
        emsize,
        tied,
        scale,
        seqs,
        np.random.default_rng(3),
        drops,
        clip_norm=0.5,
    )


def test_fused_batched_carried_windows_match_numpy():
    """K windows of B streams in one fused call (JAX), each stream carrying its
    state, dropout on, tied, wlm's token scale and norm clip: the mean over every
    token of the step, B streams' gradients summed and divided by T * B."""
    rng = np.random.default_rng(4)
    B, K, cell, layers = 2, 3, "lstm", 2
    P = init(cell, layers, D, H, rng, emsize=H, tied=True)
    X, Y = rng.integers(0, D, (K, L, B)), rng.integers(0, D, (K, L, B))
    drops = np.stack([drop_masks(rng, layers, L, H, B) for _ in range(K)])
    m = model(
        "scan",
        "jax",
        carry=True,
        cell=cell,
        layers=layers,
        emsize=H,
        tied=True,
        loss_scale="token",
        dropout=0.3,
        clip_norm=0.5,
    )
    m.set_params(P)
    m.reset_carry(B)
    losses, data = m.train_windows(X, Y, drops=drops)
    h = [None] * B
    for k in range(K):
        g_sum, d_sum = None, 0.0
        new_h = []
        for b in range(B):
            init_b = None if h[b] is None else h[b]
            _, d, g = loss_and_grads(
                cell,
                layers,
                P,
                X[k, :, b],
                Y[k, :, b],
                0.0,
                drop=drops[k][:, :, b],
                init=init_b,
                scale=1 / (L * B),
            )
            caches = forward(cell, layers, P, X[k, :, b], drops[k][:, :, b], init_b)[2]
            new_h.append(final_states(cell, caches))
            d_sum += d / B
            g_sum = g if g_sum is None else {n: g_sum[n] + g[n] for n in g}
        h = new_h
        for n in [n for n in P if n.startswith(("Wemb", "Wxh", "Whh"))]:
            g_sum[n] = g_sum[n] + 2 * REG * P[n]
        assert data[k] == pytest.approx(d_sum, rel=1e-9)
        P = opt_step("sgd", P, g_sum, {}, LR, 0.0, clip_norm=0.5)
    got = m.get_params()
    for n in P:
        np.testing.assert_allclose(got[n], P[n], rtol=1e-9, atol=1e-12, err_msg=n)


def test_wlm_init_is_its_init_weights():
    """--init wlm: Wemb and Why uniform(-0.1, 0.1), by 0, the recurrent layers'
    weights uniform(+-1/sqrt(H)) and, kept as one (--no-two-biases), the LSTM's bias
    the sum of torch's two (tests/graphs/test_two_biases.py: each of two)."""
    cfg = pytrnn.RNNConfig(
        vocab_size=50, hidden=16, emsize=8, cell="lstm", layers=2, init="wlm",
        two_biases=False,
    )  # fmt: skip
    from pytrnn.graphs.params import init_params

    P = init_params(cfg, np.random.default_rng(0))
    k = 1 / np.sqrt(16)
    assert P["Wemb"].shape == (50, 8) and P["Wxh"].shape == (8, 64)
    for n in ("Wemb", "Why"):
        assert 0.09 < np.abs(P[n]).max() <= 0.1
    assert not P["by"].any()
    for n in ("Wxh", "Whh", "Wxh_1", "Whh_1"):
        assert 0.9 * k < np.abs(P[n]).max() <= k, n
    assert k < np.abs(P["bh"]).max() <= 2 * k  # b_ih + b_hh
    assert not np.array_equal(
        P["Wxh"], init_params(cfg, np.random.default_rng(1))["Wxh"]
    )


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(emsize=0), "--emsize must be at least 1"),
        (dict(emsize=8, tied=True), "--tied needs --emsize equal to --hidden"),
        (dict(tied=True), "--tied needs --emsize"),
        (dict(loss_scale="mean"), "--loss-scale must be one of"),
        (dict(init="xavier"), "--init must be one of"),
    ],
)
def test_bad_model_values_are_one_clear_error(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        pytrnn.RNNConfig(hidden=16, **kw).validate()


def test_default_model_has_no_embedding_and_its_graph_is_the_notebooks():
    cfg = pytrnn.RNNConfig()
    from pytrnn.graphs.params import param_names

    assert param_names(cfg) == ("Wxh", "Whh", "bh", "Why", "by")
