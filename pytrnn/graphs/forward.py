"""Pure graph builders: the RNN as the notebook's unrolled loop and as a scan, for
any cell and any number of layers (pytrnn.graphs.layers); the notebook's one tanh
layer is the smallest case.

Shapes: D = vocab size, H = hidden, T = sequence length. ``params`` is a dict of
PyTensor variables (shared in practice) keyed Wxh (D,H), Whh (H,H), bh (H,),
Why (H,D), by (D,) for the notebook's cell (pytrnn.graphs.params for the others).
Nothing here knows about training loops or backends.

Masks (word level): a masked graph takes ``mask`` (T,) of 0/1 and expects sequences
padded on the *left*. ``h_t = mask_t * tanh(...)`` keeps the hidden state at zero
through the padding, so the first real step starts from h = 0 exactly as an
unpadded sequence does, and masked positions add nothing to the loss. Left padding
also keeps "the last K steps" of truncated BPTT the last K real steps.

Truncated BPTT (``bptt_truncate = K > 0``) has scan's ``truncate_gradient``
semantics: the recurrent weights (Wxh, Whh, bh) get gradient only from the losses
at the last K positions, flowing back through those K steps and stopping at the
hidden state before them; the output layer (Why, by) still sees every position.
The unrolled builder reproduces exactly that with ``disconnected_grad``.

Carried state (``h0``, char-rnn's and word_language_model's ``--carry-state``): a
window starts from the states the same stream ended the previous window with,
(S, B, H) with S = layers x states per cell and B = 1 unbatched, instead of zero.
It is an input, so the gradient stops at the window's edge; the graph also returns
the states after its last step (``state_last``) for the next window; a window
right-padded under its mask (``--variable-bptt``) returns each stream's states after
its last real step.

AWD-LSTM's regularizers (docs/awd-lstm.md): the step's ``noise`` (drawn on the
host, as the dropout masks) holds ``edrop`` (V,), embedding dropout's row mask, and
``wdrop``, ``wdrop_1``, ... (H, kH), weight drop's mask on each layer's Whh; the
layers read the masked weights, the L2 term and the tied output layer the raw ones.
``--ar`` and ``--tar`` add their penalties to the loss (never to ``data_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.tensor.special import softmax

from pytrnn.config import RNNConfig
from pytrnn.graphs import adaptive, chunked, mixed
from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.layers import (
    layer_drop,
    scan_layers,
    unrolled_layers,
)
from pytrnn.graphs.params import output_weight, weight_names
from pytrnn.graphs.regularizers import (
    drop_input,
    noise_input,
    noisy_params,
    penalties,
)


@dataclass(frozen=True)
class RNNGraph:
    """Symbolic inputs and outputs of one sequence's forward pass."""

    inputs: list  # [x, y] or [x, y, mask]
    loss: pytensor.Variable  # data_loss + reg * sum of squares (the notebook's loss)
    data_loss: pytensor.Variable  # sum of -log probs_t[y_t] (mean over streams)
    probs_last: pytensor.Variable  # (D,) after the last step
    state_last: pytensor.Variable | None = None  # (S, B, H) with carried state
    errors: pytensor.Variable | None = None  # (T,) or (T, B): -log p[y], 0 where masked
    top: pytensor.Variable | None = None  # (T, [B,] H): top's undropped states
    held: tuple | None = None  # (loss, data_loss) computing no gradient, if other

    @property
    def held_out(self) -> tuple:  # (loss, data_loss) for programs that only score
        return self.held or (self.loss, self.data_loss)


def output(h, Why, by, precision="full"):
    """Next-token probabilities: h (H,) -> (D,), or (T, H) -> (T, D) row-wise."""
    return softmax(mixed.dot(h, Why, precision) + by, axis=-1)


def reg_loss(params, cfg: RNNConfig):
    """The notebook's L2 term: sum of squares of the weight matrices (its three for
    its cell; every Wxh*, Whh* and Why for the others)."""
    return sum((params[k] * params[k]).sum() for k in weight_names(cfg))


def last_steps(mask):
    """Each stream's last real position under a right-padding mask (T, [B]), for
    the carried state; None without a mask (the last step)."""
    if mask is None:
        return None
    return pt.cast(mask.sum(axis=0), "int32") - 1


def state_shape(cfg: RNNConfig, batch: int | None = None) -> tuple:
    """The carried state: every layer's h (and the LSTM's c) for B streams,
    (S, B, H), B = 1 for an unbatched graph."""
    return (cfg.layers * CELLS[cfg.cell].states, batch or 1, cfg.state_width)


def carry_input(cfg, batch, h0):
    """The carried state's variable: ``h0`` True makes one, a variable is used as
    given, None means every window starts from zero (the notebook's)."""
    if h0 is True:
        return pt.tensor("h0", shape=state_shape(cfg, batch), dtype=cfg.dtype)
    return h0


def _starts(cfg, h0, batch):
    """Each state's first value, (H,) or (B, H), from the carried (S, B, H)."""
    if h0 is None:
        return None
    S = state_shape(cfg)[0]
    return [h0[k] if batch is not None else h0[k, 0] for k in range(S)]


