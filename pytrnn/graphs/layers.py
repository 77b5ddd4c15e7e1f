"""Forward passes of any cell and any number of layers (pytrnn.graphs.cells), both as
the notebook's unrolled loop and as one ``scan`` per layer: the notebook's one tanh
layer is the smallest case, not a path of its own.

Layer 0 reads ``Wxh[x_t]`` with its bias ``bh``; layer l reads the hidden states of
layer l-1 through ``h.dot(Wxh_l)`` and ``bh_l``; the output layer reads the top
layer's h. Masks (left padding) multiply every state, so padding keeps them at zero.
Truncation keeps scan's ``truncate_gradient`` semantics in every layer: the unrolled
loop cuts each layer's recurrence at the same position and hides its earlier states
from above.

A static-length scan runs each layer's recurrence with the cell's own BPTT
(``Cell.bptt``) unless ``autodiff`` asks ``pytensor.grad`` to derive it through the
plain scan; free-length graphs (C, Numba) project layer 0 inside the loop and keep
the plain scan.

Carried state (``init``): every layer's h (and c) starts from the given values rather
than zero, and both builders also return each state's value after the last step, in
``step_layers``' order (layer by layer, h then c).
"""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.params import input_bias, suffix


def _recurrent(cfg, params, layer):
    s = suffix(layer)
    return [params["Whh" + s]] + ([params["bhh" + s]] if cfg.cell == "gru" else [])


def _zeros(cfg, batch, layer):
    H = cfg.widths[layer]
    shape = (H,) if batch is None else (batch, H)
    return [pt.zeros(shape, dtype=cfg.dtype) for _ in range(CELLS[cfg.cell].states)]


def _call(cfg, xp_t, b, states, rec, batched, layer):
    Whh, bhh = rec[0], (rec[1] if len(rec) > 1 else None)
    return CELLS[cfg.cell].step(xp_t, b, states, Whh, bhh, cfg.widths[layer], batched)


def _init(cfg, batch, init, layer):
    """A layer's first states: zeros, or its share of the carried ``init`` (cut
    to its width where the layers differ)."""
    if init is None:
        return _zeros(cfg, batch, layer)
    n, H = CELLS[cfg.cell].states, cfg.widths[layer]
    own = list(init[layer * n : (layer + 1) * n])
    return own if H == cfg.state_width else [v[..., :H] for v in own]


def padded(cfg, v, layer):
    """A state of ``layer`` as the carried state holds it: state_width wide."""
    extra = cfg.state_width - cfg.widths[layer]
    if not extra:
        return v
    return pt.concatenate([v, pt.zeros((*v.shape[:-1], extra), dtype=v.dtype)], axis=-1)


def layer_drop(cfg, drop, layer):
    """The dropout mask on ``layer``'s output. With an embedding the masks are
    (layers + 1, ..., max(E, H)): the embedding's first, then each layer's, each
    cut to its own width."""
    H = cfg.widths[layer]
    m = drop[layer + 1] if cfg.emsize else drop[layer]
    return m if H == mask_width(cfg) else m[..., :H]


def embed_drop(cfg, drop):
    """The dropout mask on the embedding's output (wlm's ``drop(encoder(input))``)."""
    if drop is None or not cfg.emsize:
        return None
    return drop[0] if cfg.emsize == mask_width(cfg) else drop[0][..., : cfg.emsize]


def mask_width(cfg) -> int:
    """The dropout masks' last axis: the widest place they cover."""
    return max(cfg.emsize or 0, cfg.state_width)


def _projection(cfg, params, layer, x_t, below_t, emb_mask=None):
    """A layer's input projection and bias, kept apart for the step. Layer 0 reads
    the row of Wxh for x_t (one-hot), or with an embedding ``Wemb[x_t]`` (times its
    dropout mask) through Wxh."""
    b = input_bias(cfg, params, layer)
    if layer == 0:
        if not cfg.emsize:
            return params["Wxh"][x_t], b
        e = params["Wemb"][x_t]
        if "edrop" in params:  # embedding dropout: the rows of the words dropped
            e = e * params["edrop"][x_t][..., None]
        return (e if emb_mask is None else e * emb_mask).dot(params["Wxh"]), b
    return below_t.dot(params["Wxh" + suffix(layer)]), b


def _last(o, last, batch):
    """A state sequence's value after the last step, or at each stream's ``last``."""
    if last is None:
        return o[-1]
    return o[last] if batch is None else o[last, pt.arange(batch)]


