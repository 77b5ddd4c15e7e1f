"""The neural cache at evaluation (pytrnn.runtime.cache) against a plain numpy
transcription of AWD-LSTM's pointer.py loop, position by position, stream by
stream, on the independent numpy forward (tests/numpy_cells.py); and --cache-lambda
0 gives the held-out figure without the cache."""

import numpy as np
import pytest
from numpy_cells import final_states, forward, init

import pytrnn
from pytrnn.errors import ConfigError
from pytrnn.runtime.cache import Cache, cache_loss
from pytrnn.runtime.scoring import windows_loss

D, H, L = 7, 4, 5


def pointer_py(P, ids, E, W, theta, lam):
    """pointer.py's computation for each of E contiguous streams (batchify), the
    state carried from window to window, the cache used once W positions lie
    behind a position."""
    n = len(ids) // E
    S = ids[: n * E].reshape(E, n)
    total = 0.0
    for e in range(E):
        xs, ys, h0, hist = S[e, :-1], S[e, 1:], None, []
        for i in range(0, n - 1, L):
            x, y = xs[i : i + L], ys[i : i + L]
            top, ps, caches = forward("lstm", 2, P, x, None, h0)
            h0 = final_states("lstm", caches)
            for t in range(len(x)):
                p = ps[t, y[t]]
                if len(hist) >= W:
                    window = hist[-W:]
                    logits = np.array([theta * top[t] @ hh for hh, _ in window])
                    a = np.exp(logits - logits.max())
                    a /= a.sum()
                    p_cache = sum(ai for ai, (_, nxt) in zip(a, window) if nxt == y[t])
                    p = (1 - lam) * p + lam * p_cache
                total -= np.log(p)
                hist.append((top[t], y[t]))
    return total, E * (n - 1)


@pytest.mark.parametrize(
    "mode, backend", [("scan", "jax"), ("unroll", "jax"), ("scan", "c")]
)
def test_cache_matches_pointer_py(mode, backend):
    cfg = pytrnn.RNNConfig(
        vocab_size=D, hidden=H, window=L, cell="lstm", layers=2, emsize=H, tied=True
    )
    m = pytrnn.RNN(cfg, mode=mode, backend=backend, carry_state=True)
    rng = np.random.default_rng(0)
    P = init("lstm", 2, D, H, rng, emsize=H, tied=True)
    m.set_params(P)
    ids = rng.integers(0, D, 63)
    for W, theta, lam in ((7, 0.7, 0.3), (12, 2.0, 0.9)):
        total, n = cache_loss(m, ids, L, Cache(W, theta, lam), carry=True, streams=2)
        want, want_n = pointer_py(P, ids, 2, W, theta, lam)
        assert n == want_n
        assert total == pytest.approx(want, rel=1e-9)
    off = cache_loss(m, ids, L, Cache(7, 1.0, 0.0), carry=True, streams=2)
    assert off[0] == pytest.approx(windows_loss(m, ids, L, True, 2)[0], rel=1e-12)


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(window=0, theta=1.0, lam=0.1), "--cache-window must be at least 1"),
        (dict(window=5, theta=1.0, lam=1.5), "--cache-lambda must be in"),
    ],
)
def test_bad_cache_values(kw, needle):
    with pytest.raises(ConfigError, match=needle):
        Cache(**kw).validate()
