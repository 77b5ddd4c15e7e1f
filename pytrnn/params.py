"""Parameter initialisation, as the notebook: randn / sqrt(fan_in), zero biases."""

from __future__ import annotations

import numpy as np

from .config import RNNConfig
from .errors import ConfigError

PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")


def param_shapes(cfg: RNNConfig) -> dict[str, tuple[int, ...]]:
    D, H = cfg.vocab_size, cfg.hidden
    return {"Wxh": (D, H), "Whh": (H, H), "bh": (H,), "Why": (H, D), "by": (D,)}


def init_params(cfg: RNNConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw Wxh, Whh, Why (in the notebook's order) from an explicit generator."""
    D, H = cfg.vocab_size, cfg.hidden
    dt = np.dtype(cfg.dtype)
    Wxh = rng.standard_normal((D, H)) / np.sqrt(D)
    Whh = rng.standard_normal((H, H)) / np.sqrt(H)
    Why = rng.standard_normal((H, D)) / np.sqrt(H)
    return {
        "Wxh": Wxh.astype(dt),
        "Whh": Whh.astype(dt),
        "bh": np.zeros(H, dtype=dt),
        "Why": Why.astype(dt),
        "by": np.zeros(D, dtype=dt),
    }


def check_params(cfg: RNNConfig, params: dict) -> dict[str, np.ndarray]:
    """Return float copies of ``params`` in cfg.dtype, after checking names and shapes."""
    shapes = param_shapes(cfg)
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ConfigError(f"parameters missing: {', '.join(missing)}")
    out = {}
    for name, shape in shapes.items():
        value = np.array(params[name], dtype=cfg.dtype, copy=True)
        if value.shape != shape:
            raise ConfigError(f"parameter {name} has shape {value.shape}, expected {shape}")
        out[name] = value
    return out
