"""Reporters: how a training loop talks to a person, without knowing who listens.

``PrintReporter`` prints lines (notebooks, logs); ``RichReporter`` adds a progress
bar during each pass. The loop calls ``start(total, desc)``, ``advance(n)``,
``stop()`` and ``line(text)``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

BAR_MOVES = 16  # a bar moves at least this often through a chunk of heavy windows
HEAVY = 1e11  # a chunk of about this many multiply-adds runs for seconds here


def shown(chunk, every: int, bar: bool, cfg):
    """A fused chunk in calls a person can follow as they finish (its masks are one
    draw, so no step's numbers change): of ``every`` windows at most
    (--log-interval), and where a ``bar`` is shown and the chunk is heavy (the
    output layer's multiply-adds, forward and back, over HEAVY), a BAR_MOVES-th."""
    K = len(chunk.weights)
    calls = [every] if 0 < every < K else []
    if bar and 3.0 * np.size(chunk.X) * cfg.vocab_size * cfg.state_width > HEAVY:
        calls.append(-(-K // BAR_MOVES))
    return replace(chunk, calls=min(calls)) if chunk.fused and calls else chunk


class PrintReporter:
    """Lines only; no bar. ``quiet`` drops everything."""

    bar = False  # whether a bar follows the steps

    def __init__(self, quiet: bool = False, file=None):
        self.quiet = quiet
        self.file = file

    def start(self, total: int, desc: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass

    def line(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.file or sys.stdout, flush=True)


class Interval:
    """wlm's ``--log-interval``: the steps since the last line (their count, data
    loss and units, from a start time), and the line every ``every`` steps
    (0: none), its figures by ``running(data loss per unit)``."""

    def __init__(self, every: int, t0: float, running):
        self.every, self.running = every, running
        self.t0, self.steps, self.data, self.units = t0, 0, 0.0, 0

    def add(self, data: float, units: int, done: int) -> bool:
        """Count a step, the pass's ``done``-th; whether a line is due."""
        self.steps += 1
        self.data += data
        self.units += units
        return bool(self.every) and done % self.every == 0

    def line(self, p: int, done: int, total: int, lr: float) -> str:
        """The interval's line (pass, steps, lr, ms per step, figures); the next
        interval starts now."""
        now = time.perf_counter()
        ms = 1000 * (now - self.t0) / max(self.steps, 1)
        per = self.data / max(self.units, 1)
        self.t0, self.steps, self.data, self.units = now, 0, 0.0, 0
        return (
            f"| pass {p + 1:3d} | {done:5d}/{total:5d} steps | lr {lr:.4g} | "
            f"ms/step {ms:7.1f} | {self.running(per)}"
        )


class RichReporter(PrintReporter):
    """A rich progress bar per pass, cleared when the pass's line is printed."""

    def __init__(self, console=None):
        from rich.console import Console

        super().__init__()
        self.console = console or Console()
        self._progress = None
        self._task = None

    @property
    def bar(self) -> bool:
        return self.console.is_terminal

    def start(self, total: int, desc: str) -> None:
        if not self.bar:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(desc, total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()  # a file or a pipe reads each line as it comes
