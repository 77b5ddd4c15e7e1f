"""``pytrnn tune``: the cache's and dynamic evaluation's settings searched on
validation text, judged once on test (pytrnn.tools.tune)."""

from __future__ import annotations

from typing import Annotated

import typer

from pytrnn.cli.common import (
    Backend,
    DynamicEps,
    DynamicRule,
    DynamicStatsBatches,
    DynamicWindow,
    app,
    dynamic_given,
    user_errors,
    value,
)


def numbers(option: str, text: str | None, kind=float) -> tuple | None:
    """A comma-separated list of numbers typed for ``option``, or None."""
    from pytrnn.errors import ConfigError

    if text is None:
        return None
    try:
        got = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        got = ()
    if not got:
        raise ConfigError(f"{option} takes numbers separated by commas, got {text!r}")
    return got


@app.command()
@user_errors
def tune(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint written by train.")],
    valid: Annotated[str, typer.Option(help="The text the settings are chosen on.")],
    test: Annotated[
        str, typer.Option(help="The text each best setting is scored on once.")
    ],
    grid_fast: Annotated[
        bool, typer.Option(help="Search on valid's first 30K tokens only.")
    ] = False,
    cache: Annotated[bool, typer.Option(help="Search the neural cache.")] = True,
    dynamic: Annotated[bool, typer.Option(help="Search dynamic evaluation.")] = True,
    cache_windows: Annotated[
        str | None, typer.Option(help="The cache's windows (100,500,2000).")
    ] = None,
    cache_thetas: Annotated[
        str | None, typer.Option(help="Its thetas (0.3,0.6625,1.0).")
    ] = None,
    cache_lambdas: Annotated[
        str | None, typer.Option(help="Its lambdas (0.1,0.2,0.3).")
    ] = None,
    dynamic_lrs: Annotated[
        str | None,
        typer.Option(
            help="Dynamic evaluation's etas (dynamiceval.py --grid's, scaled by --dynamic-window / 5)."
        ),
    ] = None,
    dynamic_decays: Annotated[
        str | None, typer.Option(help="Its decays (likewise).")
    ] = None,
    dynamic_eps: DynamicEps = None,
    dynamic_window: DynamicWindow = None,
    dynamic_rule: DynamicRule = None,
    dynamic_stats_batches: DynamicStatsBatches = None,
    batch: Annotated[
        int | None,
        typer.Option(help="Streams the static and cache figures cut a text into (10)."),
    ] = None,
    backend: Annotated[
        Backend | None, typer.Option(help="Default: the fastest here.")
    ] = None,
):
    """Choose the cache's and dynamic evaluation's settings on --valid, then print
    each best setting's --test figure and the eval command that reproduces it."""
    from pytrnn.errors import ConfigError
    from pytrnn.runtime.dynamic import Dynamic
    from pytrnn.tools import tune as tuning

    typed = {"cache": (cache_windows, cache_thetas, cache_lambdas),
             "dynamic": (dynamic_lrs, dynamic_decays, dynamic_eps, dynamic_window,
                         dynamic_rule, dynamic_stats_batches)}  # fmt: skip
    for kind, on in (("cache", cache), ("dynamic", dynamic)):
        if not on and any(v is not None for v in typed[kind]):
            raise ConfigError(
                f"--no-{kind} leaves the --{kind}-* options nothing to do"
            )
    base = Dynamic(0.0, **dynamic_given(eps=dynamic_eps, window=dynamic_window,
                                        rule=dynamic_rule,
                                        stats_batches=dynamic_stats_batches))  # fmt: skip
    grid = tuning.Grid(
        windows=numbers("--cache-windows", cache_windows, int) or tuning.CACHE_WINDOWS,
        thetas=numbers("--cache-thetas", cache_thetas) or tuning.CACHE_THETAS,
        lambdas=numbers("--cache-lambdas", cache_lambdas) or tuning.CACHE_LAMBDAS,
        lrs=numbers("--dynamic-lrs", dynamic_lrs),
        decays=numbers("--dynamic-decays", dynamic_decays),
        cache=cache,
        dynamic=dynamic,
        fast=grid_fast,
    )
    rows, info = tuning.tune(checkpoint, valid, test, grid, base, batch,
                             value(backend))  # fmt: skip
    valid_n, test_n = info["valid_tokens"], info["test_tokens"]
    typer.echo(f"chosen on {valid} ({valid_n} tokens), scored once on {test} "
               f"({test_n} tokens):")  # fmt: skip
    for line in tuning.table(rows, info, checkpoint, test, batch):
        typer.echo(line)
