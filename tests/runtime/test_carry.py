"""Carried state (``--carry-state``): each window starts from the state its stream
ended the previous window with, the gradient stopped at the window's edge.

Held to numpy references that carry h (and the LSTM's c) across windows
(tests/numpy_ref.py, numpy_cells.py, each taking the first state as a constant),
in the fused and the one-call-per-window paths, on JAX and C, in both modes; the
trainer's pass, its held-out figures and ``pytrnn eval`` to the same reference;
and a run stopped mid-pass resumes to the parameters of an unstopped one."""

import numpy as np
import numpy_cells as nc
import pytest
from helpers import stopped_during
from numpy_ref import forward, init, loss_and_grads
from typer.testing import CliRunner

import pytrnn
from pytrnn.cli.main import app
from pytrnn.data.batches import window_starts
from pytrnn.data.corpora import Vocab, load_corpus
from pytrnn.graphs.params import init_params
from pytrnn.runtime import checkpoint as ck
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter

D, H, L, LR, REG, CLIP = 7, 5, 6, 0.01, 0.01, 5.0
QUIET = PrintReporter(quiet=True)


def carried_step(P, X, Y, h, reg=REG):
    """numpy: one SGD step on the mean over the B streams of windows X, Y (T, B),
    stream b starting from h[b]. Returns (loss, data loss, new params, new h)."""
    B = X.shape[1]
    grads = {k: np.zeros_like(v) for k, v in P.items()}
    data, h_new = 0.0, []
    for b in range(B):
        _, d, g = loss_and_grads(P, X[:, b], Y[:, b], 0.0, h0=h[b])
        h_new.append(forward(P, X[:, b], h[b])[0][-1])
        data += d / B
        for k in g:
            grads[k] += g[k] / B
    for k in ("Wxh", "Whh", "Why"):
        grads[k] += 2 * reg * P[k]
    loss = data + reg * sum((P[k] ** 2).sum() for k in ("Wxh", "Whh", "Why"))
    return loss, data, {k: P[k] - LR * np.clip(grads[k], -CLIP, CLIP) for k in P}, h_new


def carried_run(P, X, Y):
    """numpy over K windows (K, T, B): (losses, params, the carried h (B, H))."""
    h = [np.zeros(H)] * X.shape[2]
    losses = []
    for k in range(len(X)):
        loss, _, P, h = carried_step(P, X[k], Y[k], h)
        losses.append(loss)
    return np.array(losses), P, np.array(h)


def assert_params(got, want):
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize(
    "mode, backend", [("scan", "jax"), ("unroll", "jax"), ("scan", "c")]
)
def test_carried_windows_match_numpy(mode, backend, rng):
    """Fused windows of 3 streams (the last window padded: it must leave the state
    alone too), and one call per window of one stream, against numpy carrying h."""
    P = init(D, H, rng)
    X, Y = rng.integers(0, D, (4, L, 3)), rng.integers(0, D, (4, L, 3))
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=L)
    m = pytrnn.RNN(cfg, params=P, mode=mode, backend=backend, carry_state=True)
    m.reset_carry(3)
    losses, _ = m.train_windows(X, Y, wmask=[1, 1, 1, 0])
    want, ref, h = carried_run(P, X[:3], Y[:3])
    np.testing.assert_allclose(losses[:3], want, rtol=1e-9)
    assert_params(m.get_params(), ref)
    np.testing.assert_allclose(m.get_carry()[0], h, rtol=1e-9, atol=1e-12)
    # one stream, one compiled call per window (the notebook's loop)
    m.set_params(P)
    m.reset_carry()
    got = [m.train_step(X[k, :, 0], Y[k, :, 0])[0] for k in range(3)]
    want, ref, h = carried_run(P, X[:3, :, :1], Y[:3, :, :1])
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert_params(m.get_params(), ref)
    np.testing.assert_allclose(m.get_carry()[0], h, rtol=1e-9, atol=1e-12)