def scan_layers(
    cfg,
    params,
    x,
    mask,
    batch,
    drop=None,
    init=None,
    autodiff=False,
    static=None,
    last=None,
):
    """(top-layer hidden states (T, H) or (T, B, H), undropped, and every state
    after the last step): one scan per layer. ``drop`` (layers, T, [B,] H): dropout
    masks on each layer's output (inverted dropout: 0 or 1 / (1 - p)), as it goes
    up to the next layer (the caller applies the top one). ``init``: the carried
    first states, or None. ``static``: build as for a static length (default:
    whether x's length is). ``last``: each stream's last real step (right-padded
    windows), whose states are the ones returned."""
    cell, batched = CELLS[cfg.cell], batch is not None
    finals = []
    static = x.type.shape[0] is not None if static is None else static
    free = not static  # C / Numba: project layer 0 inside the loop
    own_bptt = static and not autodiff
    below = None
    for layer in range(cfg.layers):
        rec = _recurrent(cfg, params, layer)
        if layer == 0 and free and not cfg.emsize:
            sequences, extra = [x], [params["Wxh"], input_bias(cfg, params, 0)]
        else:
            if layer > 0 and drop is not None:
                below = below * layer_drop(cfg, drop, layer - 1)
            xp, b = _projection(cfg, params, layer, x, below, embed_drop(cfg, drop))
            sequences, extra = [xp + b], []  # every position's input at once
        if mask is not None:
            sequences.append(mask)
        n_seq, n_rec = len(sequences), len(rec)

        def fn(*args, n_seq=n_seq, n_rec=n_rec, layer=layer):
            seq, states = args[:n_seq], args[n_seq : n_seq + cell.states]
            rest = args[n_seq + cell.states :]
            r, ex = rest[:n_rec], rest[n_rec:]
            # free length: the projection inside the loop, its bias beside it
            xp_t, b = (ex[0][seq[0]], ex[1]) if ex else (seq[0], None)
            new = _call(cfg, xp_t, b, states, r, batched, layer)
            if mask is not None:
                new = tuple(seq[-1] * v for v in new)
            return list(new) if cell.states > 1 else new[0]

        def run(
            seqs,
            first,
            truncate=-1,
            layer=layer,
            n_seq=n_seq,
            fn=fn,
            rec=rec,
            extra=extra,
        ):
            if own_bptt:
                m = seqs[1] if n_seq > 1 else None
                bhh = rec[1] if len(rec) > 1 else None  # the GRU's
                return cell.bptt(
                    cfg.cell,
                    fn,
                    seqs[0],
                    params["Whh" + suffix(layer)],
                    bhh,
                    cfg.widths[layer],
                    first,
                    m,
                    batch,
                    truncate,
                )
            outs = pytensor.scan(
                fn,
                sequences=seqs,
                outputs_info=first,
                non_sequences=rec + extra,
                truncate_gradient=truncate,
                strict=True,
                return_updates=False,
            )
            return list(outs) if cell.states > 1 else [outs]

        first = _init(cfg, batch, init, layer)
        T, K = x.type.shape[0], cfg.bptt_truncate
        if K > 0 and T is not None and T > K and not (own_bptt and cell.truncates):
            # truncate_gradient's meaning, built as two scans: the first T - K steps
            # pass nothing back (PyTensor's JAX scan cannot run truncated gradients
            # of several recurrent outputs)
            head = run([q[: T - K] for q in sequences], first)
            head = [disconnected_grad(o) for o in head]
            outs = run([q[T - K :] for q in sequences], [o[-1] for o in head])
            below = pt.concatenate([head[0], outs[0]], axis=0)
        else:
            outs = run(sequences, first, K)
            below = outs[0]
        finals.extend(padded(cfg, _last(o, last, batch), layer) for o in outs)
    return below, finals


def unrolled_layers(
    cfg, params, x, mask, batch, T: int, cut: int, drop=None, init=None
):
    """(top-layer hidden states, one (H,) or (B, H) per position, undropped, every
    state after the last step): a Python loop. ``drop`` and ``init`` as in
    ``scan_layers``."""
    batched = batch is not None
    below, finals = None, []
    emb = embed_drop(cfg, drop)
    for layer in range(cfg.layers):
        rec = _recurrent(cfg, params, layer)
        states, outs = tuple(_init(cfg, batch, init, layer)), []
        for i in range(T):
            if 0 < cut == i:
                states = tuple(disconnected_grad(v) for v in states)
            h_in = None
            if layer > 0:
                h_in = (
                    below[i]
                    if drop is None
                    else below[i] * layer_drop(cfg, drop, layer - 1)[i]
                )
            xp_t, b = _projection(
                cfg,
                params,
                layer,
                x[i] if layer == 0 else None,
                h_in,
                None if emb is None else emb[i],
            )
            states = _call(cfg, xp_t, b, states, rec, batched, layer)
            if mask is not None:
                states = tuple(mask[i] * v for v in states)
            outs.append(disconnected_grad(states[0]) if i < cut else states[0])
        below = outs
        finals.extend(padded(cfg, v, layer) for v in states)
    return below, finals


def step_layers(cfg, params, x_t, state, batched=False):
    """One sampling step: x_t () int, state (layers * states, H) -> (new state, h_top);
    ``batched``: x_t (B,), state (layers * states, B, H), B sequences at once."""
    n = CELLS[cfg.cell].states
    new, inp = [], None
    for layer in range(cfg.layers):
        xp_t, b = _projection(cfg, params, layer, x_t, inp)
        H = cfg.widths[layer]
        states = tuple(state[layer * n + k][..., :H] for k in range(n))
        rec = _recurrent(cfg, params, layer)
        out = _call(cfg, xp_t, b, states, rec, batched, layer)
        new.extend(padded(cfg, v, layer) for v in out)
        inp = out[0]
    return pt.stack(new), inp
