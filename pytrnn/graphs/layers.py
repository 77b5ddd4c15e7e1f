"""Forward passes of any cell and any number of layers (pytrnn.graphs.cells), both as the
notebook's unrolled loop and as one ``scan`` per layer. ``pytensor.grad`` derives
their BPTT; the notebook's one-layer tanh cell keeps its own, faster path in
pytrnn.graphs.forward and pytrnn.graphs.tanh_bptt.

Layer 0 reads ``Wxh[x_t] + bh``; layer l reads the hidden states of layer l-1 through
``h.dot(Wxh_l) + bh_l``; the output layer reads the top layer's h. Masks (left
padding) multiply every state, so padding keeps them at zero. Truncation keeps scan's
``truncate_gradient`` semantics in every layer: the unrolled loop cuts each layer's
recurrence at the same position and hides its earlier states from above.

Carried state (``init``): every layer's h (and c) starts from the given values rather
than zero, and both builders also return each state's value after the last step, in
``step_layers``' order (layer by layer, h then c).
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.gated_bptt import gated_recurrence
from pytrnn.graphs.params import suffix


def _recurrent(cfg, params, layer):
    s = suffix(layer)
    return [params["Whh" + s]] + ([params["bhh" + s]] if cfg.cell == "gru" else [])


def _zeros(cfg, batch):
    shape = (cfg.hidden,) if batch is None else (batch, cfg.hidden)
    return [pt.zeros(shape, dtype=cfg.dtype) for _ in range(CELLS[cfg.cell].states)]


def _call(cfg, xe_t, states, rec, batched):
    Whh, bhh = rec[0], (rec[1] if len(rec) > 1 else None)
    return CELLS[cfg.cell].step(xe_t, states, Whh, bhh, cfg.hidden, batched)


def _init(cfg, batch, init, layer):
    """A layer's first states: zeros, or its share of the carried ``init``."""
    if init is None:
        return _zeros(cfg, batch)
    n = CELLS[cfg.cell].states
    return list(init[layer * n:(layer + 1) * n])


