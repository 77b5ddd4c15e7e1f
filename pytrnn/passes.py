"""Fused passes on JAX: PyTensor's compiled window step inside one ``jax.lax.scan``.

PyTensor builds and rewrites one window's SGD step (forward, BPTT by
``pytensor.grad``, clip, update) as a pure graph; ``jax_funcify`` turns the
rewritten graph into a JAX function, and a ``jit``-ed ``lax.scan`` carries the
parameters across a chunk of windows. Python then leaves the hot loop, and XLA sees
one flat loop instead of PyTensor's scan-in-scan, which is slow on XLA's CPU
backend (README, "Performance"). The numbers are PyTensor's own: the same graph
the one-call-per-window path runs, so the same losses and parameters (tested).
"""

from __future__ import annotations

import pytensor

from .backends import compile_mode
from .config import RNNConfig
from .steps import build_window_step


def compile_windows(cfg: RNNConfig, mode: str, length: int, batch: int | None,
                    carry: bool = False):
    """``train(P, X, Y, W, lr) -> (P, losses, data_losses)`` for any number of windows.

    P: the parameters (param_names order), the optimizer's state and, with ``carry``,
    the carried state (S, B, H), which the scan carries like the rest; X, Y (K, T)
    or (K, T, B) int32; W (K,) window weights (0 = leave everything alone); lr () the
    current learning rate; then, with dropout, the masks of every window
    (K, layers, T, [B,] H).
    """
    import jax
    from pytensor.link.jax.dispatch import jax_funcify

    inputs, outputs = build_window_step(cfg, mode, length=length, batch=batch,
                                       carry=carry)
    # pytensor.function applies the JAX mode's graph rewrites; its jitted callable is
    # never used, only the rewritten graph.
    fn = pytensor.function(inputs, outputs, mode=compile_mode("jax"))
    window = jax_funcify(fn.maker.fgraph)

    @jax.jit
    def train(P, X, Y, W, lr, *drops):
        def body(P, xyw):
            x, y, w, *drop = xyw  # drop: this window's dropout masks, if any
            *new, loss, data_loss = window(x, y, w, lr, *drop, *P)
            return tuple(new), (loss, data_loss)

        P, (losses, data_losses) = jax.lax.scan(body, tuple(P), (X, Y, W, *drops))
        return P, losses, data_losses

    return train
