"""Word level: two ways of reading text, a vocabulary, and bucket lengths.

- ``regex`` (raw text, after the WildML RNN tutorial): a regex splits words and
  punctuation, lower-cased; a sentence ends at ``.``, ``!`` or ``?`` or at a blank
  line; the vocabulary is the most frequent words plus UNKNOWN, START and END.
- ``whitespace`` (standard-format corpora: WikiText, Penn Treebank), exactly as
  PyTorch's word_language_model's ``data.Corpus``: each line's whitespace-separated
  tokens followed by ``<eos>`` (blank lines too), nothing lower-cased, ``<unk>`` an
  ordinary token of the text, every token of the training text in the vocabulary,
  in order of first occurrence (``Dictionary.add_word``'s ids).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from pytrnn.errors import CorpusError

UNKNOWN, START, END = "<unk>", "<s>", "</s>"
SPECIALS = (UNKNOWN, START, END)
UNK_ID, START_ID, END_ID = 0, 1, 2  # the regex vocabulary's
EOS = "<eos>"  # data.Corpus's end of every line

_TOKEN = re.compile(r"\w+(?:['’.-]\w+)*|[^\w\s]")
_PARAGRAPH = re.compile(r"\n\s*\n")
_ENDERS = {".", "!", "?"}


def tokenize(text: str, lower: bool = True) -> list[str]:
    """Words (with inner apostrophes, hyphens and dots) and single punctuation marks."""
    return _TOKEN.findall(text.lower() if lower else text)


def split_sentences(text: str, lower: bool = True) -> list[list[str]]:
    """Token lists, one per sentence; empty sentences are dropped."""
    sentences = []
    for para in _PARAGRAPH.split(text):
        current: list[str] = []
        for tok in tokenize(para, lower):
            current.append(tok)
            if tok in _ENDERS:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
    return sentences


def split_lines(text: str) -> list[list[str]]:
    """data.Corpus's reading: one token list per line (a file read in text mode:
    ``\r\n`` and ``\r`` end lines too), each line's ``str.split()``; blank lines are
    empty lists. The ``<eos>`` that follows each comes with the stream (stream_ids)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":  # the newline that ends the last line starts none
        lines.pop()
    return [line.split() for line in lines]


def read_units(text: str, tokenizer: str, lower: bool) -> list[list[str]]:
    """The text's sentences (regex) or lines (whitespace), as token lists."""
    return (
        split_lines(text) if tokenizer == "whitespace" else split_sentences(text, lower)
    )


