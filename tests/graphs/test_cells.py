"""GRU, LSTM and stacked layers; Adagrad, RMSprop and Adam: pytrnn against the
independent numpy references in tests/numpy_cells.py, which finite differences
check in turn."""

import numpy as np
import pytest
from helpers import assert_model_linkers, train_in_both_modes
from numpy_cells import (
    check_finite_differences,
    init,
    loss_and_grads,
    names,
    opt_init,
    opt_step,
)

import pytrnn

D, H, L = 6, 4, 5
LR, REG, CLIP = 0.05, 0.01, 5.0
_MODELS: dict = {}


def model(mode="scan", backend="jax", **kw):
    cfg = pytrnn.RNNConfig(
        vocab_size=D,
        hidden=H,
        window=L,
        lr=kw.pop("lr", LR),
        reg=REG,
        clip=kw.pop("clip", CLIP),
        **kw,
    )
    key = (mode, backend, cfg)
    if key not in _MODELS:
        _MODELS[key] = pytrnn.RNN(cfg, mode=mode, backend=backend)
    return _MODELS[key]


@pytest.mark.parametrize(
    "cell, layers", [("gru", 1), ("gru", 2), ("lstm", 1), ("lstm", 2), ("rnn", 2)]
)
def test_numpy_reference_matches_finite_differences(cell, layers):
    rng = np.random.default_rng(0)
    P = init(cell, layers, D, H, rng)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    check_finite_differences(cell, layers, P, x, y, REG, names(cell, layers))


def run_against_numpy(
    m, cell, layers, optimizer, seqs, rng, pad=None, clip=CLIP, clip_norm=0.0
):
    """Train pytrnn and numpy side by side; loss, data loss, parameters to 1e-9."""
    P = init(cell, layers, D, H, rng)
    assert list(m.get_params()) == names(cell, layers)  # the contract's layout
    m.set_params(P)
    m.set_opt_state({k: np.zeros_like(v) for k, v in m.get_opt_state().items()})
    state = opt_init(optimizer, P)
    for x, y in seqs:
        loss, data = m.train_step(x, y, pad_to=pad)
        want, want_data, g = loss_and_grads(cell, layers, P, x, y, REG)
        P = opt_step(optimizer, P, g, state, LR, clip, clip_norm=clip_norm)
        assert loss == pytest.approx(want, rel=1e-9)
        assert data == pytest.approx(want_data, rel=1e-9)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("mode", ["scan", "unroll"])
@pytest.mark.parametrize(
    "cell, layers", [("gru", 1), ("lstm", 2), ("rnn", 2), ("gru", 2)]
)
def test_cells_match_numpy(cell, layers, mode):
    rng = np.random.default_rng(1)
    seqs = [(rng.integers(0, D, L), rng.integers(0, D, L)) for _ in range(3)]
    m = model(mode, cell=cell, layers=layers)
    run_against_numpy(m, cell, layers, "sgd", seqs, rng)
    run_against_numpy(
        model(mode, cell=cell, layers=layers, clip=0.05),
        cell,
        layers,
        "sgd",
        seqs,
        rng,
        clip=0.05,
    )  # a clip that bites


@pytest.mark.parametrize(
    "mode, backend, cell, optimizer",
    [
        ("scan", "jax", "lstm", "sgd"),
        ("unroll", "jax", "rnn", "adam"),
        ("scan", "c", "rnn", "sgd"),
        ("scan", "numba", "rnn", "sgd"),
    ],
)
def test_clip_norm_is_torchs_clip_grad_norm(mode, backend, cell, optimizer):
    """--clip-norm 0.5 with --clip 0 (word_language_model's clipping): every
    gradient scaled by min(0.5 / (norm + 1e-6), 1), the norm taken over all of them
    together (numpy_cells.norm_clip, from torch's documentation), two layers, on each
    backend and mode. The norm bites: the raw gradients' norm is above 0.5."""
    rng = np.random.default_rng(7)
    seqs = [(rng.integers(0, D, L), rng.integers(0, D, L)) for _ in range(3)]
    P = init(cell, 2, D, H, np.random.default_rng(7))
    raw = loss_and_grads(cell, 2, P, *seqs[0], REG)[2]
    assert np.sqrt(sum((v**2).sum() for v in raw.values())) > 1.0
    m = model(
        mode, backend, cell=cell, layers=2, optimizer=optimizer, clip=0.0, clip_norm=0.5
    )
    run_against_numpy(
        m, cell, 2, optimizer, seqs, np.random.default_rng(7), clip=0.0, clip_norm=0.5
    )


