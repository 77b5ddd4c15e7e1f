"""Scoring held-out ids with a model: summed data loss over windows (each from
zero, or carrying the state from window to window) and the mean loss per word over
sentences. Training's validation and test figures and ``pytrnn eval`` share these.
"""

from __future__ import annotations

import math

import numpy as np

from pytrnn.data.words import bucket
from pytrnn.graphs.forward import state_shape


def pad_length(model, n: int) -> int | None:
    """The bucket a sequence of n steps is padded to, where the backend needs it."""
    return bucket(n) if model.static_shapes else None


def mean_word_loss(model, seqs) -> float:
    """Mean data loss per predicted word (END included) over (x, y) sentences."""
    total = sum(model.seq_loss(x, y, pad_to=pad_length(model, len(x)))[1] for x, y in seqs)
    return total / sum(len(y) for _, y in seqs)


def perplexity(word_loss: float) -> float:
    return math.exp(word_loss)


def windows_loss(model, ids, L: int, carry: bool = False) -> float:
    """Summed data loss over consecutive windows of L from the first id, the last
    partial window included, each from h = 0 or, with ``carry``, from the state the
    window before it ended with."""
    return held_out_sum(model, ids, range(0, len(ids) - 1, L), L, carry)


def held_out_sum(model, ids, starts, L: int, carry: bool = False) -> float:
    """Summed data loss over the windows of ``ids`` at ``starts`` (L long, or
    shorter at the end of ids), in order: each from h = 0, or with ``carry`` from
    the state the window before it ended with (the first from zero)."""
    h = np.zeros(state_shape(model.cfg), model.cfg.dtype) if carry else None
    total = 0.0
    for i in starts:
        x, y = ids[i:i + L], ids[i + 1:i + 1 + L]
        x = x[:len(y)]  # the last window may be partial
        if carry:
            loss, h = model.carried_loss(x, y, h)
        else:
            loss = model.seq_loss(x, y)[1]
        total += loss
    return total
