"""The word level at scale: minibatched sentences, the stream layout, test splits.

Batched sentence steps are held to numpy (the mean over the group of each
sentence's own loss and gradient, tests/numpy_ref.py and numpy_cells.py), and a
batch of one to today's per-sentence step; the stream layout's pass to numpy over
the same streams and windows."""

import numpy as np
import numpy_cells as nc
import pytest
from helpers import batched_step, mean_step, sentences
from numpy_ref import init, loss_and_grads
from typer.testing import CliRunner

import pytrnn
from pytrnn.cli.main import app
from pytrnn.data.words import (
    END_ID,
    UNK_ID,
    WordVocab,
    hold_out,
    split_sentences,
    stream_ids,
)
from pytrnn.graphs.params import init_params
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter
from pytrnn.training.sentences import batch_groups

D, H, LR, REG, CLIP = 9, 5, 0.01, 0.01, 5.0
QUIET = PrintReporter(quiet=True)


@pytest.mark.parametrize(
    "mode, backend",
    [("scan", "jax"), ("unroll", "jax"), ("scan", "c"), ("unroll", "c")],
)
def test_batched_sentences_match_numpy(mode, backend, rng):
    """Groups of 3 padded sentences of different lengths, three steps: losses and
    parameters equal numpy's mean-over-sentences steps to 1e-9."""
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=6)
    P = init(D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode=mode, backend=backend)
    ref = P
    for lengths in ([3, 6, 1], [5, 2, 4], [6, 6, 2]):
        seqs = sentences(rng, lengths)
        loss, data = m.train_sentences(seqs, pad_to=6)
        want, ref = mean_step(ref, seqs, lambda P, x, y: loss_and_grads(P, x, y, REG))
        assert loss == pytest.approx(want, rel=1e-9)
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("cell, layers", [("gru", 1), ("lstm", 2)])
def test_batched_sentences_gated_cells_match_numpy(cell, layers, rng):
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=6, cell=cell, layers=layers)
    P = nc.init(cell, layers, D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    ref = P
    for lengths in ([3, 6, 1], [2, 5, 4]):
        seqs = sentences(rng, lengths)
        loss, _ = m.train_sentences(seqs, pad_to=8)
        want, ref = mean_step(
            ref, seqs, lambda P, x, y: nc.loss_and_grads(cell, layers, P, x, y, REG)[:3]
        )
        assert loss == pytest.approx(want, rel=1e-9)
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_batch_of_one_is_the_per_sentence_step(rng):
    """--batch 1 through the batched graph is today's one-sentence SGD step."""
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=6)
    P = init(D, H, rng)
    a = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    b = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    for x, y in sentences(rng, [4, 2, 5]):
        la = a.train_sentences([(x, y)], pad_to=8)
        lb = b.train_step(x, y, pad_to=8)
        np.testing.assert_allclose(la, lb, rtol=1e-12)
    for k, v in a.get_params().items():
        np.testing.assert_allclose(
            v, b.get_params()[k], rtol=1e-9, atol=1e-13, err_msg=k
        )


