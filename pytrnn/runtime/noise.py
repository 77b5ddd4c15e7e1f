"""A training step's random masks, drawn on the host from an explicit generator (so
a resumed run, and a numpy reference, sees the same ones): dropout's at each place
and rate, locked or per step, embedding dropout's rows and weight drop's
DropConnect masks (pytrnn.graphs.forward.noise_shapes). All inverted: 0 or
1 / (1 - p)."""

from __future__ import annotations

import numpy as np

from pytrnn.errors import ConfigError
from pytrnn.graphs.regularizers import drop_shape, noise_shapes


def draw(cfg, rng, length: int, batch: int | None = None, windows: int | None = None):
    """The masks of one sequence (or ``windows`` of them). Dropout's alone: an
    array (layers [+ 1], T, [B,] H), each place at its rate (``place_rates``), with
    ``locked_dropout`` one draw per stream shared by the T steps (AWD's
    LockedDropout). With embedding dropout or weight drop: a dict of "drop" and
    noise_shapes' masks (one per step), drawn in that order."""
    lead = () if windows is None else (windows,)
    out = {}
    if cfg.drops:
        shape = lead + drop_shape(cfg, length, batch)
        t = len(lead) + 1  # the time axis
        shown = shape[:t] + (1,) + shape[t + 1 :] if cfg.locked_dropout else shape
        i, h, o = cfg.place_rates
        rates = ([i] if cfg.emsize else []) + [h] * (cfg.layers - 1) + [o]
        if len(set(rates)) == 1:  # one rate: drawn as it always was
            p = rates[0]
        else:
            p = np.asarray(rates).reshape((-1,) + (1,) * (len(shape) - t))
        masks = ((rng.random(shown) >= p) / (1.0 - p)).astype(cfg.dtype)
        # locked: a read-only view over the T steps, so a chunk's masks take 1/T of
        # the memory (a fused step takes them unbroadcast: locked_time)
        out["drop"] = np.broadcast_to(masks, shape)
    for k, s in noise_shapes(cfg).items():
        p = cfg.dropoute if k == "edrop" else cfg.wdrop
        out[k] = ((rng.random(lead + s) >= p) / (1.0 - p)).astype(cfg.dtype)
    return out["drop"] if list(out) == ["drop"] else out


def noise_of(drop, windows: slice):
    """Those windows' masks of a chunk's draw (an array, or draw's dict)."""
    if isinstance(drop, dict):
        return {k: v[windows] for k, v in drop.items()}
    return drop[windows]


def locked_time(cfg, drops):
    """A fused chunk's dropout masks (K, layers, T, [B,] H) as its step takes them:
    with locked dropout one step of each (T = 1), since every step repeats it."""
    return drops[:, :, :1] if cfg.locked_dropout else drops


def as_args(cfg, drop, redraw) -> list:
    """The masks as the compiled step takes them, in its order: ``drop`` is an
    array of dropout masks or draw's dict; None: ``redraw()``'s."""
    if not cfg.noisy:
        return []
    if drop is None:
        drop = redraw()
    if not isinstance(drop, dict):
        drop = {"drop": drop}
    names = (["drop"] if cfg.drops else []) + list(noise_shapes(cfg))
    missing = [k for k in names if k not in drop]
    if missing:
        raise ConfigError(f"the step's masks are missing {', '.join(missing)}")
    return [np.asarray(drop[k], cfg.dtype) for k in names]
