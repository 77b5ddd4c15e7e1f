"""Per-token scores (#37 item 2): `eval --per-token` and `pytrnn score` against a
numpy forward of the checkpoint's own arrays, and the surprisals adding up to the
figure `eval` prints, through every way eval cuts a text (windows from zero,
carried streams, the cache, sentences)."""

import math
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, one_line_error
from numpy_cells import forward
from typer.testing import CliRunner

from pytrnn.cli.main import app
from pytrnn.runtime import checkpoint as ck
from pytrnn.runtime.cache import Cache
from pytrnn.tools.evaluate import evaluate
from pytrnn.tools.generate import load_model
from pytrnn.tools.surprisal import scored_rows, sentence_rows

FIX = Path(__file__).parents[1] / "fixtures"
WORDS = "the cat sat on the mat .\na dog sat on a cat .\nthe dog saw the cat .\n" * 6
CHARS = "the cat sat on the mat. a dog saw it.\n" * 8


def numpy_stats(P, x, y):
    """Surprisal and entropy in bits and rank of y after x, one window from h = 0."""
    _, p, _ = forward("rnn", 1, P, np.asarray(x))
    own = p[np.arange(len(y)), y]
    ent = -(p * np.log(p)).sum(axis=1) / math.log(2)
    rank = 1 + (p > own[:, None]).sum(axis=1)
    return -np.log2(own), ent, rank


def test_rows_are_numpys_and_add_up_to_evals_figure(tmp_path):
    """The word fixture scores consecutive windows from h = 0: each window's rows
    against a numpy forward of the checkpoint's arrays; the file's surprisals sum
    to eval's loss."""
    text = tmp_path / "t.txt"
    text.write_text(WORDS)
    path = FIX / "word-0.1.0.npz"
    out = tmp_path / "rows.tsv"
    r = evaluate(path, text, per_token=out, guesses=3)
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == ["position", "token", "surprisal", "entropy",
                                    "rank", "guess1", "p1", "guess2", "p2",
                                    "guess3", "p3"]  # fmt: skip
    assert len(lines) - 1 == r["words"]
    bits = sum(float(ln.split("\t")[2]) for ln in lines[1:])
    assert bits * math.log(2) / r["words"] == pytest.approx(
        r["loss_per_word"], rel=1e-5
    )
    model, c = load_model(path)
    ids = np.asarray(
        [i for s in WORDS.splitlines() for i in [*map(c.vocab.index, s.split()), 2]]
    )
    rows = scored_rows(model, c, ids, c.cfg.window, False, 10, 2)
    total = sum(s for _, _, (s, *_rest) in rows)
    assert total * math.log(2) / r["words"] == pytest.approx(
        r["loss_per_word"], rel=1e-12
    )
    L = c.cfg.window
    for i in range(0, len(ids) - 1, L):
        n = min(L, len(ids) - 1 - i)
        s, e, rank = numpy_stats(c.params, ids[i : i + n], ids[i + 1 : i + 1 + n])
        got = [row for row in rows if i < row[0][0] <= i + n]
        np.testing.assert_allclose([g[2][0] for g in got], s, rtol=1e-10)
        np.testing.assert_allclose([g[2][1] for g in got], e, rtol=1e-10)
        assert [g[2][2] for g in got] == list(rank)
        assert [g[0][0] for g in got] == list(range(i + 1, i + 1 + n))
    guess = rows[0][2][3]
    _, p, _ = forward("rnn", 1, c.params, ids[:1])
    assert [t for t, _ in guess] == list(np.argsort(-p[0], kind="stable")[:2])


def test_carried_streams_and_the_cache_add_up(tmp_path):
    """The char fixture carries its state (wlm's 10 streams); with the cache on,
    the mixed distribution is the one scored and its surprisals give the cache's
    figure."""
    text = tmp_path / "t.txt"
    text.write_text(CHARS)
    path = FIX / "char-0.1.0.npz"
    assert ck.load(path).run.carry_state
    for cache in (None, Cache(20, 1.0, 0.3)):
        out = tmp_path / "c.tsv"
        r = evaluate(path, text, cache=cache, per_token=out)
        lines = out.read_text().splitlines()[1:]
        assert len(lines) == r["chars"]
        positions = [int(ln.split("\t")[0]) for ln in lines]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        nats = sum(float(ln.split("\t")[2]) for ln in lines) * math.log(2)
        assert nats / r["chars"] == pytest.approx(r["loss_per_char"], rel=1e-5)


def test_sentences_each_from_zero(tmp_path):
    """A sentence-layout view: every sentence from the initial state, each equal
    to a numpy forward of [START, words] -> [words, END]."""
    model, c = load_model(FIX / "word-0.1.0.npz")
    seqs = [
        (np.array([2, 3, 7]), np.array([3, 7, 2])),
        (np.array([2, 5]), np.array([5, 2])),
    ]
    rows = sentence_rows(model, seqs, 0)
    assert [r[0] for r in rows] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    for k, (x, y) in enumerate(seqs):
        s, e, rank = numpy_stats(c.params, x, y)
        got = [r[2] for r in rows if r[0][0] == k]
        np.testing.assert_allclose([g[0] for g in got], s, rtol=1e-10)
        assert [g[2] for g in got] == list(rank)


def test_score_reads_sentences_from_standard_input():
    """Three sentences piped in: a row per word and one for the line's end, each
    sentence from zero (so a sentence scores alike wherever it comes); --carry
    changes the later ones."""
    text = "the cat sat on the mat .\na dog sat .\nthe cat sat on the mat .\n"
    path = str(FIX / "word-0.1.0.npz")
    r = CliRunner().invoke(app, ["score", path], input=text)
    assert r.exit_code == 0, r.output
    rows = [ln.split("\t") for ln in r.stdout.splitlines()]
    assert rows[0][:3] == ["sentence", "position", "token"]
    by = {}
    for row in rows[1:]:
        by.setdefault(row[0], []).append(row)
    assert [len(by[k]) for k in "012"] == [8, 5, 8]
    assert [row[2] for row in by["1"]] == ["a", "dog", "sat", ".", "</s>"]
    assert [row[3:] for row in by["0"]] == [row[3:] for row in by["2"]]
    carried = CliRunner().invoke(app, ["score", path, "--carry"], input=text)
    crow = [ln.split("\t") for ln in carried.stdout.splitlines()[1:]]
    assert crow[:8] == rows[1:9] and crow[13:] != rows[14:]


def test_bad_per_token_options_are_one_line(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(WORDS)
    path = str(FIX / "word-0.1.0.npz")
    one_line_error(
        invoke("eval", path, "--corpus", text, "--guesses", "2"), "--per-token"
    )
    one_line_error(
        invoke("eval", path, "--corpus", text, "--per-token", path), "an input"
    )
    one_line_error(invoke("eval", path, "--corpus", text, "--per-token", tmp_path),
                   "is a folder")  # fmt: skip
    r = CliRunner().invoke(app, ["score", path], input="\n\n")
    one_line_error(r, "no sentences")
