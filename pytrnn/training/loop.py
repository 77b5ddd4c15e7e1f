"""The pass loop: steps, checkpoints, signals, best-so-far.

One loop, given a batcher (which cuts a pass into chunks: pytrnn.training.windows,
pytrnn.training.sentences) and a scorer (the level's figures and held-out scoring:
pytrnn.training.figures). It trains each chunk through the model's one entry and
knows nothing of how the step was built. After each pass it prints a line,
evaluates the held-out split when there is one, writes the
checkpoint, and keeps a copy of the best pass by validation loss beside it
(``X.best.npz``, as PyTorch's word_language_model keeps its best model). It also
saves every ``save_every`` seconds inside a pass. A held-out test text is scored
once at the end, with the best pass's parameters when there is one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pytrnn.config import CHANGEABLE, LOCKED, TrainConfig, fields_by_rule
from pytrnn.errors import ConfigError, DivergedError
from pytrnn.files import check_free_space
from pytrnn.graphs import optim
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.runtime.model import RNN
from pytrnn.runtime.state import check_fits
from pytrnn.training import schedule
from pytrnn.training.outputs import (  # noqa: F401 (the run's names, as before)
    Outputs,
    TrainResult,
    best_file,
    best_path,
    resumes_into,
)
from pytrnn.training.progress import Interval, PrintReporter, shown
from pytrnn.training.signals import Signals, TrainingInterrupted, owned_signals  # noqa: F401

# the resume rules, as config.py declares them on the fields
SCHEDULE_FIELDS = fields_by_rule(TrainConfig, CHANGEABLE)  # kept unless given again
DATA_FIELDS = fields_by_rule(TrainConfig, LOCKED)  # fix the data a run sees
ASYNC_STEPS = 32  # one-call-per-step loops read their losses this many steps at a time


@dataclass
class Data:
    """A run's data, prepared for the loop: the vocabulary, the batcher that cuts
    its passes, the scorer of its figures, and the line that describes them."""

    name: str
    vocab: object
    batcher: object
    figures: object
    line: str
    counts: object = None  # () -> the tokens per id, counted where needed


class Loop:
    """Trains ``data``'s batcher's chunks pass after pass; saves, scores and
    reports."""

    STATE = dict(
        passes_done=0,
        window=0,
        iseq=0,
        pass_loss_sum=0.0,
        pass_data_sum=0.0,
        pass_units=0,
    )

    def __init__(
        self,
        model_cfg,
        cfg,
        data: Data,
        resumed,
        reporter,
        path: Path,
        signals: Signals | None = None,
        lr_now: float | None = None,
        backend: str | None = None,
    ):
        """``lr_now``: the rate of the next pass (a resumed run's, decided by
        training.run.resolve_resumed); None: the configured rate. ``backend``: the
        run's, resolved once by training.run."""
        self.cfg, self.reporter = cfg, reporter
        self.signals = signals or Signals()
        self.corpus_name, self.vocab = data.name, data.vocab
        self.batcher, self.figures, self.line = data.batcher, data.figures, data.line
        self.unit, self.val_key = self.figures.unit, self.figures.val_key
        # a share that held out nothing
        if model_cfg.nt_asgd and not self.figures.validates():
            raise ConfigError(
                "--nt-asgd switches to averaged SGD when validation "
                "stalls, and this text holds no validation out: give "
                "--valid FILE or a longer text"
            )
        model_cfg = replace(model_cfg, vocab_size=self.vocab.size).validate()
        if resumed is None:  # a resumed model's arrays exist already
            check_fits(model_cfg)
        params = resumed.params if resumed else None
        self.model = RNN(
            model_cfg,
            params=params,
            mode=cfg.resolved_mode,
            backend=backend or cfg.backend,
            seed=cfg.seed,
            device=cfg.device,
            devices=cfg.devices,
            variable_lr=cfg.has_schedule or model_cfg.variable_bptt,
            carry_state=cfg.carry_state,
        )
        self.lr_now = model_cfg.lr if lr_now is None else lr_now
        if resumed is not None and resumed.opt_state:
            self.model.set_opt_state(resumed.opt_state)  # Adam's moments, etc.
        if resumed is not None and resumed.carry is not None and cfg.carry_state:
            self.model.set_carry(resumed.carry)  # the streams' states mid-pass
        self.lead = self.model.parallel.process_index == 0  # only it saves and prints
        if not self.lead:
            self.reporter = PrintReporter(quiet=True)
        self.path = Path(path)
        self.best_path = best_path(self.path)
        self.resumed_here = resumed is not None and resumes_into(cfg, self.path)
        self.outputs = Outputs(
            cfg, self.path, self.reporter, self.lead, self.resumed_here
        )
        self.replaced = False  # the best pass of the run --overwrite replaces is gone
        self.state = {
            k: getattr(resumed, k) if resumed else v for k, v in self.STATE.items()
        }
        self.history = list(resumed.history) if resumed else []
        self.test_result = None

    @property
    def stop_requested(self) -> bool:
        return self.signals.requested

    @stop_requested.setter
    def stop_requested(self, value: bool) -> None:
        self.signals.requested = value

    # -- checkpoints ------------------------------------------------------------
    def checkpoint(self) -> ckpt_io.Checkpoint:
        run = ckpt_io.RunInfo(
            train={k: getattr(self.cfg, k) for k in DATA_FIELDS},
            schedule={k: getattr(self.cfg, k) for k in SCHEDULE_FIELDS},
            lr_now=self.lr_now,
            test=self.test_result or None,
        )
        return ckpt_io.Checkpoint(
            cfg=self.model.cfg,
            params=self.model.get_params(),
            vocab=list(self.vocab.symbols),
            level=self.cfg.level,
            corpus=self.corpus_name,
            mode=self.model.mode,
            backend=self.model.backend,
            seed=self.cfg.seed,
            history=self.history,
            run=run,
            opt_state=self.model.get_opt_state(),
            carry=self.model.get_carry(),
            **self.state,
        )

    def save(self, best: bool = False) -> None:
        """Write the checkpoint (and the best pass's). The first write of a run
        that replaces another (``--overwrite``) also removes that run's best pass,
        never earlier: a run that stops before it wrote anything leaves the old
        files as they were. A write the system refuses is one OutputError."""
        if not self.lead:
            return
        ck = self.checkpoint()
        for target in (self.path, self.best_path) if best else (self.path,):
            self.outputs.write(target, lambda t=target: ckpt_io.save(t, ck))
            self.outputs.wrote = self.outputs.wrote or target == self.path
        if self.cfg.overwrite and not self.resumed_here and not self.replaced:
            if not best:  # the replaced run's best pass; ours has none yet
                self.outputs.write(
                    self.best_path, lambda: self.best_path.unlink(missing_ok=True)
                )
            self.replaced = True

    def compile(self) -> float:
        """Compile what training starts with: a program per chunk shape."""
        warm = self.batcher.warm_chunks(self.model)
        return sum(self.model.warm(self.shown(c)) for c in warm)

    def shown(self, chunk):
        return shown(chunk, self.cfg.log_interval, self.reporter.bar, self.model.cfg)

    def train_chunk(self, order, j, n):
        """Train the steps order[j : j + n], in the chunks the layout cuts them into:
        (loss, data loss summed over the streams, units) per step, each read when
        its call is done."""
        rng, m = self.drop_rng(j), self.model
        done = [(c, m.train(self.shown(c), sync=False, rng=rng, lr=self.lr_now))
                for c in self.batcher.chunks(m, order, j, n)]  # fmt: skip
        return (
            (float(loss), float(data) * c.streams, units)
            for c, (losses, datas) in done
            for loss, data, units in zip(losses, datas, c.units)
        )

    def drop_rng(self, j: int):
        """Dropout masks for the chunk at window (or sentence) j of this pass: drawn
        from (seed, pass, j), so a resumed run draws the same ones."""
        if not self.model.cfg.noisy:
            return None
        return np.random.default_rng([self.cfg.seed, self.pass_index, j])

    def is_best(self, record: dict) -> bool:
        """The pass just recorded has the lowest validation loss so far."""
        if self.val_key not in record:
            return False
        earlier = [r[self.val_key] for r in self.history[:-1] if self.val_key in r]
        return not earlier or record[self.val_key] < min(earlier)

    # -- the loop ---------------------------------------------------------------
    def run(self) -> TrainResult:
        rep = self.reporter
        rep.line(self.line)
        if self.lead:
            check_free_space(
                self.path, 2 * self.model.state.nbytes() + (1 << 16), "the checkpoint"
            )
        try:
            compile_s = self.compile()
        except KeyboardInterrupt:
            self.signals.requested = True
        if self.signals.requested:
            rep.stop()
            self.signals.check(
                "while compiling, before any training"
                + (f"; {self.path} is as it was" if self.path.exists() else "")
            )
        self.signals.at_once = False  # from here a first signal saves, then stops
        rep.line(
            f"compiled ({self.model.backend} on {self.model.device}, "
            f"{self.model.mode}) in {compile_s:.1f} s"
        )
        self.score_s = 0.0
        self.outputs.log_run(self.model, self.corpus_name, self.state["passes_done"])
        trained_units, train_s = self.passes()
        self.signals.at_once = True
        speed = trained_units / train_s if train_s else 0.0
        scoring = (
            f"; validation took {self.score_s:.1f} s apart from training"
            if self.score_s
            else ""
        )
        rep.line(
            f"trained {trained_units} {self.unit} in {train_s:.1f} s: "
            f"{speed:,.0f} {self.unit}/s (compile {compile_s:.1f} s{scoring})"
        )
        has_best = any(self.val_key in r for r in self.history)
        if self.figures.has_test():
            t0 = time.perf_counter()
            self.test_result = self.score_test(has_best)
            rep.line(
                self.figures.test_line(self.test_result)
                + f" in {time.perf_counter() - t0:.1f} s"
            )
            self.save()
        rep.line(
            f"checkpoint: {self.path}"
            + (f" (best pass: {self.best_path})" if has_best else "")
        )
        with self.model.state.evaluating():
            n, seed = self.cfg.sample_length, self.cfg.seed
            text = self.figures.sample(self.model, n, seed) if n > 0 else ""
        if text:
            rep.line(f"sample ({n} {self.unit}, seed {seed}):")
            rep.line(text)
        return TrainResult(
            self.model,
            self.checkpoint(),
            self.path,
            self.history,
            compile_s,
            speed,
            text,
            self.best_path if has_best else None,
            self.test_result,
        )

    def score_test(self, use_best: bool) -> dict:
        """The test text's figures, with the best pass's parameters where there is
        one (as PyTorch's word_language_model reloads its best model for test)."""
        if not (use_best and self.best_path.exists()):
            with self.model.state.evaluating():
                figures = self.figures.test_metrics(self.model)
                return {"pass": self.state["passes_done"], **figures}
        best = ckpt_io.load(self.best_path)
        current = self.model.get_params()
        self.model.set_params(optim.averaged(best.cfg, best.params, best.opt_state))
        try:
            return {"pass": best.passes_done, **self.figures.test_metrics(self.model)}
        finally:
            self.model.set_params(current)

    def passes(self) -> tuple[int, float]:
        cfg, rep, st = self.cfg, self.reporter, self.state
        trained_units, train_s = 0, 0.0
        last_save = time.monotonic()
        for p in range(st["passes_done"], cfg.passes):
            if self.model.variable_lr:
                self.model.set_lr(self.lr_now)
            order = self.batcher.order(p)
            self.pass_index = p
            if st["window"] == 0:  # every stream starts a pass from zero
                self.model.reset_carry(self.batcher.batch)
            rep.start(len(order), f"pass {p + 1}/{cfg.passes}")
            rep.advance(st["window"])
            t0 = time.perf_counter()
            units_before = st["pass_units"]
            j = st["window"]
            interval = Interval(cfg.log_interval, t0, self.figures.running)
            while j < len(order):
                n = min(self.batcher.chunk, len(order) - j)
                for k, (loss, data_loss, units) in enumerate(
                    self.train_chunk(order, j, n)
                ):
                    if not math.isfinite(loss):
                        rep.stop()
                        raise DivergedError(
                            f"loss became {loss} at pass {p + 1}, window {j + k} "
                            f"(iseq {st['iseq']}); lower --lr; {self.outputs.kept()}"
                        )
                    st["pass_loss_sum"] += loss
                    st["pass_data_sum"] += data_loss
                    st["pass_units"] += units
                    st["iseq"] += 1
                    rep.advance(1)
                    if interval.add(data_loss, units, j + k + 1):
                        rep.line(interval.line(p, j + k + 1, len(order), self.lr_now))
                st["window"] = j = j + n
                if self.stop_requested:
                    self.interrupt(p, trained_units + st["pass_units"] - units_before)
                if j < len(order) and time.monotonic() - last_save > cfg.save_every:
                    self.save()
                    last_save = time.monotonic()
            dt = time.perf_counter() - t0
            rep.stop()
            pass_units = st["pass_units"] - units_before
            trained_units += pass_units
            train_s += dt
            record = {
                "pass": p + 1,
                "iseq": st["iseq"] - 1,
                "lr": self.lr_now,
                "loss": st["pass_loss_sum"] / max(self.batcher.steps(order), 1),
                "seconds": dt,
                f"{self.unit}_per_s": pass_units / dt if dt else 0.0,
            }
            t_score = time.perf_counter()
            with self.model.state.evaluating():
                record.update(self.figures.pass_metrics(
                    self.model, st["pass_data_sum"], st["pass_units"]))  # fmt: skip
            if self.val_key in record:
                record["score_seconds"] = time.perf_counter() - t_score
                self.score_s += record["score_seconds"]
            self.history.append(record)
            st.update(
                passes_done=p + 1,
                window=0,
                pass_loss_sum=0.0,
                pass_data_sum=0.0,
                pass_units=0,
            )
            best = self.is_best(record)
            self.lr_now = self.next_lr(p + 1, record, best)
            rep.line(self.figures.pass_line(record) + ("  *best*" if best else ""))
            if schedule.stalled(self.model, self.history, record, self.val_key):
                self.model.start_averaging()
                record["asgd_from"] = p + 2
                rep.line(
                    f"switching to averaged SGD from pass {p + 2} (--nt-asgd "
                    f"{self.model.cfg.nt_asgd}: validation worse than its best "
                    f"from more than {self.model.cfg.nt_asgd} passes back)"
                )
            self.save(best=best)  # before the log: a log that fails loses no pass
            self.outputs.log(record)
            last_save = time.monotonic()
        return trained_units, train_s

    def next_lr(self, passes_done: int, record: dict, best: bool) -> float:
        val = record.get(self.val_key)
        return schedule.next_lr(self.cfg, self.lr_now, passes_done, val, best)

    def interrupt(self, p, done):
        """Save where we are and stop: the checkpoint resumes at the next window."""
        self.reporter.stop()
        self.save()
        raise TrainingInterrupted(
            f"interrupted at pass {p + 1}, window {self.state['window']} after {done} "
            f"{self.unit}; saved {self.path}. Resume with: {self.outputs.resume_command()}"
        )
