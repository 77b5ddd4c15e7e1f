"""The original notebook's printed figures, re-run (In[114] and In[115])."""

import math

import numpy as np
import pytest

import pytrnn
from pytrnn.data.batches import window_starts
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter


def test_in114_initial_loss_is_window_times_ln_vocab():
    """x = y = [0]*L at initialisation: the notebook printed 115.85 against 114.62."""
    cfg = pytrnn.RNNConfig()  # the notebook's D=98, H=100, L=25
    model = pytrnn.RNN(cfg, mode="scan", seed=0)
    P = model.get_params()
    reg = cfg.reg * sum((P[k] ** 2).sum() for k in ("Wxh", "Whh", "Why"))
    expected = cfg.window * math.log(cfg.vocab_size) + reg
    loss = model.train_on_seq([0] * cfg.window, [0] * cfg.window)
    assert loss == pytest.approx(expected, rel=0.05)
    assert loss != pytest.approx(
        expected, rel=1e-6
    )  # a real forward pass, not the formula


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


@pytest.mark.parametrize("mode", ["unroll", "scan"])
def test_in115_overfit_first_1000_chars(tmp_path, mode):
    """10 passes over the first 1000 chars: the notebook went 97.58 -> 65.68 (-33%).

    At the notebook's settings this run is chaotic: rounding differences of 1e-16
    grow about 1000-fold per pass (scan and unroll, or C and JAX, agree to 1e-9 per
    step but drift apart by pass 5), and single seeds end anywhere from -19% to -40%.
    So the -25% criterion is held by the median over three seeds.
    """
    ratios = []
    for seed in range(3):
        cfg = pytrnn.TrainConfig(
            limit_chars=1000,
            passes=10,
            seed=seed,
            mode=mode,
            checkpoint=str(tmp_path / f"c{seed}.npz"),
            sample_length=20,
        )
        result = train(pytrnn.RNNConfig(), cfg, reporter=PrintReporter(quiet=True))
        losses = [r["loss"] for r in result.history]
        assert len(losses) == 10 and [r["iseq"] for r in result.history][:2] == [38, 77]
        ratios.append(losses[-1] / losses[0])
    assert np.median(ratios) <= 0.75, ratios
