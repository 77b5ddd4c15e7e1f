"""The neural cache at evaluation (Grave, Joulin and Usunier 2017; AWD-LSTM's
``pointer.py``): the model's distribution mixed with one over the words that
followed the last W positions, weighted by how alike their top-layer states are:

    p_cache(w) = sum over the last W positions i whose next token is w of
                 softmax_i(theta * h_t . h_i),
    p(w) = (1 - lambda) p_model(w) + lambda p_cache(w).

The text is scored as held-out scoring scores a stream (pytrnn.runtime.scoring):
cut into contiguous streams, each with its own cache, k windows of L per call
(a model that does not carry its state scores each window from h = 0, one per
call). A position uses the cache once W positions of its stream lie behind it;
before that, the model alone. Only p(y) is needed, so the host computes it from
the model's -log p_model(y) and the states, in blocks of positions.

Two differences from pointer.py, both to make the figure independent of how the
text is cut into calls: pointer.py starts the cache one position later (its
``start_idx + idx > window``), and after its first batch skips the cache at the
first position of every batch (its history is trimmed to W before the index is
taken).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytrnn.data.batches import carried_chunks, eval_streams
from pytrnn.errors import ConfigError
from pytrnn.graphs.forward import state_shape

BLOCK = 128  # positions whose attention is computed at once (memory: BLOCK x W x E)


@dataclass(frozen=True)
class Cache:
    window: int  # W: positions kept
    theta: float  # the attention's sharpness
    lam: float  # the cache's weight in the mixture

    def validate(self) -> Cache:
        if self.window < 1:
            raise ConfigError(f"--cache-window must be at least 1, got {self.window}")
        if not 0 <= self.lam < 1:
            raise ConfigError(
                f"--cache-lambda must be in [0, 1): at 1 a word the cache "
                f"has not seen gets probability 0; got {self.lam}"
            )
        if not np.isfinite(self.theta):
            raise ConfigError(f"--cache-theta must be a number, got {self.theta}")
        return self


def mixed_errors(errors, top, hist_h, hist_y, y, seen, cache: Cache) -> np.ndarray:
    """-log p(y) of m positions of E streams: ``errors`` (m, E) the model's
    -log p_model(y), ``top`` (m, E, H) their states, ``hist_h`` (W, E, H) and
    ``hist_y`` (W, E) the W positions before them (their states and next tokens),
    ``y`` (m, E) the targets, ``seen`` how many positions of the streams came
    before these."""
    W, m = cache.window, errors.shape[0]
    H = np.concatenate([hist_h, top], axis=0)  # (W + m, E, Hd)
    N = np.concatenate([hist_y, y], axis=0)  # (W + m, E)
    out = errors.astype(np.float64).copy()
    for a in range(0, m, BLOCK):
        b = min(a + BLOCK, m)
        t = np.arange(a, b)
        use = seen + t >= W  # a full window behind it
        if not use.any():
            continue
        # position t's window: H[t .. t + W - 1] (the W positions before it)
        G = np.einsum("teh,seh->tse", top[a:b], H[a : b + W - 1])  # (bt, bt + W - 1, E)
        idx = (t - a)[:, None] + np.arange(W)[None, :]  # (bt, W)
        logits = cache.theta * np.take_along_axis(
            G, idx[..., None], axis=1
        )  # (bt, W, E)
        logits -= logits.max(axis=1, keepdims=True)
        attn = np.exp(logits)
        attn /= attn.sum(axis=1, keepdims=True)
        hits = (
            N[a + idx] == y[a:b][:, None, :]
        )  # (bt, W, E): that position's next is y_t
        p_cache = (attn * hits).sum(axis=1)  # (bt, E)
        p = (1 - cache.lam) * np.exp(-out[a:b]) + cache.lam * p_cache
        out[a:b] = np.where(use[:, None], -np.log(p), out[a:b])
    return out


def check_fits(cache: Cache, n: int, E: int) -> None:
    """Refuse a window no position of E streams of n tokens would have behind it."""
    if cache.window >= n - 1:
        raise ConfigError(
            f"--cache-window {cache.window} is not shorter than the "
            f"{n - 1} positions of each of the text's {E} streams: the "
            f"cache would never be used; pick a smaller window (or a "
            f"smaller --batch: longer streams)"
        )


def stream_pieces(model, ids, L: int, carry: bool, streams: int):
    """(the cache's inputs chunk by chunk, E, n): ``ids`` as ``streams``
    contiguous streams of n tokens (wlm's batchify, as held-out scoring cuts it),
    windows of L, each from its stream's carried state or, without ``carry``,
    from zero; per chunk -log p_model(y) (m, E), the top-layer states (m, E, H)
    and the targets (m, E)."""
    from pytrnn.runtime.scoring import windows_in_a_row

    E, S = eval_streams(ids, L, streams)
    n = S.shape[1]
    k = windows_in_a_row(model, L, E, n) if carry else 1
    zeros = np.zeros(state_shape(model.cfg, E), model.cfg.dtype)

    def pieces():
        h = zeros
        for m, chunk in carried_chunks(S, k * L, model.cfg.dtype):
            errors, top, h = model.states(chunk, h if carry else zeros)
            yield errors[:m], top[:m], chunk.Y[0, :m].astype(np.int64)

    return pieces(), E, n


def with_history(pieces, window: int):
    """Consecutive pieces (errors, top, y, ...) of E streams, each with the
    ``window`` positions of its streams before it: (errors, top as float64, y,
    the rest, hist_h (W, E, H), hist_y (W, E), positions seen before). A position
    before the first has no state and no next token (-1: never a hit)."""
    seen, hist_h, hist_y = 0, None, None
    for errors, top, y, *rest in pieces:
        top = np.asarray(top, np.float64)
        if hist_h is None:
            hist_h = np.zeros((window, *top.shape[1:]))
            hist_y = np.full((window, *y.shape[1:]), -1, np.int64)
        yield errors, top, y, *rest, hist_h, hist_y, seen
        hist_h = np.concatenate([hist_h, top], axis=0)[len(top) :]
        hist_y = np.concatenate([hist_y, y], axis=0)[len(y) :]
        seen += len(y)


def mixed_total(pieces, cache: Cache) -> float:
    """The summed -log p(y) of consecutive pieces (errors, top, y) of E streams
    under the cache, each stream's history carried from piece to piece."""
    total = 0.0
    for errors, top, y, hist_h, hist_y, seen in with_history(pieces, cache.window):
        total += mixed_errors(errors, top, hist_h, hist_y, y, seen, cache).sum()
    return total


def cache_loss(
    model, ids, L: int, cache: Cache, carry: bool, streams: int
) -> tuple[float, int]:
    """(summed -log p(y), tokens predicted) of ``ids`` with the cache, scored as
    ``stream_pieces`` cuts it."""
    pieces, E, n = stream_pieces(model, ids, L, carry, streams)
    check_fits(cache, n, E)
    return mixed_total(pieces, cache), E * (n - 1)


def mixed_rows(logp, a, hist_h, hist_y, chunk_h, chunk_y, seen, cache: Cache):
    """Every id's log p under the cache for positions a .. a + len(logp) of one
    stream's chunk (the distribution ``mixed_errors`` takes p(y) of): ``logp``
    (m, V) the model's, ``hist_h`` (W, H) and ``hist_y`` (W,) the W positions
    before the chunk, ``chunk_h`` / ``chunk_y`` the chunk's states and next tokens,
    ``seen`` the stream's positions before it."""
    W, V = cache.window, logp.shape[1]
    H = np.concatenate([hist_h, chunk_h], axis=0)
    N = np.concatenate([hist_y, chunk_y], axis=0)
    out = logp.copy()
    for r in range(len(logp)):
        t = a + r
        if seen + t < W:
            continue
        logits = cache.theta * (H[t : t + W] @ chunk_h[t])
        attn = np.exp(logits - logits.max())
        attn /= attn.sum()
        p_cache = np.zeros(V)
        np.add.at(p_cache, N[t : t + W], attn)
        with np.errstate(divide="ignore"):
            out[r] = np.log((1 - cache.lam) * np.exp(logp[r]) + cache.lam * p_cache)
    return out
