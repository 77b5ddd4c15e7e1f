"""Parameters: names, shapes and initialisation, as the notebook for its tanh cell.

Layout (the contract checkpoints, ``get_params`` and ``set_params`` keep): layer 0 has
``Wxh`` (D, kH), ``Whh`` (H, kH) (the tanh cell: (H, H)), ``bh`` (kH,) and, for the GRU,
``bhh`` (kH,); layer l >= 1 the same names with the suffix ``_l`` and ``Wxh_l``
(H, kH); then ``Why`` (H, D) and ``by`` (D,). k is the cell's gate count (1, 3, 4).
With this contract a checkpoint's arrays map one-to-one onto PyTorch's
``nn.RNN/GRU/LSTM`` (transposed: ``weight_ih_l{k}`` is ``Wxh_k.T``).

Initialisation is the notebook's: randn / sqrt(fan_in) for every weight matrix, drawn
in layer order (Wxh, Whh of each layer, then Why), zero biases. For the one-layer tanh
cell this is In[113]'s draw exactly.
"""

from __future__ import annotations

import numpy as np

from pytrnn.graphs.cells import CELLS
from pytrnn.config import RNNConfig
from pytrnn.errors import ConfigError

PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")  # the notebook's cell, one layer


def suffix(layer: int) -> str:
    return "" if layer == 0 else f"_{layer}"


def layer_names(cfg: RNNConfig, layer: int) -> tuple[str, ...]:
    s = suffix(layer)
    names = ("Wxh", "Whh", "bh") + (("bhh",) if cfg.cell == "gru" else ())
    return tuple(n + s for n in names)


def param_names(cfg: RNNConfig) -> tuple[str, ...]:
    """Every parameter's name, in the order updates and digests use."""
    names = tuple(n for layer in range(cfg.layers) for n in layer_names(cfg, layer))
    return names + ("Why", "by")


def weight_names(cfg: RNNConfig) -> tuple[str, ...]:
    """The matrices the L2 term covers: every Wxh*, Whh* and Why."""
    return tuple(n for n in param_names(cfg) if n.startswith(("Wxh", "Whh", "Why")))


def param_shapes(cfg: RNNConfig) -> dict[str, tuple[int, ...]]:
    D, H = cfg.vocab_size, cfg.hidden
    kH = CELLS[cfg.cell].gates * H
    shapes = {}
    for layer in range(cfg.layers):
        s = suffix(layer)
        shapes["Wxh" + s] = (D if layer == 0 else H, kH)
        shapes["Whh" + s] = (H, kH)
        shapes["bh" + s] = (kH,)
        if cfg.cell == "gru":
            shapes["bhh" + s] = (kH,)
    shapes["Why"], shapes["by"] = (H, D), (D,)
    return shapes


def init_params(cfg: RNNConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw the weight matrices (in layer order, Why last) from an explicit generator."""
    dt = np.dtype(cfg.dtype)
    out = {}
    for name, shape in param_shapes(cfg).items():
        if name.startswith(("Wxh", "Whh")):
            out[name] = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dt)
    shapes = param_shapes(cfg)
    out["Why"] = (rng.standard_normal(shapes["Why"]) / np.sqrt(cfg.hidden)).astype(dt)
    for name, shape in shapes.items():
        if name not in out:
            out[name] = np.zeros(shape, dtype=dt)
    return {k: out[k] for k in param_names(cfg)}


def check_params(cfg: RNNConfig, params: dict) -> dict[str, np.ndarray]:
    """Return float copies of ``params`` in cfg.dtype, after checking names and shapes."""
    shapes = param_shapes(cfg)
    missing = [k for k in shapes if k not in params]
    if missing:
        raise ConfigError(f"parameters missing: {', '.join(missing)}")
    out = {}
    for name, shape in shapes.items():
        value = np.array(params[name], dtype=cfg.dtype, copy=True)
        if value.shape != shape:
            raise ConfigError(f"parameter {name} has shape {value.shape}, expected {shape}")
        out[name] = value
    return {k: out[k] for k in param_names(cfg)}
