"""``pytrnn``: each command parses options, calls one library function, prints.

Errors a user can cause (pytrnn.PytrnnError) become one line on stderr and exit 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pytrnn.choices import BACKEND_NAMES
from pytrnn.cli.common import (  # noqa: F401 (the commands' shared names, as before)
    Backend,
    Device,
    Level,
    Mode,
    Softmax,
    app,
    choices,
    data_app,
    user_errors,
    value,
)
from pytrnn.cli.sample import sample  # noqa: F401 (registers sample)
from pytrnn.cli.scores import eval_, score  # noqa: F401 (registers eval and score)
from pytrnn.cli.train import (  # noqa: F401 (registers train first; tests' names)
    NEGATIONS,
    SOURCE_OPTIONS,
    WLM_ALIASES,
    train,
)
from pytrnn.cli.tune import tune  # noqa: F401 (registers tune)


@app.command("recipes")
def recipes_():
    """List the recipes --recipe takes and the options each sets."""
    from pytrnn.recipes import describe

    for name, line in describe():
        typer.echo(f"{name}: {line}")


@app.command()
@user_errors
def plot(
    checkpoints: Annotated[
        list[str],
        typer.Argument(help="Checkpoints written by train (several: overlaid)."),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="The PNG to write.")
    ] = "loss.png",
):
    """Draw the per-pass loss and bits/char (or perplexity) kept in a checkpoint
    (the last one, or its .best.npz); several checkpoints overlaid in one figure."""
    from pytrnn.tools.plot import plot_checkpoint

    typer.echo(f"wrote {plot_checkpoint(checkpoints, output)}")


@app.command()
@user_errors
def compare(
    checkpoints: Annotated[
        list[str], typer.Argument(help="Checkpoints of runs at the same level.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Also draw every run's curves into this PNG."
        ),
    ] = None,
):
    """Runs side by side: the settings that differ, passes, best validation figure,
    test figure and speed; with -o, their curves overlaid."""
    from pytrnn.cli.render import compare_table
    from pytrnn.tools.compare import compare_runs

    out, written = compare_runs(checkpoints, output)
    compare_table(out)
    if written:
        typer.echo(f"wrote {written}")


@app.command()
@user_errors
def reproduce(
    corpus: Annotated[
        str | None, typer.Option(help="Default: four-million if fetched, else pydoc.")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="In[107] on 100,000 chars for 2 passes.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Initialisation seed.")] = 0,
    mode: Annotated[
        Mode, typer.Option(help="unroll (the notebook's loop) or scan.")
    ] = Mode.unroll,
):
    """Re-run the notebook's In[114], In[115], In[107] and compare with its figures."""
    from rich.console import Console

    from pytrnn.cli.render import reproduce_table
    from pytrnn.tools.reproduce import reproduce as run
    from pytrnn.training.progress import RichReporter

    console = Console()
    reproduce_table(
        run(
            corpus=corpus,
            quick=quick,
            seed=seed,
            mode=value(mode),
            reporter=RichReporter(console),
        ),
        console,
    )


@app.command()
@user_errors
def bench(
    smoke: Annotated[
        bool, typer.Option(help="A few seconds: tiny model, JAX only.")
    ] = False,
    backend: Annotated[
        list[Backend] | None, typer.Option(help="Backends to measure (repeatable).")
    ] = None,
    e2e: Annotated[
        bool, typer.Option(help="Also time the In[107] job end to end (minutes).")
    ] = False,
    cells: Annotated[
        bool,
        typer.Option(
            help="Also the tanh, GRU and LSTM cells against a hand-written JAX trainer of each."
        ),
    ] = False,
    level: Annotated[
        Level,
        typer.Option(
            help="char (the grid of modes and backends) or word (pytrnn train's words/s at V=8,003, both layouts)."
        ),
    ] = Level.char,
    softmax: Annotated[
        Softmax,
        typer.Option(
            help="Word level: adaptive puts the stream rows of each output layer side by side."
        ),
    ] = Softmax.full,
    corpus: Annotated[str | None, typer.Option(help="Default: pydoc.")] = None,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the figures here.")
    ] = None,
):
    """Throughput of every mode x backend x dtype x batch, against numpy and JAX baselines."""
    from pytrnn.bench.grid import save_json
    from pytrnn.cli.render import bench_tables, wide, word_bench_table

    if value(level) == "word":
        from pytrnn.bench.words import run as words
        from pytrnn.errors import ConfigError

        if cells or e2e or corpus or (backend and len(backend) > 1):
            raise ConfigError(
                "--level word measures one backend on its own text: "
                "leave out --cells, --e2e, --corpus and extra --backend"
            )
        console = wide(150)
        out = words(
            smoke=smoke,
            backend=value(backend[0]) if backend else None,
            reporter=lambda s: console.print(s, markup=False),
            softmax=value(softmax),
        )
        word_bench_table(out, console)
    else:
        from pytrnn.bench.grid import run

        if value(softmax) == "adaptive":
            from pytrnn.errors import ConfigError

            raise ConfigError(
                "--softmax adaptive is a word-level bench (add --level word)"
            )
        console = wide(130)
        out = run(
            smoke=smoke,
            backends=tuple(value(b) for b in backend) if backend else BACKEND_NAMES,
            e2e=e2e,
            corpus=corpus,
            cells=cells,
            reporter=lambda s: console.print(s, markup=False),
        )
        bench_tables(out, console)
    if json_out:
        save_json(out, json_out)


@app.command()
@user_errors
def info(
    probe: Annotated[
        bool, typer.Option(help="Compile a tiny graph on each backend.")
    ] = True,
):
    """Versions, the backends that work here, JAX devices, BLAS, compile caches."""
    from pytrnn.cli.render import info_table
    from pytrnn.tools.info import info as gather

    info_table(gather(probe=probe))


@data_app.command("fetch")
@user_errors
def data_fetch(
    name: Annotated[
        str,
        typer.Argument(
            help="four-million (the notebook's), or wikitext-2, wikitext-103, ptb (standard layout)."
        ),
    ] = "four-million",
    url: Annotated[
        str | None,
        typer.Option(
            help="A mirror: the file, the folder of the standard files, or the archive."
        ),
    ] = None,
):
    """Download a named corpus once into the user cache (the only network use);
    a standard corpus is checked, then unpacked to train.txt, valid.txt, test.txt."""
    from pytrnn.data.corpora import fetch

    path = fetch(name, url=url)
    typer.echo(f"saved {name} to {path}")


def main():
    app(prog_name="pytrnn")


if __name__ == "__main__":
    sys.exit(main())
