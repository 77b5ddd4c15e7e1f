"""``--precision bf16`` (pytrnn.graphs.mixed): the output layer's products on
bfloat16 operands with float32 sums. The rounding against ml_dtypes' bfloat16 cast
(JAX's own type); the product on every backend against numpy's product of the
rounded operands; a trained model against float32 within the stated tolerance,
chunked or not."""

import ml_dtypes
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.graphs.mixed import bf16_dot, round_bf16
from pytrnn.runtime.backends import compile_mode


def test_rounding_is_bfloat16s_cast():
    rng = np.random.default_rng(0)
    a = (rng.normal(size=50_000) * 10.0 ** rng.uniform(-30, 30, 50_000)).astype(
        np.float32
    )
    a[:6] = [np.inf, -np.inf, 0.0, -0.0, 1 + 2**-8, 1 + 3 * 2**-8]  # two ties
    want = a.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(round_bf16(a), want)


@pytest.mark.parametrize("backend", ["jax", "c", "numba"])
def test_the_product_and_its_gradient(backend):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(30, 20)).astype(np.float32)
    b = rng.normal(size=(20, 40)).astype(np.float32)
    g = rng.normal(size=(30, 40)).astype(np.float32)
    av, bv, gv = (pt.matrix(n, dtype="float32") for n in "abg")
    out = bf16_dot(av, bv)
    da, db = pytensor.grad((out * gv).sum(), [av, bv])
    f = pytensor.function([av, bv, gv], [out, da, db], mode=compile_mode(backend))
    got = f(a, b, g)
    r = round_bf16
    for x, want in zip(got, (r(a) @ r(b), r(g) @ r(b).T, r(a).T @ r(g))):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-5)
    # bfloat16 indeed: float32's own product is a rounding of bfloat16 away
    assert np.abs(got[0] - a @ b).max() > 1e-3


def _trained(precision, chunk, backend="jax"):
    cfg = pytrnn.RNNConfig(
        vocab_size=50,
        hidden=16,
        emsize=16,
        tied=True,
        window=6,
        dtype="float32",
        clip=0.0,
        clip_norm=0.25,
        lr=1.0,
        reg=0.0,
        precision=precision,
        output_chunk=chunk,
    )
    m = pytrnn.RNN(cfg, mode="scan", backend=backend, seed=2)
    rng = np.random.default_rng(3)
    X, Y = rng.integers(0, 50, (4, 6, 5)), rng.integers(0, 50, (4, 6, 5))
    losses, _ = m.train_windows(X, Y)
    return m.get_params(), losses, m.batch_loss(X[0], Y[0], np.ones((6, 5)))


def test_bf16_trains_as_float32_within_its_rounding():
    """Losses within 1e-2 relative of float32's, parameters within 1e-2 after four
    steps (bfloat16 keeps 8 bits: 4e-3 a rounding). Chunked, the same steps as the
    whole bf16 layer to bfloat16's rounding: the chunks round the softmax's
    gradient before the loss's scale (1/B) multiplies it, the whole layer after."""
    P32, l32, s32 = _trained("full", 0)
    P16, l16, s16 = _trained("bf16", 0)
    Pc, lc, sc = _trained("bf16", 4)
    np.testing.assert_allclose(l16, l32, rtol=1e-2)
    assert s16 == pytest.approx(s32, rel=1e-2)
    assert max(np.abs(P16[k] - P32[k]).max() for k in P32) < 1e-2
    assert max(np.abs(P16[k] - P32[k]).max() for k in P32) > 1e-6  # not float32
    np.testing.assert_allclose(lc, l16, rtol=1e-4)
    assert sc == pytest.approx(s16, rel=1e-4)
    for k in P16:
        np.testing.assert_allclose(Pc[k], P16[k], rtol=1e-2, atol=1e-3, err_msg=k)


def test_bf16_needs_float32_and_the_full_softmax():
    with pytest.raises(ConfigError, match="--dtype float32"):
        pytrnn.RNNConfig(precision="bf16").validate()
    with pytest.raises(ConfigError, match="one of full, bf16"):
        pytrnn.RNNConfig(precision="fp8").validate()
