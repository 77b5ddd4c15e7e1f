"""Sampling from a checkpoint file: what ``pytrnn sample`` does."""

from __future__ import annotations

from pathlib import Path

from pytrnn.config import check_seed
from pytrnn.data.corpora import Vocab
from pytrnn.data.words import WordVocab, read_units
from pytrnn.errors import ConfigError
from pytrnn.graphs.optim import averaged
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.runtime.decoding import check_filters
from pytrnn.runtime.model import RNN
from pytrnn.runtime.sampling import (
    beam_chars,
    beam_sentence,
    sample_chars,
    sample_chars_batch,
    sample_sentences,
    sample_sentences_batch,
)

CHAR_LENGTH, WORD_LENGTH = 200, 100  # default --length: chars, or words per sentence
SAMPLE_RULE = "-" * 15  # after each of several char samples, as nanoGPT's sample.py


def load_model(path, backend: str | None = None) -> tuple[RNN, ckpt_io.Checkpoint]:
    """Rebuild the model from a checkpoint alone (config, vocabulary, parameters):
    the parameters evaluation uses, ASGD's average where it averaged (NT-ASGD)."""
    ck = ckpt_io.load(path)
    params = averaged(ck.cfg, ck.params, ck.opt_state)
    return RNN(ck.cfg, params=params, mode="scan", backend=backend), ck


def layout(ck: ckpt_io.Checkpoint) -> str:
    """How a checkpoint's model saw its text: "stream" or "sentences" (the run's
    own rule, TrainConfig.resolved_layout, applied to what it saved)."""
    return ck.run.layout(ck.level)


def carries_state(ck: ckpt_io.Checkpoint) -> bool:
    """The run carried each stream's state from window to window (--carry-state)."""
    return ck.run.carry_state


def word_vocab(ck: ckpt_io.Checkpoint) -> WordVocab:
    """A word-level checkpoint's vocabulary, read as its run read the text."""
    return WordVocab(tuple(ck.vocab), ck.run.tokenizer)


def sentence_start(ck: ckpt_io.Checkpoint) -> int:
    """The id a sampled sentence follows: START, or END after a stream."""
    vocab = word_vocab(ck)
    return vocab.end_id if layout(ck) == "stream" else vocab.start_id


def read_prime(prime: str, prime_file) -> str:
    """The prime: ``--prime``'s text or ``--prime-file``'s (UTF-8), not both."""
    if prime_file is None:
        return prime
    if prime:
        raise ConfigError("give --prime or --prime-file, not both")
    path = Path(prime_file)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise ConfigError(f"--prime-file {prime_file}: {what}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"--prime-file {prime_file} is not UTF-8 text ({e.reason})")


def check_options(beam, length_penalty, num_samples, temperature, argmax, top_k,
                  top_p, sentences) -> None:  # fmt: skip
    """One line for each option that would change nothing: beam search draws
    nothing, and a length penalty ranks only beams."""
    if num_samples < 1:
        raise ConfigError(f"--num-samples must be at least 1, got {num_samples}")
    if beam is None:
        if length_penalty:
            raise ConfigError("--length-penalty ranks beams: give --beam N with it")
        return
    drawn = [o for o, v in (("--temperature", temperature != 1.0),
                            ("--argmax", argmax), ("--top-k", top_k is not None),
                            ("--top-p", top_p is not None),
                            ("--num-samples", num_samples > 1),
                            ("--sentences", sentences is not None)) if v]  # fmt: skip
    if drawn:
        raise ConfigError(
            f"--beam searches for the one most likely continuation: "
            f"{', '.join(drawn)} would change nothing (drop --beam to sample)"
        )


def generate(
    path,
    length=None,
    temperature=1.0,
    prime="",
    seed=0,
    argmax=False,
    sentences=None,
    min_words=None,
    backend=None,
    no_unk=False,
    top_k=None,
    top_p=None,
    beam=None,
    length_penalty=0.0,
    prime_file=None,
    num_samples=1,
) -> str:
    """Characters after ``prime`` (char level), or sentences that start with the
    ``prime`` words, at most ``length`` words each (word level): drawn through the
    top-k / top-p filters, ``num_samples`` at once, or the most likely one by beam
    search. An option the checkpoint's level has no use for is an error, never
    silently ignored."""
    check_seed(seed)
    if length is not None and length < 1:
        raise ConfigError(f"--length must be at least 1, got {length}")
    check_filters(top_k, top_p)
    check_options(beam, length_penalty, num_samples, temperature, argmax, top_k,
                  top_p, sentences)  # fmt: skip
    prime = read_prime(prime, prime_file)
    model, ck = load_model(path, backend)
    if beam is not None and beam > ck.cfg.vocab_size:
        raise ConfigError(
            f"--beam {beam} is wider than the vocabulary ({ck.cfg.vocab_size})"
        )
    draw = dict(temperature=temperature, seed=seed, argmax=argmax, top_k=top_k,
                top_p=top_p)  # fmt: skip
    if ck.level == "word":
        vocab = word_vocab(ck)
        units = read_units(prime, ck.run.tokenizer, ck.run.lower)
        words = [w for line in units for w in line]
        common = dict(max_words=WORD_LENGTH if length is None else length,
                      prime=words, start=sentence_start(ck), no_unk=no_unk)  # fmt: skip
        if beam is not None:
            return beam_sentence(model, vocab, beam, length_penalty=length_penalty,
                                 **common)  # fmt: skip
        if num_samples > 1:
            if sentences is not None:
                raise ConfigError(
                    "--num-samples N draws N sentences at once: give it or "
                    "--sentences, not both"
                )
            return "\n".join(sample_sentences_batch(
                model, vocab, num_samples, min_words=min_words or 0, **draw, **common
            ))  # fmt: skip
        return "\n".join(
            sample_sentences(model, vocab, n=5 if sentences is None else sentences,
                             min_words=min_words or 0, **draw, **common)
        )  # fmt: skip
    given = [
        o
        for o, v in (
            ("--sentences", sentences),
            ("--min-words", min_words),
            ("--no-unk", no_unk or None),
        )
        if v is not None
    ]
    if given:
        raise ConfigError(
            f"{' and '.join(given)} apply to word-level checkpoints; "
            f"{path} is char level (use --length)"
        )
    vocab, n = Vocab(tuple(ck.vocab)), CHAR_LENGTH if length is None else length
    if beam is not None:
        return beam_chars(model, vocab, beam, n, prime, seed, length_penalty)
    if num_samples > 1:
        texts = sample_chars_batch(model, vocab, num_samples, n, prime=prime, **draw)
        return "\n".join(t + "\n" + SAMPLE_RULE for t in texts)
    return sample_chars(model, vocab, length=n, prime=prime, **draw)
