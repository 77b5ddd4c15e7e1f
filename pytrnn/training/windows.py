"""The notebook's layout: one id stream (the char level's text, the word stream)
cut into B contiguous streams and windows of L (``Windows``, a batcher), and the
char level's data (``prepare_chars``).

The char level holds out a validation file, or the last ``val_frac`` of the text
as before; a test file is scored once at the end. Characters of held-out text
outside the training vocabulary are counted, reported and skipped.
"""

from __future__ import annotations

import numpy as np

from pytrnn.data.batches import (
    split_streams,
    variable_chunks,
    variable_windows,
    window_chunks,
    window_starts,
)
from pytrnn.data.corpora import ENCODE_CHUNK, Vocab, refuse_empty_shares
from pytrnn.errors import CorpusError
from pytrnn.runtime.backends import windows_per_call
from pytrnn.training.figures import CharFigures, WindowsHeldOut
from pytrnn.training.loop import ASYNC_STEPS, Data


class Windows:
    """The batcher of a stream: the notebook's windows (or AWD's variable ones,
    drawn from the seed and the pass), one per call or ``fuse`` to a call."""

    def __init__(self, cfg, model_cfg, ids, unit: str, backend: str):
        L = self.window = model_cfg.window
        B = self.batch = cfg.batch
        self.seed, self.processes = cfg.seed, cfg.num_processes
        self.streams = split_streams(ids, B)
        if B > 1 and self.streams.shape[1] < L + 1:
            raise CorpusError(
                f"--batch {B} cuts the {len(ids)} training {unit} into "
                f"streams of {self.streams.shape[1]}, fewer than window+1 = {L + 1}: "
                f"lower --batch or --window"
            )
        self.unit = unit
        self.every = cfg.every_window and not model_cfg.variable_bptt
        self.starts = window_starts(self.streams.shape[1], L, unit, self.every)
        # wlm's last, shorter window is a chunk of its own: the full ones fuse
        self.last = int(self.streams.shape[1] - 1 - self.starts[-1])  # its steps
        self.short = self.last < L
        self.fuse = windows_per_call(cfg, backend, len(self.starts) - self.short)
        # one compiled call per window (the notebook's loop) unless fused or batched
        self.variable = model_cfg.variable_bptt
        self.per_window = self.fuse == 1 and (B == 1 or self.variable)
        self.chunk = ASYNC_STEPS if self.per_window else self.fuse

    def line(self) -> str:
        n, L = len(self.starts), self.window
        what = (
            f"about {n} windows of variable length around {L} (--variable-bptt)"
            if self.variable
            else f"{n - 1} windows of {L} and one of {self.last}"
            if self.short
            else f"{n} windows of {L}"
        )
        streams = f" in {self.batch} streams" if self.batch > 1 else ""
        return f"{what}{streams} per pass, {self.fuse} per call"

    def local_streams(self, model):
        """All B streams, or across hosts this process's contiguous share of them."""
        if self.processes == 1:
            return self.streams
        share = self.batch // self.processes
        i = model.parallel.process_index
        return self.streams[i * share : (i + 1) * share]

    def order(self, p):
        if self.variable:  # AWD's lengths, drawn from (seed, pass)
            rng = np.random.default_rng([self.seed, p, 0xB77])
            return variable_windows(self.streams.shape[1], self.window, rng, self.unit)
        return self.starts

    def steps(self, order) -> int:
        return len(order)

    def chunks(self, model, order, j, n) -> list:
        return self._cut(model, order[j : j + n])

    def _cut(self, model, wins) -> list:
        """The chunks of these windows (starts, or (start, length) rows)."""
        cut = variable_chunks if self.variable else window_chunks
        return cut(self.local_streams(model), wins, self.window, self.chunk,
                   not self.per_window, model.cfg.dtype)  # fmt: skip

    def warm_chunks(self, model) -> list:
        """A chunk of each shape training starts with: the text's first (the
        adaptive softmax compiles for the rows its targets need; any other model
        the same program whatever the ids). Variable windows: --window's bucket (the
        others compile when met)."""
        k = 1 if self.per_window else self.chunk
        if self.variable:
            n = min(self.window, self.local_streams(model).shape[1] - 1)
            return self._cut(model, np.array([(0, n)] * k))
        chunks = self._cut(model, self.starts[:k])
        if self.short and len(self.starts) > k:  # wlm's last, shorter window
            chunks += self._cut(model, self.starts[-1:])
        return chunks


def prepare_chars(cfg, model_cfg, texts, resumed, reporter, backend) -> Data:
    """The char level: the text's vocabulary (or the checkpoint's), its ids split
    into train, validation and test, in the text's order."""
    text = texts.train
    vocab = Vocab(tuple(resumed.vocab)) if resumed else Vocab.from_text(text)
    big = len(text) > 4 * ENCODE_CHUNK
    if big:
        reporter.start(len(text), "encoding")
    done = [0]

    def advance(n):
        reporter.advance(n - done[0])
        done[0] = n

    data = vocab.encode(text, progress=advance if big else None)
    reporter.stop()
    skipped = {}  # held-out chars outside the vocabulary, per split
    n = len(data)
    n_val = int(n * cfg.resolved_val_frac) if texts.valid is None else 0
    n_test = int(n * cfg.test_frac) if texts.test is None else 0
    refuse_empty_shares(cfg, texts, n_val, n_test, f"{n} chars")
    train = data[: n - n_val - n_test]
    val = data[n - n_val - n_test : n - n_test]
    test = data[n - n_test :] if n_test else None
    if texts.valid is not None:
        val, skipped["valid"] = vocab.encode_known(texts.valid)
    if texts.test is not None:
        test, skipped["test"] = vocab.encode_known(texts.test)
    batcher = Windows(cfg, model_cfg, train, "chars", backend)
    held = WindowsHeldOut(model_cfg.window, cfg.carry_state, val, test, "chars")
    line = f", {len(val)} held out" if held.val is not None else ""
    if test is not None:
        line += f", {len(test)} for test"
    for split, count in skipped.items():
        line += f" ({count} {split} chars outside the vocabulary skipped)"
    line = (
        f"corpus {texts.name}: {vocab.size} distinct chars, {len(train)} chars"
        f"{line}; {batcher.line()}"
    )
    figures = CharFigures(held, vocab, {"skipped_chars": skipped.get("test", 0)},
                          window=model_cfg.window)  # fmt: skip
    return Data(texts.name, vocab, batcher, figures, line)
