"""Where a word step's time goes: V=8003, H=100, batch 20 x 35 tokens, JAX on CPU.

    python bench/word_step_breakdown.py [f32]     # float64 unless f32

Each piece of the step jitted and timed alone (mean of 20 calls).
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
dt = jnp.float32 if sys.argv[1:] == ["f32"] else jnp.float64
V, H, T, B = 8003, 100, 35, 20
N = T * B
rng = np.random.default_rng(0)
h = jnp.asarray(rng.standard_normal((N, H)), dt)
Why = jnp.asarray(rng.standard_normal((H, V)) * 0.1, dt)
Wxh = jnp.asarray(rng.standard_normal((V, H)) * 0.1, dt)
dz = jnp.asarray(rng.standard_normal((N, V)), dt)
y = jnp.asarray(rng.integers(0, V, N))


def timeit(f, *a, n=20):
    f(*a).block_until_ready() if not isinstance(
        f(*a), tuple
    ) else jax.block_until_ready(f(*a))
    t0 = time.perf_counter()
    for _ in range(n):
        jax.block_until_ready(f(*a))
    return (time.perf_counter() - t0) / n * 1e3


logits = jax.jit(lambda h, W: h @ W)
back1 = jax.jit(lambda d, W: d @ W.T)
back2 = jax.jit(lambda h, d: h.T @ d)


def sm(h, W, y):
    z = h @ W
    p = jax.nn.softmax(z, axis=-1)
    return p.at[jnp.arange(N), y].add(-1.0)


softmax_grad = jax.jit(sm)


def upd(W, g):
    return W - 0.01 * jnp.clip(g + 0.02 * W, -5, 5)


update = jax.jit(upd)
scatter = jax.jit(lambda x, d: jnp.zeros((V, H), dt).at[x].add(d))
ms = {
    "logits h@Why (700x100x8003)": timeit(logits, h, Why),
    "dh = dz@Why.T": timeit(back1, dz, Why),
    "dWhy = h.T@dz": timeit(back2, h, dz),
    "logits+softmax+dz": timeit(softmax_grad, h, Why, y),
    "clip+L2+update of Why": timeit(update, Why, dz[:H]),
    "scatter-add dWxh (dense VxH)": timeit(scatter, y, h),
}
flops = 2 * N * H * V
for k, v in ms.items():
    extra = f", {flops / v / 1e6:.0f} GFLOP/s" if "@" in k else ""
    print(f"{k}: {v:.2f} ms{extra}")
