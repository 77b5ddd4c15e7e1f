"""``pytrnn``: each command parses options, calls one library function, prints.

Errors a user can cause (pytrnn.PytrnnError) become one line on stderr and exit 2.
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from typing import Annotated, Optional

import typer

from pytrnn.config import (BACKEND_NAMES, CELL_NAMES, DEVICES, DTYPES, INITS, LAYOUTS,
                           LEVELS, LOSS_SCALES, MODES, OPTIMIZERS, SOFTMAXES,
                           TOKENIZERS)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="The classic Theano char-RNN notebook on PyTensor, and a word-level RNN.")
data_app = typer.Typer(no_args_is_help=True, help="Corpora: download the notebook's text.")
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


Level = choices("Level", LEVELS)
Layout = choices("Layout", LAYOUTS)
Cell = choices("Cell", CELL_NAMES)
Optimizer = choices("Optimizer", OPTIMIZERS)
Softmax = choices("Softmax", SOFTMAXES)
Dtype = choices("Dtype", DTYPES)
Mode = choices("Mode", MODES)
Backend = choices("Backend", BACKEND_NAMES)
Device = choices("Device", DEVICES)
LossScale = choices("LossScale", LOSS_SCALES)
Tokenizer = choices("Tokenizer", TOKENIZERS)
Init = choices("Init", INITS)


# word_language_model's option names that mean exactly pytrnn's (wlm's --data is a
# folder in the standard layout, as --corpus takes; --bptt is its window)
WLM_ALIASES = {"data": "corpus", "epochs": "passes", "bptt": "window", "nhid": "hidden"}
# --no-X sets flag X off, over a recipe or a file that set it (hidden: the help names
# them once, under --recipe, and keeps its columns whole at 80)
NEGATIONS = {f"no_{n}": n for n in ("tied", "carry_state", "variable_bptt",
                                    "locked_dropout", "anneal_on_plateau", "head_bias")}


def _typed(ctx: typer.Context, name: str) -> bool:
    """The user typed this option (or set it through the environment)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def given_options(ctx: typer.Context) -> set[str]:
    """The options of the running command that the user typed, as opposed to those
    left at their defaults; an alias counts as the option it names."""
    return {WLM_ALIASES.get(name, NEGATIONS.get(name, name)) for name in ctx.params
            if _typed(ctx, name)}


def resolve_aliases(ctx: typer.Context, options: dict) -> dict:
    """Fold wlm's names and the --no-X flags into pytrnn's options; both names of one
    option given with two values is an error."""
    from pytrnn.errors import ConfigError
    from pytrnn.recipes import flag

    for alias, name in WLM_ALIASES.items():
        if options.get(alias) is None:
            continue
        if _typed(ctx, name) and options[name] != options[alias]:
            raise ConfigError(f"--{alias} is --{name.replace('_', '-')}: give one of "
                              f"them, not {options[alias]} and {options[name]}")
        options[name] = options[alias]
    for negation, name in NEGATIONS.items():
        if _typed(ctx, negation):
            if _typed(ctx, name):
                raise ConfigError(f"give one of {flag(name)} and {flag(negation)}, "
                                  f"not both")
            options[name] = False
    return {k: v for k, v in options.items() if k not in WLM_ALIASES
            and k not in NEGATIONS}


SOURCE_OPTIONS = ("recipe", "config", "print_config")  # where values come from, not values


def option_schema(ctx: typer.Context) -> dict:
    """{CLI name: recipes.Option} of every option a recipe or config file may set,
    from the command's own declarations (its names and its annotated types)."""
    import typing

    from pytrnn.recipes import Option

    hints = typing.get_type_hints(ctx.command.callback, include_extras=False)
    out = {}
    for p in ctx.command.params:
        if p.name in WLM_ALIASES or p.name in NEGATIONS or p.name in SOURCE_OPTIONS \
                or not p.opts:
            continue
        t = hints.get(p.name)
        t = next((a for a in typing.get_args(t) if a is not type(None)), t)  # Optional
        if isinstance(t, type) and issubclass(t, Enum):
            kind, choices = "str", tuple(m.value for m in t)
        else:
            kind = {int: "int", float: "float", bool: "bool"}.get(t, "str")
            choices = ()
        out[p.opts[0].lstrip("-")] = Option(p.name, kind, choices)
    return out


