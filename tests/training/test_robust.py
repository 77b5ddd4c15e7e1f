"""Runs that survive: interrupts, divergence, logs, plots, and fuzzed input."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import signal_once_training
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pytrnn.cli.main import app
from pytrnn.data.corpora import Vocab, load_corpus
from pytrnn.data.words import split_sentences, tokenize
from pytrnn.errors import CheckpointError, ConfigError, CorpusError
from pytrnn.runtime import checkpoint as ck

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
BASE = ["--hidden", "16", "--window", "10", "--limit-chars", "60000", "--seed", "4"]


def cli(*args, cwd=None):
    return subprocess.Popen(
        [sys.executable, "-m", "pytrnn.cli", *map(str, args)],
        cwd=cwd or ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_sigint_saves_and_resume_matches_an_unstopped_run(tmp_path):
    full, cut = tmp_path / "full.npz", tmp_path / "cut.npz"
    proc = cli("train", *BASE, "--passes", "40", "--checkpoint", cut)
    out, err = signal_once_training(proc, signal.SIGINT, 1.0)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    stopped = ck.load(cut)
    assert stopped.passes_done < 40
    done = stopped.passes_done + 1  # finish the interrupted pass and one more
    r = runner.invoke(
        app,
        [
            "train",
            "--resume",
            str(cut),
            "--passes",
            str(done + 1),
            "--checkpoint",
            str(cut),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["train", *BASE, "--passes", str(done + 1), "--checkpoint", str(full)]
    )
    assert r.exit_code == 0, r.output
    a, b = ck.load(full), ck.load(cut)
    assert a.iseq == b.iseq and a.passes_done == b.passes_done == done + 1
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert [h["loss"] for h in a.history] == pytest.approx(
        [h["loss"] for h in b.history]
    )


def test_divergence_stops_with_exit_2_and_keeps_the_checkpoint(tmp_path):
    path = tmp_path / "m.npz"
    args = [
        "train",
        "--hidden",
        "8",
        "--window",
        "10",
        "--limit-chars",
        "3000",
        "--checkpoint",
        str(path),
    ]
    assert runner.invoke(app, [*args, "--passes", "1"]).exit_code == 0
    before = path.read_bytes()
    # even a run allowed to replace it keeps it until it has a good pass to write
    r = runner.invoke(app, [*args, "--passes", "2", "--lr", "1e200", "--overwrite"])
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert (
        len(err.splitlines()) == 1 and "pass 1, window" in err and "inf" in err.lower()
    )
    assert path.read_bytes() == before


def test_log_writes_one_json_line_per_pass_and_plot_draws_it(tmp_path):
    path, log, png = tmp_path / "m.npz", tmp_path / "run.jsonl", tmp_path / "loss.png"
    r = runner.invoke(
        app,
        [
            "train",
            "--hidden",
            "8",
            "--window",
            "10",
            "--limit-chars",
            "5000",
            "--val-frac",
            "0.2",
            "--passes",
            "3",
            "--checkpoint",
            str(path),
            "--log",
            str(log),
        ],
    )
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["run"]["model"]["hidden"] == ck.load(path).cfg.hidden  # the run
    assert lines[0]["run"]["train"]["passes"] == 3
    records = lines[1:]
    assert [x["pass"] for x in records] == [1, 2, 3]
    assert records == ck.load(path).history
    assert {"loss", "train_bpc", "val_bpc", "val_loss", "chars_per_s"} <= set(
        records[0]
    )
    r = runner.invoke(app, ["plot", str(path), "-o", str(png)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


# -- fuzzing: only the documented errors, never a crash or a hang -------------------

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_corpus_files(tmp_path, raw):
    path = tmp_path / "c.txt"
    path.write_bytes(raw)
    try:
        name, text = load_corpus(str(path))
    except CorpusError:
        return
    v = Vocab.from_text(text)
    assert v.decode(v.encode(text)) == text


@FUZZ
@given(st.text(max_size=300), st.booleans())
def test_fuzz_tokenizer(text, lower):
    toks = tokenize(text, lower)
    source = text.lower() if lower else text
    assert all(t and not t.isspace() and t in source for t in toks)
    for s in split_sentences(text, lower):
        assert s and all(t in toks for t in s)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("fz") / "m.npz"
    r = runner.invoke(
        app,
        [
            "train",
            "--hidden",
            "4",
            "--window",
            "5",
            "--passes",
            "1",
            "--limit-chars",
            "400",
            "--checkpoint",
            str(path),
        ],
    )
    assert r.exit_code == 0, r.output
    return path


@FUZZ
@given(prime=st.text(max_size=30))
def test_fuzz_prime(tiny_ckpt, prime):
    from pytrnn.tools.generate import generate

    try:
        out = generate(tiny_ckpt, length=5, prime=prime, seed=1)
    except ConfigError as e:
        assert "outside the vocabulary" in str(e)
        return
    assert out.startswith(prime) and len(out) == len(prime or "x") + 5


@FUZZ
@given(data=st.data())
def test_fuzz_checkpoint_bytes(tiny_ckpt, tmp_path, data):
    raw = bytearray(tiny_ckpt.read_bytes())
    mode = data.draw(st.sampled_from(["flip", "truncate", "random"]))
    if mode == "flip":
        for i in data.draw(
            st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)
        ):
            raw[i] ^= data.draw(st.integers(1, 255))
    elif mode == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw = bytearray(data.draw(st.binary(max_size=2000)))
    path = tmp_path / "f.npz"
    path.write_bytes(bytes(raw))
    try:
        ck.load(path)
    except CheckpointError:
        pass
