"""``pytrnn eval`` and ``pytrnn score``: a checkpoint's figure on a text, and its
scores token by token (pytrnn.tools.evaluate, pytrnn.tools.surprisal)."""

from __future__ import annotations

import sys
from pathlib import Path
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


@app.command("eval")
@user_errors
def eval_(
    checkpoint: Annotated[
        str, typer.Argument(help="A checkpoint written by train (or its .best.npz).")
    ],
    corpus: Annotated[
        str,
        typer.Option(help="The UTF-8 text file to score (a folder: its test.txt)."),
    ],
    backend: Annotated[
        Backend | None, typer.Option(help="Default: the fastest here.")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option(
            help="Windows per call; a --carry-state model (or with the cache): contiguous streams, as wlm's eval batch (10)."
        ),
    ] = None,
    cache_window: Annotated[
        int | None,
        typer.Option(
            help="The neural cache (AWD-LSTM's pointer.py): mix in the words after the last W positions (default: no cache)."
        ),
    ] = None,
    cache_theta: Annotated[
        float | None,
        typer.Option(
            help="The cache's attention sharpness theta (default 1.0, AWD's PTB)."
        ),
    ] = None,
    cache_lambda: Annotated[
        float | None,
        typer.Option(
            help="The cache's weight lambda in [0, 1] (default 0.1, AWD's PTB; 0: the model alone)."
        ),
    ] = None,
    per_token: Annotated[
        str | None,
        typer.Option(
            help="Also write one row per scored token to this TSV: surprisal and entropy in bits, rank, guesses."
        ),
    ] = None,
    guesses: Annotated[
        int, typer.Option(help="With --per-token: the N most probable tokens and p.")
    ] = 0,
    dynamic_lr: Annotated[
        float | None,
        typer.Option(
            help="Dynamic evaluation: adapt while scoring, at this eta (dynamiceval.py's 5e-5)."
        ),
    ] = None,
    dynamic_decay: Annotated[
        float | None,
        typer.Option(help="Its decay lambda toward the trained weights (0.002)."),
    ] = None,
    dynamic_eps: DynamicEps = None,
    dynamic_window: DynamicWindow = None,
    dynamic_rule: DynamicRule = None,
    dynamic_stats_batches: DynamicStatsBatches = None,
):
    """Score a checkpoint on a text: loss per char and bits/char, or per word and
    perplexity (data loss only, the checkpoint's own vocabulary)."""
    from pytrnn.errors import ConfigError
    from pytrnn.runtime.cache import Cache
    from pytrnn.tools.evaluate import eval_line, evaluate

    cache = None
    if cache_window is not None:
        cache = Cache(
            cache_window,
            1.0 if cache_theta is None else cache_theta,
            0.1 if cache_lambda is None else cache_lambda,
        ).validate()
    elif cache_theta is not None or cache_lambda is not None:
        raise ConfigError("--cache-theta and --cache-lambda need --cache-window")
    dynamic = None
    given = dynamic_given(decay=dynamic_decay, eps=dynamic_eps, window=dynamic_window,
                          rule=dynamic_rule, stats_batches=dynamic_stats_batches)  # fmt: skip
    if dynamic_lr is not None:  # the rest's defaults are Dynamic's
        from pytrnn.runtime.dynamic import Dynamic

        dynamic = Dynamic(dynamic_lr, **given)
    elif given:
        raise ConfigError("the --dynamic-* options need --dynamic-lr")
    if dynamic is not None and batch is not None:
        raise ConfigError(
            "--batch would change nothing: dynamic evaluation scores the text as "
            "one stream, segment by segment (--dynamic-window)"
        )
    line = eval_line(
        evaluate(
            checkpoint,
            corpus,
            backend=value(backend),
            batch=batch,
            cache=cache,
            per_token=per_token,
            guesses=guesses,
            dynamic=dynamic,
        )  # fmt: skip
    )
    if cache is not None:  # the figure is the cache's mix, not the model's alone
        line += (
            f"  with the neural cache (window {cache.window}, theta {cache.theta:g}, "
            f"lambda {cache.lam:g})"
        )
    if dynamic is not None:
        line += (f"  with dynamic evaluation ({dynamic.rule}, eta {dynamic.lr:g}, "
                 f"lambda {dynamic.decay:g}, segments of {dynamic.window})")  # fmt: skip
    typer.echo(line)
    if per_token is not None:
        typer.echo(f"per-token rows: {per_token}")


@app.command()
@user_errors
def score(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint written by train.")],
    input: Annotated[
        str | None,
        typer.Option(help="Sentences one per line (default: standard input)."),
    ] = None,
    carry: Annotated[
        bool,
        typer.Option(
            help="Each sentence from where the one before ended, not from zero."
        ),
    ] = False,
    guesses: Annotated[
        int, typer.Option(help="The N most probable tokens before each, with p.")
    ] = 0,
    backend: Annotated[
        Backend | None, typer.Option(help="Default: the fastest here.")
    ] = None,
):
    """Surprisal, entropy and rank of every token of each sentence (a line), as
    TSV rows with the sentence's index: stimuli in, one row per token out."""
    from pytrnn.tools.surprisal import score_lines

    if input is None:
        text = sys.stdin.read()
    else:
        from pytrnn.data.corpora import read_text

        text = read_text(Path(input), f"--input {input}")
    for line in score_lines(checkpoint, text.splitlines(), carry, guesses,
                            value(backend)):  # fmt: skip
        typer.echo(line)


@app.command("export")
@user_errors
def export_(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint written by train.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="The .safetensors file to write.")
    ],
):
    """Write a checkpoint's parameters under PyTorch's names (word_language_model's
    RNNModel) as safetensors, its configuration and vocabulary as metadata."""
    from pytrnn.tools.interchange import export

    typer.echo(f"wrote {export(checkpoint, output)}")


@app.command("import")
@user_errors
def import_(
    model: Annotated[
        str, typer.Argument(help="A .safetensors file: pytrnn export's or wlm's.")
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="The checkpoint to write (new).")
    ],
    corpus: Annotated[
        str | None,
        typer.Option(
            help="A wlm model's corpus folder: its vocabulary, as data.Corpus."
        ),
    ] = None,
    bptt: Annotated[
        int, typer.Option(help="A wlm model's window for eval (wlm's --bptt).")
    ] = 35,
):
    """Build a checkpoint from a safetensors model, for eval, sample and score."""
    from pytrnn.tools.interchange import import_model

    typer.echo(f"wrote {import_model(model, output, corpus, bptt)}")
