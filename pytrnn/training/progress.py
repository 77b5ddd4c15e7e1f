"""Reporters: how a training loop talks to a person, without knowing who listens.

``PrintReporter`` prints lines (notebooks, logs); ``RichReporter`` adds a progress
bar during each pass. The loop calls ``start(total, desc)``, ``advance(n)``,
``stop()`` and ``line(text)``.
"""

from __future__ import annotations

import sys


class PrintReporter:
    """Lines only; no bar. ``quiet`` drops everything."""

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


class RichReporter(PrintReporter):
    """A rich progress bar per pass, cleared when the pass's line is printed."""

    def __init__(self, console=None):
        from rich.console import Console

        super().__init__()
        self.console = console or Console()
        self._progress = None
        self._task = None

    def start(self, total: int, desc: str) -> None:
        if not self.console.is_terminal:
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
