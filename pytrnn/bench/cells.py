"""``pytrnn bench --cells``: chars/s of the GRU and the LSTM (and the notebook's cell)
at batch 1 float64 and batch 64 float32, each next to a hand-written JAX trainer of
the same cell measured in the same run: ``jit`` over one ``lax.scan`` across the
windows, ``jax.value_and_grad`` for BPTT, the notebook's SGD, L2 and clip.

The baseline is tested to train the same model as pytrnn (1e-9), so its speed is a
fair yardstick. Machines are shared and noisy: compare the ratios.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from pytrnn.bench.grid import L, Row, _timed, best_of
from pytrnn.config import RNNConfig
from pytrnn.data.batches import split_streams, stack_windows, window_starts
from pytrnn.graphs.params import init_params, weight_names
from pytrnn.runtime.model import RNN

CELL_ROWS = [
    (cell, B, dt)
    for cell in ("rnn", "gru", "lstm")
    for B, dt in ((1, "float64"), (64, "float32"))
]


def jax_cell_trainer(cfg: RNNConfig, batch: int | None):
    """``train(P, X, Y) -> (P, losses)`` for one layer of ``cfg.cell``, X, Y (K, T) or
    (K, T, B): what a user would write in JAX by hand (gate order as torch's)."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    H, cell = cfg.hidden, cfg.cell
    lr, reg, clip = cfg.lr, cfg.reg, cfg.clip
    W = [n for n in weight_names(cfg)]

    def step(P, carry, x_t):
        h, c = carry
        xe = P["Wxh"][x_t] + P["bh"]
        if cell == "rnn":
            h = jnp.tanh(xe + h @ P["Whh"].T)
        elif cell == "gru":
            hid = h @ P["Whh"] + P["bhh"]
            r = jax.nn.sigmoid(xe[..., :H] + hid[..., :H])
            z = jax.nn.sigmoid(xe[..., H : 2 * H] + hid[..., H : 2 * H])
            n = jnp.tanh(xe[..., 2 * H :] + r * hid[..., 2 * H :])
            h = (1 - z) * n + z * h
        else:
            a = xe + h @ P["Whh"]
            i, f = jax.nn.sigmoid(a[..., :H]), jax.nn.sigmoid(a[..., H : 2 * H])
            g, o = jnp.tanh(a[..., 2 * H : 3 * H]), jax.nn.sigmoid(a[..., 3 * H :])
            c = f * c + i * g
            h = o * jnp.tanh(c)
        return (h, c), h

    def window_loss(P, x, y):
        shape = (H,) if batch is None else (batch, H)
        h0 = jnp.zeros(shape, P["Why"].dtype)
        _, hs = jax.lax.scan(lambda carry, xt: step(P, carry, xt), (h0, h0), x)
        logp = jax.nn.log_softmax(hs @ P["Why"] + P["by"], axis=-1)
        data = -jnp.take_along_axis(logp, y[..., None], axis=-1).sum()
        if batch is not None:
            data = data / batch
        return data + reg * sum((P[k] ** 2).sum() for k in W)

    grad = jax.value_and_grad(window_loss)

    def sgd(P, xy):
        loss, g = grad(P, *xy)
        return jax.tree_util.tree_map(
            lambda p, d: p - lr * jnp.clip(d, -clip, clip), P, g
        ), loss

    return jax.jit(lambda P, X, Y: jax.lax.scan(sgd, P, (X, Y)))


def bench_cells(
    data,
    vocab_size: int,
    hidden: int,
    budget_chars: int,
    chunk: int,
    rows=CELL_ROWS,
    reporter=print,
) -> list[Row]:
    """pytrnn (the CLI's default: scan mode, chunks of windows in one lax.scan) and the
    hand-written JAX trainer, per (cell, batch, dtype)."""
    import jax.numpy as jnp

    out = []
    for cell, B, dtype in rows:
        cfg = RNNConfig(vocab_size=vocab_size, hidden=hidden, cell=cell, dtype=dtype)
        streams = split_streams(data, B)
        starts = window_starts(streams.shape[1], L)
        K = min(chunk, len(starts))
        n = max(K, min(len(starts), budget_chars // (L * B)) // K * K)
        X, Y = stack_windows(streams, starts[:n], L)
        P = init_params(cfg, np.random.default_rng(0))
        model = RNN(cfg, params=P, mode="scan", backend="jax")
        compile_s = _timed(
            partial(model.train_windows, X[:K], Y[:K], wmask=np.zeros(K))
        )
        dt = best_of(partial(_chunks, model, X[:n], Y[:n], K))
        ours = Row(f"pytrnn {cell} {dtype} batch {B}", n * L * B / dt, compile_s)
        train = jax_cell_trainer(cfg, None if B == 1 else B)
        PJ = {k: jnp.asarray(v) for k, v in P.items()}
        XJ, YJ = jnp.asarray(X), jnp.asarray(Y)
        c = _timed(partial(blocked, train, PJ, XJ, YJ))
        dtj = best_of(partial(blocked, train, PJ, XJ, YJ))
        base = Row(
            f"hand-written JAX {cell} {dtype} batch {B} (baseline)", n * L * B / dtj, c
        )
        ours.vs_jax, base.vs_jax = ours.chars_per_s / base.chars_per_s, 1.0
        for r in (base, ours):
            reporter(f"{r.name}: {r.chars_per_s:,.0f} chars/s (x{r.vs_jax:.2f} JAX)")
        out += [base, ours]
    return out


def _chunks(model, X, Y, K):
    """Train the windows X, Y in fused chunks of K (the CLI's default on JAX)."""
    return [
        model.train_windows(X[k : k + K], Y[k : k + K]) for k in range(0, len(X), K)
    ]


def blocked(train, *args):
    """A hand-written JAX step, waited for (its data loss ready)."""
    return train(*args)[1].block_until_ready()
