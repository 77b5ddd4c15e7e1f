"""Shared fixtures. Compiled models are shared through tests/helpers.py's
``cached_model`` (built once per session, reset with ``set_params``)."""

import numpy as np
import pytest


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
