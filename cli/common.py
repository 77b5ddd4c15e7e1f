"""What every command shares: the app, one-line user errors, the options' fixed
values as Enums (Typer lists and checks them), and the help's panels."""

from __future__ import annotations

import functools
import sys
from enum import Enum
from typing import Annotated

import typer
import typer.core

from pytrnn.choices import CHOICES


def _click_exceptions():
    """click's exceptions: typer's own copy of click (0.2x), else click."""
    import typer.core

    return (getattr(typer.core, "_click", None) or typer.core.click).exceptions


def usage_line(e) -> str:
    """A usage error as one line: a peer's flag names pytrnn's option."""
    from pytrnn.cli.peers import refusal

    line = refusal(getattr(e, "option_name", None) or "")
    if line is None:
        line = " ".join(e.format_message().split())
        line = line[:1].lower() + line[1:]
    return line


class OneLineErrors(typer.core.TyperGroup):
    """Typer's usage errors (an unknown option, a bad value, a missing argument) as
    the library's are: one line on stderr and exit code 2, never a box."""

    def main(self, args=None, prog_name=None, complete_var=None,
             standalone_mode=True, **extra):  # fmt: skip
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        ex = _click_exceptions()
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except ex.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # a bare command: its help
                typer.echo(e.ctx.get_help())
                sys.exit(e.exit_code)
            typer.echo(f"error: {usage_line(e)}", err=True)
            sys.exit(2)
        except ex.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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
Precision = choices("Precision", CHOICES["precision"])
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


# dynamic evaluation's settings besides its rate, shared by eval and tune
DynamicEps = Annotated[float | None, typer.Option(help="Its epsilon (2e-5).")]
DynamicWindow = Annotated[int | None, typer.Option(help="Tokens a segment (5).")]
DynamicRule = Annotated[str | None, typer.Option(help="rms (dynamiceval.py's) or sgd.")]
DynamicStatsBatches = Annotated[
    int | None,
    typer.Option(help="Training windows for the gradient statistics (all)."),
]


def dynamic_given(**values) -> dict:
    """The dynamic-evaluation settings typed (Dynamic's defaults for the rest)."""
    return {k: v for k, v in values.items() if v is not None}
