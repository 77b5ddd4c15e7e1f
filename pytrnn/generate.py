"""Sampling from a checkpoint file: what ``pytrnn sample`` does."""

from __future__ import annotations

from . import checkpoint as ckpt_io
from .data import Vocab
from .model import RNN
from .sample import sample_chars, sample_sentences
from .words import WordVocab


def load_model(path, backend: str | None = None) -> tuple[RNN, ckpt_io.Checkpoint]:
    """Rebuild the model from a checkpoint alone (config, vocabulary, parameters)."""
    ck = ckpt_io.load(path)
    return RNN(ck.cfg, params=ck.params, mode="scan", backend=backend), ck


def generate(path, length=200, temperature=1.0, prime="", seed=0, argmax=False,
             sentences=5, min_words=0, backend=None) -> str:
    model, ck = load_model(path, backend)
    if ck.level == "word":
        return "\n".join(sample_sentences(model, WordVocab(tuple(ck.vocab)), n=sentences,
                                          temperature=temperature, min_words=min_words,
                                          seed=seed))
    return sample_chars(model, Vocab(tuple(ck.vocab)), length=length,
                        temperature=temperature, prime=prime, seed=seed, argmax=argmax)