def test_batch_groups_sort_within_pools_and_cover_the_pass():
    rng_lengths = np.random.default_rng(0).integers(1, 40, 1003)
    B = 4
    g1 = batch_groups(rng_lengths, B, np.random.default_rng([7, 0]))
    g2 = batch_groups(rng_lengths, B, np.random.default_rng([7, 1]))
    assert g1.shape == (1003 // B, B)  # only the last pool's remainder (< B) waits
    assert len(set(g1.ravel())) == g1.size  # no sentence twice
    assert not np.array_equal(g1, g2)  # a new order each pass
    np.testing.assert_array_equal(
        g1, batch_groups(rng_lengths, B, np.random.default_rng([7, 0]))
    )  # seeded
    spread = np.ptp(rng_lengths[g1], axis=1).mean()
    shuffled = np.ptp(
        rng_lengths[np.random.default_rng(3).permutation(1000)].reshape(-1, B), axis=1
    ).mean()
    assert spread < shuffled / 5  # sorted pools: groups of similar length


def test_batched_word_run_trains_the_groups_it_reports(small_text, tmp_path):
    """A word run with --batch 3: the pass's words and iseq come from whole groups,
    and its parameters are numpy's mean-over-sentences steps over the same groups."""
    cfg = pytrnn.TrainConfig(
        corpus=str(small_text),
        level="word",
        passes=1,
        batch=3,
        mode="scan",
        backend="c",
        seed=5,
        val_frac=0.1,
        checkpoint=str(tmp_path / "w.npz"),
        sample_length=0,
    )
    r = train(pytrnn.RNNConfig(hidden=H), cfg, reporter=QUIET)
    from pytrnn.training.sentences import held_out_sentences

    texts = pytrnn.data.corpora.load_texts(str(small_text), None, None)
    tr = held_out_sentences(cfg, texts)[0]
    vocab = WordVocab(tuple(r.checkpoint.vocab))
    seqs = [vocab.encode_sentence(s) for s in tr]
    groups = batch_groups(
        np.array([len(x) for x, _ in seqs]), 3, np.random.default_rng([5, 0])
    )
    P = init_params(r.model.cfg, np.random.default_rng(5))
    for g in groups:
        _, P = mean_step(
            P, [seqs[k] for k in g], lambda P, x, y: loss_and_grads(P, x, y, REG)
        )
    assert r.history[0]["iseq"] == len(groups) - 1
    got = r.model.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_stream_ids_end_every_sentence():
    vocab = WordVocab.build([["a", "b"], ["b", "c"]], 10)
    ids = stream_ids(vocab, [["a", "b"], ["zz"], ["c"]])
    idx = vocab.index
    assert list(ids) == [idx["a"], idx["b"], END_ID, UNK_ID, END_ID, idx["c"], END_ID]


def test_stream_layout_pass_matches_numpy(small_text, tmp_path):
    """--layout stream --batch 2: the sentences as one stream of ids with </s>, cut
    into 2 contiguous streams and the notebook's windows; numpy's mean-over-streams
    steps over the same windows give the same loss, perplexity and parameters."""
    W, B = 7, 2
    cfg = pytrnn.TrainConfig(
        corpus=str(small_text),
        level="word",
        layout="stream",
        passes=1,
        batch=B,
        mode="scan",
        backend="jax",
        seed=3,
        val_frac=0.1,
        checkpoint=str(tmp_path / "s.npz"),
        sample_length=0,
    )
    r = train(pytrnn.RNNConfig(hidden=H, window=W), cfg, reporter=QUIET)
    sents = split_sentences(small_text.read_text())
    n_val = round(len(sents) * 0.1)
    train_s, val_s = sents[:-n_val], sents[-n_val:]  # the last 10%, in order
    vocab = WordVocab.build(train_s, 8000)
    assert tuple(r.checkpoint.vocab) == vocab.symbols
    ids = stream_ids(vocab, train_s)
    S = len(ids) // B
    streams = [ids[b * S : (b + 1) * S] for b in range(B)]
    P = init_params(r.model.cfg, np.random.default_rng(3))
    data_sum, words, i = 0.0, 0, 0
    while i + 1 + W < S or i == 0:
        X = np.stack([s[i : i + W] for s in streams], axis=1)
        Y = np.stack([s[i + 1 : i + 1 + W] for s in streams], axis=1)
        _, data, P = batched_step(P, X, Y)
        data_sum, words, i = data_sum + data * B, words + W * B, i + W
    h = r.history[0]
    assert h["train_word_loss"] == pytest.approx(data_sum / words, rel=1e-9)
    got = r.model.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
    # validation: the held-out stream's windows from h = 0, with the final params
    v = stream_ids(vocab, val_s)
    total, n, i = 0.0, 0, 0
    while i + 1 + W < len(v) or i == 0:
        total += loss_and_grads(P, v[i : i + W], v[i + 1 : i + 1 + W], 0.0)[1]
        n, i = n + W, i + W
    assert h["val_word_loss"] == pytest.approx(total / n, rel=1e-9)
    assert h["val_ppl"] == pytest.approx(np.exp(total / n), rel=1e-9)
    # eval scores the checkpoint with its stream layout, and samples follow </s>
    from pytrnn.tools.generate import sentence_start

    assert sentence_start(r.checkpoint) == END_ID
    e = pytrnn.evaluate(r.path, small_text)
    # eval: the whole text as one stream, windows of W from the first token (the
    # last partial one included), each from h = 0
    ids = stream_ids(vocab, sents)
    total = sum(
        loss_and_grads(
            P,
            ids[i : i + W][: len(ids[i + 1 : i + 1 + W])],
            ids[i + 1 : i + 1 + W],
            0.0,
        )[1]
        for i in range(0, len(ids) - 1, W)
    )
    assert e["level"] == "word" and e["words"] == len(ids) - 1
    assert e["loss_per_word"] == pytest.approx(total / (len(ids) - 1), rel=1e-9)
    assert e["ppl"] == pytest.approx(np.exp(total / (len(ids) - 1)), rel=1e-9)


def test_hold_out_shares():
    s = [[str(i)] for i in range(100)]
    tr, va, te = hold_out(s, 0.1, 0.2, seed=0, contiguous=True)
    assert (len(tr), len(va), len(te)) == (70, 10, 20) and te[-1] == ["99"]
    tr, va, te = hold_out(s, 0.1, 0.2, seed=0)
    assert (len(tr), len(va), len(te)) == (70, 10, 20)
    assert sorted(map(tuple, tr + va + te)) == sorted(map(tuple, s))
    tr0, va0, te0 = hold_out(s, 0.1, 0.0, seed=0)  # as the word level always split
    perm = np.random.default_rng(0).permutation(100)
    assert va0 == [s[i] for i in perm[:10]] and te0 == []


@pytest.mark.parametrize("level", ["char", "word"])
def test_test_frac_scores_a_held_out_test_split(level, small_text, tmp_path):
    ck = tmp_path / "t.npz"
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--corpus",
            str(small_text),
            "--level",
            level,
            "--passes",
            "1",
            "--test-frac",
            "0.2",
            "--checkpoint",
            str(ck),
            "--sample-length",
            "0",
            "--backend",
            "c",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "test (pass 1)" in r.output
    test = pytrnn.runtime.checkpoint.load(ck).run.test
    assert test["pass"] == 1 and np.isfinite(
        test["loss_per_word" if level == "word" else "loss_per_char"]
    )
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--corpus",
            str(small_text),
            "--test",
            str(small_text),
            "--test-frac",
            "0.2",
            "--checkpoint",
            str(tmp_path / "u.npz"),
        ],
    )
    assert r.exit_code == 2 and "leave out --test-frac" in r.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["--batch", "400"], "--batch 400 cuts the"),
        (["--level", "word", "--batch", "5000"], "--batch 5000 is more than the"),
        (
            ["--level", "word", "--layout", "stream", "--batch", "400"],
            "training words into",
        ),
    ],
)
def test_batch_too_large_blames_the_batch(args, words, small_text, tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--corpus",
            str(small_text),
            *args,
            "--checkpoint",
            str(tmp_path / "x.npz"),
        ],
    )
    assert r.exit_code == 2, r.output
    assert words in r.output and "lower --batch" in r.output
    assert "Traceback" not in r.output


