"""``pytrnn sample``: text from a checkpoint, drawn as the field draws it (top-k,
nucleus, several at once) or searched (beam): pytrnn.tools.generate."""

from __future__ import annotations

from typing import Annotated

import typer

from pytrnn.cli.common import Backend, app, user_errors, value


@app.command()
@user_errors
def sample(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint written by train.")],
    length: Annotated[
        int | None,
        typer.Option(
            help="Chars to generate (default 200), or at most this many words a sentence (default 100)."
        ),
    ] = None,
    temperature: Annotated[
        float, typer.Option(help="Below 1: safer; above 1: wilder.")
    ] = 1.0,
    prime: Annotated[
        str,
        typer.Option(
            help="Text to start from: chars, or the words every sentence starts with."
        ),
    ] = "",
    seed: Annotated[int, typer.Option(help="The same seed gives the same text.")] = 0,
    argmax: Annotated[
        bool, typer.Option(help="Always take the most likely char or word.")
    ] = False,
    sentences: Annotated[
        int | None, typer.Option(help="Word level: sentences to generate (default 5).")
    ] = None,
    min_words: Annotated[
        int | None, typer.Option(help="Word level: shortest sentence.")
    ] = None,
    backend: Annotated[
        Backend | None, typer.Option(help="Default: the fastest here.")
    ] = None,
    no_unk: Annotated[
        bool,
        typer.Option(
            "--no-unk",
            help="Word level: never draw <unk> (a standard corpus's own token, drawn by default as wlm's generate.py draws it).",
        ),
    ] = False,
    top_k: Annotated[
        int | None,
        typer.Option(
            help="Draw from the K most probable only (after --temperature; 1: argmax)."
        ),
    ] = None,
    top_p: Annotated[
        float | None,
        typer.Option(
            help="Nucleus: draw from the fewest most probable whose probabilities reach P, in (0, 1] (after --top-k)."
        ),
    ] = None,
    beam: Annotated[
        int | None,
        typer.Option(
            help="Beam search of width N for the most likely continuation (deterministic; word level: up to <eos>)."
        ),
    ] = None,
    length_penalty: Annotated[
        float,
        typer.Option(
            help="With --beam: rank by total log-probability / length**A (0: the total)."
        ),
    ] = 0.0,
    prime_file: Annotated[
        str | None, typer.Option(help="A UTF-8 file whose text is the prime.")
    ] = None,
    num_samples: Annotated[
        int,
        typer.Option(
            help="N independent samples (word level: sentences), every step of all N in one compiled call."
        ),
    ] = 1,
):
    """Generate text from a checkpoint."""
    from pytrnn.tools.generate import generate

    typer.echo(
        generate(
            checkpoint,
            length=length,
            temperature=temperature,
            prime=prime,
            seed=seed,
            argmax=argmax,
            sentences=sentences,
            min_words=min_words,
            backend=value(backend),
            no_unk=no_unk,
            top_k=top_k,
            top_p=top_p,
            beam=beam,
            length_penalty=length_penalty,
            prime_file=prime_file,
            num_samples=num_samples,
        )
    )
