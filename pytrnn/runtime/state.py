"""``TrainState``: what training changes, in one object (as flax's ``TrainState``):
the parameters, the optimizer's state, the learning rate and the streams' carried
state, each a PyTensor shared variable that the compiled steps update in place,
laid out on the devices by ``parallel``. Numpy goes in and comes out.

It knows nothing of how it is stepped (pytrnn.runtime.steppers) or of the
notebook's API (pytrnn.runtime.model.RNN, which holds one).
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytensor

from pytrnn.config import RNNConfig
from pytrnn.errors import ConfigError
from pytrnn.graphs import optim
from pytrnn.graphs.forward import state_shape
from pytrnn.graphs.params import check_params, param_count, param_names


def memory_bytes() -> int:
    """This machine's memory available now (MemAvailable), else its physical size."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def training_bytes(cfg: RNNConfig) -> int:
    """A lower bound on what training ``cfg`` holds: its parameters, their
    gradient and the optimizer's state (pytrnn.graphs.optim's slots per parameter)."""
    slots = len(optim.SLOTS[optim.rule(cfg)])
    return param_count(cfg) * np.dtype(cfg.dtype).itemsize * (2 + slots)


def check_fits(cfg: RNNConfig) -> None:
    """Refuse, from arithmetic and before any array is made, a model whose
    parameters, gradient and optimizer state alone exceed this machine's memory."""
    need, have = training_bytes(cfg), memory_bytes()
    if need > have:
        raise ConfigError(
            f"the model has {param_count(cfg):.3g} parameters: training "
            f"needs at least {need / 1e9:,.3g} GB ({cfg.dtype}, with its "
            f"gradient and {cfg.optimizer}'s state) and this machine has "
            f"{have / 1e9:,.1f} GB available; lower --hidden, --emsize or "
            f"--layers (or the vocabulary)"
        )


