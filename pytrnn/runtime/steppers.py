"""Steppers: how a backend runs a model's training steps, chosen once per model.

A stepper answers what differs between backends and nothing else: whether every
sequence length needs its own program, whether padded sentences of every bucket can
share one graph, which device the graphs run on, and how K windows train in one
call. It is given the model's programs (their config, mode and state), never the
model. ``JaxStepper`` threads the ``TrainState`` through one ``jax.lax.scan`` of
PyTensor's window step (pytrnn.runtime.fused); ``GraphStepper`` (C, Numba) compiles
PyTensor's own outer scan over the windows (pytrnn.graphs.updates.build_fused). This
is the one place that asks whether it runs JAX; the model and the loops call the
stepper and never ask.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytensor

from pytrnn.errors import ConfigError
from pytrnn.graphs.forward import state_shape
from pytrnn.graphs.updates import build_fused
from pytrnn.runtime.backends import compile_mode, select_device
from pytrnn.runtime.fused import compile_windows
from pytrnn.runtime.inputs import check_ids
from pytrnn.runtime.noise import as_args, locked_time, noise_of

MASKED_GROUPS = (
    "fused groups of sentences need --backend jax and masks shaped like X (K, T, B)"
)


class GraphStepper:
    """C and Numba: PyTensor functions end to end."""

    static_shapes = False  # free-length graphs run any length

    def __init__(self, backend: str):
        self.backend = backend

    def device(self, requested: str | None) -> str:
        if requested == "gpu":
            raise ConfigError("--device gpu needs --backend jax")
        return "cpu"

    def traces_lengths(self, cfg, mode: str, masked: bool) -> bool:
        return False

    def fused_key(self, K: int, T: int, B: int | None, masked: bool, traced: bool):
        """The compile-cache key of a chunk function: built for K windows of T."""
        if masked:
            raise ConfigError(MASKED_GROUPS)
        return ("fused", K, T, B)

    def train_chunk(self, programs, chunk, drop, fetch, sync: bool):
        """A fused chunk trained in its calls (``chunk.pieces()``, each under its
        windows' share of ``drop``), every call dispatched before any is read (JAX
        runs ahead). (losses, data losses): arrays, or with ``sync=False`` and
        several calls, iterators that wait for a call only when they reach its
        windows, so a loop can report each call as it finishes."""
        done = []
        for s in chunk.pieces():
            X, Y, w, M = chunk.part(s)
            d = None if drop is None else noise_of(drop, s)
            fn, args = self.chunk(programs, X, Y, w, d, M)
            done.append(fn(*args))
        if len(done) == 1:
            return fetch(done[0][0]), fetch(done[0][1])
        if sync:
            return tuple(np.concatenate([fetch(o[i]) for o in done]) for i in (0, 1))
        return tuple(itertools.chain.from_iterable(fetch(o[i]) for o in done)
                     for i in (0, 1))  # fmt: skip

    def chunk(self, programs, X, Y, wmask, drops, masks=None):
        """The compiled chunk function for X's shape (compiled once per shape, kept
        in ``programs``), and its arguments: K windows in one call, each with its
        weight in ``wmask`` (K,), under the dropout masks ``drops`` (drawn by the
        model)."""
        X, Y = np.asarray(X), np.asarray(Y)  # checked by the model (check_chunk)
        cfg, state = programs.cfg, programs.state
        parallel = state.parallel
        K, T = X.shape[:2]
        # across hosts each process passes its share of the streams
        B = X.shape[2] * parallel.processes if X.ndim == 3 else None
        if programs.mode == "unroll" and T != cfg.window:
            raise ConfigError(
                f"mode 'unroll' takes windows of exactly {cfg.window}, got {T}"
            )
        check_ids(cfg, X, Y)
        w = np.asarray(wmask, cfg.dtype)
        masked = masks is not None
        if masked and np.shape(masks) != X.shape:
            raise ConfigError(MASKED_GROUPS)
        cap = programs.capacity(Y, windows=True)
        key = self.fused_key(K, T, B, masked, programs.traces_lengths(masked)) + (
            (cap,) if cap else ()
        )
        fn = programs.get(
            key, lambda: self.compile_fused(programs, K, key[2], B, masked, cap)
        )
        state.carrying(B)
        args = list(parallel.shard_batch(X.astype(np.int32), Y.astype(np.int32), w))
        if masked:
            args.append(np.asarray(masks, cfg.dtype))
        noise = as_args(cfg, drops, None)
        if noise and cfg.drops:  # (K, layers, T, [B,] H); locked: T = 1
            # with devices, shard_batch has checked that X is (K, T, B): B is axis 3 here
            noise[0] = parallel.shard_streams(locked_time(cfg, noise[0]), 3)
        args.extend(noise)
        return fn, args

    def compile_fused(
        self,
        programs,
        K: int,
        T: int | None,
        B: int | None,
        masked: bool = False,
        capacity=None,
    ):
        """PyTensor's own outer scan over K windows, updating the state in place."""
        state = programs.state
        carried = (
            state.carry_var(state_shape(programs.cfg, B)) if state.carry_state else None
        )
        inputs, outputs, updates = build_fused(
            programs.cfg,
            state.params,
            programs.mode,
            K,
            length=T,
            batch=B,
            state=state.opt_state,
            lr=state.lr_var,
            carry=carried,
            capacity=capacity,
        )
        return pytensor.function(
            inputs, outputs, updates=updates, mode=compile_mode(self.backend)
        )