@dataclass(frozen=True)
class WordVocab:
    """``regex``: ids 0, 1, 2 = UNKNOWN, START, END; then words by falling count
    (ties: a-z). ``whitespace``: data.Corpus's dictionary of the training text,
    ``<eos>`` both ending a line and starting the next, ``<unk>`` where the text has
    it (else appended, only when held-out text needs it)."""

    symbols: tuple
    tokenizer: str = "regex"

    @classmethod
    def build(cls, sentences: list[list[str]], size: int) -> WordVocab:
        counts = Counter(w for s in sentences for w in s)
        for s in SPECIALS:
            counts.pop(s, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
        return cls(SPECIALS + tuple(w for w, _ in ranked))

    @classmethod
    def from_lines(cls, lines: list[list[str]], held_out=()) -> WordVocab:
        """data.Corpus's ids for the training lines; ``held_out`` lines with words
        outside them add ``<unk>`` if the text has none."""
        index: dict = {}
        for words in lines:
            for w in (*words, EOS):
                index.setdefault(w, len(index))
        if UNKNOWN not in index and any(w not in index for ws in held_out for w in ws):
            index[UNKNOWN] = len(index)
        return cls(tuple(index), "whitespace")

    def by_frequency(self, lines: list[list[str]]) -> WordVocab:
        """The same words with ids in decreasing count over ``lines`` (each line's
        tokens and its ``<eos>``), ties by their present order (first occurrence):
        the adaptive softmax's order."""
        counts = Counter(w for words in lines for w in (*words, EOS))
        order = sorted(range(self.size), key=lambda i: -counts.get(self.symbols[i], 0))
        return WordVocab(tuple(self.symbols[i] for i in order), self.tokenizer)

    @property
    def size(self) -> int:
        return len(self.symbols)

    @cached_property
    def index(self) -> dict:
        """word -> id, built once (encoding calls it per sentence)."""
        return {w: i for i, w in enumerate(self.symbols)}

    @property
    def whitespace(self) -> bool:
        return self.tokenizer == "whitespace"

    @property
    def end_id(self) -> int:
        return self.index[EOS] if self.whitespace else END_ID

    @property
    def start_id(self) -> int:
        """The id a sentence follows: START, or for lines the ``<eos>`` before it."""
        return self.end_id if self.whitespace else START_ID

    @property
    def unk_id(self) -> int | None:
        """The id of words outside the vocabulary (None: the text has none)."""
        return self.index.get(UNKNOWN) if self.whitespace else UNK_ID

    @property
    def never_sampled(self) -> tuple:
        """Ids a sample never draws: the regex vocabulary's UNKNOWN and START (a
        standard corpus's ``<unk>`` is one of its tokens, drawn as wlm draws it)."""
        return () if self.whitespace else (UNK_ID, START_ID)

    def ids(self, words) -> list[int]:
        index, unk = self.index, self.unk_id
        return [index.get(w, unk) for w in words]

    def encode_sentence(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """x = [START, w1..wn], y = [w1..wn, END], unknown words -> UNKNOWN."""
        ids = self.ids(words)
        x = np.array([self.start_id] + ids, dtype=np.int32)
        y = np.array(ids + [self.end_id], dtype=np.int32)
        return x, y

    def join(self, words: list[str]) -> str:
        """A sampled sentence as text: regex tokens closed up (detokenize), a
        standard corpus's tokens joined by spaces, as they are in its files."""
        return " ".join(words) if self.whitespace else detokenize(words)


def drop_long(sentences: list[list[str]], max_len: int):
    """(kept sentences, skipped count, skipped words) for at most ``max_len`` words
    a sentence; ``max_len`` 0 keeps every sentence."""
    if max_len == 0:
        return sentences, 0, 0
    kept = [s for s in sentences if len(s) <= max_len]
    if not kept:
        raise CorpusError(
            f"no sentences of at most {max_len} words in the corpus "
            f"({len(sentences)} found): raise --max-sentence-len (0: no limit) "
            f"or use another text"
        )
    skipped_words = sum(len(s) for s in sentences) - sum(len(s) for s in kept)
    return kept, len(sentences) - len(kept), skipped_words


def prepare(
    text: str, vocab_size: int, max_len: int, lower: bool
) -> tuple[WordVocab, list[list[str]], int]:
    """Split, drop sentences longer than ``max_len`` words, build the vocabulary.

    Returns (vocab, kept sentences, number skipped as too long).
    """
    kept, skipped, _ = drop_long(split_sentences(text, lower), max_len)
    return WordVocab.build(kept, vocab_size), kept, skipped


def hold_out(
    sentences: list,
    val_frac: float,
    test_frac: float,
    seed: int,
    contiguous: bool = False,
):
    """(train, validation, test) sentences. Shuffled: a seeded random share for
    each, and the training sentences in that shuffled order (as the word level has
    always split). ``contiguous``: the text's order kept, validation and then test
    taken from its end (as the char level and a token stream need)."""
    n = len(sentences)

    def share(frac):
        k = int(round(n * frac))
        return min(max(k, 1), n - 1) if frac > 0 and n >= 2 else k

    n_val, n_test = share(val_frac), share(test_frac)
    if n_val + n_test >= n and n_test:
        raise CorpusError(
            f"{n} sentences are too few to hold out --val-frac {val_frac} "
            f"and --test-frac {test_frac} and still train"
        )
    if contiguous:
        cut, end = n - n_val - n_test, n - n_test
        return sentences[:cut], sentences[cut:end], sentences[end:]
    perm = np.random.default_rng(seed).permutation(n)
    val = [sentences[i] for i in perm[:n_val]]
    test = [sentences[i] for i in perm[n_val : n_val + n_test]]
    return [sentences[i] for i in perm[n_val + n_test :]], val, test


def stream_ids(vocab: WordVocab, sentences: list) -> np.ndarray:
    """One token stream: every sentence's (or line's) ids followed by END (as
    PyTorch's word_language_model appends ``<eos>`` to each line)."""
    end = vocab.end_id
    ids = [i for s in sentences for i in [*vocab.ids(s), end]]
    if any(i is None for i in ids):  # only a vocabulary without <unk> can miss
        missing = sorted({w for s in sentences for w in s if w not in vocab.index})
        raise CorpusError(
            f"{len(missing)} words outside the vocabulary and no <unk> "
            f"in it: {', '.join(missing[:5])}"
        )
    return np.asarray(ids, dtype=np.int32)


def known_words(vocab: WordVocab, sentences: list) -> tuple[list, int]:
    """Held-out sentences for a vocabulary without ``<unk>`` (a standard corpus
    whose training text had none): the words it has, and how many were skipped, as
    the char level skips characters outside its vocabulary. With ``<unk>``, every
    word is kept (unknown ones become ``<unk>``)."""
    if vocab.unk_id is not None:
        return sentences, 0
    index = vocab.index
    kept = [[w for w in s if w in index] for s in sentences]
    return kept, sum(len(s) for s in sentences) - sum(len(s) for s in kept)


def stream_unknown_rate(ids: np.ndarray, vocab: WordVocab) -> float:
    """Fraction of a stream's words (END excluded) that are UNKNOWN (for a
    standard corpus, the text's own ``<unk>`` tokens and the unknown words)."""
    end, unk = vocab.end_id, vocab.unk_id
    words = int((ids != end).sum())
    return float((ids == unk).sum()) / words if words else 0.0


def unknown_rate(seqs, vocab: WordVocab) -> float:
    """Fraction of the predicted words (END excluded) that are UNKNOWN."""
    unk = vocab.unk_id
    words = sum(len(y) - 1 for _, y in seqs)
    unknown = sum(int((y[:-1] == unk).sum()) for _, y in seqs)
    return unknown / words if words else 0.0


_LADDER = (4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)


def bucket(n: int) -> int:
    """The padded length for a sequence of n steps: few distinct lengths, little waste."""
    for b in _LADDER:
        if n <= b:
            return b
    return -(-n // 64) * 64


def detokenize(words: list[str]) -> str:
    """Join tokens with spaces, closing up before punctuation; capitalise the start."""
    out = ""
    for w in words:
        if out and not re.fullmatch(r"[^\w\s(\[{\"'“‘]", w):
            out += " "
        out += w
    return out[:1].upper() + out[1:]


def auto_cutoffs(counts, shares=(0.8, 0.95)) -> str:
    """``--cutoffs auto``: the adaptive softmax's head holds the lowest ids up to
    ``shares[0]`` of the training tokens, the first cluster up to ``shares[1]``, the
    second the rest (the rule of thumb of Grave et al.'s paper). ``counts``: the
    training tokens per id (ids of a vocabulary kept by frequency)."""
    counts = np.asarray(counts, dtype=np.float64)
    V = len(counts)
    covered = np.cumsum(counts) / counts.sum()
    cuts = {min(max(int(np.searchsorted(covered, s)) + 1, 1), V - 1) for s in shares}
    return ",".join(str(c) for c in sorted(cuts))


def coverage_line(counts, cutoffs: str) -> str:
    """What share of the training tokens each part of the adaptive softmax holds."""
    counts = np.asarray(counts, dtype=np.float64)
    edges = [0, *(int(c) for c in cutoffs.split(",")), len(counts)]
    shares = [counts[a:b].sum() / counts.sum() for a, b in zip(edges, edges[1:])]
    parts = ", ".join(
        f"{'head' if k == 0 else f'cluster {k}'} ids {a}-{b - 1}: {share:.1%}"
        for k, (a, b, share) in enumerate(zip(edges, edges[1:], shares))
    )
    return f"adaptive softmax, cutoffs {cutoffs}: of the training tokens, {parts}"
