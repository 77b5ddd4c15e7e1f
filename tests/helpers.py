"""``compare_backends``: one graph, every backend, the same inputs, the same answers.

In the manner of PyTensor's ``compare_jax_and_py``: each backend builds the same
graph (mode, level, dtype), starts from the same parameters, trains on the same
sequences, and its losses and final parameters must match the first backend's and
the independent numpy reference's (1e-9 in float64, 1e-4 in float32).
"""

import importlib.util

import numpy as np
import pytest

from conftest import TINY, cached_model
from numpy_ref import init, sgd_step

LR, REG, CLIP = 0.01, 0.01, 5.0
TOL = {"float64": 1e-9, "float32": 1e-4}
WORD_LENGTHS = (5, 6, 5, 6)  # one bucket (6): one compile per backend


def require(backend: str) -> None:
    """Skip, with the reason, a backend whose package cannot import."""
    module = {"jax": "jax", "numba": "numba", "c": "pytensor"}[backend]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"backend {backend}: {module} is not installed")


def sequences(level: str, rng, D: int, L: int):
    lengths = [L] * 4 if level == "char" else WORD_LENGTHS
    return [(rng.integers(0, D, n), rng.integers(0, D, n)) for n in lengths]


def run_model(model, P0, seqs, level):
    model.set_params(P0)
    losses = []
    for x, y in seqs:
        pad = None
        if level == "word" and model.static_shapes:
            from pytrnn.words import bucket

            pad = bucket(len(x))
        losses.append(model.train_on_seq(x, y, pad_to=pad))
    return np.array(losses), model.get_params()


def compare_backends(mode, level, backends, dtype="float64", seed=0):
    """Run the same steps on each backend; assert agreement; return the results."""
    for b in backends:
        require(b)
    rng = np.random.default_rng(seed)
    D, H, L = TINY["vocab_size"], TINY["hidden"], TINY["window"]
    P0 = init(D, H, rng)
    seqs = sequences(level, rng, D, L)
    # the independent reference, always in float64
    P, want = P0, []
    for x, y in seqs:
        loss, P = sgd_step(P, x, y, LR, REG, CLIP)
        want.append(loss)
    tol = TOL[dtype]
    results = {}
    for b in backends:
        losses, params = run_model(cached_model(mode, b, dtype=dtype), P0, seqs, level)
        results[b] = (losses, params)
        np.testing.assert_allclose(losses, want, rtol=tol, err_msg=f"{b} vs numpy")
        for k in P:
            np.testing.assert_allclose(params[k], P[k], rtol=tol, atol=tol,
                                       err_msg=f"{b} {k} vs numpy")
    first_losses, first_params = results[backends[0]]
    for b in backends[1:]:
        losses, params = results[b]
        np.testing.assert_allclose(losses, first_losses, rtol=tol,
                                   err_msg=f"{b} vs {backends[0]}")
        for k in P:
            np.testing.assert_allclose(params[k], first_params[k], rtol=tol, atol=tol,
                                       err_msg=f"{b} {k} vs {backends[0]}")
    return results
