"""Dropout and AWD-LSTM's regularizers as graph inputs and terms: the dropout masks'
shape and variable, the step's other noise (embedding dropout's row mask, weight drop's
mask on each Whh, drawn on the host by pytrnn.runtime.noise), the weights the layers
read under it, and the AR / TAR penalties (docs/awd-lstm.md).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from pytrnn.config import RNNConfig
from pytrnn.graphs.layers import mask_width
from pytrnn.graphs.params import param_shapes, suffix


def drop_shape(cfg: RNNConfig, length: int | None, batch: int | None) -> tuple:
    """Dropout masks of one sequence: one (T, [B,] H) per layer's output; with an
    embedding, first one for its output too, all max(E, H) wide (each mask cut to
    its width: pytrnn.graphs.layers.layer_drop)."""
    rows = () if batch is None else (batch,)
    return (cfg.layers + bool(cfg.emsize), length) + rows + (mask_width(cfg),)


def drop_input(cfg, length, batch, drop):
    """The dropout masks' variable: ``drop`` True makes one, a variable is used as
    given, None (evaluation, sampling) means no dropout."""
    if drop is True:
        return pt.tensor("drop", shape=drop_shape(cfg, length, batch), dtype=cfg.dtype)
    return drop


def noise_shapes(cfg: RNNConfig) -> dict[str, tuple]:
    """The step's masks besides dropout's, in input order: embedding dropout's
    ``edrop`` (V,) and weight drop's ``wdrop{_l}`` shaped like each Whh."""
    shapes = param_shapes(cfg)
    out = {"edrop": (cfg.vocab_size,)} if cfg.dropoute > 0 else {}
    if cfg.wdrop > 0:
        out.update(
            {"wdrop" + suffix(l): shapes["Whh" + suffix(l)] for l in range(cfg.layers)}
        )
    return out


def noise_input(cfg, noise):
    """The noise variables: ``noise`` True makes them (an empty dict when the model
    has none), a dict is used as given, None means none (evaluation)."""
    if noise is True:
        return {
            k: pt.tensor(k, shape=s, dtype=cfg.dtype)
            for k, s in noise_shapes(cfg).items()
        }
    return noise or None


def noisy_params(params: dict, noise) -> dict:
    """What the layers read: every Whh times its weight-drop mask, and embedding
    dropout's row mask beside Wemb (pytrnn.graphs.layers reads it)."""
    if not noise:
        return params
    out = dict(params)
    for k, m in noise.items():
        if k == "edrop":
            out["edrop"] = m
        else:
            out["Whh" + k[len("wdrop") :]] = params["Whh" + k[len("wdrop") :]] * m
    return out


def penalties(cfg: RNNConfig, top, dropped, mask):
    """AWD's AR, ``ar * mean(dropped^2)``, and TAR, ``tar * mean((h_t - h_{t-1})^2)``
    of the top layer's undropped states, over the real positions (and, for TAR,
    pairs of them); None when both are off."""
    terms = []
    Ht = cfg.widths[-1]
    H = np.asarray(Ht, dtype=cfg.dtype)
    if cfg.ar > 0:
        count = (
            mask.sum() if mask is not None else pt.cast(dropped.size // Ht, cfg.dtype)
        )
        terms.append(
            np.asarray(cfg.ar, cfg.dtype) * (dropped * dropped).sum() / (count * H)
        )
    if cfg.tar > 0:
        d = top[1:] - top[:-1]
        d2 = d * d
        if mask is not None:
            pairs = mask[1:] * mask[:-1]  # (T - 1,) or (T - 1, B)
            d2 = d2 * pairs[..., None]
            count = pt.maximum(pairs.sum(), np.asarray(1, cfg.dtype))
        else:
            count = pt.cast(pt.maximum(d.size // Ht, 1), cfg.dtype)
        terms.append(np.asarray(cfg.tar, cfg.dtype) * d2.sum() / (count * H))
    return sum(terms) if terms else None
