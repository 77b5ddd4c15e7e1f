"""Recipes and config files: ``--recipe``, ``--config FILE.toml``, ``--print-config``
and ``pytrnn recipes``; the command line over the file over the recipe; the
checkpoint keeps what they resolved to, so ``--resume`` needs neither; bad values
one line and exit 2."""

import pytest
import tomllib
from helpers import invoke, one_line_error

from pytrnn.runtime import checkpoint as ck

# word_language_model/main.py's argparse defaults, transcribed from its source
WLM_MAIN = {
    "emsize": 200,
    "nhid": 200,
    "nlayers": 2,
    "lr": 20.0,
    "clip": 0.25,
    "epochs": 40,
    "batch_size": 20,
    "bptt": 35,
    "dropout": 0.2,
    "seed": 1111,
    "model": "LSTM",
}


def printed(*args) -> dict:
    r = invoke("train", *args, "--print-config")
    assert r.exit_code == 0, r.output
    return tomllib.loads(r.stdout)


def test_wlm_recipe_is_wlm_main_defaults():
    c = printed("--recipe", "wlm")
    assert (c["emsize"], c["hidden"], c["layers"]) == (
        WLM_MAIN["emsize"],
        WLM_MAIN["nhid"],
        WLM_MAIN["nlayers"],
    )
    assert (c["lr"], c["clip-norm"], c["passes"]) == (
        WLM_MAIN["lr"],
        WLM_MAIN["clip"],
        WLM_MAIN["epochs"],
    )
    assert (c["batch"], c["window"], c["dropout"], c["seed"]) == (
        WLM_MAIN["batch_size"],
        WLM_MAIN["bptt"],
        WLM_MAIN["dropout"],
        WLM_MAIN["seed"],
    )
    assert c["cell"] == WLM_MAIN["model"].lower()
    # the rest of its recipe: its loss, clipping, schedule, data and init
    assert (c["loss-scale"], c["clip"], c["reg"], c["init"]) == (
        "token",
        0.0,
        0.0,
        "wlm",
    )
    assert c["anneal-on-plateau"] and c["carry-state"] and c["layout"] == "stream"
    assert (c["tokenizer"], c["level"], c["dtype"]) == ("whitespace", "word", "float32")
    assert "tied" not in c  # wlm's --tied is pytrnn's --tied


# salesforce/awd-lstm-lm main.py's argparse defaults, and its README's two commands
AWD_MAIN = {
    "model": "LSTM",
    "emsize": 400,
    "nhid": 1150,
    "nlayers": 3,
    "lr": 30.0,
    "clip": 0.25,
    "batch_size": 80,
    "bptt": 70,
    "dropout": 0.4,
    "dropouth": 0.3,
    "dropouti": 0.65,
    "dropoute": 0.1,
    "wdrop": 0.5,
    "seed": 1111,
    "nonmono": 5,
    "alpha": 2.0,
    "beta": 1.0,
    "wdecay": 1.2e-6,
    "optimizer": "sgd",
}
AWD_README = {
    "awd-lstm": {"dropouth": 0.2, "seed": 1882},
    "awd-lstm-ptb": {"batch_size": 20, "dropouti": 0.4, "dropouth": 0.25, "seed": 141},
}


@pytest.mark.parametrize("name", ["awd-lstm", "awd-lstm-ptb"])
def test_awd_recipes_are_its_readme_commands(name):
    a = {**AWD_MAIN, **AWD_README[name]}
    c = printed("--recipe", name)
    assert (c["cell"], c["emsize"], c["hidden"], c["layers"]) == (
        a["model"].lower(),
        a["emsize"],
        a["nhid"],
        a["nlayers"],
    )
    assert (c["lr"], c["clip-norm"], c["batch"], c["window"], c["seed"]) == (
        a["lr"],
        a["clip"],
        a["batch_size"],
        a["bptt"],
        a["seed"],
    )
    assert (c["dropouto"], c["dropouth"], c["dropouti"], c["dropoute"], c["wdrop"]) == (
        a["dropout"],
        a["dropouth"],
        a["dropouti"],
        a["dropoute"],
        a["wdrop"],
    )
    assert (c["nt-asgd"], c["ar"], c["tar"], c["wdecay"], c["optimizer"]) == (
        a["nonmono"],
        a["alpha"],
        a["beta"],
        a["wdecay"],
        a["optimizer"],
    )
    # the rest of its recipe: tied (its default), locked dropout, variable BPTT,
    # its mean-per-token loss, carried state, no L2 or elementwise clip
    assert c["tied"] and c["locked-dropout"] and c["variable-bptt"] and c["carry-state"]
    assert (c["loss-scale"], c["clip"], c["reg"], c["init"]) == (
        "token",
        0.0,
        0.0,
        "wlm",
    )
    assert c["passes"] == 10  # pytrnn's default, printed: AWD's 750 are a GPU's


