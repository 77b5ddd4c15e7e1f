"""How the next token is chosen, as the field's samplers choose it: top-k and
nucleus (top-p) filters on a distribution, and beam search over a step function.

The filters follow the usual implementations (nanoGPT's ``top_k``, Hugging Face's
``TopKLogitsWarper`` / ``TopPLogitsWarper``): applied after the temperature; top-k
keeps the K most probable tokens (and any tied with the K-th, as ``logits <
v[-1]`` removes only the smaller ones); top-p keeps the smallest set of the most
probable tokens whose probabilities sum to at least P, the most probable always
(ties in the order of their ids); both together: top-k first. Beam search keeps
the ``width`` best continuations by total log-probability, deterministically.
"""

from __future__ import annotations

import numpy as np

from pytrnn.errors import ConfigError


def check_filters(top_k: int | None, top_p: float | None) -> None:
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"--top-p must be in (0, 1], got {top_p}")


def top_k_filter(p: np.ndarray, k: int | None) -> np.ndarray:
    """``p`` (..., V) with all but the k most probable of each row set to 0 (ties
    with the k-th kept)."""
    V = p.shape[-1]
    if k is None or k >= V:
        return p
    kth = np.partition(p, V - k, axis=-1)[..., V - k : V - k + 1]
    return np.where(p >= kth, p, 0.0)


def top_p_filter(p: np.ndarray, top_p: float | None) -> np.ndarray:
    """``p`` (..., V), each row keeping the smallest set of its most probable
    tokens (stable order: the lower id first among equals) whose share of the
    row's total reaches ``top_p``."""
    if top_p is None or top_p >= 1:
        return p
    q = p / p.sum(axis=-1, keepdims=True)
    order = np.argsort(-q, axis=-1, kind="stable")
    c = np.cumsum(np.take_along_axis(q, order, axis=-1), axis=-1)
    n = (c < top_p).sum(axis=-1, keepdims=True) + 1  # up to the first c >= P
    keep = np.zeros(p.shape, bool)
    np.put_along_axis(keep, order, np.arange(p.shape[-1]) < n, axis=-1)
    return np.where(keep, p, 0.0)


def filtered(p: np.ndarray, top_k=None, top_p=None) -> np.ndarray:
    """``p`` (..., V) through top-k, then top-p, renormalised per row."""
    p = top_p_filter(top_k_filter(p, top_k), top_p)
    return p / p.sum(axis=-1, keepdims=True)


def beam_search(step, h0, first: int, width: int, length: int, end=None,
                length_penalty: float = 0.0, never=()):  # fmt: skip
    """The ``width`` best continuations of up to ``length`` tokens after the token
    ``first`` fed from the state ``h0``, by total log-probability (divided by
    ``len ** length_penalty`` to rank finished ones; 0: the total itself).
    ``step(ids (W,), states (S, W, H)) -> (states, log-probs (W, V))`` runs W
    beams at once. A beam that draws ``end`` is finished (the token kept);
    ``never``: ids never chosen. Ties go to the lower beam, then the lower id, so
    the search is deterministic. Returns (tokens, score) of the best."""
    if width < 1:
        raise ConfigError(f"--beam must be at least 1, got {width}")
    beams = [((), 0.0)]  # (tokens, total log-prob)
    states = np.asarray(h0)[:, None]
    last = np.array([first])
    done = []
    for _ in range(length):
        states, logp = step(last, states)
        logp = np.asarray(logp, np.float64).copy()
        if len(never):
            logp[:, list(never)] = -np.inf
        V = logp.shape[1]
        total = np.array([s for _, s in beams])[:, None] + logp  # (W, V)
        flat = total.ravel()
        best = np.argsort(-flat, kind="stable")[: width - len(done)]
        alive, keep = [], []
        for i in best:
            b, w = divmod(int(i), V)
            if not np.isfinite(flat[i]):
                continue
            tokens = beams[b][0] + (w,)
            if end is not None and w == end:
                done.append((tokens, float(flat[i])))
            else:
                alive.append((tokens, float(flat[i])))
                keep.append(b)
        if not alive or len(done) >= width:
            break
        beams, states = alive, np.asarray(states)[:, keep]
        last = np.array([t[-1] for t, _ in alive])
    else:
        done += beams
    done = done or beams

    def ranked(item):
        tokens, score = item
        return score / (len(tokens) ** length_penalty if length_penalty else 1.0)

    return max(done, key=ranked)
