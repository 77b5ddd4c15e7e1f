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
from pytrnn.graphs.cells import CELLS
from pytrnn.runtime.decoding import beam_search, check_filters, filtered
from pytrnn.runtime.model import RNN


def softmax_t(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a temperature: softmax(logits / T), in float64, of each
    row (the last axis)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ConfigError(f"--temperature must be positive, got {temperature}")


def _draw(rng, p: np.ndarray, argmax: bool, top_k=None, top_p=None) -> int:
    if top_k or top_p:  # only then: without them p is drawn exactly as it always was
        p = filtered(p, top_k, top_p)
    return int(np.argmax(p)) if argmax else int(rng.choice(len(p), p=p))


def _draw_rows(rng, p: np.ndarray, argmax: bool, top_k=None, top_p=None):
    """One id per row of p (N, V): the argmax, or by the inverse of each row's
    cumulative distribution at one uniform draw per row (in row order)."""
    p = filtered(p, top_k, top_p)
    if argmax:
        return p.argmax(axis=1)
    u = rng.random(len(p))[:, None]
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def steps(model: RNN):
    """B sequences a step in one compiled call: (ids (B,), states (S, B, H)) ->
    (states, logits (B, V))."""
    fn = model.programs.step_function(batched=True)

    def step(ids, states):
        h, logits = fn(np.asarray(ids, np.int32), np.asarray(states, model.cfg.dtype))
        return np.asarray(h), np.asarray(logits, np.float64)

    return step


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _states(model: RNN, n: int) -> np.ndarray:
    """Zero states of n sequences: (S, n, H)."""
    S = model.cfg.layers * CELLS[model.cfg.cell].states
    return np.zeros((S, n, model.cfg.state_width), model.cfg.dtype)


def _fed(step, states, ids):
    """The states after feeding ``ids`` (every row the same) and nothing else."""
    for i in ids:
        states, _ = step(np.full(states.shape[1], i), states)
    return states


def _char_prime(vocab: Vocab, prime: str) -> list[int]:
    missing = sorted(set(prime) - set(vocab.symbols))
    if missing:
        shown = ", ".join(repr(c) for c in missing)
        raise ConfigError(f"--prime has characters outside the vocabulary: {shown}")
    return list(vocab.encode(prime))


def sample_chars(
    model: RNN,
    vocab: Vocab,
    length: int = 200,
    temperature: float = 1.0,
    prime: str = "",
    seed: int = 0,
    argmax: bool = False,
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    """``prime`` followed by ``length`` sampled characters, each drawn from the
    model's distribution at ``temperature`` through the top-k / top-p filters
    (pytrnn.runtime.decoding).

    Without a prime, the first character is drawn uniformly from the vocabulary.
    """
    _check_temperature(temperature)
    check_filters(top_k, top_p)
    if length < 0:
        raise ConfigError(f"--length must be non-negative, got {length}")
    rng = np.random.default_rng(seed)
    ids = _char_prime(vocab, prime) or [int(rng.integers(vocab.size))]
    h = model.initial_state()
    for i in ids[:-1]:
        h, _ = model.step(i, h)
    out, last = [], ids[-1]
    for _ in range(length):
        h, logits = model.step(last, h)
        last = _draw(rng, softmax_t(logits, temperature), argmax, top_k, top_p)
        out.append(last)
    return vocab.decode(ids) + vocab.decode(out)


def sample_chars_batch(model: RNN, vocab: Vocab, n: int, length: int = 200,
                       temperature: float = 1.0, prime: str = "", seed: int = 0,
                       argmax: bool = False, top_k=None, top_p=None) -> list[str]:  # fmt: skip
    """``n`` independent samples as ``sample_chars`` draws one, every step of all
    of them in one compiled call; without a prime each starts from its own
    uniformly drawn character. The same seed gives the same n texts."""
    _check_temperature(temperature)
    check_filters(top_k, top_p)
    rng = np.random.default_rng(seed)
    ids = _char_prime(vocab, prime)
    step = steps(model)
    states = _fed(step, _states(model, n), ids[:-1])
    last = np.full(n, ids[-1]) if ids else rng.integers(vocab.size, size=n)
    out = [last] if not ids else []
    for _ in range(length):
        states, logits = step(last, states)
        p = softmax_t(logits, temperature)
        last = _draw_rows(rng, p, argmax, top_k, top_p)
        out.append(last)
    rows = np.stack(out, axis=1) if out else np.zeros((n, 0), int)
    return [vocab.decode(ids) + vocab.decode(list(r)) for r in rows]


def beam_chars(model: RNN, vocab: Vocab, width: int, length: int = 200,
               prime: str = "", seed: int = 0, length_penalty: float = 0.0) -> str:  # fmt: skip
    """``prime`` and the most likely ``length`` characters after it by beam search
    (pytrnn.runtime.decoding.beam_search); without a prime, after a first
    character drawn from ``seed`` as ``sample_chars`` draws it."""
    rng = np.random.default_rng(seed)
    ids = _char_prime(vocab, prime) or [int(rng.integers(vocab.size))]
    step = steps(model)
    h = _fed(step, _states(model, 1), ids[:-1])[:, 0]
    tokens, _ = beam_search(lambda i, s: _log_step(step, i, s), h, ids[-1], width,
                            length, length_penalty=length_penalty)  # fmt: skip
    return vocab.decode(ids) + vocab.decode(list(tokens))


def _log_step(step, ids, states):
    states, logits = step(ids, states)
    return states, log_softmax_rows(logits)


def encode_prime_words(vocab: WordVocab, words: list[str]) -> list[int]:
    """Ids of a word prime; words outside the vocabulary are an error naming them."""
    index = vocab.index
    missing = sorted({w for w in words if w not in index or index[w] < 3})
    if missing:
        shown = ", ".join(repr(w) for w in missing)
        raise ConfigError(f"--prime has words outside the vocabulary: {shown}")
    ids = [index[w] for w in words]
    if ids and set(ids) == {vocab.unk_id}:
        raise ConfigError("--prime is only <unk>: give it a word the model knows")
    return ids


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
    top_k: int | None = None,
    top_p: float | None = None,
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
    end, never = vocab.end_id, _never(vocab, no_unk)
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
        last = _draw(rng, p / p.sum(), argmax, top_k, top_p)
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
    top_k: int | None = None,
    top_p: float | None = None,
) -> list[str]:
    """``n`` generated sentences as text, each starting with the ``prime`` words."""
    _check_temperature(temperature)
    check_filters(top_k, top_p)
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
                top_k,
                top_p,
            )
        )
        for _ in range(n)
    ]


