"""Optimizers as PyTensor update builders, after Lasagne's (kept in ``pymc``).

Each takes the parameters, their gradients and the optimizer's own state variables,
and returns the new values of both. The rules and defaults are those documented for
``torch.optim`` (SGD, Adagrad, RMSprop, Adam), with two choices of the notebook kept:
the gradient is clipped elementwise before the optimizer sees it (after
``torch.nn.utils.clip_grad_norm_``'s rule with ``--clip-norm``), and the L2 term
stays in the loss (``--reg``); torch.optim's ``weight_decay`` is the separate
``--wdecay``, added to the gradient. The state (running sums,
moments, Adam's step count) lives in shared variables the model owns and the
checkpoint saves, so a resumed run continues exactly.

- sgd: ``p -= lr * g``
- adagrad: ``s += g^2; p -= lr * g / (sqrt(s) + eps)``
- rmsprop: ``v = alpha v + (1 - alpha) g^2; p -= lr * g / (sqrt(v) + eps)``
- adam: ``t += 1; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
  p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``
- asgd (torch.optim.ASGD with AWD-LSTM's t0 = 0, lambd = 0): ``step += 1;
  p -= eta * g; ax = p if mu == 1 else ax + (p - ax) * mu; eta = lr;
  mu = 1 / max(1, step)``, eta being the rate of the step before (its first step's
  own rate: torch sets eta when its state is created). ``--nt-asgd`` keeps the same
  state with ``on`` = 0, which steps as SGD (``p -= lr * g``) until the training
  loop switches it on (AWD's non-monotone trigger, pytrnn.training.loop).

``--wdecay`` is torch.optim's ``weight_decay``: ``g + wdecay * p`` after the clips,
for every rule. With ``--variable-bptt`` the window weight ``w`` is the step's rate
scale (AWD's ``lr * seq_len / bptt``) as well as its 0/1 padding switch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytensor.tensor as pt

from pytrnn.config import RNNConfig
from pytrnn.graphs.params import param_names, param_shapes

# the state each optimizer keeps per parameter, and whether it counts steps
SLOTS = {
    "sgd": (),
    "adagrad": ("sum",),
    "rmsprop": ("sq",),
    "adam": ("m", "v"),
    "asgd": ("ax",),
}
ASGD_SCALARS = ("asgd.step", "asgd.eta", "asgd.mu", "asgd.on")


def rule(cfg: RNNConfig) -> str:
    """The update rule the graphs build: --nt-asgd's SGD is ASGD's, switched off."""
    return "asgd" if cfg.averages else cfg.optimizer


def state_shapes(cfg: RNNConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every state variable, in update order ("m.Wxh", ..., "t")."""
    shapes = param_shapes(cfg)
    out = {
        f"{slot}.{p}": shapes[p] for slot in SLOTS[rule(cfg)] for p in param_names(cfg)
    }
    if cfg.optimizer == "adam":
        out["t"] = ()
    if cfg.averages:
        out.update({k: () for k in ASGD_SCALARS})
    return out


def init_state(cfg: RNNConfig) -> dict[str, np.ndarray]:
    out = {k: np.zeros(s, dtype=cfg.dtype) for k, s in state_shapes(cfg).items()}
    if cfg.averages:
        out["asgd.mu"] = np.ones((), cfg.dtype)
        out["asgd.on"] = np.asarray(cfg.optimizer == "asgd", cfg.dtype)
    return out


def averaging(cfg: RNNConfig, state: dict) -> bool:
    """The optimizer is averaging and has taken an averaged step: ``averaged``
    gives what validation, test, eval and sampling use."""
    return (
        cfg.averages and float(state["asgd.on"]) > 0 and float(state["asgd.step"]) > 0
    )


def averaged(cfg: RNNConfig, params: dict, state: dict) -> dict:
    """The parameters evaluation uses: ASGD's average once it averages, else ``params``."""
    if not averaging(cfg, state):
        return params
    return {k: np.array(state[f"ax.{k}"], copy=True) for k in params}


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
    if cfg.wdecay > 0:  # torch's weight_decay, after the clips
        wd = _c(cfg.wdecay, cfg)
        grads = [clipped(g, cfg) + wd * p for g, p in zip(grads, P)]
        cfg = replace(cfg, clip=0.0)  # clipped once, above
    if rule(cfg) == "sgd":  # the notebook's rule, written as it always was
        if w is None:
            return [p - sgd_delta(g, cfg, lr) for p, g in zip(P, grads)], []
        return [p - w * sgd_delta(g, cfg, lr) for p, g in zip(P, grads)], []
    lr = _c(cfg.lr, cfg) if lr is None else lr
    if cfg.variable_bptt and w is not None:  # the window's rate scale
        lr = lr * w
    eps = _c(cfg.resolved_eps, cfg)
    G = [clipped(g, cfg) for g in grads]
    n = len(P)
    new_p, new_s = [], []
    if rule(cfg) == "asgd":
        new_p, new_s = _asgd(cfg, P, G, S, lr)
    elif cfg.optimizer in ("adagrad", "rmsprop"):
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
        M, V, t = S[:n], S[n : 2 * n], S[2 * n]
        t2 = t + 1
        c1, c2 = 1 - b1**t2, 1 - b2**t2
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


def _asgd(cfg, P, G, S, lr):
    """torch.optim.ASGD (t0 = 0, lambd = 0), stepping as SGD while ``on`` is 0."""
    n = len(P)
    AX, (step, eta, mu, on) = S[:n], S[n:]
    active = pt.gt(on, 0)
    rate = pt.switch(active, pt.switch(pt.eq(step, 0), lr, eta), lr)
    step2 = step + on
    new_p, new_ax = [], []
    for p, g, ax in zip(P, G, AX):
        p2 = p - rate * g
        avg = pt.switch(pt.eq(mu, 1), p2, ax + (p2 - ax) * mu)
        new_p.append(p2)
        new_ax.append(pt.switch(active, avg, ax))
    one = _c(1.0, cfg)
    eta2 = pt.switch(active, lr, eta)
    mu2 = pt.switch(active, one / pt.maximum(one, step2), mu)
    return new_p, new_ax + [step2, eta2, mu2, on]
