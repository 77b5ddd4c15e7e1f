"""The notebook's RNN in plain numpy: the tanh cell's one-layer case of the one
numpy reference for every cell (tests/numpy_cells.py, written from the equations,
not from pytrnn's code), with the notebook's own initialisation and SGD step.

h_t = tanh(Wxh[x_t] + bh + Whh @ h_{t-1}), p_t = softmax(h_t @ Why + by), loss =
sum_t -log p_t[y_t] + reg * (|Wxh|^2 + |Whh|^2 + |Why|^2). ``truncate=K`` applies
scan's truncate_gradient: only the losses of the last K positions reach the
recurrent weights, through those K steps only.
"""

import numpy as np
import numpy_cells as nc

NAMES = ("Wxh", "Whh", "bh", "Why", "by")


def _first(h0):
    return None if h0 is None else [(np.asarray(h0, np.float64), None)]


def forward(P, x, h0=None):
    """(hidden states (T, H), probabilities (T, D)) from h0 (zero by default)."""
    hs, ps, _ = nc.forward("rnn", 1, P, x, init=_first(h0))
    return hs, ps


def loss_and_grads(P, x, y, reg, truncate=-1, h0=None):
    """(loss, data_loss, grads) with grads keyed like P. ``h0``: a carried state,
    a constant (the gradient stops there)."""
    return nc.loss_and_grads("rnn", 1, P, x, y, reg, init=_first(h0), truncate=truncate)


def sgd_step(P, x, y, lr, reg, clip, truncate=-1, h0=None):
    """One notebook SGD step: returns (loss before the step, new params)."""
    loss, _, g = loss_and_grads(P, x, y, reg, truncate, h0)
    new = {k: np.asarray(P[k], np.float64) - lr * np.clip(g[k], -clip, clip) for k in P}
    return loss, new


def init(D, H, rng):
    return {
        "Wxh": rng.standard_normal((D, H)) / np.sqrt(D),
        "Whh": rng.standard_normal((H, H)) / np.sqrt(H),
        "bh": rng.standard_normal(H) * 0.1,
        "Why": rng.standard_normal((H, D)) / np.sqrt(H),
        "by": rng.standard_normal(D) * 0.1,
    }
