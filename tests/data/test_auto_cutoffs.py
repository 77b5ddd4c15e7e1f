"""--cutoffs auto: the adaptive softmax's head to 80% of the training tokens, the
first cluster to 95% (the benchmarks' rule), decided once from the text and said."""

import numpy as np
import pytest

import pytrnn
from pytrnn.data.words import auto_cutoffs, coverage_line
from pytrnn.errors import ConfigError
from pytrnn.training.loop import Data
from pytrnn.training.run import settle_cutoffs


def test_auto_cutoffs_cover_80_and_95_percent():
    counts = np.array([50, 20, 10, 5, 5, 4, 3, 2, 1])  # 100 tokens, ids by frequency
    assert auto_cutoffs(counts) == "3,7"  # 50+20+10 = 80; +5+5+4 = 94 < 95 <= 97
    cum = np.cumsum(counts) / counts.sum()
    head, first = (int(c) for c in auto_cutoffs(counts).split(","))
    assert (
        cum[head - 1] >= 0.8 > cum[head - 2] and cum[first - 1] >= 0.95 > cum[first - 2]
    )
    assert auto_cutoffs([90, 5, 5]) == "1,2"  # never 0 nor V


def test_settle_cutoffs_decides_auto_and_says_the_coverage():
    lines = []

    class Rep:
        line = staticmethod(lines.append)

    cfg = pytrnn.RNNConfig(softmax="adaptive", cutoffs="auto", hidden=8).validate(
        vocab_known=False
    )
    counts = np.array([50, 20, 10, 5, 5, 4, 3, 2, 1])
    data = Data("c", None, None, None, "", lambda: counts)
    got = settle_cutoffs(cfg, data, Rep)
    assert got.cutoffs == "3,7"
    assert replace_vocab(got).cutoff_list == (3, 7, 9)
    assert lines == [coverage_line(counts, "3,7")]
    assert "head ids 0-2: 80.0%" in lines[0] and "cluster 2 ids 7-8: 3.0%" in lines[0]
    typed = settle_cutoffs(
        cfg.__class__(**{**cfg.to_dict(), "cutoffs": "2"}), data, Rep
    )
    assert typed.cutoffs == "2" and "head ids 0-1: 70.0%" in lines[-1]


def replace_vocab(cfg):
    from dataclasses import replace

    return replace(cfg, vocab_size=9).validate()


def test_auto_is_never_a_model_of_its_own():
    cfg = pytrnn.RNNConfig(softmax="adaptive", cutoffs="auto", vocab_size=50)
    with pytest.raises(ConfigError, match="auto is decided from the training text"):
        cfg.validate()