def test_carried_truncated_bptt_matches_numpy(rng):
    """--bptt-truncate with carried state: the recurrent gradient still comes from
    the last K positions only; the state still carries the whole window's end."""
    K = 3
    P = init(D, H, rng)
    X, Y = rng.integers(0, D, (3, L, 2)), rng.integers(0, D, (3, L, 2))
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=L, bptt_truncate=K)
    m = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax", carry_state=True)
    m.reset_carry(2)
    m.train_windows(X, Y)
    ref, h = P, [np.zeros(H)] * 2
    for k in range(3):
        grads = {q: np.zeros_like(v) for q, v in ref.items()}
        for b in range(2):
            g = loss_and_grads(ref, X[k, :, b], Y[k, :, b], 0.0, truncate=K, h0=h[b])[2]
            for q in g:
                grads[q] += g[q] / 2
        h = [forward(ref, X[k, :, b], h[b])[0][-1] for b in range(2)]
        for q in ("Wxh", "Whh", "Why"):
            grads[q] += 2 * REG * ref[q]
        ref = {q: ref[q] - LR * np.clip(grads[q], -CLIP, CLIP) for q in ref}
    assert_params(m.get_params(), ref)


@pytest.mark.parametrize(
    "cell, layers, mode", [("lstm", 2, "scan"), ("gru", 1, "unroll")]
)
def test_carried_gated_cells_match_numpy(cell, layers, mode, rng):
    """Every layer's h, and the LSTM's c, carry from window to window (the state
    (S, B, H) stacks them layer by layer, h then c)."""
    B = 2
    P = nc.init(cell, layers, D, H, rng)
    X, Y = rng.integers(0, D, (3, L, B)), rng.integers(0, D, (3, L, B))
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=L, cell=cell, layers=layers)
    m = pytrnn.RNN(cfg, params=P, mode=mode, backend="jax", carry_state=True)
    m.reset_carry(B)
    losses, _ = m.train_windows(X, Y)
    ref = {k: np.asarray(v, np.float64) for k, v in P.items()}
    init_states = [None] * B
    for k in range(3):
        grads, loss = {q: np.zeros_like(v) for q, v in ref.items()}, 0.0
        finals = []
        for b in range(B):
            lo, _, g = nc.loss_and_grads(
                cell, layers, ref, X[k, :, b], Y[k, :, b], REG, init=init_states[b]
            )
            caches = nc.forward(cell, layers, ref, X[k, :, b], init=init_states[b])[2]
            finals.append(nc.final_states(cell, caches))
            loss += lo / B
            for q in g:
                grads[q] += g[q] / B
        init_states = finals
        assert losses[k] == pytest.approx(loss, rel=1e-9)
        ref = {q: ref[q] - LR * np.clip(grads[q], -CLIP, CLIP) for q in ref}
    assert_params(m.get_params(), ref)
    carry = m.get_carry()  # (layers * states, B, H)
    for b in range(B):
        for layer, (h, c) in enumerate(init_states[b]):
            n = 2 if cell == "lstm" else 1
            np.testing.assert_allclose(carry[layer * n, b], h, rtol=1e-9, atol=1e-12)
            if cell == "lstm":
                np.testing.assert_allclose(
                    carry[layer * n + 1, b], c, rtol=1e-9, atol=1e-12
                )


def char_run(tmp_path, name, model=None, **kw):
    cfg = pytrnn.TrainConfig(
        **{
            **dict(
                limit_chars=1500,
                passes=1,
                batch=2,
                mode="scan",
                backend="jax",
                seed=5,
                carry_state=True,
                val_frac=0.2,
                sample_length=0,
                checkpoint=str(tmp_path / name),
            ),
            **kw,
        }
    )
    return train(
        pytrnn.RNNConfig(hidden=H, window=10, **(model or {})), cfg, reporter=QUIET
    )


def stopped_mid_pass(tmp_path, monkeypatch, model=None, **kw):
    """``char_run`` into part.npz, stopped (as a first Ctrl-C does) after two chunks
    of its second pass."""
    stopped_during(monkeypatch, lambda: char_run(tmp_path, "part.npz", model, **kw), 1)


def numpy_carried_sum(P, d, starts, W):
    """numpy: summed data loss over d's windows at ``starts`` (the last may be
    partial), each from the state the window before ended with."""
    total, h = 0.0, np.zeros(H)
    for i in starts:
        x, y = d[i : i + W], d[i + 1 : i + 1 + W]
        total += loss_and_grads(P, x[: len(y)], y, 0.0, h0=h)[1]
        h = forward(P, x[: len(y)], h)[0][-1]
    return total


