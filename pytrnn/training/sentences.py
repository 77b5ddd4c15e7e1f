"""The WildML-style loop (word level): one sentence per SGD step, or B sentences of
similar length per step (``--batch``).

The vocabulary comes from the training sentences alone, so held-out words outside
it are ``<unk>`` there, and the ``<unk>`` rate is printed. Held-out sentences are a
validation file (scored whole), or a seeded random ``val_frac`` of the sentences as
before; test sentences are a file or a seeded ``test_frac``, scored once at the end.

With a batch, each pass shuffles the sentences with the seed, sorts them by length
inside pools of ``POOL * B`` (as torchtext's bucket iterator), cuts the pools into
groups of B and shuffles the groups: little padding, and still a new order each
pass. The last pool's remainder (fewer than B sentences) waits for the next pass.

With ``--fuse K`` (the default on JAX: 16), K groups of one bucket train in one
compiled call (one ``lax.scan``, pytrnn.runtime.fused): each pass's groups are gathered
by bucket, cut into chunks of K and the chunks shuffled, so the steps are those of
``train_sentences`` in that order. A backend that does not fuse (or ``--mode
unroll``) trains the same chunks group by group: the same steps, in the same order.
"""

from __future__ import annotations

import numpy as np

from pytrnn.data.batches import Chunk, sentence_chunks, sentence_steps
from pytrnn.data.corpora import refuse_empty_shares
from pytrnn.data.words import (
    WordVocab,
    bucket,
    drop_long,
    hold_out,
    read_units,
    unknown_rate,
)
from pytrnn.errors import CorpusError
from pytrnn.runtime.backends import fuses_windows, resolve_backend
from pytrnn.runtime.sampling import sentences_until
from pytrnn.runtime.scoring import mean_word_loss, perplexity
from pytrnn.training.loop import ASYNC_STEPS, Loop

POOL = 100  # sentences sorted by length together: POOL * B


class WordFigures:
    """What the word level prints and keeps, whichever layout it trains on. A
    layout says how it scores held-out text (``val_loss``, ``test_loss``,
    ``test_unknown_rate``) and which id a sampled sentence follows."""

    unit = "words"
    val_key = "val_word_loss"

    @property
    def sentence_start(self) -> int:
        return self.vocab.start_id

    def pass_metrics(self):
        m = {"train_word_loss": self.state["pass_data_sum"] / self.state["pass_units"]}
        m["train_ppl"] = perplexity(m["train_word_loss"])
        val = self.val_loss()
        if val is not None:
            m["val_word_loss"], m["val_ppl"] = val, perplexity(val)
        return m

    def test_metrics(self):
        loss = self.test_loss()
        return {
            "loss_per_word": loss,
            "ppl": perplexity(loss),
            "unk_rate": self.test_unknown_rate(),
        }

    def sample(self):
        return "\n".join(
            self.vocab.join(s)
            for s in sentences_until(
                self.model,
                self.vocab,
                self.cfg.sample_length,
                seed=self.cfg.seed,
                start=self.sentence_start,
            )
        )

    def pass_line(self, r):
        line = (
            f"pass={r['pass']}, iseq={r['iseq']}, train loss/word={r['train_word_loss']:.4f}"
            f" ppl={r['train_ppl']:.2f}"
        )
        if "val_ppl" in r:
            line += f", val loss/word={r['val_word_loss']:.4f} ppl={r['val_ppl']:.2f}"
        return line + f"  (lr {r['lr']:g}, {r['words_per_s']:,.0f} words/s)"

    def test_line(self, t):
        return (
            f"test (pass {t['pass']}): loss/word={t['loss_per_word']:.4f} "
            f"ppl={t['ppl']:.2f} ({t['unk_rate']:.1%} <unk>)"
        )

    def held_out_sentences(self, texts):
        """(train, validation, test) sentences: files where given, else seeded shares."""
        cfg = self.cfg
        tok = self.tokenizer = cfg.resolved_tokenizer
        sentences = read_units(texts.train, tok, cfg.lower)
        total = sum(len(s) for s in sentences)
        limit = cfg.max_sentence_len if cfg.resolved_layout == "sentences" else 0
        kept, self.skipped, skipped_words = drop_long(sentences, limit)
        self.skipped_frac = skipped_words / total if total else 0.0
        val_frac = cfg.resolved_val_frac if texts.valid is None else 0.0
        test_frac = cfg.test_frac if texts.test is None else 0.0
        # a stream keeps the text's order; so does a run with a validation file, as
        # the word level always has
        contiguous = cfg.resolved_layout == "stream" or texts.valid is not None
        train, val, test = hold_out(kept, val_frac, test_frac, cfg.seed, contiguous)
        n = len(kept)
        refuse_empty_shares(cfg, texts, val, test, f"{n} sentence{'s' * (n != 1)}")
        if texts.valid is not None:
            val = read_units(texts.valid, tok, cfg.lower)
        if texts.test is not None:
            test = read_units(texts.test, tok, cfg.lower)
        return train, val, (test if test else None)

    def word_vocab(self, train, held_out, resumed) -> WordVocab:
        """The checkpoint's vocabulary, or one from the training text alone: the
        most frequent words (regex), or data.Corpus's dictionary (whitespace)."""
        if resumed:
            return WordVocab(tuple(resumed.vocab), self.tokenizer)
        if self.tokenizer == "whitespace":
            vocab = WordVocab.from_lines(train, held_out)
            # the adaptive softmax's head holds the lowest ids: the most frequent words
            return (
                vocab.by_frequency(train)
                if self.model_cfg.softmax == "adaptive"
                else vocab
            )
        return WordVocab.build(train, self.cfg.max_words)  # by count after its specials

    def vocab_line(self) -> str:
        if self.vocab.whitespace:
            return (
                f"vocabulary {self.vocab.size} (every training token, <eos> included)"
            )
        return f"vocabulary {self.vocab.size} (incl. <unk>, <s>, </s>)"


