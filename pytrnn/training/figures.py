"""The loop's scorer: what a level reports whichever layout trains it (bits per
char, or loss per word and perplexity), its pass and test lines, its samples, and
the held-out scoring those figures come from.

Held-out ids of a stream are scored with the notebook's windows from h = 0 (with
``--carry-state``, as contiguous streams carrying their states); held-out
sentences whole, a group to a call (pytrnn.runtime.scoring).
"""

from __future__ import annotations

import math

from pytrnn.data.batches import window_starts
from pytrnn.runtime.sampling import sample_chars, sentences_until
from pytrnn.runtime.scoring import held_out, mean_word_loss, perplexity, ppl_text

LN2 = math.log(2.0)


class WindowsHeldOut:
    """Validation and test ids (None: none held out), scored in windows of L; a
    text too short for one window is refused now, not when it is scored."""

    def __init__(self, L: int, carry: bool, val, test, unit: str):
        self.L, self.carry, self.unit = L, carry, unit
        self.val = val if len(val) else None
        self.test = test
        for ids in (self.val, test):
            if ids is not None:
                window_starts(len(ids), L, unit)

    def mean(self, model, ids) -> float:
        """Data loss per token."""
        starts = window_starts(len(ids), self.L, self.unit)
        total, count = held_out(model, ids, starts, self.L, self.carry)
        return total / count


class SentencesHeldOut:
    """Validation and test sentences (None: none held out), scored whole."""

    def __init__(self, val, test):
        self.val, self.test = val or None, test or None

    def mean(self, model, seqs) -> float:
        return mean_word_loss(model, seqs)


class Figures:
    """``held``: how held-out text is scored; ``test_extra``: what the test's
    figures add (chars skipped, the <unk> rate)."""

    def __init__(self, held, vocab, test_extra: dict, window: int = 0, start=None):
        self.held, self.vocab, self.test_extra = held, vocab, test_extra
        self.window, self.start = window, start

    def validates(self) -> bool:
        return self.held.val is not None

    def has_test(self) -> bool:
        return self.held.test is not None


class CharFigures(Figures):
    unit = "chars"
    val_key = "val_bpc"  # the history entry the best pass is chosen by

    def pass_metrics(self, model, data_sum: float, units: int) -> dict:
        m = {"train_bpc": data_sum / units / LN2}
        if self.validates():
            mean = self.held.mean(model, self.held.val)
            m["val_loss"], m["val_bpc"] = mean * self.window, mean / LN2
        return m

    def test_metrics(self, model) -> dict:
        bpc = self.held.mean(model, self.held.test) / LN2
        return {"loss_per_char": bpc * LN2, "bpc": bpc, **self.test_extra}

    def pass_line(self, r) -> str:
        line = f"iteration={r['pass']}, iseq={r['iseq']}, ichar=0, loss={r['loss']:g}"
        extra = f"  (train {r['train_bpc']:.3f} bits/char"
        if "val_bpc" in r:
            extra += f", val {r['val_bpc']:.3f} bits/char"
        tail = (
            f", lr {r['lr']:g}, {r['chars_per_s']:,.0f} chars/s, {r['seconds']:.1f} s)"
        )
        return line + extra + tail

    def running(self, per_unit: float) -> str:
        """A --log-interval line's figures: the interval's data loss per char."""
        return f"loss/char {per_unit:.3f} | bits/char {per_unit / LN2:.3f}"

    def test_line(self, t) -> str:
        return (
            f"test (pass {t['pass']}): loss/char={t['loss_per_char']:.4f} "
            f"bits/char={t['bpc']:.3f}"
        )

    def sample(self, model, length: int, seed: int) -> str:
        return sample_chars(model, self.vocab, length, seed=seed)


class WordFigures(Figures):
    unit = "words"
    val_key = "val_word_loss"

    def pass_metrics(self, model, data_sum: float, units: int) -> dict:
        m = {"train_word_loss": data_sum / units}
        m["train_ppl"] = perplexity(m["train_word_loss"])
        if self.validates():
            val = self.held.mean(model, self.held.val)
            m["val_word_loss"], m["val_ppl"] = val, perplexity(val)
        return m

    def test_metrics(self, model) -> dict:
        loss = self.held.mean(model, self.held.test)
        return {"loss_per_word": loss, "ppl": perplexity(loss), **self.test_extra}

    def pass_line(self, r) -> str:
        line = (
            f"pass={r['pass']}, iseq={r['iseq']}, train loss/word={r['train_word_loss']:.4f}"
            f" ppl={ppl_text(r['train_ppl'])}"
        )
        if "val_ppl" in r:
            line += (
                f", val loss/word={r['val_word_loss']:.4f} ppl={ppl_text(r['val_ppl'])}"
            )
        return line + (
            f"  (lr {r['lr']:g}, {r['words_per_s']:,.0f} words/s, {r['seconds']:.1f} s)"
        )

    def running(self, per_unit: float) -> str:
        """A --log-interval line's figures, as wlm's: loss per word and perplexity."""
        return f"loss/word {per_unit:.2f} | ppl {ppl_text(perplexity(per_unit))}"

    def test_line(self, t) -> str:
        return (
            f"test (pass {t['pass']}): loss/word={t['loss_per_word']:.4f} "
            f"ppl={ppl_text(t['ppl'])} ({t['unk_rate']:.1%} <unk>)"
        )

    def sample(self, model, length: int, seed: int) -> str:
        """Sentences, each after ``start`` (<s>, or the stream's </s>)."""
        return "\n".join(
            self.vocab.join(s)
            for s in sentences_until(
                model, self.vocab, length, seed=seed, start=self.start
            )
        )
