"""Padded sentences on JAX: one graph of free length serves every bucket.

PyTensor rewrites the graph once and JAX traces it per length it meets
(pytrnn.runtime.patches.patch_jax_free_lengths), so the word level compiles one graph
instead of one per bucket. Held to numpy over steps of several bucket lengths."""

import numpy as np
import numpy_cells as nc
import pytest
from helpers import mean_step, sentences
from numpy_ref import init, loss_and_grads

import pytrnn

D, H, REG = 9, 5, 0.01
PADS = (4, 8, 6, 12, 4)  # buckets met in this order, one met twice


def _steps(m, rng, batch, grads_of, P):
    """Train on PADS; return numpy's parameters after the same steps."""
    ref = P
    for pad in PADS:
        if batch is None:
            seqs = sentences(rng, [pad - 1])
            loss, _ = m.train_step(*seqs[0], pad_to=pad)
        else:
            seqs = sentences(rng, [pad, pad - 3, 1][:batch])
            loss, _ = m.train_sentences(seqs, pad_to=pad)
        want, ref = mean_step(ref, seqs, grads_of)
        assert loss == pytest.approx(want, rel=1e-9)
    return ref


def _one_train_graph(m):
    keys = [k for k in m.compiled() if k[0] == "train"]
    assert keys == [k for k in keys if k[1] is None] and len(keys) == 1, keys


@pytest.mark.parametrize("batch", [None, 3])
def test_tanh_cell_buckets_share_one_graph(batch, rng):
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H)
    P = init(D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    ref = _steps(m, rng, batch, lambda P, x, y: loss_and_grads(P, x, y, REG), P)
    _one_train_graph(m)
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
    # the loss graph too: one graph, numpy's loss at every bucket
    for pad in (4, 12, 6):
        x, y = sentences(rng, [pad - 2])[0]
        _, data = m.seq_loss(x, y, pad_to=pad)
        assert data == pytest.approx(loss_and_grads(got, x, y, REG)[1], rel=1e-9)
    assert len([k for k in m.compiled() if k[0] == "loss"]) == 1


@pytest.mark.parametrize("cell, layers, batch", [("gru", 1, 3), ("lstm", 2, None)])
def test_gated_cells_buckets_share_one_graph(cell, layers, batch, rng):
    """The gated cells' own BPTT (pytrnn.graphs.gated_bptt) at a free length."""
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, cell=cell, layers=layers)
    P = nc.init(cell, layers, D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    ref = _steps(
        m,
        rng,
        batch,
        lambda P, x, y: nc.loss_and_grads(cell, layers, P, x, y, REG)[:3],
        P,
    )
    _one_train_graph(m)
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_truncated_bptt_keeps_a_graph_per_length(rng):
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, bptt_truncate=3)
    m = pytrnn.RNN(cfg, params=init(D, H, rng), mode="scan", backend="jax")
    for pad in (4, 6):
        m.train_step(*sentences(rng, [pad])[0], pad_to=pad)
    assert sorted(k[1] for k in m.compiled() if k[0] == "train") == [4, 6]


def test_fused_groups_of_every_bucket_share_one_graph(rng):
    """--fuse with sentences: chunks of groups padded to different buckets run
    through one chunk graph; each group is numpy's mean-over-sentences step."""
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H)
    P = init(D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    ref = P
    for T in (4, 8, 4):
        groups = [sentences(rng, [T, T - 2]), sentences(rng, [T - 1, 1])]
        X, Y, M = (np.stack(a) for a in zip(*[m.pad_batch(g, T) for g in groups]))
        losses, _ = m.train_windows(X, Y, masks=M)
        for seqs, loss in zip(groups, losses):
            want, ref = mean_step(
                ref, seqs, lambda P, x, y: loss_and_grads(P, x, y, REG)
            )
            assert loss == pytest.approx(want, rel=1e-9)
    keys = [k for k in m.compiled() if k[0] == "fused"]
    assert len(keys) == 1 and keys[0][2] is None, keys
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
