"""The WildML-style loop (word level): one sentence per SGD step.

The vocabulary comes from the training sentences alone, so held-out words outside
it are ``<unk>`` there, and the ``<unk>`` rate is printed. Held-out sentences are a
validation file (scored whole), or a seeded random ``val_frac`` of the sentences as
before; a test file is scored once at the end.
"""

from __future__ import annotations

import math

import numpy as np

from .loop import ASYNC_STEPS, Loop, settle
from .model import RNN
from .sample import sample_sentences
from .words import WordVocab, bucket, drop_long, split_sentences, unknown_rate


def pad_length(model: RNN, n: int) -> int | None:
    """The bucket a sequence of n steps is padded to, where the backend needs it."""
    return bucket(n) if model.static_shapes else None


def mean_word_loss(model: RNN, seqs) -> float:
    """Mean data loss per predicted word (END included) over (x, y) sentences."""
    total = sum(model.seq_loss(x, y, pad_to=pad_length(model, len(x)))[1] for x, y in seqs)
    return total / sum(len(y) for _, y in seqs)


def perplexity(word_loss: float) -> float:
    return math.exp(word_loss)


class WordLoop(Loop):
    unit = "words"
    val_key = "val_word_loss"
    chunk = ASYNC_STEPS  # one sentence per SGD step, read back in groups

    def prepare(self, texts, resumed):
        cfg = self.cfg
        sentences = split_sentences(texts.train, cfg.lower)
        total_words = sum(len(s) for s in sentences)
        kept, self.skipped, skipped_words = drop_long(sentences, cfg.max_sentence_len)
        self.skipped_frac = skipped_words / total_words if total_words else 0.0
        if texts.valid is None:  # a seeded random share of the sentences, as before
            perm = np.random.default_rng(cfg.seed).permutation(len(kept))
            n_val = int(round(len(kept) * cfg.resolved_val_frac))
            if cfg.resolved_val_frac > 0 and len(kept) >= 2:
                n_val = min(max(n_val, 1), len(kept) - 1)
            val_sents = [kept[i] for i in perm[:n_val]]
            train_sents = [kept[i] for i in perm[n_val:]]
        else:
            val_sents = split_sentences(texts.valid, cfg.lower)
            train_sents = kept
        built = WordVocab.build(train_sents, cfg.vocab_size)  # training text only
        self.vocab = WordVocab(tuple(resumed.vocab)) if resumed else built
        enc = self.vocab.encode_sentence
        self.train_seqs = [enc(s) for s in train_sents]
        self.val = [enc(s) for s in val_sents]
        self.test = ([enc(s) for s in split_sentences(texts.test, cfg.lower)]
                     if texts.test is not None else None)

    def describe(self):
        n_words = sum(len(y) for _, y in self.train_seqs)
        held = f"{len(self.val)} held out"
        if self.val:
            held += f" ({unknown_rate(self.val):.1%} <unk>)"
        if self.test is not None:
            held += f", {len(self.test)} for test ({unknown_rate(self.test):.1%} <unk>)"
        limit = self.cfg.max_sentence_len
        skipped = (f"{self.skipped} skipped as longer than {limit} words "
                   f"({self.skipped_frac:.1%} of the words)" if limit else "no length limit")
        return (f"corpus {self.corpus_name}: vocabulary {self.vocab.size} "
                f"(incl. <unk>, <s>, </s>); {len(self.train_seqs)} train sentences "
                f"({n_words} words), {held}, {skipped}")

    def _pad(self, n):
        return pad_length(self.model, n)

    def compile(self):
        held = self.val + (self.test or [])
        lengths = sorted({self._pad(len(x)) for x, _ in self.train_seqs + held},
                         key=lambda v: v or 0)
        kinds = ("train", "loss") if held else ("train",)
        return sum(self.model.compile(length=n, masked=n is not None, kinds=kinds)
                   for n in lengths)

    def order(self, p):
        return np.random.default_rng([self.cfg.seed, p]).permutation(len(self.train_seqs))

    def train_chunk(self, order, j, n):
        seqs = [self.train_seqs[k] for k in order[j:j + n]]
        rng, m = self.drop_rng(j), self.model
        steps = [m.train_step(x, y, pad_to=self._pad(len(x)), sync=False,
                              drop=rng and m.draw_drop(self._pad(len(x)) or len(x), rng=rng))
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
        return line + f"  (lr {r['lr']:g}, {r['words_per_s']:,.0f} words/s)"

    def has_test(self):
        return bool(self.test)

    def test_metrics(self):
        loss = mean_word_loss(self.model, self.test)
        return {"loss_per_word": loss, "ppl": perplexity(loss),
                "unk_rate": unknown_rate(self.test)}

    def test_line(self, t):
        return (f"test (pass {t['pass']}): loss/word={t['loss_per_word']:.4f} "
                f"ppl={t['ppl']:.2f} ({t['unk_rate']:.1%} <unk>)")

    def extra(self):
        return {"lower": self.cfg.lower}

    def sample(self):
        sents = sample_sentences(self.model, self.vocab, n=3, seed=self.cfg.seed)
        return "\n".join(sents)
