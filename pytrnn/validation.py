"""The checks a config passes before anything is built: every value in range and no
two options that cannot go together, each failure one ConfigError naming the flags
(RNNConfig.validate and TrainConfig.validate call these).
"""

from __future__ import annotations

import math

from pytrnn.choices import (
    CHOICES,
    LAYOUTS,
    LEVELS,
    MODEL_CHOICES,
    MODES,
    TOKENIZERS,
)
from pytrnn.errors import ConfigError


def check_seed(seed: int) -> int:
    """Seeds are non-negative integers (numpy's SeedSequence takes no others)."""
    if seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {seed}")
    return seed


def check_model(cfg, vocab_known: bool = True, shape_known: bool = True) -> None:
    """``shape_known`` False: a run from --init-from takes its embedding and tying
    from the checkpoint, so the rules that read them wait for it."""
    if cfg.vocab_size < 2:
        raise ConfigError(f"vocab_size must be at least 2, got {cfg.vocab_size}")
    if cfg.hidden < 1:
        raise ConfigError(f"--hidden must be at least 1, got {cfg.hidden}")
    if cfg.window < 1:
        raise ConfigError(f"--window must be at least 1, got {cfg.window}")
    if not cfg.lr > 0:
        raise ConfigError(f"--lr must be positive, got {cfg.lr}")
    if not cfg.reg >= 0:
        raise ConfigError(f"--reg must be non-negative, got {cfg.reg}")
    if not cfg.clip >= 0:
        raise ConfigError(f"--clip must be positive (or 0: off), got {cfg.clip}")
    if not cfg.clip_norm >= 0:
        raise ConfigError(
            f"--clip-norm must be positive (or 0: off), got {cfg.clip_norm}"
        )
    for name in MODEL_CHOICES:
        value, values = getattr(cfg, name), CHOICES[name]
        if value not in values:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} must be one of {', '.join(values)}, got {value!r}"
            )
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"--dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.layers < 1:
        raise ConfigError(f"--layers must be at least 1, got {cfg.layers}")
    if not (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1 and 0 <= cfg.alpha < 1):
        raise ConfigError("--beta1, --beta2 and --alpha must be in [0, 1)")
    if cfg.emsize is not None and cfg.emsize < 1:
        raise ConfigError(f"--emsize must be at least 1, got {cfg.emsize}")
    if (
        shape_known
        and cfg.tied
        and (not cfg.emsize or (cfg.layers == 1 and cfg.emsize != cfg.hidden))
    ):
        got = f"--emsize {cfg.emsize}" if cfg.emsize else "no --emsize"
        raise ConfigError(
            f"--tied needs --emsize equal to --hidden with one layer "
            f"(as wlm: when using the tied flag, nhid must be equal to "
            f"emsize; with several, the top layer is --emsize wide, "
            f"AWD-LSTM's rule); got {got} and --hidden {cfg.hidden}"
        )
    for name in ("dropouti", "dropouth", "dropouto", "dropoute", "wdrop"):
        r = getattr(cfg, name)
        if r is not None and not 0 <= r < 1:
            raise ConfigError(f"--{name} must be in [0, 1), got {r}")
    if shape_known and (cfg.dropouti or 0) > 0 and not cfg.emsize:
        raise ConfigError("--dropouti is on the embedding's output: add --emsize")
    if shape_known and cfg.dropoute > 0 and not cfg.emsize:
        raise ConfigError("--dropoute drops rows of the embedding: add --emsize")
    for name in ("ar", "tar", "wdecay"):
        if not getattr(cfg, name) >= 0:
            raise ConfigError(
                f"--{name} must be non-negative, got {getattr(cfg, name)}"
            )
    if cfg.nt_asgd < 0:
        raise ConfigError(
            f"--nt-asgd must be 0 (off) or a number of checks, got {cfg.nt_asgd}"
        )
    if cfg.nt_asgd > 0 and cfg.optimizer != "sgd":
        raise ConfigError(
            "--nt-asgd switches SGD to averaged SGD: it needs --optimizer sgd"
        )
    if cfg.softmax == "adaptive":
        if not cfg.cutoffs:
            raise ConfigError(
                "--softmax adaptive needs --cutoffs (e.g. 2000,10000: "
                "the head holds ids below 2000; or auto)"
            )
        if cfg.cutoffs == "auto" and vocab_known:
            raise ConfigError("--cutoffs auto is decided from the training text")
        cuts = (1,) if cfg.cutoffs == "auto" else cfg.cutoff_list[:-1]
        if not cuts:
            raise ConfigError(
                f"--cutoffs needs at least one integer (e.g. "
                f"2000,10000), got {cfg.cutoffs!r}"
            )
        if (
            list(cuts) != sorted(set(cuts))
            or cuts[0] <= 0
            or (vocab_known and cuts[-1] > cfg.vocab_size - 1)
        ):
            top = f"V - 1 = {cfg.vocab_size - 1}" if vocab_known else "V - 1"
            raise ConfigError(
                f"--cutoffs must be unique integers, increasing, each "
                f"between 1 and {top} (torch's rule); got "
                f"{cfg.cutoffs}"
            )
        if not (math.isfinite(cfg.div_value) and cfg.div_value >= 1):
            raise ConfigError(
                f"--div-value must be positive, finite and at least 1 "
                f"(no cluster wider than --hidden), got {cfg.div_value}"
            )
        if cfg.tied:
            raise ConfigError(
                "--tied cannot be combined with --softmax adaptive (as "
                "torch's AdaptiveLogSoftmaxWithLoss, which has no Why "
                "to tie: pytorch/pytorch#17313)"
            )
    elif cfg.cutoffs or cfg.head_bias:
        raise ConfigError("--cutoffs and --head-bias are for --softmax adaptive")
    if cfg.output_chunk is not None and cfg.output_chunk < 0:
        raise ConfigError(
            f"--output-chunk is a number of rows (0: the whole step), got "
            f"{cfg.output_chunk}"
        )
    if cfg.output_chunk and cfg.softmax != "full":
        raise ConfigError(
            "--output-chunk cuts the full softmax; the adaptive softmax computes "
            "each cluster on its own rows already"
        )
    if cfg.precision == "bf16" and (cfg.dtype != "float32" or cfg.softmax != "full"):
        raise ConfigError(
            "--precision bf16 runs the full softmax's products on bfloat16 with "
            "float32 sums: it needs --dtype float32 and --softmax full"
        )
    if cfg.variable_bptt and cfg.bptt_truncate > 0:
        raise ConfigError("--variable-bptt and --bptt-truncate cannot be combined")
    if cfg.eps is not None and not cfg.eps >= 0:
        raise ConfigError(f"--eps must be non-negative, got {cfg.eps}")
    if cfg.bptt_truncate == 0 or cfg.bptt_truncate < -1:
        raise ConfigError(
            f"--bptt-truncate must be -1 (full) or a positive number of steps, "
            f"got {cfg.bptt_truncate}"
        )


