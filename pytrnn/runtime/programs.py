"""A model's compiled programs: one per key (what it computes and the static shape it
was built for), each built once and kept.

The model's sequence functions (a training step, a loss, a carried loss, the cache's
states, a probability read-out), the sampling step and the stepper's chunk functions
all live here, so nothing reaches into the model for them. The adaptive softmax's
compiled capacity (rows per cluster) is chosen here, in one place, and is part of
the key.
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt

from pytrnn.graphs import adaptive
from pytrnn.graphs.forward import BUILDERS, state_shape
from pytrnn.graphs.params import param_shapes
from pytrnn.graphs.readout import build_rows, build_step
from pytrnn.graphs.updates import train_updates
from pytrnn.runtime.backends import compile_mode


class Programs:
    def __init__(self, cfg, mode: str, backend: str, state, stepper):
        self.cfg, self.mode, self.backend = cfg, mode, backend
        self.state, self.stepper = state, stepper
        self.fns: dict = {}

    def compiled(self) -> dict:
        """{key: program} built so far (a copy)."""
        return dict(self.fns)

    def get(self, key, build):
        """The program under ``key``, built by ``build()`` the first time."""
        if key not in self.fns:
            self.fns[key] = build()
        return self.fns[key]

    def capacity(self, Y, windows: bool = False):
        """The adaptive softmax's rows per cluster for training on targets Y (None
        for the full softmax, whose programs do not depend on the ids)."""
        if self.cfg.softmax != "adaptive":
            return None
        return adaptive.capacities(self.cfg, Y, windows)

    @property
    def static_shapes(self) -> bool:
        """Every sequence length needs its own program (JAX traces one per shape;
        unroll builds one graph per length)."""
        return self.mode == "unroll" or self.stepper.static_shapes

    def traces_lengths(self, masked: bool) -> bool:
        return self.stepper.traces_lengths(self.cfg, self.mode, masked)

    def sequence(self, kind, length, masked, batch=None, capacity=None):
        """A sequence function: "train", "loss", "carried_loss", "states" or
        "prob", for ``length`` steps (None where one graph serves every length)."""
        per_length = self.static_shapes and not self.traces_lengths(masked)
        key = (kind, length if per_length else None, masked, batch)
        if capacity is not None:  # the adaptive softmax's rows per cluster
            key += (capacity,)
        return self.get(key, lambda: self._build(kind, key[1], masked, batch, capacity))

    def step_function(self, batched: bool = False):
        """The sampling step: one id and the carried state in, (h, logits) out; or
        ``batched``, B of each (pytrnn.graphs.readout.build_step)."""

        def build():
            inputs, outputs = build_step(self.cfg, self.state.params, batched)
            return pytensor.function(inputs, outputs, mode=compile_mode(self.backend))

        return self.get("steps" if batched else "step", build)

    def rows_function(self):
        """Top-layer states (N, H) in, every id's log-probability (N, V) out."""

        def build():
            inputs, output = build_rows(self.cfg, self.state.params)
            return pytensor.function(inputs, output, mode=compile_mode(self.backend))

        return self.get("rows", build)

    def _build(self, kind, length, masked, batch, capacity):
        cfg, state = self.cfg, self.state
        dropout = kind == "train" and cfg.drops  # never when evaluating
        noise = kind == "train" or None
        params = state.params
        if batch is not None:  # JAX reshapes a (T, B) gather only with static shapes
            shapes = param_shapes(cfg)
            params = {k: pt.specify_shape(v, shapes[k]) for k, v in params.items()}
        h0 = None
        if kind in ("carried_loss", "states"):
            h0 = True  # an input: held-out text carries its own state
        elif kind == "train" and state.carry_state:
            h0 = state.carry_var(state_shape(cfg, batch))
        g = BUILDERS[self.mode](
            cfg,
            params,
            length=length,
            masked=masked,
            batch=batch,
            drop=True if dropout else None,
            h0=h0,
            traced_length=self.traces_lengths(masked),
            noise=noise,
            capacity=capacity,
        )
        pt_mode = compile_mode(self.backend)  # PyTensor's Mode, not the model's --mode
        if kind == "train":
            grads = pytensor.grad(g.loss, [state.params[k] for k in state.names])
            updates = train_updates(
                state.params, grads, state.opt_state, cfg, state.lr_var
            )
            if h0 is not None:
                updates.append((h0, g.state_last))
            outputs = [g.loss, g.data_loss]
            return pytensor.function(g.inputs, outputs, updates=updates, mode=pt_mode)
        outputs = {
            "loss": list(g.held_out),
            "carried_loss": [g.held_out[1], g.state_last],
            "states": [g.errors, g.top, g.state_last],  # the neural cache's inputs
        }.get(kind)
        if outputs is not None:
            return pytensor.function(g.inputs, outputs, mode=pt_mode)
        inputs = [v for v in g.inputs if v.name != "y"]
        return pytensor.function(inputs, g.probs_last, mode=pt_mode)
