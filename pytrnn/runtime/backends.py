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

import pytensor
from pytensor.compile.mode import Mode, get_mode

from pytrnn.config import BACKEND_NAMES, FUSE_CHUNK, FUSE_SENTENCES, FUSES_WINDOWS
from pytrnn.errors import ConfigError
from pytrnn.runtime.patches import (
    patch_c_symbolic_ops,
    patch_jax_bf16,
    patch_jax_c_blas,
    patch_jax_free_lengths,
    patch_jax_reductions,
    patch_jax_transposes,
)

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
    if (
        _user_set("blas__ldflags")
        or importlib.util.find_spec("scipy_openblas32") is None
    ):
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
        pytensor.config.gcc__cxxflags = (
            f"{pytensor.config.gcc__cxxflags} {renames}".strip()
        )
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
        raise ConfigError(
            f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}"
        )
    if not importable(name):
        raise ConfigError(
            f"backend {name!r} is not installed here (pip install {name})"
        )
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
    chosen = (
        gpus[0] if (device != "cpu" and gpus) else jax_devices("cpu", local=True)[0]
    )
    jax.config.update("jax_default_device", chosen)
    return chosen.platform


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


def windows_per_call(cfg, backend: str, windows: int) -> int:
    """Windows (or sentence groups) per compiled call: ``cfg.fuse``, else on JAX
    the pass in even chunks of about FUSE_CHUNK windows (each one ``lax.scan``,
    pytrnn.runtime.fused), so the last chunk needs almost no padding; elsewhere one
    call per window, as the notebook (the other backends compile PyTensor's
    scan-over-windows slowly). Sentences: on JAX (scan) FUSE_SENTENCES groups of one
    bucket per call, elsewhere one group per call; a new run keeps what this
    resolved to (it orders the pass)."""
    if cfg.fuse is not None:
        return cfg.fuse
    if cfg.resolved_layout == "sentences":
        return FUSE_SENTENCES if fuses_sentences(backend, cfg.resolved_mode) else 1
    if not fuses_windows(backend):
        return 1
    chunks = -(-windows // FUSE_CHUNK)
    return -(-windows // chunks)


def fuses_sentences(backend: str, mode: str) -> bool:
    """Groups of padded sentences train K to a call: JAX's scan only."""
    return fuses_windows(backend) and mode == "scan"


@functools.cache
def compile_mode(name: str) -> Mode:
    """The PyTensor Mode object for a backend name."""
    if name == "jax":
        patch_jax_reductions()
        patch_jax_transposes()
        patch_jax_free_lengths()
        patch_jax_c_blas()
        patch_jax_bf16()
    elif name == "c":
        patch_c_symbolic_ops()
    return get_mode(BACKENDS[name])
