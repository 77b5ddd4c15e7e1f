"""Dynamic evaluation (#38 item 2) against a numpy transcription of
dynamiceval.py's rules on a tiny LSTM: the gradient statistics, the RMS and SGD
steps with the decay toward the trained weights and its clipped rates, each
segment scored before its step; eta 0 is the static figure."""

import numpy as np
import pytest
from helpers import invoke
from numpy_cells import final_states, forward, init, loss_and_grads

import pytrnn
from pytrnn.runtime.cache import Cache, cache_loss, mixed_total
from pytrnn.runtime.dynamic import (
    Dynamic,
    decay_rates,
    dynamic_loss,
    gradient_stats,
    segments,
)
from pytrnn.runtime.scoring import windows_loss
from pytrnn.tools.surprisal import LN2, adapted

D, H, T = 7, 4, 5


def model(backend="jax"):
    cfg = pytrnn.RNNConfig(vocab_size=D, hidden=H, emsize=H, cell="lstm")
    m = pytrnn.RNN(cfg, mode="scan", backend=backend)
    P = init("lstm", 1, D, H, np.random.default_rng(2), emsize=H)
    m.set_params(P)
    return m, P


def numpy_rates(ms, lam):
    """dynamiceval.py's decrate: MS over the mean of the parameters' mean MS,
    then ``decrate[decrate > 1/lamb] = 1/lamb``."""
    gsum = sum(v.mean() for v in ms.values()) / len(ms)
    return {k: np.minimum(v / gsum, 1 / lam) for k, v in ms.items()}


def numpy_dynamic(P0, ids, ms, lr, lam, eps, rule, seen=None):
    """dynamiceval.py's evaluate on one stream: score a segment (mean loss),
    then theta += lamb * decrate * (theta0 - theta) - lr * grad / (MS + eps).
    ``seen``: a list given each position's (distribution, top state) as scored."""
    rates = numpy_rates(ms, lam)
    P, h, total = {k: v.copy() for k, v in P0.items()}, None, 0.0
    for i in range(0, len(ids) - 1, T):
        m = min(T, len(ids) - 1 - i)
        x, y = ids[i : i + m], ids[i + 1 : i + 1 + m]
        _, data, g = loss_and_grads("lstm", 1, P, x, y, 0.0, init=h, scale=1 / m)
        total += data
        top, ps, caches = forward("lstm", 1, P, x, None, h)
        h = final_states("lstm", caches)
        if seen is not None:
            seen += list(zip(ps, top))
        for k in P:
            if rule == "rms":
                step = lam * rates[k] * (P0[k] - P[k]) - lr * g[k] / (ms[k] + eps)
            else:
                step = lam * (P0[k] - P[k]) - lr * g[k]
            P[k] = P[k] + step
    return total, P


@pytest.mark.parametrize("backend, rule", [("jax", "rms"), ("jax", "sgd"),
                                           ("numba", "rms")])  # fmt: skip
def test_three_segments_adapt_as_numpy(backend, rule):
    m, P0 = model(backend)
    rng = np.random.default_rng(5)
    ids = rng.integers(0, D, 3 * T + 1)  # three segments
    ms = {k: 0.05 + rng.random(v.shape) for k, v in P0.items()}
    dyn = Dynamic(lr=0.3, decay=0.8, eps=1e-3, window=T, rule=rule)
    total, n = dynamic_loss(m, ids, dyn, ms, restore=False)
    want, P = numpy_dynamic(P0, ids, ms, 0.3, 0.8, 1e-3, rule)
    assert n == 3 * T and total == pytest.approx(want, rel=1e-9)
    got = m.get_params()
    for k in P:
        np.testing.assert_allclose(got[k], P[k], rtol=1e-9, atol=1e-12, err_msg=k)
    clipped = numpy_rates(ms, 0.8)  # some rates clipped at 1 / lambda, some not
    assert any((v == 1 / 0.8).any() and (v < 1 / 0.8).any() for v in clipped.values())


def test_eta_zero_is_the_static_figure_and_the_model_is_restored():
    m, P0 = model()
    ids = np.random.default_rng(6).integers(0, D, 23)  # a last, shorter segment
    ms = {k: np.ones(v.shape) for k, v in P0.items()}
    total, n = dynamic_loss(m, ids, Dynamic(lr=0.0, decay=0.5, window=T), ms)
    static, n0 = windows_loss(m, ids, T, carry=True, streams=1)
    assert n == n0 == 22 and total == pytest.approx(static, rel=1e-12)
    adapted, _ = dynamic_loss(m, ids, Dynamic(lr=0.5, decay=0.1, window=T), ms)
    assert adapted != pytest.approx(static, rel=1e-6)
    for k in P0:
        np.testing.assert_array_equal(m.get_params()[k], P0[k])