def with_sources(ctx: typer.Context, options: dict, recipe, config):
    """The options after --recipe, then --config, then what was typed; the names
    set by any of them (a resumed run compares those with its checkpoint); and
    where each value not typed came from (errors name it)."""
    from pytrnn import recipes
    from pytrnn.errors import ConfigError

    sources = []
    if recipe is not None:
        sources.append((f"--recipe {recipe}", recipes.recipe(recipe)))
    if config:
        if len(config) > 1:
            raise ConfigError(f"--config takes one file, got {len(config)} "
                              f"({', '.join(config)}): merge them into one")
        sources.append((f"--config {config[0]}", recipes.read_config(config[0])))
    typed = given_options(ctx)
    chosen, origins = recipes.resolve(sources, option_schema(ctx), typed)
    options = {**options, **chosen}
    level = recipes.RECIPES.get(recipe, {}).get("level")
    if "level" in typed and level and options["level"] != level:
        raise ConfigError(f"--recipe {recipe} trains at the {level} level: --level "
                          f"{options['level']} cannot be combined with it")
    unused = recipes.unused_options(options, typed, origins)
    if unused:
        raise ConfigError(unused)
    return options, typed | set(chosen), origins


def as_cli_options(ctx: typer.Context, options: dict, given: set) -> dict:
    """The values set (typed, from a recipe or a file) or off their defaults, under
    their CLI names in the help's order: what --print-config writes, a --config
    file that gives the same run."""
    defaults = {p.name: value(p.default) for p in ctx.command.params}
    return {key: options[opt.name] for key, opt in option_schema(ctx).items()
            if opt.name in given or options[opt.name] != defaults.get(opt.name)}


def value(v):
    """An Enum option's plain string (None stays None)."""
    return v.value if isinstance(v, Enum) else v


MODEL, DATA, TRAINING, SPEED, SCALE, OUTPUT = ("Model", "Data", "Training", "Speed",
                                               "Scale-out", "Output")
AWD = "AWD-LSTM's regularizers"


