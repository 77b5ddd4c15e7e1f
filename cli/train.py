"""``pytrnn train``: its options come from a recipe, then a --config file, then what
was typed (the library resolves them); it prints the run's lines."""

from __future__ import annotations

import typer

from pytrnn.cli import options as o
from pytrnn.cli import run_options as r
from pytrnn.cli.common import (
    Cell,
    Dtype,
    Init,
    Level,
    LossScale,
    Optimizer,
    Softmax,
    app,
    user_errors,
    value,
)

# word_language_model's option names that mean exactly pytrnn's (wlm's --data is a
# folder in the standard layout, as --corpus takes; --bptt is its window)
WLM_ALIASES = {"data": "corpus", "epochs": "passes", "bptt": "window", "nhid": "hidden"}


# --no-X sets flag X off, over a recipe or a file that set it (hidden: the help names
# them once, under --recipe, and keeps its columns whole at 80)
NEGATIONS = {
    f"no_{n}": n
    for n in (
        "tied",
        "carry_state",
        "variable_bptt",
        "locked_dropout",
        "anneal_on_plateau",
        "head_bias",
    )
}


SOURCE_OPTIONS = (
    "recipe",
    "config",
    "print_config",
)  # where values come from, not values


def _typed(ctx: typer.Context, name: str) -> bool:
    """The user typed this option (or set it through the environment)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def given_options(ctx: typer.Context) -> set[str]:
    """The options of the running command that the user typed, as opposed to those
    left at their defaults; an alias counts as the option it names."""
    return {
        WLM_ALIASES.get(name, NEGATIONS.get(name, name))
        for name in ctx.params
        if _typed(ctx, name)
    }


def resolve_aliases(ctx: typer.Context, options: dict) -> dict:
    """Fold wlm's names and the --no-X flags into pytrnn's options; both names of one
    option given with two values is an error."""
    from pytrnn.errors import ConfigError
    from pytrnn.recipes import flag

    for alias, name in WLM_ALIASES.items():
        if options.get(alias) is None:
            continue
        if _typed(ctx, name) and options[name] != options[alias]:
            raise ConfigError(
                f"--{alias} is --{name.replace('_', '-')}: give one of "
                f"them, not {options[alias]} and {options[name]}"
            )
        options[name] = options[alias]
    for negation, name in NEGATIONS.items():
        if _typed(ctx, negation):
            if _typed(ctx, name):
                raise ConfigError(
                    f"give one of {flag(name)} and {flag(negation)}, not both"
                )
            options[name] = False
    return {
        k: v for k, v in options.items() if k not in WLM_ALIASES and k not in NEGATIONS
    }


def with_sources(ctx: typer.Context, options: dict, recipe, config):
    """The options after --recipe, then --config, then what was typed, resolved by
    the library (pytrnn.resolve); the names set by any of them (a resumed run
    compares those with its checkpoint); and where each value not typed came from
    (errors name it)."""
    from pytrnn.errors import ConfigError
    from pytrnn.resolve import resolve_options

    if config and len(config) > 1:
        raise ConfigError(
            f"--config takes one file, got {len(config)} "
            f"({', '.join(config)}): merge them into one"
        )
    typed = {
        name: options[name] for name in given_options(ctx) if name not in SOURCE_OPTIONS
    }
    resolved, given, origins = resolve_options(
        recipe, config[0] if config else None, typed
    )
    return {**options, **resolved}, given, origins


def as_cli_options(ctx: typer.Context, options: dict, given: set) -> dict:
    """The values set (typed, from a recipe or a file) or off their defaults, under
    their CLI names in the help's order: what --print-config writes, a --config
    file that gives the same run."""
    from pytrnn.resolve import schema

    names = {opt.name: key for key, opt in schema().items()}
    return {
        names[p.name]: options[p.name]
        for p in ctx.command.params
        if p.name in names and (p.name in given or options[p.name] != value(p.default))
    }


@app.command()
@user_errors
def train(
    ctx: typer.Context,
    corpus: o.corpus = None,
    valid: o.valid = None,
    test: o.test = None,
    level: o.level = Level.char,
    layout: o.layout = None,
    tokenizer: o.tokenizer = None,
    limit_chars: o.limit_chars = None,
    val_frac: o.val_frac = None,
    test_frac: o.test_frac = 0.0,
    max_words: o.max_words = 8000,
    max_sentence_len: o.max_sentence_len = 50,
    lower: o.lower = True,
    hidden: o.hidden = 100,
    window: o.window = 25,
    cell: o.cell = Cell.rnn,
    layers: o.layers = 1,
    emsize: o.emsize = None,
    tied: o.tied = False,
    dropout: o.dropout = 0.0,
    init: o.init = Init.notebook,
    locked_dropout: o.locked_dropout = False,
    dropouti: o.dropouti = None,
    dropouth: o.dropouth = None,
    dropouto: o.dropouto = None,
    dropoute: o.dropoute = 0.0,
    wdrop: o.wdrop = 0.0,
    ar: o.ar = 0.0,
    tar: o.tar = 0.0,
    wdecay: o.wdecay = 0.0,
    nt_asgd: o.nt_asgd = 0,
    variable_bptt: o.variable_bptt = False,
    dtype: o.dtype = Dtype.float64,
    softmax: o.softmax = Softmax.full,
    cutoffs: o.cutoffs = None,
    div_value: o.div_value = 4.0,
    head_bias: o.head_bias = False,
    optimizer: r.optimizer = Optimizer.sgd,
    lr: r.lr = None,
    loss_scale: r.loss_scale = LossScale.window,
    beta1: r.beta1 = 0.9,
    beta2: r.beta2 = 0.999,
    alpha: r.alpha = 0.99,
    eps: r.eps = None,
    lr_decay: r.lr_decay = 1.0,
    lr_decay_after: r.lr_decay_after = 10,
    anneal_on_plateau: r.anneal_on_plateau = False,
    reg: r.reg = 0.01,
    clip: r.clip = 5.0,
    clip_norm: r.clip_norm = 0.0,
    bptt_truncate: r.bptt_truncate = -1,
    carry_state: r.carry_state = False,
    passes: r.passes = 10,
    seed: r.seed = 0,
    batch: r.batch = 1,
    fuse: r.fuse = None,
    mode: r.mode = None,
    backend: r.backend = None,
    device: r.device = None,
    devices: r.devices = 1,
    coordinator: r.coordinator = None,
    num_processes: r.num_processes = 1,
    process_id: r.process_id = 0,
    checkpoint: r.checkpoint = None,
    resume: r.resume = None,
    overwrite: r.overwrite = False,
    save_every: r.save_every = 60.0,
    log: r.log = None,
    sample_length: r.sample_length = 200,
    recipe: o.recipe = None,
    config: o.config = None,
    print_config: r.print_config = False,
    data: o.data = None,
    epochs: o.epochs = None,
    bptt: o.bptt = None,
    nhid: o.nhid = None,
    no_tied: o.no_tied = False,
    no_carry_state: o.no_carry_state = False,
    no_variable_bptt: o.no_variable_bptt = False,
    no_locked_dropout: o.no_locked_dropout = False,
    no_anneal_on_plateau: o.no_anneal_on_plateau = False,
    no_head_bias: o.no_head_bias = False,
):
    """Train the RNN, printing the notebook's line per pass, then sample."""
    from pytrnn.runtime.parallel import ask_for_host_devices

    ask_for_host_devices(devices // max(num_processes, 1))  # before JAX starts
    from pytrnn.errors import PytrnnError
    from pytrnn.recipes import attribute
    from pytrnn.resolve import build
    from pytrnn.training import TrainingInterrupted
    from pytrnn.training import train as run
    from pytrnn.training.progress import RichReporter

    options = resolve_aliases(
        ctx, {k: value(v) for k, v in ctx.params.items() if k not in SOURCE_OPTIONS}
    )
    options, given, origins = with_sources(ctx, options, recipe, config)
    from pytrnn.resolve import notes

    for line in notes(recipe, given_options(ctx)):
        typer.echo(line, err=True)
    if print_config:  # a resumed run's rate stays unset: the file resumes with its own
        from pytrnn.recipes import to_toml

        typer.echo(to_toml(as_cli_options(ctx, options, given)), nl=False)
        return
    model_cfg, train_cfg = build(options, origins)
    try:
        run(model_cfg, train_cfg, given, reporter=RichReporter())
    except PytrnnError as e:  # name the recipe or file behind a value nobody typed
        raise type(e)(attribute(str(e), origins, options)) from None
    except TrainingInterrupted as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(130)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training began
        typer.echo(
            "interrupted: stopped at once; every checkpoint written is whole", err=True
        )
        raise typer.Exit(130)
