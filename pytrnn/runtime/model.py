"""``RNN``: the compiled notebook model behind ``train_on_seq`` / ``predict_prob``.

The model owns shared parameters and compiles, lazily and once per sequence shape,
the functions the notebook compiled: a training step with SGD updates, a loss, a
probability read-out, and a one-step function for sampling. It knows nothing of
corpora or training loops.
"""

from __future__ import annotations

import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from pytrnn.runtime.backends import compile_mode, resolve_backend, select_device
from pytrnn.config import MODES, RNNConfig
from pytrnn.errors import ConfigError
from pytrnn.graphs import optim
from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.forward import BUILDERS, build_step, drop_shape, state_shape
from pytrnn.runtime.parallel import DataParallel
from pytrnn.graphs.params import check_params, init_params, param_names, param_shapes
from pytrnn.graphs.updates import train_updates
from pytrnn.runtime.windows import Windows


def left_pad(x, y, length: int, dtype: str):
    """Pad (x, y) on the left to ``length`` with id 0 and return them with the 0/1 mask."""
    n = len(x)
    xp = np.zeros(length, dtype=np.int32)
    yp = np.zeros(length, dtype=np.int32)
    mask = np.zeros(length, dtype=dtype)
    xp[length - n :], yp[length - n :], mask[length - n :] = x, y, 1
    return xp, yp, mask