def test_clip_norm_in_fused_batched_windows():
    """The same rule inside one fused call of K windows of B streams (JAX)."""
    rng = np.random.default_rng(8)
    B = 2
    P = init("rnn", 2, D, H, rng)
    X, Y = rng.integers(0, D, (2, L, B)), rng.integers(0, D, (2, L, B))
    m = model("scan", "jax", cell="rnn", layers=2, clip=0.0, clip_norm=0.3)
    m.set_params(P)
    m.train_windows(X, Y)
    for k in range(2):
        parts = [
            loss_and_grads("rnn", 2, P, X[k, :, b], Y[k, :, b], 0.0) for b in range(B)
        ]
        g = {n: sum(p[2][n] for p in parts) / B for n in P}
        for n in [n for n in P if n.startswith(("Wxh", "Whh", "Why"))]:
            g[n] += 2 * REG * P[n]
        P = opt_step("sgd", P, g, {}, LR, 0.0, clip_norm=0.3)
    got = m.get_params()
    for n in P:
        np.testing.assert_allclose(got[n], P[n], rtol=1e-9, atol=1e-12, err_msg=n)


@pytest.mark.parametrize("optimizer", ["adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_optimizers_match_torch_rules(optimizer, cell):
    rng = np.random.default_rng(2)
    seqs = [(rng.integers(0, D, L), rng.integers(0, D, L)) for _ in range(4)]
    m = model("scan", cell=cell, optimizer=optimizer)
    run_against_numpy(m, cell, 1, optimizer, seqs, rng)
    assert m.get_opt_state()  # the state the checkpoint keeps


@pytest.mark.parametrize("backend, cell", [("c", "gru"), ("numba", "lstm")])
def test_other_backends_match_numpy_free_length(backend, cell):
    """C and Numba take any length (project layer 0 inside the loop); two layers,
    Adam, three lengths. (One cell each: a cold Numba graph of a gated cell costs
    about 50 s, and both cells already meet numpy on JAX and C.)"""
    rng = np.random.default_rng(3)
    seqs = [(rng.integers(0, D, n), rng.integers(0, D, n)) for n in (5, 3, 7)]
    m = model("scan", backend, cell=cell, layers=2, optimizer="adam")
    run_against_numpy(m, cell, 2, "adam", seqs, rng)
    assert_model_linkers(m)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_gives_the_bare_sequence_steps(cell):
    """Word level: left-padded, masked sentences train exactly the bare ones."""
    rng = np.random.default_rng(4)
    seqs = [(rng.integers(0, D, n), rng.integers(0, D, n)) for n in (3, 5, 2)]
    run_against_numpy(
        model("scan", cell=cell, layers=2), cell, 2, "sgd", seqs, rng, pad=8
    )


@pytest.mark.parametrize("backend", ["jax", "c"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_fused_batched_windows_match_numpy(cell, backend):
    """K = 3 windows of B = 2 streams in one call (the last one padded), with Adam:
    the mean over streams, one optimizer step per window, state carried along."""
    rng = np.random.default_rng(5)
    B = 2
    P = init(cell, 2, D, H, rng)
    X, Y = rng.integers(0, D, (3, L, B)), rng.integers(0, D, (3, L, B))
    m = model("scan", backend, cell=cell, layers=2, optimizer="adam")
    m.set_params(P)
    m.set_opt_state({k: np.zeros_like(v) for k, v in m.get_opt_state().items()})
    losses, data = m.train_windows(X, Y, wmask=[1, 1, 0])
    state = opt_init("adam", P)
    for k in range(2):
        parts = [
            loss_and_grads(cell, 2, P, X[k, :, b], Y[k, :, b], 0.0) for b in range(B)
        ]
        g = {n: sum(p[2][n] for p in parts) / B for n in P}
        W = [n for n in P if n.startswith(("Wxh", "Whh", "Why"))]
        for n in W:
            g[n] += 2 * REG * P[n]
        want_data = sum(p[1] for p in parts) / B
        want = want_data + REG * sum((P[n] ** 2).sum() for n in W)
        P = opt_step("adam", P, g, state, LR, CLIP)
        assert losses[k] == pytest.approx(want, rel=1e-9)
        assert data[k] == pytest.approx(want_data, rel=1e-9)
    got = m.get_params()
    for n in P:
        np.testing.assert_allclose(got[n], P[n], rtol=1e-9, atol=1e-12, err_msg=n)
    assert m.get_opt_state()["t"] == 2  # the padded window took no step


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_truncated_bptt_scan_equals_unroll(cell):
    """--bptt-truncate keeps scan's truncate_gradient semantics in every layer; the
    unrolled loop cuts at the same place."""
    rng = np.random.default_rng(6)
    P = init(cell, 2, D, H, rng)
    seqs = [(rng.integers(0, D, L), rng.integers(0, D, L)) for _ in range(2)]
    both = train_in_both_modes(
        lambda mode: model(mode, cell=cell, layers=2, bptt_truncate=2), P, seqs
    )
    out = [both["scan"], both["unroll"]]
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-10)
    for k in P:
        np.testing.assert_allclose(out[0][1][k], out[1][1][k], rtol=1e-9, atol=1e-12)
    full = model("scan", cell=cell, layers=2)
    full.set_params(P)
    full.train_on_seq(*seqs[0])
    assert not np.allclose(full.get_params()["Whh"], out[0][1]["Whh"])  # it did cut


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_sampling_step_carries_every_layer_state(cell):
    """Stepping with the carried (layers x states, H) state equals rerunning the
    prefix in one scan."""
    rng = np.random.default_rng(7)
    m = model("scan", cell=cell, layers=2)
    m.set_params(init(cell, 2, D, H, rng))
    ids = rng.integers(0, D, 6)
    h = m.initial_state()
    for i in ids:
        h, logits = m.step(i, h)
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(p / p.sum(), m.predict_prob(ids), rtol=1e-10)


def test_the_notebook_model_keeps_its_layout_and_initialisation():
    """Defaults are the notebook's cell, bit for bit: five arrays, In[113]'s draw."""
    from pytrnn.graphs.params import init_params

    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H)
    assert (cfg.cell, cfg.layers, cfg.optimizer) == ("rnn", 1, "sgd")
    P = init_params(cfg, np.random.default_rng(0))
    r = np.random.default_rng(0)
    assert list(P) == ["Wxh", "Whh", "bh", "Why", "by"]
    np.testing.assert_array_equal(P["Wxh"], r.standard_normal((D, H)) / np.sqrt(D))
    np.testing.assert_array_equal(P["Whh"], r.standard_normal((H, H)) / np.sqrt(H))
    np.testing.assert_array_equal(P["Why"], r.standard_normal((H, D)) / np.sqrt(H))


# -- through the CLI: both levels, sampling, resume with the optimizer's state ----


def test_cli_lstm_adam_resumes_to_the_same_parameters(tmp_path):
    """A two-layer LSTM with dropout 0.2 and Adam, interrupted and resumed (Adam's
    moments and step count from the checkpoint, the dropout masks drawn from
    (seed, pass, window)), ends where an uninterrupted run does; it samples."""
    from typer.testing import CliRunner

    from pytrnn.cli.main import app
    from pytrnn.runtime import checkpoint as ck

    run = CliRunner().invoke
    base = [
        "train",
        "--cell",
        "lstm",
        "--layers",
        "2",
        "--dropout",
        "0.2",
        "--optimizer",
        "adam",
        "--hidden",
        "6",
        "--window",
        "10",
        "--limit-chars",
        "2000",
        "--sample-length",
        "0",
    ]
    full, part = tmp_path / "full.npz", tmp_path / "part.npz"
    assert run(app, [*base, "--passes", "3", "--checkpoint", str(full)]).exit_code == 0
    assert run(app, [*base, "--passes", "1", "--checkpoint", str(part)]).exit_code == 0
    assert ck.load(part).opt_state["t"] > 0
    r = run(app, ["train", "--resume", str(part), "--passes", "3"])
    assert r.exit_code == 0, r.output
    a, b = ck.load(full), ck.load(part)
    assert b.cfg.lr == 0.001 and b.cfg.cell == "lstm"  # adam's default rate, kept
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    for k in a.opt_state:
        np.testing.assert_array_equal(a.opt_state[k], b.opt_state[k], err_msg=k)
    s = run(app, ["sample", str(full), "--length", "30", "--prime", "The "])
    assert (
        s.exit_code == 0 and s.stdout.startswith("The ") and len(s.stdout.strip()) >= 30
    )


def test_cli_gru_word_level_trains_and_samples(tmp_path):
    from typer.testing import CliRunner

    from pytrnn.cli.main import app

    run = CliRunner().invoke
    (tmp_path / "t.txt").write_text(
        "the cat sat on the mat . the dog sat on the log . " * 20
    )
    path = tmp_path / "w.npz"
    r = run(
        app,
        [
            "train",
            "--corpus",
            str(tmp_path / "t.txt"),
            "--level",
            "word",
            "--cell",
            "gru",
            "--layers",
            "2",
            "--dropout",
            "0.2",
            "--optimizer",
            "rmsprop",
            "--hidden",
            "8",
            "--passes",
            "2",
            "--val-frac",
            "0.1",
            "--checkpoint",
            str(path),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "val loss/word=" in r.stdout
    s = run(app, ["sample", str(path), "--prime", "the cat", "--sentences", "2"])
    assert s.exit_code == 0 and s.stdout.startswith("The cat"), s.output


def test_float32_gated_cells_track_numpy():
    rng = np.random.default_rng(8)
    P = init("gru", 2, D, H, rng)
    m = model("scan", cell="gru", layers=2, optimizer="rmsprop", dtype="float32")
    m.set_params(P)
    state = opt_init("rmsprop", P)
    for _ in range(3):
        x, y = rng.integers(0, D, L), rng.integers(0, D, L)
        loss = m.train_on_seq(x, y)
        want, _, g = loss_and_grads("gru", 2, P, x, y, REG)
        P = opt_step("rmsprop", P, g, state, LR, CLIP)
        assert loss == pytest.approx(want, rel=1e-4)
    got = m.get_params()
    assert got["Whh_1"].dtype == np.float32
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-3, atol=1e-4, err_msg=k)


# -- dropout ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, backend", [("scan", "jax"), ("unroll", "jax"), ("scan", "c")]
)
def test_dropout_matches_numpy_with_the_same_masks(mode, backend):
    """Dropout (0.3) on the connections between layers and before the output: with
    the masks pytrnn drew, numpy's forward and BPTT give the same steps; evaluation
    (seq_loss) uses no dropout."""
    rng = np.random.default_rng(9)
    cell, layers = "lstm", 2
    P = init(cell, layers, D, H, rng)
    m = model(mode, backend, cell=cell, layers=layers, dropout=0.3)
    m.set_params(P)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    assert m.seq_loss(x, y)[0] == pytest.approx(
        loss_and_grads(cell, layers, P, x, y, REG)[0], rel=1e-9
    )
    for _ in range(2):
        drop = m.draw_drop(L)
        assert set(np.unique(drop)) <= {0.0, 1 / 0.7} and (drop == 0).any()
        loss, data = m.train_step(x, y, drop=drop)
        want, want_data, g = loss_and_grads(cell, layers, P, x, y, REG, drop)
        P = {k: P[k] - LR * np.clip(g[k], -CLIP, CLIP) for k in P}
        assert loss == pytest.approx(want, rel=1e-9)
        assert data == pytest.approx(want_data, rel=1e-9)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_dropout_fused_windows_use_their_own_masks():
    """The fused path takes one set of masks per window (K, layers, T, B, H)."""
    rng = np.random.default_rng(10)
    P = init("gru", 2, D, H, rng)
    X, Y = rng.integers(0, D, (2, L, 2)), rng.integers(0, D, (2, L, 2))
    m = model("scan", "jax", cell="gru", layers=2, dropout=0.5)
    m.set_params(P)
    drops = m.draw_drop(L, 2, windows=2)
    losses, _ = m.train_windows(X, Y, drops=drops)
    for k in range(2):
        parts = [
            loss_and_grads("gru", 2, P, X[k, :, b], Y[k, :, b], 0.0, drops[k, :, :, b])
            for b in range(2)
        ]
        g = {n: sum(p[2][n] for p in parts) / 2 for n in P}
        W = [n for n in P if n.startswith(("Wxh", "Whh", "Why"))]
        for n in W:
            g[n] += 2 * REG * P[n]
        want = sum(p[1] for p in parts) / 2 + REG * sum((P[n] ** 2).sum() for n in W)
        P = {n: P[n] - LR * np.clip(g[n], -CLIP, CLIP) for n in P}
        assert losses[k] == pytest.approx(want, rel=1e-9)
    got = m.get_params()
    for n in P:
        np.testing.assert_allclose(got[n], P[n], rtol=1e-9, atol=1e-12, err_msg=n)


@pytest.mark.parametrize("cell, batch", [("gru", None), ("lstm", 3)])
def test_bench_cell_baseline_trains_the_same_model(cell, batch):
    """The hand-written JAX trainer of a cell must compute pytrnn's steps, or its
    speed means nothing as a yardstick."""
    import jax.numpy as jnp

    from pytrnn.bench.cells import jax_cell_trainer

    rng = np.random.default_rng(11)
    shape = (3, L) if batch is None else (3, L, batch)
    X, Y = rng.integers(0, D, shape), rng.integers(0, D, shape)
    m = model("scan", cell=cell)
    P = init(cell, 1, D, H, rng)
    m.set_params(P)
    ours, _ = m.train_windows(X, Y)
    PJ, theirs = jax_cell_trainer(m.cfg, batch)(
        {k: jnp.asarray(v) for k, v in P.items()}, jnp.asarray(X), jnp.asarray(Y)
    )
    np.testing.assert_allclose(np.asarray(theirs), ours, rtol=1e-9)
    for k, v in m.get_params().items():
        np.testing.assert_allclose(
            np.asarray(PJ[k]), v, rtol=1e-9, atol=1e-12, err_msg=k
        )


def test_bench_cells_smoke(tmp_path):
    import json

    from typer.testing import CliRunner

    from pytrnn.cli.main import app

    out = tmp_path / "b.json"
    r = CliRunner().invoke(app, ["bench", "--smoke", "--cells", "--json", str(out)])
    assert r.exit_code == 0, r.output
    rows = json.loads(out.read_text())["cells"]
    assert [x["name"].split()[0] for x in rows] == ["hand-written", "pytrnn"] * 2
    for base, ours in zip(rows[::2], rows[1::2]):
        assert ours["vs_jax"] == pytest.approx(
            ours["chars_per_s"] / base["chars_per_s"]
        )


def test_sgd_updates_is_the_notebooks_rule_for_any_config():
    """steps.sgd_updates (the library's update-pair builder in the notebook's shape)
    applies plain clipped SGD, whatever optimizer the config names."""
    import pytensor

    from pytrnn.graphs.forward import build_scan
    from pytrnn.graphs.updates import sgd_updates
    from pytrnn.runtime.backends import compile_mode

    rng = np.random.default_rng(12)
    cfg = pytrnn.RNNConfig(
        vocab_size=D,
        hidden=H,
        window=L,
        lr=LR,
        reg=REG,
        clip=0.05,
        cell="gru",
        optimizer="adam",
    )
    P = init("gru", 1, D, H, rng)
    shared = {k: pytensor.shared(v.copy(), name=k) for k, v in P.items()}
    g = build_scan(cfg, shared, length=L)
    grads = pytensor.grad(g.loss, [shared[k] for k in names("gru", 1)])
    step = pytensor.function(
        g.inputs,
        g.loss,
        updates=sgd_updates(shared, grads, cfg),
        mode=compile_mode("jax"),
    )  # the rule, not the backend: fast
    x, y = (
        rng.integers(0, D, L).astype(np.int32),
        rng.integers(0, D, L).astype(np.int32),
    )
    step(x, y)
    _, _, gr = loss_and_grads("gru", 1, P, x, y, REG)
    for k in P:
        np.testing.assert_allclose(
            shared[k].get_value(),
            P[k] - LR * np.clip(gr[k], -0.05, 0.05),
            rtol=1e-9,
            atol=1e-12,
            err_msg=k,
        )