def test_typed_over_file_over_recipe_and_the_print_reads_back(tmp_path):
    f = tmp_path / "my.toml"
    f.write_text("hidden = 64\nemsize = 64\nclip-norm = 0.5\nlr = 10\n")
    c = printed("--recipe", "wlm", "--config", f, "--lr", 5, "--tied")
    assert (c["hidden"], c["emsize"], c["clip-norm"], c["lr"], c["tied"]) == (
        64,
        64,
        0.5,
        5.0,
        True,
    )
    assert c["cell"] == "lstm"  # the recipe's, under the file
    again = tmp_path / "again.toml"
    again.write_text(
        invoke(
            "train",
            "--config",
            f,
            "--recipe",
            "wlm",
            "--lr",
            5,
            "--tied",
            "--print-config",
        ).stdout
    )
    assert printed("--config", again) == c


def test_notebook_recipe_is_the_defaults():
    assert printed("--recipe", "notebook") == printed()


def test_recipes_lists_every_recipe():
    r = invoke("recipes")
    assert r.exit_code == 0
    assert [line.split(":")[0] for line in r.stdout.splitlines()] == [
        "notebook",
        "wlm",
        "awd-lstm",
        "awd-lstm-ptb",
        "char-rnn",
    ]
    assert "--optimizer rmsprop" in r.stdout and "--loss-scale token" in r.stdout


@pytest.mark.parametrize(
    "toml, needle",
    [
        ("clipnorm = 1\n", "unknown option 'clipnorm'"),
        ('clip-norm = "big"\n', "clip-norm must be a float"),
        ("layers = 2.5\n", "layers must be an int"),
        ('cell = "tree"\n', "cell must be one of rnn, gru, lstm"),
        ("tied = 1\n", "tied must be a bool"),
        ("a = [\n", "is not valid TOML"),
        ("[train]\nlr = 1\n", "at the top level"),
    ],
)
def test_a_bad_config_file_is_one_line(tmp_path, toml, needle):
    f = tmp_path / "bad.toml"
    f.write_text(toml)
    one_line_error(invoke("train", "--config", f), needle)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--recipe", "awd"], "unknown recipe 'awd'"),
        (["--config", "nowhere.toml"], "--config file not found"),
        (
            ["--level", "word", "--emsize", 8, "--hidden", 16, "--tied"],
            "--tied needs --emsize equal to --hidden",
        ),
        (["--level", "word", "--emsize", 0], "--emsize must be at least 1"),
        (["--clip-norm", -1], "--clip-norm must be positive"),
    ],
)
def test_bad_values_are_one_line(args, needle):
    one_line_error(invoke("train", *args), needle)


def test_a_standard_folder_without_train_txt_is_one_line(tmp_path):
    (tmp_path / "valid.txt").write_text("a b\n")
    one_line_error(
        invoke("train", "--recipe", "wlm", "--corpus", tmp_path), "no train.txt"
    )


def test_the_checkpoint_keeps_what_the_recipe_resolved(tmp_path):
    """A tiny wlm-recipe run; resumed with neither the recipe nor the file, it goes
    on with the same model and run options."""
    d = tmp_path / "wt"
    d.mkdir()
    (d / "train.txt").write_text(" = A = \n\n the cat sat on the mat <unk> .\n" * 12)
    (d / "valid.txt").write_text(" the cat sat .\n" * 3)
    path = tmp_path / "w.npz"
    small = [
        "--emsize",
        6,
        "--hidden",
        6,
        "--tied",
        "--batch",
        2,
        "--window",
        5,
        "--sample-length",
        0,
    ]
    r = invoke(
        "train",
        "--recipe",
        "wlm",
        "--corpus",
        d,
        *small,
        "--passes",
        1,
        "--checkpoint",
        path,
    )
    assert r.exit_code == 0, r.output
    c = ck.load(path)
    assert (c.cfg.cell, c.cfg.layers, c.cfg.emsize, c.cfg.tied) == ("lstm", 2, 6, True)
    assert (c.cfg.loss_scale, c.cfg.clip_norm, c.cfg.init) == ("token", 0.25, "wlm")
    assert c.run.train["tokenizer"] == "whitespace" and c.run.carry_state
    assert c.run.schedule["anneal_on_plateau"] is True
    r = invoke("train", "--resume", path, "--passes", 2, "--sample-length", 0)
    assert r.exit_code == 0, r.output
    again = ck.load(path)
    assert again.passes_done == 2 and again.cfg == c.cfg
