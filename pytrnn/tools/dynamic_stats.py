"""Dynamic evaluation from a checkpoint file: the gradient statistics of its
training text, computed once and kept beside it in a side file keyed by its
parameters' digest (``X.npz.dynstats-<digest>-w<N>-b<batches>.npz``), then the
adapted score (pytrnn.runtime.dynamic)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pytrnn.config import TrainConfig
from pytrnn.errors import ConfigError
from pytrnn.files import atomic_write
from pytrnn.runtime.cache import check_fits, mixed_total
from pytrnn.runtime.checkpoint import params_digest
from pytrnn.runtime.dynamic import dynamic_loss, gradient_stats, segments


def training_ids(ck) -> np.ndarray:
    """The checkpoint's training text as its run read it, as ids (its held-out
    share of a single file left out)."""
    from pytrnn.data.corpora import Vocab, load_texts
    from pytrnn.data.words import read_units, stream_ids
    from pytrnn.tools.generate import word_vocab

    train = ck.run.train
    try:
        texts = load_texts(train.get("corpus"), train.get("valid"), train.get("test"),
                           limit=train.get("limit_chars"))  # fmt: skip
    except Exception as e:
        raise ConfigError(
            f"dynamic evaluation needs the model's training text for its gradient "
            f"statistics, and it cannot be read ({e})"
        )
    if ck.level == "word":
        vocab = word_vocab(ck)
        units = read_units(texts.train, ck.run.tokenizer, ck.run.lower)
        ids = stream_ids(vocab, units)
    else:
        ids, _ = Vocab(tuple(ck.vocab)).encode_known(texts.train)
    run = TrainConfig(level=ck.level, val_frac=train.get("val_frac"),
                      test_frac=train.get("test_frac") or 0.0)  # fmt: skip
    held = (run.resolved_val_frac if texts.valid is None else 0.0) + (
        run.test_frac if texts.test is None else 0.0
    )
    return np.asarray(ids)[: len(ids) - int(len(ids) * held)]


def stats_for(model, ck, checkpoint, window: int, batches) -> dict:
    """MS of every parameter, from the side file when it was computed before."""
    key = f"{params_digest(ck.params)[:16]}-w{window}-b{batches or 'all'}"
    side = Path(f"{checkpoint}.dynstats-{key}.npz")
    if side.is_file():
        with np.load(side, allow_pickle=False) as z:
            return {k: np.array(z[k]) for k in z.files}

    def progress(n, total):
        if n == total or n % 200 == 0:
            print(f"\rgradient statistics: {n}/{total} windows", end="",
                  file=sys.stderr, flush=True)  # fmt: skip

    ms = gradient_stats(model, training_ids(ck), window, batches, progress)
    print(file=sys.stderr)
    atomic_write(side, lambda f: np.savez(f, **ms))
    return ms


def adapted_loss(model, ck, checkpoint, ids, dyn, cache=None) -> tuple[float, int]:
    """(summed -log p(y), tokens predicted) of ``ids`` under dynamic evaluation,
    with the neural cache mixed into the adapted model's distribution where
    given (the text is one stream, so it is that stream's cache)."""
    ms = stats_for(model, ck, checkpoint, dyn.window, dyn.stats_batches)
    if cache is None:
        return dynamic_loss(model, ids, dyn, ms)
    check_fits(cache, len(ids), 1)
    segs = segments(model, ids, dyn, ms, keep=True)
    return mixed_total((s[2:5] for s in segs), cache), len(ids) - 1


def adapted_rows(model, ck, checkpoint, ids, dyn, guesses, cache=None):
    """``pytrnn eval --per-token`` under dynamic evaluation: [(position, stats)]
    of every scored id (pytrnn.tools.surprisal.adapted)."""
    from pytrnn.tools.surprisal import adapted

    ms = stats_for(model, ck, checkpoint, dyn.window, dyn.stats_batches)
    if cache is not None:
        check_fits(cache, len(ids), 1)
    return adapted(segments(model, ids, dyn, ms, rows=True), guesses, cache)
