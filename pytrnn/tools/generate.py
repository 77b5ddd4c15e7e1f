"""Sampling from a checkpoint file: what ``pytrnn sample`` does."""

from __future__ import annotations

from pytrnn.config import check_seed
from pytrnn.data.corpora import Vocab
from pytrnn.data.words import WordVocab, read_units
from pytrnn.errors import ConfigError
from pytrnn.graphs.optim import averaged
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.runtime.model import RNN
from pytrnn.runtime.sampling import sample_chars, sample_sentences

CHAR_LENGTH, WORD_LENGTH = 200, 100  # default --length: chars, or words per sentence


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
) -> str:
    """Characters after ``prime`` (char level), or sentences that start with the
    ``prime`` words, at most ``length`` words each (word level). An option the
    checkpoint's level has no use for is an error, never silently ignored."""
    check_seed(seed)
    if length is not None and length < 1:
        raise ConfigError(f"--length must be at least 1, got {length}")
    model, ck = load_model(path, backend)
    if ck.level == "word":
        words = [
            w
            for line in read_units(prime, ck.run.tokenizer, ck.run.lower)
            for w in line
        ]
        return "\n".join(
            sample_sentences(
                model,
                word_vocab(ck),
                n=5 if sentences is None else sentences,
                temperature=temperature,
                min_words=min_words or 0,
                seed=seed,
                max_words=WORD_LENGTH if length is None else length,
                prime=words,
                argmax=argmax,
                start=sentence_start(ck),
                no_unk=no_unk,
            )
        )
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
    return sample_chars(
        model,
        Vocab(tuple(ck.vocab)),
        length=CHAR_LENGTH if length is None else length,
        temperature=temperature,
        prime=prime,
        seed=seed,
        argmax=argmax,
    )
