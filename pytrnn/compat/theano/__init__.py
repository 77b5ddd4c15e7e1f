"""A Theano-1.0-shaped facade over PyTensor, enough for the notebook and WildML's RNN.

Change only the imports::

    import pytrnn.compat.theano as theano
    import pytrnn.compat.theano.tensor as T
    from pytrnn.compat.theano import shared, function

``function`` compiles with pytrnn's default backend (JAX here, on the GPU when JAX
sees one) unless ``mode=`` or ``config.mode`` says otherwise; ``scan`` keeps Theano's
``(outputs, updates)`` return; ``config.device`` answers ``'gpu'`` when JAX runs on a
GPU, as Theano's did on the notebook author's GTX 980M.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytensor
from pytensor import gradient, printing  # noqa: F401  (theano.gradient, theano.printing)
from pytensor.compile.sharedvalue import shared

from pytrnn.compat.theano import tensor  # noqa: F401  (theano.tensor)
from pytrnn.runtime.backends import BACKENDS, compile_mode, default_backend

__all__ = ["shared", "function", "scan", "config", "grad", "tensor", "In", "Out"]

grad = pytensor.grad
In = pytensor.In
Out = pytensor.Out


class _Config:
    """Theano's ``config`` for the fields old code reads; the rest is PyTensor's."""

    mode: str | None = None  # None: pytrnn's default backend

    @property
    def device(self) -> str:
        from pytrnn.runtime.backends import runs_on

        return runs_on(self._backend())

    @property
    def floatX(self) -> str:
        return pytensor.config.floatX

    @floatX.setter
    def floatX(self, value: str) -> None:
        pytensor.config.floatX = value

    def _backend(self) -> str:
        if self.mode is None:
            return default_backend()
        return {v: k for k, v in BACKENDS.items()}.get(self.mode.upper(), "c")

    def __getattr__(self, name):
        return getattr(pytensor.config, name)


config = _Config()


def _mode(mode):
    if mode is not None:
        return mode
    if config.mode is not None:
        return config.mode
    return compile_mode(default_backend())


FALLBACK = "numba"  # for graphs JAX cannot trace: dynamic lengths in scan, arange(n)


def _untraceable(e: Exception) -> bool:
    text = str(e)
    return "JAX" in text or "concrete" in text


class Function:
    """A compiled function that returns numpy arrays, as Theano's did.

    Theano code often has dynamic shapes (a ``scan`` over a ``T.ivector``), which the
    JAX backend cannot trace. When the backend was not chosen explicitly and the
    first call fails to trace, the graph is recompiled once with Numba (which takes
    any shape) and a warning says so; nothing was updated by the failed call.
    """

    def __init__(self, build, mode, explicit: bool):
        self.build = build
        self.checked = explicit or mode is not compile_mode("jax")
        try:
            self.fn = build(mode)
        except (NotImplementedError, TypeError) as e:
            if self.checked or not _untraceable(e):
                raise
            self._fall_back(e)

    def _fall_back(self, e):
        warnings.warn(
            "theano.function: this graph has shapes the JAX backend cannot trace "
            f"({str(e).splitlines()[0][:80]}); compiled with {FALLBACK} instead",
            stacklevel=3,
        )
        self.fn = self.build(compile_mode(FALLBACK))
        self.checked = True

    def __call__(self, *args, **kwargs):
        if self.checked:
            out = self.fn(*args, **kwargs)
        else:
            try:
                out = self.fn(*args, **kwargs)
            except (NotImplementedError, TypeError) as e:
                if not _untraceable(e):
                    raise
                self._fall_back(e)
                out = self.fn(*args, **kwargs)
            self.checked = True
        if isinstance(out, list):
            return [np.asarray(o) for o in out]
        return np.asarray(out)

    def __getattr__(self, name):
        return getattr(self.fn, name)


def function(
    inputs,
    outputs=None,
    updates=None,
    givens=None,
    mode=None,
    name=None,
    allow_input_downcast=None,
    on_unused_input=None,
    **kwargs,
):
    """``theano.function``: same arguments; compiled with pytrnn's default backend."""

    def build(m):
        return pytensor.function(
            inputs,
            outputs,
            updates=updates or [],
            givens=givens,
            mode=m,
            name=name,
            allow_input_downcast=allow_input_downcast,
            on_unused_input=on_unused_input,
            **kwargs,
        )

    explicit = mode is not None or config.mode is not None
    return Function(build, _mode(mode), explicit)


def scan(
    fn,
    sequences=None,
    outputs_info=None,
    non_sequences=None,
    n_steps=None,
    truncate_gradient=-1,
    go_backwards=False,
    mode=None,
    name=None,
    strict=False,
    **kwargs,
):
    """``theano.scan``: returns ``(outputs, updates)`` as Theano did."""
    return pytensor.scan(
        fn,
        sequences=sequences,
        outputs_info=outputs_info,
        non_sequences=non_sequences,
        n_steps=n_steps,
        truncate_gradient=truncate_gradient,
        go_backwards=go_backwards,
        mode=mode,
        name=name,
        strict=strict,
        return_updates=True,
        **kwargs,
    )
