"""An independent plain-numpy forward pass and BPTT for the notebook's RNN.

Written from the equations, not from pytrnn's code: h_t = tanh(Wxh[x_t] + Whh @ h_{t-1}
+ bh), p_t = softmax(h_t @ Why + by), loss = sum_t -log p_t[y_t] + reg * (|Wxh|^2 +
|Whh|^2 + |Why|^2). ``truncate=K`` applies scan's truncate_gradient: only the losses of
the last K positions reach the recurrent weights, through those K steps only.
"""

import numpy as np

NAMES = ("Wxh", "Whh", "bh", "Why", "by")


def forward(P, x, h0=None):
    """(hidden states (T, H), probabilities (T, D)) from h0 (zero by default)."""
    H = P["Whh"].shape[0]
    h = np.zeros(H) if h0 is None else np.asarray(h0, np.float64)
    hs, ps = [], []
    for t in range(len(x)):
        h = np.tanh(P["Wxh"][x[t]] + P["Whh"] @ h + P["bh"])
        z = h @ P["Why"] + P["by"]
        e = np.exp(z - z.max())
        hs.append(h)
        ps.append(e / e.sum())
    return np.array(hs), np.array(ps)


def loss_and_grads(P, x, y, reg, truncate=-1, h0=None):
    """(loss, data_loss, grads) with grads keyed like P. ``h0``: a carried state,
    a constant (the gradient stops there)."""
    P = {k: np.asarray(v, dtype=np.float64) for k, v in P.items()}
    T = len(x)
    h0 = np.zeros(P["Whh"].shape[0]) if h0 is None else np.asarray(h0, np.float64)
    hs, ps = forward(P, x, h0)
    data_loss = -sum(np.log(ps[t, y[t]]) for t in range(T))
    reg_sum = sum((P[k] ** 2).sum() for k in ("Wxh", "Whh", "Why"))
    g = {k: np.zeros_like(v) for k, v in P.items()}
    for k in ("Wxh", "Whh", "Why"):
        g[k] += 2 * reg * P[k]
    dz = ps.copy()
    dz[np.arange(T), y] -= 1.0  # (T, D): d(-log p[y]) / d logits
    g["Why"] += hs.T @ dz
    g["by"] += dz.sum(axis=0)
    cut = max(T - truncate, 0) if truncate > 0 else 0
    dh_next = np.zeros(P["Whh"].shape[0])
    for t in range(T - 1, cut - 1, -1):
        dh = P["Why"] @ dz[t] + dh_next
        da = (1.0 - hs[t] ** 2) * dh
        h_prev = hs[t - 1] if t > 0 else h0
        g["Wxh"][x[t]] += da
        g["bh"] += da
        g["Whh"] += np.outer(da, h_prev)
        dh_next = P["Whh"].T @ da
    return data_loss + reg * reg_sum, data_loss, g


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
