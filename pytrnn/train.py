"""The notebook's training loop (char level) and the WildML-style one (word level).

The loop calls a compiled step and knows nothing of how it was built. After each
pass it prints a line, evaluates the held-out split when there is one, and writes a
checkpoint; it also writes one every ``save_every`` seconds inside a pass. A run can
resume from any checkpoint at the saved pass and window (or sentence) position.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from . import checkpoint as ckpt_io
from .config import RNNConfig, TrainConfig
from .data import (ENCODE_CHUNK, Vocab, load_corpus, split_streams, stack_windows,
                   window_starts)
from .backends import resolve_backend
from .errors import ConfigError, DivergedError
from .model import RNN
from .progress import PrintReporter
from .sample import sample_chars, sample_sentences
from .words import WordVocab, bucket, prepare

LN2 = math.log(2.0)
# TrainConfig fields that fix the data a run sees: a resumed run must keep them.
DATA_FIELDS = ("corpus", "level", "limit_chars", "seed", "val_frac", "vocab_size",
               "max_sentence_len", "lower", "batch", "fuse")
ADVANCE_EVERY = 64  # windows per progress-bar update: the bar must not slow the loop
ASYNC_STEPS = 32  # one-call-per-step loops read their losses this many steps at a time


@dataclass
class TrainResult:
    model: RNN
    checkpoint: ckpt_io.Checkpoint
    path: Path
    history: list = field(default_factory=list)
    compile_s: float = 0.0
    units_per_s: float = 0.0
    sample: str = ""


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


def default_checkpoint(cfg: TrainConfig, corpus_name: str) -> Path:
    return Path("runs") / f"{corpus_name}-{cfg.level}.npz"


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
        if cfg.mode is None:
            cfg = replace(cfg, mode=resumed.mode)
        model_names = [f.name for f in fields(RNNConfig) if f.name != "vocab_size"]
        model_cfg = _merge(model_cfg, resumed.cfg.to_dict(), RNNConfig(), model_names,
                           "option")
        if cfg.passes <= resumed.passes_done:
            raise ConfigError(f"--resume: the checkpoint has done {resumed.passes_done} "
                              f"passes already; ask for more with --passes")
    name, text = load_corpus(cfg.corpus)
    if cfg.limit_chars is not None:
        text = text[: cfg.limit_chars]
    loop = _CharLoop if cfg.level == "char" else _WordLoop
    return loop(model_cfg, cfg, name, text, resumed, reporter).run()


def settle(steps, units):
    """Read back (loss, data_loss) pairs left on the device: [(loss, data, units)]."""
    return [(float(loss), float(data), units) for loss, data in steps]


def pad_length(model: RNN, n: int) -> int | None:
    """The bucket a sequence of n steps is padded to, where the backend needs it."""
    return bucket(n) if model.static_shapes else None


def mean_word_loss(model: RNN, seqs) -> float:
    """Mean data loss per predicted word (END included) over (x, y) sentences."""
    total = sum(model.seq_loss(x, y, pad_to=pad_length(model, len(x)))[1] for x, y in seqs)
    return total / sum(len(y) for _, y in seqs)


def perplexity(word_loss: float) -> float:
    return math.exp(word_loss)


class _Loop:
    """Shared pass/checkpoint machinery; subclasses say what a unit of training is."""

    unit = "chars"
    STATE = dict(passes_done=0, window=0, iseq=0, pass_loss_sum=0.0, pass_data_sum=0.0,
                 pass_units=0)

    def __init__(self, model_cfg, cfg, corpus_name, text, resumed, reporter):
        self.cfg, self.reporter = cfg, reporter
        self.corpus_name = corpus_name
        self.model_cfg = model_cfg
        self.prepare(text, resumed)
        model_cfg = replace(model_cfg, vocab_size=self.vocab.size).validate()
        params = resumed.params if resumed else None
        self.model = RNN(model_cfg, params=params, mode=cfg.resolved_mode,
                         backend=cfg.backend, seed=cfg.seed, device=cfg.device,
                         devices=cfg.devices)
        self.lead = self.model.parallel.process_index == 0  # only it saves and prints
        if not self.lead:
            self.reporter = PrintReporter(quiet=True)
        self.path = Path(cfg.checkpoint) if cfg.checkpoint else default_checkpoint(
            cfg, corpus_name)
        self.state = {k: getattr(resumed, k) if resumed else v for k, v in self.STATE.items()}
        self.history = list(resumed.history) if resumed else []
        self.stop_requested = False

    # -- checkpoints ------------------------------------------------------------
    def checkpoint(self) -> ckpt_io.Checkpoint:
        train_fields = {k: getattr(self.cfg, k) for k in DATA_FIELDS}
        return ckpt_io.Checkpoint(
            cfg=self.model.cfg, params=self.model.get_params(),
            vocab=list(self.vocab.symbols), level=self.cfg.level,
            corpus=self.corpus_name, mode=self.model.mode, backend=self.model.backend,
            seed=self.cfg.seed, history=self.history,
            extra={"train": train_fields, **self.extra()}, **self.state)

    def save(self) -> None:
        if self.lead:
            ckpt_io.save(self.path, self.checkpoint())

    def extra(self) -> dict:
        return {}

    def log(self, record: dict) -> None:
        if self.cfg.log and self.lead:
            with open(self.cfg.log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    # -- the loop ---------------------------------------------------------------
    def run(self) -> TrainResult:
        rep = self.reporter
        rep.line(self.describe())
        compile_s = self.compile()
        rep.line(f"compiled ({self.model.backend} on {self.model.device}, "
                 f"{self.model.mode}) in {compile_s:.1f} s")
        with stop_on_signals(self):
            trained_units, train_s = self.passes()
        speed = trained_units / train_s if train_s else 0.0
        rep.line(f"trained {trained_units} {self.unit} in {train_s:.1f} s: "
                 f"{speed:,.0f} {self.unit}/s (compile {compile_s:.1f} s)")
        rep.line(f"checkpoint: {self.path}")
        text = self.sample() if self.cfg.sample_length > 0 else ""
        if text:
            rep.line(text)
        return TrainResult(self.model, self.checkpoint(), self.path, self.history,
                           compile_s, speed, text)

    def passes(self) -> tuple[int, float]:
        cfg, rep, st = self.cfg, self.reporter, self.state
        trained_units, train_s = 0, 0.0
        last_save = time.monotonic()
        for p in range(st["passes_done"], cfg.passes):
            order = self.order(p)
            rep.start(len(order), f"pass {p + 1}/{cfg.passes}")
            rep.advance(st["window"])
            t0 = time.perf_counter()
            units_before, pending = st["pass_units"], 0
            j = st["window"]
            while j < len(order):
                n = min(self.chunk, len(order) - j)
                for k, (loss, data_loss, units) in enumerate(self.train_chunk(order, j, n)):
                    if not math.isfinite(loss):
                        rep.stop()
                        raise DivergedError(
                            f"loss became {loss} at pass {p + 1}, window {j + k} "
                            f"(iseq {st['iseq']}); lower --lr. The last good "
                            f"checkpoint is kept: {self.path}")
                    st["pass_loss_sum"] += loss
                    st["pass_data_sum"] += data_loss
                    st["pass_units"] += units
                    st["iseq"] += 1
                st["window"] = j = j + n
                pending += n
                if self.stop_requested:
                    self.interrupt(p, trained_units + st["pass_units"] - units_before)
                if pending >= ADVANCE_EVERY:
                    rep.advance(pending)
                    pending = 0
                    if time.monotonic() - last_save > cfg.save_every:
                        self.save()
                        last_save = time.monotonic()
            dt = time.perf_counter() - t0
            rep.stop()
            pass_units = st["pass_units"] - units_before
            trained_units += pass_units
            train_s += dt
            record = {"pass": p + 1, "iseq": st["iseq"] - 1,
                      "loss": st["pass_loss_sum"] / max(len(order), 1),
                      "seconds": dt, f"{self.unit}_per_s": pass_units / dt if dt else 0.0}
            record.update(self.pass_metrics())
            self.history.append(record)
            st.update(passes_done=p + 1, window=0, pass_loss_sum=0.0, pass_data_sum=0.0,
                      pass_units=0)
            rep.line(self.pass_line(record))
            self.log(record)
            self.save()
            last_save = time.monotonic()
        return trained_units, train_s

    def interrupt(self, p, done):
        """Save where we are and stop: the checkpoint resumes at the next window."""
        self.reporter.stop()
        self.save()
        raise TrainingInterrupted(
            f"interrupted at pass {p + 1}, window {self.state['window']} after {done} "
            f"{self.unit}; saved {self.path}. Resume with: pytrnn train --resume "
            f"{self.path} --passes {self.cfg.passes}")


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM stopped training after a checkpoint was written."""


