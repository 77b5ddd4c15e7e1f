"""``pytrnn.configure``: a run resolved from Python as ``pytrnn train`` resolves it
(pytrnn.resolve), with the same precedence, defaults and one-line errors; the CLI
calls it, so the two cannot drift."""

import typing
from enum import Enum

import numpy as np
import pytest
from helpers import invoke

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.resolve import configure, schema
from pytrnn.runtime import checkpoint as ck


def test_the_optimizers_rate_is_decided_in_the_library():
    """torch.optim's defaults: adam 0.001, the others (and the notebook) 0.01; a
    typed rate wins; a resumed run leaves its rate to the checkpoint."""
    assert pytrnn.configure(optimizer="adam").model.lr == 0.001
    assert pytrnn.RNNConfig(optimizer="adam").lr == 0.001  # decided in one place
    assert pytrnn.RNNConfig().lr == 0.01 and pytrnn.RNNConfig(lr=0.5).lr == 0.5
    assert pytrnn.configure().model.lr == 0.01
    assert pytrnn.configure(optimizer="adam", lr=0.5).model.lr == 0.5
    assert pytrnn.configure(recipe="wlm").model.lr == 20.0
    resumed = pytrnn.configure(resume="runs/x.npz")
    assert "lr" not in resumed.given


def test_the_notebooks_model_is_the_default():
    c = pytrnn.configure()
    assert c.model == pytrnn.RNNConfig() and c.train == pytrnn.TrainConfig()
    assert c.given == frozenset()


def test_typed_over_file_over_recipe(tmp_path):
    conf = tmp_path / "run.toml"
    conf.write_text('hidden = 64\nwindow = 20\ncell = "gru"\n')
    c = pytrnn.configure(recipe="wlm", config=conf, window=30)
    assert c.model.hidden == 64  # the file over the recipe's 200
    assert c.model.window == 30  # typed over the file
    assert c.model.cell == "gru" and c.model.layers == 2  # the file; the recipe
    assert {"hidden", "window", "cell", "layers"} <= c.given


def test_names_as_on_the_command_line_or_as_fields():
    """clip_norm or clip-norm; --vocab-size is TrainConfig.max_words."""
    assert pytrnn.configure(clip_norm=0.5).model.clip_norm == 0.5
    assert pytrnn.configure(**{"clip-norm": 0.5}).model.clip_norm == 0.5
    assert pytrnn.configure(level="word", vocab_size=100).train.max_words == 100
    assert pytrnn.configure(level="word", max_words=100).train.max_words == 100


@pytest.mark.parametrize(
    "kw, says",
    [
        ({"bogus": 1}, "unknown option 'bogus'"),
        ({"hidden": "x"}, "hidden must be an int"),
        ({"cell": "tree"}, "cell must be one of rnn, gru, lstm"),
        ({"hidden": 0}, "--hidden must be at least 1"),
        (
            {"recipe": "awd-lstm", "optimizer": "asgd"},
            "--nt-asgd 5 comes from --recipe awd-lstm",
        ),
        ({"recipe": "wlm", "level": "char"}, "trains at the word level"),
        ({"recipe": "awd-lstm", "dropout": 0.3}, "would change nothing"),
        ({"recipe": "nope"}, "unknown recipe 'nope'"),
    ],
)
def test_the_same_one_line_errors(kw, says):
    with pytest.raises(ConfigError, match=None) as e:
        configure(**kw)
    assert says in str(e.value) and "\n" not in str(e.value)


def test_the_cli_and_the_library_agree_on_every_option():
    """The library's schema (the configs' fields) is what the CLI declares: each
    train option's name, kind and choices."""
    from pytrnn.cli.train import NEGATIONS, SOURCE_OPTIONS, WLM_ALIASES, train

    hints = typing.get_type_hints(train)
    kinds = {int: "int", float: "float", bool: "bool", str: "str"}
    declared = {}
    for name, t in hints.items():
        if name in ("ctx", "return") or name in SOURCE_OPTIONS:
            continue
        if name in WLM_ALIASES or name in NEGATIONS:
            continue
        t = next((a for a in typing.get_args(t) if a is not type(None)), t)
        if isinstance(t, type) and issubclass(t, Enum):
            declared[name] = ("str", tuple(m.value for m in t))
        else:
            declared[name] = (kinds[t], ())
    library = {o.name: (o.kind, o.choices) for o in schema().values()}
    assert library == declared


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    for split, n in (("train.txt", 120), ("valid.txt", 12), ("test.txt", 12)):
        lines = [" ".join(rng.choice(words, 8)) for _ in range(n)]
        (d / split).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


def test_a_notebook_runs_a_recipe_as_the_cli_does(folder, tmp_path):
    """pytrnn.train(*pytrnn.configure(recipe="wlm", corpus=F, passes=1)) gives the
    parameters of ``pytrnn train --recipe wlm --corpus F --passes 1`` (its LSTM
    narrowed to 16, so the test compiles in seconds)."""
    cli_path, lib_path = tmp_path / "cli.npz", tmp_path / "lib.npz"
    common = {"sample_length": 0, "hidden": 16, "emsize": 16}
    r = invoke(
        "train",
        "--recipe",
        "wlm",
        "--corpus",
        folder,
        "--passes",
        1,
        "--sample-length",
        0,
        "--hidden",
        16,
        "--emsize",
        16,
        "--checkpoint",
        cli_path,
    )
    assert r.exit_code == 0, r.output
    run = pytrnn.configure(
        recipe="wlm",
        corpus=str(folder),
        passes=1,
        checkpoint=str(lib_path),
        **common,
    )
    assert run.model.lr == 20.0 and run.model.cell == "lstm"
    pytrnn.train(*run)
    a, b = ck.load(cli_path), ck.load(lib_path)
    assert a.params.keys() == b.params.keys()
    for k in a.params:
        assert a.params[k].tobytes() == b.params[k].tobytes(), k


def test_configs_by_concern():
    """#35 item 4: the network, the optimizer with its regularizers, the data and
    the run are four dataclasses, each field in one of them with its default and
    resume rule; RNNConfig and TrainConfig are their flat records (the
    checkpoint's and the graphs'), and split back into them."""
    from dataclasses import asdict, fields

    from pytrnn import DataConfig, ModelConfig, OptimConfig, RunConfig

    def names(cls):
        return [f.name for f in fields(cls)]

    for whole, parts in ((pytrnn.RNNConfig, (ModelConfig, OptimConfig)),
                         (pytrnn.TrainConfig, (DataConfig, RunConfig))):  # fmt: skip
        a, b = (set(names(p)) for p in parts)
        assert not a & b and a | b == set(names(whole))
        assert all("resume" in f.metadata for f in fields(whole))
    assert OptimConfig(optimizer="adam").lr == 0.001  # decided in its concern
    assert ModelConfig(init="wlm").two_biases is True
    assert (ModelConfig().hidden, OptimConfig().clip, DataConfig().batch,
            RunConfig().passes) == (100, 5.0, 1, 10)  # the notebook's  # fmt: skip
    c = pytrnn.configure(recipe="awd-lstm", corpus="data", tied=True)
    m, t = c.model, c.train
    assert (m.model.emsize, m.optim.wdrop, t.data.corpus) == (400, 0.5, "data")
    assert pytrnn.RNNConfig.of(m.model, m.optim) == m
    assert pytrnn.TrainConfig(**asdict(t.data), **asdict(t.run)) == t
    assert "variable_bptt" in names(OptimConfig) and "batch" in names(DataConfig)
