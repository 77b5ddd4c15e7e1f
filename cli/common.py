"""What every command shares: the app, one-line user errors, the options' fixed
values as Enums (Typer lists and checks them), and the help's panels."""

from __future__ import annotations

import functools
from enum import Enum

import typer

from pytrnn.choices import CHOICES

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The classic Theano char-RNN notebook on PyTensor, and a word-level RNN.",
)
data_app = typer.Typer(
    no_args_is_help=True, help="Corpora: download the notebook's text."
)
app.add_typer(data_app, name="data")


def user_errors(fn):
    """Turn the library's user errors into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from pytrnn.errors import PytrnnError

        try:
            return fn(*args, **kwargs)
        except PytrnnError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)

    return wrapper


def choices(name: str, values) -> type[Enum]:
    """An option's fixed values as an Enum: --help lists them and Typer rejects others."""
    return Enum(name, {v: v for v in values}, type=str)


Level = choices("Level", CHOICES["level"])
Layout = choices("Layout", CHOICES["layout"])
Cell = choices("Cell", CHOICES["cell"])
Optimizer = choices("Optimizer", CHOICES["optimizer"])
Softmax = choices("Softmax", CHOICES["softmax"])
Dtype = choices("Dtype", CHOICES["dtype"])
Mode = choices("Mode", CHOICES["mode"])
Backend = choices("Backend", CHOICES["backend"])
Device = choices("Device", CHOICES["device"])
LossScale = choices("LossScale", CHOICES["loss_scale"])
Tokenizer = choices("Tokenizer", CHOICES["tokenizer"])
Init = choices("Init", CHOICES["init"])


def value(v):
    """An Enum option's plain string (None stays None)."""
    return v.value if isinstance(v, Enum) else v


MODEL, DATA, TRAINING, SPEED, SCALE, OUTPUT = (
    "Model",
    "Data",
    "Training",
    "Speed",
    "Scale-out",
    "Output",
)
AWD = "AWD-LSTM's regularizers"
