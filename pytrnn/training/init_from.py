"""Fine-tuning: a new run that starts from another checkpoint's weights (nanoGPT's
``init_from``, AWD-LSTM's ``finetune.py``): its own checkpoint, passes, schedule,
log and optimizer state from zero; the model's shape and vocabulary from the
checkpoint; everything else (data, rate, optimizer, regularizers, schedule,
dropout, window, batch) as typed. A checkpoint averaged by NT-ASGD gives its
average, as ``finetune.py`` loads the saved averaged model."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from pytrnn.config import RNNConfig, TrainConfig
from pytrnn.errors import ConfigError
from pytrnn.graphs.optim import averaged
from pytrnn.runtime import checkpoint as ckpt_io

# the model's shape and vocabulary: the checkpoint's, never the typed ones
SHAPE = ("vocab_size", "hidden", "cell", "layers", "emsize", "tied", "softmax",
         "cutoffs", "div_value", "head_bias", "two_biases")  # fmt: skip
TEXT = ("level", "tokenizer", "lower")  # how the vocabulary reads a text


def _typed(cfg, names, given) -> list[str]:
    """The names among ``names`` the user set (or, without ``given``, that differ
    from their defaults)."""
    if given is not None:
        return [n for n in names if n in given]
    defaults = {f.name: f.default for f in fields(cfg)}
    return [n for n in names if getattr(cfg, n) != defaults[n]]


def settle(model_cfg: RNNConfig, cfg: TrainConfig, given=None):
    """(model_cfg, cfg, the checkpoint) of a run from ``cfg.init_from``: its shape
    and vocabulary's reading taken from the checkpoint; a typed option that would
    change them refused in one line."""
    cfg = replace(cfg, init_from=str(cfg.init_from))  # the checkpoint keeps text
    origin = ckpt_io.load(cfg.init_from)
    if "init" in _typed(model_cfg, ["init"], given):
        raise ConfigError(
            f"--init draws a model's first weights and --init-from takes them from "
            f"{cfg.init_from}: leave out --init"
        )
    if "max_words" in _typed(cfg, ["max_words"], given):
        raise ConfigError(
            f"--vocab-size would change nothing: a run from {cfg.init_from} keeps "
            f"its vocabulary ({origin.cfg.vocab_size} words); leave it out"
        )
    run = {"level": origin.level}
    if origin.level == "word":  # the words as its vocabulary was read
        run["tokenizer"] = origin.run.tokenizer
        if origin.run.tokenizer == "regex":
            run["lower"] = origin.run.lower
    for name, want, typed in [
        *((n, getattr(origin.cfg, n), _typed(model_cfg, [n], given)) for n in SHAPE),
        *((n, v, _typed(cfg, [n], given)) for n, v in run.items()),
    ]:
        now = getattr(model_cfg if name in SHAPE else cfg, name)
        if typed and now != want and name != "vocab_size":
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{flag} {now} would change the model {cfg.init_from} holds "
                f"({name} {want}): a run from its weights keeps its shape and "
                f"vocabulary; leave out {flag}"
            )
    model_cfg = replace(model_cfg, **{n: getattr(origin.cfg, n) for n in SHAPE})
    for name in () if model_cfg.emsize else ("dropouti", "dropoute"):
        if (getattr(model_cfg, name) or 0) > 0:  # its shape is not for typing
            raise ConfigError(
                f"--{name} {getattr(model_cfg, name)} acts on an embedding, and the "
                f"model {cfg.init_from} holds has none: type --{name} 0"
            )
    return model_cfg, replace(cfg, **run), origin


def start_params(origin, model_cfg: RNNConfig) -> dict:
    """The weights the new run starts from: the ones the checkpoint evaluates with
    (ASGD's average where it averaged), in the new run's dtype."""
    params = averaged(origin.cfg, origin.params, origin.opt_state)
    return {k: np.asarray(v, model_cfg.dtype) for k, v in params.items()}


def outside(texts, vocab, cfg):
    """The training text as the checkpoint's vocabulary reads it, and the line
    saying how much of it lies outside: a char run's unknown characters left
    out, a word run's unknown words counted (the layout reads them as ``<unk>``,
    or refuses them where the vocabulary has none)."""
    if cfg.level == "char":
        index = vocab.index
        kept = "".join(c for c in texts.train if c in index)
        n, what = len(texts.train) - len(kept), "characters outside it left out"
        texts = replace(texts, train=kept)
    else:
        from pytrnn.data.words import read_units

        words = [w for u in read_units(texts.train, cfg.resolved_tokenizer, cfg.lower)
                 for w in u]  # fmt: skip
        n = sum(1 for w in words if w not in vocab.index)
        what = f"of {len(words)} training words outside it read as <unk>"
    return texts, f"--init-from {cfg.init_from}: its vocabulary; {n} {what}"


def vocabulary(origin):
    """The checkpoint's vocabulary, read as its run read its text."""
    if origin.level == "char":
        from pytrnn.data.corpora import Vocab

        return Vocab(tuple(origin.vocab))
    from pytrnn.data.words import WordVocab

    return WordVocab(tuple(origin.vocab), origin.run.tokenizer)
