"""Every layout's training steps in one shape, the ``Chunk``, cut in one room.

A chunk is K windows of T steps of B streams: ids X, Y (K, T, B), or (K, T) for the
notebook's one unbatched stream; a 0/1 mask like X where windows are padded (groups
of left-padded sentences, ``--variable-bptt``'s right-padded windows); a weight per
window (0 for the copies that pad a pass's last chunk to the compiled K; AWD's rate
scale, length / --window, for variable windows); and the tokens each real window
scores. A fused chunk trains in one compiled call; any other is one window (K = 1)
that trains through the window's own program, as the notebook's loop did, with
``rate`` its rate scale where it has one. ``RNN.train`` takes every chunk.

The layouts: the notebook's windows of a stream (char level, word stream), AWD's
variable windows, and groups of sentences (one sentence, B of one length, or K
such groups of one bucket).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytrnn.choices import VARIABLE_BPTT_BUCKET, VARIABLE_BPTT_MIN, VARIABLE_BPTT_SD
from pytrnn.data.words import bucket
from pytrnn.errors import CorpusError


def window_starts(
    n: int, window: int, unit: str = "chars", every: bool = False
) -> np.ndarray:
    """The notebook's windows: x = data[i:i+L], y = data[i+1:i+1+L], stride L.

    The first window is always trained; a pass ends when ``i + 1 + L >= n``.
    ``every``: every window word_language_model's ``get_batch`` cuts, ``i < n - 1``,
    the last of ``min(L, n - 1 - i)`` steps (``window_chunks`` cuts it so).
    """
    if n < window + 1:
        raise CorpusError(
            f"the text has {n} {unit}, fewer than window+1 = {window + 1}: "
            f"use a longer corpus or a smaller --window"
        )
    if every:
        return np.arange(0, n - 1, window, dtype=np.int64)
    last = (n - window - 2) // window  # largest k >= 1 with k*L + 1 + L < n
    return np.arange(0, max(last, 0) + 1, dtype=np.int64) * window


def variable_windows(n: int, bptt: int, rng, unit: str = "tokens") -> np.ndarray:
    """AWD-LSTM's training windows over a stream of n: from i = 0 while
    i < n - 2, a length of bptt with probability 0.95 (else bptt / 2), then
    ``max(VARIABLE_BPTT_MIN, int(N(that, VARIABLE_BPTT_SD)))``, cut to what is left
    (n - 1 - i); i moves on by the drawn length. (start, length) rows, drawn from
    ``rng`` (the seed and the pass: a resumed run draws the same)."""
    window_starts(n, bptt, unit)  # too short a text: the same one error
    out, i = [], 0
    while i < n - 1 - 1:
        base = bptt if rng.random() < 0.95 else bptt / 2.0
        seq_len = max(VARIABLE_BPTT_MIN, int(rng.normal(base, VARIABLE_BPTT_SD)))
        out.append((i, min(seq_len, n - 1 - i)))
        i += seq_len
    return np.asarray(out, dtype=np.int64)


def stack_variable(streams: np.ndarray, windows, pad_to: int):
    """X, Y, M (K, T, B) for (start, length) windows of every stream, each
    right-padded to T = ``pad_to`` under the 0/1 mask M."""
    K, B = len(windows), streams.shape[0]
    X = np.zeros((K, pad_to, B), np.int32)
    Y = np.zeros((K, pad_to, B), np.int32)
    M = np.zeros((K, pad_to, B))
    for k, (i, n) in enumerate(windows):
        X[k, :n], Y[k, :n], M[k, :n] = (
            streams[:, i : i + n].T,
            streams[:, i + 1 : i + 1 + n].T,
            1,
        )
    return X, Y, M


def split_streams(data: np.ndarray, batch: int) -> np.ndarray:
    """B contiguous streams (B, S), as karpathy's char-rnn; B = 1 is the whole text."""
    S = len(data) // batch
    return data[: S * batch].reshape(batch, S)


def stack_windows(streams: np.ndarray, starts, window: int):
    """X, Y for windows at ``starts`` of every stream: (K, L, B), or (K, L) for B = 1."""
    offs = np.asarray(starts)[:, None] + np.arange(window)[None, :]  # (K, L)
    X = streams[:, offs].transpose(1, 2, 0)
    Y = streams[:, offs + 1].transpose(1, 2, 0)
    if streams.shape[0] == 1:
        return X[..., 0], Y[..., 0]
    return X, Y


