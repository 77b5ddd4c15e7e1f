"""The gated cells' own BPTT (pytrnn.graphs.gated_bptt) against ``pytensor.grad`` through the
plain scan (``build_scan(..., autodiff=True)``): the loss, every parameter's
gradient and the carried first state's gradient, with batches and one
stream, masks, two layers and truncation. (The numpy references of tests/numpy_cells.py hold both to the
equations elsewhere: test_cells.py, test_carry.py, test_word_scale.py.)"""

import numpy as np
import numpy_cells as nc
import pytensor
import pytest

import pytrnn
from pytrnn.graphs.forward import build_scan, state_shape
from pytrnn.graphs.params import param_names, param_shapes
from pytrnn.runtime.backends import compile_mode

D, H, T = 11, 6, 7


@pytest.mark.parametrize(
    "cell, layers, masked, K, B",
    [
        ("gru", 2, True, 3, 3),
        ("lstm", 2, True, -1, 3),
        ("lstm", 1, False, 3, 3),
        ("gru", 1, True, -1, None),
        ("gru", 1, False, -1, 3),
    ],
)
def test_gated_pullback_equals_pytensor_grad(cell, layers, masked, K, B, rng):
    cfg = pytrnn.RNNConfig(
        vocab_size=D, hidden=H, window=T, cell=cell, layers=layers, bptt_truncate=K
    )
    P = nc.init(cell, layers, D, H, rng)
    shape = (T,) if B is None else (T, B)
    x = rng.integers(0, D, shape).astype(np.int32)
    y = rng.integers(0, D, shape).astype(np.int32)
    mask = (np.arange(T)[:, None] >= np.array([0, 2, 5])[None]).astype(np.float64)
    mask = mask[:, 1] if B is None else mask
    h0 = rng.standard_normal(state_shape(cfg, B))
    results = []
    for autodiff in (False, True):
        syms = {
            k: pytensor.tensor.tensor(k, shape=s, dtype="float64")
            for k, s in param_shapes(cfg).items()
        }
        g = build_scan(
            cfg, syms, length=T, masked=masked, batch=B, autodiff=autodiff, h0=True
        )
        h0_var = g.inputs[-1]
        wrt = [syms[k] for k in param_names(cfg)] + [h0_var]
        fn = pytensor.function(
            g.inputs + wrt[:-1],
            [
                g.loss,
                g.state_last,
                *pytensor.grad(g.loss, wrt, disconnected_inputs="ignore"),
            ],
            mode=compile_mode("jax"),
        )
        args = (
            [x, y]
            + ([mask] if masked else [])
            + [h0]
            + [P[k] for k in param_names(cfg)]
        )
        results.append([np.asarray(v) for v in fn(*args)])
    ours, derived = results
    names = ("loss", "state_last", *param_names(cfg), "h0")
    for name, a, b in zip(names, ours, derived):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=name)
    assert np.abs(derived[names.index("Whh")]).max() > 0  # the test can fail
    # h0 reaches the gradient unless truncation or padding (which zeroes it) cuts it
    first = mask[0] if B is None else mask[0, 0]
    assert (np.abs(derived[-1]).max() > 0) == (K < 0 and (not masked or first > 0))


def test_gated_graph_uses_its_own_bptt():
    """Static-length gated graphs take pytrnn.graphs.gated_bptt's op; autodiff and free-length
    (C, Numba) graphs keep the plain scan."""
    from pytensor.graph.traversal import ancestors

    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=T, cell="gru")
    syms = {
        k: pytensor.tensor.tensor(k, shape=s, dtype="float64")
        for k, s in param_shapes(cfg).items()
    }

    def ops(**kw):
        g = build_scan(cfg, syms, **kw)
        return {
            getattr(v.owner.op, "name", None) for v in ancestors([g.loss]) if v.owner
        }

    assert "gru_recurrence" in ops(length=T, batch=3)
    assert "gru_recurrence" in ops(length=T)
    assert "gru_recurrence" not in ops(length=T, batch=3, autodiff=True)
    assert "gru_recurrence" not in ops(length=None, batch=3)
