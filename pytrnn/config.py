"""One dataclass per concern: the model (RNNConfig) and the run (TrainConfig).

Defaults are the original notebook's: window 25, hidden 100, SGD lr 0.01, L2 0.01 on
the three weight matrices, elementwise gradient clip to [-5, 5], float64.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from pytrnn.choices import (  # noqa: F401 (its names are config's too, as before)
    MODES, LEVELS, LAYOUTS, BACKEND_NAMES, FUSES_WINDOWS, DEVICES, DTYPES, CELL_NAMES,
    OPTIMIZERS, LOSS_SCALES, INITS, TOKENIZERS, SOFTMAXES, STANDARD_CORPORA,
    DEFAULT_LR, DEFAULT_EPS, VARIABLE_BPTT_SD, VARIABLE_BPTT_MIN, VARIABLE_BPTT_BUCKET,
    FUSE_CHUNK, FUSE_SENTENCES,
)
from pytrnn.errors import ConfigError

# What a resumed run may do with each option, declared on the field itself:
LOCKED = "locked"  # fixes the data or the model: kept from the checkpoint; a conflict is refused
CHANGEABLE = "changeable"  # the checkpoint's unless given again (the rate, the schedule)
FREE = "free"  # this invocation's own (passes, backend, paths, ...), never compared
DERIVED = "derived"  # follows from the corpus


def option(default, resume: str = FREE, **kw):
    """A config field with its resume rule."""
    return field(default=default, metadata={"resume": resume}, **kw)


def from_options(cls, options: dict):
    """A config from option values named as its fields (the CLI's parsed options):
    the one place the CLI's options become configs. ``vocab_size`` is the model's
    own (it follows from the corpus), never an option."""
    return cls(**{f.name: options[f.name] for f in fields(cls)
                  if f.name in options and f.metadata.get("resume") != DERIVED})


def check_seed(seed: int) -> int:
    """Seeds are non-negative integers (numpy's SeedSequence takes no others)."""
    if seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {seed}")
    return seed


def fields_by_rule(cls, rule: str) -> tuple[str, ...]:
    """The names of ``cls``'s fields under one resume rule, in declaration order."""
    return tuple(f.name for f in fields(cls) if f.metadata.get("resume", FREE) == rule)


@dataclass(frozen=True)
class RNNConfig:
    """The network and its optimiser. ``vocab_size`` is filled from the corpus.

    The defaults are the notebook's model, bit for bit: one tanh layer and plain SGD.
    """

    vocab_size: int = option(98, DERIVED)
    hidden: int = option(100, LOCKED)
    window: int = option(25, LOCKED)
    lr: float = option(0.01, CHANGEABLE)
    reg: float = option(0.01, LOCKED)
    clip: float = option(5.0, LOCKED)  # elementwise, the notebook's; 0: off
    clip_norm: float = option(0.0, LOCKED)  # torch's clip_grad_norm_ over every gradient; 0: off
    dtype: str = option("float64", LOCKED)
    bptt_truncate: int = option(-1, LOCKED)  # scan's truncate_gradient; -1 = full BPTT
    cell: str = option("rnn", LOCKED)  # "rnn" (the notebook's tanh cell) | "gru" | "lstm"
    layers: int = option(1, LOCKED)
    dropout: float = option(0.0, LOCKED)  # on the non-recurrent connections (between layers, before output)
    optimizer: str = option("sgd", LOCKED)  # "sgd" | "adagrad" | "rmsprop" | "adam" (torch.optim's rules)
    beta1: float = option(0.9, LOCKED)  # adam
    beta2: float = option(0.999, LOCKED)  # adam
    alpha: float = option(0.99, LOCKED)  # rmsprop's smoothing constant
    eps: float | None = option(None, LOCKED)  # None: torch.optim's default for the optimizer
    emsize: int | None = option(None, LOCKED)  # an embedding Wemb (V, E) before layer 0; None: one-hot
    tied: bool = option(False, LOCKED)  # the output layer is Wemb.T (no Why): needs emsize == hidden
    loss_scale: str = option("window", LOCKED)  # "window": sum over a window (the notebook's); "token": mean
    init: str = option("notebook", LOCKED)  # "notebook": randn / sqrt(fan_in); "wlm": its init_weights
    # AWD-LSTM's regularizers (docs/awd-lstm.md); every one at 0 / None / False is off
    locked_dropout: bool = option(False, LOCKED)  # one mask per stream and window, shared by its steps
    dropouti: float | None = option(None, LOCKED)  # on the embedding's output; None: --dropout
    dropouth: float | None = option(None, LOCKED)  # between layers; None: --dropout
    dropouto: float | None = option(None, LOCKED)  # on the top layer's output; None: --dropout
    dropoute: float = option(0.0, LOCKED)  # whole rows of Wemb, one mask per step
    wdrop: float = option(0.0, LOCKED)  # DropConnect on every Whh, one mask per step
    ar: float = option(0.0, LOCKED)  # alpha * mean(h^2) of the top layer's dropped output
    tar: float = option(0.0, LOCKED)  # beta * mean((h_t - h_t-1)^2) of its undropped output
    wdecay: float = option(0.0, LOCKED)  # torch.optim's weight_decay: wdecay * p added to the gradient
    nt_asgd: int = option(0, LOCKED)  # SGD, then averaged SGD when validation stalls (AWD's nonmono)
    variable_bptt: bool = option(False, LOCKED)  # AWD's random window lengths around --window
    # the output layer (pytrnn.graphs.adaptive): torch's AdaptiveLogSoftmaxWithLoss
    softmax: str = option("full", LOCKED)  # "full" | "adaptive"
    cutoffs: str | None = option(None, LOCKED)  # adaptive: "2000,10000", ids below 2000 in the head
    div_value: float = option(4.0, LOCKED)  # cluster i projects to H // div_value ** (i + 1)
    head_bias: bool = option(False, LOCKED)  # the head's bias (torch's head_bias)

    @property
    def resolved_eps(self) -> float:
        return DEFAULT_EPS[self.optimizer] if self.eps is None else self.eps

    @property
    def cutoff_list(self) -> tuple[int, ...]:
        """--cutoffs as integers, V appended (torch's ``self.cutoffs``)."""
        try:
            cuts = tuple(int(c) for c in str(self.cutoffs).split(",") if c.strip())
        except ValueError:
            raise ConfigError(f"--cutoffs must be integers separated by commas, "
                              f"got {self.cutoffs!r}")
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

    @property
    def place_rates(self) -> tuple[float, float, float]:
        """Dropout on (the embedding's output, between layers, the top layer's
        output): AWD's dropouti / dropouth / dropouto, each --dropout unless set."""
        d = self.dropout
        return tuple(d if r is None else r for r in (self.dropouti, self.dropouth,
                                                     self.dropouto))

    @property
    def drops(self) -> bool:
        """The graphs take dropout masks (some place has a rate)."""
        i, h, o = self.place_rates
        return (bool(self.emsize) and i > 0) or (self.layers > 1 and h > 0) or o > 0

    @property
    def noisy(self) -> bool:
        """Training draws random masks of any kind (dropout, dropoute, wdrop)."""
        return self.drops or self.dropoute > 0 or self.wdrop > 0

    @property
    def averages(self) -> bool:
        """The optimizer keeps an average of the parameters (ASGD, now or later)."""
        return self.optimizer == "asgd" or self.nt_asgd > 0

    def validate(self, vocab_known: bool = True) -> RNNConfig:
        """Every value in range; ``vocab_known`` False: V is not read yet (the
        corpus fills it), so what depends on it waits."""
        if self.vocab_size < 2:
            raise ConfigError(f"vocab_size must be at least 2, got {self.vocab_size}")
        if self.hidden < 1:
            raise ConfigError(f"--hidden must be at least 1, got {self.hidden}")
        if self.window < 1:
            raise ConfigError(f"--window must be at least 1, got {self.window}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}")
        if not self.reg >= 0:
            raise ConfigError(f"--reg must be non-negative, got {self.reg}")
        if not self.clip >= 0:
            raise ConfigError(f"--clip must be positive (or 0: off), got {self.clip}")
        if not self.clip_norm >= 0:
            raise ConfigError(f"--clip-norm must be positive (or 0: off), got {self.clip_norm}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.cell not in CELL_NAMES:
            raise ConfigError(f"--cell must be one of {', '.join(CELL_NAMES)}, got {self.cell!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.layers < 1:
            raise ConfigError(f"--layers must be at least 1, got {self.layers}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, "
                              f"got {self.optimizer!r}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and 0 <= self.alpha < 1):
            raise ConfigError("--beta1, --beta2 and --alpha must be in [0, 1)")
        if self.emsize is not None and self.emsize < 1:
            raise ConfigError(f"--emsize must be at least 1, got {self.emsize}")
        if self.tied and (not self.emsize or (self.layers == 1 and
                                              self.emsize != self.hidden)):
            got = f"--emsize {self.emsize}" if self.emsize else "no --emsize"
            raise ConfigError(f"--tied needs --emsize equal to --hidden with one layer "
                              f"(as wlm: when using the tied flag, nhid must be equal to "
                              f"emsize; with several, the top layer is --emsize wide, "
                              f"AWD-LSTM's rule); got {got} and --hidden {self.hidden}")
        if self.loss_scale not in LOSS_SCALES:
            raise ConfigError(f"--loss-scale must be one of {', '.join(LOSS_SCALES)}, "
                              f"got {self.loss_scale!r}")
        if self.init not in INITS:
            raise ConfigError(f"--init must be one of {', '.join(INITS)}, got {self.init!r}")
        for name in ("dropouti", "dropouth", "dropouto", "dropoute", "wdrop"):
            r = getattr(self, name)
            if r is not None and not 0 <= r < 1:
                raise ConfigError(f"--{name} must be in [0, 1), got {r}")
        if (self.dropouti or 0) > 0 and not self.emsize:
            raise ConfigError("--dropouti is on the embedding's output: add --emsize")
        if self.dropoute > 0 and not self.emsize:
            raise ConfigError("--dropoute drops rows of the embedding: add --emsize")
        for name in ("ar", "tar", "wdecay"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"--{name} must be non-negative, got {getattr(self, name)}")
        if self.nt_asgd < 0:
            raise ConfigError(f"--nt-asgd must be 0 (off) or a number of checks, got {self.nt_asgd}")
        if self.nt_asgd > 0 and self.optimizer != "sgd":
            raise ConfigError("--nt-asgd switches SGD to averaged SGD: it needs --optimizer sgd")
        if self.softmax not in SOFTMAXES:
            raise ConfigError(f"--softmax must be one of {', '.join(SOFTMAXES)}, "
                              f"got {self.softmax!r}")
        if self.softmax == "adaptive":
            if not self.cutoffs:
                raise ConfigError("--softmax adaptive needs --cutoffs (e.g. 2000,10000: "
                                  "the head holds ids below 2000)")
            cuts = self.cutoff_list[:-1]
            if not cuts:
                raise ConfigError(f"--cutoffs needs at least one integer (e.g. "
                                  f"2000,10000), got {self.cutoffs!r}")
            if (list(cuts) != sorted(set(cuts)) or cuts[0] <= 0
                    or (vocab_known and cuts[-1] > self.vocab_size - 1)):
                top = f"V - 1 = {self.vocab_size - 1}" if vocab_known else "V - 1"
                raise ConfigError(f"--cutoffs must be unique integers, increasing, each "
                                  f"between 1 and {top} (torch's rule); got "
                                  f"{self.cutoffs}")
            if not (math.isfinite(self.div_value) and self.div_value >= 1):
                raise ConfigError(f"--div-value must be positive, finite and at least 1 "
                                  f"(no cluster wider than --hidden), got {self.div_value}")
            if self.tied:
                raise ConfigError("--tied cannot be combined with --softmax adaptive (as "
                                  "torch's AdaptiveLogSoftmaxWithLoss, which has no Why "
                                  "to tie: pytorch/pytorch#17313)")
        elif self.cutoffs or self.head_bias:
            raise ConfigError("--cutoffs and --head-bias are for --softmax adaptive")
        if self.variable_bptt and self.bptt_truncate > 0:
            raise ConfigError("--variable-bptt and --bptt-truncate cannot be combined")
        if self.eps is not None and not self.eps >= 0:
            raise ConfigError(f"--eps must be non-negative, got {self.eps}")
        if self.bptt_truncate == 0 or self.bptt_truncate < -1:
            raise ConfigError(
                f"--bptt-truncate must be -1 (full) or a positive number of steps, "
                f"got {self.bptt_truncate}"
            )
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RNNConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class TrainConfig:
    """One training run: data, loop, backend and where the checkpoint goes."""

    corpus: str | None = option(None, LOCKED)  # a path, "pydoc" (embedded default) or "four-million"
    level: str = option("char", LOCKED)
    passes: int = option(10, FREE)
    limit_chars: int | None = option(None, LOCKED)  # the notebook's N: train on the first N chars
    seed: int = option(0, LOCKED)
    mode: str | None = option(None, FREE)  # None: "scan" (same steps as "unroll", starts fastest)
    backend: str | None = option(None, FREE)  # None: the fastest backend here
    device: str | None = option(None, FREE)  # JAX: "cpu" | "gpu"; None: GPU when JAX sees one
    checkpoint: str | None = option(None, FREE)  # None: the resumed checkpoint, or runs/<corpus>-<level>.npz
    resume: str | None = option(None, FREE)
    overwrite: bool = option(False, FREE)  # a new run may replace the checkpoint at its path
    valid: str | None = option(None, LOCKED)  # a validation text file (else val_frac of the corpus)
    test: str | None = option(None, LOCKED)  # a test text file, scored once at the end
    val_frac: float | None = option(None, LOCKED)  # None: 0 for chars (the notebook), 0.05 for words
    test_frac: float = option(0.0, LOCKED)  # a share held out for test, scored once at the end
    layout: str | None = option(None, LOCKED)  # word level: "sentences" | "stream" (see resolved_layout); char: stream
    tokenizer: str | None = option(None, LOCKED)  # word level: "regex" | "whitespace"; None: see resolved_tokenizer
    carry_state: bool = option(False, LOCKED)  # each window starts from its stream's last state (streams)
    max_words: int = option(8000, LOCKED)  # word level: most frequent words kept (--vocab-size)
    max_sentence_len: int = option(50, LOCKED)  # word level: longer sentences are skipped; 0: no limit
    lower: bool = option(True, LOCKED)  # word level: lower-case the text first
    sample_length: int = option(200, FREE)  # chars, or words in whole sentences, printed after training
    batch: int = option(1, LOCKED)  # B streams (or sentences) per step (1 = the notebook)
    fuse: int | None = option(None, LOCKED)  # windows per compiled call (streams); None: see resolved_fuse
    devices: int = option(1, FREE)  # JAX devices the batch's streams are split over (data parallel)
    coordinator: str | None = option(None, FREE)  # multi-host: HOST:PORT of process 0
    num_processes: int = option(1, FREE)
    process_id: int = option(0, FREE)
    log: str | None = option(None, FREE)  # a JSON-lines file: one line per pass
    lr_decay: float = option(1.0, CHANGEABLE)  # char-rnn: after each pass >= lr_decay_after, lr *= lr_decay
    lr_decay_after: int = option(10, CHANGEABLE)
    anneal_on_plateau: bool = option(False, CHANGEABLE)  # word_language_model: lr /= 4 when val stalls
    save_every: float = option(60.0, FREE)  # seconds between checkpoints inside a pass

    @property
    def has_schedule(self) -> bool:
        return self.lr_decay != 1.0 or self.anneal_on_plateau

    @property
    def resolved_mode(self) -> str:
        return self.mode or "scan"

    def resolved_fuse(self, backend: str, windows: int) -> int:
        """Windows per compiled call. Default: on JAX the pass in even chunks of about
        FUSE_CHUNK windows (each one ``lax.scan``, pytrnn.runtime.fused), so the last chunk
        needs almost no padding; elsewhere one call per window, as the notebook (the
        other backends compile PyTensor's scan-over-windows slowly). Sentences: on
        JAX (scan) FUSE_SENTENCES groups of one bucket per call, elsewhere one group
        per call; a new run keeps what this resolved to (it orders the pass)."""
        if self.fuse is not None:
            return self.fuse
        if self.resolved_layout == "sentences":
            fuses = backend in FUSES_WINDOWS and self.resolved_mode == "scan"
            return FUSE_SENTENCES if fuses else 1
        if backend not in FUSES_WINDOWS:
            return 1
        chunks = -(-windows // FUSE_CHUNK)
        return -(-windows // chunks)

    @property
    def resolved_tokenizer(self) -> str:
        """How word-level text is read: "whitespace" (data.Corpus's rule) for a
        folder in the standard layout, "regex" (the WildML tokenizer) for a raw file."""
        if self.tokenizer is not None:
            return self.tokenizer
        standard = self.corpus is not None and (self.corpus in STANDARD_CORPORA
                                                or Path(self.corpus).is_dir())
        return "whitespace" if standard else "regex"

    @property
    def resolved_layout(self) -> str:
        """"stream": windows cut from one token stream (always, for chars, and for
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

    def validate(self) -> TrainConfig:
        if self.level not in LEVELS:
            raise ConfigError(f"--level must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if self.resolved_mode not in MODES:
            raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.passes < 1:
            raise ConfigError(f"--passes must be at least 1, got {self.passes}")
        check_seed(self.seed)
        if self.limit_chars is not None and self.limit_chars < 2:
            raise ConfigError(f"--limit-chars must be at least 2, got {self.limit_chars}")
        if not 0 <= self.resolved_val_frac < 1:
            raise ConfigError(f"--val-frac must be in [0, 1), got {self.val_frac}")
        if self.batch < 1 or (self.fuse is not None and self.fuse < 1):
            raise ConfigError("--batch and --fuse must be at least 1")
        if self.resolved_layout not in LAYOUTS:
            raise ConfigError(f"--layout must be one of {', '.join(LAYOUTS)}, "
                              f"got {self.layout!r}")
        if self.level == "char" and self.resolved_layout != "stream":
            raise ConfigError("--layout sentences is a word-level option")
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"--tokenizer must be one of {', '.join(TOKENIZERS)}, "
                              f"got {self.tokenizer!r}")
        if self.level == "char" and self.tokenizer is not None:
            raise ConfigError("--tokenizer is a word-level option (add --level word)")
        if not 0 <= self.test_frac < 1 or self.resolved_val_frac + self.test_frac >= 1:
            raise ConfigError(f"--test-frac must be in [0, 1) and leave text to train "
                              f"on with --val-frac, got {self.test_frac}")
        if self.resolved_layout == "sentences" and self.devices > 1:
            raise ConfigError("--devices needs windows of a stream: at the word level, "
                              "add --layout stream")
        if self.resolved_layout == "sentences" and self.carry_state:
            raise ConfigError("--carry-state needs windows that follow each other: at "
                              "the word level, add --layout stream")
        if self.carry_state and self.num_processes > 1:
            raise ConfigError("--carry-state across processes is not supported yet: a "
                              "checkpoint would hold only this process's streams' states")
        if not 0 < self.lr_decay <= 1 or self.lr_decay_after < 0:
            raise ConfigError("--lr-decay must be in (0, 1] and --lr-decay-after at least 0")
        if self.devices < 1:
            raise ConfigError(f"--devices must be at least 1, got {self.devices}")
        if self.devices > 1 and (self.batch < 2 or self.batch % self.devices):
            raise ConfigError(f"--batch {self.batch} must be a multiple of --devices "
                              f"{self.devices} (and at least 2)")
        if self.max_words < 1:
            raise ConfigError(f"--vocab-size must be at least 1, got {self.max_words}")
        if self.max_sentence_len < 0:
            raise ConfigError(
                f"--max-sentence-len must be 0 (no limit) or more, got {self.max_sentence_len}"
            )
        return self
