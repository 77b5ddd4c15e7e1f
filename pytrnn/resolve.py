"""A run resolved as ``pytrnn train`` resolves it, from Python: ``configure``.

The options are the configs' fields, named as on the command line (``clip-norm``,
or ``clip_norm`` from Python; ``--vocab-size`` is ``max_words``). A recipe comes
first, a TOML file over it, the options given over both; each value is checked
against its field's type and choices, and a value nobody typed that breaks a rule
names the recipe or file it came from. The CLI calls ``resolve_options`` and only
parses and prints, so a notebook can run any recipe:

    pytrnn.train(*pytrnn.configure(recipe="wlm", corpus="data/wikitext-2", passes=1))
"""

from __future__ import annotations

import functools
import typing
from dataclasses import fields
from typing import NamedTuple

from pytrnn import recipes
from pytrnn.choices import CHOICES
from pytrnn.config import DERIVED, RNNConfig, TrainConfig, default_lr, from_options
from pytrnn.errors import ConfigError, PytrnnError

# a field whose CLI name is not its own (TrainConfig.max_words is --vocab-size)
CLI_NAMES = {"max_words": "vocab-size"}
KINDS = {int: "int", float: "float", bool: "bool", str: "str"}
# (options, when they would change nothing, why and what to type instead): a typed
# option is refused there, never ignored (a recipe's or a file's value is left alone).
# ``why`` may name {m} and {t} (the configs), and {places} and {set_by} (the three
# place rates and where they came from)
INERT = [
    (
        ("dropout",),
        lambda m, t: None not in (m.dropouti, m.dropouth, m.dropouto),
        "is each place's rate where it has none of its own, and {places} (from "
        "{set_by}) set every place's rate; type those instead (AWD-LSTM's --dropout "
        "is --dropouto)",
    ),
    (
        ("max_sentence_len",),
        lambda m, t: t.resolved_layout != "sentences",
        "limits the sentences of --layout sentences; --layout {t.resolved_layout} "
        "has none",
    ),
    (
        ("every_window",),
        lambda m, t: t.resolved_layout == "sentences" or m.variable_bptt,
        "is for the fixed windows of a stream (--layout stream); --variable-bptt's "
        "windows and sentences reach the end already",
    ),
    (
        ("max_words", "lower"),
        lambda m, t: t.level == "char",
        "is a word-level option (add --level word)",
    ),
    (
        ("beta1", "beta2"),
        lambda m, t: m.optimizer != "adam",
        "is Adam's (--optimizer adam), not --optimizer {m.optimizer}'s",
    ),
    (
        ("alpha",),
        lambda m, t: m.optimizer != "rmsprop",
        "is RMSprop's smoothing constant (--optimizer rmsprop), not --optimizer "
        "{m.optimizer}'s; AWD-LSTM's --alpha is --ar",
    ),
    (
        ("eps",),
        lambda m, t: m.optimizer in ("sgd", "asgd"),
        "is for --optimizer adagrad, rmsprop or adam, not --optimizer {m.optimizer}",
    ),
    (
        ("div_value",),
        lambda m, t: m.softmax != "adaptive",
        "is for --softmax adaptive, not --softmax {m.softmax}",
    ),
    (
        ("two_biases",),
        lambda m, t: m.cell == "gru",
        "is the tanh cell's and the LSTM's choice: the GRU keeps torch's two biases "
        "always",
    ),
    (
        ("lr_decay_after",),
        lambda m, t: t.lr_decay == 1.0,
        "starts --lr-decay's schedule: add --lr-decay F",
    ),
    (
        ("locked_dropout",),
        lambda m, t: m.locked_dropout and not m.drops,
        "shares dropout masks: set a dropout rate (--dropout, --dropouti/h/o)",
    ),
    (
        ("dropouth",),
        lambda m, t: m.layers == 1,
        "is between layers, and --layers 1 has none: add --layers 2 or more",
    ),
    (
        ("coordinator", "process_id"),
        lambda m, t: t.num_processes == 1,
        "is for several processes (--num-processes N)",
    ),
    (
        ("device",),
        lambda m, t: t.backend not in (None, "jax"),
        "picks JAX's device: it needs --backend jax",
    ),
]
# recipes whose users know --clip as a norm (wlm's and AWD's clip_grad_norm_)
CLIP_NORM_RECIPES = ("wlm", "awd-lstm", "awd-lstm-ptb")


class Configured(NamedTuple):
    """What ``configure`` resolves: ``pytrnn.train(*configured)`` runs it."""

    model: RNNConfig
    train: TrainConfig
    given: frozenset  # the options set by a recipe, a file or by name


def option_fields() -> list:
    """Every field an option sets, the model's then the run's (``vocab_size``, which
    follows from the corpus, is no option)."""
    return [
        (cls, f)
        for cls in (RNNConfig, TrainConfig)
        for f in fields(cls)
        if f.metadata.get("resume") != DERIVED
    ]