def batch_groups(lengths: np.ndarray, batch: int, rng) -> np.ndarray:
    """(G, B) sentence indices for one pass: shuffled, sorted by length inside pools
    of POOL * B, cut into groups of B, the groups shuffled."""
    perm = rng.permutation(len(lengths))
    pool, groups = POOL * batch, []
    for k in range(0, len(perm), pool):
        chunk = perm[k : k + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        whole = len(chunk) // batch * batch
        groups.extend(chunk[:whole].reshape(-1, batch))
    groups = np.asarray(groups, dtype=np.int64).reshape(-1, batch)
    return groups[rng.permutation(len(groups))]


def fused_chunks(groups: np.ndarray, buckets, K: int, rng) -> list:
    """One pass's groups as chunks of at most K groups of one bucket (one compiled
    call each), the chunks shuffled: a list of (k, B) index arrays."""
    by_bucket: dict = {}
    for g, T in zip(groups, buckets):
        by_bucket.setdefault(T, []).append(g)
    chunks = [
        np.asarray(gs[i : i + K])
        for _, gs in sorted(by_bucket.items())
        for i in range(0, len(gs), K)
    ]
    return [chunks[i] for i in rng.permutation(len(chunks))]


class WordLoop(WordFigures, Loop):
    chunk = ASYNC_STEPS  # one step per sentence (or group), read back in groups

    def prepare(self, texts, resumed):
        cfg = self.cfg
        train_sents, val_sents, test_sents = self.held_out_sentences(texts)
        self.vocab = self.word_vocab(
            train_sents, [*val_sents, *(test_sents or [])], resumed
        )
        enc = self.vocab.encode_sentence
        self.train_seqs = [enc(s) for s in train_sents]
        self.val = [enc(s) for s in val_sents]
        self.test = [enc(s) for s in test_sents] if test_sents is not None else None
        self.batch = cfg.batch
        self.lengths = np.array([len(x) for x, _ in self.train_seqs])
        if self.batch > len(self.train_seqs):
            raise CorpusError(
                f"--batch {self.batch} is more than the "
                f"{len(self.train_seqs)} training sentences: lower --batch"
            )
        backend = resolve_backend(cfg.backend)
        self.fuse = cfg.resolved_fuse(backend, 0)
        # one call per chunk where the backend fuses; else its groups one by one
        self.fused_calls = fuses_windows(backend) and cfg.resolved_mode == "scan"
        if self.fuse > 1:
            self.chunk = 1  # one chunk of up to K groups per call

    def describe(self):
        n_words = sum(len(y) for _, y in self.train_seqs)
        held = f"{len(self.val)} held out"
        if self.val:
            held += f" ({unknown_rate(self.val, self.vocab):.1%} <unk>)"
        if self.test is not None:
            held += (
                f", {len(self.test)} for test "
                f"({unknown_rate(self.test, self.vocab):.1%} <unk>)"
            )
        limit = self.cfg.max_sentence_len
        skipped = (
            f"{self.skipped} skipped as longer than {limit} words "
            f"({self.skipped_frac:.1%} of the words)"
            if limit
            else "no length limit"
        )
        batch = f"; {self.batch} sentences per step" if self.batch > 1 else ""
        if self.fuse > 1:
            batch += (
                f", {self.fuse} steps of one length per call"
                if self.fused_calls
                else f", in chunks of {self.fuse} steps of one length"
            )
        return (
            f"corpus {self.corpus_name}: {self.vocab_line()}; "
            f"{len(self.train_seqs)} train sentences "
            f"({n_words} words), {held}, {skipped}{batch}"
        )

    def warm_chunks(self) -> list:
        """A chunk of each shape training will meet: a step per bucket (or one of
        free length). The held-out loss graphs compile when a pass first scores
        them, so training starts sooner and the total is the same."""
        B, K, dt = self.batch, self.fuse, self.model.cfg.dtype
        static = self.model.static_shapes
        if B == 1 and K == 1:
            sizes = (
                sorted({bucket(len(x)) for x, _ in self.train_seqs})
                if static
                else [None]
            )
            shapes = [(1, n or self.model.cfg.window) for n in sizes]
            masks = [n is not None for n in sizes]
        else:
            lengths = sorted({bucket(int(n)) for n in self.lengths})
            lengths = lengths if static else [int(self.lengths.max())]
            k = K if K > 1 and self.fused_calls else 1
            shapes, masks = [(k, n, B) for n in lengths], [True] * len(lengths)
        return [
            Chunk(
                np.zeros(sh, np.int32),
                np.zeros(sh, np.int32),
                np.ones(sh, dt) if m else None,
                np.ones(sh[0], dt),
                [],
                B,
                fused=sh[0] > 1,
            )  # fmt: skip
            for sh, m in zip(shapes, masks)
        ]

    def order(self, p):
        rng = np.random.default_rng([self.cfg.seed, p])
        if self.fuse > 1:
            groups = batch_groups(self.lengths, self.batch, rng)
            buckets = [bucket(int(self.lengths[g].max())) for g in groups]
            return fused_chunks(groups, buckets, self.fuse, rng)
        if self.batch > 1:
            return batch_groups(self.lengths, self.batch, rng)
        return rng.permutation(len(self.train_seqs))

    def optimizer_steps(self, order) -> int:
        return sum(len(c) for c in order) if self.fuse > 1 else len(order)

    def chunks(self, order, j, n) -> list:
        seqs, static, dt = (
            self.train_seqs,
            self.model.static_shapes,
            self.model.cfg.dtype,
        )
        if self.fuse > 1:
            groups = [[seqs[k] for k in g] for g in order[j]]
            each = not self.fused_calls  # the same steps, one group per call
            return sentence_chunks(groups, static, dt, K=self.fuse, each=each)
        if self.batch > 1:
            groups = [[seqs[k] for k in g] for g in order[j : j + n]]
            return sentence_chunks(groups, static, dt)
        return sentence_steps([seqs[k] for k in order[j : j + n]], static, dt)

    def validates(self) -> bool:
        return bool(self.val)

    def val_loss(self):
        return mean_word_loss(self.model, self.val) if self.val else None

    def has_test(self):
        return bool(self.test)

    def test_loss(self):
        return mean_word_loss(self.model, self.test)

    def test_unknown_rate(self):
        return unknown_rate(self.test, self.vocab)