def _stack_finals(finals, batch):
    """The states after the last step as the carried (S, B, H)."""
    out = pt.stack(finals)
    return out if batch is not None else out[:, None, :]


def seq_inputs(cfg: RNNConfig, length: int | None, masked: bool, batch: int | None):
    shape = (length,) if batch is None else (length, batch)
    x = pt.tensor("x", shape=shape, dtype="int32")  # seq of char/word ids
    y = pt.tensor("y", shape=shape, dtype="int32")  # seq of next ids
    mask = pt.tensor("mask", shape=shape, dtype=cfg.dtype) if masked else None
    return x, y, mask


def _state_mask(mask, batch):
    """The mask as it multiplies hidden states: (T,), or (T, B, 1) for batches."""
    return mask if mask is None or batch is None else mask[:, :, None]


def _finish(
    cfg,
    params,
    x,
    y,
    mask,
    errors,
    probs_last,
    batch,
    drop=None,
    h0=None,
    finals=None,
    noise=None,
    penalty=None,
    top=None,
    extra=None,
    fused=False,
) -> RNNGraph:
    """``extra``: the adaptive softmax's clusters' part of the summed loss, or the
    chunked layer's whole sum (with its gradient; ``held``: the errors' alone)."""
    if mask is not None:
        errors = errors * mask
    held = None
    if fused:
        total, extra = extra, None
        held = _objectives(cfg, params, errors.sum(), errors, mask, batch, penalty)
    else:
        total = errors.sum() if extra is None else errors.sum() + extra
    loss, data_loss = _objectives(cfg, params, total, errors, mask, batch, penalty)
    inputs = [x, y] if mask is None else [x, y, mask]
    if drop is not None and drop.owner is None:
        inputs.append(drop)
    inputs += [v for v in (noise or {}).values() if v.owner is None]
    state_last = None
    if h0 is not None:
        state_last = _stack_finals(finals, batch)
        if h0.owner is None and not isinstance(h0, SharedVariable):
            inputs.append(h0)
    return RNNGraph(inputs, loss, data_loss, probs_last, state_last, errors, top, held)


def _objectives(cfg, params, total, errors, mask, batch, penalty):
    """(loss, data_loss) from the summed errors ``total``."""
    data_loss = total
    if batch is not None:  # mean over streams of the window sums: lr keeps its meaning
        data_loss = data_loss / np.asarray(batch, dtype=cfg.dtype)
    objective = data_loss
    if cfg.loss_scale == "token":  # wlm's CrossEntropyLoss: the mean over the tokens
        objective = total / (
            mask.sum() if mask is not None else pt.cast(errors.size, cfg.dtype)
        )
    loss = objective + np.asarray(cfg.reg, dtype=cfg.dtype) * reg_loss(params, cfg)
    if penalty is not None:
        loss = loss + penalty
    return loss, data_loss


def _cut(cfg: RNNConfig, length: int | None):
    """First position whose loss feeds the recurrent gradient (0 = all of them)."""
    K = cfg.bptt_truncate
    if K < 0:
        return 0
    return max(length - K, 0)


def adaptive_output(cfg, params, hs, y, mask, batch, capacity):
    """The adaptive softmax's (errors (T, [B]), the clusters' summed part of the
    data loss or None, probabilities after the last step): training (``capacity``
    given) computes each cluster on the rows whose target lies in it, evaluation
    reads the full distribution (pytrnn.graphs.adaptive)."""
    T = y.type.shape[0] if y.type.shape[0] is not None else y.shape[0]

    def pick(lp, idx):
        return _at_targets(lp, idx, T, batch)

    if capacity is None:
        errors, extra = -pick(adaptive.log_prob(cfg, params, hs), y), None
    else:
        m = mask if mask is not None else pt.ones_like(y, dtype=cfg.dtype)
        head, clusters = adaptive.head_and_clusters(
            cfg, params, hs, y, m, pick, capacity
        )
        errors, extra = -head, -clusters
    return errors, extra, pt.exp(adaptive.log_prob(cfg, params, hs[-1]))


def _at_targets(probs, y, T, batch):
    """probs[t, (b,) y[t, (b)]] at every position: (T,) or (T, B)."""
    if batch is None:
        return probs[pt.arange(T), y]
    return probs[pt.arange(T)[:, None], pt.arange(batch)[None, :], y]


def _pick(probs, y, batch):
    """probs[..., y]: (D,) with y () or (B, D) with y (B,)."""
    if batch is None:
        return probs[y]
    return probs[pt.arange(batch), y]