def test_gradient_statistics_are_the_rms_of_each_windows_gradient():
    """dynamiceval.py's gradstat: batchify into 100 streams, windows of T carried,
    MS = sqrt(mean over windows of grad(mean loss)^2)."""
    m, P = model()
    ids = np.random.default_rng(7).integers(0, D, 1000)
    ms = gradient_stats(m, ids, T)
    streams = ids[: 1000 // 100 * 100].reshape(100, -1)
    sq, h, n = {k: 0.0 for k in P}, [None] * 100, 0
    for i in range(0, streams.shape[1] - 1, T):
        w = min(T, streams.shape[1] - 1 - i)
        g_sum = {k: 0.0 for k in P}
        for b in range(100):
            x, y = streams[b, i : i + w], streams[b, i + 1 : i + 1 + w]
            _, _, g = loss_and_grads("lstm", 1, P, x, y, 0.0, init=h[b],
                                     scale=1 / (w * 100))  # fmt: skip
            h[b] = final_states("lstm", forward("lstm", 1, P, x, None, h[b])[2])
            g_sum = {k: g_sum[k] + g[k] for k in P}
        sq = {k: sq[k] + g_sum[k] ** 2 for k in P}
        n += 1
    for k in P:
        np.testing.assert_allclose(ms[k], np.sqrt(sq[k] / n), rtol=1e-9, err_msg=k)
    rates = decay_rates(ms, 2.0)
    np.testing.assert_allclose(rates["Whh"], numpy_rates(ms, 2.0)["Whh"], rtol=1e-12)


def test_bad_dynamic_options_are_one_line(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat .\n" * 5)
    from pathlib import Path

    from helpers import one_line_error

    ck = str(Path(__file__).parents[1] / "fixtures" / "word-0.1.0.npz")
    one_line_error(invoke("eval", ck, "--corpus", text, "--dynamic-decay", "0.1"),
                   "need --dynamic-lr")  # fmt: skip
    one_line_error(invoke("eval", ck, "--corpus", text, "--dynamic-lr", "-1"),
                   "--dynamic-lr must be 0 or more")  # fmt: skip
    one_line_error(invoke("eval", ck, "--corpus", text, "--dynamic-lr", "1e-4",
                          "--dynamic-rule", "adam"), "rms or sgd")  # fmt: skip


def numpy_mixed(seen, ids, cache):
    """-log p(y) of each position of one stream: the scored distribution mixed
    with pointer.py's cache over the positions before it (tests/runtime/
    test_cache.py's rule), for every id: (positions, V)."""
    out, W = [], cache.window
    for t, (p, h) in enumerate(seen):
        if t >= W:
            hist = seen[t - W : t]
            logits = np.array([cache.theta * h @ hh for _, hh in hist])
            a = np.exp(logits - logits.max())
            a /= a.sum()
            p_cache = np.zeros_like(p)
            for ai, nxt in zip(a, ids[t + 1 - W : t + 1]):
                p_cache[nxt] += ai
            p = (1 - cache.lam) * p + cache.lam * p_cache
        out.append(-np.log(p))
    return np.array(out)


def test_the_cache_mixes_into_the_adapted_distribution():
    """#38: dynamic evaluation with the cache and --per-token, against numpy:
    each position's distribution is the adapted model's before its segment's
    step, mixed with the cache of the one stream; at eta 0 the figure is the
    static cache's of one stream."""
    m, P0 = model()
    rng = np.random.default_rng(8)
    ids = rng.integers(0, D, 33)  # a last, shorter segment
    ms = {k: 0.05 + rng.random(v.shape) for k, v in P0.items()}
    dyn, cache = Dynamic(lr=0.3, decay=0.8, eps=1e-3, window=T), Cache(6, 1.5, 0.4)
    seen = []
    numpy_dynamic(P0, ids, ms, 0.3, 0.8, 1e-3, "rms", seen)
    want = numpy_mixed(seen, ids, cache)  # (32, V)
    y = ids[1:]
    scored = want[np.arange(len(y)), y]
    got = mixed_total((s[2:5] for s in segments(m, ids, dyn, ms, keep=True)), cache)
    assert got == pytest.approx(scored.sum(), rel=1e-9)
    rows = adapted(segments(m, ids, dyn, ms, rows=True), 2, cache)
    assert [pos for pos, _ in rows] == list(range(1, 33))
    bits = np.array([r[0] for _, r in rows])
    np.testing.assert_allclose(bits, scored / LN2, rtol=1e-9)
    best = np.argsort(want, axis=1, kind="stable")[:, 0]
    assert [r[3][0][0] for _, r in rows] == list(best)  # the first guess
    plain = adapted(segments(m, ids, dyn, ms, rows=True), 0)
    total, _ = dynamic_loss(m, ids, dyn, ms)
    assert sum(r[0] for _, r in plain) * LN2 == pytest.approx(total, rel=1e-12)
    still = Dynamic(lr=0.0, decay=0.8, window=T)
    at_zero = mixed_total((s[2:5] for s in segments(m, ids, still, ms, keep=True)),
                          cache)  # fmt: skip
    static, _ = cache_loss(m, ids, T, cache, carry=True, streams=1)
    assert at_zero == pytest.approx(static, rel=1e-12)


def test_the_adaptive_softmax_adapts_too():
    """JAX cuts the adaptive softmax's clusters only from parameters of static
    shape: dynamic evaluation's graph (and its rows) must give them; eta 0 is the
    static figure, and the rows add up to the adapted one."""
    cfg = pytrnn.RNNConfig(vocab_size=11, hidden=6, emsize=5, window=T,
                           softmax="adaptive", cutoffs="4")  # fmt: skip
    m = pytrnn.RNN(cfg, mode="scan", backend="jax")
    ids = np.random.default_rng(9).integers(0, 11, 28)
    ms = {k: np.ones(v.shape) for k, v in m.get_params().items()}
    total, _ = dynamic_loss(m, ids, Dynamic(lr=0.0, window=T), ms)
    assert total == pytest.approx(windows_loss(m, ids, T, True, 1)[0], rel=1e-12)
    dyn = Dynamic(lr=0.05, decay=0.1, window=T)
    total, _ = dynamic_loss(m, ids, dyn, ms)
    rows = adapted(segments(m, ids, dyn, ms, rows=True), 0)
    assert sum(r[0] for _, r in rows) * LN2 == pytest.approx(total, rel=1e-12)
