"""The original notebook's printed figures, re-run (In[114] and In[115])."""

import math

import numpy as np
import pytest

import pytrnn
from pytrnn.data import window_starts
from pytrnn.progress import PrintReporter
from pytrnn.train import train


def test_in114_initial_loss_is_window_times_ln_vocab():
    """x = y = [0]*L at initialisation: the notebook printed 115.85 against 114.62."""
    cfg = pytrnn.RNNConfig()  # the notebook's D=98, H=100, L=25
    model = pytrnn.RNN(cfg, mode="scan", seed=0)
    P = model.get_params()
    reg = cfg.reg * sum((P[k] ** 2).sum() for k in ("Wxh", "Whh", "Why"))
    expected = cfg.window * math.log(cfg.vocab_size) + reg
    loss = model.train_on_seq([0] * cfg.window, [0] * cfg.window)
    assert loss == pytest.approx(expected, rel=0.05)
    assert loss != pytest.approx(expected, rel=1e-6)  # a real forward pass, not the formula


def test_windows_follow_the_notebook_loop():
    """The notebook's loop, transcribed, visits the same windows as window_starts."""
    for N, L in [(1000, 25), (316457, 25), (26, 25), (77, 5), (100, 7)]:
        ichar, seen = 0, []
        while True:  # the notebook's body, one pass
            seen.append(ichar)
            ichar += L
            if ichar + 1 + L >= N:
                break
        assert list(window_starts(N, L)) == seen, (N, L)
    assert len(window_starts(1000, 25)) == 39  # the notebook printed iseq=38
    assert len(window_starts(316457, 25)) == 12658  # ... and iseq=12657


def test_in115_overfit_first_1000_chars(tmp_path):
    """10 passes over the first 1000 chars: the notebook went 97.58 -> 65.68 (-33%)."""
    cfg = pytrnn.TrainConfig(limit_chars=1000, passes=10, checkpoint=str(tmp_path / "c.npz"),
                             sample_length=20)
    result = train(pytrnn.RNNConfig(), cfg, reporter=PrintReporter(quiet=True))
    losses = [r["loss"] for r in result.history]
    assert len(losses) == 10 and [r["iseq"] for r in result.history][:2] == [38, 77]
    assert losses[-1] <= 0.75 * losses[0], losses
    assert np.all(np.diff(losses) < 0)  # falls every pass, as the notebook's did