def scan_layers(cfg, params, x, mask, batch, drop=None, init=None, autodiff=False,
                static=None):
    """(top-layer hidden states (T, H) or (T, B, H), every state after the last
    step): one scan per layer. ``drop`` (layers, T, [B,] H): dropout masks on each
    layer's output (inverted dropout: 0 or 1 / (1 - p)), as it goes up to the next
    layer or to the output layer. ``init``: the carried first states, or None.
    Static-length graphs run the gated cells' recurrence with its own BPTT
    (pytrnn.graphs.gated_bptt) unless ``autodiff``, which derives it through the plain scan.
    ``static``: build as for a static length (default: whether x's length is)."""
    cell, batched = CELLS[cfg.cell], batch is not None
    finals = []
    static = x.type.shape[0] is not None if static is None else static
    free = not static  # C / Numba: project layer 0 inside the loop
    own_bptt = not free and not autodiff and cfg.cell != "rnn"
    below = None
    for layer in range(cfg.layers):
        rec = _recurrent(cfg, params, layer)
        if layer == 0 and free:
            sequences, extra = [x], [params["Wxh"], params["bh"]]
        elif layer == 0:
            sequences, extra = [params["Wxh"][x] + params["bh"]], []
        else:
            s = suffix(layer)
            if drop is not None:
                below = below * drop[layer - 1]
            sequences, extra = [below.dot(params["Wxh" + s]) + params["bh" + s]], []
        if mask is not None:
            sequences.append(mask)
        n_seq, n_rec = len(sequences), len(rec)

        def fn(*args, layer=layer, n_seq=n_seq, n_rec=n_rec):
            seq, states = args[:n_seq], args[n_seq:n_seq + cell.states]
            rest = args[n_seq + cell.states:]
            r, ex = rest[:n_rec], rest[n_rec:]
            xe_t = ex[0][seq[0]] + ex[1] if ex else seq[0]
            new = _call(cfg, xe_t, states, r, batched)
            if mask is not None:
                new = tuple(seq[-1] * v for v in new)
            return list(new) if cell.states > 1 else new[0]

        def run(seqs, init, truncate=-1, layer=layer, n_seq=n_seq):
            if own_bptt:  # truncate is never below the length here
                Whh = params["Whh" + suffix(layer)]
                bhh = params.get("bhh" + suffix(layer))
                m = seqs[1] if n_seq > 1 else None
                if batched:
                    return gated_recurrence(cfg.cell, fn, seqs[0], Whh, bhh, cfg.hidden,
                                            init, m)
                # one stream as a batch of one: (T, 1, kH), states (1, H)
                outs = gated_recurrence(cfg.cell, fn, seqs[0][:, None], Whh, bhh,
                                        cfg.hidden, [v[None] for v in init],
                                        None if m is None else m[:, None, None])
                return [o[:, 0] for o in outs]
            outs = pytensor.scan(fn, sequences=seqs, outputs_info=init,
                                 non_sequences=rec + extra, truncate_gradient=truncate,
                                 strict=True, return_updates=False)
            return list(outs) if cell.states > 1 else [outs]

        T, K = x.type.shape[0], cfg.bptt_truncate
        if K > 0 and T is not None and T > K:
            # truncate_gradient's meaning, built as two scans: the first T - K steps
            # pass nothing back (PyTensor's JAX scan cannot run truncated gradients
            # of several recurrent outputs)
            head = run([q[:T - K] for q in sequences], _init(cfg, batch, init, layer))
            head = [disconnected_grad(o) for o in head]
            outs = run([q[T - K:] for q in sequences], [o[-1] for o in head])
            below = pt.concatenate([head[0], outs[0]], axis=0)
        else:
            outs = run(sequences, _init(cfg, batch, init, layer), K)
            below = outs[0]
        finals.extend(o[-1] for o in outs)
    return (below if drop is None else below * drop[cfg.layers - 1]), finals


def unrolled_layers(cfg, params, x, mask, batch, T: int, cut: int, drop=None,
                    init=None):
    """(top-layer hidden states, one (H,) or (B, H) per position, every state after
    the last step): a Python loop. ``drop`` and ``init`` as in ``scan_layers``."""
    batched = batch is not None
    below, finals = None, []
    for layer in range(cfg.layers):
        rec, s = _recurrent(cfg, params, layer), suffix(layer)
        states, outs = tuple(_init(cfg, batch, init, layer)), []
        for i in range(T):
            if 0 < cut == i:
                states = tuple(disconnected_grad(v) for v in states)
            if layer == 0:
                xe_t = params["Wxh"][x[i]] + params["bh"]
            else:
                h_in = below[i] if drop is None else below[i] * drop[layer - 1, i]
                xe_t = h_in.dot(params["Wxh" + s]) + params["bh" + s]
            states = _call(cfg, xe_t, states, rec, batched)
            if mask is not None:
                states = tuple(mask[i] * v for v in states)
            outs.append(disconnected_grad(states[0]) if i < cut else states[0])
        below = outs
        finals.extend(states)
    if drop is not None:
        below = [h * drop[cfg.layers - 1, i] for i, h in enumerate(below)]
    return below, finals


def step_layers(cfg, params, x_t, state):
    """One sampling step: x_t () int, state (layers * states, H) -> (new state, h_top)."""
    n = CELLS[cfg.cell].states
    new, inp = [], None
    for layer in range(cfg.layers):
        s = suffix(layer)
        if layer == 0:
            xe_t = params["Wxh"][x_t] + params["bh"]
        else:
            xe_t = inp.dot(params["Wxh" + s]) + params["bh" + s]
        states = tuple(state[layer * n + k] for k in range(n))
        out = _call(cfg, xe_t, states, _recurrent(cfg, params, layer), False)
        new.extend(out)
        inp = out[0]
    return pt.stack(new), inp