class JaxStepper(GraphStepper):
    """JAX: one program per shape; chunks of any number of windows in one
    ``lax.scan``, compiled ahead of time where asked."""

    static_shapes = True  # JAX traces one program per shape

    def device(self, requested: str | None) -> str:
        return select_device(requested)

    def traces_lengths(self, cfg, mode: str, masked: bool) -> bool:
        """Padded sentences of every bucket share one graph of free length that JAX
        traces per bucket, so PyTensor rewrites it only once
        (patches.patch_jax_free_lengths). Truncated BPTT keeps a graph per length."""
        return masked and mode == "scan" and cfg.bptt_truncate <= 0

    def fused_key(self, K, T, B, masked, traced):
        """Any number of windows; groups of padded sentences traced per length."""
        if masked and B is None:
            raise ConfigError(MASKED_GROUPS)
        return ("fused", None, None if traced else T, B) + (
            ("masked",) if masked else ()
        )

    def compile_fused(self, programs, K, T, B, masked=False, capacity=None):
        state = programs.state
        carried = (
            [state.carry_var(state_shape(programs.cfg, B))] if state.carry_state else []
        )
        train = compile_windows(
            programs.cfg,
            programs.mode,
            T,
            B,
            carry=bool(carried),
            masked=masked,
            capacity=capacity,
        )
        shared = state.threaded(carried)
        ahead = {}  # the chunk's shape (K, T[, B]) -> executable compiled ahead

        def run(X, Y, w, *more):  # more: the sentences' masks, the dropout masks
            P = [p.get_value(borrow=True) for p in shared]
            fn = ahead.get(np.shape(X), train)
            P, losses, data_losses = fn(P, X, Y, w, state.lr.get_value(), *more)
            for p, v in zip(shared, P):  # keep JAX's arrays (and their shardings)
                p.container.storage[0] = v
            return losses, data_losses

        def warm(X, Y, w, *more):
            if state.parallel.n > 1:  # sharded inputs: compile by a weight-0 call
                return run(X, Y, w, *more)
            P = [p.get_value(borrow=True) for p in shared]
            ahead[np.shape(X)] = train.lower(
                P, X, Y, w, state.lr.get_value(), *more
            ).compile()

        run.warm = warm
        return run


def stepper_for(backend: str) -> GraphStepper:
    return JaxStepper(backend) if backend == "jax" else GraphStepper(backend)
