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
from pytrnn.runtime.backends import fuses_sentences, windows_per_call
from pytrnn.training.figures import SentencesHeldOut, WordFigures
from pytrnn.training.loop import ASYNC_STEPS, Data

POOL = 100  # sentences sorted by length together: POOL * B


def held_out_sentences(cfg, texts):
    """(train, validation, test, (sentences skipped as too long, their share of the
    words)): files where given, else seeded shares."""
    tok = cfg.resolved_tokenizer
    sentences = read_units(texts.train, tok, cfg.lower)
    total = sum(len(s) for s in sentences)
    limit = cfg.max_sentence_len if cfg.resolved_layout == "sentences" else 0
    kept, skipped, skipped_words = drop_long(sentences, limit)
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
    dropped = (skipped, skipped_words / total if total else 0.0)
    return train, val, (test if test else None), dropped


def word_vocab(cfg, model_cfg, train, held_out, resumed) -> WordVocab:
    """The checkpoint's vocabulary, or one from the training text alone: the
    most frequent words (regex), or data.Corpus's dictionary (whitespace)."""
    tok = cfg.resolved_tokenizer
    if resumed:
        return WordVocab(tuple(resumed.vocab), tok)
    if tok == "whitespace":
        vocab = WordVocab.from_lines(train, held_out)
        # the adaptive softmax's head holds the lowest ids: the most frequent words
        adaptive = model_cfg.softmax == "adaptive"
        return vocab.by_frequency(train) if adaptive else vocab
    return WordVocab.build(train, cfg.max_words)  # by count after its specials


def vocab_line(vocab) -> str:
    if vocab.whitespace:
        return f"vocabulary {vocab.size} (every training token, <eos> included)"
    return f"vocabulary {vocab.size} (incl. <unk>, <s>, </s>)"


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


class Sentences:
    """The batcher of sentences: one a step, B of similar length a step, or K such
    groups of one bucket a chunk, in an order drawn from the seed and the pass."""

    def __init__(self, cfg, seqs, backend: str):
        self.seqs, self.seed, self.batch = seqs, cfg.seed, cfg.batch
        self.lengths = np.array([len(x) for x, _ in seqs])
        if self.batch > len(seqs):
            raise CorpusError(
                f"--batch {self.batch} is more than the "
                f"{len(seqs)} training sentences: lower --batch"
            )
        self.fuse = windows_per_call(cfg, backend, 0)
        # one call per chunk where the backend fuses; else its groups one by one
        self.fused_calls = fuses_sentences(backend, cfg.resolved_mode)
        # one chunk of up to K groups per call; else steps read back in groups
        self.chunk = 1 if self.fuse > 1 else ASYNC_STEPS

    def line(self) -> str:
        out = f"; {self.batch} sentences per step" if self.batch > 1 else ""
        if self.fuse > 1:
            out += (
                f", {self.fuse} steps of one length per call"
                if self.fused_calls
                else f", in chunks of {self.fuse} steps of one length"
            )
        return out

    def order(self, p):
        rng = np.random.default_rng([self.seed, p])
        if self.fuse > 1:
            groups = batch_groups(self.lengths, self.batch, rng)
            buckets = [bucket(int(self.lengths[g].max())) for g in groups]
            return fused_chunks(groups, buckets, self.fuse, rng)
        if self.batch > 1:
            return batch_groups(self.lengths, self.batch, rng)
        return rng.permutation(len(self.lengths))

    def steps(self, order) -> int:
        return sum(len(c) for c in order) if self.fuse > 1 else len(order)

    def chunks(self, model, order, j, n) -> list:
        seqs, static, dt = self.seqs, model.static_shapes, model.cfg.dtype
        if self.fuse > 1:
            groups = [[seqs[k] for k in g] for g in order[j]]
            each = not self.fused_calls  # the same steps, one group per call
            return sentence_chunks(groups, static, dt, K=self.fuse, each=each)
        if self.batch > 1:
            groups = [[seqs[k] for k in g] for g in order[j : j + n]]
            return sentence_chunks(groups, static, dt)
        return sentence_steps([seqs[k] for k in order[j : j + n]], static, dt)

    def warm_chunks(self, model) -> list:
        """A chunk of each shape training will meet: a step per bucket (or one of
        free length). The held-out loss graphs compile when a pass first scores
        them, so training starts sooner and the total is the same."""
        B, K, dt = self.batch, self.fuse, model.cfg.dtype
        static = model.static_shapes
        if B == 1 and K == 1:
            sizes = sorted({bucket(int(n)) for n in self.lengths}) if static else [None]
            shapes = [(1, n or model.cfg.window) for n in sizes]
            masks = [n is not None for n in sizes]
        else:
            lengths = sorted({bucket(int(n)) for n in self.lengths})
            lengths = lengths if static else [int(self.lengths.max())]
            k = K if K > 1 and self.fused_calls else 1
            shapes, masks = [(k, n, B) for n in lengths], [True] * len(lengths)
        zeros = [np.zeros(sh, np.int32) for sh in shapes]
        return [Chunk(z, z, np.ones(z.shape, dt) if m else None, np.ones(len(z), dt),
                      [], B, fused=len(z) > 1) for z, m in zip(zeros, masks)]  # fmt: skip


def prepare_sentences(cfg, model_cfg, texts, resumed, reporter, backend) -> Data:
    """The word level's sentences: the vocabulary from the training sentences
    alone, held-out words outside it ``<unk>``."""
    train, val, test, (skipped, frac) = held_out_sentences(cfg, texts)
    vocab = word_vocab(cfg, model_cfg, train, [*val, *(test or [])], resumed)
    enc = vocab.encode_sentence
    seqs = [enc(s) for s in train]
    held = SentencesHeldOut([enc(s) for s in val], [enc(s) for s in test or []])
    batcher = Sentences(cfg, seqs, backend)
    line, extra = f"{len(val)} held out", {}
    if held.val is not None:
        line += f" ({unknown_rate(held.val, vocab):.1%} <unk>)"
    if test is not None:
        extra["unk_rate"] = unknown_rate(held.test or [], vocab)
        line += f", {len(test)} for test ({extra['unk_rate']:.1%} <unk>)"
    limit = cfg.max_sentence_len
    line += (
        f", {skipped} skipped as longer than {limit} words ({frac:.1%} of the words)"
        if limit
        else ", no length limit"
    )
    line = (
        f"corpus {texts.name}: {vocab_line(vocab)}; {len(seqs)} train sentences "
        f"({sum(len(y) for _, y in seqs)} words), {line}{batcher.line()}"
    )
    figures = WordFigures(held, vocab, extra, start=vocab.start_id)

    def counts():
        return np.bincount(np.concatenate([y for _, y in seqs]), minlength=vocab.size)

    return Data(texts.name, vocab, batcher, figures, line, counts)
