"""What this machine's BLAS (numpy) and XLA reach at the word step's products,
measured with the figures they explain; the CPU's model and flags come from
pytrnn.tools.info. Ratios differ by CPU: every bench prints both beside its rows,
so a figure carries its machine."""

from __future__ import annotations

from functools import partial
from operator import matmul

import numpy as np

from pytrnn.bench.grid import best_of


def _best(fn, repeat: int) -> float:
    """The best of ``repeat`` timings after one call that compiles and warms."""
    fn()
    return best_of(fn, repeat)


def product_rates(rows: int, H: int, V: int, dtype: str = "float32",
                  repeat: int = 5) -> dict:  # fmt: skip
    """GFLOP/s of the output layer's three products at a step's shapes, ``rows``
    positions (batch x window): the logits ``h @ W`` (rows, H) x (H, V), the
    weight's gradient ``h.T @ dz`` and the states' ``dz @ W.T``; each with numpy
    (this machine's BLAS) and alone in XLA (jitted, on the CPU). ``dtype``
    "bfloat16": bfloat16 inputs summed in float32 (``preferred_element_type``, the
    mixed precision the field trains in), XLA only (numpy has no bfloat16: nan)."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    bf16 = dtype == "bfloat16"
    host = "float32" if bf16 else dtype
    h = rng.standard_normal((rows, H)).astype(host)
    W = rng.standard_normal((H, V)).astype(host)
    dz = rng.standard_normal((rows, V)).astype(host)
    flops = 2 * rows * H * V
    mm = partial(jnp.matmul, preferred_element_type=jnp.float32) if bf16 else matmul
    products = {
        "h @ W": (lambda a, b, c: mm(a, b), (h, W, dz)),
        "h.T @ dz": (lambda a, b, c: mm(a.T, c), (h, W, dz)),
        "dz @ W.T": (lambda a, b, c: mm(c, b.T), (h, W, dz)),
    }
    cpu = jax.devices("cpu")[0]
    out = {}
    for name, (fn, args) in products.items():
        blas = float("inf") if bf16 else _best(partial(fn, *args), repeat)
        cast = jnp.bfloat16 if bf16 else None
        dev = [jax.device_put(jnp.asarray(a, cast), cpu) for a in args]
        jitted = partial(jax.jit(fn), *dev)  # on the CPU: its inputs live there
        xla = _best(lambda f=jitted: f().block_until_ready(), repeat)
        out[name] = {"blas": flops / blas / 1e9, "xla": flops / xla / 1e9}
    return out


def products_line(rates: dict, rows: int, H: int, V: int, dtype: str) -> str:
    parts = [f"{n} {r['blas']:.0f}/{r['xla']:.0f}".replace(" 0/", " -/")
             for n, r in rates.items()]  # fmt: skip
    return (f"GFLOP/s BLAS/XLA at ({rows}x{H})({H}x{V}) {dtype}: "
            + ", ".join(parts))  # fmt: skip
