"""The adaptive softmax (Grave, Joulin, Cissé, Grangier and Jégou 2017), with
``torch.nn.AdaptiveLogSoftmaxWithLoss``'s semantics: a head over the ``cutoffs[0]``
most frequent ids and one entry per cluster; cluster i holds ids ``cutoffs[i] ..
cutoffs[i+1] - 1`` and reads h through a projection to ``H // div_value ** (i + 1)``.
log p(y) is the head's log-probability of y (in the head) or of y's cluster, plus
the cluster's own log-probability of y.

Parameters (transposed from torch's modules): ``head_W`` (H, c0 + n) =
``head.weight.T``, ``head_b`` (c0 + n,) with ``head_bias``, ``tail{i}_proj`` (H, h_i)
= ``tail[i][0].weight.T``, ``tail{i}_out`` (h_i, size_i) = ``tail[i][1].weight.T``.

Training computes a cluster only for the positions whose target lies in it, as
torch's forward does: their rows are gathered, the two products and the log-softmax
run on them, and their log-probabilities are summed into the loss. JAX needs static
shapes (and C and Numba take the same graph), so each cluster takes ``capacity[i]``
rows, the host's bound on how many of a step's targets fall in it
(pytrnn.runtime.model picks it from the step's targets, rounded up to a power of
two): the first rows in an ``argsort`` of the cluster's indicator, the spare ones
adding nothing. Evaluation and sampling read the full distribution (torch's ``log_prob``).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.special import log_softmax

CAPACITY_MIN = 16


def clusters(cfg) -> list[tuple[int, int, int]]:
    """(first id, end id, projection width) of each cluster."""
    cuts = cfg.cutoff_list
    return [
        (cuts[i], cuts[i + 1], int(cfg.top_width // (cfg.div_value ** (i + 1))))
        for i in range(len(cuts) - 1)
    ]


def shapes(cfg) -> dict[str, tuple[int, ...]]:
    H, c = cfg.top_width, clusters(cfg)
    out = {"head_W": (H, cfg.cutoff_list[0] + len(c))}
    if cfg.head_bias:
        out["head_b"] = (cfg.cutoff_list[0] + len(c),)
    for i, (lo, hi, h) in enumerate(c):
        out[f"tail{i}_proj"] = (H, h)
        out[f"tail{i}_out"] = (h, hi - lo)
    return out


def _head(params, h):
    z = h.dot(params["head_W"])
    return log_softmax(z + params["head_b"] if "head_b" in params else z, axis=-1)


def _cluster(params, i, h):
    return log_softmax(
        h.dot(params[f"tail{i}_proj"]).dot(params[f"tail{i}_out"]), axis=-1
    )


def log_prob(cfg, params, h):
    """torch's ``log_prob``: every id's log-probability, (..., V) from h (..., H)."""
    head = _head(params, h)
    c0 = cfg.cutoff_list[0]
    parts = [head[..., :c0]]
    for i in range(len(clusters(cfg))):
        parts.append(_cluster(params, i, h) + head[..., c0 + i][..., None])
    return pt.concatenate(parts, axis=-1)


def head_and_clusters(cfg, params, h, y, m, pick, capacity):
    """torch's forward, summed: (the head's log p of each position's y or of its
    cluster, shaped like y, the clusters' part of sum m * log p(y)). h (..., H),
    y and m (...) the targets and their weights (0: padding); ``pick(lp, idx)``
    takes lp[..., idx] position by position; ``capacity``: each cluster's rows, a
    static bound the caller guarantees (no scatter: a sum needs none)."""
    c0, c = cfg.cutoff_list[0], clusters(cfg)
    which = sum(pt.ge(y, lo).astype("int32") for lo, _, _ in c)  # 0: the head
    head = pick(_head(params, h), pt.switch(pt.eq(which, 0), y, c0 + which - 1))
    h2, y2, m2 = h.reshape((-1, h.shape[-1])), y.flatten(), m.flatten()
    total = 0
    for i, (lo, hi, _) in enumerate(c):
        inside = pt.eq(which.flatten(), i + 1)
        rows = pt.specify_shape(
            pt.argsort(-inside.astype("int32"))[: capacity[i]], (capacity[i],)
        )
        weight = inside[rows].astype(h.dtype) * m2[rows]  # spare rows: weight 0
        rel = pt.clip(y2[rows] - lo, 0, hi - lo - 1)
        lp = _cluster(params, i, h2[rows])
        total = total + (lp[pt.arange(capacity[i]), rel] * weight).sum()
    return head, total


def capacities(cfg, Y, windows: bool = False) -> tuple[int, ...]:
    """Each cluster's rows for the targets Y of one step (or, ``windows``, of each
    window along Y's first axis: the most any one needs), rounded up to a power of
    two, at least CAPACITY_MIN and at most the step's rows: few shapes to compile,
    at most twice the rows a cluster needs."""
    Y = np.asarray(Y)
    flat = Y.reshape(Y.shape[0], -1) if windows else Y.reshape(1, -1)
    N = flat.shape[1]
    out = []
    for lo, hi, _ in clusters(cfg):
        need = int(((flat >= lo) & (flat < hi)).sum(axis=1).max())
        out.append(min(N, max(CAPACITY_MIN, 1 << max(need - 1, 0).bit_length())))
    return tuple(out)
