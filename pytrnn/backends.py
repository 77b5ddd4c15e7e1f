"""Backend names -> PyTensor compile modes.

In PyTensor 3.x ``FAST_RUN`` (and the default mode) is the Numba backend, so "c" is
spelled ``CVM`` here, never ``FAST_RUN``.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings

from pytensor.compile.mode import Mode, get_mode

from .errors import ConfigError

BACKENDS = {"jax": "JAX", "c": "CVM", "numba": "NUMBA"}
# Fastest first, as measured on a 2-core CPU (see README: jax > numba > c).
PREFERENCE = ("jax", "numba", "c")

# JAX traces through PyTensor's shape Asserts; it says so once per graph. pytrnn
# checks lengths and ids itself before every call (see model._check_seq).
warnings.filterwarnings("ignore", message="Skipping Assert", category=UserWarning)


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


@functools.cache
def compile_mode(name: str) -> Mode:
    """The PyTensor Mode object for a backend name."""
    return get_mode(BACKENDS[name])
