"""The command line through Typer's CliRunner: training, sampling, and bad input."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import one_line_error
from typer.testing import CliRunner

from pytrnn.cli.main import app

runner = CliRunner()
SMALL = ["--hidden", "8", "--window", "5", "--passes", "2", "--mode", "scan"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    for n in needles:
        assert n in err, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    corpus = d / "c.txt"
    corpus.write_text("hello world, hello there. " * 40, encoding="utf-8")
    ckpt = d / "m.npz"
    r = invoke(
        "train", "--corpus", corpus, "--checkpoint", ckpt, "--val-frac", "0.2", *SMALL
    )
    assert r.exit_code == 0, r.output
    return r, ckpt, corpus


def test_train_prints_the_notebook_line_and_a_sample(trained):
    r, ckpt, _ = trained
    lines = r.stdout.splitlines()
    its = [ln for ln in lines if ln.startswith("iteration=")]
    assert len(its) == 2
    assert its[0].startswith("iteration=1, iseq=") and ", ichar=0, loss=" in its[0]
    assert "val" in its[0] and "bits/char" in its[0]
    assert any("chars/s" in ln for ln in lines)
    assert ckpt.exists()


def test_sample_is_reproducible_and_primed(trained):
    _, ckpt, _ = trained
    a = invoke("sample", ckpt, "--seed", 1, "--length", 50, "--prime", "hello")
    b = invoke("sample", ckpt, "--seed", 1, "--length", 50, "--prime", "hello")
    c = invoke("sample", ckpt, "--seed", 2, "--length", 50, "--prime", "hello")
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout != c.stdout
    assert a.stdout.startswith("hello") and len(a.stdout.rstrip("\n")) == 55
    g = invoke("sample", ckpt, "--argmax", "--length", 20, "--prime", "hel")
    assert (
        g.exit_code == 0
        and g.stdout
        == invoke("sample", ckpt, "--argmax", "--length", 20, "--prime", "hel").stdout
    )


def test_sampler_carries_state_like_a_full_rerun(trained):
    """Stepping with a carried hidden state equals re-running the prefix with scan."""
    from pytrnn.data.corpora import Vocab
    from pytrnn.tools.generate import load_model

    model, ck = load_model(trained[1])
    vocab = Vocab(tuple(ck.vocab))
    ids = vocab.encode("hello wor")
    h = model.initial_state()
    for i in ids:
        h, logits = model.step(i, h)
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(p / p.sum(), model.predict_prob(ids), rtol=1e-10)


def test_resume_continues_to_the_same_parameters(trained, tmp_path):
    from pytrnn.runtime.checkpoint import load

    _, _, corpus = trained
    full, part = tmp_path / "full.npz", tmp_path / "part.npz"
    base = ["--corpus", corpus, "--hidden", "8", "--window", "5", "--mode", "scan"]
    assert invoke("train", *base, "--passes", 3, "--checkpoint", full).exit_code == 0
    assert invoke("train", *base, "--passes", 1, "--checkpoint", part).exit_code == 0
    r = invoke("train", "--resume", part, "--passes", 3, "--checkpoint", part)
    assert r.exit_code == 0, r.output
    a, b = load(full), load(part)
    assert b.passes_done == 3 and len(b.history) == 3
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_resume_conflict_names_both_values(trained, tmp_path):
    _, ckpt, _ = trained
    r = invoke(
        "train",
        "--resume",
        ckpt,
        "--passes",
        5,
        "--hidden",
        12,
        "--checkpoint",
        tmp_path / "x.npz",
    )
    assert_user_error(r, "hidden", "8", "12")


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "not found"),
        (b"", "empty"),
        (b"abc", "fewer than window+1"),
        (b"caf\xe9 au lait " * 10, "not valid UTF-8"),
    ],
)
def test_bad_corpus(tmp_path, content, needle):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    assert_user_error(
        invoke("train", "--corpus", path, *SMALL, "--checkpoint", tmp_path / "x.npz"),
        needle,
    )


@pytest.mark.parametrize(
    "opt,val", [("--hidden", 0), ("--window", 0), ("--lr", -1), ("--passes", 0)]
)
def test_bad_options(small_text, tmp_path, opt, val):
    args = [
        "train",
        "--corpus",
        small_text,
        "--checkpoint",
        tmp_path / "x.npz",
        opt,
        val,
    ]
    assert_user_error(invoke(*args), opt)


@pytest.mark.parametrize(
    "opt,val",
    [
        ("--dtype", "float16"),
        ("--mode", "loop"),
        ("--backend", "tpu"),
        ("--cell", "rnnn"),
        ("--optimizer", "sdg"),
        ("--layout", "lines"),
    ],
)
def test_choices_get_typers_own_message(small_text, tmp_path, opt, val):
    """Options with fixed values are declared so: Typer names the option, the bad
    value and the choices, in one line with exit code 2 (no box, no traceback)."""
    r = invoke(
        "train", "--corpus", small_text, "--checkpoint", tmp_path / "x.npz", opt, val
    )
    one_line_error(r, f"invalid value for '{opt}'", f"'{val}' is not one of")


def test_prime_outside_vocabulary_lists_the_chars(trained):
    _, ckpt, _ = trained
    assert_user_error(invoke("sample", ckpt, "--prime", "hé!Z"), "'Z'", "'é'", "'!'")


def test_missing_and_damaged_checkpoints(tmp_path, trained):
    assert_user_error(invoke("sample", tmp_path / "nope.npz"), "not found")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(trained[1].read_bytes()[:300])
    assert_user_error(invoke("sample", bad), "damaged")


def test_unknown_four_million_without_cache_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    assert_user_error(
        invoke("train", "--corpus", "four-million"),
        "pytrnn data fetch four-million",
        "--corpus PATH",
    )


def test_console_script_runs_from_any_directory(tmp_path):
    """The test command installs the package, so its console script must be there."""
    script = shutil.which("pytrnn", path=str(Path(sys.executable).parent))
    assert script, f"no pytrnn console script beside {sys.executable}"
    r = subprocess.run([script, "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0 and "train" in r.stdout


def test_module_entry_point(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pytrnn.cli", "train", "--hidden", "0"],
        capture_output=True,
        text=True,
        cwd=os.getcwd(),
    )
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --hidden")


def test_data_fetch_command_against_a_local_server(tmp_path, monkeypatch):
    """The command itself, not only fetch(): it downloads into the cache and says
    where; a failing address is one line and exit 2."""
    from helpers import serve

    body = b"The Four Million\r\n" * 6000  # at least the book's size
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    with serve({"/pg.txt": body}) as url:
        r = invoke("data", "fetch", "four-million", "--url", f"{url}/pg.txt")
        assert r.exit_code == 0, r.output
        assert r.stdout.strip() == f"saved four-million to {tmp_path / '4millions.txt'}"
        assert (tmp_path / "4millions.txt").read_bytes() == body
        assert_user_error(
            invoke("data", "fetch", "four-million", "--url", f"{url}/gone.txt"),
            "--corpus PATH",
        )
        assert_user_error(invoke("data", "fetch", "war-and-peace"), "unknown corpus")


def test_reproduce_command_prints_the_original_figures_beside_ours(
    tmp_path, monkeypatch
):
    """pytrnn reproduce --quick: a table of every figure with the original's value."""
    from pytrnn.tools.reproduce import ORIGINAL

    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))  # four-million not fetched
    r = invoke("reproduce", "--quick", "--mode", "scan")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "pydoc" in out and "pytrnn data fetch four-million" in out
    assert f"{ORIGINAL['in114']['loss']:.4f}" in out  # In[114], the original's loss
    for i in (1, 10):
        assert f"In[115] iteration={i}" in out
    assert f"{ORIGINAL['in115'][9]:.4f}" in out
    assert "In[107] iteration=2" in out and "In[107] iteration=3" not in out


