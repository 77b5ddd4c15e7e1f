"""What ``pytrnn info`` reports: versions, working backends, devices, BLAS, caches."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import time
from pathlib import Path

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

# the instruction sets that matter here: the products' width, bf16 with f32 sums
FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16")


def cpu_facts() -> dict:
    """{"cpu": model name, "cores": usable cores, "flags": {flag: bool}}."""
    model, flags = None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:  # not Linux: the model as Python knows it, flags unknown
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    model = model or platform.processor() or platform.machine()
    return {"cpu": model, "cores": cores or os.cpu_count(),
            "flags": {f: f in flags for f in FLAGS}}  # fmt: skip


def cpu_line(facts: dict) -> str:
    have = [f for f, on in facts["flags"].items() if on]
    return (f"{facts['cpu']}, {facts['cores']} cores, "
            f"{' '.join(have) if have else 'no listed flags'}")  # fmt: skip


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
        "cpu": cpu_line(cpu_facts()),
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
