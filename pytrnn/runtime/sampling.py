"""Generation: characters from a prime text, or sentences from START until END.

The hidden state is carried forward one step at a time (the prefix is never
re-run). Every draw comes from an explicit ``np.random.Generator`` seeded by the
caller, so the same seed gives the same text.
"""

from __future__ import annotations

import numpy as np

from pytrnn.data.corpora import Vocab
from pytrnn.data.words import WordVocab
from pytrnn.errors import ConfigError
from pytrnn.runtime.model import RNN


def softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a temperature: softmax(logits / T), in float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max()
    p = np.exp(z)
    return p / p.sum()


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ConfigError(f"--temperature must be positive, got {temperature}")


def _draw(rng, p: np.ndarray, argmax: bool) -> int:
    return int(np.argmax(p)) if argmax else int(rng.choice(len(p), p=p))


def sample_chars(
    model: RNN,
    vocab: Vocab,
    length: int = 200,
    temperature: float = 1.0,
    prime: str = "",
    seed: int = 0,
    argmax: bool = False,
) -> str:
    """``prime`` followed by ``length`` sampled characters.

    Without a prime, the first character is drawn uniformly from the vocabulary.
    """
    _check_temperature(temperature)
    if length < 0:
        raise ConfigError(f"--length must be non-negative, got {length}")
    rng = np.random.default_rng(seed)
    missing = sorted(set(prime) - set(vocab.symbols))
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        raise ConfigError(f"--prime has characters outside the vocabulary: {shown}")
    ids = list(vocab.encode(prime)) if prime else [int(rng.integers(vocab.size))]
    h = model.initial_state()
    for i in ids[:-1]:
        h, _ = model.step(i, h)
    out, last = [], ids[-1]
    for _ in range(length):
        h, logits = model.step(last, h)
        last = _draw(rng, softmax_t(logits, temperature), argmax)
        out.append(last)
    return vocab.decode(ids) + vocab.decode(out)


def encode_prime_words(vocab: WordVocab, words: list[str]) -> list[int]:
    """Ids of a word prime; words outside the vocabulary are an error naming them."""
    index = vocab.index
    missing = sorted({w for w in words if w not in index or index[w] < 3})
    if missing:
        shown = ", ".join(repr(w) for w in missing)
        raise ConfigError(f"--prime has words outside the vocabulary: {shown}")
    return [index[w] for w in words]


def sample_sentence(
    model: RNN,
    vocab: WordVocab,
    rng: np.random.Generator,
    temperature: float = 1.0,
    min_words: int = 0,
    max_words: int = 100,
    prime: list[str] = (),
    argmax: bool = False,
    start: int | None = None,
    no_unk: bool = False,
) -> list[str]:
    """Words from START until END, after the ``prime`` words (fed first, and part of
    the result). UNKNOWN and START are never drawn (their probability is set to zero
    and the rest renormalised, the same distribution as WildML's resampling); END is
    held back until ``min_words`` words are out; at most ``max_words`` words.
    ``start``: the id a sentence follows (END for a model trained on a stream, where
    each sentence comes after the previous one's END; None: the vocabulary's START).
    A standard corpus's ``<unk>`` is one of its tokens and is drawn (as wlm's
    generate.py draws it) unless ``no_unk``; its sentences are lines, ended by
    ``<eos>``."""
    ids = encode_prime_words(vocab, list(prime))
    start = vocab.start_id if start is None else start
    end, never = vocab.end_id, list(vocab.never_sampled)
    if no_unk and vocab.unk_id is not None:
        never.append(vocab.unk_id)
    h, last, words = model.initial_state(), start, [vocab.symbols[i] for i in ids]
    for i in ids:
        h, _ = model.step(last, h)
        last = i
    while len(words) < max_words:
        h, logits = model.step(last, h)
        p = softmax_t(logits, temperature)
        if never:
            p[never] = 0.0
        if len(words) < min_words:
            p[end] = 0.0
        if p.sum() <= 0:  # everything left was masked: end the sentence
            break
        last = _draw(rng, p / p.sum(), argmax)
        if last == end:
            break
        words.append(vocab.symbols[last])
    return words


def sample_sentences(
    model: RNN,
    vocab: WordVocab,
    n: int = 5,
    temperature: float = 1.0,
    min_words: int = 0,
    seed: int = 0,
    max_words: int = 100,
    prime: list[str] = (),
    argmax: bool = False,
    start: int | None = None,
    no_unk: bool = False,
) -> list[str]:
    """``n`` generated sentences as text, each starting with the ``prime`` words."""
    _check_temperature(temperature)
    if n < 0 or min_words < 0:
        raise ConfigError("--sentences and --min-words must be non-negative")
    if max_words < 1:
        raise ConfigError(
            f"--length (words per sentence) must be at least 1, got {max_words}"
        )
    rng = np.random.default_rng(seed)
    return [
        vocab.join(
            sample_sentence(
                model,
                vocab,
                rng,
                temperature,
                min_words,
                max_words,
                prime,
                argmax,
                start,
                no_unk,
            )
        )
        for _ in range(n)
    ]


def sentences_until(
    model: RNN,
    vocab: WordVocab,
    words: int,
    seed: int = 0,
    start: int | None = None,
    max_words: int = 100,
) -> list[list[str]]:
    """Sentences (as words) until they hold ``words`` words in all, the last one cut
    there: what ``--sample-length`` prints at the word level. The same draws as
    ``sample_sentences`` with the same seed, so its sentences come first."""
    rng = np.random.default_rng(seed)
    out, count = [], 0
    while count < words:
        sentence = sample_sentence(model, vocab, rng, max_words=max_words, start=start)
        out.append(sentence[: words - count])
        count += max(1, len(sentence))  # an empty sentence still counts: the loop ends
    return out