def test_word_language_model_names_are_hidden_aliases(tmp_path):
    """--data, --epochs, --bptt and --nhid mean wlm's (--corpus, --passes, --window,
    --hidden): the same run either way, one name in the help, and two values for one
    option one line and exit 2."""
    from helpers import invoke, one_line_error

    from pytrnn.runtime import checkpoint as ck

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "train.txt").write_text("the cat sat on the mat . " * 40)
    common = ["--level", "word", "--layout", "stream", "--sample-length", 0]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    r = invoke(
        "train",
        "--data",
        corpus,
        "--epochs",
        1,
        "--bptt",
        6,
        "--nhid",
        8,
        *common,
        "--checkpoint",
        a,
    )
    assert r.exit_code == 0, r.output
    r = invoke(
        "train",
        "--corpus",
        corpus,
        "--passes",
        1,
        "--window",
        6,
        "--hidden",
        8,
        *common,
        "--checkpoint",
        b,
    )
    assert r.exit_code == 0, r.output
    ca, cb = ck.load(a), ck.load(b)
    assert ca.cfg == cb.cfg and ca.passes_done == cb.passes_done == 1
    for k in ca.params:
        np.testing.assert_array_equal(ca.params[k], cb.params[k])
    one_line_error(
        invoke(
            "train", "--epochs", 2, "--passes", 1, "--checkpoint", tmp_path / "x.npz"
        ),
        "--epochs is --passes",
    )
    help_text = invoke("train", "--help").stdout
    assert "--epochs" not in help_text and "--passes" in help_text


def test_every_help_reads_whole_at_80_columns(monkeypatch):
    """No entry of any command's --help is cut ("…") in an 80-column terminal."""
    from helpers import invoke

    monkeypatch.setenv("COLUMNS", "80")
    for command in (
        "train",
        "sample",
        "eval",
        "plot",
        "compare",
        "reproduce",
        "bench",
        "info",
        "data",
    ):
        out = invoke(command, "--help").stdout
        assert "Usage" in out and "…" not in out, command


def test_clip_values_off_and_bad(tmp_path):
    """--clip 0 turns the elementwise clip off (word_language_model clips only the
    norm); a negative --clip-norm is one line and exit 2."""
    from helpers import invoke, one_line_error

    from pytrnn.runtime import checkpoint as ck

    one_line_error(
        invoke("train", "--clip-norm", -1, "--checkpoint", tmp_path / "a.npz"),
        "--clip-norm must be positive (or 0: off)",
    )
    r = invoke(
        "train",
        "--hidden",
        8,
        "--window",
        10,
        "--limit-chars",
        3000,
        "--passes",
        1,
        "--clip",
        0,
        "--clip-norm",
        0.25,
        "--sample-length",
        0,
        "--checkpoint",
        tmp_path / "b.npz",
    )
    assert r.exit_code == 0, r.output
    cfg = ck.load(tmp_path / "b.npz").cfg
    assert (cfg.clip, cfg.clip_norm) == (0.0, 0.25)
