"""``pytrnn train``: its options come from a recipe, then a --config file, then what
was typed (the library resolves them); it prints the run's lines."""

from __future__ import annotations

import typer

from pytrnn.cli import options as o
from pytrnn.cli import run_options as r
from pytrnn.cli.common import (
    app,
    user_errors,
    value,
)
from pytrnn.resolve import defaults

# word_language_model's option names that mean exactly pytrnn's (wlm's --data is a
# folder in the standard layout, as --corpus takes; --bptt is its window)
WLM_ALIASES = {
    "data": "corpus",
    "epochs": "passes",
    "bptt": "window",
    "nhid": "hidden",
    "nlayers": "layers",
    "batch_size": "batch",
}


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
        "two_biases",
        "every_window",
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


def with_sources(options: dict, typed_names: set, recipe, config):
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
    typed = {name: options[name] for name in typed_names if name not in SOURCE_OPTIONS}
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
        if p.name in names
        and (p.name == "passes" or p.name in given
             or options[p.name] != value(p.default))
    }  # fmt: skip


D = defaults()  # every option's default is its config field's, decided there once


@app.command()
@user_errors
def train(
    ctx: typer.Context,
    corpus: o.corpus = D["corpus"],
    valid: o.valid = D["valid"],
    test: o.test = D["test"],
    level: o.level = D["level"],
    layout: o.layout = D["layout"],
    tokenizer: o.tokenizer = D["tokenizer"],
    limit_chars: o.limit_chars = D["limit_chars"],
    val_frac: o.val_frac = D["val_frac"],
    test_frac: o.test_frac = D["test_frac"],
    max_words: o.max_words = D["max_words"],
    max_sentence_len: o.max_sentence_len = D["max_sentence_len"],
    lower: o.lower = D["lower"],
    hidden: o.hidden = D["hidden"],
    window: o.window = D["window"],
    cell: o.cell = D["cell"],
    layers: o.layers = D["layers"],
    emsize: o.emsize = D["emsize"],
    tied: o.tied = D["tied"],
    dropout: o.dropout = D["dropout"],
    init: o.init = D["init"],
    two_biases: o.two_biases = D["two_biases"],
    locked_dropout: o.locked_dropout = D["locked_dropout"],
    dropouti: o.dropouti = D["dropouti"],
    dropouth: o.dropouth = D["dropouth"],
    dropouto: o.dropouto = D["dropouto"],
    dropoute: o.dropoute = D["dropoute"],
    wdrop: o.wdrop = D["wdrop"],
    ar: o.ar = D["ar"],
    tar: o.tar = D["tar"],
    wdecay: o.wdecay = D["wdecay"],
    nt_asgd: o.nt_asgd = D["nt_asgd"],
    variable_bptt: o.variable_bptt = D["variable_bptt"],
    dtype: o.dtype = D["dtype"],
    softmax: o.softmax = D["softmax"],
    cutoffs: o.cutoffs = D["cutoffs"],
    div_value: o.div_value = D["div_value"],
    head_bias: o.head_bias = D["head_bias"],
    output_chunk: o.output_chunk = D["output_chunk"],
    precision: o.precision = D["precision"],
    optimizer: r.optimizer = D["optimizer"],
    lr: r.lr = D["lr"],
    loss_scale: r.loss_scale = D["loss_scale"],
    beta1: r.beta1 = D["beta1"],
    beta2: r.beta2 = D["beta2"],
    alpha: r.alpha = D["alpha"],
    eps: r.eps = D["eps"],
    lr_decay: r.lr_decay = D["lr_decay"],
    lr_decay_after: r.lr_decay_after = D["lr_decay_after"],
    anneal_on_plateau: r.anneal_on_plateau = D["anneal_on_plateau"],
    reg: r.reg = D["reg"],
    clip: r.clip = D["clip"],
    clip_norm: r.clip_norm = D["clip_norm"],
    bptt_truncate: r.bptt_truncate = D["bptt_truncate"],
    carry_state: r.carry_state = D["carry_state"],
    every_window: r.every_window = D["every_window"],
    passes: r.passes = D["passes"],
    seed: r.seed = D["seed"],
    batch: r.batch = D["batch"],
    fuse: r.fuse = D["fuse"],
    mode: r.mode = D["mode"],
    backend: r.backend = D["backend"],
    device: r.device = D["device"],
    devices: r.devices = D["devices"],
    coordinator: r.coordinator = D["coordinator"],
    num_processes: r.num_processes = D["num_processes"],
    process_id: r.process_id = D["process_id"],
    checkpoint: r.checkpoint = D["checkpoint"],
    resume: r.resume = D["resume"],
    init_from: r.init_from = D["init_from"],
    overwrite: r.overwrite = D["overwrite"],
    save_every: r.save_every = D["save_every"],
    log: r.log = D["log"],
    log_interval: r.log_interval = D["log_interval"],
    sample_length: r.sample_length = D["sample_length"],
    recipe: o.recipe = None,
    config: o.config = None,
    print_config: r.print_config = False,
    data: o.data = None,
    epochs: o.epochs = None,
    bptt: o.bptt = None,
    nhid: o.nhid = None,
    nlayers: o.nlayers = None,
    batch_size: o.batch_size = None,
    no_tied: o.no_tied = False,
    no_carry_state: o.no_carry_state = False,
    no_variable_bptt: o.no_variable_bptt = False,
    no_locked_dropout: o.no_locked_dropout = False,
    no_anneal_on_plateau: o.no_anneal_on_plateau = False,
    no_head_bias: o.no_head_bias = False,
    no_two_biases: o.no_two_biases = False,
    no_every_window: o.no_every_window = False,
):
    """Train the RNN, printing the notebook's line per pass, then sample."""
    from pytrnn.runtime.parallel import ask_for_host_devices

    ask_for_host_devices(devices // max(num_processes, 1))  # before JAX starts
    from pytrnn.errors import PytrnnError
    from pytrnn.recipes import attribute
    from pytrnn.resolve import build, notes
    from pytrnn.training import TrainingInterrupted
    from pytrnn.training import train as run
    from pytrnn.training.progress import RichReporter

    options = resolve_aliases(
        ctx, {k: value(v) for k, v in ctx.params.items() if k not in SOURCE_OPTIONS}
    )
    typed = given_options(ctx)
    options, given, origins = with_sources(options, typed, recipe, config)
    for line in notes(recipe, typed):
        typer.echo(line, err=True)
    model_cfg, train_cfg = build(options, origins)  # a run that cannot start stops here
    if train_cfg.init_from:  # its shape comes from the checkpoint, not from a recipe
        from pytrnn.training.init_from import SHAPE

        origins = {k: v for k, v in origins.items() if k not in SHAPE}
    if print_config:  # a resumed run's rate stays unset: the file resumes with its own
        from pytrnn.recipes import to_toml
        from pytrnn.training.run import check_run_options

        try:
            check_run_options(model_cfg, train_cfg)  # what needs no text read
            if train_cfg.init_from:  # the shape and vocabulary's reading: its own
                from pytrnn.training import init_from as start

                settled = start.settle(model_cfg, train_cfg, given)
                for n in (*start.SHAPE, *start.TEXT):
                    if n in options:
                        options[n] = getattr(settled[0 if n in start.SHAPE else 1], n)
                        given = given | {n}
                options["init"], given = D["init"], given - {"init"}  # draws nothing
        except PytrnnError as e:
            raise type(e)(attribute(str(e), origins, options)) from None
        typer.echo(to_toml(as_cli_options(ctx, options, given)), nl=False)
        return
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
