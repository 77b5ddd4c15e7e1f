"""Shared fixtures. Compiling a graph costs seconds, so models are built once per
session and reset with ``set_params`` between tests."""

import numpy as np
import pytest

import pytrnn

TINY = dict(vocab_size=7, hidden=5, window=6)

_MODELS: dict = {}


def cached_model(mode="unroll", backend="jax", **cfg_kw) -> pytrnn.RNN:
    """One compiled model per (mode, backend, config); callers set the params they need."""
    kw = {**TINY, **cfg_kw}
    key = (mode, backend, tuple(sorted(kw.items())))
    if key not in _MODELS:
        _MODELS[key] = pytrnn.RNN(pytrnn.RNNConfig(**kw), mode=mode, backend=backend)
    return _MODELS[key]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def small_text(tmp_path):
    """A small UTF-8 corpus file written by the test itself."""
    text = (
        "The quick brown fox jumps over the lazy dog. The dog sleeps. "
        "A fox is quick! Is the dog lazy? The fox runs away.\n\n"
    ) * 20
    path = tmp_path / "small.txt"
    path.write_text(text, encoding="utf-8")
    return path
