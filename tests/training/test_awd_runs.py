"""AWD-LSTM's recipe in the training loop: variable BPTT's windows drawn from the
seed, NT-ASGD's switch by AWD's rule, evaluation with the average and without any
dropout, and a run stopped mid-pass after the switch, with every regularizer on,
resuming bit for bit; bad values and combinations as one line."""

from dataclasses import replace

import numpy as np
import pytest
from helpers import invoke, one_line_error, stopped_during

import pytrnn
from pytrnn.data.batches import variable_windows
from pytrnn.graphs import optim
from pytrnn.runtime import checkpoint as ck
from pytrnn.training import schedule, train
from pytrnn.training.progress import PrintReporter

QUIET = PrintReporter(quiet=True)
MODEL = dict(
    hidden=8,
    window=10,
    cell="lstm",
    layers=2,
    emsize=6,
    tied=True,
    locked_dropout=True,
    dropouti=0.3,
    dropouth=0.2,
    dropouto=0.3,
    dropoute=0.1,
    wdrop=0.3,
    ar=2.0,
    tar=1.0,
    wdecay=1e-4,
    nt_asgd=1,
    variable_bptt=True,
    loss_scale="token",
    clip=0.0,
    clip_norm=0.25,
    reg=0.0,
    lr=2.0,
)


def run(tmp_path, name, reporter=QUIET, **kw):
    cfg = pytrnn.TrainConfig(
        **{
            **dict(
                limit_chars=1500,
                passes=3,
                batch=2,
                mode="scan",
                backend="jax",
                seed=5,
                carry_state=True,
                val_frac=0.2,
                sample_length=0,
                fuse=3,
                checkpoint=str(tmp_path / name),
            ),
            **kw,
        }
    )
    return train(pytrnn.RNNConfig(**MODEL), cfg, reporter=reporter)


@pytest.fixture
def switch_after_first_pass(monkeypatch):
    """NT-ASGD switches after pass 1 whatever validation did (its rule has its
    own test), so both runs average from pass 2 on."""
    monkeypatch.setattr(
        schedule,
        "stalled",
        lambda model, history, record, key: (
            record["pass"] == 1 and not model.switched_on
        ),
    )


def test_variable_windows_follow_awds_loop():
    """AWD's lengths: bptt (p 0.95) or bptt / 2, then N(that, 5), at least 5, the
    last cut to the text; consecutive, drawn from the generator given."""
    w = variable_windows(2000, 70, np.random.default_rng(0))
    starts, lengths = w[:, 0], w[:, 1]
    assert starts[0] == 0 and (np.diff(starts) == lengths[:-1]).all()
    assert starts[-1] + lengths[-1] == 1999 and lengths.min() >= 5
    assert 60 < np.median(lengths) < 80 and len(set(lengths)) > 5
    again = variable_windows(2000, 70, np.random.default_rng(0))
    np.testing.assert_array_equal(w, again)


def test_nt_asgd_switches_by_awds_rule(tmp_path):
    """len(earlier) > N and val > min(earlier[:-N]) (AWD's nonmono check)."""

    model = type(
        "M",
        (),
        {"cfg": replace(pytrnn.RNNConfig(), nt_asgd=2), "switched_on": False},
    )()

    def stalls(vals):
        history = [{"v": v} for v in vals]
        return schedule.stalled(model, history, history[-1], "v")

    assert not stalls([5, 4, 9])  # two earlier: needs more than N = 2
    assert not stalls([5, 4, 3, 2, 3.9])  # 3.9 < min(5, 4), the best before the last 2
    assert stalls([5, 4, 3, 2, 4.2])  # 4.2 > 4


def test_stopped_after_the_switch_resumes_bitwise(
    tmp_path, monkeypatch, switch_after_first_pass
):
    """Every regularizer, variable BPTT, fused chunks, carried state and ASGD's
    average: stopped two chunks into pass 3, resumed, the run ends bit for bit
    where an unstopped one does, its averages included; validation used them."""
    full = run(tmp_path, "full.npz")
    assert full.history[0].get("asgd_from") == 2
    stopped_during(monkeypatch, lambda: run(tmp_path, "part.npz"), 2)
    part = ck.load(tmp_path / "part.npz")
    assert part.passes_done == 2 and part.window == 6
    assert (
        float(part.opt_state["asgd.on"]) == 1 and float(part.opt_state["asgd.step"]) > 0
    )
    r = train(
        pytrnn.RNNConfig(**MODEL),
        pytrnn.TrainConfig(
            resume=str(tmp_path / "part.npz"), passes=3, sample_length=0
        ),
        reporter=QUIET,
    )
    assert r.checkpoint.iseq == full.checkpoint.iseq
    for k, v in full.checkpoint.params.items():
        np.testing.assert_array_equal(r.checkpoint.params[k], v, err_msg=k)
    for k, v in full.checkpoint.opt_state.items():
        np.testing.assert_array_equal(r.checkpoint.opt_state[k], v, err_msg=k)
    assert r.history[-1]["val_bpc"] == full.history[-1]["val_bpc"]


