"""scan against unroll and the numpy reference; truncated BPTT; padding with masks."""

import numpy as np
import pytest
from helpers import TINY, cached_model, train_in_both_modes
from numpy_ref import init, loss_and_grads, sgd_step

import pytrnn
from pytrnn.errors import ConfigError

D, H, L = TINY["vocab_size"], TINY["hidden"], TINY["window"]
LR, REG, CLIP = 0.01, 0.01, 5.0


def check_against_numpy(model, rng, lengths, truncate=-1, pad_to=None):
    P = init(D, H, rng)
    model.set_params(P)
    for n in lengths:
        x, y = rng.integers(0, D, n), rng.integers(0, D, n)
        got, got_data = model.train_step(x, y, pad_to=pad_to(n) if pad_to else None)
        want_data = loss_and_grads(P, x, y, REG, truncate)[1]
        want, P = sgd_step(P, x, y, LR, REG, CLIP, truncate)
        assert got == pytest.approx(want, rel=1e-9), n
        assert got_data == pytest.approx(want_data, rel=1e-9), n  # masked too, L2 on
    final = model.get_params()
    for k in P:
        np.testing.assert_allclose(final[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("backend", ["jax", "c"])
def test_scan_any_length_matches_numpy(backend, rng):
    check_against_numpy(cached_model("scan", backend), rng, [1, 7, 40, L, 7])


def test_scan_equals_unroll(rng):
    P = init(D, H, rng)
    seqs = [(rng.integers(0, D, L), rng.integers(0, D, L)) for _ in range(4)]
    both = train_in_both_modes(lambda mode: cached_model(mode, "jax"), P, seqs)
    results = [both["unroll"], both["scan"]]
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-9)
    for k in P:
        np.testing.assert_allclose(
            results[0][1][k], results[1][1][k], rtol=1e-9, atol=1e-13
        )


@pytest.mark.parametrize("mode", ["unroll", "scan"])
@pytest.mark.parametrize("K", [1, 3])
def test_truncated_bptt_matches_numpy(mode, K, rng):
    """K-step truncation (scan's truncate_gradient semantics) in both builders."""
    check_against_numpy(
        cached_model(mode, "jax", bptt_truncate=K), rng, [L, L, L], truncate=K
    )


def test_truncation_only_reaches_last_k_inputs(rng):
    """With K=2 on a window of 6, only the last 2 inputs' Wxh rows move (besides L2)."""
    K = 2
    model = cached_model("scan", "jax", bptt_truncate=K, reg=0.0)
    P = init(D, H, rng)
    model.set_params(P)
    x = np.arange(L) % D  # distinct ids
    model.train_on_seq(x, rng.integers(0, D, L))
    moved = np.abs(model.get_params()["Wxh"] - P["Wxh"]).max(axis=1) > 0
    assert set(np.flatnonzero(moved)) == set(x[L - K :].tolist())


def test_truncated_gradient_differs_from_full(rng):
    P = init(D, H, rng)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    full = loss_and_grads(P, x, y, REG)[2]["Whh"]
    cut = loss_and_grads(P, x, y, REG, truncate=2)[2]["Whh"]
    assert np.abs(full - cut).max() > 1e-3


@pytest.mark.parametrize("mode", ["unroll", "scan"])
def test_padded_masked_loss_equals_unpadded(mode, rng):
    """Left padding + mask: same loss and updates as the bare sequence."""
    model = cached_model(mode, "jax")
    check_against_numpy(model, rng, [3, 5, 6], pad_to=lambda n: 8)


def test_padding_keeps_truncation_semantics(rng):
    model = cached_model("scan", "jax", bptt_truncate=3)
    check_against_numpy(model, rng, [5, 2, 6], truncate=3, pad_to=lambda n: 8)


def test_unroll_rejects_other_lengths(rng):
    with pytest.raises(ConfigError, match="window=6"):
        cached_model("unroll", "jax").train_on_seq([1, 2, 3], [1, 2, 3])


@pytest.mark.parametrize("bad", [[0, 1, 7], [-1, 0, 1]])
def test_ids_are_checked_before_the_backend(bad):
    """JAX does no bounds checks; pytrnn must."""
    with pytest.raises(ConfigError, match="token ids"):
        cached_model("scan", "jax").train_on_seq(bad, [0, 0, 0])


@pytest.mark.parametrize("batch, masked", [(None, False), (None, True), (3, False)])
@pytest.mark.parametrize("K", [-1, 3])
def test_recurrence_pullback_equals_pytensor_grad(batch, masked, K, rng):
    """The scan's own BPTT (pytrnn.graphs.tanh_bptt) against pytensor.grad through the plain
    scan: every parameter's gradient, with batches, masks (word level, unbatched) and
    truncation."""
    import pytensor

    from pytrnn.graphs.forward import build_scan
    from pytrnn.graphs.params import PARAM_NAMES, param_shapes
    from pytrnn.runtime.backends import compile_mode

    T = 6
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=T, bptt_truncate=K)
    P = init(D, H, rng)
    shape = (T,) if batch is None else (T, batch)
    x, y = (
        rng.integers(0, D, shape).astype(np.int32),
        rng.integers(0, D, shape).astype(np.int32),
    )
    mask = (np.arange(T) >= 2).astype(np.float64)  # left padding of 2
    grads = []
    for autodiff in (False, True):
        syms = {
            k: pytensor.tensor.tensor(k, shape=s, dtype="float64")
            for k, s in param_shapes(cfg).items()
        }
        g = build_scan(
            cfg, syms, length=T, masked=masked, batch=batch, autodiff=autodiff
        )
        wrt = [syms[k] for k in PARAM_NAMES]
        fn = pytensor.function(
            g.inputs + wrt,
            [g.loss, *pytensor.grad(g.loss, wrt)],
            mode=compile_mode("jax"),
        )
        args = [x, y] + ([mask] if masked else []) + [P[k] for k in PARAM_NAMES]
        grads.append([np.asarray(v) for v in fn(*args)])
    ours, derived = grads
    for name, a, b in zip(("loss", *PARAM_NAMES), ours, derived):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)
    assert np.abs(derived[2]).max() > 0  # Whh gets a gradient: the test can fail