@contextlib.contextmanager
def stop_on_signals(loop: _Loop):
    """First SIGINT/SIGTERM: finish the step, save, stop. A second: stop at once
    (checkpoint writes are atomic, so even then no half-written file is left)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if loop.stop_requested:
            raise KeyboardInterrupt
        loop.stop_requested = True

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _CharLoop(_Loop):
    unit = "chars"

    def prepare(self, text, resumed):
        self.vocab = Vocab(tuple(resumed.vocab)) if resumed else Vocab.from_text(text)
        rep = self.reporter
        big = len(text) > 4 * ENCODE_CHUNK
        if big:
            rep.start(len(text), "encoding")
        done = [0]

        def advance(n):
            rep.advance(n - done[0])
            done[0] = n

        data = self.vocab.encode(text, progress=advance if big else None)
        rep.stop()
        n_val = int(len(data) * self.cfg.resolved_val_frac)
        self.train_data, self.val_data = data[: len(data) - n_val], data[len(data) - n_val:]
        L = self.window = self.model_cfg.window
        B = self.batch = self.cfg.batch
        self.streams = split_streams(self.train_data, B)
        self.starts = window_starts(self.streams.shape[1], L)
        self.fuse = self.cfg.resolved_fuse(resolve_backend(self.cfg.backend), len(self.starts))
        # one compiled call per window (the notebook's loop) unless fused or batched
        self.per_window = self.fuse == 1 and B == 1
        self.chunk = ASYNC_STEPS if self.per_window else self.fuse
        self.val_starts = window_starts(len(self.val_data), L) if n_val else None

    def describe(self):
        n = len(self.train_data)
        val = f", {len(self.val_data)} held out" if self.val_starts is not None else ""
        streams = f" in {self.batch} streams" if self.batch > 1 else ""
        return (f"corpus {self.corpus_name}: {self.vocab.size} distinct chars, {n} chars"
                f"{val}; {len(self.starts)} windows of {self.window}{streams} per pass, "
                f"{self.fuse} per call")

    def compile(self):
        if self.per_window:
            return self.model.compile(length=self.window)
        t0 = time.perf_counter()
        X = np.zeros(self._shape(self.chunk), np.int32)
        if self.cfg.num_processes > 1:
            X = X[..., : self.batch // self.cfg.num_processes]
        self.model.train_windows(X, X, wmask=np.zeros(self.chunk))  # weight 0: no update
        return time.perf_counter() - t0

    def local_streams(self):
        """All B streams, or across hosts this process's contiguous share of them."""
        if self.cfg.num_processes == 1:
            return self.streams
        share = self.batch // self.cfg.num_processes
        i = self.model.parallel.process_index
        return self.streams[i * share:(i + 1) * share]

    def _shape(self, K):
        return (K, self.window) if self.batch == 1 else (K, self.window, self.batch)

    def order(self, p):
        return self.starts

    def train_chunk(self, order, j, n):
        L, B = self.window, self.batch
        if self.per_window:
            d = self.train_data
            return settle([self.model.train_step(d[i:i + L], d[i + 1:i + 1 + L], sync=False)
                           for i in order[j:j + n]], L)
        K = self.chunk
        starts = np.resize(order[j:j + n], K)  # pad the last chunk; weight 0 below
        X, Y = stack_windows(self.local_streams(), starts, L)
        w = (np.arange(K) < n).astype(self.model.cfg.dtype)
        losses, data_losses = self.model.train_windows(X, Y, wmask=w)
        # the loss stays the mean over streams (the notebook's scale); the data loss
        # is summed over streams so bits/char = data sum / chars
        return [(float(a), float(b) * B, L * B) for a, b in zip(losses[:n], data_losses[:n])]

    def pass_metrics(self):
        m = {"train_bpc": self.state["pass_data_sum"] / self.state["pass_units"] / LN2}
        if self.val_starts is not None:
            L, d = self.window, self.val_data
            total = sum(self.model.seq_loss(d[i:i + L], d[i + 1:i + 1 + L])[1]
                        for i in self.val_starts)
            m["val_loss"] = total / len(self.val_starts)
            m["val_bpc"] = total / (len(self.val_starts) * L) / LN2
        return m

    def pass_line(self, r):
        line = f"iteration={r['pass']}, iseq={r['iseq']}, ichar=0, loss={r['loss']:g}"
        extra = f"  (train {r['train_bpc']:.3f} bits/char"
        if "val_bpc" in r:
            extra += f", val {r['val_bpc']:.3f} bits/char"
        return line + extra + f", {r['chars_per_s']:,.0f} chars/s)"

    def sample(self):
        return sample_chars(self.model, self.vocab, self.cfg.sample_length,
                            seed=self.cfg.seed)