class RNN(Windows):
    """The notebook's vanilla tanh RNN (or the cell, layers and optimizer ``cfg``
    names), compiled with PyTensor.

    ``mode`` "unroll" is the notebook's explicit loop over ``cfg.window`` steps;
    "scan" takes sequences of any length. ``backend`` None picks the fastest here;
    ``device`` ("cpu" | "gpu", JAX only) None means the GPU when JAX sees one.
    ``carry_state``: each training window starts from the states the previous one
    ended with ((S, B, H), ``get_carry``) instead of zero; ``reset_carry`` starts
    again from zero.
    """

    def __init__(
        self,
        cfg: RNNConfig,
        params: dict | None = None,
        mode: str = "unroll",
        backend: str | None = None,
        seed: int = 0,
        device: str | None = None,
        devices: int = 1,
        variable_lr: bool = False,
        carry_state: bool = False,
    ):
        self.cfg = cfg.validate()
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.backend = resolve_backend(backend)
        compile_mode(self.backend)  # for JAX: loads PyTensor's dispatch, which sets x64
        if self.backend == "jax":
            self.device = select_device(device)
        elif device == "gpu":
            raise ConfigError("--device gpu needs --backend jax")
        else:
            self.device = "cpu"
        if params is None:
            params = init_params(cfg, np.random.default_rng(seed))
        values = check_params(cfg, params)
        self.names = param_names(cfg)
        self.params = {k: pytensor.shared(values[k], name=k) for k in self.names}
        # the optimizer's own state (moments, sums, step count): pytrnn.graphs.optim
        self.opt_state = {k: pytensor.shared(v, name=k)
                          for k, v in optim.init_state(cfg).items()}
        # the current learning rate: a schedule changes it without recompiling.
        # Without one it stays a constant in the graphs, as the notebook's (PyTensor
        # rewrites a constant rate differently, and the default must not move a bit)
        self.variable_lr = variable_lr
        self.lr = pytensor.shared(np.asarray(cfg.lr, dtype=cfg.dtype), name="lr")
        self._lr_var = self.lr if variable_lr else None
        # dropout masks come from this generator unless the caller passes its own
        self.drop_rng = np.random.default_rng([seed, 0xD50])
        # the carried state, updated by every training step like a parameter: one
        # shared variable per shape (S, B, H), its static shape the graphs' own
        self.carry_state = carry_state
        self._carries: dict = {}
        self._carry_now = state_shape(cfg)
        self._fns: dict = {}
        self.parallel = DataParallel.create(devices, self.backend)
        if cfg.dropout > 0 and self.parallel.processes > 1:
            raise ConfigError("--dropout across processes is not supported yet: each "
                              "process would draw the masks of the first streams")
        self.parallel.replicate(self.params)
        self.parallel.replicate(self.opt_state)

    def compiled(self) -> dict:
        """What the model has compiled so far: {(kind, length, masked, batch):
        PyTensor function}, a length of None being one graph of free length (JAX
        traces it per length). For checks: which linker each runs on, how many
        graphs a run needed."""
        return dict(self._fns)

    # -- shapes -----------------------------------------------------------------
    @property
    def static_shapes(self) -> bool:
        """True where every sequence length needs its own compiled program (JAX
        traces one per shape; unroll builds one graph per length): pad to buckets."""
        return self.mode == "unroll" or self.backend == "jax"

    def _check_ids(self, *arrays) -> None:
        """Token ids in [0, vocab): the JAX backend does no bounds checks."""
        D = self.cfg.vocab_size
        for a in arrays:
            if a.min() < 0 or a.max() >= D:
                raise ConfigError(f"token ids must be in [0, {D}), got {a.min()}..{a.max()}")

    def _check_seq(self, x, y=None, pad_to=None):
        """Validate ids and lengths here: the JAX backend does no bounds checks."""
        x = np.asarray(x)
        if x.ndim != 1 or len(x) == 0:
            raise ConfigError(f"a sequence must be a non-empty 1-D array, got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.integer):
            raise ConfigError(f"token ids must be integers, got {x.dtype}")
        arrays = [x]
        if y is not None:
            y = np.asarray(y)
            if y.shape != x.shape or not np.issubdtype(y.dtype, np.integer):
                raise ConfigError(f"y must be integers shaped like x {x.shape}, got {y.shape}")
            arrays.append(y)
        self._check_ids(*arrays)
        n = len(x)
        if pad_to is not None and pad_to < n:
            raise ConfigError(f"pad_to={pad_to} is shorter than the sequence ({n})")
        length = pad_to if pad_to is not None else n
        if self.mode == "unroll" and pad_to is None and n != self.cfg.window:
            raise ConfigError(
                f"mode 'unroll' takes sequences of exactly window={self.cfg.window}, got {n}"
            )
        x = x.astype(np.int32)
        y = None if y is None else y.astype(np.int32)
        return x, y, length

    def _args(self, x, y, pad_to):
        x, y, length = self._check_seq(x, y, pad_to)
        if pad_to is None:
            return [x] if y is None else [x, y], length, False
        yy = np.zeros_like(x) if y is None else y
        xp, yp, mask = left_pad(x, yy, pad_to, self.cfg.dtype)
        return ([xp, mask] if y is None else [xp, yp, mask]), length, True

    def traces_lengths(self, masked: bool) -> bool:
        """True where padded sentences of every bucket share one graph of free
        length that JAX traces per bucket, so PyTensor rewrites it only once
        (backends.patch_jax_free_lengths). Truncated BPTT keeps a graph per length."""
        return (masked and self.backend == "jax" and self.mode == "scan"
                and self.cfg.bptt_truncate <= 0)

    def _compiled(self, kind: str, length: int, masked: bool, batch: int | None = None):
        per_length = self.static_shapes and not self.traces_lengths(masked)
        key = (kind, length if per_length else None, masked, batch)
        if key not in self._fns:
            self._fns[key] = self._compile(kind, key[1], masked, batch)
        return self._fns[key]

    def _compile(self, kind: str, length: int | None, masked: bool, batch: int | None = None):
        dropout = kind == "train" and self.cfg.dropout > 0  # never when evaluating
        params = self.params
        if batch is not None:  # JAX reshapes a (T, B) gather only with static shapes
            shapes = param_shapes(self.cfg)
            params = {k: pt.specify_shape(v, shapes[k]) for k, v in params.items()}
        h0 = None
        if kind == "carried_loss":
            h0 = True  # an input: held-out text carries its own state
        elif kind == "train" and self.carry_state:
            h0 = self._carry_var(state_shape(self.cfg, batch))
        g = BUILDERS[self.mode](self.cfg, params, length=length, masked=masked,
                                batch=batch, drop=True if dropout else None, h0=h0,
                                traced_length=self.traces_lengths(masked))
        mode = compile_mode(self.backend)
        if kind == "train":
            grads = pytensor.grad(g.loss, [self.params[k] for k in self.names])
            updates = train_updates(self.params, grads, self.opt_state, self.cfg,
                                    self._lr_var)
            if h0 is not None:
                updates.append((h0, g.state_last))
            return pytensor.function(
                g.inputs, [g.loss, g.data_loss], updates=updates, mode=mode
            )
        if kind == "loss":
            return pytensor.function(g.inputs, [g.loss, g.data_loss], mode=mode)
        if kind == "carried_loss":
            return pytensor.function(g.inputs, [g.data_loss, g.state_last], mode=mode)
        inputs = [v for v in g.inputs if v.name != "y"]
        return pytensor.function(inputs, g.probs_last, mode=mode)

    def compile(self, length: int | None = None, masked: bool = False,
                kinds=("train",), batch: int | None = None) -> float:
        """Compile ahead of the first call (for sequences of ``length``, or ``batch``
        padded sentences of it); seconds taken."""
        t0 = time.perf_counter()
        n = length or self.cfg.window
        shape = (n,) if batch is None else (n, batch)
        zeros = np.zeros(shape, dtype=np.int32)
        args = [zeros, zeros] + ([np.ones(shape, dtype=self.cfg.dtype)] if masked else [])
        for kind in kinds:
            fn = self._compiled(kind, n, masked, batch)
            # Backends like JAX compile on the first call: make that call here, on a
            # throw-away step whose update is undone.
            saved = ((self.get_params(), self.get_state(), self.get_carry())
                     if kind == "train" else None)
            drop = ([self.draw_drop(n, batch)] if kind == "train" and self.cfg.dropout > 0
                    else [])
            fn(*args, *drop) if kind != "prob" else fn(*args[:1], *args[2:])
            if saved is not None:
                self.set_params(saved[0])
                self.set_state(saved[1])
                if saved[2] is not None:
                    self.set_carry(saved[2])
        return time.perf_counter() - t0

    # -- the notebook's functions ----------------------------------------------
    def draw_drop(self, length: int, batch: int | None = None, windows: int | None = None,
                  rng=None) -> np.ndarray:
        """Inverted-dropout masks, 0 or 1 / (1 - p), for one sequence (or ``windows``
        of them): (layers, T, [B,] H), from ``rng`` or the model's own generator."""
        p = self.cfg.dropout
        shape = drop_shape(self.cfg, length, batch)
        if windows is not None:
            shape = (windows, *shape)
        keep = (rng or self.drop_rng).random(shape) >= p
        return (keep / (1.0 - p)).astype(self.cfg.dtype)

    def train_step(self, x, y, pad_to: int | None = None, sync: bool = True, drop=None):
        """One SGD step; returns (loss, data_loss) before the update, as the notebook.

        ``sync=False`` returns them as the backend's arrays without waiting: turning a
        JAX result into a float blocks until the step is done, so a loop that collects
        a few dozen steps before reading them lets JAX run ahead of Python. ``drop``:
        the dropout masks (``draw_drop``); None draws them from the model's generator.
        """
        args, length, masked = self._args(x, y, pad_to)
        return self._train(args, length, masked, None, drop, sync)

    def _train(self, args, length, masked, batch, drop, sync):
        """Run the compiled training step on ``args`` (x, y[, mask]), adding the
        dropout masks (drawn unless given) where the model has dropout."""
        if self.cfg.dropout > 0:
            args.append(self.draw_drop(len(args[0]), batch) if drop is None else
                        np.asarray(drop, self.cfg.dtype))
        if self.carry_state:
            self._carry_now = state_shape(self.cfg, batch)
        loss, data_loss = self._compiled("train", length, masked, batch)(*args)
        if sync:
            return float(loss), float(data_loss)
        return loss, data_loss

    def pad_batch(self, seqs, pad_to: int | None = None):
        """B (x, y) sentences left-padded to one length: X, Y (T, B) and the mask (T, B)."""
        if not seqs:
            raise ConfigError("a batch needs at least one sequence")
        T = pad_to if pad_to is not None else max(len(x) for x, _ in seqs)
        cols = [left_pad(*self._check_seq(x, y, T)[:2], T, self.cfg.dtype) for x, y in seqs]
        return tuple(np.stack(a, axis=1) for a in zip(*cols))

    def train_sentences(self, seqs, pad_to: int | None = None, sync: bool = True,
                        drop=None):
        """One step on B sentences at once, each left-padded to ``pad_to`` (default:
        the longest): the loss is the mean over the sentences of each one's summed
        loss, so one sentence is exactly ``train_step``'s step. Returns (loss,
        data_loss) before the update, data_loss being that mean too."""
        X, Y, M = self.pad_batch(seqs, pad_to)
        return self._train([X, Y, M], X.shape[0], True, X.shape[1], drop, sync)

    def train_on_seq(self, x, y, pad_to: int | None = None) -> float:
        """One SGD step on int arrays x, y; returns the loss (data + reg) as a float."""
        return self.train_step(x, y, pad_to)[0]

    def seq_loss(self, x, y, pad_to: int | None = None) -> tuple[float, float]:
        """(loss, data_loss) of a sequence without updating: validation."""
        args, length, masked = self._args(x, y, pad_to)
        loss, data_loss = self._compiled("loss", length, masked)(*args)
        return float(loss), float(data_loss)

    def carried_loss(self, x, y, h0) -> tuple[float, np.ndarray]:
        """(data_loss, states after the last step) of a sequence that starts from
        the carried states ``h0`` (S, 1, H): held-out text scored window after
        window, as a model trained with carried state saw its text."""
        args, length, _ = self._args(x, y, None)
        h0 = np.asarray(h0, self.cfg.dtype)
        data_loss, h = self._compiled("carried_loss", length, False)(*args, h0)
        return float(data_loss), np.asarray(h)

    def predict_prob(self, x, pad_to: int | None = None) -> np.ndarray:
        """(vocab,) probabilities of the next id after the last step of x."""
        args, length, masked = self._args(x, None, pad_to)
        return np.asarray(self._compiled("prob", length, masked)(*args))

    def predict(self, x, pad_to: int | None = None) -> int:
        """The most likely next id after x."""
        return int(np.argmax(self.predict_prob(x, pad_to)))

    # -- sampling ---------------------------------------------------------------
    def notebook_view(self) -> bool:
        """The notebook's one tanh layer: its sampling state is h, (H,), as its API
        promises; the graphs always carry (layers * states, H)."""
        cfg = self.cfg
        return cfg.cell == "rnn" and cfg.layers == 1 and cfg.dropout == 0

    def initial_state(self) -> np.ndarray:
        """h = 0: (H,) for the notebook's cell; (layers * states, H) otherwise, every
        layer's h (and the LSTM's c) stacked."""
        S = self.cfg.layers * CELLS[self.cfg.cell].states
        zeros = np.zeros((S, self.cfg.hidden), dtype=self.cfg.dtype)
        return zeros[0] if self.notebook_view() else zeros

    def step(self, x_t: int, h_tm1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed one id with the hidden state carried by the caller: (h_t, logits)."""
        if not 0 <= int(x_t) < self.cfg.vocab_size:
            raise ConfigError(f"token id {x_t} is outside [0, {self.cfg.vocab_size})")
        if "step" not in self._fns:
            inputs, outputs = build_step(self.cfg, self.params)
            self._fns["step"] = pytensor.function(
                inputs, outputs, mode=compile_mode(self.backend)
            )
        state = np.asarray(h_tm1, self.cfg.dtype)
        flat = state.ndim == 1  # the notebook's (H,) view of the (1, H) state
        h, logits = self._fns["step"](np.int32(x_t), state[None] if flat else state)
        return np.asarray(h)[0] if flat else np.asarray(h), np.asarray(logits)

    # -- parameters -------------------------------------------------------------
    def get_params(self) -> dict[str, np.ndarray]:
        """Numpy copies of Wxh, Whh, bh, Why, by (and the other layers' and cells')."""
        return {k: np.array(self.parallel.fetch(v.get_value(borrow=True)), copy=True)
                for k, v in self.params.items()}

    def set_params(self, params: dict) -> None:
        values = check_params(self.cfg, params)
        for k in self.names:
            self.params[k].set_value(values[k])
        self.parallel.replicate(self.params)

    def set_lr(self, lr: float) -> None:
        """The learning rate from the next step on (schedules; no recompiling).
        Only a model built with ``variable_lr=True`` can change it."""
        if not self.variable_lr and lr != self.cfg.lr:
            raise ConfigError("this model was built with a fixed learning rate: "
                              "pass variable_lr=True")
        self.lr.set_value(np.asarray(lr, dtype=self.cfg.dtype))

    @property
    def current_lr(self) -> float:
        return float(self.lr.get_value())

    def get_state(self) -> dict[str, np.ndarray]:
        """Numpy copies of the optimizer's state (empty for SGD)."""
        return {k: np.array(self.parallel.fetch(v.get_value(borrow=True)), copy=True)
                for k, v in self.opt_state.items()}

    def set_state(self, state: dict) -> None:
        shapes = optim.state_shapes(self.cfg)
        missing = [k for k in shapes if k not in state]
        if missing:
            raise ConfigError(f"optimizer state missing: {', '.join(missing)}")
        for k, shape in shapes.items():
            value = np.array(state[k], dtype=self.cfg.dtype)
            if value.shape != shape:
                raise ConfigError(f"optimizer state {k} has shape {value.shape}, "
                                  f"expected {shape}")
            self.opt_state[k].set_value(value)
        self.parallel.replicate(self.opt_state)