def test_evaluation_uses_the_average_and_no_dropout(tmp_path, switch_after_first_pass):
    """After the switch, validation, ``pytrnn eval`` and the best pass score ASGD's
    average with no dropout of any kind: the figure of a plain model (no
    regularizer) holding the averaged parameters, and not the raw ones'."""
    r = run(tmp_path, "m.npz", passes=2)
    c = r.checkpoint
    avg = optim.averaged(c.cfg, c.params, c.opt_state)
    assert any(not np.array_equal(avg[k], c.params[k]) for k in avg)
    plain = replace(
        c.cfg,
        locked_dropout=False,
        dropouti=None,
        dropouth=None,
        dropouto=None,
        dropoute=0.0,
        wdrop=0.0,
        ar=0.0,
        tar=0.0,
        wdecay=0.0,
        nt_asgd=0,
        variable_bptt=False,
    )
    held = tmp_path / "held.txt"
    held.write_text(pytrnn.data.corpora.load_corpus(None)[1][:400], encoding="utf-8")
    e = pytrnn.evaluate(r.path, held)
    from pytrnn.runtime.scoring import windows_loss

    ids, _ = pytrnn.data.corpora.Vocab(tuple(c.vocab)).encode_known(held.read_text())
    figures = {}
    for name, params in (("avg", avg), ("raw", c.params)):
        m = pytrnn.RNN(plain, params=params, mode="scan", backend="jax")
        total, n = windows_loss(m, ids, c.cfg.window, True)
        figures[name] = total / n
    assert e["loss_per_char"] == pytest.approx(figures["avg"], rel=1e-9)
    assert abs(figures["avg"] - figures["raw"]) > 1e-6
    # the last pass's validation figure: the held-out 20% scored with the average
    text = pytrnn.data.corpora.load_corpus(None)[1][:1500]
    val, _ = pytrnn.data.corpora.Vocab(tuple(c.vocab)).encode_known(text[1200:])
    m = pytrnn.RNN(plain, params=avg, mode="scan", backend="jax")
    total, n = windows_loss(m, val, c.cfg.window, True)
    assert r.history[-1]["val_bpc"] == pytest.approx(total / n / np.log(2), rel=1e-9)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--dropouti", "1.2", "--emsize", "4"], "--dropouti must be in [0, 1)"),
        (["--wdrop", "-0.5"], "--wdrop must be in [0, 1)"),
        (["--ar", "-1"], "--ar must be non-negative"),
        (["--wdecay", "-1"], "--wdecay must be non-negative"),
        (
            ["--nt-asgd", "3"],
            "--nt-asgd switches to averaged SGD when validation stalls",
        ),
        (["--variable-bptt", "--mode", "unroll"], "--variable-bptt needs --mode scan"),
    ],
)
def test_bad_awd_options_are_one_line(args, needle, tmp_path):
    r = invoke(
        "train",
        "--limit-chars",
        "500",
        "--hidden",
        "4",
        "--passes",
        "1",
        "--sample-length",
        "0",
        "--checkpoint",
        tmp_path / "x.npz",
        *args,
    )
    one_line_error(r, needle)
    assert not (tmp_path / "x.npz").exists()


def test_bad_cache_options_are_one_line(tmp_path):
    r = invoke(
        "eval",
        tmp_path / "none.npz",
        "--corpus",
        tmp_path / "t.txt",
        "--cache-window",
        "0",
    )
    one_line_error(r, "--cache-window must be at least 1")
    r = invoke(
        "eval",
        tmp_path / "none.npz",
        "--corpus",
        tmp_path / "t.txt",
        "--cache-lambda",
        "0.2",
    )
    one_line_error(r, "--cache-theta and --cache-lambda need --cache-window")