def check_run(cfg) -> None:
    if cfg.level not in LEVELS:
        raise ConfigError(
            f"--level must be one of {', '.join(LEVELS)}, got {cfg.level!r}"
        )
    if cfg.resolved_mode not in MODES:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)}, got {cfg.mode!r}")
    if cfg.passes < 1:
        raise ConfigError(f"--passes must be at least 1, got {cfg.passes}")
    if cfg.log_interval < 0:
        raise ConfigError(
            f"--log-interval must be 0 (off) or more, got {cfg.log_interval}"
        )
    check_seed(cfg.seed)
    if cfg.limit_chars is not None and cfg.limit_chars < 2:
        raise ConfigError(f"--limit-chars must be at least 2, got {cfg.limit_chars}")
    if not 0 <= cfg.resolved_val_frac < 1:
        raise ConfigError(f"--val-frac must be in [0, 1), got {cfg.val_frac}")
    if cfg.batch < 1 or (cfg.fuse is not None and cfg.fuse < 1):
        raise ConfigError("--batch and --fuse must be at least 1")
    if cfg.resolved_layout not in LAYOUTS:
        raise ConfigError(
            f"--layout must be one of {', '.join(LAYOUTS)}, got {cfg.layout!r}"
        )
    if cfg.level == "char" and cfg.resolved_layout != "stream":
        raise ConfigError("--layout sentences is a word-level option")
    if cfg.tokenizer is not None and cfg.tokenizer not in TOKENIZERS:
        raise ConfigError(
            f"--tokenizer must be one of {', '.join(TOKENIZERS)}, got {cfg.tokenizer!r}"
        )
    if cfg.level == "char" and cfg.tokenizer is not None:
        raise ConfigError("--tokenizer is a word-level option (add --level word)")
    if not 0 <= cfg.test_frac < 1 or cfg.resolved_val_frac + cfg.test_frac >= 1:
        raise ConfigError(
            f"--test-frac must be in [0, 1) and leave text to train "
            f"on with --val-frac, got {cfg.test_frac}"
        )
    if cfg.resolved_layout == "sentences" and cfg.devices > 1:
        raise ConfigError(
            "--devices needs windows of a stream: at the word level, "
            "add --layout stream"
        )
    if cfg.resolved_layout == "sentences" and cfg.carry_state:
        raise ConfigError(
            "--carry-state needs windows that follow each other: at "
            "the word level, add --layout stream"
        )
    if cfg.carry_state and cfg.num_processes > 1:
        raise ConfigError(
            "--carry-state across processes is not supported yet: a "
            "checkpoint would hold only this process's streams' states"
        )
    if not 0 < cfg.lr_decay <= 1 or cfg.lr_decay_after < 0:
        raise ConfigError(
            "--lr-decay must be in (0, 1] and --lr-decay-after at least 0"
        )
    if cfg.devices < 1:
        raise ConfigError(f"--devices must be at least 1, got {cfg.devices}")
    if cfg.devices > 1 and (cfg.batch < 2 or cfg.batch % cfg.devices):
        raise ConfigError(
            f"--batch {cfg.batch} must be a multiple of --devices "
            f"{cfg.devices} (and at least 2)"
        )
    if cfg.max_words < 1:
        raise ConfigError(f"--vocab-size must be at least 1, got {cfg.max_words}")
    if cfg.max_sentence_len < 0:
        raise ConfigError(
            f"--max-sentence-len must be 0 (no limit) or more, got {cfg.max_sentence_len}"
        )
