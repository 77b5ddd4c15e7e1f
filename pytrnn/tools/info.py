"""What ``pytrnn info`` reports: versions, working backends, devices, BLAS, caches."""

from __future__ import annotations

import importlib.metadata as md
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from pytrnn import __version__
from pytrnn.runtime.backends import (
    BACKENDS,
    compile_mode,
    importable,
    jax_cache_dir,
    jax_devices,
)


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "not installed"


def probe_backend(name: str) -> tuple[bool, str]:
    """Compile and run a tiny dot product; (works, detail)."""
    try:
        a = pt.dvector("a")
        t0 = time.perf_counter()
        f = pytensor.function([a], a.dot(a), mode=compile_mode(name))
        ok = float(f(np.arange(3.0))) == 5.0
        return (
            ok,
            f"{time.perf_counter() - t0:.1f} s to compile" if ok else "wrong result",
        )
    except Exception as e:  # a broken backend is reported, not raised
        return False, f"{type(e).__name__}: {e}".splitlines()[0][:120]


def _topology() -> str:
    import jax

    return (
        f"process {jax.process_index()} of {jax.process_count()}, "
        f"{jax.local_device_count()} local / {jax.device_count()} global devices"
    )


def info(probe: bool = True) -> dict:
    devices = [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax_devices()]
    blas = pytensor.config.blas__ldflags
    return {
        "pytrnn": __version__,
        "pytensor": _version("pytensor"),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "numba": _version("numba"),
        "numpy": _version("numpy"),
        # (True | False | None = not probed, detail)
        "backends": {
            n: probe_backend(n)
            if probe
            else (None, "importable" if importable(n) else "not installed")
            for n in BACKENDS
        },
        "jax_devices": devices,
        "processes": _topology(),
        "c_blas": blas or "none found (C backend uses a slow fallback)",
        "pytensor_compiledir": str(pytensor.config.compiledir),
        "jax_cache_dir": str(jax_cache_dir()),
    }
