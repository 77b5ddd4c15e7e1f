"""What the model says about the next token outside training: the sampling step
(one id, or B at once, with the state carried by the caller) and every id's
log-probability from top-layer states (per-token surprisal, entropy, rank)."""

from __future__ import annotations

import pytensor.tensor as pt

from pytrnn.config import RNNConfig
from pytrnn.graphs import adaptive, mixed
from pytrnn.graphs.cells import CELLS
from pytrnn.graphs.layers import step_layers
from pytrnn.graphs.params import output_weight


def build_step(cfg: RNNConfig, params: dict, batched: bool = False):
    """One sampling step with the state carried by the caller: every layer's h (and
    the LSTM's c) stacked, (S, H). Returns (x_t, state) inputs and (new state,
    logits) outputs: x_t () int32, logits (D,); ``batched``: B sequences at once,
    x_t (B,), state (S, B, H), logits (B, D)."""
    x_t = pt.tensor("x_t", shape=(None,) if batched else (), dtype="int32")
    S = cfg.layers * CELLS[cfg.cell].states
    rows = (None,) if batched else ()
    state = pt.tensor("state", shape=(S, *rows, cfg.state_width), dtype=cfg.dtype)
    new, h_top = step_layers(cfg, params, x_t, state, batched)
    if cfg.softmax == "adaptive":  # log-probabilities serve as logits
        return [x_t, state], [new, adaptive.log_prob(cfg, params, h_top)]
    z = mixed.dot(h_top, output_weight(params), cfg.precision)
    return [x_t, state], [new, z + params["by"]]


def build_rows(cfg: RNNConfig, params: dict):
    """Every id's log-probability from top-layer states: h (N, H) -> (N, V), the
    distribution the loss scores (per-token surprisal, entropy and rank)."""
    h = pt.matrix("h", dtype=cfg.dtype)
    if cfg.softmax == "adaptive":
        return [h], adaptive.log_prob(cfg, params, h)
    z = mixed.dot(h, output_weight(params), cfg.precision) + params["by"]
    z = z - z.max(axis=-1, keepdims=True)
    return [h], z - pt.log(pt.exp(z).sum(axis=-1, keepdims=True))