class TrainState:
    def __init__(
        self,
        cfg: RNNConfig,
        params: dict,
        parallel,
        variable_lr: bool = False,
        carry_state: bool = False,
    ):
        self.cfg, self.parallel = cfg, parallel
        values = check_params(cfg, params)
        self.names = param_names(cfg)
        self.params = {k: pytensor.shared(values[k], name=k) for k in self.names}
        # the optimizer's own state (moments, sums, step count): pytrnn.graphs.optim
        self.opt_state = {
            k: pytensor.shared(v, name=k) for k, v in optim.init_state(cfg).items()
        }
        # the current learning rate: a schedule changes it without recompiling.
        # Without one it stays a constant in the graphs, as the notebook's (PyTensor
        # rewrites a constant rate differently, and the default must not move a bit)
        self.variable_lr = variable_lr
        self.lr = pytensor.shared(np.asarray(cfg.lr, dtype=cfg.dtype), name="lr")
        self.lr_var = self.lr if variable_lr else None
        # the carried state, updated by every training step like a parameter: one
        # shared variable per shape (S, B, H), its static shape the graphs' own
        self.carry_state = carry_state
        self.carries: dict = {}
        self.carry_now = state_shape(cfg)
        parallel.replicate(self.params)
        parallel.replicate(self.opt_state)

    def threaded(self, carried=()) -> list:
        """The shared variables a fused step takes in and gives back, in its order:
        the parameters, the optimizer's state, then the carried state if any."""
        return (
            [self.params[k] for k in self.names]
            + list(self.opt_state.values())
            + list(carried)
        )

    def nbytes(self) -> int:
        """The arrays a checkpoint of this state holds, in bytes (no copies made)."""
        carried = [self.carry_var(self.carry_now)] if self.carry_state else []
        return sum(v.get_value(borrow=True).nbytes for v in self.threaded(carried))

    # -- parameters and the optimizer's state -------------------------------------
    def _copies(self, shared: dict) -> dict[str, np.ndarray]:
        return {
            k: np.array(self.parallel.fetch(v.get_value(borrow=True)), copy=True)
            for k, v in shared.items()
        }

    def get_params(self) -> dict[str, np.ndarray]:
        return self._copies(self.params)

    def set_params(self, params: dict) -> None:
        values = check_params(self.cfg, params)
        for k in self.names:
            self.params[k].set_value(values[k])
        self.parallel.replicate(self.params)

    def get_opt_state(self) -> dict[str, np.ndarray]:
        return self._copies(self.opt_state)

    def set_opt_state(self, state: dict) -> None:
        shapes = optim.state_shapes(self.cfg)
        missing = [k for k in shapes if k not in state]
        if missing:
            raise ConfigError(f"optimizer state missing: {', '.join(missing)}")
        for k, shape in shapes.items():
            value = np.array(state[k], dtype=self.cfg.dtype)
            if value.shape != shape:
                raise ConfigError(
                    f"optimizer state {k} has shape {value.shape}, expected {shape}"
                )
            self.opt_state[k].set_value(value)
        self.parallel.replicate(self.opt_state)

    # -- ASGD's average (AWD-LSTM's NT-ASGD) --------------------------------------
    @contextlib.contextmanager
    def evaluating(self):
        """Held-out scoring and sampling with what evaluation uses: ASGD's average
        of the parameters once it averages (AWD-LSTM's evaluate), the parameters
        themselves otherwise; training's own are back afterwards."""
        if not self.averaging:
            yield
            return
        raw = self.get_params()
        self.set_params(self.averaged_params())
        try:
            yield
        finally:
            self.set_params(raw)

    def averaged_params(self) -> dict[str, np.ndarray]:
        """What evaluation uses: ASGD's average of the parameters once it averages,
        else the parameters themselves."""
        return optim.averaged(self.cfg, self.get_params(), self.get_opt_state())

    @property
    def averaging(self) -> bool:
        """ASGD is on and has taken a step: evaluation uses the average (read from
        its scalars alone: no copy of the averages)."""
        scalars = {
            k: v.get_value()
            for k, v in self.opt_state.items()
            if k in optim.ASGD_SCALARS
        }
        return optim.averaging(self.cfg, scalars)

    @property
    def switched_on(self) -> bool:
        """ASGD is on (from the start, or --nt-asgd has switched)."""
        return self.cfg.averages and float(self.opt_state["asgd.on"].get_value()) > 0

    def start_averaging(self) -> None:
        """--nt-asgd's switch: from the next step on, averaged SGD."""
        self.opt_state["asgd.on"].set_value(np.ones((), self.cfg.dtype))

    # -- the learning rate ----------------------------------------------------------
    def set_lr(self, lr: float) -> None:
        if not self.variable_lr and lr != self.cfg.lr:
            raise ConfigError(
                "this model was built with a fixed learning rate: pass variable_lr=True"
            )
        self.lr.set_value(np.asarray(lr, dtype=self.cfg.dtype))

    @property
    def current_lr(self) -> float:
        return float(self.lr.get_value())

    # -- the carried state ----------------------------------------------------------
    def carry_var(self, shape: tuple):
        if shape not in self.carries:
            self.carries[shape] = pytensor.shared(
                np.zeros(shape, self.cfg.dtype), name="carry", shape=shape
            )
        return self.carries[shape]

    def carrying(self, batch: int | None) -> None:
        """The next steps train B streams (None: one): the state read back is theirs."""
        if self.carry_state:
            self.carry_now = state_shape(self.cfg, batch)

    def reset_carry(self, batch: int | None = None) -> None:
        if self.carry_state:
            self.set_carry(np.zeros(state_shape(self.cfg, batch), self.cfg.dtype))

    def get_carry(self) -> np.ndarray | None:
        if not self.carry_state:
            return None
        value = self.carry_var(self.carry_now).get_value(borrow=True)
        return np.array(self.parallel.fetch(value), copy=True)

    def set_carry(self, value) -> None:
        S, _, H = state_shape(self.cfg)
        value = np.array(value, dtype=self.cfg.dtype)
        if not self.carry_state:
            raise ConfigError("this model does not carry state: pass carry_state=True")
        if value.ndim != 3 or value.shape[0] != S or value.shape[2] != H:
            raise ConfigError(
                f"carried state has shape {value.shape}, expected ({S}, B, {H})"
            )
        self.carry_now = value.shape
        self.carry_var(value.shape).set_value(value)
