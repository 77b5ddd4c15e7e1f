"""One dataclass per concern: the network (ModelConfig), its optimizer with its
regularizers (OptimConfig), the data (DataConfig) and the run (RunConfig).
RNNConfig (network and optimizer: what a checkpoint keeps and the graphs read)
and TrainConfig (data and run) are their flat records.

Defaults are the original notebook's: window 25, hidden 100, SGD lr 0.01, L2 0.01 on
the three weight matrices, elementwise gradient clip to [-5, 5], float64.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from pytrnn.choices import (  # noqa: F401 (its names are config's too, as before)
    BACKEND_NAMES,
    CELL_NAMES,
    DEFAULT_EPS,
    DEFAULT_LR,
    DEVICES,
    DTYPES,
    FUSE_CHUNK,
    FUSE_SENTENCES,
    FUSES_WINDOWS,
    INITS,
    LAYOUTS,
    LEVELS,
    LOSS_SCALES,
    MODES,
    OPTIMIZERS,
    SOFTMAXES,
    STANDARD_CORPORA,
    TOKENIZERS,
    VARIABLE_BPTT_BUCKET,
    VARIABLE_BPTT_MIN,
    VARIABLE_BPTT_SD,
)
from pytrnn.errors import ConfigError
from pytrnn.validation import check_model, check_run, check_seed  # noqa: F401

# What a resumed run may do with each option, declared on the field itself:
LOCKED = "locked"  # fixes the data or the model: kept from the checkpoint; a conflict is refused
CHANGEABLE = (
    "changeable"  # the checkpoint's unless given again (the rate, the schedule)
)
FREE = "free"  # this invocation's own (passes, backend, paths, ...), never compared
DERIVED = "derived"  # follows from the corpus


def option(default, resume: str = FREE, **kw):
    """A config field with its resume rule."""
    return field(default=default, metadata={"resume": resume}, **kw)


def from_options(cls, options: dict):
    """A config from option values named as its fields (the CLI's parsed options):
    the one place the CLI's options become configs. ``vocab_size`` is the model's
    own (it follows from the corpus), never an option."""
    return cls(
        **{
            f.name: options[f.name]
            for f in fields(cls)
            if f.name in options and f.metadata.get("resume") != DERIVED
        }
    )


def default_lr(optimizer: str) -> float:
    """torch.optim's learning rate for an optimizer when none is given."""
    return DEFAULT_LR.get(optimizer, DEFAULT_LR["sgd"])


def fields_by_rule(cls, rule: str) -> tuple[str, ...]:
    """The names of ``cls``'s fields under one resume rule, in declaration order."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("resume", FREE) == rule)


def concern(cls, record):
    """The fields of one concern (a base of ``record``'s class) as that dataclass."""
    return cls(**{f.name: getattr(record, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class ModelConfig:
    """The network: its shape, cell, embedding, output layer, initial weights and
    dtype. ``vocab_size`` is filled from the corpus. The defaults are the
    notebook's: one tanh layer of 100, one-hot input, the full softmax."""

    vocab_size: int = option(98, DERIVED)
    hidden: int = option(100, LOCKED)
    window: int = option(25, LOCKED)
    dtype: str = option("float64", LOCKED)
    # "rnn" (the notebook's tanh cell) | "gru" | "lstm"
    cell: str = option("rnn", LOCKED)
    layers: int = option(1, LOCKED)
    # an embedding Wemb (V, E) before layer 0; None: one-hot
    emsize: int | None = option(None, LOCKED)
    # the output layer is Wemb.T (no Why): needs emsize == hidden
    tied: bool = option(False, LOCKED)
    # "notebook": randn / sqrt(fan_in); "wlm": its init_weights
    init: str = option("notebook", LOCKED)
    # torch's two biases per layer (b_ih, b_hh: ``bh``, ``bhh``) for the tanh cell and
    # the LSTM, each trained as a parameter of its own; None: with --init wlm (the GRU
    # has both always)
    two_biases: bool | None = option(None, LOCKED)
    # the output layer (pytrnn.graphs.adaptive): torch's AdaptiveLogSoftmaxWithLoss
    softmax: str = option("full", LOCKED)  # "full" | "adaptive"
    # adaptive: "2000,10000", ids below 2000 in the head
    cutoffs: str | None = option(None, LOCKED)
    # cluster i projects to H // div_value ** (i + 1)
    div_value: float = option(4.0, LOCKED)
    head_bias: bool = option(False, LOCKED)  # the head's bias (torch's head_bias)
    # rows per chunk of the full softmax; 0: whole; None: from V (graphs.chunked)
    output_chunk: int | None = option(None, FREE)  # how, not what: may change
    # bf16: the output layer's products on bfloat16, float32 sums (graphs.mixed)
    precision: str = option("full", LOCKED)

    def __post_init__(self):
        if self.two_biases is None:  # torch's layout with torch's init
            object.__setattr__(self, "two_biases", self.init == "wlm")

    @property
    def cutoff_list(self) -> tuple[int, ...]:
        """--cutoffs as integers, V appended (torch's ``self.cutoffs``)."""
        try:
            cuts = tuple(int(c) for c in str(self.cutoffs).split(",") if c.strip())
        except ValueError:
            raise ConfigError(
                f"--cutoffs must be integers separated by commas, got {self.cutoffs!r}"
            )
        return cuts + (self.vocab_size,)

    @property
    def widths(self) -> tuple[int, ...]:
        """Each layer's hidden width: --hidden, but with --tied and several layers
        the top one is --emsize (AWD-LSTM's rule: it feeds the tied output)."""
        return (self.hidden,) * (self.layers - 1) + (self.top_width,)

    @property
    def top_width(self) -> int:
        """The top layer's width (``widths[-1]``, without making the tuple)."""
        return self.emsize if self.tied and self.layers > 1 else self.hidden

    @property
    def state_width(self) -> int:
        """The carried state's width: the widest layer's (narrower ones are padded)."""
        return max(self.widths)


@dataclass(frozen=True)
class OptimConfig:
    """The optimizer and what shapes its gradient: the rate, the rule, the clips,
    the loss's scale and truncation, and AWD-LSTM's regularizers and schedule
    (NT-ASGD, variable windows). The defaults are the notebook's plain SGD, L2
    0.01 and elementwise clip 5."""

    # None: torch.optim's default for the optimizer (default_lr: 0.01, Adam's 0.001)
    lr: float | None = option(None, CHANGEABLE)
    reg: float = option(0.01, LOCKED)
    clip: float = option(5.0, LOCKED)  # elementwise, the notebook's; 0: off
    # torch's clip_grad_norm_ over every gradient; 0: off
    clip_norm: float = option(0.0, LOCKED)
    # "sgd" | "adagrad" | "rmsprop" | "adam" (torch.optim's rules)
    optimizer: str = option("sgd", LOCKED)
    beta1: float = option(0.9, LOCKED)  # adam
    beta2: float = option(0.999, LOCKED)  # adam
    alpha: float = option(0.99, LOCKED)  # rmsprop's smoothing constant
    # None: torch.optim's default for the optimizer
    eps: float | None = option(None, LOCKED)
    # torch.optim's weight_decay: wdecay * p added to the gradient
    wdecay: float = option(0.0, LOCKED)
    # "window": sum over a window (the notebook's); "token": mean
    loss_scale: str = option("window", LOCKED)
    bptt_truncate: int = option(-1, LOCKED)  # scan's truncate_gradient; -1 = full BPTT
    # SGD, then averaged SGD when validation stalls (AWD's nonmono)
    nt_asgd: int = option(0, LOCKED)
    # AWD's random window lengths around --window
    variable_bptt: bool = option(False, LOCKED)
    # on the non-recurrent connections (between layers, before output)
    dropout: float = option(0.0, LOCKED)
    # AWD-LSTM's regularizers (docs/awd-lstm.md); every one at 0 / None / False is off
    # one mask per stream and window, shared by its steps
    locked_dropout: bool = option(False, LOCKED)
    # on the embedding's output; None: --dropout
    dropouti: float | None = option(None, LOCKED)
    dropouth: float | None = option(None, LOCKED)  # between layers; None: --dropout
    # on the top layer's output; None: --dropout
    dropouto: float | None = option(None, LOCKED)
    dropoute: float = option(0.0, LOCKED)  # whole rows of Wemb, one mask per step
    wdrop: float = option(0.0, LOCKED)  # DropConnect on every Whh, one mask per step
    # alpha * mean(h^2) of the top layer's dropped output
    ar: float = option(0.0, LOCKED)
    # beta * mean((h_t - h_t-1)^2) of its undropped output
    tar: float = option(0.0, LOCKED)

    def __post_init__(self):
        if self.lr is None:  # the one place a rate left unset is decided
            object.__setattr__(self, "lr", default_lr(self.optimizer))

    @property
    def resolved_eps(self) -> float:
        return DEFAULT_EPS[self.optimizer] if self.eps is None else self.eps

    @property
    def place_rates(self) -> tuple[float, float, float]:
        """Dropout on (the embedding's output, between layers, the top layer's
        output): AWD's dropouti / dropouth / dropouto, each --dropout unless set."""
        d = self.dropout
        return tuple(
            d if r is None else r for r in (self.dropouti, self.dropouth, self.dropouto)
        )

    @property
    def averages(self) -> bool:
        """The optimizer keeps an average of the parameters (ASGD, now or later)."""
        return self.optimizer == "asgd" or self.nt_asgd > 0


@dataclass(frozen=True)
class RNNConfig(OptimConfig, ModelConfig):
    """The model a checkpoint keeps: the network (ModelConfig) and its optimizer
    (OptimConfig), one flat record (``cfg.hidden``, ``cfg.optimizer``), the
    graphs' one argument. ``model`` and ``optim`` give each concern alone.

    The defaults are the notebook's model, bit for bit: one tanh layer and plain SGD.
    """

    def __post_init__(self):
        ModelConfig.__post_init__(self)
        OptimConfig.__post_init__(self)

    @property
    def model(self) -> ModelConfig:
        return concern(ModelConfig, self)

    @property
    def optim(self) -> OptimConfig:
        return concern(OptimConfig, self)

    @classmethod
    def of(cls, model: ModelConfig, optim: OptimConfig) -> RNNConfig:
        """The record of a network and its optimizer."""
        return cls(**asdict(model), **asdict(optim))

    @property
    def drops(self) -> bool:
        """The graphs take dropout masks (some place has a rate)."""
        i, h, o = self.place_rates
        return (bool(self.emsize) and i > 0) or (self.layers > 1 and h > 0) or o > 0

    @property
    def noisy(self) -> bool:
        """Training draws random masks of any kind (dropout, dropoute, wdrop)."""
        return self.drops or self.dropoute > 0 or self.wdrop > 0

    def validate(self, vocab_known: bool = True, shape_known: bool = True) -> RNNConfig:
        """Every value in range; ``vocab_known`` False: V is not read yet (the
        corpus fills it), ``shape_known`` False: the embedding and tying come from
        --init-from's checkpoint; what depends on them waits (pytrnn.validation)."""
        check_model(self, vocab_known, shape_known)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RNNConfig:
        known = {f.name for f in fields(cls)}
        d = {"two_biases": False, **d}  # written before two biases: one bias
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class DataConfig:
    """The text and how it becomes chunks: the corpus and its held-out parts, the
    level, tokens and layout, the batch of streams, carried state."""

    # a path, "pydoc" (embedded default) or "four-million"
    corpus: str | None = option(None, LOCKED)
    level: str = option("char", LOCKED)
    # the notebook's N: train on the first N chars
    limit_chars: int | None = option(None, LOCKED)
    # a validation text file (else val_frac of the corpus)
    valid: str | None = option(None, LOCKED)
    test: str | None = option(None, LOCKED)  # a test text file, scored once at the end
    # None: 0 for chars (the notebook), 0.05 for words
    val_frac: float | None = option(None, LOCKED)
    # a share held out for test, scored once at the end
    test_frac: float = option(0.0, LOCKED)
    # word level: "sentences" | "stream" (see resolved_layout); char: stream
    layout: str | None = option(None, LOCKED)
    # word level: "regex" | "whitespace"; None: see resolved_tokenizer
    tokenizer: str | None = option(None, LOCKED)
    # word level: most frequent words kept (--vocab-size)
    max_words: int = option(8000, LOCKED)
    # word level: longer sentences are skipped; 0: no limit
    max_sentence_len: int = option(50, LOCKED)
    lower: bool = option(True, LOCKED)  # word level: lower-case the text first
    # B streams (or sentences) per step (1 = the notebook)
    batch: int = option(1, LOCKED)
    # each window starts from its stream's last state (streams)
    carry_state: bool = option(False, LOCKED)
    # a stream's every window as wlm's get_batch cuts it, the last one partial (the
    # notebook's rule, i + 1 + L >= n ends a pass, drops it)
    every_window: bool = option(False, LOCKED)

    @property
    def resolved_tokenizer(self) -> str:
        """How word-level text is read: "whitespace" (data.Corpus's rule) for a
        folder in the standard layout, "regex" (the WildML tokenizer) for a raw file."""
        if self.tokenizer is not None:
            return self.tokenizer
        standard = self.corpus is not None and (
            self.corpus in STANDARD_CORPORA or Path(self.corpus).is_dir()
        )
        return "whitespace" if standard else "regex"

    @property
    def resolved_layout(self) -> str:
        """ "stream": windows cut from one token stream (always, for chars, and for
        whitespace tokens, as wlm); "sentences": one padded sentence per row (the
        word level's default for raw text)."""
        if self.layout is not None:
            return self.layout
        if self.level == "char" or self.resolved_tokenizer == "whitespace":
            return "stream"
        return "sentences"

    @property
    def resolved_val_frac(self) -> float:
        if self.val_frac is not None:
            return self.val_frac
        return 0.0 if self.level == "char" else 0.05


@dataclass(frozen=True)
class RunConfig:
    """One invocation: passes, seed, backend and devices, where the checkpoint and
    the log go, the rate's schedule."""

    passes: int = option(10, FREE)
    seed: int = option(0, LOCKED)
    # None: "scan" (same steps as "unroll", starts fastest)
    mode: str | None = option(None, FREE)
    backend: str | None = option(None, FREE)  # None: the fastest backend here
    # JAX: "cpu" | "gpu"; None: GPU when JAX sees one
    device: str | None = option(None, FREE)
    # None: the resumed checkpoint, or runs/<corpus>-<level>.npz
    checkpoint: str | None = option(None, FREE)
    resume: str | None = option(None, FREE)
    # a new run from another checkpoint's weights (pytrnn.training.init_from)
    init_from: str | None = option(None, LOCKED)
    # a new run may replace the checkpoint at its path
    overwrite: bool = option(False, FREE)
    # chars, or words in whole sentences, printed after training
    sample_length: int = option(200, FREE)
    # windows per compiled call (streams); None: see runtime.backends.windows_per_call
    fuse: int | None = option(None, LOCKED)
    # JAX devices the batch's streams are split over (data parallel)
    devices: int = option(1, FREE)
    coordinator: str | None = option(None, FREE)  # multi-host: HOST:PORT of process 0
    num_processes: int = option(1, FREE)
    process_id: int = option(0, FREE)
    log: str | None = option(None, FREE)  # a JSON-lines file: one line per pass
    # a line every N steps, as wlm's --log-interval (0: none)
    log_interval: int = option(0, FREE)
    # char-rnn: after each pass >= lr_decay_after, lr *= lr_decay
    lr_decay: float = option(1.0, CHANGEABLE)
    lr_decay_after: int = option(10, CHANGEABLE)
    # word_language_model: lr /= 4 when val stalls
    anneal_on_plateau: bool = option(False, CHANGEABLE)
    save_every: float = option(60.0, FREE)  # seconds between checkpoints inside a pass

    @property
    def has_schedule(self) -> bool:
        return self.lr_decay != 1.0 or self.anneal_on_plateau

    @property
    def resolved_mode(self) -> str:
        return self.mode or "scan"


@dataclass(frozen=True)
class TrainConfig(RunConfig, DataConfig):
    """One training run: its data (DataConfig) and the run (RunConfig), one flat
    record; ``data`` and ``run`` give each concern alone."""

    @property
    def data(self) -> DataConfig:
        return concern(DataConfig, self)

    @property
    def run(self) -> RunConfig:
        return concern(RunConfig, self)

    def validate(self) -> TrainConfig:
        """Every value in range, and no two that cannot go together."""
        check_run(self)
        return self
