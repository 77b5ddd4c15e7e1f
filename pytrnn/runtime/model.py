"""``RNN``: the compiled notebook model behind ``train_on_seq`` / ``predict_prob``.

The front with the notebook's names. It holds a ``TrainState`` (parameters, the
optimizer's state, the rate, the carried state: pytrnn.runtime.state) and the
``stepper`` of its backend (pytrnn.runtime.steppers), checks its inputs, and
compiles, lazily and once per sequence shape, the functions the notebook compiled:
a training step with its updates, a loss, a probability read-out, a one-step
function for sampling, and K windows in one call. It knows nothing of corpora or
training loops.
"""

from __future__ import annotations

import time

import numpy as np

from pytrnn.config import MODES, RNNConfig
from pytrnn.data.batches import Chunk, one
from pytrnn.errors import ConfigError
from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.params import init_params
from pytrnn.runtime.backends import compile_mode, resolve_backend
from pytrnn.runtime.inputs import check_chunk, check_ids, pad_batch, seq_args
from pytrnn.runtime.noise import as_args, draw
from pytrnn.runtime.parallel import DataParallel
from pytrnn.runtime.programs import Programs
from pytrnn.runtime.state import TrainState
from pytrnn.runtime.steppers import stepper_for


class RNN:
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
        self.stepper = stepper_for(self.backend)  # the only choice made per backend
        self.device = self.stepper.device(device)
        if params is None:
            params = init_params(cfg, np.random.default_rng(seed))
        self.parallel = DataParallel.create(devices, self.backend)
        if cfg.noisy and self.parallel.processes > 1:
            raise ConfigError(
                "--dropout across processes is not supported yet: each "
                "process would draw the masks of the first streams"
            )
        self.state = TrainState(
            cfg, params, self.parallel, variable_lr=variable_lr, carry_state=carry_state
        )
        # dropout masks come from this generator unless the caller passes its own
        self.drop_rng = np.random.default_rng([seed, 0xD50])
        self.programs = Programs(self.cfg, mode, self.backend, self.state, self.stepper)

    # the state's parts, under the names the notebook's model had
    params = property(lambda self: self.state.params)
    opt_state = property(lambda self: self.state.opt_state)
    names = property(lambda self: self.state.names)
    lr = property(lambda self: self.state.lr)
    variable_lr = property(lambda self: self.state.variable_lr)
    carry_state = property(lambda self: self.state.carry_state)

    def compiled(self) -> dict:
        """What the model has compiled so far: {(kind, length, masked, batch):
        PyTensor function}, a length of None being one graph of free length (JAX
        traces it per length). For checks: which linker each runs on, how many
        graphs a run needed."""
        return self.programs.compiled()

    # -- shapes -----------------------------------------------------------------
    @property
    def static_shapes(self) -> bool:
        """True where every sequence length needs its own compiled program (JAX
        traces one per shape; unroll builds one graph per length): pad to buckets."""
        return self.programs.static_shapes

    def compile(
        self,
        length: int | None = None,
        masked: bool = False,
        batch: int | None = None,
        targets=None,
    ) -> float:
        """Compile the training step ahead of its first call, for sequences of
        ``length`` (or ``batch`` padded sentences of it); seconds taken. ``targets``:
        ids like the training text's (the adaptive softmax compiles for the rows its
        clusters will need)."""
        n = length or self.cfg.window
        shape = (n,) if batch is None else (n, batch)
        x = np.zeros(shape, dtype=np.int32)
        y = x if targets is None else np.resize(np.asarray(targets, np.int32), shape)
        mask = np.ones(shape, dtype=self.cfg.dtype) if masked else None
        return self.warm(one(x, y, mask, 0, batch or 1, self.cfg.dtype))

    # -- the notebook's functions ----------------------------------------------
    def draw_drop(
        self,
        length: int,
        batch: int | None = None,
        windows: int | None = None,
        rng=None,
    ):
        """A training step's random masks for one sequence (or ``windows`` of them),
        from ``rng`` or the model's own generator (pytrnn.runtime.noise.draw)."""
        return draw(self.cfg, rng or self.drop_rng, length, batch, windows)

    # -- training: one entry -----------------------------------------------------
    def train(self, chunk: Chunk, sync: bool = True, drop=None, rng=None, lr=None):
        """Train one chunk (pytrnn.data.batches): the entry every training step goes
        through. A fused chunk is one compiled call over its K windows (weight 0 skips
        a padding copy), or ``chunk.calls`` windows a call; any other is one window
        through the window's own program, the notebook's for its one unbatched
        window, at ``lr`` times ``chunk.rate`` where it has one. ``drop``: the chunk's masks, else drawn from ``rng`` (the
        loop's), else from the model's own generator. Returns (losses, data losses),
        one per window, a window's data loss the mean over its streams; ``sync=False``
        leaves a window's on the device (reading them blocks until the step is done,
        so a loop that reads a few dozen at once lets JAX run ahead of Python)."""
        X, Y = np.asarray(chunk.X), np.asarray(chunk.Y)
        check_chunk(X, Y)
        M = None if chunk.M is None else np.asarray(chunk.M, self.cfg.dtype)
        K, T = X.shape[:2]
        B = X.shape[2] if X.ndim == 3 else None
        fused = chunk.fused and not chunk.each
        # a fused chunk's masks from rng or the model's generator; a window's from
        # rng, else drawn when it trains (_train)
        if drop is None and self.cfg.noisy and (rng is not None or fused):
            drop = self.draw_drop(T, B, K if chunk.fused else None, rng=rng)
        if fused:
            return self.stepper.train_chunk(
                self.programs, chunk, drop, self.parallel.fetch, sync
            )
        X, Y = X.astype(np.int32), Y.astype(np.int32)
        check_ids(self.cfg, X, Y)
        if chunk.rate is not None:
            self.set_lr(lr * chunk.rate)
        steps = []
        for k in range(chunk.n if chunk.each else 1):
            args = [X[k], Y[k]] + ([] if M is None else [M[k]])
            d = drop[k] if chunk.each and drop is not None else drop
            steps.append(self._train(args, T, M is not None, B, d, sync))
        return tuple(zip(*steps))

    def warm(self, chunk: Chunk) -> float:
        """Compile ``train``'s program for chunks shaped like this one, ahead of the
        first (seconds taken); the adaptive softmax's for its targets' rows. A fused
        chunk's on JAX (one device) ahead of time, elsewhere by one call whose
        windows all have weight 0; a window's by a throw-away step whose update is
        undone (backends like JAX compile on the first call)."""
        t0 = time.perf_counter()
        if chunk.fused and not chunk.each:
            check_chunk(chunk.X, chunk.Y)
            for s in {s.stop - s.start: s for s in chunk.pieces()}.values():
                X, Y, _, M = chunk.part(s)  # one call of each length, weights 0
                K, T = np.shape(X)[:2]
                B = np.shape(X)[2] if np.ndim(X) == 3 else None
                drop = self.draw_drop(T, B, K) if self.cfg.noisy else None
                fn, args = self.stepper.chunk(self.programs, X, Y, np.zeros(K), drop, M)
                (fn.warm if hasattr(fn, "warm") else fn)(*args)
            return time.perf_counter() - t0
        x = np.zeros(np.shape(chunk.X[0]), dtype=np.int32)
        adaptive = self.cfg.softmax == "adaptive"
        y = np.asarray(chunk.Y[0], np.int32) if adaptive else x
        n, batch = x.shape[0], (x.shape[1] if x.ndim == 2 else None)
        args = [x, y] + ([] if chunk.M is None else [np.ones(x.shape, self.cfg.dtype)])
        fn = self.programs.sequence(
            "train", n, chunk.M is not None, batch, self.programs.capacity(y)
        )
        saved = self.get_params(), self.get_opt_state(), self.get_carry()
        fn(*args, *as_args(self.cfg, None, lambda: self.draw_drop(n, batch)))
        self.set_params(saved[0])
        self.set_opt_state(saved[1])
        if saved[2] is not None:
            self.set_carry(saved[2])
        return time.perf_counter() - t0

    def _train(self, args, length, masked, batch, drop, sync):
        """Run the window's compiled training step on ``args`` (x, y[, mask]), adding
        the dropout masks (drawn unless given) where the model has dropout."""
        args.extend(
            as_args(self.cfg, drop, lambda: self.draw_drop(len(args[0]), batch))
        )
        self.state.carrying(batch)
        fn = self.programs.sequence(
            "train", length, masked, batch, self.programs.capacity(args[1])
        )
        loss, data_loss = fn(*args)
        if sync:
            return float(loss), float(data_loss)
        return loss, data_loss

    def _one(self, chunk: Chunk, sync: bool, drop):
        losses, data_losses = self.train(chunk, sync=sync, drop=drop)
        return losses[0], data_losses[0]

    def train_step(self, x, y, pad_to: int | None = None, sync: bool = True, drop=None):
        """One SGD step; returns (loss, data_loss) before the update, as the notebook.
        ``sync=False`` leaves them on the device; ``drop``: the dropout masks
        (``draw_drop``), None draws them from the model's generator."""
        args, length, masked = seq_args(self.cfg, self.mode, x, y, pad_to)
        mask = args[2] if masked else None
        return self._one(
            one(args[0], args[1], mask, length, 1, self.cfg.dtype), sync, drop
        )

    def pad_batch(self, seqs, pad_to: int | None = None, columns: int | None = None):
        """B (x, y) sentences left-padded to one length: X, Y (T, B) and the mask
        (T, B); ``columns``: that many, the extra ones empty."""
        return pad_batch(self.cfg, self.mode, seqs, pad_to, columns)

    def train_sentences(
        self, seqs, pad_to: int | None = None, sync: bool = True, drop=None
    ):
        """One step on B sentences at once, each left-padded to ``pad_to`` (default:
        the longest): the loss is the mean over the sentences of each one's summed
        loss, so one sentence is exactly ``train_step``'s step. Returns (loss,
        data_loss) before the update, data_loss being that mean too."""
        X, Y, M = self.pad_batch(seqs, pad_to)
        return self._one(one(X, Y, M, 0, X.shape[1], self.cfg.dtype), sync, drop)

    def train_masked(self, X, Y, M, sync: bool = True, drop=None):
        """One step on a window right-padded under its 0/1 mask M, X, Y, M (T,) or
        (T, B) (``--variable-bptt``'s windows, padded to few lengths): the carried
        state continues from each stream's last real step. Returns (loss, data_loss)."""
        X, Y = np.asarray(X, np.int32), np.asarray(Y, np.int32)
        return self._one(one(X, Y, np.asarray(M), 0, 1, self.cfg.dtype), sync, drop)

    def train_on_seq(self, x, y, pad_to: int | None = None) -> float:
        """One SGD step on int arrays x, y; returns the loss (data + reg) as a float."""
        return self.train_step(x, y, pad_to)[0]

    def seq_loss(self, x, y, pad_to: int | None = None) -> tuple[float, float]:
        """(loss, data_loss) of a sequence without updating: validation."""
        args, length, masked = seq_args(self.cfg, self.mode, x, y, pad_to)
        loss, data_loss = self.programs.sequence("loss", length, masked)(*args)
        return float(loss), float(data_loss)

    def _held_out(self, chunk: Chunk):
        """A scoring chunk's one window of B streams: X, Y (T, B), checked, and the
        mask."""
        X, Y = np.asarray(chunk.X[0], np.int32), np.asarray(chunk.Y[0], np.int32)
        check_ids(self.cfg, X, Y)
        return X, Y, np.asarray(chunk.M[0], self.cfg.dtype)

    def score(self, chunk: Chunk, h0=None):
        """Summed data loss of a chunk's one window of B streams (T, B) under its
        mask, without updating: held-out text, B windows (or sentences) a call. With
        ``h0`` (S, B, H) each stream starts from its carried state, and the states
        after the last step come back too: (loss, states)."""
        X, Y, M = self._held_out(chunk)
        T, B = X.shape
        if h0 is None:
            _, data_loss = self.programs.sequence("loss", T, True, B)(X, Y, M)
            return float(data_loss) * chunk.streams
        h0 = np.asarray(h0, self.cfg.dtype)
        data_loss, h = self.programs.sequence("carried_loss", T, True, B)(X, Y, M, h0)
        return float(data_loss) * chunk.streams, np.asarray(h)

    def batch_loss(self, X, Y, M, h0=None):
        """``score`` of B streams X, Y (T, B) under the 0/1 mask M (T, B)."""
        B = np.shape(X)[1]
        return self.score(one(X, Y, M, 0, B, self.cfg.dtype), h0)

    def states(self, chunk: Chunk, h0):
        """A chunk's one window of B streams (T, B) under its mask from their carried
        states h0 (S, B, H), without updating: every position's -log p[y] (T, B),
        the top layer's states (T, B, H) and the states after the last real step
        (the neural cache's inputs, pytrnn.runtime.cache)."""
        X, Y, M = self._held_out(chunk)
        T, B = X.shape
        fn = self.programs.sequence("states", T, True, B)
        errors, top, h = fn(X, Y, M, np.asarray(h0, self.cfg.dtype))
        return np.asarray(errors), np.asarray(top), np.asarray(h)

    def predict_prob(self, x, pad_to: int | None = None) -> np.ndarray:
        """(vocab,) probabilities of the next id after the last step of x."""
        args, length, masked = seq_args(self.cfg, self.mode, x, None, pad_to)
        return np.asarray(self.programs.sequence("prob", length, masked)(*args))

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
        zeros = np.zeros((S, self.cfg.state_width), dtype=self.cfg.dtype)
        return zeros[0] if self.notebook_view() else zeros

    def step(self, x_t: int, h_tm1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed one id with the hidden state carried by the caller: (h_t, logits)."""
        if not 0 <= int(x_t) < self.cfg.vocab_size:
            raise ConfigError(f"token id {x_t} is outside [0, {self.cfg.vocab_size})")
        step = self.programs.step_function()
        state = np.asarray(h_tm1, self.cfg.dtype)
        flat = state.ndim == 1  # the notebook's (H,) view of the (1, H) state
        h, logits = step(np.int32(x_t), state[None] if flat else state)
        return np.asarray(h)[0] if flat else np.asarray(h), np.asarray(logits)

    # -- K windows in one call --------------------------------------------------
    def train_windows(
        self, X, Y, wmask=None, drops=None, masks=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """K SGD steps in one call (fused): X, Y (K, T) or (K, T, B) int arrays.

        Same losses and parameters as K calls of ``train_on_seq`` (B = 1), or of a
        batched step whose loss is the mean over the B streams. ``wmask`` (K,) of 0/1
        skips windows (padding). ``masks`` (K, T, B): K groups of left-padded
        sentences (JAX), the same steps as K calls of ``train_sentences``. Returns
        (losses, data_losses), each (K,).
        """
        K = np.shape(X)[0]
        w = np.ones(K, self.cfg.dtype) if wmask is None else wmask
        return self.train(
            Chunk(X, Y, masks, np.asarray(w, self.cfg.dtype), [0] * K, 0), drop=drops
        )

    # -- the state: parameters, optimizer state, rate, carried state -------------
    def get_params(self) -> dict[str, np.ndarray]:
        """Numpy copies of Wxh, Whh, bh, Why, by (and the other layers' and cells')."""
        return self.state.get_params()

    def set_params(self, params: dict) -> None:
        self.state.set_params(params)

    def set_lr(self, lr: float) -> None:
        """The learning rate from the next step on (schedules; no recompiling).
        Only a model built with ``variable_lr=True`` can change it."""
        self.state.set_lr(lr)

    @property
    def current_lr(self) -> float:
        return self.state.current_lr

    def get_opt_state(self) -> dict[str, np.ndarray]:
        """Numpy copies of the optimizer's state (empty for SGD)."""
        return self.state.get_opt_state()

    def set_opt_state(self, state: dict) -> None:
        self.state.set_opt_state(state)

    # ASGD's average (AWD-LSTM's NT-ASGD): what evaluation uses once it averages
    averaged_params = property(lambda self: self.state.averaged_params)
    averaging = property(lambda self: self.state.averaging)
    switched_on = property(lambda self: self.state.switched_on)
    start_averaging = property(lambda self: self.state.start_averaging)

    def reset_carry(self, batch: int | None = None) -> None:
        """Every stream's carried state back to zero, (S, B, H): a new pass."""
        self.state.reset_carry(batch)

    def get_carry(self) -> np.ndarray | None:
        """A numpy copy of the carried state (S, B, H) of the streams trained last,
        or None without ``carry_state``."""
        return self.state.get_carry()

    def set_carry(self, value) -> None:
        """Start the next window of B streams from ``value`` (S, B, H)."""
        self.state.set_carry(value)
