"""Optimizers as PyTensor update builders, after Lasagne's (kept in ``pymc``).

Each takes the parameters, their gradients and the optimizer's own state variables,
and returns the new values of both. The rules and defaults are those documented for
``torch.optim`` (SGD, Adagrad, RMSprop, Adam), with two choices of the notebook kept:
the gradient is clipped elementwise before the optimizer sees it (after
``torch.nn.utils.clip_grad_norm_``'s rule with ``--clip-norm``), and the L2 term
stays in the loss (never the optimizer's weight decay). The state (running sums,
moments, Adam's step count) lives in shared variables the model owns and the
checkpoint saves, so a resumed run continues exactly.

- sgd: ``p -= lr * g``
- adagrad: ``s += g^2; p -= lr * g / (sqrt(s) + eps)``
- rmsprop: ``v = alpha v + (1 - alpha) g^2; p -= lr * g / (sqrt(v) + eps)``
- adam: ``t += 1; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from pytrnn.config import RNNConfig
from pytrnn.graphs.params import param_names, param_shapes

# the state each optimizer keeps per parameter, and whether it counts steps
SLOTS = {"sgd": (), "adagrad": ("sum",), "rmsprop": ("sq",), "adam": ("m", "v")}


def state_shapes(cfg: RNNConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every state variable, in update order ("m.Wxh", ..., "t")."""
    shapes = param_shapes(cfg)
    out = {f"{slot}.{p}": shapes[p] for slot in SLOTS[cfg.optimizer]
           for p in param_names(cfg)}
    if cfg.optimizer == "adam":
        out["t"] = ()
    return out


def init_state(cfg: RNNConfig) -> dict[str, np.ndarray]:
    return {k: np.zeros(s, dtype=cfg.dtype) for k, s in state_shapes(cfg).items()}


def _c(value, cfg):
    return np.asarray(value, dtype=cfg.dtype)


def clipped(g, cfg: RNNConfig):
    """The notebook's elementwise clip to [-clip, clip] (``clip`` 0: none)."""
    if cfg.clip == 0:
        return g
    c = _c(cfg.clip, cfg)
    return pt.clip(g, -c, c)


def norm_clipped(grads: list, cfg: RNNConfig) -> list:
    """torch.nn.utils.clip_grad_norm_'s rule over every gradient together: with
    ``total`` the L2 norm of all of them, each is scaled by
    ``min(clip_norm / (total + 1e-6), 1)``. ``clip_norm`` 0: the gradients as they are."""
    if cfg.clip_norm == 0:
        return grads
    total = pt.sqrt(sum((g * g).sum() for g in grads))
    coef = pt.minimum(_c(cfg.clip_norm, cfg) / (total + _c(1e-6, cfg)), _c(1.0, cfg))
    return [g * coef for g in grads]


def sgd_delta(g, cfg: RNNConfig, lr=None):
    """The notebook's SGD step for gradient ``g``: lr times g clipped elementwise.
    ``lr``: a variable holding the current rate (schedules); None: cfg.lr."""
    return (_c(cfg.lr, cfg) if lr is None else lr) * clipped(g, cfg)


def apply(cfg: RNNConfig, P: list, grads: list, S: list, w=None, lr=None):
    """(new parameters, new state) for parameters ``P`` (param_names order), their
    gradients and state ``S`` (state_shapes order). ``w`` (a 0/1 scalar) leaves
    everything as it was when 0: a padding window of a fused chunk. ``lr``: a
    variable holding the current learning rate (None: cfg.lr as a constant). The
    gradients are norm-clipped first (``--clip-norm``), then clipped elementwise."""
    grads = norm_clipped(grads, cfg)
    if cfg.optimizer == "sgd":  # the notebook's rule, written as it always was
        if w is None:
            return [p - sgd_delta(g, cfg, lr) for p, g in zip(P, grads)], []
        return [p - w * sgd_delta(g, cfg, lr) for p, g in zip(P, grads)], []
    lr = _c(cfg.lr, cfg) if lr is None else lr
    eps = _c(cfg.resolved_eps, cfg)
    G = [clipped(g, cfg) for g in grads]
    n = len(P)
    new_p, new_s = [], []
    if cfg.optimizer in ("adagrad", "rmsprop"):
        for p, g, s in zip(P, G, S):
            if cfg.optimizer == "adagrad":
                s2 = s + g * g
            else:
                a = _c(cfg.alpha, cfg)
                s2 = a * s + (1 - a) * (g * g)
            new_s.append(s2)
            new_p.append(p - lr * g / (pt.sqrt(s2) + eps))
    else:  # adam
        b1, b2 = _c(cfg.beta1, cfg), _c(cfg.beta2, cfg)
        M, V, t = S[:n], S[n:2 * n], S[2 * n]
        t2 = t + 1
        c1, c2 = 1 - b1 ** t2, 1 - b2 ** t2
        new_m, new_v = [], []
        for p, g, m, v in zip(P, G, M, V):
            m2 = b1 * m + (1 - b1) * g
            v2 = b2 * v + (1 - b2) * (g * g)
            new_m.append(m2)
            new_v.append(v2)
            new_p.append(p - lr * (m2 / c1) / (pt.sqrt(v2 / c2) + eps))
        new_s = new_m + new_v + [t2]
    if w is not None:
        keep = pt.gt(w, 0)
        new_p = [pt.switch(keep, a, b) for a, b in zip(new_p, P)]
        new_s = [pt.switch(keep, a, b) for a, b in zip(new_s, S)]
    return new_p, new_s
