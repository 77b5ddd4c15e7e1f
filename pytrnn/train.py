"""``train``: what ``pytrnn train`` runs. It settles the run's configuration (a
resumed run keeps what fixes its data and model), decides where the checkpoint goes
without ever overwriting another run, loads the texts and hands them to the loop of
the level (pytrnn.char_loop, pytrnn.word_loop).
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from . import checkpoint as ckpt_io
from .char_loop import CharLoop
from .config import RNNConfig, TrainConfig
from .data import load_texts
from .errors import CheckpointError, ConfigError
from .loop import (ASYNC_STEPS, DATA_FIELDS, LN2, SCHEDULE_FIELDS, TrainingInterrupted,
                   TrainResult, best_path, settle)
from .progress import PrintReporter
from .word_loop import WordLoop, mean_word_loss, pad_length, perplexity
from .word_stream import WordStreamLoop

__all__ = ["train", "TrainResult", "TrainingInterrupted", "default_checkpoint",
           "best_path", "mean_word_loss", "perplexity", "pad_length", "settle",
           "ASYNC_STEPS", "DATA_FIELDS", "LN2", "RESUMABLE_MODEL_FIELDS"]

# RNNConfig fields a resumed run may change (the others fix the model it trains).
RESUMABLE_MODEL_FIELDS = ("lr",)


def _merge(given, saved: dict, default, names, what: str):
    """Take saved values on resume; an explicitly changed value that differs is an error."""
    updates = {}
    for name in names:
        g, d = getattr(given, name), getattr(default, name)
        s = saved.get(name, d)
        if g != d and g != s:
            raise ConfigError(f"--resume: {what} {name} is {s!r} in the checkpoint, "
                              f"but {g!r} was given")
        updates[name] = s
    return replace(given, **updates)


def _keep_or_change(given, saved: dict, default, names):
    """Resumable settings: a value given (not the default) wins, else the saved one."""
    return replace(given, **{n: saved.get(n, getattr(default, n)) for n in names
                             if getattr(given, n) == getattr(default, n)})


def default_checkpoint(cfg: TrainConfig, corpus_name: str) -> Path:
    return Path("runs") / f"{corpus_name}-{cfg.level}.npz"


def _describe_existing(path: Path) -> str:
    try:
        ck = ckpt_io.load(path)
    except CheckpointError:
        return "a file that is not a pytrnn checkpoint"
    return f"a {ck.level}-level run on {ck.corpus}, {ck.passes_done} passes done"


def checkpoint_path(cfg: TrainConfig, corpus_name: str) -> Path:
    """Where this run writes: ``--checkpoint``, else the checkpoint it resumes, else
    runs/CORPUS-LEVEL.npz. A path that holds another run's checkpoint (or its
    ``.best.npz``) is refused unless ``--overwrite``: no run replaces another
    silently."""
    if cfg.checkpoint:
        path = Path(cfg.checkpoint)
    elif cfg.resume:
        path = Path(cfg.resume)
    else:
        path = default_checkpoint(cfg, corpus_name)
    ours = cfg.resume is not None and path.resolve() == Path(cfg.resume).resolve()
    if ours or cfg.process_id != 0:  # only process 0 writes
        return path
    taken = [p for p in (path, best_path(path)) if p.exists()]
    if taken and not cfg.overwrite:
        raise ConfigError(
            f"{taken[0]} already holds {_describe_existing(taken[0])}; continue it with "
            f"--resume {taken[0]}, pick another --checkpoint, or pass --overwrite")
    if cfg.overwrite:
        best_path(path).unlink(missing_ok=True)  # the replaced run's best pass
    return path


def train(model_cfg: RNNConfig, cfg: TrainConfig, reporter=None) -> TrainResult:
    """Train as ``pytrnn train`` does; ``model_cfg.vocab_size`` is filled from the corpus."""
    reporter = reporter or PrintReporter()
    cfg.validate()
    model_cfg.validate()
    if cfg.coordinator:
        from .parallel import init_distributed

        init_distributed(cfg.coordinator, cfg.num_processes, cfg.process_id)
    resumed = ckpt_io.load(cfg.resume) if cfg.resume else None
    if resumed is not None:
        saved_train = {"level": resumed.level, "corpus": resumed.corpus, "seed": resumed.seed,
                       **resumed.extra.get("train", {})}
        cfg = _merge(cfg, saved_train, TrainConfig(), DATA_FIELDS, "option")
        cfg = _keep_or_change(cfg, resumed.extra.get("schedule", {}), TrainConfig(),
                              SCHEDULE_FIELDS)
        if cfg.mode is None:
            cfg = replace(cfg, mode=resumed.mode)
        locked = [f.name for f in fields(RNNConfig)
                  if f.name not in ("vocab_size", *RESUMABLE_MODEL_FIELDS)]
        saved_model = resumed.cfg.to_dict()
        model_cfg = _merge(model_cfg, saved_model, RNNConfig(), locked, "option")
        model_cfg = _keep_or_change(model_cfg, saved_model, RNNConfig(),
                                    RESUMABLE_MODEL_FIELDS)
        if cfg.passes <= resumed.passes_done:
            raise ConfigError(f"--resume: the checkpoint has done {resumed.passes_done} "
                              f"passes already; ask for more with --passes")
        for name in RESUMABLE_MODEL_FIELDS:
            was, now = saved_model.get(name), getattr(model_cfg, name)
            if was != now:
                reporter.line(f"resuming with {name} {now:g} (was {was:g})")
    texts = load_texts(cfg.corpus, cfg.valid, cfg.test)
    if texts.valid is not None and cfg.val_frac:
        raise ConfigError("the validation text is a file (--valid or valid.txt): "
                          "leave out --val-frac")
    if texts.test is not None and cfg.test_frac:
        raise ConfigError("the test text is a file (--test or test.txt): "
                          "leave out --test-frac")
    if cfg.limit_chars is not None:
        texts = replace(texts, train=texts.train[: cfg.limit_chars])
    path = checkpoint_path(cfg, texts.name)
    if cfg.level == "char":
        loop = CharLoop
    else:
        loop = WordStreamLoop if cfg.resolved_layout == "stream" else WordLoop
    return loop(model_cfg, cfg, texts, resumed, reporter, path).run()
