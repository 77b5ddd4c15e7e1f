"""AWD-LSTM's regularizers and optimizer in pytrnn's graphs (docs/awd-lstm.md):
locked and per-place dropout, embedding dropout, weight drop, AR and TAR, weight
decay and ASGD (from the start, or switched on by --nt-asgd), against the
independent numpy reference (tests/numpy_cells.py), which finite differences
check in turn: forward, BPTT, the penalties, the update and the average, to 1e-9
in float64, in both modes, on JAX, C and Numba, with layers, batches, fused
windows, carried state and right-padded windows of --variable-bptt."""

import numpy as np
import pytest
from helpers import AWD_ON
from numpy_cells import final_states, forward, init, loss_and_grads, opt_step

import pytrnn
from pytrnn.errors import ConfigError

D, H, L = 6, 4, 5
LR, REG, WD = 0.05, 0.01, 0.01
AWD = AWD_ON  # its hidden (4) is H, its wdecay WD
_MODELS: dict = {}


def model(mode="scan", backend="jax", carry=False, **kw):
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=L, lr=LR, reg=REG, **kw)
    key = (mode, backend, carry, cfg)
    if key not in _MODELS:
        _MODELS[key] = pytrnn.RNN(cfg, mode=mode, backend=backend, carry_state=carry)
    return _MODELS[key]


def ref_terms(masks, b=None, T=L, B=1, layers=2):
    """numpy's view of one stream's masks from pytrnn's draw_drop dict, and AWD's
    coefficients of the sums (alpha / (T B H), beta / ((T - 1) B H))."""
    pick = (lambda a: a) if b is None else (lambda a: a[:, :, b])
    wm = {
        ("" if l == 0 else f"_{l}"): masks["wdrop" + ("" if l == 0 else f"_{l}")]
        for l in range(layers)
    }
    return dict(
        drop=pick(masks["drop"]),
        erows=masks["edrop"],
        wmask=wm,
        ar=2.0 / (T * B * H),
        tar=1.0 / (max(T - 1, 1) * B * H),
    )


