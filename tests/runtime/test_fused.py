"""Fused training (K windows per call) and minibatches against per-window steps and
the numpy reference; the trainer's fused path against its one-call-per-window path."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import TINY, assert_model_linkers, batched_step, cached_model
from numpy_ref import init, loss_and_grads, sgd_step
from typer.testing import CliRunner

import pytrnn
from pytrnn.cli.main import app
from pytrnn.graphs.params import init_params
from pytrnn.runtime.backends import windows_per_call
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter

D, H, L = TINY["vocab_size"], TINY["hidden"], TINY["window"]
LR, REG, CLIP = 0.01, 0.01, 5.0


@pytest.mark.parametrize(
    "mode, backend",
    [(m, b) for m in ("unroll", "scan") for b in ("jax", "c")] + [("scan", "numba")],
)
def test_fused_equals_one_call_per_window(mode, backend, rng):
    """K windows in one call (JAX: one lax.scan; C and Numba: PyTensor's outer scan)
    train the numpy reference's steps; padded windows change nothing."""
    P = init(D, H, rng)
    X, Y = rng.integers(0, D, (5, L)), rng.integers(0, D, (5, L))
    fused = cached_model(mode, backend)
    fused.set_params(P)
    losses, data_losses = fused.train_windows(X, Y, wmask=[1, 1, 1, 0, 0])  # 2 padded
    ref = P
    for k in range(3):
        want_data = loss_and_grads(ref, X[k], Y[k], REG)[1]
        want, ref = sgd_step(ref, X[k], Y[k], LR, REG, CLIP)
        assert losses[k] == pytest.approx(want, rel=1e-9)
        assert data_losses[k] == pytest.approx(want_data, rel=1e-9)
    got = fused.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
    if backend != "jax":  # JAX's fused chunks are lax.scans, not PyTensor functions
        assert_model_linkers(fused)


@pytest.mark.parametrize(
    "mode, backend",
    [(m, b) for m in ("unroll", "scan") for b in ("jax", "c")] + [("scan", "numba")],
)
def test_minibatch_matches_numpy_mean_over_streams(mode, backend, rng):
    """Batched, fused windows (K = 3, B = 3, the last padded) on every backend
    against numpy. (Numba in scan mode only: a cold Numba graph costs 15-30 s.)"""
    B = 3
    P = init(D, H, rng)
    X, Y = rng.integers(0, D, (3, L, B)), rng.integers(0, D, (3, L, B))
    model = cached_model(mode, backend)
    model.set_params(P)
    losses, data_losses = model.train_windows(X, Y, wmask=[1, 1, 0])
    ref = P
    for k in range(2):
        want, want_data, ref = batched_step(ref, X[k], Y[k])
        assert losses[k] == pytest.approx(want, rel=1e-9)
        assert data_losses[k] == pytest.approx(want_data, rel=1e-9)
    got = model.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
    if backend != "jax":  # JAX's fused chunks are lax.scans, not PyTensor functions
        assert_model_linkers(model)


@pytest.mark.parametrize("fuse", [None, 16])
def test_trainer_fused_pass_equals_per_window_pass(tmp_path, fuse):
    """The CLI's default (on JAX, the pass in chunks of one lax.scan each) and an
    explicit --fuse 16 (the last chunk padded) train exactly the notebook's loop."""
    results = []
    for f in (1, fuse):
        cfg = pytrnn.TrainConfig(
            limit_chars=3000,
            passes=1,
            fuse=f,
            mode="scan",
            checkpoint=str(tmp_path / f"{f}.npz"),
            sample_length=0,
        )
        results.append(
            train(pytrnn.RNNConfig(hidden=8), cfg, reporter=PrintReporter(quiet=True))
        )
    a, b = results
    assert a.history[0]["iseq"] == b.history[0]["iseq"] == 118  # 119 windows
    assert a.history[0]["loss"] == pytest.approx(b.history[0]["loss"], rel=1e-9)
    pa, pb = a.model.get_params(), b.model.get_params()
    for k in pa:
        np.testing.assert_allclose(pa[k], pb[k], rtol=1e-9, atol=1e-12)


def test_default_fuse_covers_a_pass_in_even_chunks():
    cfg = pytrnn.TrainConfig()
    assert windows_per_call(cfg, "jax", 119) == 119  # one call
    assert windows_per_call(cfg, "jax", 18612) == 255  # 73 calls, 3 padding windows
    assert (
        windows_per_call(cfg, "numba", 18612) == 1
    )  # the notebook's one call per window
    assert windows_per_call(pytrnn.TrainConfig(fuse=16), "jax", 18612) == 16
    # sentences: groups of one bucket per call on JAX (tests/training/test_word_fused.py)
    assert windows_per_call(pytrnn.TrainConfig(level="word"), "jax", 100) == 16
    assert windows_per_call(pytrnn.TrainConfig(level="word"), "c", 100) == 1


def test_trainer_batch_matches_numpy_over_the_same_streams(tmp_path):
    """The trainer's batch-4 pass against numpy: the text cut into 4 contiguous
    streams (char-rnn's layout), the notebook's windows over each, one SGD step per
    window on the mean over streams. Its pass loss, bits/char and parameters must
    match to 1e-9, so a wrong stream split or a data loss scaled by 8/7 fails."""
    from pytrnn.data.corpora import Vocab, load_corpus

    B, W, N = 4, 10, 2000
    cfg = pytrnn.TrainConfig(
        limit_chars=N,
        passes=1,
        batch=B,
        mode="scan",
        seed=2,
        checkpoint=str(tmp_path / "b.npz"),
        sample_length=0,
    )
    r = train(
        pytrnn.RNNConfig(hidden=6, window=W), cfg, reporter=PrintReporter(quiet=True)
    )
    text = load_corpus(None)[1][:N]
    vocab = Vocab.from_text(text)
    ids = np.array([vocab.index[c] for c in text])
    S = N // B
    streams = [ids[b * S : (b + 1) * S] for b in range(B)]  # contiguous slices
    P = init_params(r.model.cfg, np.random.default_rng(2))
    losses, data_sum, chars = [], 0.0, 0
    i = 0
    while i + 1 + W < S or i == 0:  # the notebook's windows over each stream
        X = np.stack([s[i : i + W] for s in streams], axis=1)
        Y = np.stack([s[i + 1 : i + 1 + W] for s in streams], axis=1)
        loss, data, P = batched_step(P, X, Y)
        losses.append(loss)
        data_sum += data * B
        chars += W * B
        i += W
    h = r.history[0]
    assert h["iseq"] == len(losses) - 1
    assert h["loss"] == pytest.approx(np.mean(losses), rel=1e-9)
    assert h["train_bpc"] == pytest.approx(data_sum / chars / np.log(2), rel=1e-9)
    got = r.model.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_sentences_layout_rejects_devices():
    """--devices needs a stream; sentences say how to get one. (Fused groups of
    sentences are tests/training/test_word_scale.py's.)"""
    pytrnn.TrainConfig(level="word", batch=4).validate()  # batched sentences are fine
    pytrnn.TrainConfig(level="word", batch=4, fuse=4).validate()  # fused groups too
    with pytest.raises(pytrnn.PytrnnError, match="add --layout stream"):
        pytrnn.TrainConfig(level="word", batch=4, devices=2).validate()
    pytrnn.TrainConfig(level="word", layout="stream", batch=4, fuse=4).validate()
    with pytest.raises(pytrnn.PytrnnError, match="word-level option"):
        pytrnn.TrainConfig(level="char", layout="sentences").validate()


def test_bench_smoke(tmp_path):
    out = tmp_path / "b.json"
    r = CliRunner().invoke(app, ["bench", "--smoke", "--json", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    names = [row["name"] for row in data["rows"]]
    assert names[0].startswith("numpy") and names[1].startswith("hand-written JAX")
    assert all(row["chars_per_s"] > 0 for row in data["rows"]), data["rows"]
    numpy_speed = data["rows"][0]["chars_per_s"]
    for row in data["rows"][1:]:  # each ratio is that row's speed over numpy's
        assert row["vs_numpy"] == pytest.approx(
            row["chars_per_s"] / numpy_speed, rel=1e-6
        )
    assert "x numpy" in r.stdout and "x JAX" in r.stdout


def test_bench_baselines_train_the_same_model(rng):
    """The baselines must compute the notebook's SGD, or their speed means nothing."""
    from pytrnn.bench.baselines import jax_trainer, numpy_train
    from pytrnn.data.batches import window_starts

    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=25)
    P = init(D, H, rng)
    data = rng.integers(0, D, 200).astype(np.int32)
    starts = window_starts(len(data), 25)[:4]
    np_losses, np_params = numpy_train(P, data, starts, 25)
    model = pytrnn.RNN(cfg, params=P, mode="scan")
    ours = [model.train_on_seq(data[i : i + 25], data[i + 1 : i + 26]) for i in starts]
    np.testing.assert_allclose(np_losses, ours, rtol=1e-9)
    offs = starts[:, None] + np.arange(25)
    PJ, jax_losses = jax_trainer(25)(P, data[offs], data[offs + 1])
    np.testing.assert_allclose(np.asarray(jax_losses), ours, rtol=1e-9)
    for k, v in model.get_params().items():
        np.testing.assert_allclose(np_params[k], v, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(np.asarray(PJ[k]), v, rtol=1e-9, atol=1e-12)


def test_jax_baseline_is_float64_in_a_fresh_process():
    """The bench builds the baseline's arrays before any pytrnn model turns JAX's
    float64 on: the baseline must do so itself, or it times float32 against float64."""
    code = (
        "import jax.numpy as jnp; from pytrnn.bench.grid import bench_baselines; "
        "from pytrnn.bench.baselines import jax_trainer; jax_trainer(25); "
        "print(jnp.asarray(1.0).dtype)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-1] == "float64", out.stdout
