"""Mixed precision (``--precision bf16``, the field's "bf16-mixed"): the output
layer's large products read their float32 operands rounded to bfloat16 and sum in
float32 (``preferred_element_type=float32`` on JAX, where the machine has bf16
instructions or a GPU); parameters, optimizer state and every other sum stay
float32.

PyTensor has no bfloat16 type, so the product is one Op: ``bf16_dot(a, b)``. Its
Python implementation (C and Numba run it) rounds to bfloat16 by the bits (round
to nearest, ties to even, as a cast does) and multiplies in float32: the same
numbers, as bfloat16 products are exact in float32. Its JAX implementation
(registered by pytrnn.runtime.patches) casts and calls ``jnp.dot``. Its gradient
is two more of it, as autocast runs a product's backward.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


def round_bf16(a: np.ndarray) -> np.ndarray:
    """float32 values rounded to the nearest bfloat16 (ties to even), as float32."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = bits + (0x7FFF + ((bits >> 16) & 1))
    out = (rounded & 0xFFFF0000).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), a, out)


class Bf16Dot(Op):
    """a @ b of float32 matrices, each rounded to bfloat16 first, summed in float32."""

    __props__ = ()

    def make_node(self, a, b):
        a, b = pt.as_tensor_variable(a), pt.as_tensor_variable(b)
        if a.ndim != 2 or b.ndim != 2 or a.dtype != "float32" or b.dtype != "float32":
            raise TypeError("bf16_dot takes two float32 matrices")
        out = pt.tensor(dtype="float32", shape=(a.type.shape[0], b.type.shape[1]))
        return Apply(self, [a, b], [out])

    def perform(self, node, inputs, outputs):
        a, b = inputs
        outputs[0][0] = np.dot(round_bf16(a), round_bf16(b)).astype(np.float32)

    def infer_shape(self, fgraph, node, shapes):
        return [(shapes[0][0], shapes[1][1])]

    def pullback(self, inputs, outputs, grads):
        a, b = inputs
        (g,) = grads
        return [bf16_dot(g, b.T), bf16_dot(a.T, g)]


bf16_dot = Bf16Dot()


def dot(a, b, precision: str):
    """a @ b for the output layer: float32's own, or bf16_dot's under ``bf16``.
    Any leading axes of ``a`` are folded into its rows."""
    if precision != "bf16":
        return a.dot(b)
    if a.ndim == 1:
        return bf16_dot(a[None, :], b)[0]
    if a.ndim == 2:
        return bf16_dot(a, b)
    rows = bf16_dot(a.reshape((-1, a.shape[-1])), b)
    return rows.reshape((*a.shape[:-1], b.shape[1]), ndim=a.ndim)
