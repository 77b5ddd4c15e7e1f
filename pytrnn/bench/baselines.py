"""Hand-written baselines for ``pytrnn bench``: what a user would write instead.

Both train the notebook's RNN (same init, loss, L2, clip and SGD per window) and
return the per-window losses, so the bench can check they agree with pytrnn before
timing them.
"""

from __future__ import annotations

import numpy as np


def numpy_train(P: dict, data: np.ndarray, starts, L: int, lr=0.01, reg=0.01, clip=5.0):
    """A min-char-rnn style loop: numpy forward and BPTT, one window at a time."""
    Wxh, Whh, bh, Why, by = (
        np.array(P[k], dtype=np.float64) for k in ("Wxh", "Whh", "bh", "Why", "by")
    )
    H = Whh.shape[0]
    losses = []
    for i in starts:
        x, y = data[i : i + L], data[i + 1 : i + 1 + L]
        hs = np.zeros((L + 1, H))  # hs[-1] is h_{-1} = 0
        ps = np.empty((L, Why.shape[1]))
        loss = 0.0
        for t in range(L):
            hs[t] = np.tanh(Wxh[x[t]] + Whh @ hs[t - 1] + bh)
            z = hs[t] @ Why + by
            e = np.exp(z - z.max())
            ps[t] = e / e.sum()
            loss -= np.log(ps[t, y[t]])
        loss += reg * ((Wxh * Wxh).sum() + (Whh * Whh).sum() + (Why * Why).sum())
        dz = ps.copy()
        dz[np.arange(L), y] -= 1
        dWhy, dby = hs[:L].T @ dz + 2 * reg * Why, dz.sum(0)
        dWxh, dWhh, dbh = 2 * reg * Wxh, 2 * reg * Whh, np.zeros(H)
        dh_next = np.zeros(H)
        for t in reversed(range(L)):
            da = (1 - hs[t] ** 2) * (Why @ dz[t] + dh_next)
            dWxh[x[t]] += da
            dbh += da
            dWhh += np.outer(da, hs[t - 1])
            dh_next = Whh.T @ da
        for p, g in ((Wxh, dWxh), (Whh, dWhh), (bh, dbh), (Why, dWhy), (by, dby)):
            p -= lr * np.clip(g, -clip, clip)
        losses.append(loss)
    return np.array(losses), dict(Wxh=Wxh, Whh=Whh, bh=bh, Why=Why, by=by)


def jax_trainer(L: int, lr=0.01, reg=0.01, clip=5.0):
    """A hand-written JAX trainer: ``jit`` over one ``lax.scan`` across a pass's windows.

    Returns ``train(P, X, Y) -> (P, losses)`` with X, Y (n_windows, L) int32.
    """
    import jax
    import jax.numpy as jnp

    # The notebook's float64. JAX computes in float32 unless told otherwise, and a
    # float32 baseline would flatter itself against pytrnn's float64 rows.
    jax.config.update("jax_enable_x64", True)

    def window_loss(P, x, y):
        def step(h, xt):
            h = jnp.tanh(P["Wxh"][xt] + P["Whh"] @ h + P["bh"])
            return h, h

        _, hs = jax.lax.scan(step, jnp.zeros_like(P["bh"]), x)
        logp = jax.nn.log_softmax(hs @ P["Why"] + P["by"], axis=-1)
        data = -jnp.take_along_axis(logp, y[:, None], axis=1).sum()
        return data + reg * sum((P[k] ** 2).sum() for k in ("Wxh", "Whh", "Why"))

    grad = jax.value_and_grad(window_loss)

    def sgd(P, xy):
        loss, g = grad(P, *xy)
        P = jax.tree_util.tree_map(lambda p, d: p - lr * jnp.clip(d, -clip, clip), P, g)
        return P, loss

    @jax.jit
    def train(P, X, Y):
        return jax.lax.scan(sgd, P, (X, Y))

    return train
