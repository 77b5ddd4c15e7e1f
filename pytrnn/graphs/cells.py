"""Recurrent cells: one step each, on an input already projected (``xe_t``).

One table serves every builder (unrolled, scan, sampling), as PyTorch's ``RNNBase``
differs per cell only in its gate count and its step. Shapes: ``xe_t`` (kH,) or
(B, kH) holds ``Wxh[x_t] + bh`` (layer 0) or ``h_below.dot(Wxh_l) + bh_l``; each
state is (H,) or (B, H); slices are taken on the last axis, so one step serves both.

- rnn (the notebook's): ``h = tanh(xe + Whh.dot(h_tm1))`` (batched ``h_tm1.dot(Whh.T)``)
- gru, ``torch.nn.GRU``'s equations and gate order (r, z, n), hidden side
  ``hid = h_tm1.dot(Whh) + bhh``: ``r = σ(xe_r + hid_r)``, ``z = σ(xe_z + hid_z)``,
  ``n = tanh(xe_n + r * hid_n)``, ``h = (1 - z) * n + z * h_tm1``
- lstm, ``torch.nn.LSTM``'s gate order (i, f, g, o): ``a = xe + h_tm1.dot(Whh)``,
  ``c = σ(a_f) * c_tm1 + σ(a_i) * tanh(a_g)``, ``h = σ(a_o) * tanh(c)``

A step takes ``(xe_t, states_tm1, Whh, bhh, H, batched)`` and returns the new states;
the first state is h, the one the next layer and the output read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytensor.tensor as pt
from pytensor.tensor.math import sigmoid


def _gate(a, k: int, H: int):
    return a[..., k * H:(k + 1) * H]


def rnn_step(xe_t, states, Whh, bhh, H, batched):
    (h_tm1,) = states
    return (pt.tanh(xe_t + (h_tm1.dot(Whh.T) if batched else Whh.dot(h_tm1))),)


def gru_step(xe_t, states, Whh, bhh, H, batched):
    (h_tm1,) = states
    hid = h_tm1.dot(Whh) + bhh
    r = sigmoid(_gate(xe_t, 0, H) + _gate(hid, 0, H))
    z = sigmoid(_gate(xe_t, 1, H) + _gate(hid, 1, H))
    n = pt.tanh(_gate(xe_t, 2, H) + r * _gate(hid, 2, H))
    return ((1 - z) * n + z * h_tm1,)


def lstm_step(xe_t, states, Whh, bhh, H, batched):
    h_tm1, c_tm1 = states
    a = xe_t + h_tm1.dot(Whh)
    i, f = sigmoid(_gate(a, 0, H)), sigmoid(_gate(a, 1, H))
    g, o = pt.tanh(_gate(a, 2, H)), sigmoid(_gate(a, 3, H))
    c = f * c_tm1 + i * g
    return (o * pt.tanh(c), c)


@dataclass(frozen=True)
class Cell:
    gates: int  # k: the input projection is (., kH)
    states: int  # h, or (h, c)
    step: Callable


CELLS = {"rnn": Cell(1, 1, rnn_step), "gru": Cell(3, 1, gru_step),
         "lstm": Cell(4, 2, lstm_step)}
