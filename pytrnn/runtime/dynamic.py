"""Dynamic evaluation (Krause, Kahembwe, Murray and Renals 2018; the semantics of
benkrause/dynamic-evaluation's ``dynamiceval.py``): the model keeps learning while
it scores a text. The text is one stream cut into segments of N tokens (5); each
segment is scored first, then its mean loss's gradient g moves every parameter:

    RMS rule:  theta += lambda * r * (theta_0 - theta) - eta * g / (MS + eps)
    SGD rule:  theta += lambda * (theta_0 - theta) - eta * g

theta_0 the trained parameters, MS the root mean square of each parameter's
gradient over the model's training text (windows of N tokens in 100 carried
streams, ``gradstat``), and r = MS / (the mean over the parameters of their MS's
means), clipped at 1 / lambda so a decay never overshoots. The state is carried
from segment to segment. With eta 0 the parameters never move: the figure is the
static one of the text as one carried stream.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace

from pytrnn.data.batches import carried_chunks, eval_streams
from pytrnn.errors import ConfigError
from pytrnn.graphs.forward import BUILDERS, state_shape
from pytrnn.graphs.params import param_shapes
from pytrnn.graphs.readout import build_rows
from pytrnn.runtime.backends import compile_mode

STATS_STREAMS = 100  # dynamiceval.py's --batch_size for the gradient statistics


@dataclass(frozen=True)
class Dynamic:
    lr: float  # eta
    decay: float = 0.002  # lambda (dynamiceval.py's --lamb)
    eps: float = 2e-5  # dynamiceval.py's epsilon
    window: int = 5  # tokens a segment (its --bptt)
    rule: str = "rms"  # or "sgd"
    stats_batches: int | None = None  # training windows for MS (None: all)

    def validate(self) -> Dynamic:
        if not self.lr >= 0:
            raise ConfigError(f"--dynamic-lr must be 0 or more, got {self.lr}")
        if not self.decay >= 0:
            raise ConfigError(f"--dynamic-decay must be 0 or more, got {self.decay}")
        if not self.eps > 0:
            raise ConfigError(f"--dynamic-eps must be positive, got {self.eps}")
        if self.window < 1:
            raise ConfigError(f"--dynamic-window must be at least 1, got {self.window}")
        if self.rule not in ("rms", "sgd"):
            raise ConfigError(f"--dynamic-rule is rms or sgd, got {self.rule!r}")
        if self.stats_batches is not None and self.stats_batches < 1:
            raise ConfigError("--dynamic-stats-batches must be at least 1")
        return self


def _graph(model, T: int, B: int):
    """The mean loss of T masked steps of B carried streams, its gradient, and
    the parameters the graph reads (of static shapes: the adaptive softmax's
    clusters are cut by them on JAX)."""
    cfg, shared = model.cfg, model.state.params
    names, shapes = list(model.state.names), param_shapes(cfg)
    params = {k: pt.specify_shape(v, shapes[k]) for k, v in shared.items()}
    g = BUILDERS["scan"](cfg, params, length=T, masked=True, batch=B, h0=True)
    mask = g.inputs[2]
    mean = g.data_loss * B / mask.sum()  # data_loss: the mean over the streams
    return g, names, pytensor.grad(mean, [shared[k] for k in names]), params


def gradient_stats(model, ids, window: int, batches=None, progress=None) -> dict:
    """MS of every parameter over the training ``ids``: wlm's batchify into 100
    streams, windows of ``window`` carried, the RMS of each mean loss's gradient
    (``batches`` windows at most)."""
    E, S = eval_streams(ids, window, STATS_STREAMS)
    g, names, grads, _ = _graph(model, window, E)
    fn = pytensor.function(g.inputs, [g.state_last, *grads],
                           mode=compile_mode(model.backend))  # fmt: skip
    sq = {k: 0.0 for k in names}
    h, n = np.zeros(state_shape(model.cfg, E), model.cfg.dtype), 0
    total = -(-(S.shape[1] - 1) // window)
    total = total if batches is None else min(total, batches)
    for _, chunk in itertools.islice(carried_chunks(S, window, model.cfg.dtype), total):
        h, *gs = fn(chunk.X[0], chunk.Y[0], chunk.M[0], h)
        for name, v in zip(names, gs):
            sq[name] = sq[name] + np.asarray(v, np.float64) ** 2
        n += 1
        if progress:
            progress(n, total)
    return {k: np.sqrt(v / max(n, 1)) for k, v in sq.items()}


def decay_rates(ms: dict, decay: float) -> dict:
    """Each parameter's MS over the mean of the parameters' mean MS, clipped at
    1 / decay (dynamiceval.py's ``decrate``)."""
    gsum = np.mean([v.mean() for v in ms.values()])
    rates = {k: v / gsum for k, v in ms.items()}
    if decay > 0:
        rates = {k: np.minimum(v, 1.0 / decay) for k, v in rates.items()}
    return rates


def segments(
    model,
    ids,
    dyn: Dynamic,
    ms: dict,
    keep: bool = False,
    rows: bool = False,
    restore: bool = True,
):
    """``ids`` as one stream scored segment by segment, the model adapting after
    each: per segment (its summed -log p(y), m), and with ``keep`` its pieces
    for the cache (-log p(y) (m, 1), top-layer states (m, 1, H), targets (m, 1)),
    with ``rows`` also every id's log-probability (m, V), each scored by the
    parameters before the segment's step. The model's parameters are the trained
    ones again afterwards (unless not ``restore``)."""
    cfg, shared = model.cfg, model.state.params
    T = dyn.window
    g, names, grads, params = _graph(model, T, 1)
    dt = cfg.dtype
    theta0 = {k: np.array(shared[k].get_value(), copy=True) for k in names}
    eta, lam, eps = (pt.scalar(n, dtype=dt) for n in ("eta", "lam", "eps"))
    rates = decay_rates(ms, dyn.decay)
    updates = []
    for k, grad in zip(names, grads):
        p, p0 = shared[k], pytensor.shared(theta0[k].astype(dt))
        if dyn.rule == "rms":
            r = pytensor.shared(rates[k].astype(dt))
            MS = pytensor.shared(ms[k].astype(dt))
            step = lam * r * (p0 - p) - eta * grad / (MS + eps)
        else:
            step = lam * (p0 - p) - eta * grad
        updates.append((p, p + step))
    outs = [g.data_loss, g.state_last]
    if keep or rows:
        outs += [g.errors, g.top]
    if rows:  # the output layer on this segment's states, before its step
        (h,), logp = build_rows(cfg, params)
        outs.append(clone_replace(logp, replace={h: g.top[:, 0]}))
    fn = pytensor.function([*g.inputs, eta, lam, eps], outs, updates=updates,
                           mode=compile_mode(model.backend),
                           on_unused_input="ignore")  # fmt: skip
    ids, rule = (
        np.asarray(ids),
        [np.asarray(v, dt) for v in (dyn.lr, dyn.decay, dyn.eps)],
    )
    h = np.zeros(state_shape(cfg, 1), dt)
    try:  # the text as one stream, right-padded segments of T
        for m, chunk in carried_chunks(ids[None], T, dt):
            loss, h, *more = fn(chunk.X[0], chunk.Y[0], chunk.M[0], h, *rule)
            piece = tuple(np.asarray(v)[:m] for v in more[:2])
            if more:
                piece += (chunk.Y[0, :m].astype(np.int64),)
            yield float(loss), m, *piece, *(np.asarray(v)[:m] for v in more[2:])
    finally:
        if restore:
            model.set_params(theta0)


def dynamic_loss(model, ids, dyn: Dynamic, ms: dict, restore: bool = True):
    """(summed -log p(y), tokens predicted) of ``ids`` scored by ``segments``."""
    total = sum(s[0] for s in segments(model, ids, dyn, ms, restore=restore))
    return total, len(ids) - 1