def cli_name(name: str) -> str:
    """A field's option name on the command line: ``clip_norm`` -> ``clip-norm``."""
    return CLI_NAMES.get(name, name.replace("_", "-"))


@functools.cache
def schema() -> dict:
    """{CLI name: recipes.Option} of every option a recipe, a file or a caller may
    set: the configs' fields, their types and their choices."""
    out = {}
    for cls, f in option_fields():
        t = typing.get_type_hints(cls)[f.name]
        t = next((a for a in typing.get_args(t) if a is not type(None)), t)  # Optional
        out[cli_name(f.name)] = recipes.Option(
            f.name, KINDS[t], tuple(CHOICES.get(f.name, ()))
        )
    return out


def defaults() -> dict:
    return {f.name: f.default for _, f in option_fields()}


def resolve_options(recipe=None, config=None, typed: dict | None = None):
    """(every option's value by field name, the names set by any source, where each
    value not typed came from). ``typed``: the options given by name (the command
    line's, or a caller's), over ``config`` (a TOML file) over ``recipe``. A new
    run's rate is its optimizer's default unless set (a resumed run's stays None:
    the checkpoint keeps its own)."""
    table = schema()
    named = {f.name for _, f in option_fields()}
    typed = {  # field names too (max_words); None is not given
        (cli_name(k) if k in named else k): v
        for k, v in (typed or {}).items()
        if v is not None
    }
    given_by_name, _ = recipes.resolve([("configure()", typed)], table, set())
    sources = []
    if recipe is not None:
        sources.append((f"--recipe {recipe}", recipes.recipe(recipe)))
    if config is not None:
        sources.append((f"--config {config}", recipes.read_config(config)))
    chosen, origins = recipes.resolve(sources, table, set(given_by_name))
    options = {**defaults(), **chosen, **given_by_name}
    level = recipes.RECIPES.get(recipe, {}).get("level")
    if "level" in given_by_name and level and options["level"] != level:
        raise ConfigError(
            f"--recipe {recipe} trains at the {level} level: --level "
            f"{options['level']} cannot be combined with it"
        )
    refuse_inert(options, given_by_name, origins)
    given = set(given_by_name) | set(chosen)
    if options["two_biases"] is None and "init" in given:  # follows --init (decided
        given.add("two_biases")  # by RNNConfig): a resume compares it too
        origins["two_biases"] = origins.get("init", f"--init {options['init']}")
    if options["init_from"]:  # the checkpoint's shape beats a recipe's, not a typed one
        given -= {n for n, o in origins.items() if o.startswith("--recipe")}
    if options["lr"] is None and not options["resume"]:  # a new run: the optimizer's
        options["lr"] = default_lr(options["optimizer"])
    return options, given, origins


def refuse_inert(options: dict, typed, origins: dict | None = None) -> None:
    """A typed option that would change nothing here is one ConfigError (INERT),
    naming where the values that make it so came from (``origins``)."""
    model = from_options(RNNConfig, options)  # unchecked: the rules' conditions
    run = from_options(TrainConfig, options)
    places = ("dropouti", "dropouth", "dropouto")
    set_by = sorted({(origins or {}).get(p, "the command line") for p in places})
    facts = dict(
        m=model,
        t=run,
        places=", ".join(f"{recipes.flag(p)} {options.get(p)}" for p in places),
        set_by=" and ".join(set_by),
    )
    for names, idle, why in INERT:
        for name in names:
            if name in typed and idle(model, run):
                v = options[name]
                shown = recipes.flag(cli_name(name)) + (
                    "" if isinstance(v, bool) else f" {v}"
                )
                why = why.format(**facts)
                raise ConfigError(f"{shown} would change nothing: it {why}")


def notes(recipe: str | None, typed) -> list[str]:
    """Lines to print beside a resolved run, where a user of the recipe's anchor
    would read an option otherwise."""
    out = []
    if recipe in CLIP_NORM_RECIPES and "clip" in typed:
        out.append(
            "note: --clip is the notebook's elementwise clip to [-C, C]; "
            f"{recipe}'s --clip is a norm, pytrnn's --clip-norm"
        )
    return out


def build(options: dict, origins: dict) -> tuple[RNNConfig, TrainConfig]:
    """The two configs of resolved options, checked; an error about a value nobody
    typed names the recipe or file it came from."""
    try:  # a resumed run's rate left unset: RNNConfig's default, the checkpoint's kept
        train = from_options(TrainConfig, options).validate()
        model = from_options(RNNConfig, options)
        return model.validate(vocab_known=False, shape_known=not train.init_from), train
    except PytrnnError as e:
        raise type(e)(recipes.attribute(str(e), origins, options)) from None


def configure(recipe: str | None = None, config=None, **options) -> Configured:
    """A run resolved as ``pytrnn train --recipe R --config F --OPTION V ...``:
    the same precedence, defaults (the optimizer's rate) and one-line errors.
    ``pytrnn.train(*pytrnn.configure(...))`` trains it."""
    values, given, origins = resolve_options(recipe, config, options)
    model, train = build(values, origins)
    return Configured(model, train, frozenset(given))
