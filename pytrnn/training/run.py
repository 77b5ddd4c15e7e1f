"""``train``: what ``pytrnn train`` runs. It settles the run's configuration (a
resumed run keeps what fixes its data and model), decides where the checkpoint goes
without ever overwriting another run, loads the texts and hands the level's data
(pytrnn.training.windows, .stream, .sentences) to the one loop.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from pytrnn.config import CHANGEABLE, LOCKED, RNNConfig, TrainConfig, fields_by_rule
from pytrnn.data.corpora import DEFAULT_CORPUS, corpus_name, load_texts
from pytrnn.data.words import auto_cutoffs, coverage_line
from pytrnn.errors import CheckpointError, ConfigError, OutputError
from pytrnn.files import PathBusy, check_writable, claim_all
from pytrnn.recipes import flag
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.runtime.backends import resolve_backend, windows_per_call
from pytrnn.training import init_from
from pytrnn.training.loop import (
    DATA_FIELDS,
    SCHEDULE_FIELDS,
    Loop,
    TrainingInterrupted,
    TrainResult,
    best_file,
    best_path,
    owned_signals,
    resumes_into,
)
from pytrnn.training.progress import PrintReporter
from pytrnn.training.sentences import prepare_sentences
from pytrnn.training.stream import prepare_stream
from pytrnn.training.windows import prepare_chars

__all__ = ["train", "TrainResult", "TrainingInterrupted", "default_checkpoint"]

# RNNConfig fields a resumed run may change; the locked ones fix the model it trains
RESUMABLE_MODEL_FIELDS = fields_by_rule(RNNConfig, CHANGEABLE)
LOCKED_MODEL_FIELDS = fields_by_rule(RNNConfig, LOCKED)


def _shown(v) -> str:
    return "unset (the default)" if v is None else str(v)


def _was_given(name: str, cfg, default, given) -> bool:
    """The user set this option: named in ``given`` (the CLI knows which options
    were typed), or, for a caller who says nothing, a value other than the
    default."""
    if given is not None:
        return name in given
    return getattr(cfg, name) != getattr(default, name)


def _merge(cfg, saved: dict, default, names, given, used=None):
    """Take the saved values on resume; a value the user gave that differs from the
    saved one is an error, whatever it equals (the default included). ``used``:
    what a saved None meant for the run (its resolved layout, say), compared
    instead."""
    updates, used = {}, used or {}
    for name in names:
        g, s = getattr(cfg, name), saved.get(name, getattr(default, name))
        was = used.get(name, s)
        if _was_given(name, cfg, default, given) and g != was:
            raise ConfigError(
                f"--resume: {flag(name)} is {_shown(was)} in the "
                f"checkpoint, but {_shown(g)} was given; a resumed run "
                f"keeps it"
            )
        updates[name] = s
    return replace(cfg, **updates)


def _keep_or_change(cfg, saved: dict, default, names, given):
    """Resumable settings: a value the user gave wins, else the saved one."""
    return replace(
        cfg,
        **{
            n: saved.get(n, getattr(default, n))
            for n in names
            if not _was_given(n, cfg, default, given)
        },
    )


def default_checkpoint(cfg: TrainConfig, corpus_name: str) -> Path:
    return Path("runs") / f"{corpus_name}-{cfg.level}.npz"


def _describe_existing(path: Path) -> str:
    try:
        ck = ckpt_io.load(path)
    except CheckpointError:
        return "a file that is not a pytrnn checkpoint"
    return f"a {ck.level}-level run on {ck.corpus}, {ck.passes_done} passes done"


def checkpoint_path(cfg: TrainConfig, corpus: str) -> Path:
    """Where this run writes: ``--checkpoint``, else the checkpoint it resumes, else
    runs/CORPUS-LEVEL.npz."""
    if cfg.checkpoint:
        return Path(cfg.checkpoint)
    if cfg.resume:
        return Path(cfg.resume)
    return default_checkpoint(cfg, corpus)


def refuse_taken(cfg: TrainConfig, path: Path) -> None:
    """A path that holds another run's checkpoint (or its ``.best.npz``) is refused
    unless ``--overwrite``: no run replaces another silently. (With --overwrite the
    old files go when this run first saves, pytrnn.training.loop.Loop.save.)"""
    if resumes_into(cfg, path) or cfg.overwrite:
        return
    taken = [p for p in (path, best_path(path)) if p.exists()]
    if taken:
        raise ConfigError(
            f"{taken[0]} already holds {_describe_existing(taken[0])}; continue it with "
            f"--resume {shlex.quote(str(taken[0]))}, pick another --checkpoint, or pass "
            f"--overwrite"
        )


def refuse_best_in_place(cfg: TrainConfig, path: Path) -> None:
    """A run resumed from a best pass never writes over it: it continues into a
    checkpoint of its own (the best pass stays the best pass of the run it was)."""
    if cfg.resume and best_file(cfg.resume) and resumes_into(cfg, path):
        src = Path(cfg.resume)
        new = src.with_name(src.stem[: -len(".best")] + "-from-best" + src.suffix)
        raise ConfigError(
            f"{src} is a run's best pass: resuming it in place would "
            f"write over it; continue it into a new checkpoint, e.g. "
            f"--checkpoint {shlex.quote(str(new))}"
        )


def check_outputs(cfg: TrainConfig, path: Path) -> None:
    """Every file the run will write can be written: checked before any compile."""
    check_writable(path, "--checkpoint")
    check_writable(best_path(path), "the best-pass checkpoint")
    if cfg.log:
        check_writable(cfg.log, "--log", example="run.jsonl")
        log = Path(cfg.log)
        if log.resolve() in (path.resolve(), best_path(path).resolve()) or (
            log.is_file() and ckpt_io.is_archive(log)
        ):
            raise ConfigError(
                f"--log {log} is a checkpoint; the log's lines would "
                f"damage it: name another file, such as run.jsonl"
            )


def resolve_resumed(model_cfg, cfg, resumed, given, reporter):
    """The configs of a resumed run: what fixes its data and model comes from the
    checkpoint (a conflicting value given is an error); the schedule and the rate
    may change. Returns (model_cfg, cfg, the rate of the next pass)."""
    saved_train = {
        "level": resumed.level,
        "corpus": resumed.corpus,
        "seed": resumed.seed,
        **resumed.run.train,
    }
    if resumed.level == "word":
        if "tokenizer" not in resumed.run.train:  # written before --tokenizer, whose
            # sentence runs were one group per call: the order they trained in
            if (
                resumed.run.layout("word") == "sentences"
                and saved_train.get("fuse") is None
            ):
                saved_train["fuse"] = 1
        saved_train["tokenizer"] = resumed.run.tokenizer  # before it: the regex's
    saved_level = TrainConfig(level=saved_train["level"])
    used = {
        name: getattr(
            replace(saved_level, **{name: saved_train.get(name)}), "resolved_" + name
        )
        for name in ("layout", "val_frac")
    }  # a given value meets what was used
    used["corpus"] = saved_train.get("corpus") or DEFAULT_CORPUS
    cfg = _merge(cfg, saved_train, TrainConfig(), DATA_FIELDS, given, used)
    cfg = _keep_or_change(
        cfg, resumed.run.schedule, TrainConfig(), SCHEDULE_FIELDS, given
    )
    if cfg.mode is None:
        cfg = replace(cfg, mode=resumed.mode)
    saved_model = resumed.cfg.to_dict()
    model_cfg = _merge(model_cfg, saved_model, RNNConfig(), LOCKED_MODEL_FIELDS, given)
    model_cfg = _keep_or_change(
        model_cfg, saved_model, RNNConfig(), RESUMABLE_MODEL_FIELDS, given
    )
    if cfg.passes <= resumed.passes_done:
        raise ConfigError(
            f"--resume: the checkpoint has done {resumed.passes_done} "
            f"passes already; ask for more with --passes"
        )
    # the rate of the next pass, decided here only: a typed --lr, else where the
    # run's schedule had taken it (else the checkpoint's own)
    was = resumed.run.lr_now or resumed.cfg.lr
    if not _was_given("lr", model_cfg, resumed.cfg, given):
        return model_cfg, cfg, was
    now = model_cfg.lr
    reporter.line(
        f"resuming with lr {now:g} (was {was:g})"
        if now != was
        else f"resuming with lr {now:g} (as it was)"
    )
    return model_cfg, cfg, now


def settle_word_run(cfg: TrainConfig, given, backend: str) -> TrainConfig:
    """A new word-level run's tokenizer (and, with sentences, its groups per call),
    fixed in its config and so in its checkpoint. A standard-format corpus keeps
    its own vocabulary and case: the regex tokenizer's --vocab-size and --lower
    are refused with it, never ignored."""
    cfg = replace(cfg, tokenizer=cfg.resolved_tokenizer)
    if cfg.resolved_layout == "sentences":  # the groups per call order the pass: kept
        cfg = replace(cfg, fuse=windows_per_call(cfg, backend, 0))
    if cfg.tokenizer == "whitespace":
        for name, flag in (("max_words", "--vocab-size"), ("lower", "--lower")):
            if _was_given(name, cfg, TrainConfig(), given):
                raise ConfigError(
                    f"{flag} applies to --tokenizer regex; whitespace "
                    f"tokens (a standard-format corpus) keep the text's "
                    f"own vocabulary and case, as wlm's data.Corpus"
                )
    return cfg


def check_run_options(model_cfg: RNNConfig, cfg: TrainConfig, texts=None) -> None:
    """Model options that need something of the run (AWD-LSTM's, the adaptive
    softmax's), checked before training; ``texts`` None (--print-config): those
    that need no text read."""
    has_valid = texts is None or texts.valid is not None
    if model_cfg.nt_asgd and not has_valid and cfg.resolved_val_frac == 0:
        raise ConfigError(
            "--nt-asgd switches to averaged SGD when validation stalls: "
            "it needs a validation text (--valid, a folder's valid.txt, "
            "or --val-frac)"
        )
    if model_cfg.softmax == "adaptive" and cfg.level == "char":
        raise ConfigError(
            "--softmax adaptive is for large vocabularies: a word-level "
            "option (add --level word)"
        )
    if model_cfg.variable_bptt:
        if cfg.resolved_layout != "stream":
            raise ConfigError(
                "--variable-bptt cuts windows from a stream: at the word "
                "level, add --layout stream"
            )
        if cfg.resolved_mode != "scan":
            raise ConfigError(
                "--variable-bptt needs --mode scan: the unrolled loop is "
                "the notebook's one fixed window"
            )
        if cfg.devices > 1 or cfg.num_processes > 1:
            raise ConfigError("--variable-bptt runs on one device")


def train(
    model_cfg: RNNConfig,
    cfg: TrainConfig,
    given: set[str] | frozenset[str] | None = None,
    reporter=None,
) -> TrainResult:
    """Train as ``pytrnn train`` does; ``model_cfg.vocab_size`` is filled from the
    corpus. ``given``: the names of the options the user set (the CLI passes them),
    so that resuming compares only those; None compares every value that differs
    from its default."""
    reporter = reporter or PrintReporter()
    cfg.validate()
    model_cfg.validate(vocab_known=False, shape_known=not cfg.init_from)
    with owned_signals() as signals:
        if cfg.coordinator:
            from pytrnn.runtime.parallel import init_distributed

            init_distributed(cfg.coordinator, cfg.num_processes, cfg.process_id)
        resumed = ckpt_io.load(cfg.resume) if cfg.resume else None
        lr_now = None  # a new run starts at its configured rate
        if resumed is not None:
            model_cfg, cfg, lr_now = resolve_resumed(
                model_cfg, cfg, resumed, given, reporter
            )
        origin = None  # a new run from another's weights
        if resumed is None and cfg.init_from:
            model_cfg, cfg, origin = init_from.settle(model_cfg, cfg, given)
            model_cfg.validate(vocab_known=False)  # with the checkpoint's shape
        backend = resolve_backend(cfg.backend)  # here only: the rest are given it
        if resumed is None and cfg.level == "word":
            cfg = settle_word_run(cfg, given, backend)
        path = checkpoint_path(cfg, corpus_name(cfg.corpus))
        lead = cfg.process_id == 0  # only process 0 writes
        if not lead:
            return _run(
                model_cfg,
                cfg,
                resumed,
                reporter,
                path,
                signals,
                lr_now,
                backend,
                origin,
            )
        refuse_best_in_place(cfg, path)
        check_outputs(cfg, path)
        outputs = [path, best_path(path)] + ([cfg.log] if cfg.log else [])
        try:
            with claim_all(outputs):
                refuse_taken(cfg, path)
                return _run(model_cfg, cfg, resumed, reporter, path, signals,
                            lr_now, backend, origin)  # fmt: skip
        except PathBusy as e:
            what = "--log" if cfg.log and e.path == Path(cfg.log) else "--checkpoint"
            raise OutputError(
                f"{e.path} is being written by another run (pid {e.pid}) "
                f"right now; wait for it to end or pick another {what}"
            )


def settle_cutoffs(model_cfg: RNNConfig, data, reporter) -> RNNConfig:
    """The adaptive softmax's cutoffs, ``auto`` decided from the training tokens
    (kept in the checkpoint as numbers), and the line saying what each part holds."""
    if model_cfg.softmax != "adaptive" or data.counts is None:
        return model_cfg
    counts = data.counts()
    if model_cfg.cutoffs == "auto":
        model_cfg = replace(model_cfg, cutoffs=auto_cutoffs(counts))
    reporter.line(coverage_line(counts, model_cfg.cutoffs))
    return model_cfg


# each level and layout's data: a batcher and a scorer for the one loop
PREPARE = {
    ("char", "stream"): prepare_chars,
    ("word", "stream"): prepare_stream,
    ("word", "sentences"): prepare_sentences,
}


def _run(
    model_cfg, cfg, resumed, reporter, path, signals, lr_now, backend, origin=None
) -> TrainResult:
    texts = load_texts(cfg.corpus, cfg.valid, cfg.test, limit=cfg.limit_chars)
    if origin is not None:  # the text as the checkpoint's vocabulary reads it
        vocab = init_from.vocabulary(origin)
        texts, line = init_from.outside(texts, vocab, cfg)
        reporter.line(line)
    if texts.valid is not None and cfg.val_frac:
        raise ConfigError(
            "the validation text is a file (--valid or valid.txt): leave out --val-frac"
        )
    if texts.test is not None and cfg.test_frac:
        raise ConfigError(
            "the test text is a file (--test or test.txt): leave out --test-frac"
        )
    check_run_options(model_cfg, cfg, texts)
    prepare = PREPARE[cfg.level, cfg.resolved_layout]
    data = prepare(cfg, model_cfg, texts, resumed or origin, reporter, backend)
    model_cfg = settle_cutoffs(model_cfg, data, reporter)
    loop = Loop(model_cfg, cfg, data, resumed, reporter, path, signals, lr_now, backend)
    if origin is not None:
        loop.model.set_params(init_from.start_params(origin, model_cfg))
    signals.check("before training")
    return loop.run()
