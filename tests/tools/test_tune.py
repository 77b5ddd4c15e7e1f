"""``pytrnn tune`` (#38 item 3): each best setting is the least valid loss of its
grid as ``eval``'s own computations score valid (the cache's stored states
against its streaming pass, dynamic evaluation, both together), each test figure
is the one the printed ``eval`` command prints, and bad grids are one line."""

import math
import re
import shlex

import pytest
from helpers import invoke, one_line_error

from pytrnn.runtime.cache import Cache, cache_loss
from pytrnn.runtime.dynamic import Dynamic
from pytrnn.runtime.scoring import EVAL_STREAMS
from pytrnn.tools import tune as tuning
from pytrnn.tools.dynamic_stats import adapted_loss
from pytrnn.tools.evaluate import stream_text
from pytrnn.tools.generate import load_model

LINES = ["the cat sat on the mat .", "a dog sat on a cat .", "the dog saw the cat .",
         "a cat saw the dog on the mat ."]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny word-stream LSTM, one pass over a standard-layout folder."""
    d = tmp_path_factory.mktemp("tune")
    for name, k in (("train", 40), ("valid", 36), ("test", 30)):
        (d / f"{name}.txt").write_text("\n".join(LINES[i % 4] for i in range(k)) + "\n")
    ck = d / "m.npz"
    r = invoke("train", "--corpus", d, "--level", "word", "--cell", "lstm",
               "--hidden", 8, "--emsize", 8, "--window", 5, "--batch", 2,
               "--passes", 1, "--carry-state", "--checkpoint", ck,
               "--sample-length", 0)  # fmt: skip
    assert r.exit_code == 0, r.output
    return d, ck


GRID = tuning.Grid(windows=(4, 12), thetas=(0.5,), lambdas=(0.3,), lrs=(0.01, 0.2),
                   decays=(0.05,))  # fmt: skip


def test_each_best_is_the_grids_least_valid_loss(trained):
    d, ck = trained
    rows, info = tuning.tune(ck, d / "valid.txt", d / "test.txt", GRID, Dynamic(0.0),
                             say=lambda line: None)  # fmt: skip
    assert [r.name for r in rows] == ["static", "cache", "dynamic", "both"]
    model, c = load_model(ck)
    ids, _ = stream_text(c, (d / "valid.txt").read_text())
    L, n = c.cfg.window, len(ids) - 1
    streamed = {cache: cache_loss(model, ids, L, cache, True, EVAL_STREAMS)
                for cache in GRID.caches()}  # fmt: skip
    per = {k: v[0] / v[1] for k, v in streamed.items()}
    assert rows[1].valid == pytest.approx(per[rows[1].cache], rel=1e-12)
    assert rows[1].valid == pytest.approx(min(per.values()), rel=1e-12)
    dyn = {dy: adapted_loss(model, c, ck, ids, dy)[0] / n
           for dy in GRID.dynamics(Dynamic(0.0))}  # fmt: skip
    assert rows[2].valid == pytest.approx(min(dyn.values()), rel=1e-12)
    assert rows[2].valid == pytest.approx(dyn[rows[2].dynamic], rel=1e-12)
    both = {cache: adapted_loss(model, c, ck, ids, rows[2].dynamic, cache)[0] / n
            for cache in GRID.caches()}  # fmt: skip
    assert rows[3].dynamic == rows[2].dynamic
    assert rows[3].valid == pytest.approx(min(both.values()), rel=1e-12)
    assert rows[3].valid == pytest.approx(both[rows[3].cache], rel=1e-12)
    assert len(set(per.values())) == len(set(dyn.values())) == 2  # a real choice
    assert info["valid_tokens"] == n


def test_the_printed_commands_print_the_test_figures(trained):
    d, ck = trained
    r = invoke("tune", ck, "--valid", d / "valid.txt", "--test", d / "test.txt",
               "--cache-windows", "4,12", "--cache-thetas", "0.5", "--cache-lambdas",
               "0.3", "--dynamic-lrs", "0.01,0.2", "--dynamic-decays", "0.05")  # fmt: skip
    assert r.exit_code == 0, r.output
    figures = re.findall(r"^(static|cache|dynamic|both)\b.*?([\d.]+)\s+([\d.]+)\s",
                         r.stdout, re.M)  # fmt: skip
    commands = re.findall(r"^(static|cache|dynamic|both): (pytrnn eval .*)$",
                          r.stdout, re.M)  # fmt: skip
    assert [f[0] for f in figures] == [c[0] for c in commands] == [
        "static", "cache", "dynamic", "both"]  # fmt: skip
    for (_, _, test), (_, cmd) in zip(figures, commands):
        got = invoke(*shlex.split(cmd)[1:])
        assert got.exit_code == 0, got.output
        ppl = float(re.search(r"ppl=([\d.]+)", got.stdout).group(1))
        assert ppl == pytest.approx(float(test), abs=0.006)
    assert "dynamic evaluation" in got.stdout and "neural cache" in got.stdout


def test_bad_tune_input_is_one_line(trained):
    d, ck = trained
    v, t = d / "valid.txt", d / "test.txt"
    one_line_error(invoke("tune", ck, "--valid", d / "none.txt", "--test", t),
                   "--valid", "no such file")  # fmt: skip
    one_line_error(invoke("tune", ck, "--valid", v, "--test", t, "--no-cache",
                          "--no-dynamic"), "nothing to tune")  # fmt: skip
    one_line_error(invoke("tune", ck, "--valid", v, "--test", t, "--no-cache",
                          "--cache-windows", "5"), "--no-cache")  # fmt: skip
    one_line_error(invoke("tune", ck, "--valid", v, "--test", t, "--cache-thetas",
                          "a,b"), "--cache-thetas takes numbers")  # fmt: skip
    one_line_error(invoke("tune", ck, "--valid", v, "--test", t, "--cache-windows",
                          "9000", "--no-dynamic"), "not shorter")  # fmt: skip
    one_line_error(invoke("eval", ck, "--corpus", t, "--dynamic-lr", "0.1",
                          "--batch", "3"), "--batch would change nothing")  # fmt: skip
    assert math.isfinite(Cache(4, 0.5, 0.3).validate().theta)
