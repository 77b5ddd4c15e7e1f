"""Where a step of word_language_model's model goes in XLA on this CPU: the 2x200
LSTM with emsize 200 on V = 12,252 (the WikiText-2 cut), batch 20 x 35 tokens,
float32. Each piece jitted and timed alone (best of 5 means of 10 calls), beside
the whole step that ``pytrnn train --recipe wlm`` takes (its words/s). Then the
whole output layer (logits, log-softmax, its gradient, dW, dh) three ways: one
jitted function, a ``lax.scan`` over chunks of rows that keeps each chunk's logits
in cache (#39's fused, chunked layer, prototyped here), and numpy's unfused path on
this machine's BLAS.

    python bench/wlm_step_breakdown.py [V]
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

V = int(sys.argv[1]) if sys.argv[1:] else 12252
H = E = 200
N = 20 * 35
rng = np.random.default_rng(0)
f32 = jnp.float32
h = jnp.asarray(rng.standard_normal((N, H)), f32)
W = jnp.asarray(rng.standard_normal((H, V)) * 0.05, f32)
dz = jnp.asarray(rng.standard_normal((N, V)), f32)
z = jnp.asarray(rng.standard_normal((N, V)), f32)
y = jnp.asarray(rng.integers(0, V, N))
Wl = jnp.asarray(rng.standard_normal((H, 4 * H)) * 0.05, f32)
hb = jnp.asarray(rng.standard_normal((20, H)), f32)


def timed(f, *a):
    jax.block_until_ready(f(*a))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            out = f(*a)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / 10)
    return best * 1e3


def xent(z, y):  # the loss's softmax part, forward and its gradient
    return -jnp.take_along_axis(jax.nn.log_softmax(z, -1), y[:, None], 1).sum()


pieces = {
    "h @ Why (logits)": (jax.jit(lambda h, W: h @ W), (h, W), 2 * N * H * V),
    "dz @ Why.T": (jax.jit(lambda d, W: d @ W.T), (dz, W), 2 * N * H * V),
    "h.T @ dz (dWhy)": (jax.jit(lambda h, d: h.T @ d), (h, dz), 2 * N * H * V),
    "softmax cross-entropy, value and gradient": (
        jax.jit(jax.value_and_grad(xent)),
        (z, y),
        0,
    ),
    "one LSTM step's hidden product (20 x 200 @ 200 x 800)": (
        jax.jit(lambda a, b: a @ b),
        (hb, Wl),
        2 * 20 * H * 4 * H,
    ),
}
total = 0.0
for name, (f, args, flops) in pieces.items():
    ms = timed(f, *args)
    rate = f", {flops / ms / 1e6:.0f} GFLOP/s" if flops else ""
    print(f"{name}: {ms:.2f} ms{rate}")
    if "LSTM" not in name:
        total += ms
print(
    f"output layer and softmax: {total:.1f} ms a step; a step of 700 tokens at "
    f"8,000 tokens/s is {700 / 8000 * 1e3:.0f} ms"
)


def layer(h, W, y):
    """The output layer's loss and its gradients (dh, dW), unfused."""
    z = h @ W
    lp = jax.nn.log_softmax(z, -1)
    loss = -jnp.take_along_axis(lp, y[:, None], 1).sum()
    dz = jnp.exp(lp).at[jnp.arange(len(y)), y].add(-1.0)
    return loss, dz @ W.T, h.T @ dz


def chunked(rows):
    """The same, a chunk of ``rows`` rows at a time: logits never whole."""

    def run(h, W, y):
        hc, yc = h.reshape(-1, rows, H), y.reshape(-1, rows)

        def body(dW, c):
            loss, dh, dWc = layer(c[0], W, c[1])
            return dW + dWc, (loss, dh)

        dW, (loss, dh) = jax.lax.scan(body, jnp.zeros_like(W), (hc, yc))
        return loss.sum(), dh.reshape(N, H), dW

    return jax.jit(run)


def numpy_layer(h, W, y):
    z = h @ W
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y]).sum()
    p[np.arange(len(y)), y] -= 1.0
    return loss, p @ W.T, h.T @ p


flops = 3 * 2 * N * H * V
hn, Wn, yn = (np.asarray(a) for a in (h, W, y))
want = jax.jit(layer)(h, W, y)
print("the whole output layer (forward and backward), 700 rows:")
for name, f in [("one jitted function", jax.jit(layer))] + [
    (f"lax.scan over chunks of {r} rows", chunked(r)) for r in (35, 140, 350)
]:
    got = f(h, W, y)
    err = max(float(jnp.abs(a - b).max() / jnp.abs(b).max()) for a, b in zip(got, want))
    ms = timed(f, h, W, y)
    print(
        f"  {name}: {ms:.1f} ms, {flops / ms / 1e6:.0f} GFLOP/s (rel. diff {err:.1e})"
    )
best = float("inf")
for _ in range(5):
    t0 = time.perf_counter()
    numpy_layer(hn, Wn, yn)
    best = min(best, time.perf_counter() - t0)
print(f"  numpy (this machine's BLAS), unfused: {best * 1e3:.1f} ms, "
      f"{flops / best / 1e9:.0f} GFLOP/s")  # fmt: skip

# as pytrnn trains: a lax.scan over K windows (a fused chunk), the layer nested in it
K = 8
hs, ys = jnp.stack([h] * K), jnp.stack([y] * K)


def windows(inner):
    def run(W, hs, ys):
        def step(W, c):
            loss, dh, dW = inner(c[0], W, c[1])
            return W - 1e-6 * dW, loss + dh.sum()

        return jax.lax.scan(step, W, (hs, ys))

    return jax.jit(run)


print(f"the same inside a lax.scan over {K} windows, per window:")
for name, inner in [("one function", layer)] + [
    (f"chunks of {r} rows", chunked(r).__wrapped__) for r in (140, 350)
]:
    print(f"  {name}: {timed(windows(inner), W, hs, ys) / K:.1f} ms")
