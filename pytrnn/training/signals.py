"""What SIGINT and SIGTERM do to a run: stop at once before training, save after
the step and stop while it trains (pytrnn.training.loop asks)."""

from __future__ import annotations

import contextlib
import signal
import threading


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM stopped training (after a checkpoint was written, if any)."""


class Signals:
    """What SIGINT/SIGTERM do during a run. Until training starts (reading the
    texts, compiling) a signal stops the run at once and nothing is written; while
    it trains, the first asks the loop to save after its step and stop, a second
    stops at once. The request is kept as a flag whatever happens to the
    KeyboardInterrupt raised for it: one raised inside a callback that swallows it
    (JAX's gc callback does) still stops the run when control comes back."""

    def __init__(self):
        self.requested = False
        self.at_once = True  # False while training: finish the step, save, stop

    def handler(self, signum, frame):
        again, self.requested = self.requested, True
        if self.at_once or again:
            raise KeyboardInterrupt

    def check(self, when: str) -> None:
        """Stop here if a signal came, however its KeyboardInterrupt fared."""
        if self.requested:
            raise TrainingInterrupted(f"interrupted {when}: nothing was written")


@contextlib.contextmanager
def owned_signals():
    """SIGINT and SIGTERM answered by a Signals for as long as the block runs (in
    the main thread; elsewhere Python delivers no signals, and the flag stays
    unset)."""
    signals = Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {
        s: signal.signal(s, signals.handler) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield signals
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
