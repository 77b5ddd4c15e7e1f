"""``compare`` and ``plot`` with ten runs of a sweep: one row per run (their best
passes folded in), names cut to what differs, the run's own speed, and a PNG whose
title and legend lie inside it, drawn without a warning."""

import warnings

import numpy as np
import pytest
from helpers import invoke

import pytrnn
from pytrnn.graphs.params import init_params
from pytrnn.runtime import checkpoint as ck
from pytrnn.tools.compare import compare_runs, runs_figure


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Ten word runs (lr and ar swept) and each one's best pass, as a glob finds them."""
    d = tmp_path_factory.mktemp("sweep")
    paths = []
    for i in range(10):
        cfg = pytrnn.RNNConfig(vocab_size=5, hidden=4, lr=0.1 * (i + 1), ar=0.001 * i)
        hist = [
            {"pass": p, "train_ppl": 900 / p + i, "val_ppl": 600 / p**0.5 + 5 * i,
             "seconds": float(p), "words_per_s": 1000.0 * p}
            for p in range(1, 9)
        ]  # fmt: skip
        c = ck.Checkpoint(cfg=cfg.validate(), params=init_params(cfg, np.random.default_rng(0)),
                          vocab=list("abcde"), level="word", corpus="c", history=hist,
                          passes_done=8)  # fmt: skip
        for name in (
            f"sweep-lr{cfg.lr:g}-ar{cfg.ar:g}",
            f"sweep-lr{cfg.lr:g}-ar{cfg.ar:g}.best",
        ):
            ck.save(d / f"{name}.npz", c)
            paths.append(str(d / f"{name}.npz"))
    return d, sorted(paths)


def test_ten_runs_compare_readably(sweep, tmp_path):
    d, paths = sweep
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Tight layout not applied" and the like
        out, png = compare_runs(paths, tmp_path / "ten.png")
    rows = out["rows"]
    assert len(rows) == 10  # each .best.npz folded into its run
    assert rows[0]["name"] == "lr0.1-ar0"
    assert rows[0]["run"].endswith("sweep-lr0.1-ar0.npz")
    assert out["differ"] == ["ar", "lr"]
    # the run's own words/s: all its words over all its seconds, not the last pass's
    assert rows[0]["speed"] == pytest.approx(
        sum(1000.0 * p * p for p in range(1, 9)) / 36
    )
    assert png.stat().st_size > 20_000
    print(f"ten-run PNG: {png.stat().st_size:,} bytes")
    fig = runs_figure(paths)
    fig.canvas.draw()
    canvas = fig.bbox
    r = fig.canvas.get_renderer()
    for artist in [*fig.legends, fig.axes[0].title]:
        box = artist.get_window_extent(r)
        assert canvas.x0 <= box.x0 and box.x1 <= canvas.x1, artist
        assert canvas.y0 <= box.y0 and box.y1 <= canvas.y1, artist
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(set(labels[:10])) == 10  # every run told apart
    ticks = fig.axes[0].get_yticks()
    lo = min(min(line.get_ydata()) for line in fig.axes[0].get_lines())
    assert min(ticks) <= lo * 1.01  # a label at the bottom end of the data


def test_compare_prints_short_names_and_the_full_ones(sweep):
    _, paths = sweep
    r = invoke("compare", *paths)
    assert r.exit_code == 0, r.output
    assert "lr0.5-ar0.004" in r.stdout and "sweep-lr0.5-ar0.004.npz" in r.stdout
    assert "best" not in r.stdout.replace("best val", "")  # folded, not shown twice
