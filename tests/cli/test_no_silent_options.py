"""No silent options: every option of ``pytrnn train``, typed with a value other
than the one it resolves to, under every recipe and every layout, either changes the
resolved run or is refused in one line that says why and what to type instead."""

import pytest
from helpers import invoke, one_line_error

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.recipes import RECIPES
from pytrnn.resolve import schema

LAYOUTS = {
    "char": {"level": "char"},
    "sentences": {"level": "word", "layout": "sentences"},
    "stream": {"level": "word", "layout": "stream"},
}
# a value for each option that has no choices, bool or number to step from
TEXT = {
    "corpus": "pydoc",
    "valid": "v.txt",
    "test": "t.txt",
    "cutoffs": "2,3",
    "checkpoint": "runs/other.npz",
    "resume": "runs/other.npz",
    "init_from": "runs/other.npz",
    "log": "runs/other.jsonl",
    "coordinator": "localhost:1234",
}


def other(opt, now):
    """A value of the option other than ``now``, the one it resolves to."""
    if opt.choices:
        return next(c for c in opt.choices if c != now)
    if opt.kind == "bool":
        return not now
    if opt.kind == "int":
        return (now if now is not None and now > 0 else 1) + 1
    if opt.kind == "float":
        return 0.5 if not now else now / 2
    return TEXT[opt.name]


def contexts():
    for recipe in [None, *RECIPES]:
        for layout, ctx in LAYOUTS.items():
            try:
                base = pytrnn.configure(recipe=recipe, **ctx)
            except ConfigError:
                continue  # a word-level recipe at the char level: refused itself
            yield recipe, layout, ctx, base


def test_every_option_under_every_recipe_and_layout():
    table, silent, outcomes = schema(), [], {"changed": 0, "refused": 0}
    for recipe, layout, ctx, base in contexts():
        for key, opt in table.items():
            if key == "level":
                continue
            now = getattr(base.model, opt.name, getattr(base.train, opt.name, None))
            value = other(opt, now)
            try:
                got = pytrnn.configure(recipe=recipe, **{**ctx, opt.name: value})
            except ConfigError as e:
                assert "\n" not in str(e), str(e)
                outcomes["refused"] += 1
                continue
            if (got.model, got.train) == (base.model, base.train):
                silent.append(f"--{key} {value} under {recipe or 'no recipe'}/{layout}")
            outcomes["changed"] += 1
    print(outcomes)
    assert outcomes["changed"] > 400 and outcomes["refused"] > 50
    assert silent == []


@pytest.mark.parametrize(
    "kw, says",
    [
        (
            {"level": "word", "layout": "stream", "max_sentence_len": 10},
            "--layout sentences",
        ),
        ({"max_words": 100}, "word-level"),
        ({"lower": False}, "word-level"),
        ({"beta1": 0.8}, "Adam's"),
        ({"beta2": 0.8, "optimizer": "rmsprop"}, "Adam's"),
        ({"alpha": 0.9}, "AWD-LSTM's --alpha is --ar"),
        ({"eps": 1e-6}, "--optimizer sgd"),
        ({"div_value": 2.0}, "--softmax adaptive"),
        ({"lr_decay_after": 3}, "--lr-decay"),
        ({"locked_dropout": True}, "dropout rate"),
        ({"dropouth": 0.3, "emsize": 8}, "--layers 1"),
        ({"coordinator": "h:1"}, "--num-processes"),
        ({"process_id": 1}, "--num-processes"),
        ({"device": "cpu", "backend": "c"}, "--backend jax"),
    ],
)
def test_an_option_that_would_change_nothing_is_refused(kw, says):
    with pytest.raises(ConfigError) as e:
        pytrnn.configure(**kw)
    assert says in str(e.value), str(e.value)


