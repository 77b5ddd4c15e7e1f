"""The GRU and LSTM recurrences as ``scan``s that carry their own BPTT as their
gradient, as pytrnn.graphs.tanh_bptt does for the notebook's tanh cell.

``gated_recurrence(cell, xe, Whh, bhh, ...)`` runs one layer over inputs already
projected (``xe_t``, (B, kH)) from the first states ``init`` and returns every
state's sequence (h, and the LSTM's c), each (T, B, H). Its gradient is a graph:
the gates of every step are recomputed at once from the stored states (one
(T·B, H) x (H, kH) product), a reverse ``scan`` carries only dh (and dc) with one
(B, kH) x (kH, H) product per step, and ``dWhh`` is one product outside the loop.

Why: ``pytensor.grad`` through the plain scan accumulates ``dWhh`` inside the
backward loop and reads and writes its buffers through gathers and scatters, which
on XLA's CPU backend costs the gated cells most of their speed at batch 64 (docs/performance.md). The same numbers come out (tested against the derived gradient).

Masks (T, B, 1) multiply every state, as in pytrnn.graphs.layers. Batched, static-length
graphs only (JAX); the others keep the plain scan.
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.gradient import DisconnectedType
from pytensor.tensor.math import sigmoid

from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.cells import gate as _g


def _lstm_bptt(xe, Whh, mask, init, hs, cs, dhs, dcs, H):
    hprev = pt.concatenate([init[0][None], hs[:-1]], axis=0)  # (T, B, H)
    cprev = pt.concatenate([init[1][None], cs[:-1]], axis=0)
    a = xe + pt.dot(hprev, Whh)  # every step's gates at once: (T, B, 4H)
    i, f = sigmoid(_g(a, 0, H)), sigmoid(_g(a, 1, H))
    g, o = pt.tanh(_g(a, 2, H)), sigmoid(_g(a, 3, H))
    tc = pt.tanh(cs)  # c_t, masked or not, is the c the step computed where m = 1
    masks = [] if mask is None else [mask]  # no mask: no per-step multiply by ones

    def back(*args):
        m_t, args = (args[0], args[1:]) if masks else (None, args)
        i_t, f_t, g_t, o_t, tc_t, cp_t, dh_t, dc_t, dh_next, dc_next, W = args
        dh, dc = dh_t + dh_next, dc_t + dc_next
        if m_t is not None:
            dh, dc = m_t * dh, m_t * dc
        dc = dc + dh * o_t * (1 - tc_t**2)
        da = pt.concatenate(
            [
                dc * g_t * i_t * (1 - i_t),
                dc * cp_t * f_t * (1 - f_t),
                dc * i_t * (1 - g_t**2),
                dh * tc_t * o_t * (1 - o_t),
            ],
            axis=-1,
        )
        return [da, da.dot(W.T), dc * f_t]

    zeros = pt.zeros_like(init[0])
    das, dhn, dcn = pytensor.scan(
        back,
        sequences=[*masks, i, f, g, o, tc, cprev, dhs, dcs],
        outputs_info=[None, zeros, zeros],
        non_sequences=[Whh],
        go_backwards=True,
        strict=True,
        return_updates=False,
    )
    das = das[::-1]  # (T, B, 4H)
    dWhh = hprev.reshape((-1, H)).T.dot(das.reshape((-1, 4 * H)))
    return das, dWhh, None, [dhn[-1], dcn[-1]]


def _gru_bptt(xe, Whh, bhh, mask, init, hs, dhs, H):
    hprev = pt.concatenate([init[0][None], hs[:-1]], axis=0)  # (T, B, H)
    hid = pt.dot(hprev, Whh) + bhh  # (T, B, 3H)
    r = sigmoid(_g(xe, 0, H) + _g(hid, 0, H))
    z = sigmoid(_g(xe, 1, H) + _g(hid, 1, H))
    hid_n = _g(hid, 2, H)
    n = pt.tanh(_g(xe, 2, H) + r * hid_n)
    masks = [] if mask is None else [mask]  # no mask: no per-step multiply by ones

    def back(*args):
        m_t, args = (args[0], args[1:]) if masks else (None, args)
        r_t, z_t, n_t, hn_t, hp_t, dh_t, dh_next, W = args
        dh = dh_t + dh_next if m_t is None else m_t * (dh_t + dh_next)
        dan = dh * (1 - z_t) * (1 - n_t**2)
        dar = dan * hn_t * r_t * (1 - r_t)
        daz = dh * (hp_t - n_t) * z_t * (1 - z_t)
        dhid = pt.concatenate([dar, daz, dan * r_t], axis=-1)
        return [dan, dhid, dh * z_t + dhid.dot(W.T)]

    zeros = pt.zeros_like(init[0])
    dans, dhids, dhn = pytensor.scan(
        back,
        sequences=[*masks, r, z, n, hid_n, hprev, dhs],
        outputs_info=[None, None, zeros],
        non_sequences=[Whh],
        go_backwards=True,
        strict=True,
        return_updates=False,
    )
    dans, dhids = dans[::-1], dhids[::-1]
    # the input side's gates: r's and z's as the hidden side's, n's without r
    dxes = pt.concatenate([dhids[..., : 2 * H], dans], axis=-1)
    dWhh = hprev.reshape((-1, H)).T.dot(dhids.reshape((-1, 3 * H)))
    dbhh = dhids.sum(axis=(0, 1))
    return dxes, dWhh, dbhh, [dhn[-1]]


def gated_recurrence(cell: str, step, xe, Whh, bhh, H: int, init, mask=None):
    """Every state's sequence, [hs] (GRU) or [hs, cs] (LSTM), each (T, B, H), for
    ``xe`` (T, B, kH) projected inputs from ``init`` (the first states, (B, H) each).
    ``step(xe_t, [m_t,] *states, Whh[, bhh])`` is the plain scan's own step, so the
    forward pass is the plain scan's; only the gradient is this module's."""
    gru = cell == "gru"
    args = (
        [xe, Whh]
        + ([bhh] if gru else [])
        + ([mask] if mask is not None else [])
        + list(init)
    )
    inputs = [v.type() for v in args]
    xe_i, W_i = inputs[0], inputs[1]
    b_i = inputs[2] if gru else None
    m_i = inputs[2 + gru] if mask is not None else None
    init_i = inputs[len(inputs) - len(init) :]
    outs = pytensor.scan(
        step,
        sequences=[xe_i] + ([m_i] if mask is not None else []),
        outputs_info=list(init_i),
        non_sequences=[W_i] + ([b_i] if gru else []),
        strict=True,
        return_updates=False,
    )
    outs = list(outs) if CELLS[cell].states > 1 else [outs]

    def pullback(ins, outs_, cots):
        cots = [
            pt.zeros_like(o) if isinstance(c.type, DisconnectedType) else c
            for o, c in zip(outs_, cots)
        ]
        xe_, W_ = ins[0], ins[1]
        b_ = ins[2] if gru else None
        m_ = ins[2 + gru] if mask is not None else None
        first = ins[len(ins) - len(init) :]
        if gru:
            dxe, dW, db, dfirst = _gru_bptt(
                xe_, W_, b_, m_, first, outs_[0], cots[0], H
            )
        else:
            dxe, dW, db, dfirst = _lstm_bptt(
                xe_, W_, m_, first, outs_[0], outs_[1], cots[0], cots[1], H
            )
        grads = [dxe, dW] + ([db] if gru else [])
        if mask is not None:
            grads.append(pt.zeros_like(m_))
        return grads + dfirst

    op = OpFromGraph(
        inputs, outs, inline=True, pullback=pullback, name=f"{cell}_recurrence"
    )
    out = op(*args)
    return list(out) if isinstance(out, (list, tuple)) else [out]
