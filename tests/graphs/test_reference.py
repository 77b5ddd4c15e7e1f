"""pytrnn's graphs against the independent numpy reference and finite differences."""

import numpy as np
import pytest
from helpers import TINY, cached_model
from numpy_ref import init, loss_and_grads, sgd_step

D, H, L = TINY["vocab_size"], TINY["hidden"], TINY["window"]
LR, REG, CLIP = 0.01, 0.01, 5.0
SMALL_CLIP = 0.5  # low enough that the tiny model's gradients get clipped


def run_steps(model, P0, seqs, truncate=-1, clip=CLIP, lr=LR):
    """Train the model and the numpy reference side by side; compare every step."""
    model.set_params(P0)
    P = {k: v.copy() for k, v in P0.items()}
    biggest = 0.0
    for x, y in seqs:
        biggest = max(
            biggest,
            *(
                np.abs(g).max()
                for g in loss_and_grads(P, x, y, REG, truncate)[2].values()
            ),
        )
        got, got_data = model.train_step(x, y)
        want_data = loss_and_grads(P, x, y, REG, truncate)[1]
        want, P = sgd_step(P, x, y, lr, REG, clip, truncate)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
        assert got_data == pytest.approx(want_data, rel=1e-9, abs=1e-12)
    final = model.get_params()
    for k in P:
        np.testing.assert_allclose(final[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
    return biggest


def seqs_of(rng, n, length):
    return [(rng.integers(0, D, length), rng.integers(0, D, length)) for _ in range(n)]


@pytest.mark.parametrize("backend", ["jax", "c"])
@pytest.mark.parametrize("mode", ["unroll", "scan"])
def test_train_on_seq_matches_numpy_bptt(mode, backend, rng):
    P0 = init(D, H, rng)
    run_steps(cached_model(mode, backend), P0, seqs_of(rng, 5, L))
    # and with a clip that bites, so clipping is compared too
    biggest = run_steps(
        cached_model(mode, backend, clip=SMALL_CLIP),
        P0,
        seqs_of(rng, 3, L),
        clip=SMALL_CLIP,
    )
    assert biggest > SMALL_CLIP  # the clip really acted in that run


@pytest.mark.parametrize("mode", ["unroll", "scan"])
def test_gradient_matches_finite_differences(mode, rng):
    """Gradients from the compiled update (clip off, lr 1) against central differences."""
    model = cached_model(mode, "jax", clip=1e9, lr=1.0)
    P0 = init(D, H, rng)
    x, y = seqs_of(rng, 1, L)[0]
    model.set_params(P0)
    model.train_on_seq(x, y)
    after = model.get_params()
    eps = 1e-6
    for k in P0:
        grad = P0[k] - after[k]  # lr = 1, no clip: the raw gradient
        for idx in list(np.ndindex(P0[k].shape))[:6]:
            for sign, store in ((1, "plus"), (-1, "minus")):
                Q = {n: v.copy() for n, v in P0.items()}
                Q[k][idx] += sign * eps
                model.set_params(Q)
                if store == "plus":
                    lp = model.seq_loss(x, y)[0]
                else:
                    lm = model.seq_loss(x, y)[0]
            numeric = (lp - lm) / (2 * eps)
            assert grad[idx] == pytest.approx(numeric, rel=1e-5, abs=1e-7), (k, idx)


def test_numpy_reference_matches_finite_differences(rng):
    """The reference itself is checked, with and without truncation's full case."""
    P0 = init(D, H, rng)
    x, y = seqs_of(rng, 1, L)[0]
    _, _, g = loss_and_grads(P0, x, y, REG)
    eps = 1e-6
    for k in P0:
        for idx in list(np.ndindex(P0[k].shape))[:5]:
            Q = {n: v.copy() for n, v in P0.items()}
            Q[k][idx] += eps
            lp = loss_and_grads(Q, x, y, REG)[0]
            Q[k][idx] -= 2 * eps
            lm = loss_and_grads(Q, x, y, REG)[0]
            assert g[k][idx] == pytest.approx((lp - lm) / (2 * eps), rel=1e-5, abs=1e-8)


def test_predict_prob_matches_numpy(rng):
    from numpy_ref import forward

    model = cached_model("unroll", "jax")
    P0 = init(D, H, rng)
    model.set_params(P0)
    x = rng.integers(0, D, L)
    _, ps = forward(P0, x)
    np.testing.assert_allclose(model.predict_prob(x), ps[-1], rtol=1e-10)
    assert model.predict(x) == int(np.argmax(ps[-1]))


def test_float32_config_tracks_float64(rng):
    P0 = init(D, H, rng)
    seqs = seqs_of(rng, 3, L)
    m32 = cached_model("scan", "jax", dtype="float32")
    m32.set_params(P0)
    P = P0
    for x, y in seqs:
        got = m32.train_on_seq(x, y)
        want, P = sgd_step(P, x, y, LR, REG, CLIP)
        assert got == pytest.approx(want, rel=1e-4)
    assert m32.get_params()["Wxh"].dtype == np.float32
    np.testing.assert_allclose(m32.get_params()["Whh"], P["Whh"], rtol=1e-4, atol=1e-5)


def test_init_params_is_randn_over_sqrt_fan_in_with_zero_biases():
    """The notebook's In[113]: Wxh, Whh, Why drawn in that order as randn / sqrt of
    their first dimension, biases zero; the same seed, the same draw."""
    import pytrnn
    from pytrnn.graphs.params import init_params

    cfg = pytrnn.RNNConfig(vocab_size=400, hidden=300)
    P = init_params(cfg, np.random.default_rng(7))
    r = np.random.default_rng(7)
    for k, (rows, cols) in (
        ("Wxh", (400, 300)),
        ("Whh", (300, 300)),
        ("Why", (300, 400)),
    ):
        np.testing.assert_array_equal(
            P[k], r.standard_normal((rows, cols)) / np.sqrt(rows)
        )
        assert P[k].std() == pytest.approx(1 / np.sqrt(rows), rel=0.02)  # fan-in scale
        assert abs(P[k].mean()) < 3 / np.sqrt(rows * cols) / np.sqrt(rows)
    assert not P["bh"].any() and not P["by"].any()
    assert P["bh"].shape == (300,) and P["by"].shape == (400,)
