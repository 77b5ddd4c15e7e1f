"""Backend names -> PyTensor compile modes, and the set-up each backend needs.

In PyTensor 3.x ``FAST_RUN`` (and the default mode) is the Numba backend, so "c" is
spelled ``CVM`` here, never ``FAST_RUN``. Importing this module, before anything is
compiled: links PyTensor's C backend to the OpenBLAS that the ``scipy-openblas32``
dependency ships (PyPI's PyTensor finds no BLAS otherwise and runs far slower), and
turns on JAX's persistent compilation cache next to PyTensor's own compile cache.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pytensor
from pytensor.compile.mode import Mode, get_mode

from pytrnn.config import BACKEND_NAMES, FUSES_WINDOWS
from pytrnn.errors import ConfigError

# each backend's PyTensor mode: "c" is the C VM, never FAST_RUN (Numba in PyTensor 3)
PYTENSOR_MODES = {"jax": "JAX", "numba": "NUMBA", "c": "CVM"}
BACKENDS = {name: PYTENSOR_MODES[name] for name in BACKEND_NAMES}
# Fastest first, as measured on a 2-core CPU (docs/backends.md): jax > numba > c.
PREFERENCE = ("jax", "numba", "c")
# The BLAS routines PyTensor's C code calls; scipy-openblas names them scipy_<name>.
BLAS_ROUTINES = ("gemm", "gemv", "ger", "dot", "scal", "axpy", "copy", "swap")

# JAX traces through PyTensor's shape Asserts and says so once per graph. pytrnn
# checks lengths and ids itself before every call (pytrnn.runtime.inputs).
warnings.filterwarnings("ignore", message="Skipping Assert", category=UserWarning)


def _user_set(flag: str) -> bool:
    return flag in os.environ.get("PYTENSOR_FLAGS", "")


def configure_blas() -> str:
    """Point PyTensor's C backend at scipy-openblas32; returns the ldflags in force.

    scipy-openblas prefixes its symbols (``scipy_dgemm_``), so the C code's calls are
    renamed with ``-D`` macros. A BLAS the user configured themselves is left alone.
    """
    if _user_set("blas__ldflags") or importlib.util.find_spec("scipy_openblas32") is None:
        return ""
    import scipy_openblas32 as sob

    libdir = sob.get_lib_dir()
    pytensor.config.blas__ldflags = (
        f"-L{libdir} -l{sob.get_library()} -Wl,-rpath,{libdir}"
    )
    renames = " ".join(
        f"-D{p}{r}_=scipy_{p}{r}_" for r in BLAS_ROUTINES for p in ("s", "d")
    )
    if renames not in pytensor.config.gcc__cxxflags:
        pytensor.config.gcc__cxxflags = f"{pytensor.config.gcc__cxxflags} {renames}".strip()
    return pytensor.config.blas__ldflags


def jax_cache_dir() -> Path:
    return Path(pytensor.config.compiledir) / "jax-cache"


def configure_jax_cache() -> None:
    """Keep XLA's compiled programs between runs, beside PyTensor's compile cache."""
    if importlib.util.find_spec("jax") is None:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", str(jax_cache_dir()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


configure_blas()
configure_jax_cache()


def importable(name: str) -> bool:
    module = {"jax": "jax", "numba": "numba", "c": "pytensor"}[name]
    return importlib.util.find_spec(module) is not None


def default_backend() -> str:
    for name in PREFERENCE:
        if importable(name):
            return name
    return "c"


def resolve_backend(name: str | None) -> str:
    if name is None:
        return default_backend()
    name = name.lower()
    if name not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if not importable(name):
        raise ConfigError(f"backend {name!r} is not installed here (pip install {name})")
    return name


def jax_devices(platform: str | None = None, local: bool = False) -> list:
    import jax

    find = jax.local_devices if local else jax.devices
    try:
        return find(backend=platform) if platform else find()
    except RuntimeError:
        return []


def select_device(device: str | None) -> str:
    """Make ``device`` ("cpu" | "gpu" | None = GPU when JAX sees one) JAX's default."""
    import jax

    if device is not None and device not in ("cpu", "gpu"):
        raise ConfigError(f"--device must be cpu or gpu, got {device!r}")
    # this process's own devices: across hosts, device 0 belongs to process 0
    gpus = jax_devices("gpu", local=True)
    if device == "gpu" and not gpus:
        raise ConfigError("--device gpu: JAX sees no GPU here (pip install '.[gpu]')")
    chosen = gpus[0] if (device != "cpu" and gpus) else jax_devices("cpu", local=True)[0]
    jax.config.update("jax_default_device", chosen)
    return chosen.platform


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


def patch_jax_transposes() -> None:
    """On CPU, make PyTensor's matrix transposes real copies for XLA.

    XLA folds a transpose into the matmul or matrix-vector product that reads it, and
    on its CPU backend those products run up to 2.5x slower on a transposed operand
    (here: ``Whh.T @ h`` 2.7 us against 1.05 us for a copied ``Whh.T``, and
    ``hs.T @ dz`` 20 us against 9.5 us). BPTT is full of them (``dWhy = hs.T @ dz``,
    ``dz @ Why.T``, ``Whh.T`` in the backward scan), so one
    ``lax.optimization_barrier`` per transpose, which keeps it a small copy, trains
    about 1.15x faster at batch 1 (docs/performance.md). GPUs transpose for free
    inside cuBLAS: there the dispatch is left alone.
    """
    from pytensor.tensor.elemwise import DimShuffle

    def copy_transposes(shuffle, op, node):
        if tuple(op.new_order) != (1, 0) or not _jax_on_cpu():
            return shuffle
        import jax

        def transpose_copy(x):
            return jax.lax.optimization_barrier(shuffle(x))

        return transpose_copy

    _wrap_jax_dispatch(DimShuffle, "materializes_transposes", copy_transposes)


def _small_int(var) -> bool:
    dtype = str(getattr(var.type, "dtype", ""))
    return dtype.startswith(("int", "uint", "bool")) and getattr(var.type, "ndim", 2) <= 1


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
        return fgraph_to_python(fgraph, convert, type_conversion_fn=jax_typify,
                                fgraph_name=fgraph_name, **kwargs)

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

    optdb.register("pytrnn_inline_symbolic_ops_on_c", dfs_rewriter(inline_symbolic_ops_on_c),
                   "fast_run", "fast_compile", position=1.55)


def runs_on(name: str) -> str:
    """Where a backend's graphs run by default: "gpu" for JAX when it sees one."""
    if name == "jax":
        devices = jax_devices()
        if devices and devices[0].platform == "gpu":
            return "gpu"
    return "cpu"


def fuses_windows(name: str) -> bool:
    """The backend trains a chunk of windows (or of sentence groups) in one
    ``lax.scan`` (pytrnn.runtime.fused); the others build PyTensor's outer scan,
    slow to compile, and train one window a call unless asked."""
    return name in FUSES_WINDOWS


@functools.cache
def compile_mode(name: str) -> Mode:
    """The PyTensor Mode object for a backend name."""
    if name == "jax":
        patch_jax_reductions()
        patch_jax_transposes()
        patch_jax_free_lengths()
        patch_jax_c_blas()
    elif name == "c":
        patch_c_symbolic_ops()
    return get_mode(BACKENDS[name])
