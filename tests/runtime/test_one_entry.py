"""``RNN.train(chunk)`` is the one way a model trains: the notebook's names
(``train_on_seq``, ``train_step``) and the others (``train_sentences``,
``train_masked``, ``train_windows``) are calls into it, and so is every layout's
loop (pytrnn.data.batches cuts their chunks). Held-out scoring goes through
``RNN.score(chunk)`` the same way."""

import numpy as np
import pytest

import pytrnn
from pytrnn.runtime.model import RNN
from pytrnn.runtime.programs import Programs


def counting(entry, calls: list, inside: list):
    """``entry``, recording each chunk it is given and whether a call is inside it."""

    def counted(self, chunk, *a, **kw):
        calls.append(chunk)
        inside.append(True)
        try:
            return entry(self, chunk, *a, **kw)
        finally:
            inside.pop()

    return counted


@pytest.fixture
def entries(monkeypatch):
    """Count the calls of RNN.train, and fail any compiled training step reached
    without it."""
    calls, inside = [], []
    step = RNN._train

    def guarded(self, *a, **kw):
        assert inside, "a training step outside RNN.train"
        return step(self, *a, **kw)

    monkeypatch.setattr(RNN, "train", counting(RNN.train, calls, inside))
    monkeypatch.setattr(RNN, "_train", guarded)
    return calls


@pytest.fixture
def scores(monkeypatch):
    """Count the calls of RNN.score (and of RNN.states, the cache's), and fail any
    held-out loss program reached without them."""
    calls, inside = [], []
    sequence = Programs.sequence

    def guarded(self, kind, *a, **kw):
        if kind in ("loss", "carried_loss", "states"):
            assert inside, "held-out scoring outside RNN.score"
        return sequence(self, kind, *a, **kw)

    monkeypatch.setattr(RNN, "score", counting(RNN.score, calls, inside))
    monkeypatch.setattr(RNN, "states", counting(RNN.states, calls, inside))
    monkeypatch.setattr(Programs, "sequence", guarded)
    return calls


def test_the_notebooks_names_are_calls_into_train(entries):
    m = RNN(
        pytrnn.RNNConfig(vocab_size=7, hidden=4, window=5), mode="scan", backend="jax"
    )
    x, y = np.arange(5) % 7, (np.arange(5) + 1) % 7
    m.train_on_seq(x, y)
    m.train_step(x, y, pad_to=8)
    m.train_sentences([(x, y), (x[:3], y[:3])])
    m.train_masked(np.stack([x, x], 1), np.stack([y, y], 1), np.ones((5, 2)))
    m.train_windows(np.stack([x, x]), np.stack([y, y]))
    assert [c.X.shape for c in entries] == [
        (1, 5),
        (1, 8),
        (1, 5, 2),
        (1, 5, 2),
        (2, 5),
    ]
    assert [c.fused for c in entries] == [False] * 4 + [True]


@pytest.mark.parametrize(
    "kw",
    [
        {"level": "char", "fuse": 1},  # the notebook's loop: one window a call
        {"level": "char", "batch": 2},  # a fused chunk of two streams
        {"level": "word", "layout": "sentences", "batch": 2, "fuse": 1},
        {"level": "word", "layout": "stream", "batch": 2},
    ],
)
def test_every_layout_trains_and_scores_through_it(entries, scores, kw, tmp_path):
    cfg = pytrnn.TrainConfig(
        val_frac=0.2,
        test_frac=0.1,
        limit_chars=4000 if kw["level"] == "word" else 600,
        passes=1,
        sample_length=0,
        backend="jax",
        checkpoint=str(tmp_path / "r.npz"),
        **kw,
    )
    r = pytrnn.train(pytrnn.RNNConfig(hidden=4, window=10), cfg)
    assert len(entries) > 0 and len(scores) > 0
    assert [c.X.ndim for c in scores] == [3] * len(scores)  # (1, T, B) each
    assert r.test is not None and r.best_path is not None  # test and validation


def test_carried_and_cached_scoring_go_through_chunks(scores):
    """wlm's evaluate (streams carrying their states) and the neural cache score
    through RNN.score and RNN.states, chunk by chunk."""
    from pytrnn.runtime.cache import Cache, cache_loss
    from pytrnn.runtime.scoring import windows_loss

    m = RNN(
        pytrnn.RNNConfig(vocab_size=7, hidden=4, window=5), mode="scan", backend="jax"
    )
    ids = np.arange(60) % 7
    windows_loss(m, ids, 5, carry=True, streams=3)
    n = len(scores)
    assert n > 0
    cache_loss(m, ids, 5, Cache(window=4, theta=0.5, lam=0.1), True, 3)
    assert len(scores) > n
