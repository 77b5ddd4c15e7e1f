"""Scoring held-out ids with a model, in the chunks training uses
(pytrnn.data.batches, ``RNN.score``): summed data loss over windows (each from
zero, or carrying the state from window to window) and the mean loss per word over
sentences. Training's validation and test figures and ``pytrnn eval`` share these.

Scoring runs batched, as wlm's evaluation does (``eval_batch_size`` 10), and in
calls as large as LOGITS_PER_CALL allows. Windows scored from zero go many to a call
as its columns (a power of two, so few shapes compile), the last partial one
left-padded under a mask: the figure is the one-window-at-a-time figure, summed in
another order. A model that carries its state scores its text as EVAL_STREAMS
contiguous streams, as wlm's ``batchify`` cuts it (the remainder of fewer than
EVAL_STREAMS tokens is left out, as there), each window starting from the state its
stream ended the last one with; with no gradient to stop, k such windows in a row
are one sequence of kL steps, so one call scores k of them. Sentences go
EVAL_SENTENCES to a call, left-padded to their bucket.
"""

from __future__ import annotations

import math

import numpy as np

from pytrnn.data.batches import carried_chunks, eval_streams, held_out_chunk
from pytrnn.data.words import bucket
from pytrnn.graphs.forward import state_shape


def pad_length(model, n: int) -> int | None:
    """The bucket a sequence of n steps is padded to, where the backend needs it."""
    return bucket(n) if model.static_shapes else None


EVAL_STREAMS = 10  # wlm's eval_batch_size
EVAL_SENTENCES = 32
LOGITS_PER_CALL = 1 << 22  # T x B x V of one scoring call: 16 MB of float32 logits, so
# the softmax stays in cache (4x that scored 100K tokens 2x slower here)
MAX_WINDOWS_IN_A_ROW = 32  # a carrying model's windows scored as one sequence


def _columns(L: int, V: int, n: int) -> int:
    """Windows per call: as many as the budget allows, a power of two, at most
    what n windows need."""
    fit = max(1, LOGITS_PER_CALL // (L * V))
    need = 1 << max(n - 1, 0).bit_length()
    return max(1, min(1 << (fit.bit_length() - 1), need))


def mean_word_loss(model, seqs) -> float:
    """Mean data loss per predicted word (END included) over (x, y) sentences,
    EVAL_SENTENCES of similar length per call."""
    order = sorted(range(len(seqs)), key=lambda k: len(seqs[k][0]))
    total, B = 0.0, min(EVAL_SENTENCES, len(seqs))
    for k in range(0, len(order), B):
        group = [seqs[i] for i in order[k : k + B]]
        n = max(len(x) for x, _ in group)
        T = pad_length(model, n) or n
        total += model.score(held_out_chunk(group, T, B, model.cfg.dtype))
    return total / sum(len(y) for _, y in seqs)


def perplexity(word_loss: float) -> float:
    return math.exp(word_loss) if word_loss < 709 else math.inf


def ppl_text(ppl: float) -> str:
    """A perplexity as it reads: two decimals, or past 1e6 in e-notation (6.62e+20)."""
    return f"{ppl:.2f}" if ppl < 1e6 else f"{ppl:.3g}"


def windows_loss(
    model, ids, L: int, carry: bool = False, streams: int = EVAL_STREAMS
) -> tuple[float, int]:
    """(summed data loss, tokens predicted) over consecutive windows of L from the
    first id, the last partial window included, each from h = 0 or, with
    ``carry``, in ``streams`` contiguous streams carrying their states."""
    return held_out(model, ids, range(0, len(ids) - 1, L), L, carry, streams)


def held_out(
    model, ids, starts, L: int, carry: bool = False, streams: int = EVAL_STREAMS
) -> tuple[float, int]:
    """(summed data loss, tokens predicted) of ``ids``: the windows at ``starts``
    (L long, or shorter at the end of ids) each from h = 0, or with ``carry`` the
    text as ``streams`` contiguous streams carrying their states."""
    if carry:
        return _carried(model, np.asarray(ids), L, streams)
    windows = cut_windows(ids, starts, L)
    B, total = _columns(L, model.cfg.vocab_size, len(windows)), 0.0
    for _, chunk in window_groups(ids, windows, L, B, model.cfg.dtype):
        total += model.score(chunk)
    return total, sum(n for _, n in windows)


def cut_windows(ids, starts, L: int) -> list[tuple[int, int]]:
    """(start, steps) of the windows at ``starts``: L, or fewer at the end of ids."""
    return [(i, min(L, len(ids) - 1 - i)) for i in starts]


def window_groups(ids, windows, L: int, B: int, dtype):
    """The windows in groups of B, each group one scoring call's chunk (a short
    window left-padded): (group, chunk) pairs."""
    for k in range(0, len(windows), B):
        group = windows[k : k + B]
        seqs = [(ids[i : i + n], ids[i + 1 : i + 1 + n]) for i, n in group]
        yield group, held_out_chunk(seqs, L, B, dtype)


def windows_in_a_row(model, L: int, E: int, n: int) -> int:
    """A carrying model's windows scored as one sequence (one call): as many as the
    logits budget allows; one for the unrolled mode, whose graph unrolls every
    step."""
    if model.mode == "unroll":
        return 1
    V = model.cfg.vocab_size
    return max(1, min(LOGITS_PER_CALL // (L * E * V), -(-(n - 1) // L),
                      MAX_WINDOWS_IN_A_ROW))  # fmt: skip


def _carried(model, ids, L, streams):
    """wlm's evaluate: the text cut into E contiguous streams (batchify), windows
    of L, each stream's state carried from window to window; k windows per call
    (one sequence of kL steps: without a gradient the windows' edges change
    nothing), the last call right-padded under the mask (its final state is never
    used)."""
    E, S = eval_streams(ids, L, streams)
    n = S.shape[1]
    T = windows_in_a_row(model, L, E, n) * L
    h = np.zeros(state_shape(model.cfg, E), model.cfg.dtype)
    total = 0.0
    for _, chunk in carried_chunks(S, T, model.cfg.dtype):
        loss, h = model.score(chunk, h)
        total += loss
    return total, E * (n - 1)
