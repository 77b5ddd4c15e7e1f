"""``pytrnn compare`` and ``pytrnn plot`` over several runs, from checkpoints the
tests write themselves (real configs and parameters, made-up histories)."""

import numpy as np
import pytest
from typer.testing import CliRunner

import pytrnn
from pytrnn.cli.main import app
from pytrnn.graphs.optim import init_state
from pytrnn.graphs.params import init_params
from pytrnn.runtime import checkpoint as ckpt_io
from pytrnn.tools.compare import compare, differences, load_runs

PNG = b"\x89PNG\r\n\x1a\n"


def make_run(path, level="word", val=(300.0, 200.0, 210.0), train=None, **cfg_kw):
    cfg = pytrnn.RNNConfig(vocab_size=6, hidden=4, **cfg_kw)
    key = (
        ("val_ppl", "train_ppl", "words_per_s")
        if level == "word"
        else ("val_bpc", "train_bpc", "chars_per_s")
    )
    history = [
        {
            "pass": i + 1,
            "loss": 1.0,
            key[0]: v,
            key[1]: v * 1.5,
            key[2]: 1000.0 + i,
            "train_word_loss": np.log(v * 1.5),
        }
        for i, v in enumerate(val)
    ]
    ck = ckpt_io.Checkpoint(
        cfg=cfg,
        params=init_params(cfg, np.random.default_rng(0)),
        vocab=list("abcdef"),
        level=level,
        passes_done=len(val),
        history=history,
        run=ckpt_io.RunInfo(
            train={"batch": 1, "layout": None, **(train or {})}, test={"ppl": 190.0}
        ),
        opt_state=init_state(cfg),
    )
    ckpt_io.save(path, ck)
    return path


def test_compare_names_only_what_differs(tmp_path):
    a = make_run(tmp_path / "a.npz")
    b = make_run(tmp_path / "b.npz", cell="gru", val=(250.0, 150.0))
    out = compare([a, b])
    assert out["differ"] == ["cell"]
    ra, rb = out["rows"]
    assert (ra["cell"], rb["cell"]) == ("rnn", "gru")
    assert (ra["best_val"], ra["best_pass"], rb["best_val"], rb["best_pass"]) == (
        200.0,
        2,
        150.0,
        2,
    )
    # the run's speed: its passes' (1000, 1001, 1002 words/s), not the last one's
    assert ra["passes"] == 3 and ra["test"] == 190.0 and ra["speed"] == 1001.0
    assert rb["label"] == "cell=gru"
    c = make_run(tmp_path / "c.npz", cell="gru", optimizer="adam", lr=0.001)
    assert differences(load_runs([a, b, c])) == ["cell", "lr", "optimizer"]


def test_compare_names_the_run_options_that_differ(tmp_path):
    """The runs' data and loop options (batch, layout, carried state, held-out
    share) count as settings as much as the model's do, and only those that
    differ are named."""
    a = make_run(tmp_path / "a.npz")
    b = make_run(
        tmp_path / "b.npz", train={"batch": 20, "layout": "stream", "carry_state": True}
    )
    c = make_run(tmp_path / "c.npz", train={"val_frac": 0.1})
    out = compare([a, b, c])
    assert out["differ"] == ["batch", "carry_state", "layout", "val_frac"]
    assert [r["batch"] for r in out["rows"]] == [1, 20, 1]
    assert out["rows"][1]["label"] == (
        "batch=20, carry_state=True, layout=stream, val_frac=None"
    )
    assert (
        differences(load_runs([a, make_run(tmp_path / "d.npz", train={"batch": 1})]))
        == []
    )


def test_compare_cli_table_and_figure(tmp_path, monkeypatch):
    a = make_run(tmp_path / "a.npz")
    b = make_run(tmp_path / "b.npz", cell="lstm")
    png = tmp_path / "cmp.png"
    loaded = []
    real_load = ckpt_io.load
    monkeypatch.setattr(
        ckpt_io, "load", lambda p: loaded.append(str(p)) or real_load(p)
    )
    r = CliRunner().invoke(
        app, ["compare", str(a), str(b), "-o", str(png)], env={"COLUMNS": "160"}
    )
    assert r.exit_code == 0, r.output
    assert sorted(loaded) == sorted([str(a), str(b)])  # each file read once
    assert "differ in cell" in r.output and "lstm" in r.output and "200.000" in r.output
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000


def test_compare_refuses_mixed_levels(tmp_path):
    a = make_run(tmp_path / "a.npz")
    c = make_run(tmp_path / "c.npz", level="char", val=(3.0, 2.5))
    r = CliRunner().invoke(app, ["compare", str(a), str(c)])
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "different levels" in r.stderr
    with pytest.raises(pytrnn.PytrnnError, match="different levels"):
        compare([a, c])


def test_plot_overlays_several_runs_with_whole_pass_ticks(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = make_run(tmp_path / "a.npz")
    b = make_run(tmp_path / "b.npz", cell="gru")
    saved = []
    real = plt.Figure.savefig

    def spy(fig, *args, **kw):
        saved.append(
            [
                [
                    t
                    for t in ax.get_xticks()
                    if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]
                ]
                for ax in fig.axes
            ]
        )
        legends = fig.legends or [ax.get_legend() for ax in fig.axes]
        saved.append([[t.get_text() for t in lg.get_texts()] for lg in legends if lg])
        return real(fig, *args, **kw)

    plt.Figure.savefig = spy
    try:
        r = CliRunner().invoke(
            app, ["plot", str(a), str(b), "-o", str(tmp_path / "p.png")]
        )
        r1 = CliRunner().invoke(app, ["plot", str(a), "-o", str(tmp_path / "q.png")])
    finally:
        plt.Figure.savefig = real
    assert r.exit_code == 0 and r1.exit_code == 0, r.output + r1.output
    ticks, labels, ticks1, _ = saved
    assert labels[0] == ["cell=rnn", "cell=gru", "validation", "train (running)"]
    for t in ticks[0] + ticks1[0] + ticks1[1]:
        assert float(t).is_integer(), (ticks, ticks1)


def test_one_pass_reads_well(tmp_path):
    """After one pass: a tick at pass 1 only, the point inside the axis and marked,
    the legend naming only what is drawn (no validation entry where no run has
    one), and the plot's title naming the cell and layers."""
    import matplotlib

    matplotlib.use("Agg")
    from pytrnn.tools.compare import runs_figure
    from pytrnn.tools.plot import run_title

    a = make_run(tmp_path / "a.npz", val=(300.0,))
    b = make_run(tmp_path / "b.npz", val=(250.0,), cell="gru", layers=2)
    for path in (a, b):  # runs without a validation split
        ck = ckpt_io.load(path)
        ck.history = [
            {k: v for k, v in r.items() if k != "val_ppl"} for r in ck.history
        ]
        ckpt_io.save(path, ck)
    fig = runs_figure([a, b])
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [1] and ax.get_xlim() == (0.5, 1.5)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "validation" not in labels and "train (running)" in labels
    assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines())
    with_val = make_run(tmp_path / "c.npz", val=(300.0,))
    fig = runs_figure([with_val])
    assert "validation" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert run_title(ckpt_io.load(b)) == "pydoc (word, gru x2, H=4)"
