"""What a model does with windows of a stream: K of them per compiled call, and the
state each stream carries from one window to the next (``--carry-state``).

A mixin of pytrnn.runtime.model.RNN, kept apart so the model's module stays about its
compiled functions; it uses the model's parameters, backend and compile cache.
"""

from __future__ import annotations

import time

import numpy as np
import pytensor

from pytrnn.runtime.backends import compile_mode
from pytrnn.errors import ConfigError
from pytrnn.graphs.forward import state_shape
from pytrnn.runtime.fused import compile_windows
from pytrnn.graphs.updates import build_fused


class Windows:
    """``train_windows`` (fused windows) and the carried state of the streams."""

    def train_windows(self, X, Y, wmask=None, drops=None,
                      masks=None) -> tuple[np.ndarray, np.ndarray]:
        """K SGD steps in one call (fused): X, Y (K, T) or (K, T, B) int arrays.

        Same losses and parameters as K calls of ``train_on_seq`` (B = 1), or of a
        batched step whose loss is the mean over the B streams. ``wmask`` (K,) of 0/1
        skips windows (padding). ``masks`` (K, T, B): K groups of left-padded
        sentences (JAX), the same steps as K calls of ``train_sentences``. Returns
        (losses, data_losses), each (K,).
        """
        fn, args = self._fused(X, Y, wmask, drops, masks)
        losses, data_losses = fn(*args)
        return self.parallel.fetch(losses), self.parallel.fetch(data_losses)

    def warm_windows(self, X, Y, masks=None) -> float:
        """Compile ``train_windows`` for chunks shaped like X without training: on JAX
        (one device) ahead of time, so start-up costs no compute; elsewhere one call
        whose windows all have weight 0. Seconds taken."""
        t0 = time.perf_counter()
        K = np.shape(X)[0]
        fn, args = self._fused(X, Y, np.zeros(K), None, masks)
        (fn.warm if hasattr(fn, "warm") else fn)(*args)
        return time.perf_counter() - t0

    def _fused(self, X, Y, wmask, drops, masks=None):
        """The compiled chunk function for X's shape and its arguments."""
        X, Y = np.asarray(X), np.asarray(Y)
        if X.ndim not in (2, 3) or X.shape != Y.shape:
            raise ConfigError(f"X and Y must be (K, T) or (K, T, B) alike, got {X.shape}, {Y.shape}")
        K, T = X.shape[:2]
        # across hosts each process passes its share of the streams
        B = X.shape[2] * self.parallel.processes if X.ndim == 3 else None
        if self.mode == "unroll" and T != self.cfg.window:
            raise ConfigError(f"mode 'unroll' takes windows of exactly {self.cfg.window}, got {T}")
        self._check_ids(X, Y)
        w = np.ones(K, self.cfg.dtype) if wmask is None else np.asarray(wmask, self.cfg.dtype)
        # JAX's chunk function takes any number of windows; the others are built for K
        masked = masks is not None
        # groups of padded sentences: one graph for every bucket, traced per length
        key = ("fused", None if self.backend == "jax" else K,
               None if self.traces_lengths(masked) else T, B)
        if masked:
            if self.backend != "jax" or B is None or np.shape(masks) != X.shape:
                raise ConfigError("fused groups of sentences need --backend jax and "
                                  "masks shaped like X (K, T, B)")
            key += ("masked",)
        if key not in self._fns:
            self._fns[key] = self._compile_fused(K, key[2], B, masked)
        if self.carry_state:
            self._carry_now = state_shape(self.cfg, B)
        args = list(self.parallel.shard_batch(X.astype(np.int32), Y.astype(np.int32), w))
        if masked:
            args.append(np.asarray(masks, self.cfg.dtype))
        if self.cfg.dropout > 0:  # (K, layers, T, [B,] H)
            drop = (self.draw_drop(T, X.shape[2] if X.ndim == 3 else None, K)
                    if drops is None else np.asarray(drops, self.cfg.dtype))
            # with devices, shard_batch has checked that X is (K, T, B): B is axis 3 here
            args.append(self.parallel.shard_streams(drop, 3))
        return self._fns[key], args

    def _compile_fused(self, K: int, T: int, B: int | None, masked: bool = False):
        """JAX: PyTensor's window step in one ``lax.scan`` (pytrnn.runtime.fused); other
        backends: PyTensor's own outer scan over the windows (steps.build_fused)."""
        carried = ([self._carry_var(state_shape(self.cfg, B))] if self.carry_state
                   else [])
        if self.backend == "jax":
            train = compile_windows(self.cfg, self.mode, T, B, carry=bool(carried),
                                    masked=masked)
            shared = ([self.params[k] for k in self.names] + list(self.opt_state.values())
                      + carried)

            ahead = {}  # the chunk's shape (K, T[, B]) -> executable compiled ahead

            def run(X, Y, w, *more):  # more: the sentences' masks, the dropout masks
                P = [p.get_value(borrow=True) for p in shared]
                fn = ahead.get(np.shape(X), train)
                P, losses, data_losses = fn(P, X, Y, w, self.lr.get_value(), *more)
                for p, v in zip(shared, P):  # keep JAX's arrays (and their shardings)
                    p.container.storage[0] = v
                return losses, data_losses

            def warm(X, Y, w, *more):
                if self.parallel.n > 1:  # sharded inputs: compile by a weight-0 call
                    return run(X, Y, w, *more)
                P = [p.get_value(borrow=True) for p in shared]
                ahead[np.shape(X)] = train.lower(P, X, Y, w, self.lr.get_value(),
                                                 *more).compile()

            run.warm = warm
            return run
        inputs, outputs, updates = build_fused(self.cfg, self.params, self.mode, K,
                                               length=T, batch=B, state=self.opt_state,
                                               lr=self._lr_var,
                                               carry=carried[0] if carried else None)
        return pytensor.function(inputs, outputs, updates=updates,
                                 mode=compile_mode(self.backend))

    # -- the carried state ---------------------------------------------------
    def _carry_var(self, shape: tuple):
        if shape not in self._carries:
            self._carries[shape] = pytensor.shared(
                np.zeros(shape, self.cfg.dtype), name="carry", shape=shape)
        return self._carries[shape]

    def reset_carry(self, batch: int | None = None) -> None:
        """Every stream's carried state back to zero, (S, B, H): a new pass."""
        if self.carry_state:
            self.set_carry(np.zeros(state_shape(self.cfg, batch), self.cfg.dtype))

    def get_carry(self) -> np.ndarray | None:
        """A numpy copy of the carried state (S, B, H) of the streams trained last,
        or None without ``carry_state``."""
        if not self.carry_state:
            return None
        value = self._carry_var(self._carry_now).get_value(borrow=True)
        return np.array(self.parallel.fetch(value), copy=True)

    def set_carry(self, value) -> None:
        """Start the next window of B streams from ``value`` (S, B, H)."""
        S, _, H = state_shape(self.cfg)
        value = np.array(value, dtype=self.cfg.dtype)
        if not self.carry_state:
            raise ConfigError("this model does not carry state: pass carry_state=True")
        if value.ndim != 3 or value.shape[0] != S or value.shape[2] != H:
            raise ConfigError(f"carried state has shape {value.shape}, expected "
                              f"({S}, B, {H})")
        self._carry_now = value.shape
        self._carry_var(value.shape).set_value(value)