def test_cli_lists_its_choices_and_panels():
    r = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    for text in (
        "char|word",
        "sentences|stream",
        "rnn|gru|lstm",
        "sgd|adagrad|rmsprop|adam",
        "float64|float32",
        "unroll|scan",
        "jax|numba|c",
        "cpu|gpu",
    ):
        assert text in r.output, text
    for panel in ("Model", "Data", "Training", "Speed", "Scale-out", "Output"):
        assert f"─ {panel} " in r.output, panel
    r = CliRunner().invoke(app, ["train", "--level", "sentence"])
    assert r.exit_code == 2 and "'sentence' is not one of" in r.output


def test_bench_words_smoke(tmp_path):
    """pytrnn bench --level word: baselines and pytrnn rows on the made-up text, each
    ratio its own speed over the baseline of the same batch and dtype."""
    import importlib.util
    import json

    from pytrnn.bench.words import synthetic_text

    text = synthetic_text(2_000, distinct=900, glossary=300)
    assert len({w for s in split_sentences(text[:3_000]) for w in s}) >= 300
    out = tmp_path / "w.json"
    r = CliRunner().invoke(
        app, ["bench", "--level", "word", "--smoke", "--json", str(out)]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    rows = {row["name"]: row for row in data["rows"]}
    assert data["vocab"] == 503  # the glossary makes the vocabulary the asked size
    np_speed = data["rows"][0]["words_per_s"]
    ours = rows["pytrnn train stream float32 batch 20"]
    base = rows["hand-written JAX float32 batch 20 (baseline)"]
    assert ours["vs_jax"] == pytest.approx(ours["words_per_s"] / base["words_per_s"])
    assert ours["vs_numpy"] == pytest.approx(ours["words_per_s"] / np_speed)
    assert all(row["words_per_s"] > 0 for row in data["rows"])
    assert "words/s" in r.stdout
    # #39 item 4: the figures carry their machine, measured in the same run
    from pytrnn.tools.info import FLAGS, cpu_facts

    assert data["machine"] == cpu_facts() and set(data["machine"]["flags"]) == set(
        FLAGS
    )
    assert f"measured on: {data['machine']['cpu']}" in r.stdout
    for dt in ("float32", "float64"):
        rates = data["products"][dt]
        assert set(rates) == {"h @ W", "h.T @ dz", "dz @ W.T"}
        assert all(0 < v[k] < 1e5 for v in rates.values() for k in ("blas", "xla"))
        assert f"GFLOP/s BLAS/XLA at (700x16)(16x503) {dt}" in r.stdout
    if importlib.util.find_spec("torch") is None:  # no peer here: no column
        assert all(row["vs_torch"] != row["vs_torch"] for row in data["rows"])
        assert "x PyTorch" not in r.stdout


@pytest.mark.parametrize(
    "extra",
    [
        ["--cells"],
        ["--e2e"],
        ["--corpus", "pydoc"],
        ["--backend", "jax", "--backend", "c"],
    ],
)
def test_bench_word_level_refuses_options_it_would_ignore(extra):
    r = CliRunner().invoke(app, ["bench", "--level", "word", "--smoke", *extra])
    assert r.exit_code == 2 and "--level word measures one backend" in r.stderr


def test_cli_backend_choices_are_the_backends():
    from pytrnn.config import BACKEND_NAMES
    from pytrnn.runtime.backends import BACKENDS

    assert set(BACKEND_NAMES) == set(BACKENDS)


def test_a_test_split_too_short_stops_before_training(small_text, tmp_path):
    r = CliRunner().invoke(
        app,
        [
            "train",
            "--corpus",
            str(small_text),
            "--test-frac",
            "0.001",
            "--checkpoint",
            str(tmp_path / "t.npz"),
        ],
    )
    assert r.exit_code == 2 and "fewer than window+1" in r.output
    assert not (tmp_path / "t.npz").exists()  # nothing trained, nothing written


def test_batched_sentences_with_dropout_match_numpy(rng):
    """Dropout with padded groups: each sentence's real positions take their slice of
    the (layers, T, B, H) masks; numpy with those slices gives the same steps."""
    cell, layers, T = "lstm", 2, 8
    cfg = pytrnn.RNNConfig(
        vocab_size=D, hidden=H, window=6, cell=cell, layers=layers, dropout=0.3
    )
    P = nc.init(cell, layers, D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode="scan", backend="jax")
    ref = P
    for lengths in ([3, 8, 5], [6, 2, 7]):
        seqs = sentences(rng, lengths)
        drop = m.draw_drop(T, len(seqs))
        assert drop.shape == (layers, T, 3, H) and (drop == 0).any()
        loss, _ = m.train_sentences(seqs, pad_to=T, drop=drop)
        per = {id(x): drop[:, T - len(x) :, b, :] for b, (x, _) in enumerate(seqs)}
        want, ref = mean_step(
            ref,
            seqs,
            lambda P, x, y, per=per: nc.loss_and_grads(
                cell, layers, P, x, y, REG, per[id(x)]
            )[:3],
        )
        assert loss == pytest.approx(want, rel=1e-9)
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("mode", ["scan", "unroll"])
def test_batched_sentences_truncated_bptt_match_numpy(mode, rng):
    """--bptt-truncate 3 with left-padded groups: every sentence ends at the last
    position, so the last 3 steps of the group are each sentence's last 3 steps."""
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=6, bptt_truncate=3)
    P = init(D, H, rng)
    m = pytrnn.RNN(cfg, params=P, mode=mode, backend="jax")
    ref = P
    for lengths in ([5, 2, 8], [7, 8, 4]):
        seqs = sentences(rng, lengths)
        loss, _ = m.train_sentences(seqs, pad_to=8)
        want, ref = mean_step(
            ref, seqs, lambda P, x, y: loss_and_grads(P, x, y, REG, truncate=3)
        )
        assert loss == pytest.approx(want, rel=1e-9)
    got = m.get_params()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
