"""`--init-from` (#38 item 1): a new run from another checkpoint's weights, its shape
and vocabulary from the checkpoint, everything else its own."""

from pathlib import Path

import numpy as np
from helpers import invoke, one_line_error

import pytrnn
from pytrnn.data.words import read_units
from pytrnn.runtime import checkpoint as ck
from pytrnn.runtime import model as model_mod
from pytrnn.training.progress import PrintReporter

QUIET = PrintReporter(quiet=True)
FIX = Path(__file__).parents[1] / "fixtures"
LINES = [
    "the quick brown fox jumps over the lazy dog.",
    "a lazy dog sleeps; the fox runs (quickly) away!",
    "Is the dog lazy? The fox is quick, and brown.",
]
TEXT_A = "\n".join(LINES * 12) + "\n"
TEXT_B = "\n".join(LINES[::-1] * 10) + "\n"  # the same characters, another text


def run(tmp_path, name, model=None, **kw):
    cfg = dict(passes=1, checkpoint=str(tmp_path / name), sample_length=0,
               backend="jax", mode="scan", seed=4, **kw)  # fmt: skip
    return pytrnn.train(
        pytrnn.RNNConfig(**(model or dict(hidden=8, window=10))),
        pytrnn.TrainConfig(**cfg),
        reporter=QUIET,
    )


def test_fine_tuning_starts_from_the_checkpoints_arrays(tmp_path, monkeypatch):
    """A char model trained on one text, then one pass on another at its own rate
    and optimizer: bitwise the run that starts from set_params of the first's
    arrays (the same characters, so the same vocabulary), its optimizer state from
    zero; the checkpoint records where it started."""
    (tmp_path / "a.txt").write_text(TEXT_A)
    (tmp_path / "b.txt").write_text(TEXT_B)
    a = run(tmp_path, "a.npz", corpus=str(tmp_path / "a.txt"))
    tuned_model = dict(hidden=8, window=10, lr=0.05, optimizer="adam")
    b = str(tmp_path / "b.txt")
    tuned = run(tmp_path, "t.npz", tuned_model, corpus=b, init_from=a.path)
    first = a.checkpoint.params
    monkeypatch.setattr(model_mod, "init_params", lambda cfg, rng: dict(first))
    ref = run(tmp_path, "r.npz", tuned_model, corpus=b)
    assert tuned.checkpoint.vocab == ref.checkpoint.vocab == a.checkpoint.vocab
    for k in first:
        assert np.array_equal(tuned.checkpoint.params[k], ref.checkpoint.params[k]), k
        assert not np.array_equal(tuned.checkpoint.params[k], first[k]), k
    for k in ref.checkpoint.opt_state:
        assert np.array_equal(
            tuned.checkpoint.opt_state[k], ref.checkpoint.opt_state[k]
        )
    assert tuned.checkpoint.passes_done == 1
    assert tuned.checkpoint.run.train["init_from"] == str(a.path)


def test_shape_options_are_the_checkpoints(tmp_path):
    """Typed options that would change the model are refused in one line; untyped
    ones (a recipe's, defaults) take the checkpoint's; --init and --resume too."""
    (tmp_path / "a.txt").write_text(TEXT_A)
    a = run(tmp_path, "a.npz", corpus=str(tmp_path / "a.txt"))
    base = ["train", "--corpus", tmp_path / "a.txt", "--init-from", a.path,
            "--checkpoint", tmp_path / "x.npz", "--passes", "1"]  # fmt: skip
    for extra, needle in [
        (["--hidden", "16"], "--hidden 16 would change the model"),
        (["--cell", "lstm"], "--cell lstm would change the model"),
        (["--layers", "2"], "--layers 2 would change"),
        (["--level", "word"], "--level word would change"),
        (["--init", "wlm"], "leave out --init"),
        (
            ["--level", "word", "--vocab-size", "50"],
            "--vocab-size would change nothing",
        ),
        (["--resume", a.path], "--init-from"),  # a resumed run keeps its own
        (["--dropouti", "0.5"], "has none: type --dropouti 0"),  # not "add --emsize"
    ]:
        assert "--emsize" not in one_line_error(invoke(*base, *extra), needle)
    assert not (tmp_path / "x.npz").exists()
    r = invoke(*base, "--hidden", "8", "--lr", "0.02", "--sample-length", "0")
    assert r.exit_code == 0, r.output
    assert ck.load(tmp_path / "x.npz").cfg.hidden == 8


def test_words_outside_the_vocabulary_are_counted(tmp_path):
    """A word model fine-tuned on a text with new words: each is <unk>, and the
    count it prints is the plain count of words its vocabulary lacks."""
    for name, text in (("a", TEXT_A), ("b", TEXT_B + "zebras graze slowly.\n" * 3)):
        (tmp_path / f"{name}.txt").write_text(text)
    words = dict(level="word", layout="stream", batch=2)
    a = run(tmp_path, "a.npz", dict(hidden=8, window=5, emsize=8),
            corpus=str(tmp_path / "a.txt"), **words)  # fmt: skip
    lines = []

    class Lines(PrintReporter):
        def line(self, text):
            lines.append(text)

    pytrnn.train(pytrnn.RNNConfig(hidden=8, window=5, lr=0.1),
                 pytrnn.TrainConfig(corpus=str(tmp_path / "b.txt"), passes=1,
                                    init_from=str(a.path), sample_length=0,
                                    checkpoint=str(tmp_path / "w.npz"), backend="jax",
                                    mode="scan", **words),
                 reporter=Lines())  # fmt: skip
    vocab = set(a.checkpoint.vocab)
    known = a.checkpoint.run
    read = read_units(
        TEXT_B + "zebras graze slowly.\n" * 3, known.tokenizer, known.lower
    )
    plain = sum(1 for line in read for w in line if w not in vocab)
    assert plain > 0
    assert any(f" {plain} of " in ln and "<unk>" in ln for ln in lines), lines


def test_print_config_shows_the_run_it_will_be(tmp_path):
    """With --init-from, the printed file holds the checkpoint's shape (not the
    recipe's), no --init, and reads back to itself."""
    fixture = FIX / "word-0.1.0.npz"
    r = invoke("train", "--recipe", "wlm", "--init-from", fixture, "--print-config")
    assert r.exit_code == 0, r.output
    toml = r.stdout
    assert "hidden = 8\n" in toml and 'cell = "rnn"' in toml and "layers = 1\n" in toml
    assert "emsize" not in toml and "\ninit = " not in toml
    (tmp_path / "run.toml").write_text(toml)
    again = invoke("train", "--config", tmp_path / "run.toml", "--print-config")
    assert again.exit_code == 0 and again.stdout == toml, again.output


def test_embedding_options_wait_for_the_checkpoints_shape(tmp_path):
    """A typed --dropouti needs an embedding: with --init-from, the checkpoint's
    (not the options' none) decides; it was refused with "add --emsize" before."""
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat .\na dog sat .\n" * 30)
    common = ["--corpus", text, "--passes", "1", "--sample-length", "0"]
    r = invoke("train", *common, "--level", "word", "--emsize", "8", "--hidden", "8",
               "--checkpoint", tmp_path / "e.npz")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = invoke("train", *common, "--init-from", tmp_path / "e.npz", "--dropouti",
               "0.5", "--checkpoint", tmp_path / "f.npz")  # fmt: skip
    assert r.exit_code == 0, r.output
    tuned = ck.load(tmp_path / "f.npz").cfg
    assert (tuned.dropouti, tuned.emsize) == (0.5, 8)
