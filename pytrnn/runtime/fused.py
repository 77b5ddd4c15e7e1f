"""Fused passes on JAX: PyTensor's compiled window step inside one ``jax.lax.scan``.

PyTensor builds and rewrites one window's SGD step (forward, BPTT by
``pytensor.grad``, clip, update) as a pure graph; ``jax_funcify`` turns the
rewritten graph into a JAX function, and a ``jit``-ed ``lax.scan`` carries the
parameters across a chunk of windows. Python then leaves the hot loop, and XLA sees
one flat loop instead of PyTensor's scan-in-scan, which is slow on XLA's CPU
backend (docs/performance.md). The numbers are PyTensor's own: the same graph
the one-call-per-window path runs, so the same losses and parameters (tested).
"""

from __future__ import annotations

import pytensor

from pytrnn.config import RNNConfig
from pytrnn.graphs.updates import build_window_step
from pytrnn.runtime.backends import compile_mode


def compile_windows(
    cfg: RNNConfig,
    mode: str,
    length: int | None,
    batch: int | None,
    carry: bool = False,
    masked: bool = False,
    capacity=None,
):
    """``train(P, X, Y, W, lr) -> (P, losses, data_losses)`` for any number of windows.

    P: the parameters (param_names order), the optimizer's state and, with ``carry``,
    the carried state (S, B, H), which the scan carries like the rest; X, Y (K, T)
    or (K, T, B) int32; W (K,) window weights (0 = leave everything alone); lr () the
    current learning rate; then, with ``masked`` (groups of padded sentences), their
    masks (K, T, B); then, with dropout, the dropout masks of every window
    (K, layers, T, [B,] H), with locked dropout T = 1. ``length`` None: one graph
    for windows of any length, which JAX traces per length (padded sentences).
    """
    import jax
    from pytensor.link.jax.dispatch import jax_funcify

    inputs, outputs = build_window_step(
        cfg,
        mode,
        length=length,
        batch=batch,
        carry=carry,
        masked=masked,
        traced_length=length is None,
        capacity=capacity,
    )
    # pytensor.function applies the JAX mode's graph rewrites; its jitted callable is
    # never used, only the rewritten graph.
    fn = pytensor.function(inputs, outputs, mode=compile_mode("jax"))
    window = jax_funcify(fn.maker.fgraph)
    locked = cfg.drops and cfg.locked_dropout

    @jax.jit
    def train(P, X, Y, W, lr, *more):
        def body(P, xyw):
            # xy: (x, y) or (x, y, mask); rest: this window's dropout masks, if any
            xy, (w, *drop) = xyw[: 2 + masked], xyw[2 + masked :]
            if locked:  # one step of each locked mask (noise.locked_time), every step's
                d, T = drop[0], xy[0].shape[0]
                d = jax.numpy.broadcast_to(d, (d.shape[0], T, *d.shape[2:]))
                # as an array, as a window's step takes it: a broadcast XLA could fuse
                # into its consumers changes float32's bits
                drop[0] = jax.lax.optimization_barrier(d)
            *new, loss, data_loss = window(*xy, w, lr, *drop, *P)
            return tuple(new), (loss, data_loss)

        seqs = (X, Y, *more[:masked], W, *more[masked:])
        P, (losses, data_losses) = jax.lax.scan(body, tuple(P), seqs)
        return P, losses, data_losses

    return train
