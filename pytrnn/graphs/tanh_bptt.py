"""The tanh recurrence as a ``scan`` that carries its own BPTT as its gradient.

``hs = recurrence(xe, Whh)`` runs ``h_t = tanh(xe_t + Whh h_{t-1})`` from h = 0
(batched: ``h_t = tanh(xe_t + h_{t-1} Whh^T)``; masked: ``h_t = m_t * tanh(...)``,
with m (T,) or, batched, (T, B, 1)).
Its gradient is given as a graph rather than derived by ``pytensor.grad`` through
the scan: a reverse ``scan`` carries only ``da_t = (1 - h_t^2) * (dh_t + Whh^T
da_{t+1})``, and ``dWhh = sum_t da_t h_{t-1}^T`` is one matrix product outside the
loop. ``pytensor.grad`` still differentiates everything around it (input projection,
output layer, loss, L2).

Why: the derived gradient of a scan reads and writes its backward buffers through
gathers and scatters with bounds checks (about ten small XLA ops per step on JAX),
and with a minibatch it accumulates ``dWhh`` inside the loop. This form trains the
same numbers (tested against ``pytensor.grad`` of the plain scan, with masks, batches
and truncation) and faster (docs/performance.md).

Truncation (``truncate > 0``) keeps scan's ``truncate_gradient`` semantics: only the
last K positions' gradients enter, flowing back through those K steps.

``h0`` (carried state): the recurrence starts from it instead of zero; its gradient
is ``Whh^T da_0`` (zero when truncation stops before the first step).
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph

from pytrnn.graphs.cells import rnn_step


def _step(xe_t, h_tm1, Whh, batched: bool):
    """The tanh cell's own step on an input that holds its bias already."""
    return rnn_step(xe_t, None, (h_tm1,), Whh, None, None, batched)[0]


def _forward(xe, Whh, mask, h0, batched: bool):
    if mask is None:

        def fn(xe_t, h_tm1, W):
            return _step(xe_t, h_tm1, W, batched)

        sequences = [xe]
    else:

        def fn(xe_t, m_t, h_tm1, W):
            return m_t * _step(xe_t, h_tm1, W, batched)

        sequences = [xe, mask]
    return pytensor.scan(
        fn,
        sequences=sequences,
        outputs_info=[h0],
        non_sequences=[Whh],
        strict=True,
        return_updates=False,
    )


def _bptt(xe, Whh, mask, hs, dhs, h0, batched: bool, truncate: int):
    """(dxe, dWhh) from the hidden states and the gradient reaching them."""
    g = 1 - hs**2  # tanh' at every step
    if mask is not None:  # (T,), or (T, B, 1) for a batch of padded sentences
        g = g * (mask if batched else mask[:, None])

    hprev = pt.concatenate([h0[None], hs[:-1]], axis=0)
    start = 0
    if truncate > 0:
        T = xe.type.shape[0]
        start = (
            max(T - truncate, 0)
            if T is not None
            else pt.maximum(xe.shape[0] - truncate, 0)
        )
        g, dhs, hprev = g[start:], dhs[start:], hprev[start:]

    def back(g_t, d_t, da_next, W):
        return g_t * (d_t + (da_next.dot(W) if batched else W.T.dot(da_next)))

    das = pytensor.scan(
        back,
        sequences=[g, dhs],
        outputs_info=[pt.zeros_like(h0)],
        non_sequences=[Whh],
        go_backwards=True,
        strict=True,
        return_updates=False,
    )[::-1]
    H = Whh.shape[0]
    dWhh = das.reshape((-1, H)).T.dot(hprev.reshape((-1, H)))
    if truncate > 0:
        das = pt.concatenate([pt.zeros_like(xe[:start]), das], axis=0)
    return das, dWhh


def recurrence(
    xe,
    Whh,
    hidden: int,
    mask=None,
    batch: int | None = None,
    truncate: int = -1,
    h0=None,
):
    """Hidden states (T, H) or (T, B, H) for inputs ``xe`` already projected
    (Wxh[x] + bh), from ``h0`` (H,) or (B, H), or zero."""
    batched = batch is not None
    H = hidden
    shape = (batch, H) if batched else (H,)
    args = (
        [xe, Whh]
        + ([mask] if mask is not None else [])
        + ([h0] if h0 is not None else [])
    )
    inputs = [a.type() for a in args]
    xe_i, W_i = inputs[:2]
    m_i = inputs[2] if mask is not None else None
    h0_i = inputs[-1] if h0 is not None else pt.zeros(shape, dtype=xe.dtype)
    hs = _forward(xe_i, W_i, m_i, h0_i, batched)

    def pullback(ins, outs, cots):
        start = ins[-1] if h0 is not None else h0_i
        dxe, dWhh = _bptt(
            ins[0],
            ins[1],
            ins[2] if mask is not None else None,
            outs[0],
            cots[0],
            start,
            batched,
            truncate,
        )
        grads = [dxe, dWhh] + ([pt.zeros_like(ins[2])] if mask is not None else [])
        if h0 is not None:  # dxe[0] is da_0 (zero when truncated before it)
            grads.append(dxe[0].dot(ins[1]) if batched else ins[1].T.dot(dxe[0]))
        return grads

    op = OpFromGraph(
        inputs, [hs], inline=True, pullback=pullback, name="tanh_recurrence"
    )
    return op(*args)