def numpy_batchified(P, d, W, E=10):
    """numpy, wlm's evaluate: (summed data loss, tokens predicted) of d cut into E
    contiguous streams (batchify: the remainder left out), each stream's windows of
    W (the last partial) carrying its h."""
    E = max(1, min(E, (len(d) - 1) // W))
    n = len(d) // E
    total = 0.0
    for b in range(E):
        s = d[b * n : (b + 1) * n]
        total += numpy_carried_sum(P, s, range(0, n - 1, W), W)
    return total, E * (n - 1)


def test_carried_pass_validation_and_eval_match_numpy(tmp_path):
    """A --carry-state --batch 2 pass at the char level: numpy over the same two
    contiguous streams, carrying each one's h, gives its parameters; validation
    carries h across the held-out text cut into wlm's 10 contiguous streams;
    ``pytrnn eval`` (every window of the text, the last partial one included)
    carries it too, with 10 streams and with one."""
    W, B, N = 10, 2, 1500
    r = char_run(tmp_path, "c.npz")
    text = load_corpus(None)[1][:N]
    vocab = Vocab.from_text(text)
    ids = np.array([vocab.index[c] for c in text])
    n_val = int(N * 0.2)
    train_ids, val_ids = ids[: N - n_val], ids[N - n_val :]
    S = len(train_ids) // B
    streams = [train_ids[b * S : (b + 1) * S] for b in range(B)]
    P, h = init_params(r.model.cfg, np.random.default_rng(5)), [np.zeros(H)] * B
    for i in window_starts(S, W):
        X = np.stack([s[i : i + W] for s in streams], axis=1)
        Y = np.stack([s[i + 1 : i + 1 + W] for s in streams], axis=1)
        _, _, P, h = carried_step(P, X, Y, h)
    assert_params(r.model.get_params(), P)

    starts = window_starts(len(val_ids), W)
    total, count = numpy_batchified(P, val_ids, W)
    val = total / count / np.log(2)
    assert r.history[0]["val_bpc"] == pytest.approx(val, rel=1e-9)
    from_zero = (
        sum(
            loss_and_grads(P, val_ids[i : i + W], val_ids[i + 1 : i + 1 + W], 0.0)[1]
            for i in starts
        )
        / (len(starts) * W)
        / np.log(2)
    )
    assert abs(val - from_zero) > 1e-6  # carrying makes a difference to check
    held = tmp_path / "held.txt"
    held.write_text(text[:237], encoding="utf-8")
    e = pytrnn.evaluate(r.path, held)
    total, count = numpy_batchified(P, ids[:237], W)
    assert e["loss_per_char"] == pytest.approx(total / count, rel=1e-9)
    assert e["chars"] == count == 220  # 10 streams of 23, 22 predicted in each
    one = pytrnn.evaluate(r.path, held, batch=1)
    want = numpy_carried_sum(P, ids[:237], range(0, 236, W), W) / 236
    assert one["loss_per_char"] == pytest.approx(want, rel=1e-9)


def test_carried_run_stopped_mid_pass_resumes_exactly(tmp_path, monkeypatch):
    """Stopped after two chunks of its second pass, the checkpoint keeps the streams'
    carried state; resumed, the run ends with the parameters of an unstopped one."""
    kw = dict(passes=2, fuse=3, val_frac=0.0)
    full = char_run(tmp_path, "full.npz", **kw)
    stopped_mid_pass(tmp_path, monkeypatch, **kw)
    part = ck.load(tmp_path / "part.npz")
    assert part.passes_done == 1 and part.window == 6
    assert part.carry.shape == (1, 2, H) and np.abs(part.carry).max() > 0
    r = train(
        pytrnn.RNNConfig(hidden=H, window=10),
        pytrnn.TrainConfig(
            resume=str(tmp_path / "part.npz"), passes=2, sample_length=0
        ),
        reporter=QUIET,
    )
    assert r.checkpoint.iseq == full.checkpoint.iseq
    for k, v in full.checkpoint.params.items():
        np.testing.assert_array_equal(r.checkpoint.params[k], v, err_msg=k)


def test_dropout_run_stopped_mid_pass_resumes_bitwise(tmp_path, monkeypatch):
    """With dropout, a run stopped inside a pass resumes drawing exactly the masks
    the unstopped run drew for the rest of that pass (they come from the seed, the
    pass and the window, never from a generator that a stop would restart)."""
    kw = dict(passes=2, fuse=3, val_frac=0.0, carry_state=False)
    model = dict(dropout=0.3)
    full = char_run(tmp_path, "full.npz", model, **kw)
    stopped_mid_pass(tmp_path, monkeypatch, model, **kw)
    part = ck.load(tmp_path / "part.npz")
    assert part.passes_done == 1 and part.window == 6
    r = train(
        pytrnn.RNNConfig(hidden=H, window=10, dropout=0.3),
        pytrnn.TrainConfig(
            resume=str(tmp_path / "part.npz"), passes=2, sample_length=0
        ),
        reporter=QUIET,
    )
    assert r.checkpoint.iseq == full.checkpoint.iseq
    for k, v in full.checkpoint.params.items():
        np.testing.assert_array_equal(r.checkpoint.params[k], v, err_msg=k)
    assert r.history[-1]["loss"] == full.history[-1]["loss"]


def test_carried_word_stream_pass_validation_and_eval_match_numpy(small_text, tmp_path):
    """--level word --layout stream --carry-state --batch 2: numpy over the same
    two streams of word ids, carrying each one's h, gives the pass's parameters and
    figures; validation carries h across the held-out stream's windows, and
    ``pytrnn eval`` across the whole text's."""
    from pytrnn.data.words import WordVocab, split_sentences, stream_ids

    W, B = 6, 2
    cfg = pytrnn.TrainConfig(
        corpus=str(small_text),
        level="word",
        layout="stream",
        carry_state=True,
        passes=1,
        batch=B,
        mode="scan",
        backend="jax",
        seed=2,
        val_frac=0.1,
        sample_length=0,
        checkpoint=str(tmp_path / "w.npz"),
    )
    r = train(pytrnn.RNNConfig(hidden=H, window=W), cfg, reporter=QUIET)
    sents = split_sentences(small_text.read_text())
    n_val = round(len(sents) * 0.1)
    vocab = WordVocab.build(sents[:-n_val], 8000)
    assert tuple(r.checkpoint.vocab) == vocab.symbols
    ids = stream_ids(vocab, sents[:-n_val])
    S = len(ids) // B
    streams = [ids[b * S : (b + 1) * S] for b in range(B)]
    P, h = init_params(r.model.cfg, np.random.default_rng(2)), [np.zeros(H)] * B
    data, n = 0.0, 0
    for i in window_starts(S, W):
        X = np.stack([s[i : i + W] for s in streams], axis=1)
        Y = np.stack([s[i + 1 : i + 1 + W] for s in streams], axis=1)
        _, d, P, h = carried_step(P, X, Y, h)
        data, n = data + d * B, n + W * B
    assert_params(r.model.get_params(), P)
    rec = r.history[0]
    assert rec["train_word_loss"] == pytest.approx(data / n, rel=1e-9)
    v = stream_ids(vocab, sents[-n_val:])
    total, count = numpy_batchified(P, v, W)
    val = total / count
    assert rec["val_word_loss"] == pytest.approx(val, rel=1e-9)
    assert rec["val_ppl"] == pytest.approx(np.exp(val), rel=1e-9)
    every = stream_ids(vocab, sents)
    e = pytrnn.evaluate(r.path, small_text, batch=1)
    want = numpy_carried_sum(P, every, range(0, len(every) - 1, W), W) / (
        len(every) - 1
    )
    assert e["loss_per_word"] == pytest.approx(want, rel=1e-9)
    total, count = numpy_batchified(P, every, W, 4)
    four = pytrnn.evaluate(r.path, small_text, batch=4)
    assert (four["loss_per_word"], four["words"]) == (
        pytest.approx(total / count, rel=1e-9),
        count,
    )
    from_zero = sum(
        loss_and_grads(
            P,
            every[i : i + W][: len(every[i + 1 : i + 1 + W])],
            every[i + 1 : i + 1 + W],
            0.0,
        )[1]
        for i in range(0, len(every) - 1, W)
    ) / (len(every) - 1)
    assert abs(want - from_zero) > 1e-6  # carrying makes a difference to check


def test_carry_state_needs_windows_that_follow_each_other(small_text, tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--corpus",
            str(small_text),
            "--level",
            "word",
            "--carry-state",
            "--checkpoint",
            str(tmp_path / "w.npz"),
        ],
    )
    assert r.exit_code == 2
    assert r.stderr.strip().splitlines() == [
        "error: --carry-state needs windows that follow each other: at the word level, "
        "add --layout stream"
    ]