class _WordLoop(_Loop):
    unit = "words"

    def prepare(self, text, resumed):
        cfg = self.cfg
        vocab, sentences, self.skipped = prepare(text, cfg.vocab_size,
                                                 cfg.max_sentence_len, cfg.lower)
        self.vocab = WordVocab(tuple(resumed.vocab)) if resumed else vocab
        seqs = [self.vocab.encode_sentence(s) for s in sentences]
        perm = np.random.default_rng(cfg.seed).permutation(len(seqs))
        n_val = int(round(len(seqs) * cfg.resolved_val_frac))
        if cfg.resolved_val_frac > 0 and len(seqs) >= 2:
            n_val = min(max(n_val, 1), len(seqs) - 1)
        self.val = [seqs[i] for i in perm[:n_val]]
        self.train_seqs = [seqs[i] for i in perm[n_val:]]

    def describe(self):
        n_words = sum(len(y) for _, y in self.train_seqs)
        return (f"corpus {self.corpus_name}: vocabulary {self.vocab.size} "
                f"(incl. <unk>, <s>, </s>); {len(self.train_seqs)} train sentences "
                f"({n_words} words), {len(self.val)} held out, {self.skipped} skipped "
                f"as longer than {self.cfg.max_sentence_len} words")

    def _pad(self, n):
        return pad_length(self.model, n)

    def compile(self):
        lengths = sorted({self._pad(len(x)) for x, _ in self.train_seqs + self.val},
                         key=lambda v: v or 0)
        kinds = ("train", "loss") if self.val else ("train",)
        return sum(self.model.compile(length=n, masked=n is not None, kinds=kinds)
                   for n in lengths)

    def order(self, p):
        return np.random.default_rng([self.cfg.seed, p]).permutation(len(self.train_seqs))

    chunk = ASYNC_STEPS  # one sentence per SGD step, read back in groups

    def train_chunk(self, order, j, n):
        seqs = [self.train_seqs[k] for k in order[j:j + n]]
        steps = [self.model.train_step(x, y, pad_to=self._pad(len(x)), sync=False)
                 for x, y in seqs]
        return [(loss, data, len(y)) for (loss, data, _), (_, y) in zip(settle(steps, 0), seqs)]

    def pass_metrics(self):
        m = {"train_word_loss": self.state["pass_data_sum"] / self.state["pass_units"]}
        m["train_ppl"] = perplexity(m["train_word_loss"])
        if self.val:
            m["val_word_loss"] = mean_word_loss(self.model, self.val)
            m["val_ppl"] = perplexity(m["val_word_loss"])
        return m

    def pass_line(self, r):
        line = (f"pass={r['pass']}, iseq={r['iseq']}, train loss/word={r['train_word_loss']:.4f}"
                f" ppl={r['train_ppl']:.2f}")
        if "val_ppl" in r:
            line += f", val loss/word={r['val_word_loss']:.4f} ppl={r['val_ppl']:.2f}"
        return line + f"  ({r['words_per_s']:,.0f} words/s)"

    def extra(self):
        return {"lower": self.cfg.lower}

    def sample(self):
        sents = sample_sentences(self.model, self.vocab, n=3, seed=self.cfg.seed)
        return "\n".join(sents)

