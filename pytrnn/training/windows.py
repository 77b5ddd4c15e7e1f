"""The notebook's loop: windows of L ids of one text cut into B streams, the char
level's (``WindowLoop``), and the word stream's over word ids (training.stream).

Held-out text is a validation file, or the last ``val_frac`` of the text as
before; a test file is scored once at the end. Held-out texts are scored with the
notebook's windows from h = 0 (with ``--carry-state``, each window from the state
the one before ended with); characters outside the training vocabulary are
counted, reported and skipped.
"""

from __future__ import annotations

import numpy as np

from pytrnn.data.batches import variable_chunks, window_chunks
from pytrnn.data.corpora import (
    ENCODE_CHUNK,
    Vocab,
    refuse_empty_shares,
    split_streams,
    variable_windows,
    window_starts,
)
from pytrnn.errors import CorpusError
from pytrnn.runtime.backends import resolve_backend
from pytrnn.runtime.sampling import sample_chars
from pytrnn.runtime.scoring import held_out
from pytrnn.training.loop import ASYNC_STEPS, LN2, Loop


class WindowLoop(Loop):
    unit = "chars"
    val_key = "val_bpc"

    def prepare(self, texts, resumed):
        text = texts.train
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
        self.skipped = {}  # held-out chars outside the vocabulary, per split
        n = len(data)
        n_val = int(n * self.cfg.resolved_val_frac) if texts.valid is None else 0
        n_test = int(n * self.cfg.test_frac) if texts.test is None else 0
        refuse_empty_shares(self.cfg, texts, n_val, n_test, f"{n} {self.unit}")
        # the text's order: train, then validation, then test (the last test_frac)
        self.train_data = data[: n - n_val - n_test]
        self.val_data = data[n - n_val - n_test : n - n_test]
        self.test_data = data[n - n_test :] if n_test else None
        if texts.valid is not None:
            self.val_data, self.skipped["valid"] = self.vocab.encode_known(texts.valid)
        if texts.test is not None:
            self.test_data, self.skipped["test"] = self.vocab.encode_known(texts.test)
        self.cut_windows()

    def cut_windows(self):
        """The training stream as B contiguous streams of the notebook's windows,
        how many windows go into one call, and the held-out windows."""
        L = self.window = self.model_cfg.window
        B = self.batch = self.cfg.batch
        self.streams = split_streams(self.train_data, B)
        if B > 1 and self.streams.shape[1] < L + 1:
            raise CorpusError(
                f"--batch {B} cuts the {len(self.train_data)} training {self.unit} into "
                f"streams of {self.streams.shape[1]}, fewer than window+1 = {L + 1}: "
                f"lower --batch or --window"
            )
        self.starts = window_starts(self.streams.shape[1], L, self.unit)
        self.fuse = self.cfg.resolved_fuse(
            resolve_backend(self.cfg.backend), len(self.starts)
        )
        # one compiled call per window (the notebook's loop) unless fused or batched
        self.variable = self.model_cfg.variable_bptt
        self.per_window = self.fuse == 1 and (B == 1 or self.variable)
        self.chunk = ASYNC_STEPS if self.per_window else self.fuse
        self.val_starts = (
            window_starts(len(self.val_data), L, self.unit)
            if len(self.val_data)
            else None
        )
        if (
            self.test_data is not None
        ):  # too short a test text: say so now, not at the end
            window_starts(len(self.test_data), L, self.unit)

    def describe(self):
        n = len(self.train_data)
        val = f", {len(self.val_data)} held out" if self.val_starts is not None else ""
        if self.test_data is not None:
            val += f", {len(self.test_data)} for test"
        for split, count in self.skipped.items():
            val += f" ({count} {split} chars outside the vocabulary skipped)"
        streams = f" in {self.batch} streams" if self.batch > 1 else ""
        return (
            f"corpus {self.corpus_name}: {self.vocab.size} distinct chars, {n} chars"
            f"{val}; {self.windows_line()}{streams} per pass, {self.fuse} per call"
        )

    def validates(self) -> bool:
        return self.val_starts is not None

    def windows_line(self) -> str:
        if self.variable:
            return (
                f"about {len(self.starts)} windows of variable length around "
                f"{self.window} (--variable-bptt)"
            )
        return f"{len(self.starts)} windows of {self.window}"

    def warm_chunks(self) -> list:
        """A chunk of each shape training starts with: the text's first (the
        adaptive softmax compiles for the rows its targets need; any other model
        the same program whatever the ids). Variable windows: --window's bucket (the
        others compile when met)."""
        streams, K, dt = self.local_streams(), self.chunk, self.model.cfg.dtype
        if self.variable:
            n = min(self.window, streams.shape[1] - 1)
            first = [(0, n)] * (1 if self.per_window else K)
            return variable_chunks(streams, np.array(first), self.window, K,
                                   not self.per_window, dt)  # fmt: skip
        starts = self.starts[: 1 if self.per_window else K]
        return window_chunks(streams, starts, self.window, K, not self.per_window, dt)

    def local_streams(self):
        """All B streams, or across hosts this process's contiguous share of them."""
        if self.cfg.num_processes == 1:
            return self.streams
        share = self.batch // self.cfg.num_processes
        i = self.model.parallel.process_index
        return self.streams[i * share : (i + 1) * share]

    def order(self, p):
        if self.variable:  # AWD's lengths, drawn from (seed, pass)
            rng = np.random.default_rng([self.cfg.seed, p, 0xB77])
            return variable_windows(self.streams.shape[1], self.window, rng, self.unit)
        return self.starts

    def chunks(self, order, j, n) -> list:
        cut = variable_chunks if self.variable else window_chunks
        return cut(self.local_streams(), order[j : j + n], self.window, self.chunk,
                   not self.per_window, self.model.cfg.dtype)  # fmt: skip

    def held_out_mean(self, d, starts) -> float:
        """Data loss per token over the notebook's windows of d, each from h = 0
        (or, carrying state, over d as contiguous streams: pytrnn.runtime.scoring)."""
        total, count = held_out(
            self.model, d, starts, self.window, self.cfg.carry_state
        )
        return total / count

    def held_out_figures(self, d, starts):
        """(data loss per window, bits per char) over the notebook's windows of d."""
        mean = self.held_out_mean(d, starts)
        return mean * self.window, mean / LN2

    def pass_metrics(self):
        m = {"train_bpc": self.state["pass_data_sum"] / self.state["pass_units"] / LN2}
        if self.val_starts is not None:
            m["val_loss"], m["val_bpc"] = self.held_out_figures(
                self.val_data, self.val_starts
            )
        return m

    def pass_line(self, r):
        line = f"iteration={r['pass']}, iseq={r['iseq']}, ichar=0, loss={r['loss']:g}"
        extra = f"  (train {r['train_bpc']:.3f} bits/char"
        if "val_bpc" in r:
            extra += f", val {r['val_bpc']:.3f} bits/char"
        return line + extra + f", lr {r['lr']:g}, {r['chars_per_s']:,.0f} chars/s)"

    def has_test(self):
        return self.test_data is not None

    def test_metrics(self):
        starts = window_starts(len(self.test_data), self.window)
        loss, bpc = self.held_out_figures(self.test_data, starts)
        return {
            "loss_per_char": bpc * LN2,
            "bpc": bpc,
            "skipped_chars": self.skipped.get("test", 0),
        }

    def test_line(self, t):
        return (
            f"test (pass {t['pass']}): loss/char={t['loss_per_char']:.4f} "
            f"bits/char={t['bpc']:.3f}"
        )

    def sample(self):
        return sample_chars(
            self.model, self.vocab, self.cfg.sample_length, seed=self.cfg.seed
        )