def _never(vocab: WordVocab, no_unk: bool) -> list[int]:
    never = list(vocab.never_sampled)
    if no_unk and vocab.unk_id is not None:
        never.append(vocab.unk_id)
    return never


def sample_sentences_batch(model: RNN, vocab: WordVocab, n: int,
                           temperature: float = 1.0, min_words: int = 0,
                           seed: int = 0, max_words: int = 100, prime=(),
                           argmax: bool = False, start: int | None = None,
                           no_unk: bool = False, top_k=None, top_p=None) -> list[str]:  # fmt: skip
    """``n`` independent sentences as ``sample_sentence`` draws one, every step
    of all of them in one compiled call (--num-samples); each ends at END (a
    standard corpus's ``<eos>``) or at ``max_words`` words. The same seed gives
    the same n sentences."""
    _check_temperature(temperature)
    check_filters(top_k, top_p)
    ids = encode_prime_words(vocab, list(prime))
    rng, step = np.random.default_rng(seed), steps(model)
    start = vocab.start_id if start is None else start
    end, never = vocab.end_id, _never(vocab, no_unk)
    states = _fed(step, _states(model, n), [start, *ids][:-1])
    last = np.full(n, ([start, *ids])[-1])
    rows, done = [[vocab.symbols[i] for i in ids] for _ in range(n)], np.zeros(n, bool)
    for held in range(len(ids), max_words):  # the words every unfinished row holds
        if done.all():
            break
        states, logits = step(last, states)
        p = softmax_t(logits, temperature)
        p[:, never] = 0.0
        if held < min_words:
            p[:, end] = 0.0
        last = _draw_rows(rng, p, argmax, top_k, top_p)
        done |= last == end
        for r in np.flatnonzero(~done):
            rows[r].append(vocab.symbols[last[r]])
    return [vocab.join(row) for row in rows]


def beam_sentence(model: RNN, vocab: WordVocab, width: int, max_words: int = 100,
                  prime=(), start: int | None = None, no_unk: bool = False,
                  length_penalty: float = 0.0) -> str:  # fmt: skip
    """The most likely sentence after the ``prime`` words by beam search, up to
    END (included in the search, not printed) or ``max_words`` words."""
    ids = encode_prime_words(vocab, list(prime))
    step = steps(model)
    start = vocab.start_id if start is None else start
    seq = [start, *ids]
    h = _fed(step, _states(model, 1), seq[:-1])[:, 0]
    tokens, _ = beam_search(lambda i, s: _log_step(step, i, s), h, seq[-1], width,
                            max(max_words - len(ids), 0), end=vocab.end_id,
                            length_penalty=length_penalty,
                            never=_never(vocab, no_unk))  # fmt: skip
    words = [vocab.symbols[i] for i in [*ids, *tokens] if i != vocab.end_id]
    return vocab.join(words)


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
