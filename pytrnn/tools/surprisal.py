"""Per-token scores, as psycholinguists read a language model (vansky/neural-
complexity's ``--words``, cpllab/lm-zoo): for each scored token its surprisal
(-log2 p), the entropy of the distribution it was drawn from (bits), its rank in
that distribution (1: the most probable) and the top-N guesses.

Tokens are scored as ``pytrnn eval`` scores them (the same windows, streams,
carried states, sentences and cache), so their surprisals add up to its figure:
the states come from the compiled scoring program, every id's log-probability
from them through the output layer (pytrnn.graphs.readout.build_rows).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from pytrnn.data.batches import one
from pytrnn.graphs.forward import state_shape
from pytrnn.runtime.cache import Cache, mixed_rows, stream_pieces, with_history
from pytrnn.runtime.scoring import (
    cut_windows,
    pad_length,
    window_groups,
)

LN2 = math.log(2)
ROWS = 256  # states turned into distributions at once (ROWS x V log-probabilities)


def columns(guesses: int) -> list[str]:
    out = ["token", "surprisal", "entropy", "rank"]
    for g in range(1, guesses + 1):
        out += [f"guess{g}", f"p{g}"]
    return out


def stats(logp: np.ndarray, y: np.ndarray, guesses: int) -> list[tuple]:
    """(surprisal bits, entropy bits, rank, [(id, p)] * guesses) of each row of
    ``logp`` (N, V), log-probabilities, for its target ``y``."""
    logp = np.asarray(logp, np.float64)
    n = np.arange(len(y))
    own = logp[n, y]
    p = np.exp(logp)
    ent = -np.where(p > 0, p * logp, 0.0).sum(axis=1) / LN2
    rank = 1 + (logp > own[:, None]).sum(axis=1)
    top = np.argsort(-logp, axis=1, kind="stable")[:, :guesses]
    return [(-own[i] / LN2, ent[i], int(rank[i]),
             [(int(t), p[i, t]) for t in top[i]]) for i in n]  # fmt: skip


def _rows(model, top, y, guesses, mix=None):
    """stats() of top-layer states (N, H) in blocks of ROWS; ``mix(logp, a)``:
    the distribution scored instead, for the block of rows from a (the cache's)."""
    fn, out = model.programs.rows_function(), []
    top = np.asarray(top, model.cfg.dtype)
    for a in range(0, len(y), ROWS):
        logp = np.asarray(fn(top[a : a + ROWS]), np.float64)
        out += stats(logp if mix is None else mix(logp, a), y[a : a + ROWS], guesses)
    return out


def windows(model, ids, L, guesses, B=16):
    """eval's windows from h = 0 (consecutive, from the first id, the last partial
    one included): [(position, stats)], position the index of the scored id."""
    ids = np.asarray(ids)
    cut = cut_windows(ids, range(0, len(ids) - 1, L), L)
    out = []
    for group, chunk in window_groups(ids, cut, L, B, model.cfg.dtype):
        _, top, _ = model.states(chunk, np.zeros(state_shape(model.cfg, B)))
        for b, (i, n) in enumerate(group):  # left-padded: the last n steps
            rows = _rows(model, top[L - n :, b], ids[i + 1 : i + 1 + n], guesses)
            out += [(i + 1 + t, r) for t, r in enumerate(rows)]
    return out


def streams(model, ids, L, carry, n_streams, guesses, cache: Cache | None = None):
    """eval's streams (wlm's batchify; with the cache, or a model that carries its
    state): [(position, stats)] of every scored id, in the text's order. With the
    cache, the mixed distribution is the one scored."""
    pieces, E, n = stream_pieces(model, ids, L, carry, n_streams)
    out = []
    for _, top, y, hist_h, hist_y, seen in with_history(pieces, _window(cache)):
        for e in range(E):
            mix = None if cache is None else partial(mixed_rows, hist_h=hist_h[:, e], hist_y=hist_y[:, e],
                                    chunk_h=top[:, e], chunk_y=y[:, e], seen=seen,
                                    cache=cache)  # fmt: skip
            rows = _rows(model, top[:, e], y[:, e], guesses, mix)
            out += [(e * n + seen + t + 1, r) for t, r in enumerate(rows)]
    return sorted(out, key=lambda r: r[0])


def _window(cache: Cache | None) -> int:
    return cache.window if cache else 0  # no cache: no history kept


def adapted(segs, guesses, cache: Cache | None = None):
    """[(position, stats)] of one stream from dynamic evaluation's segments
    (pytrnn.runtime.dynamic.segments with ``rows``), each scored before its step;
    with the cache, its mixture of the adapted distribution."""
    pieces = ((err, top, y, logp) for _, _, err, top, y, logp in segs)
    out = []
    for _, top, y, logp, hist_h, hist_y, seen in with_history(pieces, _window(cache)):
        top, y, logp = top[:, 0], y[:, 0], logp.astype(np.float64)
        if cache:
            logp = mixed_rows(logp, 0, hist_h[:, 0], hist_y[:, 0], top, y, seen, cache)
        out += [(seen + t + 1, r) for t, r in enumerate(stats(logp, y, guesses))]
    return out


def sentence(model, x, y, h0, guesses):
    """One sequence from the state h0 (S, H): (its rows' stats, the state after
    its last step)."""
    m = len(x)
    T = pad_length(model, m) or m
    X, Y = np.zeros((T, 1), np.int32), np.zeros((T, 1), np.int32)
    M = np.zeros((T, 1), model.cfg.dtype)
    X[:m, 0], Y[:m, 0], M[:m] = x, y, 1  # right-padded: the state ends at m
    chunk = one(X, Y, M, m, 1, model.cfg.dtype)
    _, top, h = model.states(chunk, np.asarray(h0)[:, None])
    return _rows(model, top[:m, 0], np.asarray(y), guesses), h[:, 0]


def shown(symbol: str) -> str:
    """A token as one TSV field: tabs and line ends written as escapes."""
    return symbol.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def tsv(rows, symbols, guesses: int, keys: tuple[str, ...]) -> list[str]:
    """The header and one line per (key values, target id, stats) row."""
    lines = ["\t".join([*keys, *columns(guesses)])]
    for key, y, (s, e, rank, top) in rows:
        guess = [f for t, p in top for f in (shown(symbols[t]), f"{p:.6g}")]
        fields = [*map(str, key), shown(symbols[y]), f"{s:.6f}", f"{e:.6f}", str(rank)]
        lines.append("\t".join(fields + guess))
    return lines


def scored_rows(model, ck, ids, L, carry, n_streams, guesses, cache=None):
    """(position,), target, stats of every id ``pytrnn eval`` scores in ``ids``."""
    ids = np.asarray(ids)
    if cache is not None or carry:
        got = streams(model, ids, L, carry, n_streams, guesses, cache)
    else:
        got = windows(model, ids, L, guesses)
    return [((pos,), int(ids[pos]), r) for pos, r in got]


def sentence_rows(model, seqs, guesses, carry=False):
    """(sentence, position), target, stats of (x, y) sequences, each from the
    initial state or, with ``carry``, from where the one before ended."""
    h = zeros = np.zeros(state_shape(model.cfg, 1), model.cfg.dtype)[:, 0]
    out = []
    for k, (x, y) in enumerate(seqs):
        rows, h = sentence(model, x, y, h if carry else zeros, guesses)
        out += [((k, j), int(t), r) for j, (t, r) in enumerate(zip(y, rows))]
    return out


def score_lines(checkpoint, lines, carry: bool, guesses: int, backend=None):
    """``pytrnn score``: the TSV lines of each non-empty line's tokens, scored as
    a sentence from the initial state (or, with ``carry``, from where the one
    before ended). Word level: its words (``<unk>`` for unknown ones), then the
    end of line, after the token a sentence follows; char level: its characters
    and a line end, the first predicted from the line before with ``carry``
    (else unscored: nothing came before it)."""
    from pytrnn.data.corpora import Vocab
    from pytrnn.data.words import read_units
    from pytrnn.errors import ConfigError
    from pytrnn.tools.generate import load_model, sentence_start, word_vocab

    if guesses < 0:
        raise ConfigError(f"--guesses must be 0 or more, got {guesses}")
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise ConfigError("no sentences to score: give one per line")
    model, ck = load_model(checkpoint, backend)
    seqs = []
    if ck.level == "word":
        vocab, start = word_vocab(ck), sentence_start(ck)
        for ln in lines:
            words = [
                w for u in read_units(ln, ck.run.tokenizer, ck.run.lower) for w in u
            ]
            ids = vocab.ids(words)
            if None in ids:  # a vocabulary without <unk>
                unknown = sorted({w for w, i in zip(words, ids) if i is None})
                raise ConfigError(f"words outside the vocabulary: {', '.join(unknown)}")
            seqs.append(([start, *ids], [*ids, vocab.end_id]))
    else:
        vocab, last = Vocab(tuple(ck.vocab)), None
        for ln in lines:
            ids, _ = vocab.encode_known(ln + "\n")
            ids = list(ids)
            if carry and last is not None:
                seqs.append(([last, *ids[:-1]], ids))
            elif len(ids) > 1:
                seqs.append((ids[:-1], ids[1:]))
            last = ids[-1] if ids else last
    rows = sentence_rows(model, seqs, guesses, carry)
    return tsv(rows, ck.vocab, guesses, ("sentence", "position"))
