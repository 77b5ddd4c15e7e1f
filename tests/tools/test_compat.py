"""The Theano facade: the notebook's own code, scan programs, nnet, config."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy_ref import init, loss_and_grads

import pytrnn
import pytrnn.compat.theano as theano
import pytrnn.compat.theano.tensor as T
from pytrnn.compat.theano import function, shared

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("Wxh", "Whh", "bh", "Why", "by")


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """Import the Python 3 transcription on a small corpus, without its training cells."""
    from pydoc_data.topics import topics

    corpus = tmp_path_factory.mktemp("legacy") / "corpus.txt"
    corpus.write_text(topics["assert"] + topics["if"], encoding="utf-8")
    argv = sys.argv
    sys.argv = ["char_rnn_theano.py", str(corpus)]
    np.random.seed(7)
    try:
        g = runpy.run_path(
            str(ROOT / "legacy" / "char_rnn_theano.py"), run_name="legacy"
        )
    finally:
        sys.argv = argv
    g["initial"] = {k: g[k].get_value().copy() for k in NAMES}
    return g


@pytest.fixture
def fresh_legacy(legacy):
    """The transcription's module state with its shared parameters back at init."""
    for k in NAMES:
        legacy[k].set_value(legacy["initial"][k].copy())
    return legacy


def test_transcription_matches_pytrnn_unroll(fresh_legacy):
    g = fresh_legacy
    P0 = g["initial"]
    cfg = pytrnn.RNNConfig(vocab_size=g["D"], hidden=g["H"], window=g["L"])
    model = pytrnn.RNN(cfg, params=P0, mode="unroll")
    data, L = g["data"], g["L"]
    x0 = data[:L]
    np.testing.assert_allclose(
        model.predict_prob(x0), g["predict_prob"](x0), rtol=1e-10
    )
    assert model.predict(x0) == int(g["predict"](x0))
    for ichar in range(0, 8 * L, L):  # the notebook's windows
        xval, yval = data[ichar : ichar + L], data[ichar + 1 : ichar + 1 + L]
        theirs = g["train_on_seq"](xval, yval)[0]
        ours = model.train_on_seq(xval, yval)
        assert isinstance(theirs, np.ndarray)  # numpy out, as Theano
        assert ours == pytest.approx(float(theirs), rel=1e-9)
    mine = model.get_params()
    for k in P0:
        np.testing.assert_allclose(mine[k], g[k].get_value(), rtol=1e-9, atol=1e-12)
        assert np.abs(mine[k] - P0[k]).max() > 0  # both really trained


def test_in114_through_the_facade(fresh_legacy):
    g = fresh_legacy
    L, D = g["L"], g["D"]
    loss = g["train_on_seq"](x=[0] * L, y=[0] * L)[0]
    assert float(loss) == pytest.approx(-np.log(1.0 / D) * L, rel=0.05)


def test_scan_cumulative_sum_with_theano_return_convention():
    v = T.dvector("v")
    out, updates = theano.scan(
        lambda a, acc: acc + a,
        sequences=[v],
        outputs_info=[T.zeros((), dtype="float64")],
    )
    assert len(updates) == 0
    f = function([v], out)
    x = np.random.default_rng(0).standard_normal(9)
    np.testing.assert_allclose(f(x), np.cumsum(x), rtol=1e-12)


@pytest.mark.parametrize("K", [-1, 2])
def test_scan_rnn_with_truncate_gradient_matches_numpy(K):
    """A Theano-style RNN (WildML's outputs_info=[None, dict(initial=...)]) with
    truncate_gradient, against the numpy truncated-BPTT reference."""
    rng = np.random.default_rng(3)
    D, H, n = 6, 4, 7
    P = init(D, H, rng)
    P["bh"][:] = 0
    P["by"][:] = 0
    U = shared(P["Wxh"].T.copy(), name="U")  # WildML's U (H, D), W (H, H), V (D, H)
    W = shared(P["Whh"].copy(), name="W")
    V = shared(P["Why"].T.copy(), name="V")
    x, y = T.ivector("x"), T.ivector("y")

    def forward_prop_step(x_t, s_t_prev, U, W):
        s_t = T.tanh(U[:, x_t] + W.dot(s_t_prev))
        return [x_t * 1.0, s_t]

    [_, s], updates = theano.scan(
        forward_prop_step,
        sequences=x,
        outputs_info=[None, dict(initial=T.zeros(H, dtype="float64"))],
        non_sequences=[U, W],
        truncate_gradient=K,
        strict=True,
    )
    o = T.nnet.softmax(s.dot(V.T))
    cost = T.sum(T.nnet.categorical_crossentropy(o, y))
    xs, ys = (
        rng.integers(0, D, n).astype("int32"),
        rng.integers(0, D, n).astype("int32"),
    )
    with pytest.warns(UserWarning, match="cannot trace"):  # JAX: free length -> numba
        grads = function([x, y], [cost] + T.grad(cost, [U, W, V]))
        cost_v, dU, dW, dV = grads(xs, ys)
    want_loss, _, g = loss_and_grads(P, xs, ys, reg=0.0, truncate=K)
    assert float(cost_v) == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(dU, g["Wxh"].T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dW, g["Whh"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dV, g["Why"].T, rtol=1e-9, atol=1e-12)


def test_nnet_softmax_is_row_wise_and_keeps_theanos_vector_shape():
    m, v = T.dmatrix("m"), T.dvector("v")
    f = function([m, v], [T.nnet.softmax(m), T.nnet.softmax(v)])
    a = np.random.default_rng(1).standard_normal((3, 4))
    sm, sv = f(a, a[0])
    np.testing.assert_allclose(sm.sum(axis=1), 1.0)
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(sm, e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    assert sv.shape == (1, 4)
    np.testing.assert_allclose(sv[0], sm[0])


def test_categorical_crossentropy_int_and_one_hot():
    p, yi, yo = T.dmatrix("p"), T.ivector("y"), T.dmatrix("t")
    f = function(
        [p, yi, yo],
        [
            T.nnet.categorical_crossentropy(p, yi),
            T.nnet.categorical_crossentropy(p, yo),
        ],
    )
    probs = np.array([[0.2, 0.8], [0.6, 0.4]])
    labels = np.array([1, 0], dtype="int32")
    a, b = f(probs, labels, np.eye(2)[labels])
    np.testing.assert_allclose(a, -np.log([0.8, 0.6]))
    np.testing.assert_allclose(b, a)


def test_config():
    import jax

    # Theano's names for the device JAX chose by default: "gpu" for CUDA, else "cpu"
    want = "gpu" if jax.devices()[0].platform == "gpu" else "cpu"
    assert theano.config.device == want
    assert theano.config.floatX == "float64"
    assert theano.config.compiledir  # falls through to PyTensor's config
