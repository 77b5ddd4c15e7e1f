"""Fused sentence steps (``--fuse K`` with the sentence layout, JAX): K groups of
padded sentences of one bucket in one compiled call. Held to K calls of
``train_sentences`` (itself held to numpy in test_word_scale.py) and to numpy's
mean-over-sentences steps, over the chunks the trainer reports."""

import numpy as np
import numpy_cells as nc
import pytest
from helpers import mean_step
from numpy_ref import loss_and_grads
from typer.testing import CliRunner

import pytrnn
from pytrnn.cli.main import app
from pytrnn.data.words import WordVocab, bucket
from pytrnn.graphs.params import init_params
from pytrnn.runtime.backends import windows_per_call
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter
from pytrnn.training.sentences import (
    Sentences,
    batch_groups,
    fused_chunks,
    held_out_sentences,
)

D, H, REG = 9, 5, 0.01
QUIET = PrintReporter(quiet=True)


def groups_of(rng, lengths_per_group):
    return [
        [(rng.integers(0, D, n), rng.integers(0, D, n)) for n in ls]
        for ls in lengths_per_group
    ]


@pytest.mark.parametrize(
    "cell, layers, dropout, mode",
    [
        ("rnn", 1, 0.0, "scan"),
        ("rnn", 1, 0.0, "unroll"),
        ("lstm", 2, 0.0, "scan"),
        ("gru", 1, 0.3, "scan"),
    ],
)
def test_fused_groups_equal_one_call_per_group(cell, layers, dropout, mode, rng):
    """Three groups of 3 padded sentences and a weight-0 padding group in one call:
    the losses and parameters of three ``train_sentences`` calls (the same dropout
    masks), and numpy's mean-over-sentences steps for the gated cells."""
    cfg = pytrnn.RNNConfig(
        vocab_size=D, hidden=H, window=6, cell=cell, layers=layers, dropout=dropout
    )
    P = nc.init(cell, layers, D, H, rng)
    one = pytrnn.RNN(cfg, params=P, mode=mode, backend="jax")
    fused = pytrnn.RNN(cfg, params=P, mode=mode, backend="jax")
    groups = groups_of(rng, ([3, 6, 1], [5, 2, 4], [6, 6, 2]))
    drops = one.draw_drop(6, 3, 4, rng=np.random.default_rng(5)) if dropout else None
    want = [
        one.train_sentences(g, pad_to=6, drop=None if drops is None else drops[k])
        for k, g in enumerate(groups)
    ]
    X, Y, M = (
        np.stack(a) for a in zip(*[fused.pad_batch(g, 6) for g in groups + groups[:1]])
    )
    losses, data = fused.train_windows(X, Y, wmask=[1, 1, 1, 0], drops=drops, masks=M)
    np.testing.assert_allclose(losses[:3], [w[0] for w in want], rtol=1e-12)
    np.testing.assert_allclose(data[:3], [w[1] for w in want], rtol=1e-12)
    got, ref = fused.get_params(), one.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-15, err_msg=k)
    if dropout == 0:
        P = {k: np.asarray(v, np.float64) for k, v in P.items()}
        for g in groups:
            _, P = mean_step(
                P, g, lambda P, x, y: nc.loss_and_grads(cell, layers, P, x, y, REG)[:3]
            )
        for k in P:
            np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_fused_chunks_hold_one_bucket_and_cover_the_pass():
    lengths = np.random.default_rng(0).integers(1, 40, 500)
    groups = batch_groups(lengths, 4, np.random.default_rng([3, 0]))
    buckets = [bucket(int(lengths[g].max())) for g in groups]
    chunks = fused_chunks(groups, buckets, 8, np.random.default_rng([3, 0]))
    assert all(1 <= len(c) <= 8 for c in chunks)
    assert all(len({bucket(int(lengths[g].max())) for g in c}) == 1 for c in chunks)
    flat = np.concatenate(chunks)
    assert sorted(map(tuple, flat)) == sorted(map(tuple, groups))  # every group once
    # shuffled: the buckets do not come in sorted order
    firsts = [bucket(int(lengths[c[0]].max())) for c in chunks]
    assert firsts != sorted(firsts)


@pytest.mark.parametrize("backend", ["jax", "c"])
def test_fused_word_run_trains_the_chunks_it_reports(small_text, tmp_path, backend):
    """--batch 3 --fuse 4: the pass trains numpy's mean-over-sentences steps over
    the chunks ``Sentences.order`` gives, in that order; iseq counts steps, not
    calls, and the pass loss is the mean over steps. C, which does not fuse, trains
    the same chunks group by group: the same steps."""
    cfg = pytrnn.TrainConfig(
        corpus=str(small_text),
        level="word",
        passes=1,
        batch=3,
        fuse=4,
        mode="scan",
        backend=backend,
        seed=5,
        val_frac=0.1,
        checkpoint=str(tmp_path / "w.npz"),
        sample_length=0,
    )
    r = train(pytrnn.RNNConfig(hidden=H), cfg, reporter=QUIET)
    texts = pytrnn.data.corpora.load_texts(str(small_text), None, None)
    tr = held_out_sentences(cfg, texts)[0]
    vocab = WordVocab(tuple(r.checkpoint.vocab))
    seqs = [vocab.encode_sentence(s) for s in tr]
    chunks = Sentences(cfg, seqs, backend).order(0)
    assert any(len(c) < 4 for c in chunks) and any(len(c) == 4 for c in chunks)
    P = init_params(r.model.cfg, np.random.default_rng(5))
    losses = []
    for c in chunks:
        for g in c:
            loss, P = mean_step(
                P, [seqs[k] for k in g], lambda P, x, y: loss_and_grads(P, x, y, REG)
            )
            losses.append(loss)
    h = r.history[0]
    assert h["iseq"] == len(losses) - 1
    assert h["loss"] == pytest.approx(np.mean(losses), rel=1e-9)
    got = r.model.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_sentences_fuse_by_default_on_jax_and_the_run_keeps_it(small_text, tmp_path):
    """The sentence layout's default: FUSE_SENTENCES groups per call on JAX (scan),
    one group per call elsewhere; the run keeps what it resolved to, so a resumed
    run trains the same order whatever backend it runs on."""
    from pytrnn.config import FUSE_SENTENCES
    from pytrnn.runtime import checkpoint as ck

    word = pytrnn.TrainConfig(level="word")
    assert windows_per_call(word, "jax", 0) == FUSE_SENTENCES == 16
    assert windows_per_call(word, "c", 0) == 1
    assert (
        windows_per_call(pytrnn.TrainConfig(level="word", mode="unroll"), "jax", 0) == 1
    )
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--corpus",
            str(small_text),
            "--level",
            "word",
            "--hidden",
            4,
            "--passes",
            1,
            "--sample-length",
            0,
            "--checkpoint",
            str(tmp_path / "w.npz"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "16 steps of one length per call" in r.stdout
    assert ck.load(tmp_path / "w.npz").run.train["fuse"] == 16
