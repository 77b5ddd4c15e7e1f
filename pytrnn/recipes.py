"""Recipes and config files: option values named as on the command line.

A recipe is a published setup by name, so its users can type it: ``notebook`` (the
defaults, the notebook's model), ``wlm`` (PyTorch's word_language_model's
``main.py`` defaults), ``awd-lstm`` and ``awd-lstm-ptb`` (salesforce/awd-lstm-lm's
README commands for WikiText-2 and PTB), ``char-rnn`` (karpathy/char-rnn's
``train.lua`` defaults). A
config file (TOML) sets any option by its CLI name. On one command line the
recipe comes first, the file over it, the typed options over both (``resolve``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomllib

from pytrnn.errors import ConfigError

RECIPES = {
    "notebook": {},  # the defaults: the notebook's vanilla tanh RNN, bit for bit
    # word_language_model/main.py's argparse defaults, with data.Corpus's reading
    "wlm": {
        "level": "word",
        "tokenizer": "whitespace",
        "layout": "stream",
        "carry-state": True,
        "every-window": True,
        "cell": "lstm",
        "layers": 2,
        "emsize": 200,
        "hidden": 200,
        "dropout": 0.2,
        "init": "wlm",
        "two-biases": True,
        "optimizer": "sgd",
        "lr": 20.0,
        "loss-scale": "token",
        "clip-norm": 0.25,
        "clip": 0.0,
        "reg": 0.0,
        "anneal-on-plateau": True,
        "batch": 20,
        "window": 35,
        "dtype": "float32",
        "passes": 40,
        "seed": 1111,
    },
    # salesforce/awd-lstm-lm: its README's WikiText-2 command over main.py's defaults
    # (3 x LSTM, 400 / 1150, tied); the epochs are left to the user (its 750 are a GPU's)
    "awd-lstm": {
        "level": "word",
        "tokenizer": "whitespace",
        "layout": "stream",
        "carry-state": True,
        "every-window": True,
        "cell": "lstm",
        "layers": 3,
        "emsize": 400,
        "hidden": 1150,
        "tied": True,
        "init": "wlm",
        "two-biases": True,
        "locked-dropout": True,
        "dropout": 0.0,
        "dropouti": 0.65,
        "dropouth": 0.2,
        "dropouto": 0.4,
        "dropoute": 0.1,
        "wdrop": 0.5,
        "ar": 2.0,
        "tar": 1.0,
        "wdecay": 1.2e-6,
        "optimizer": "sgd",
        "lr": 30.0,
        "loss-scale": "token",
        "clip-norm": 0.25,
        "clip": 0.0,
        "reg": 0.0,
        "nt-asgd": 5,
        "variable-bptt": True,
        "window": 70,
        "batch": 80,
        "dtype": "float32",
        "seed": 1882,
    },
    # char-rnn's train.lua: an LSTM 2 x 128, seq_length 50, batch 50, RMSprop 2e-3
    # (decay_rate 0.95), lr x 0.97 per epoch after 10, grad_clip 5, 95/5 split; its
    # loss is the window's sum of per-step means over the batch, as pytrnn's
    "char-rnn": {
        "level": "char",
        "cell": "lstm",
        "layers": 2,
        "hidden": 128,
        "window": 50,
        "batch": 50,
        "carry-state": True,
        "optimizer": "rmsprop",
        "lr": 2e-3,
        "alpha": 0.95,
        "lr-decay": 0.97,
        "lr-decay-after": 10,
        "clip": 5.0,
        "reg": 0.0,
        "val-frac": 0.05,
        "dtype": "float32",
        "passes": 50,
        "seed": 123,
    },
}


@dataclass(frozen=True)
class Option:
    """What a value for one CLI option must be: its parameter's name, its kind
    ("int", "float", "bool", "str") and, for a choice, the values allowed."""

    name: str
    kind: str
    choices: tuple = ()


# its README's Penn Treebank command over the same defaults
RECIPES["awd-lstm-ptb"] = {
    **RECIPES["awd-lstm"],
    "batch": 20,
    "dropouti": 0.4,
    "dropouth": 0.25,
    "seed": 141,
}
RECIPES = {
    k: RECIPES[k] for k in ("notebook", "wlm", "awd-lstm", "awd-lstm-ptb", "char-rnn")
}


def recipe(name: str) -> dict:
    if name not in RECIPES:
        raise ConfigError(
            f"unknown recipe {name!r}: one of {', '.join(RECIPES)} "
            f"(pytrnn recipes lists them)"
        )
    return dict(RECIPES[name])


def read_config(path) -> dict:
    """A TOML file's options (CLI names); a bad file is one ConfigError."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"--config file not found: {path}")
    except IsADirectoryError:
        raise ConfigError(f"--config {path} is a folder, not a TOML file")
    except OSError as e:
        raise ConfigError(f"cannot read --config {path}: {e.strerror}")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"--config {path} is not valid TOML: {e}")
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(
            f"--config {path}: options go at the top level, not in "
            f"tables ([{nested[0]}])"
        )
    return data


