"""Where a step of word_language_model's model goes in XLA on this CPU: the 2x200
LSTM with emsize 200 on V = 12,252 (the WikiText-2 cut), batch 20 x 35 tokens,
float32. Each piece jitted and timed alone (best of 5 means of 10 calls), beside
the whole step that ``pytrnn train --recipe wlm`` takes (its words/s).

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