def build_unrolled(
    cfg: RNNConfig,
    params: dict,
    length: int | None = None,
    masked: bool = False,
    batch: int | None = None,
    xy=None,
    drop=None,
    h0=None,
    traced_length: bool = False,
    noise=None,
    capacity=None,
) -> RNNGraph:
    """The notebook's explicit Python loop over a fixed window (``length`` or cfg.window).

    ``batch`` B: x, y are (T, B) and the data loss is the mean over the B streams.
    ``xy``: existing (x, y) or (x, y, mask) variables to build on (fused windows).
    ``h0``: the carried state (True: a new input) or None; ``traced_length``: unused.
    """
    T = length or cfg.window
    x, y, mask = seq_inputs(cfg, T, masked, batch)
    if xy is not None:  # (x, y) or, for padded sentences, (x, y, mask)
        x, y, mask = xy[0], xy[1], (xy[2] if len(xy) > 2 else mask)
    cut = _cut(cfg, T)
    hmask = _state_mask(mask, batch)
    h0 = carry_input(cfg, batch, h0)
    drop = drop_input(cfg, T, batch, drop)
    noise = noise_input(cfg, noise)
    top, finals = unrolled_layers(
        cfg,
        noisy_params(params, noise),
        x,
        hmask,
        batch,
        T,
        cut,
        drop,
        _starts(cfg, h0, batch),
    )
    hs = (
        top
        if drop is None
        else [h * layer_drop(cfg, drop, cfg.layers - 1)[i] for i, h in enumerate(top)]
    )
    extra, chunk = None, chunked.output_rows(cfg, T * (batch or 1))
    if cfg.softmax == "adaptive":
        errors, extra, probs = adaptive_output(
            cfg, params, pt.stack(hs), y, mask, batch, capacity
        )
    elif chunk:
        Why, by = output_weight(params), params["by"]
        errors, extra = chunked.output_layer(cfg, Why, by, pt.stack(hs), y, mask, chunk)
        probs = output(hs[-1], Why, by, cfg.precision)
    else:
        errors, probs = [], None
        Why = output_weight(params)
        for i in range(T):
            probs = output(hs[i], Why, params["by"], cfg.precision)  # (D,)|(B, D)
            errors.append(-pt.log(_pick(probs, y[i], batch)))
        errors = pt.stack(errors)
    tops = pt.stack(top)
    return _finish(
        cfg,
        params,
        x,
        y,
        mask,
        errors,
        probs,
        batch,
        drop,
        h0,
        finals,
        noise,
        penalties(cfg, tops, pt.stack(hs), mask),
        tops,
        extra,
        fused=bool(chunk),
    )


def build_scan(
    cfg: RNNConfig,
    params: dict,
    length: int | None = None,
    masked: bool = False,
    batch: int | None = None,
    xy=None,
    autodiff: bool = False,
    drop=None,
    h0=None,
    traced_length: bool = False,
    noise=None,
    capacity=None,
) -> RNNGraph:
    """The same RNN as a ``scan`` over a sequence of any length (static if ``length``).

    With a static length the recurrence carries its BPTT as its gradient
    (pytrnn.graphs.tanh_bptt), which trains faster; ``autodiff=True`` builds the plain scan
    and lets ``pytensor.grad`` derive the same gradient through it (the tests hold one
    to the other). Free-length graphs (C and Numba) keep the plain scan: PyTensor 3.0's
    ``AdvancedIncSubtensor1`` takes a runtime length of 1 for broadcasting and refuses
    it, which the scatter-add of a projection outside the loop would hit.
    ``traced_length``: a free-length graph that JAX traces once per length it meets
    (patches.patch_jax_free_lengths), built as a static one.
    """
    x, y, mask = seq_inputs(cfg, length, masked, batch)
    if xy is not None:  # (x, y) or, for padded sentences, (x, y, mask)
        x, y, mask = xy[0], xy[1], (xy[2] if len(xy) > 2 else mask)
    drop = drop_input(cfg, length, batch, drop)
    h0 = carry_input(cfg, batch, h0)
    static = traced_length or x.type.shape[0] is not None
    noise = noise_input(cfg, noise)
    top, finals = scan_layers(
        cfg,
        noisy_params(params, noise),
        x,
        _state_mask(mask, batch),
        batch,
        drop,
        _starts(cfg, h0, batch),
        autodiff,
        static,
        last_steps(mask) if h0 is not None else None,
    )
    hs = top if drop is None else top * layer_drop(cfg, drop, cfg.layers - 1)
    extra, chunk = None, chunked.output_rows(cfg, (length or cfg.window) * (batch or 1))
    if cfg.softmax == "adaptive":
        errors, extra, last = adaptive_output(cfg, params, hs, y, mask, batch, capacity)
    elif chunk:
        Why, by = output_weight(params), params["by"]
        errors, extra = chunked.output_layer(cfg, Why, by, hs, y, mask, chunk)
        last = output(hs[-1], Why, by, cfg.precision)
    else:
        probs = output(hs, output_weight(params), params["by"], cfg.precision)
        T = x.shape[0] if length is None else length
        errors = -pt.log(_at_targets(probs, y, T, batch))  # (T,) or (T, B)
        last = probs[-1]
    return _finish(
        cfg,
        params,
        x,
        y,
        mask,
        errors,
        last,
        batch,
        drop,
        h0,
        finals,
        noise,
        penalties(cfg, top, hs, mask),
        top,
        extra,
        fused=bool(chunk),
    )


BUILDERS = {"unroll": build_unrolled, "scan": build_scan}