def _checked(key: str, value, opt: Option, where: str):
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[opt.kind]
    if not ok:
        raise ConfigError(
            f"{where}: {key} must be {'an' if opt.kind == 'int' else 'a'} "
            f"{opt.kind}, got {value!r}"
        )
    if opt.choices and value not in opt.choices:
        raise ConfigError(
            f"{where}: {key} must be one of {', '.join(opt.choices)}, got {value!r}"
        )
    return float(value) if opt.kind == "float" else value


def resolve(sources: list, schema: dict, typed: set) -> tuple[dict, dict]:
    """({parameter name: value}, {parameter name: where it came from}) from
    ``sources`` [(where, {cli name: value})], later ones over earlier ones, leaving
    out the parameters in ``typed`` (the command line wins). ``schema``: {cli name:
    Option} of every option a file may set. Two keys of one source that name the
    same option (``clip_norm`` and ``clip-norm``) are an error, never a silent pick."""
    out, origins = {}, {}
    for where, values in sources:
        named = {}
        for key, value in values.items():
            opt = schema.get(key) or schema.get(key.replace("_", "-"))
            if opt is None:
                raise ConfigError(
                    f"{where}: unknown option {key!r} (options are named "
                    f"as on the command line, e.g. clip-norm)"
                )
            if opt.name in named:
                raise ConfigError(
                    f"{where}: {named[opt.name]!r} and {key!r} name the "
                    f"same option; keep one"
                )
            named[opt.name] = key
            value = _checked(key, value, opt, where)
            if opt.name not in typed:
                out[opt.name], origins[opt.name] = value, where
    return out, origins


def flag(name: str) -> str:
    """A parameter's CLI flag: ``clip_norm`` -> ``--clip-norm``."""
    return "--" + name.replace("_", "-")


def attribute(message: str, origins: dict, values: dict) -> str:
    """An error's one line, with the source of each option it names that the user
    did not type (``--tied`` from ``--recipe awd-lstm``) and how to change it."""
    import re

    named = dict.fromkeys(re.findall(r"--([a-z][a-z0-9-]*)", message))
    notes = []
    for cli in named:
        name = cli.replace("-", "_")
        if name not in origins:
            continue
        v = values.get(name)
        if isinstance(v, bool):
            how = f"--{'no-' if v else ''}{cli} turns it {'off' if v else 'on'}"
            notes.append(f"--{cli} comes from {origins[name]}; {how}")
        else:
            notes.append(
                f"--{cli} {v} comes from {origins[name]}; a typed --{cli} overrides it"
            )
    return message + (f" ({'; '.join(notes)})" if notes else "")


def toml_string(value: str) -> str:
    """A TOML basic string: backslash and quote escaped, and every control
    character (a newline in a path, say) as its \\uXXXX escape, which TOML needs."""
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def to_toml(options: dict) -> str:
    """Options (CLI names) as a TOML file ``--config`` reads back; unset ones are
    left out (TOML has no null)."""
    lines = []
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = toml_string(value)
        else:
            text = repr(value)
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def describe() -> list[tuple[str, str]]:
    """(name, its options as one line) for ``pytrnn recipes``."""
    return [
        (
            name,
            " ".join(
                f"--{k} {v}" if not isinstance(v, bool) else f"--{k}"
                for k, v in opts.items()
            )
            or "the defaults (the notebook)",
        )
        for name, opts in RECIPES.items()
    ]
