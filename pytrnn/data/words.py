"""Word level, after the WildML RNN tutorial: regex tokens, sentences, a vocabulary
of the most frequent words plus UNKNOWN, START and END, and bucket lengths.

No downloads: a regex splits words and punctuation, and a sentence ends at ``.``,
``!`` or ``?`` or at a blank line.
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
UNK_ID, START_ID, END_ID = 0, 1, 2

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


@dataclass(frozen=True)
class WordVocab:
    """ids 0, 1, 2 = UNKNOWN, START, END; then words by falling count (ties: a-z)."""

    symbols: tuple

    @classmethod
    def build(cls, sentences: list[list[str]], size: int) -> WordVocab:
        counts = Counter(w for s in sentences for w in s)
        for s in SPECIALS:
            counts.pop(s, None)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
        return cls(SPECIALS + tuple(w for w, _ in ranked))

    @property
    def size(self) -> int:
        return len(self.symbols)

    @cached_property
    def index(self) -> dict:
        """word -> id, built once (encoding calls it per sentence)."""
        return {w: i for i, w in enumerate(self.symbols)}

    def encode_sentence(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """x = [START, w1..wn], y = [w1..wn, END], unknown words -> UNKNOWN."""
        index = self.index
        ids = [index.get(w, UNK_ID) for w in words]
        x = np.array([START_ID] + ids, dtype=np.int32)
        y = np.array(ids + [END_ID], dtype=np.int32)
        return x, y


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


def hold_out(sentences: list, val_frac: float, test_frac: float, seed: int,
             contiguous: bool = False):
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
        raise CorpusError(f"{n} sentences are too few to hold out --val-frac {val_frac} "
                          f"and --test-frac {test_frac} and still train")
    if contiguous:
        cut, end = n - n_val - n_test, n - n_test
        return sentences[:cut], sentences[cut:end], sentences[end:]
    perm = np.random.default_rng(seed).permutation(n)
    val = [sentences[i] for i in perm[:n_val]]
    test = [sentences[i] for i in perm[n_val:n_val + n_test]]
    return [sentences[i] for i in perm[n_val + n_test:]], val, test


def stream_ids(vocab: "WordVocab", sentences: list) -> np.ndarray:
    """One token stream: every sentence's ids followed by END (as PyTorch's
    word_language_model appends ``<eos>`` to each line)."""
    index = vocab.index
    ids = [i for s in sentences for i in [*(index.get(w, UNK_ID) for w in s), END_ID]]
    return np.asarray(ids, dtype=np.int32)


def stream_unknown_rate(ids: np.ndarray) -> float:
    """Fraction of a stream's words (END excluded) that are UNKNOWN."""
    words = int((ids != END_ID).sum())
    return float((ids == UNK_ID).sum()) / words if words else 0.0


def unknown_rate(seqs) -> float:
    """Fraction of the predicted words (END excluded) that are UNKNOWN."""
    words = sum(len(y) - 1 for _, y in seqs)
    unknown = sum(int((y[:-1] == UNK_ID).sum()) for _, y in seqs)
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