@app.command()
@user_errors
def train(
    ctx: typer.Context,
    corpus: Annotated[Optional[str], typer.Option(help="Text file, a folder with train.txt (and valid.txt, test.txt), 'pydoc' (default, embedded) or 'four-million'.", rich_help_panel=DATA)] = None,
    valid: Annotated[Optional[str], typer.Option(help="Validation text file (instead of --val-frac).", rich_help_panel=DATA)] = None,
    test: Annotated[Optional[str], typer.Option(help="Test text file, scored once at the end (instead of --test-frac).", rich_help_panel=DATA)] = None,
    level: Annotated[Level, typer.Option(help="char (the notebook) or word.", rich_help_panel=DATA)] = Level.char,
    layout: Annotated[Optional[Layout], typer.Option(help="Word level: sentences (one padded sentence per row; default for raw text) or stream (windows of one token stream, as wlm; default for whitespace tokens).", rich_help_panel=DATA)] = None,
    tokenizer: Annotated[Optional[Tokenizer], typer.Option(help="Word level: whitespace (each line's tokens + <eos>, as wlm's data.Corpus; default for a folder) or regex (WildML's words and sentences; default for a file).", rich_help_panel=DATA)] = None,
    limit_chars: Annotated[Optional[int], typer.Option(help="Train on the first N chars (the notebook's N).", rich_help_panel=DATA)] = None,
    val_frac: Annotated[Optional[float], typer.Option(help="Held-out fraction (default: 0 for chars, 0.05 for words).", rich_help_panel=DATA)] = None,
    test_frac: Annotated[float, typer.Option(help="Fraction held out for test, scored once at the end.", rich_help_panel=DATA)] = 0.0,
    max_words: Annotated[int, typer.Option("--vocab-size", help="Word level, regex: most frequent words kept.", rich_help_panel=DATA)] = 8000,
    max_sentence_len: Annotated[int, typer.Option(help="Word level, sentences: skip longer sentences (0: no limit).", rich_help_panel=DATA)] = 50,
    lower: Annotated[bool, typer.Option(help="Word level, regex: lower-case the text.", rich_help_panel=DATA)] = True,
    hidden: Annotated[int, typer.Option(help="Hidden units H.", rich_help_panel=MODEL)] = 100,
    window: Annotated[int, typer.Option(help="Steps per window L (chars, or tokens of a word stream).", rich_help_panel=MODEL)] = 25,
    cell: Annotated[Cell, typer.Option(help="rnn (the notebook's tanh cell), gru or lstm.", rich_help_panel=MODEL)] = Cell.rnn,
    layers: Annotated[int, typer.Option(help="Stacked recurrent layers.", rich_help_panel=MODEL)] = 1,
    emsize: Annotated[Optional[int], typer.Option(help="Word embedding size E: Wemb (V, E) before layer 0 (wlm's; default: one-hot into Wxh).", rich_help_panel=MODEL)] = None,
    tied: Annotated[bool, typer.Option("--tied", help="Output layer = Wemb.T (wlm's --tied; needs --emsize = --hidden).", rich_help_panel=MODEL)] = False,
    dropout: Annotated[float, typer.Option(help="Dropout on the embedding, between layers and before the output (char-rnn's, wlm's).", rich_help_panel=MODEL)] = 0.0,
    init: Annotated[Init, typer.Option(help="notebook (randn/sqrt(fan_in)) or wlm (its init_weights).", rich_help_panel=MODEL)] = Init.notebook,
    locked_dropout: Annotated[bool, typer.Option("--locked-dropout", help="Every dropout mask one per stream and window, shared by its steps (AWD's LockedDropout; default: one per step).", rich_help_panel=AWD)] = False,
    dropouti: Annotated[Optional[float], typer.Option(help="Dropout on the embedding's output (AWD's; default: --dropout).", rich_help_panel=AWD)] = None,
    dropouth: Annotated[Optional[float], typer.Option(help="Dropout between layers (AWD's; default: --dropout).", rich_help_panel=AWD)] = None,
    dropouto: Annotated[Optional[float], typer.Option(help="Dropout on the top layer's output (AWD's --dropout; default: --dropout).", rich_help_panel=AWD)] = None,
    dropoute: Annotated[float, typer.Option(help="Embedding dropout: whole rows of Wemb dropped per step (AWD's).", rich_help_panel=AWD)] = 0.0,
    wdrop: Annotated[float, typer.Option(help="Weight drop: DropConnect on every Whh, one mask per step (AWD's WeightDrop).", rich_help_panel=AWD)] = 0.0,
    ar: Annotated[float, typer.Option(help="Activation regularization: + AR x mean(h^2) of the top layer's dropped output (AWD's --alpha).", rich_help_panel=AWD)] = 0.0,
    tar: Annotated[float, typer.Option(help="Temporal activation regularization: + TAR x mean((h_t - h_t-1)^2) of its undropped output (AWD's --beta).", rich_help_panel=AWD)] = 0.0,
    wdecay: Annotated[float, typer.Option(help="torch.optim's weight_decay: wdecay x p added to the gradient (not --reg's L2 in the loss).", rich_help_panel=AWD)] = 0.0,
    nt_asgd: Annotated[int, typer.Option(help="NT-ASGD: SGD, then averaged SGD once validation is worse than its best from more than N passes back (AWD's --nonmono; 0: off). Evaluation then uses the average.", rich_help_panel=AWD)] = 0,
    variable_bptt: Annotated[bool, typer.Option("--variable-bptt", help="AWD's window lengths: --window (p 0.95) or half of it, then N(that, 5), at least 5, the rate scaled by length / --window.", rich_help_panel=AWD)] = False,
    dtype: Annotated[Dtype, typer.Option(help="float64 (the notebook) or float32.", rich_help_panel=MODEL)] = Dtype.float64,
    softmax: Annotated[Softmax, typer.Option(help="The output layer: full (one V-wide softmax) or adaptive (torch's AdaptiveLogSoftmaxWithLoss: a head and clusters; word level).", rich_help_panel=MODEL)] = Softmax.full,
    cutoffs: Annotated[Optional[str], typer.Option(help="Adaptive: increasing ids, e.g. 2000,10000: the head holds ids below the first, cluster i ids from cutoff i to the next (word ids by falling frequency).", rich_help_panel=MODEL)] = None,
    div_value: Annotated[float, typer.Option(help="Adaptive: cluster i projects h to H // div_value ** (i + 1) (torch's).", rich_help_panel=MODEL)] = 4.0,
    head_bias: Annotated[bool, typer.Option("--head-bias", help="Adaptive: a bias on the head (torch's head_bias).", rich_help_panel=MODEL)] = False,
    optimizer: Annotated[Optimizer, typer.Option(help="sgd (the notebook), adagrad, rmsprop, adam or asgd (torch.optim's rules; asgd as AWD-LSTM's, t0 = 0, lambd = 0).", rich_help_panel=TRAINING)] = Optimizer.sgd,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate, on the --loss-scale's loss (default: torch.optim's, 0.01; adam 0.001). A resumed run may change it.", rich_help_panel=TRAINING)] = None,
    loss_scale: Annotated[LossScale, typer.Option(help="window: a window's sum, mean over streams (the notebook's); token: the mean per token (wlm's, so its lr 20 means 20).", rich_help_panel=TRAINING)] = LossScale.window,
    beta1: Annotated[float, typer.Option(help="Adam's beta1.", rich_help_panel=TRAINING)] = 0.9,
    beta2: Annotated[float, typer.Option(help="Adam's beta2.", rich_help_panel=TRAINING)] = 0.999,
    alpha: Annotated[float, typer.Option(help="RMSprop's smoothing constant.", rich_help_panel=TRAINING)] = 0.99,
    eps: Annotated[Optional[float], typer.Option(help="Optimizer epsilon (default: torch.optim's).", rich_help_panel=TRAINING)] = None,
    lr_decay: Annotated[float, typer.Option(help="char-rnn's schedule: lr *= F after each pass from --lr-decay-after on.", rich_help_panel=TRAINING)] = 1.0,
    lr_decay_after: Annotated[int, typer.Option(help="First pass after which --lr-decay applies.", rich_help_panel=TRAINING)] = 10,
    anneal_on_plateau: Annotated[bool, typer.Option("--anneal-on-plateau", help="wlm's schedule: lr /= 4 when validation loss does not improve.", rich_help_panel=TRAINING)] = False,
    reg: Annotated[float, typer.Option(help="L2 on every weight matrix (Wxh*, Whh*, Why).", rich_help_panel=TRAINING)] = 0.01,
    clip: Annotated[float, typer.Option(help="Elementwise gradient clip (0: off).", rich_help_panel=TRAINING)] = 5.0,
    clip_norm: Annotated[float, typer.Option(help="torch's clip_grad_norm_: scale every gradient so their joint L2 norm is at most this (0: off; before --clip).", rich_help_panel=TRAINING)] = 0.0,
    bptt_truncate: Annotated[int, typer.Option(help="Backprop through the last K steps only (-1: all).", rich_help_panel=TRAINING)] = -1,
    carry_state: Annotated[bool, typer.Option("--carry-state", help="Start each window from the state its stream ended the last one with, the gradient stopped at the edge (char-rnn's, wlm's; default: h = 0, the notebook's).", rich_help_panel=TRAINING)] = False,
    passes: Annotated[int, typer.Option(help="Passes over the text.", rich_help_panel=TRAINING)] = 10,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, shuffling, dropout, sampling.", rich_help_panel=TRAINING)] = 0,
    batch: Annotated[int, typer.Option(help="Streams (or, word level with sentences, sentences) per step (1: the notebook).", rich_help_panel=SPEED)] = 1,
    fuse: Annotated[Optional[int], typer.Option(help="Windows (sentences: groups of one length) per compiled call (default on JAX: a stream pass in chunks of about 256, one lax.scan each, or 16 groups; elsewhere 1).", rich_help_panel=SPEED)] = None,
    mode: Annotated[Optional[Mode], typer.Option(help="scan (default) or unroll (the notebook's loop; same steps).", rich_help_panel=SPEED)] = None,
    backend: Annotated[Optional[Backend], typer.Option(help="Default: the fastest here.", rich_help_panel=SPEED)] = None,
    device: Annotated[Optional[Device], typer.Option(help="JAX device (default: the GPU if JAX sees one).", rich_help_panel=SPEED)] = None,
    devices: Annotated[int, typer.Option(help="JAX devices to split the batch's streams over.", rich_help_panel=SCALE)] = 1,
    coordinator: Annotated[Optional[str], typer.Option(help="Multi-host: HOST:PORT of process 0.", rich_help_panel=SCALE)] = None,
    num_processes: Annotated[int, typer.Option(help="Multi-host: number of processes.", rich_help_panel=SCALE)] = 1,
    process_id: Annotated[int, typer.Option(help="Multi-host: this process's index.", rich_help_panel=SCALE)] = 0,
    checkpoint: Annotated[Optional[str], typer.Option(help="Where to save (default: the --resume checkpoint, else runs/CORPUS-LEVEL.npz).", rich_help_panel=OUTPUT)] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue from this checkpoint (and save back to it).", rich_help_panel=OUTPUT)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Let a new run replace the checkpoint at its path.", rich_help_panel=OUTPUT)] = False,
    save_every: Annotated[float, typer.Option(help="Also save every this many seconds.", rich_help_panel=OUTPUT)] = 60.0,
    log: Annotated[Optional[str], typer.Option(help="Append one JSON line per pass to this file.", rich_help_panel=OUTPUT)] = None,
    sample_length: Annotated[int, typer.Option(help="Sampled at the end: chars (char level) or words in whole sentences (word level); 0: none.", rich_help_panel=OUTPUT)] = 200,
    recipe: Annotated[Optional[str], typer.Option(help="Start from a published setup: notebook, wlm, awd-lstm, awd-lstm-ptb, char-rnn (pytrnn recipes lists them); typed options win, and --no-FLAG turns a recipe's flag off (--no-tied, --no-carry-state, ...).", rich_help_panel=DATA)] = None,
    config: Annotated[Optional[list[str]], typer.Option(metavar="FILE", help="A TOML file of options by their CLI names (over --recipe; typed options win).", rich_help_panel=DATA)] = None,
    print_config: Annotated[bool, typer.Option("--print-config", help="Print the resolved options as TOML (a --config file) and exit.", rich_help_panel=OUTPUT)] = False,
    # word_language_model's names for the same options (hidden: one name in the help)
    data: Annotated[Optional[str], typer.Option(hidden=True)] = None,
    epochs: Annotated[Optional[int], typer.Option(hidden=True)] = None,
    bptt: Annotated[Optional[int], typer.Option(hidden=True)] = None,
    nhid: Annotated[Optional[int], typer.Option(hidden=True)] = None,
    # a recipe's flags turned off (the --recipe help names them)
    no_tied: Annotated[bool, typer.Option("--no-tied", hidden=True)] = False,
    no_carry_state: Annotated[bool, typer.Option("--no-carry-state", hidden=True)] = False,
    no_variable_bptt: Annotated[bool, typer.Option("--no-variable-bptt", hidden=True)] = False,
    no_locked_dropout: Annotated[bool, typer.Option("--no-locked-dropout", hidden=True)] = False,
    no_anneal_on_plateau: Annotated[bool, typer.Option("--no-anneal-on-plateau", hidden=True)] = False,
    no_head_bias: Annotated[bool, typer.Option("--no-head-bias", hidden=True)] = False,
):
    """Train the RNN, printing the notebook's line per pass, then sample."""
    from pytrnn.runtime.parallel import ask_for_host_devices

    ask_for_host_devices(devices // max(num_processes, 1))  # before JAX starts
    from pytrnn import RNNConfig, TrainConfig
    from pytrnn.config import DEFAULT_LR, from_options
    from pytrnn.training import TrainingInterrupted
    from pytrnn.training import train as run
    from pytrnn.training.progress import RichReporter

    from pytrnn.errors import PytrnnError
    from pytrnn.recipes import attribute

    options = resolve_aliases(ctx, {k: value(v) for k, v in ctx.params.items()
                                    if k not in SOURCE_OPTIONS})
    options, given, origins = with_sources(ctx, options, recipe, config)
    if options["lr"] is None and not options["resume"]:  # a new run: the optimizer's
        options["lr"] = DEFAULT_LR.get(options["optimizer"], RNNConfig.lr)
    if print_config:  # a resumed run's rate stays unset: the file resumes with its own
        from pytrnn.recipes import to_toml

        typer.echo(to_toml(as_cli_options(ctx, options, given)), nl=False)
        return
    if options["lr"] is None:  # resumed, no rate given: the checkpoint's is kept
        options["lr"] = RNNConfig.lr
    try:
        model_cfg = from_options(RNNConfig, options)
        run(model_cfg, from_options(TrainConfig, options), reporter=RichReporter(),
            given=given)
    except PytrnnError as e:  # name the recipe or file behind a value nobody typed
        raise type(e)(attribute(str(e), origins, options)) from None
    except TrainingInterrupted as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(130)
    except KeyboardInterrupt:  # a second Ctrl-C, or one before training began
        typer.echo("interrupted: stopped at once; every checkpoint written is whole",
                   err=True)
        raise typer.Exit(130)


@app.command("recipes")
def recipes_():
    """List the recipes --recipe takes and the options each sets."""
    from pytrnn.recipes import describe

    for name, line in describe():
        typer.echo(f"{name}: {line}")


@app.command()
@user_errors
def sample(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint written by train.")],
    length: Annotated[Optional[int], typer.Option(help="Chars to generate (default 200), or at most this many words a sentence (default 100).")] = None,
    temperature: Annotated[float, typer.Option(help="Below 1: safer; above 1: wilder.")] = 1.0,
    prime: Annotated[str, typer.Option(help="Text to start from: chars, or the words every sentence starts with.")] = "",
    seed: Annotated[int, typer.Option(help="The same seed gives the same text.")] = 0,
    argmax: Annotated[bool, typer.Option(help="Always take the most likely char or word.")] = False,
    sentences: Annotated[Optional[int], typer.Option(help="Word level: sentences to generate (default 5).")] = None,
    min_words: Annotated[Optional[int], typer.Option(help="Word level: shortest sentence.")] = None,
    backend: Annotated[Optional[Backend], typer.Option(help="Default: the fastest here.")] = None,
):
    """Generate text from a checkpoint."""
    from pytrnn.tools.generate import generate

    typer.echo(generate(checkpoint, length=length, temperature=temperature, prime=prime,
                        seed=seed, argmax=argmax, sentences=sentences,
                        min_words=min_words, backend=value(backend)))


@app.command("eval")
@user_errors
def eval_(
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint written by train (or its .best.npz).")],
    corpus: Annotated[str, typer.Option(help="The UTF-8 text file to score.")],
    backend: Annotated[Optional[Backend], typer.Option(help="Default: the fastest here.")] = None,
    batch: Annotated[int, typer.Option(help="Windows per call; a --carry-state model (or with the cache): contiguous streams, as wlm's eval batch.")] = 10,
    cache_window: Annotated[Optional[int], typer.Option(help="The neural cache (AWD-LSTM's pointer.py): mix in the words after the last W positions (default: no cache).")] = None,
    cache_theta: Annotated[Optional[float], typer.Option(help="The cache's attention sharpness theta (default 1.0, AWD's PTB).")] = None,
    cache_lambda: Annotated[Optional[float], typer.Option(help="The cache's weight lambda in [0, 1] (default 0.1, AWD's PTB; 0: the model alone).")] = None,
):
    """Score a checkpoint on a text: loss per char and bits/char, or per word and
    perplexity (data loss only, the checkpoint's own vocabulary)."""
    from pytrnn.errors import ConfigError
    from pytrnn.runtime.cache import Cache
    from pytrnn.tools.evaluate import eval_line, evaluate

    cache = None
    if cache_window is not None:
        cache = Cache(cache_window, 1.0 if cache_theta is None else cache_theta,
                      0.1 if cache_lambda is None else cache_lambda).validate()
    elif cache_theta is not None or cache_lambda is not None:
        raise ConfigError("--cache-theta and --cache-lambda need --cache-window")
    typer.echo(eval_line(evaluate(checkpoint, corpus, backend=value(backend), batch=batch,
                                  cache=cache)))


@app.command()
@user_errors
def plot(
    checkpoints: Annotated[list[str], typer.Argument(help="Checkpoints written by train (several: overlaid).")],
    output: Annotated[str, typer.Option("--output", "-o", help="The PNG to write.")] = "loss.png",
):
    """Draw the per-pass loss and bits/char (or perplexity) kept in a checkpoint
    (the last one, or its .best.npz); several checkpoints overlaid in one figure."""
    from pytrnn.tools.plot import plot_checkpoint

    typer.echo(f"wrote {plot_checkpoint(checkpoints, output)}")


@app.command()
@user_errors
def compare(
    checkpoints: Annotated[list[str], typer.Argument(help="Checkpoints of runs at the same level.")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Also draw every run's curves into this PNG.")] = None,
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
    corpus: Annotated[Optional[str], typer.Option(help="Default: four-million if fetched, else pydoc.")] = None,
    quick: Annotated[bool, typer.Option(help="In[107] on 100,000 chars for 2 passes.")] = False,
    seed: Annotated[int, typer.Option(help="Initialisation seed.")] = 0,
    mode: Annotated[Mode, typer.Option(help="unroll (the notebook's loop) or scan.")] = Mode.unroll,
):
    """Re-run the notebook's In[114], In[115], In[107] and compare with its figures."""
    from rich.console import Console

    from pytrnn.cli.render import reproduce_table
    from pytrnn.tools.reproduce import reproduce as run
    from pytrnn.training.progress import RichReporter

    console = Console()
    reproduce_table(run(corpus=corpus, quick=quick, seed=seed, mode=value(mode),
                        reporter=RichReporter(console)), console)


@app.command()
@user_errors
def bench(
    smoke: Annotated[bool, typer.Option(help="A few seconds: tiny model, JAX only.")] = False,
    backend: Annotated[Optional[list[Backend]], typer.Option(help="Backends to measure (repeatable).")] = None,
    e2e: Annotated[bool, typer.Option(help="Also time the In[107] job end to end (minutes).")] = False,
    cells: Annotated[bool, typer.Option(help="Also the tanh, GRU and LSTM cells against a hand-written JAX trainer of each.")] = False,
    level: Annotated[Level, typer.Option(help="char (the grid of modes and backends) or word (pytrnn train's words/s at V=8,003, both layouts).")] = Level.char,
    softmax: Annotated[Softmax, typer.Option(help="Word level: adaptive puts the stream rows of each output layer side by side.")] = Softmax.full,
    corpus: Annotated[Optional[str], typer.Option(help="Default: pydoc.")] = None,
    json_out: Annotated[Optional[str], typer.Option("--json", help="Write the figures here.")] = None,
):
    """Throughput of every mode x backend x dtype x batch, against numpy and JAX baselines."""
    from pytrnn.bench.grid import save_json
    from pytrnn.cli.render import bench_tables, wide, word_bench_table

    if value(level) == "word":
        from pytrnn.bench.words import run as words
        from pytrnn.errors import ConfigError

        if cells or e2e or corpus or (backend and len(backend) > 1):
            raise ConfigError("--level word measures one backend on its own text: "
                              "leave out --cells, --e2e, --corpus and extra --backend")
        console = wide(120)
        out = words(smoke=smoke, backend=value(backend[0]) if backend else None,
                    reporter=lambda s: console.print(s, markup=False),
                    softmax=value(softmax))
        word_bench_table(out, console)
    else:
        from pytrnn.bench.grid import run

        if value(softmax) == "adaptive":
            from pytrnn.errors import ConfigError

            raise ConfigError("--softmax adaptive is a word-level bench (add --level word)")
        console = wide(130)
        out = run(smoke=smoke, backends=tuple(value(b) for b in backend) if backend
                  else BACKEND_NAMES, e2e=e2e, corpus=corpus, cells=cells,
                  reporter=lambda s: console.print(s, markup=False))
        bench_tables(out, console)
    if json_out:
        save_json(out, json_out)


@app.command()
@user_errors
def info(
    probe: Annotated[bool, typer.Option(help="Compile a tiny graph on each backend.")] = True,
):
    """Versions, the backends that work here, JAX devices, BLAS, compile caches."""
    from pytrnn.cli.render import info_table
    from pytrnn.tools.info import info as gather

    info_table(gather(probe=probe))


@data_app.command("fetch")
@user_errors
def data_fetch(
    name: Annotated[str, typer.Argument(help="four-million (the notebook's), or wikitext-2, wikitext-103, ptb (standard layout).")] = "four-million",
    url: Annotated[Optional[str], typer.Option(help="A mirror: the file, the folder of the standard files, or the archive.")] = None,
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