@dataclass
class Chunk:
    X: np.ndarray
    Y: np.ndarray
    M: np.ndarray | None  # 0/1 like X, or None
    weights: np.ndarray  # (K,)
    units: list  # tokens each real window scores, over its streams
    streams: int  # B: a window's data loss is the mean over its streams
    fused: bool = True  # one call for all K; else K = 1 through the window's program
    rate: float | None = None  # one window of --variable-bptt: its rate scale
    # a fused chunk of masked groups that a backend without fused groups trains one
    # group a call (the same steps, the masks of the chunk's one draw)
    each: bool = False
    # windows per compiled call of a fused chunk (None: all K in one): the same steps
    # under the chunk's one draw of masks, so a bar or --log-interval can follow them
    calls: int | None = None

    @property
    def n(self) -> int:
        """The real windows; the rest (weight 0) pad the chunk to its K."""
        return len(self.units)

    def pieces(self) -> list[slice]:
        """The windows of each call: ``calls`` or fewer, near-even (two lengths at
        most, so two compiled shapes)."""
        K = len(self.weights)
        n = 1 if not self.calls or self.calls >= K else -(-K // self.calls)
        return [slice(K * i // n, K * (i + 1) // n) for i in range(n)]

    def part(self, s: slice) -> tuple:
        """The windows ``s``: their X, Y, weights and mask (None without one)."""
        M = None if self.M is None else self.M[s]
        return self.X[s], self.Y[s], self.weights[s], M


def padded(rows, K: int):
    """The real rows of a pass's last chunk, then weight-0 copies of them up to K
    (the compiled shape): np.resize's cycle, one rule for every layout."""
    return np.resize(np.asarray(rows), (K, *np.shape(rows)[1:]))


def real(n: int, K: int, dtype) -> np.ndarray:
    return (np.arange(K) < n).astype(dtype)


def one(X, Y, M, units: int, streams: int, dtype, rate=None) -> Chunk:
    """A window through its own program (K = 1)."""
    return Chunk(X[None], Y[None], None if M is None else M[None], np.ones(1, dtype),
                 [units], streams, fused=False, rate=rate)  # fmt: skip


def window_chunks(streams, starts, L: int, K: int, fused: bool, dtype) -> list:
    """The notebook's windows at ``starts`` of the B streams (B, S): one chunk of
    K, or each its own (unbatched for one stream, as the notebook's loop). A last
    window shorter than L (wlm's, ``window_starts(every=True)``) is a chunk of its
    own, of that length."""
    B, S = streams.shape
    if len(starts) and starts[-1] + L > S - 1:
        r, head = S - 1 - int(starts[-1]), starts[:-1]
        full = window_chunks(streams, head, L, K, fused, dtype) if len(head) else []
        return full + window_chunks(streams, starts[-1:], r, 1, fused, dtype)
    if not fused:
        d = streams[0]
        return [
            one(d[i : i + L], d[i + 1 : i + 1 + L], None, L, 1, dtype) for i in starts
        ]
    X, Y = stack_windows(streams, padded(starts, K), L)
    return [Chunk(X, Y, None, real(len(starts), K, dtype), [L * B] * len(starts), B)]


def variable_length(n: int) -> int:
    """--variable-bptt: a window of n steps is padded to a multiple of the bucket."""
    return -(-n // VARIABLE_BPTT_BUCKET) * VARIABLE_BPTT_BUCKET


def variable_chunks(streams, wins, L: int, K: int, fused: bool, dtype) -> list:
    """AWD's (start, length) windows, right-padded to a bucket under their mask, the
    rate scaled by length / --window (AWD's ``lr * seq_len / bptt``): per window,
    or in a chunk as each window's weight."""
    B = streams.shape[0]
    if not fused:
        out = []
        for i, k in wins:
            X, Y, M = stack_variable(streams, [(i, k)], variable_length(k))
            out.append(one(X[0], Y[0], M[0], int(k) * B, B, dtype, rate=k / L))
        return out
    full = padded(wins, K)
    X, Y, M = stack_variable(streams, full, variable_length(int(wins[:, 1].max())))
    w = np.where(np.arange(K) < len(wins), full[:, 1] / L, 0.0).astype(dtype)
    return [Chunk(X, Y, M, w, [int(k) * B for k in wins[:, 1]], B)]


def left_pad(x, y, length: int, dtype: str):
    """Pad (x, y) on the left to ``length`` with id 0 and return them with the 0/1 mask."""
    n = len(x)
    xp = np.zeros(length, dtype=np.int32)
    yp = np.zeros(length, dtype=np.int32)
    mask = np.zeros(length, dtype=dtype)
    xp[length - n :], yp[length - n :], mask[length - n :] = x, y, 1
    return xp, yp, mask


def pad_sentences(seqs, T: int, dtype, columns: int | None = None):
    """B (x, y) sentences left-padded to T: X, Y and the mask (T, B); ``columns``:
    that many, the ones past the sentences empty (mask 0)."""
    cols = [left_pad(x, y, T, dtype) for x, y in seqs]
    X, Y, M = (np.stack(a, axis=1) for a in zip(*cols))
    extra = (columns or len(seqs)) - len(seqs)
    if extra > 0:
        X, Y, M = (np.pad(a, ((0, 0), (0, extra))) for a in (X, Y, M))
    return X, Y, M


def sentence_chunks(groups, static: bool, dtype, K=None, each=False) -> list:
    """Groups of (x, y) sentences: each group one step of its B sentences, left-
    padded to their bucket (to the longest where one graph serves any length).
    ``K``: the groups (all of one bucket) in one chunk of K, trained ``each`` a call
    where the backend cannot fuse them."""
    words = [sum(len(y) for _, y in g) for g in groups]
    if K is not None:
        T = bucket(max(len(x) for g in groups for x, _ in g))
        stacked = [pad_sentences(g, T, dtype) for g in groups]
        X, Y, M = (padded(np.stack(a), K) for a in zip(*stacked))
        w = real(len(groups), K, dtype)
        return [Chunk(X, Y, M, w, words, X.shape[2], each=each)]
    out = []
    for g, n in zip(groups, words):
        T = max(len(x) for x, _ in g)
        X, Y, M = pad_sentences(g, bucket(T) if static else T, dtype)
        out.append(one(X, Y, M, n, len(g), dtype))
    return out


def sentence_steps(seqs, static: bool, dtype) -> list:
    """One unbatched sentence a step (the notebook's view, (T,)), left-padded to its
    bucket only where the backend needs one."""
    out = []
    for x, y in seqs:
        if static:
            out.append(one(*left_pad(x, y, bucket(len(x)), dtype), len(y), 1, dtype))
        else:
            xx, yy = np.asarray(x, np.int32), np.asarray(y, np.int32)
            out.append(one(xx, yy, None, len(y), 1, dtype))
    return out


def held_out_chunk(seqs, T: int, columns: int, dtype) -> Chunk:
    """Held-out (x, y) sequences left-padded to T in ``columns`` streams (the ones
    past the sequences empty, so a last, smaller call keeps the compiled shape): one
    scoring call's chunk."""
    X, Y, M = pad_sentences(seqs, T, dtype, columns)
    return one(X, Y, M, sum(len(y) for _, y in seqs), X.shape[1], dtype)


def eval_streams(ids, L: int, streams: int):
    """Held-out ids as E contiguous streams (wlm's ``batchify``: E = ``streams``,
    fewer for a short text; the remainder of fewer than E tokens left out): E and
    the stream (E, n)."""
    E = max(1, min(streams, (len(ids) - 1) // max(L, 1)))
    n = len(ids) // E
    return E, np.asarray(ids)[: n * E].reshape(E, n)


def carried_chunks(S, T: int, dtype):
    """The streams S (E, n) from their first position in chunks of T steps, each
    one window of E streams, the last right-padded under its mask: (real steps,
    chunk) pairs."""
    E, n = S.shape
    for i in range(0, n - 1, T):
        m = min(T, n - 1 - i)
        X, Y = np.zeros((T, E), np.int32), np.zeros((T, E), np.int32)
        M = np.zeros((T, E), dtype)
        X[:m], Y[:m], M[:m] = S[:, i : i + m].T, S[:, i + 1 : i + 1 + m].T, 1
        yield m, one(X, Y, M, E * m, E, dtype)