def test_each_rule_holds_only_where_the_option_does_nothing():
    """The same options where they act are accepted."""
    pytrnn.configure(level="word", layout="sentences", max_sentence_len=10)
    pytrnn.configure(level="word", max_words=100, lower=False)
    pytrnn.configure(optimizer="adam", beta1=0.8, beta2=0.9, eps=1e-6)
    pytrnn.configure(optimizer="rmsprop", alpha=0.9)
    pytrnn.configure(lr_decay=0.5, lr_decay_after=3)
    pytrnn.configure(locked_dropout=True, dropout=0.2)
    pytrnn.configure(dropouth=0.3, layers=2)
    pytrnn.configure(num_processes=2, process_id=1, coordinator="h:1", batch=2)
    # a recipe's value the typed option leaves without effect is the recipe's, not
    # refused: char-rnn's --alpha 0.95 under a typed --optimizer adam
    assert pytrnn.configure(recipe="char-rnn", optimizer="adam").model.alpha == 0.95


def test_the_cli_refuses_in_one_line(tmp_path):
    r = invoke(
        "train", "--level", "word", "--layout", "stream", "--max-sentence-len", 9
    )
    one_line_error(r, "--max-sentence-len")


@pytest.mark.parametrize("recipe", ["wlm", "awd-lstm", "awd-lstm-ptb"])
def test_a_typed_clip_under_wlm_or_awd_says_it_is_elementwise(recipe):
    """wlm's and AWD's --clip is a norm; pytrnn's is the notebook's elementwise clip."""
    r = invoke("train", "--recipe", recipe, "--clip", 0.25, "--print-config")
    assert r.exit_code == 0, r.output
    note = r.stderr.strip()
    assert len(note.splitlines()) == 1 and "--clip-norm" in note, note
    assert "elementwise" in note and "clip = 0.25" in r.stdout  # the file stays whole
    quiet = invoke("train", "--recipe", recipe, "--clip-norm", 0.5, "--print-config")
    assert "elementwise" not in quiet.stderr
    plain = invoke("train", "--clip", 2, "--print-config")
    assert "elementwise" not in plain.stderr


# model options that act outside one window's step graph, and where
OUTSIDE_THE_STEP = {
    "lr": "the step's rate is an input",
    "variable_bptt": "the loop draws the windows' lengths",
    "nt_asgd": "the loop switches to the average",
}


def fingerprint(cfg) -> str:
    """One window's training step as PyTensor prints it, its initial parameters and
    the random masks it is fed (drawn on the host, pytrnn.runtime.noise): what a
    model option changes if it changes anything."""
    import hashlib
    import io

    import numpy as np
    import pytensor

    from pytrnn.graphs.params import init_params
    from pytrnn.graphs.updates import build_window_step
    from pytrnn.runtime.noise import draw

    _, outs = build_window_step(cfg, "scan", length=cfg.window)
    text = io.StringIO()
    pytensor.printing.debugprint(outs, file=text, print_type=True)
    h = hashlib.sha1(text.getvalue().encode())
    for k, v in sorted(init_params(cfg, np.random.default_rng(0)).items()):
        h.update(k.encode() + v.tobytes())
    masks = draw(cfg, np.random.default_rng(0), cfg.window, None, None)
    for m in masks if isinstance(masks, (tuple, list)) else [masks]:
        h.update(np.asarray(m).tobytes() if m is not None else b"-")
    return h.hexdigest()


@pytest.mark.parametrize(
    "recipe, ctx",
    [
        (None, LAYOUTS["char"]),
        ("wlm", LAYOUTS["stream"]),
    ],
)
def test_every_accepted_model_option_changes_the_step(recipe, ctx):
    """An independent check of the rules: a model option that configure accepts
    changes the compiled step or the initial parameters (or acts in the loop,
    OUTSIDE_THE_STEP); one that changes neither would be silent."""
    from dataclasses import fields, replace

    small = {"hidden": 8, "emsize": 8} if recipe == "wlm" else {"hidden": 8}
    base = pytrnn.configure(recipe=recipe, **ctx, **small)
    model_fields = {f.name for f in fields(pytrnn.RNNConfig)}
    before, silent = fingerprint(base.model), []
    for key, opt in schema().items():
        if opt.name not in model_fields or opt.name in OUTSIDE_THE_STEP:
            continue
        if opt.name in small:
            continue
        value = other(opt, getattr(base.model, opt.name))
        try:
            got = pytrnn.configure(recipe=recipe, **ctx, **small, **{opt.name: value})
        except ConfigError:
            continue
        if fingerprint(replace(got.model, vocab_size=base.model.vocab_size)) == before:
            silent.append(f"--{key} {value}")
    assert silent == []
