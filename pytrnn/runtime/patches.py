"""The fixes pytrnn makes to PyTensor's JAX dispatch and C rewrites, each applied
once, when a backend's compile mode is first asked for (runtime.backends.compile_mode):
reductions that keep their dtype, transposes XLA's CPU backend reads fast, one graph of
free length traced per length, the C backend's BLAS ops on JAX, bf16 products on
JAX, and PyTensor's symbolic ops inlined on C.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from pytensor.compile.mode import get_mode


def _wrap_jax_dispatch(op_class, name: str, wrap) -> None:
    """Wrap PyTensor's JAX dispatch for ``op_class`` once: the function it builds for
    a node becomes ``wrap(fn, op, node)``."""
    from pytensor.link.jax.dispatch import jax_funcify

    original = jax_funcify.dispatch(op_class)
    done = getattr(original, "pytrnn_wraps", ())
    if name in done:
        return

    def wrapped(op, node=None, **kwargs):
        return wrap(original(op, node=node, **kwargs), op, node)

    wrapped.pytrnn_wraps = (*done, name)
    jax_funcify.register(op_class)(wrapped)


def patch_jax_reductions() -> None:
    """Make PyTensor's JAX reductions return their declared dtype.

    PyTensor sums float32 in a float64 accumulator (``Sum{acc=float64}``) and its JAX
    dispatch returns the accumulator's dtype instead of casting back. With x64 on,
    float64 then leaks through the whole float32 graph and into the shared
    parameters. The C and Numba backends cast back; this does the same for JAX.
    """
    from pytensor.tensor.elemwise import CAReduce

    def cast_to_output_dtype(reduce, op, node):
        if node is None:
            return reduce
        dtype = node.outputs[0].dtype

        def reduce_then_cast(x):
            return reduce(x).astype(dtype)

        return reduce_then_cast

    _wrap_jax_dispatch(CAReduce, "casts_to_output_dtype", cast_to_output_dtype)


def _jax_on_cpu() -> bool:
    import jax

    device = jax.config.jax_default_device  # set by select_device
    if device is None:
        return jax.default_backend() == "cpu"
    return (device if isinstance(device, str) else device.platform) == "cpu"


# the largest transposed operand (elements) made a real copy: the recurrent
# matrices and a step's states are; an output layer's (V, H) matrix is not, where
# the copy costs more than the folded product (docs/performance.md, #39 item 3)
TRANSPOSE_COPY_MAX = 1_000_000


def transpose_copy_max() -> float:
    """``TRANSPOSE_COPY_MAX``, or the environment's PYTRNN_TRANSPOSE_COPY_MAX (a
    number of elements; inf: every transpose copied, 0: none)."""
    text = os.environ.get("PYTRNN_TRANSPOSE_COPY_MAX")
    if text is None:
        return TRANSPOSE_COPY_MAX
    try:
        return float(text)
    except ValueError:
        from pytrnn.errors import ConfigError

        raise ConfigError(
            f"PYTRNN_TRANSPOSE_COPY_MAX is a number of elements (or inf), got {text!r}"
        ) from None


def patch_jax_transposes() -> None:
    """On CPU, make PyTensor's matrix transposes real copies for XLA.

    XLA folds a transpose into the matmul or matrix-vector product that reads it, and
    on its CPU backend those products run up to 2.5x slower on a transposed operand
    (here: ``Whh.T @ h`` 2.7 us against 1.05 us for a copied ``Whh.T``, and
    ``hs.T @ dz`` 20 us against 9.5 us). BPTT is full of them (``dWhy = hs.T @ dz``,
    ``dz @ Why.T``, ``Whh.T`` in the backward scan), so one
    ``lax.optimization_barrier`` per transpose, which keeps it a small copy, trained
    about 1.15x faster at batch 1 (docs/performance.md). A large operand (above
    ``transpose_copy_max()`` elements: wlm's 12,252 x 200 output or tied embedding) is
    left folded: its copy made wlm's recipe 1.15x to 1.4x slower on an Intel Xeon.
    GPUs transpose for free inside cuBLAS: there the dispatch is left alone.
    """
    from pytensor.tensor.elemwise import DimShuffle

    limit = transpose_copy_max()

    def copy_transposes(shuffle, op, node):
        if tuple(op.new_order) != (1, 0) or not _jax_on_cpu():
            return shuffle
        import jax

        def transpose_copy(x):
            if x.size > limit:  # shapes are known while JAX traces
                return shuffle(x)
            return jax.lax.optimization_barrier(shuffle(x))

        return transpose_copy

    _wrap_jax_dispatch(DimShuffle, "materializes_transposes", copy_transposes)


def _small_int(var) -> bool:
    dtype = str(getattr(var.type, "dtype", ""))
    return (
        dtype.startswith(("int", "uint", "bool")) and getattr(var.type, "ndim", 2) <= 1
    )


def _at_trace_time(fn, node):
    """``fn`` (JAX) for ``node``, computed with numpy while JAX traces wherever its
    inputs are known then (shape arithmetic), so its results stay known values."""
    import jax

    def traced(*args):
        if any(isinstance(a, jax.core.Tracer) for a in args):
            return fn(*args)
        inputs = [np.asarray(a, dtype=v.type.dtype) for a, v in zip(args, node.inputs)]
        storage = [[None] for _ in node.outputs]
        try:
            node.op.perform(node, inputs, storage)
        except Exception:  # an op without a numpy perform (JAXShapeTuple): below
            pass
        if any(s[0] is None for s in storage):  # not computed by numpy: JAX's, now
            with jax.ensure_compile_time_eval():
                out = fn(*args)
            if len(node.outputs) == 1:
                return np.asarray(out)
            return [np.asarray(v) for v in out]
        outs = [np.asarray(s[0]) for s in storage]
        return outs if len(outs) > 1 else outs[0]

    return traced


def patch_jax_free_lengths() -> None:
    """Let one JAX graph of free length serve every length it is called with.

    Under ``jax.jit`` the shapes of the inputs are known, but PyTensor's JAX code
    computes lengths from them with jnp operations, which JAX stages into the
    program, so a scan's length or a reshape's shape is no longer a known value and
    JAX refuses it ("JAX requires concrete values"). Here every node whose outputs
    are integer or boolean scalars or vectors (the shape arithmetic) is evaluated
    while JAX traces when its inputs are known, and a reshape takes any known shape.
    JAX then traces the graph once per length it meets, and PyTensor rewrites it
    only once: the word level's sentence buckets share one graph (docs/performance.md).
    """
    import jax
    import jax.numpy as jnp
    from pytensor.graph import Constant
    from pytensor.graph.fg import AbstractFunctionGraph
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.link.jax.dispatch.basic import jax_typify
    from pytensor.link.utils import fgraph_to_python
    from pytensor.tensor.shape import Reshape

    if getattr(jax_funcify.dispatch(AbstractFunctionGraph), "pytrnn_free", False):
        return

    def convert(op, node=None, **kwargs):
        fn = jax_funcify(op, node=node, **kwargs)
        if node is not None and node.outputs and all(map(_small_int, node.outputs)):
            return _at_trace_time(fn, node)
        return fn

    def funcify_fgraph(fgraph, node=None, fgraph_name="jax_funcified_fgraph", **kwargs):
        return fgraph_to_python(
            fgraph,
            convert,
            type_conversion_fn=jax_typify,
            fgraph_name=fgraph_name,
            **kwargs,
        )

    def funcify_reshape(op, node, **kwargs):
        if isinstance(node.inputs[1], Constant):
            fixed = tuple(int(n) for n in node.inputs[1].data)
            return lambda x, shape: jnp.reshape(x, fixed)

        def reshape(x, shape):
            if not isinstance(shape, jax.core.Tracer):
                shape = tuple(int(n) for n in np.asarray(shape))
            return jnp.reshape(x, shape)

        return reshape

    funcify_fgraph.pytrnn_free = True
    jax_funcify.register(AbstractFunctionGraph)(funcify_fgraph)
    jax_funcify.register(Reshape)(funcify_reshape)


@functools.cache
def patch_jax_c_blas() -> None:
    """JAX conversions for the BLAS ops a scan's inner graph can carry into a JAX
    graph (``Dot22``, ``Dot22Scalar``, ``Gemm``, ``Gemv``, ``Ger`` and the C VM's
    ``CGemv``, ``CGer``), which PyTensor's JAX backend never makes itself.

    A ``Scan`` built without a mode (as every scan here is) compiles its inner graph
    in place, on the C VM with its BLAS rewrites, the first time anything evaluates
    the op through ``Scan.fn``; a JAX graph that meets that op afterwards converts
    the rewritten inner graph and finds those ops in it ("No JAX conversion for the
    given Op: CGemv", seen in a cold run of the test suite, depending on which tests
    a worker had run before). Each is its plain formula here."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.blas import Dot22, Dot22Scalar, Gemm, Gemv, Ger
    from pytensor.tensor.blas_c import CGemv, CGer

    formulas = {
        Dot22: lambda x, y: jnp.dot(x, y),
        Dot22Scalar: lambda x, y, a: a * jnp.dot(x, y),
        Gemm: lambda z, a, x, y, b: b * z + a * jnp.dot(x, y),
        Gemv: lambda y, a, A, x, b: b * y + a * jnp.dot(A, x),
        CGemv: lambda y, a, A, x, b: b * y + a * jnp.dot(A, x),
        Ger: lambda A, a, x, y: A + a * jnp.outer(x, y),
        CGer: lambda A, a, x, y: A + a * jnp.outer(x, y),
    }
    for op_type, formula in formulas.items():
        jax_funcify.register(op_type)(lambda op, formula=formula, **kwargs: formula)


@functools.cache
def patch_jax_bf16() -> None:
    """``bf16_dot`` (pytrnn.graphs.mixed) on JAX: bfloat16 operands, float32 sums."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    from pytrnn.graphs.mixed import Bf16Dot

    def bf16_dot(a, b):
        bf = jnp.bfloat16
        return jnp.dot(a.astype(bf), b.astype(bf), preferred_element_type=jnp.float32)

    jax_funcify.register(Bf16Dot)(lambda op, **kwargs: bf16_dot)


@functools.cache
def patch_c_symbolic_ops() -> None:
    """On PyTensor's C VM, expand ``Softmax`` and ``LogSoftmax`` into C ops.

    In PyTensor 3 both are symbolic ops (an ``OpFromGraph``) that the JAX and Numba
    backends compile natively, but that have no C code: on the C VM each one runs
    its inner graph through ``perform``, compiled on first call in the default mode,
    which is Numba. A "c" model would then compute every softmax in Numba, behind a
    Python call per step, and pay a cold Numba compile for it. This rewrite, in
    PyTensor's own rewrite database after ``stabilize`` (which is what creates these
    ops from ``exp(x) / exp(x).sum()``), inlines them wherever the mode being
    compiled links with perform-based thunks (the C VM, and the scans inside its
    graphs, which PyTensor compiles on a C VM of their own). JAX and Numba graphs
    are left alone.
    """
    from pytensor.compile import optdb
    from pytensor.compile.builders import SymbolicOp
    from pytensor.configdefaults import config
    from pytensor.graph.rewriting.basic import dfs_rewriter, node_rewriter
    from pytensor.link.c.basic import CLinker, OpWiseCLinker
    from pytensor.link.vm import VMLinker
    from pytensor.tensor.rewriting.ofg import inline_ofg_node

    @node_rewriter([SymbolicOp])  # the walking rewriter calls it on these ops only
    def inline_symbolic_ops_on_c(fgraph, node):
        linker = get_mode(config.mode).linker
        if isinstance(linker, (VMLinker, CLinker, OpWiseCLinker)):
            return inline_ofg_node(node)
        return False

    optdb.register(
        "pytrnn_inline_symbolic_ops_on_c",
        dfs_rewriter(inline_symbolic_ops_on_c),
        "fast_run",
        "fast_compile",
        position=1.55,
    )