def test_numpy_reference_with_awd_terms_matches_finite_differences():
    rng = np.random.default_rng(0)
    P = init("lstm", 2, D, H, rng, emsize=H, tied=True)
    x, y = rng.integers(0, D, L), rng.integers(0, D, L)
    drop = (rng.random((3, L, H)) >= 0.3) / 0.7
    kw = dict(
        drop=drop,
        erows=(rng.random(D) >= 0.3) / 0.7,
        scale=1 / L,
        wmask={
            "": (rng.random((H, 4 * H)) >= 0.5) * 2.0,
            "_1": (rng.random((H, 4 * H)) >= 0.5) * 2.0,
        },
        ar=0.3,
        tar=0.2,
    )
    _, _, g = loss_and_grads("lstm", 2, P, x, y, REG, **kw)
    eps = 1e-6
    for k in P:
        for idx in list(np.ndindex(P[k].shape))[:: max(P[k].size // 5, 1)]:
            Q = {n: v.copy() for n, v in P.items()}
            Q[k][idx] += eps
            lp = loss_and_grads("lstm", 2, Q, x, y, REG, **kw)[0]
            Q[k][idx] -= 2 * eps
            lm = loss_and_grads("lstm", 2, Q, x, y, REG, **kw)[0]
            assert g[k][idx] == pytest.approx(
                (lp - lm) / (2 * eps), rel=1e-5, abs=1e-8
            ), (k, idx)


def check_params(m, P, state=None):
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
    if state is not None and "ax" in state:
        avg = m.averaged_params()
        for k in P:
            np.testing.assert_allclose(
                avg[k], state["ax"][k], rtol=1e-9, atol=1e-12, err_msg="ax." + k
            )


CASES = [
    ("scan", "jax", "asgd", 0),
    ("unroll", "jax", "sgd", 1),
    ("scan", "c", "sgd", 2),
    ("scan", "numba", "asgd", 0),
]


@pytest.mark.parametrize("mode, backend, optimizer, switch", CASES)
def test_awd_step_matches_numpy(mode, backend, optimizer, switch):
    """Four steps with every regularizer on, the masks drawn by the model and given
    to numpy; ASGD from the start, or SGD with --nt-asgd switched on after
    ``switch`` steps (the average then starts)."""
    kw = dict(AWD, optimizer=optimizer, nt_asgd=3 if optimizer == "sgd" else 0)
    m = model(mode, backend, **kw)
    rng = np.random.default_rng(1)
    P = init("lstm", 2, D, H, rng, emsize=H, tied=True)
    m.set_params(P)
    m.set_opt_state(pytrnn.graphs.optim.init_state(m.cfg))
    state = {}
    for i in range(4):
        if optimizer == "sgd" and i == switch:
            m.start_averaging()
        averaging = optimizer == "asgd" or i >= switch
        x, y = rng.integers(0, D, L), rng.integers(0, D, L)
        masks = m.draw_drop(L, rng=np.random.default_rng([7, i]))
        loss, data = m.train_step(x, y, drop=masks)
        want, want_data, g = loss_and_grads(
            "lstm", 2, P, x, y, REG, scale=1 / L, **ref_terms(masks)
        )
        P = opt_step(
            "asgd" if averaging else "sgd",
            P,
            g,
            state,
            LR,
            0.0,
            clip_norm=0.5,
            wdecay=WD,
        )
        assert loss == pytest.approx(want, rel=1e-9)
        assert data == pytest.approx(want_data, rel=1e-9)
    check_params(m, P, state)


@pytest.mark.parametrize("chunk", [None, 4])
def test_fused_batched_carried_windows_match_numpy(chunk):
    """K windows of B streams in one fused call (JAX), each carrying its state,
    every regularizer on and ASGD: the masks per window, locked along time, the
    embedding's and the weights' shared by the streams. ``chunk``: the output
    layer in chunks of 4 rows (pytrnn.graphs.chunked), against the same numpy."""
    rng = np.random.default_rng(4)
    B, K = 2, 3
    P = init("lstm", 2, D, H, rng, emsize=H, tied=True)
    m = model("scan", "jax", carry=True, optimizer="asgd", output_chunk=chunk, **AWD)
    m.set_params(P)
    m.set_opt_state(pytrnn.graphs.optim.init_state(m.cfg))
    m.reset_carry(B)
    X, Y = rng.integers(0, D, (K, L, B)), rng.integers(0, D, (K, L, B))
    masks = m.draw_drop(L, B, K, rng=np.random.default_rng(5))
    assert masks["drop"].strides[2] == 0  # locked: one draw seen at every step
    # the fused call takes one step of each locked mask (#36: a T-th of the memory)
    _, args = m.stepper.chunk(m.programs, X, Y, np.zeros(K), masks)
    assert [a.shape for a in args if np.ndim(a) == 5] == [(K, 3, 1, B, H)]
    losses, data = m.train_windows(X, Y, drops=masks)
    h, state = [None] * B, {}
    for k in range(K):
        mk = {n: v[k] for n, v in masks.items()}
        g_sum, d_sum, loss, new_h = None, 0.0, 0.0, []
        for b in range(B):
            terms = ref_terms(mk, b, B=B)
            l, d, g = loss_and_grads(
                "lstm",
                2,
                P,
                X[k, :, b],
                Y[k, :, b],
                REG / B,
                init=h[b],
                scale=1 / (L * B),
                **terms,
            )
            caches = forward(
                "lstm",
                2,
                {
                    **P,
                    "Whh": P["Whh"] * terms["wmask"][""],
                    "Whh_1": P["Whh_1"] * terms["wmask"]["_1"],
                },
                X[k, :, b],
                terms["drop"],
                h[b],
                terms["erows"],
            )[2]
            new_h.append(final_states("lstm", caches))
            d_sum, loss = d_sum + d / B, loss + l
            g_sum = g if g_sum is None else {n: g_sum[n] + g[n] for n in g}
        h = new_h
        assert data[k] == pytest.approx(d_sum, rel=1e-9)
        assert losses[k] == pytest.approx(loss, rel=1e-9)
        P = opt_step("asgd", P, g_sum, state, LR, 0.0, clip_norm=0.5, wdecay=WD)
    check_params(m, P, state)
    got = m.get_carry()
    for b in range(B):
        np.testing.assert_allclose(got[0, b], h[b][0][0], rtol=1e-9)
        np.testing.assert_allclose(got[3, b], h[b][1][1], rtol=1e-9)


@pytest.mark.parametrize("backend", ["jax", "c"])
def test_right_padded_windows_carry_from_their_last_real_step(backend):
    """--variable-bptt's windows: right-padded to a bucket under the mask, the
    rate scaled by length / bptt, the state carried from each stream's last real
    step; numpy sees the unpadded windows. One call per window (the rate set per
    call) and, on JAX, the same windows as one fused chunk (the scale as each
    window's weight). ASGD: each step after the first moves by the rate of the
    step before (torch's eta), its first by its own."""
    rng = np.random.default_rng(6)
    B, T, lengths = 2, 8, (6, 3, 8)
    kw = dict(
        AWD, variable_bptt=True, dropoute=0.0, wdrop=0.0, ar=0.0, optimizer="asgd"
    )
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, window=L, lr=LR, reg=REG, **kw)
    m = pytrnn.RNN(
        cfg, mode="scan", backend=backend, carry_state=True, variable_lr=True
    )
    P0 = init("lstm", 2, D, H, rng, emsize=H, tied=True)
    X, Y = rng.integers(0, D, (3, T, B)), rng.integers(0, D, (3, T, B))
    M = np.zeros((3, T, B))
    for k, n in enumerate(lengths):
        M[k, :n] = 1
    masks = m.draw_drop(T, B, 3, rng=np.random.default_rng(9))
    P, h, state = P0, [None] * B, {}
    m.set_params(P0)
    m.set_opt_state(pytrnn.graphs.optim.init_state(cfg))
    m.reset_carry(B)
    for k, n in enumerate(lengths):
        m.set_lr(LR * n / L)
        loss, data = m.train_masked(X[k], Y[k], M[k], drop=masks[k])
        g_sum, d_sum, new_h = None, 0.0, []
        for b in range(B):
            drop = masks[k][:, :n, b]
            x, y = X[k, :n, b], Y[k, :n, b]
            _, d, g = loss_and_grads(
                "lstm",
                2,
                P,
                x,
                y,
                REG / B,
                drop=drop,
                init=h[b],
                scale=1 / (n * B),
                tar=1.0 / ((n - 1) * B * H),
            )
            new_h.append(final_states("lstm", forward("lstm", 2, P, x, drop, h[b])[2]))
            d_sum += d / B
            g_sum = g if g_sum is None else {k2: g_sum[k2] + g[k2] for k2 in g}
        h = new_h
        assert data == pytest.approx(d_sum, rel=1e-9)
        P = opt_step("asgd", P, g_sum, state, LR * n / L, 0.0, clip_norm=0.5, wdecay=WD)
    check_params(m, P, state)
    if backend != "jax":
        return
    fused = model("scan", "jax", carry=True, **kw)
    fused.set_params(P0)
    fused.set_opt_state(pytrnn.graphs.optim.init_state(cfg))
    fused.reset_carry(B)
    fused.train_windows(X, Y, wmask=np.array(lengths) / L, drops=masks, masks=M)
    check_params(fused, P, state)
    np.testing.assert_allclose(fused.get_carry(), m.get_carry(), rtol=1e-9)


def test_masks_are_locked_and_per_place():
    """--locked-dropout: one mask per stream and window, the same at every step;
    each place at its own rate; embedding rows and weight-drop masks per step."""
    m = model("scan", "jax", **AWD)
    masks = m.draw_drop(50, 3, rng=np.random.default_rng(0))
    drop = masks["drop"]  # (layers + 1, T, B, H)
    assert drop.shape == (3, 50, 3, H)
    assert (drop == drop[:, :1]).all()  # the same at every step
    assert not (drop[:, :, 0] == drop[:, :, 1]).all()  # not across streams
    for slot, p in enumerate((0.3, 0.2, 0.4)):  # dropouti, dropouth, dropouto
        assert set(np.unique(drop[slot])) <= {0.0, 1 / (1 - p)}
    assert set(np.unique(masks["edrop"])) <= {0.0, 1 / 0.8} and masks[
        "edrop"
    ].shape == (D,)
    assert masks["wdrop_1"].shape == (H, 4 * H)
    assert set(np.unique(masks["wdrop"])) == {0.0, 2.0}
    unlocked = model("scan", "jax", **{**AWD, "locked_dropout": False})
    d2 = unlocked.draw_drop(50, 3, rng=np.random.default_rng(0))["drop"]
    assert not (d2 == d2[:, :1]).all()


def test_one_rate_everywhere_is_plain_dropout_bit_for_bit():
    """--dropouti/h/o all equal to --dropout draw and train what --dropout alone
    does: the new code is a no-op when it adds nothing."""
    base = dict(cell="lstm", layers=2, emsize=H, clip=0.0)
    a = model("scan", "jax", dropout=0.3, **base)
    b = model(
        "scan", "jax", dropout=0.0, dropouti=0.3, dropouth=0.3, dropouto=0.3, **base
    )
    P = init("lstm", 2, D, H, np.random.default_rng(0), emsize=H)
    x = np.arange(L) % D
    out = []
    for m in (a, b):
        m.set_params(P)
        masks = m.draw_drop(L, rng=np.random.default_rng(3))
        out.append((masks, m.train_step(x, x[::-1], drop=masks), m.get_params()))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    assert out[0][1] == out[1][1]
    for k in P:
        np.testing.assert_array_equal(out[0][2][k], out[1][2][k])


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(dropouti=1.0, emsize=4), "--dropouti must be in"),
        (dict(dropoute=-0.1, emsize=4), "--dropoute must be in"),
        (dict(wdrop=1.5), "--wdrop must be in"),
        (dict(dropoute=0.1), "--dropoute drops rows of the embedding"),
        (dict(dropouti=0.1), "--dropouti is on the embedding"),
        (dict(ar=-1.0), "--ar must be non-negative"),
        (dict(tar=-1.0), "--tar must be non-negative"),
        (dict(wdecay=-1e-6), "--wdecay must be non-negative"),
        (dict(nt_asgd=3, optimizer="adam"), "--nt-asgd switches SGD"),
        (dict(nt_asgd=-1), "--nt-asgd must be 0"),
    ],
)
def test_bad_awd_values_are_one_clear_error(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        pytrnn.RNNConfig(hidden=4, **kw).validate()


def test_tied_layers_have_awds_widths_and_match_numpy():
    """--tied with three layers: the top one is --emsize wide, the others --hidden
    (AWD's 1150 / 400, here 5 / 3); two carried steps against numpy, the carried
    state padded to the widest layer; sampling steps through the same widths."""
    E, Hw = 3, 5
    cfg = pytrnn.RNNConfig(
        vocab_size=D,
        hidden=Hw,
        window=L,
        lr=LR,
        reg=REG,
        cell="lstm",
        layers=3,
        emsize=E,
        tied=True,
        dropout=0.3,
        clip=0.0,
        loss_scale="token",
    )
    assert cfg.widths == (5, 5, 3)
    m = pytrnn.RNN(cfg, mode="scan", backend="jax", carry_state=True)
    shapes = {k: v.shape for k, v in m.get_params().items()}
    assert shapes["Wxh"] == (E, 4 * Hw) and shapes["Whh_2"] == (E, 4 * E)
    assert shapes["Wxh_2"] == (Hw, 4 * E) and "Why" not in shapes
    rng = np.random.default_rng(8)
    P = init("lstm", 3, D, Hw, rng, emsize=E, tied=True)
    m.set_params(P)
    h = None
    for i in range(2):
        x, y = rng.integers(0, D, L), rng.integers(0, D, L)
        drop = m.draw_drop(L, rng=np.random.default_rng(i))
        loss, _ = m.train_step(x, y, drop=drop)
        want, _, g = loss_and_grads(
            "lstm", 3, P, x, y, REG, drop=drop, init=h, scale=1 / L
        )
        h = final_states("lstm", forward("lstm", 3, P, x, drop, h)[2])
        P = opt_step("sgd", P, g, {}, LR, 0.0)
        assert loss == pytest.approx(want, rel=1e-9)
    check_params(m, P)
    carry = m.get_carry()  # (6, 1, 5): layer 2's h and c padded with zeros
    np.testing.assert_allclose(carry[4, 0, :E], h[2][0], rtol=1e-9)
    assert not carry[4, 0, E:].any() and not carry[5, 0, E:].any()
    state, logits = m.step(1, m.initial_state())
    assert state.shape == (6, Hw) and logits.shape == (D,)
