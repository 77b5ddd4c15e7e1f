"""Recurrent cells: one step each, and the table every builder reads.

One table serves every builder (unrolled, scan, sampling), as PyTorch's ``RNNBase``
differs per cell only in its gate count and its step. A step reads its input
projection ``xp_t`` ((kH,) or (B, kH)): ``Wxh[x_t]`` at layer 0, ``h_below.dot(Wxh_l)``
above, with the bias ``b`` (``bh``, ``bh_l``) beside it, or ``b = None`` where the
bias is already in ``xp_t`` (a scan that projects every position before its loop).
Each state is (H,) or (B, H); slices are taken on the last axis, so one step serves
both.

- rnn (the notebook's): ``h = tanh(xp + Whh.dot(h_tm1) + b)`` (batched
  ``h_tm1.dot(Whh.T)``), in the notebook's order of terms
- gru, ``torch.nn.GRU``'s equations and gate order (r, z, n), ``xe = xp + b``, hidden
  side ``hid = h_tm1.dot(Whh) + bhh``: ``r = σ(xe_r + hid_r)``, ``z = σ(xe_z + hid_z)``,
  ``n = tanh(xe_n + r * hid_n)``, ``h = (1 - z) * n + z * h_tm1``
- lstm, ``torch.nn.LSTM``'s gate order (i, f, g, o): ``a = xe + h_tm1.dot(Whh)``,
  ``c = σ(a_f) * c_tm1 + σ(a_i) * tanh(a_g)``, ``h = σ(a_o) * tanh(c)``

A step takes ``(xp_t, b, states_tm1, Whh, bhh, H, batched)`` and returns the new
states; the first state is h, the one the next layer and the output read.

Each cell also names its own BPTT (``bptt``): the recurrence of one layer as a scan
whose gradient is a hand-written graph (pytrnn.graphs.tanh_bptt for the tanh cell,
pytrnn.graphs.gated_bptt for the gated ones), used by static-length scans instead
of ``pytensor.grad`` through the plain scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytensor.tensor as pt
from pytensor.tensor.math import sigmoid


def gate(a, k: int, H: int):
    """The k-th of a projection's gates, (..., H) of (..., kH)."""
    return a[..., k * H : (k + 1) * H]


def _with_bias(xp_t, b):
    return xp_t if b is None else xp_t + b


def rnn_step(xp_t, b, states, Whh, bhh, H, batched):
    (h_tm1,) = states
    a = xp_t + (h_tm1.dot(Whh.T) if batched else Whh.dot(h_tm1))
    return (pt.tanh(a if b is None else a + b),)


def gru_step(xp_t, b, states, Whh, bhh, H, batched):
    (h_tm1,) = states
    xe_t = _with_bias(xp_t, b)
    hid = h_tm1.dot(Whh) + bhh
    r = sigmoid(gate(xe_t, 0, H) + gate(hid, 0, H))
    z = sigmoid(gate(xe_t, 1, H) + gate(hid, 1, H))
    n = pt.tanh(gate(xe_t, 2, H) + r * gate(hid, 2, H))
    return ((1 - z) * n + z * h_tm1,)


def lstm_step(xp_t, b, states, Whh, bhh, H, batched):
    h_tm1, c_tm1 = states
    a = _with_bias(xp_t, b) + h_tm1.dot(Whh)
    i, f = sigmoid(gate(a, 0, H)), sigmoid(gate(a, 1, H))
    g, o = pt.tanh(gate(a, 2, H)), sigmoid(gate(a, 3, H))
    c = f * c_tm1 + i * g
    return (o * pt.tanh(c), c)


def tanh_bptt(cell, fn, xe, Whh, bhh, H, init, mask, batch, truncate):
    """One tanh layer with its own BPTT (pytrnn.graphs.tanh_bptt), from ``init``'s
    h; truncation is the recurrence's own."""
    from pytrnn.graphs.tanh_bptt import recurrence

    return [
        recurrence(xe, Whh, H, mask=mask, batch=batch, truncate=truncate, h0=init[0])
    ]


def gated_bptt(cell, fn, xe, Whh, bhh, H, init, mask, batch, truncate):
    """One GRU or LSTM layer with its own BPTT (pytrnn.graphs.gated_bptt), batched
    (one stream runs as a batch of one). ``truncate`` is never below the length
    here: the caller splits a truncated sequence."""
    from pytrnn.graphs.gated_bptt import gated_recurrence

    if batch is not None:
        return gated_recurrence(cell, fn, xe, Whh, bhh, H, init, mask)
    outs = gated_recurrence(
        cell,
        fn,
        xe[:, None],
        Whh,
        bhh,
        H,
        [v[None] for v in init],
        None if mask is None else mask[:, None, None],
    )
    return [o[:, 0] for o in outs]


@dataclass(frozen=True)
class Cell:
    gates: int  # k: the input projection is (., kH)
    states: int  # h, or (h, c)
    step: Callable
    bptt: Callable  # one layer's recurrence with a hand-written gradient
    truncates: bool = False  # bptt applies truncate_gradient itself


CELLS = {
    "rnn": Cell(1, 1, rnn_step, tanh_bptt, truncates=True),
    "gru": Cell(3, 1, gru_step, gated_bptt),
    "lstm": Cell(4, 2, lstm_step, gated_bptt),
}
