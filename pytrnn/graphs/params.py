"""Parameters: names, shapes and initialisation, as the notebook for its tanh cell.

Layout (the contract checkpoints, ``get_params`` and ``set_params`` keep): layer 0 has
``Wxh`` (D, kH), ``Whh`` (H, kH) (the tanh cell: (H, H)), ``bh`` (kH,) and, for the GRU,
``bhh`` (kH,) (and the tanh cell's and the LSTM's with ``two_biases``: torch's
``bias_hh``); layer l >= 1 the same names with the suffix ``_l`` and ``Wxh_l``
(H, kH); then ``Why`` (H, D) and ``by`` (D,). k is the cell's gate count (1, 3, 4).
Each layer is ``cfg.widths`` wide: H, except that with ``tied`` and several layers
the top one is E (AWD-LSTM's rule), so layer l's Wxh_l is (H_{l-1}, kH_l).
With this contract a checkpoint's arrays map one-to-one onto PyTorch's
``nn.RNN/GRU/LSTM`` (transposed: ``weight_ih_l{k}`` is ``Wxh_k.T``; the tanh cell's
``Whh`` is ``weight_hh_l{k}`` as it is, the notebook's ``Whh.dot(h)``, the gated
cells' ``Whh_k.T``: pytrnn.tools.interchange).

With ``softmax`` "adaptive" the output layer is the adaptive softmax's head and
clusters instead of ``Why``, ``by`` (pytrnn.graphs.adaptive names them).

With an embedding (``emsize`` E) ``Wemb`` (D, E) comes first (``nn.Embedding.weight``)
and layer 0's ``Wxh`` is (E, kH); ``tied`` drops ``Why``: the output layer reads
``Wemb.T`` (Press & Wolf), so E = H.

Initialisation ``notebook`` (the default): randn / sqrt(fan_in) for every weight
matrix, drawn in parameter order with Why last, zero biases. For the one-layer tanh
cell this is In[113]'s draw exactly. ``wlm``: word_language_model's init_weights,
Wemb and Why uniform(-0.1, 0.1), by zero, and torch's own default for the recurrent
layers, uniform(-1/sqrt(H), 1/sqrt(H)) for every weight and bias; where a model keeps
torch's two biases as one (``bh`` of the tanh cell and the LSTM without
``two_biases``: b_ih + b_hh), the one is the sum of two such draws, as torch's sum is.
"""

from __future__ import annotations

import numpy as np

from pytrnn.config import RNNConfig
from pytrnn.errors import ConfigError
from pytrnn.graphs import adaptive
from pytrnn.graphs.cells import CELLS

PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")  # the notebook's cell, one layer


def suffix(layer: int) -> str:
    return "" if layer == 0 else f"_{layer}"


def has_bhh(cfg: RNNConfig) -> bool:
    """A second bias per layer, torch's ``bias_hh``: the GRU's always (it sits
    inside the reset gate), the tanh cell's and the LSTM's with ``two_biases``."""
    return cfg.cell == "gru" or bool(cfg.two_biases)


def input_bias(cfg: RNNConfig, params: dict, layer: int):
    """The bias added to a layer's input projection: ``bh``, or with two biases
    outside the GRU torch's sum ``bh + bhh`` (so each gets the sum's gradient)."""
    s = suffix(layer)
    if cfg.cell != "gru" and cfg.two_biases:
        return params["bh" + s] + params["bhh" + s]
    return params["bh" + s]


def layer_names(cfg: RNNConfig, layer: int) -> tuple[str, ...]:
    s = suffix(layer)
    names = ("Wxh", "Whh", "bh") + (("bhh",) if has_bhh(cfg) else ())
    return tuple(n + s for n in names)


def param_names(cfg: RNNConfig) -> tuple[str, ...]:
    """Every parameter's name, in the order updates and digests use."""
    names = tuple(n for layer in range(cfg.layers) for n in layer_names(cfg, layer))
    emb = ("Wemb",) if cfg.emsize else ()
    if cfg.softmax == "adaptive":
        return emb + names + tuple(adaptive.shapes(cfg))
    return emb + names + (("by",) if cfg.tied else ("Why", "by"))


def weight_names(cfg: RNNConfig) -> tuple[str, ...]:
    """The matrices the L2 term covers: every Wxh*, Whh* and Why, and Wemb (once,
    tied or not)."""
    return tuple(
        n
        for n in param_names(cfg)
        if n.startswith(("Wemb", "Wxh", "Whh", "Why", "head_W", "tail"))
    )


def output_weight(params: dict):
    """The output layer's (H, D) matrix: Why, or the tied embedding's transpose."""
    return params["Why"] if "Why" in params else params["Wemb"].T


def param_shapes(cfg: RNNConfig) -> dict[str, tuple[int, ...]]:
    D, widths = cfg.vocab_size, cfg.widths
    shapes = {"Wemb": (D, cfg.emsize)} if cfg.emsize else {}
    for layer, H in enumerate(widths):
        s, kH = suffix(layer), CELLS[cfg.cell].gates * H
        shapes["Wxh" + s] = ((cfg.emsize or D) if layer == 0 else widths[layer - 1], kH)
        shapes["Whh" + s] = (H, kH)
        shapes["bh" + s] = (kH,)
        if has_bhh(cfg):
            shapes["bhh" + s] = (kH,)
    if cfg.softmax == "adaptive":
        return {**shapes, **adaptive.shapes(cfg)}
    if not cfg.tied:
        shapes["Why"] = (widths[-1], D)
    shapes["by"] = (D,)
    return shapes


def param_count(cfg: RNNConfig) -> int:
    """How many numbers ``param_shapes`` holds, by arithmetic alone (no array, no
    loop over the layers), so that a model too large to make is refused first."""
    k, gru = CELLS[cfg.cell].gates, int(has_bhh(cfg))
    D, H, L = cfg.vocab_size, cfg.hidden, cfg.layers
    top = cfg.top_width

    def layer(n_in, h):  # Wxh, Whh, bh (and bhh)
        return k * h * (n_in + h + 1 + gru)

    n_in = cfg.emsize or D
    total = D * (cfg.emsize or 0)
    if L == 1:
        total += layer(n_in, top)
    else:
        total += layer(n_in, H) + (L - 2) * layer(H, H) + layer(H, top)
    if cfg.softmax == "adaptive":
        return total + sum(int(np.prod(s)) for s in adaptive.shapes(cfg).values())
    return total + (0 if cfg.tied else top * D) + D


def init_params(cfg: RNNConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw the weight matrices (in parameter order, Why last) from an explicit
    generator, by ``cfg.init``'s rule."""
    dt = np.dtype(cfg.dtype)
    shapes = param_shapes(cfg)
    if cfg.init == "wlm":
        return {k: v.astype(dt) for k, v in _wlm_init(cfg, shapes, rng).items()}
    out = {}
    for name, shape in shapes.items():
        if name.startswith(("Wemb", "Wxh", "Whh")):
            out[name] = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dt)
    if "Why" in shapes:
        out["Why"] = (
            rng.standard_normal(shapes["Why"]) / np.sqrt(cfg.widths[-1])
        ).astype(dt)
    for name, shape in shapes.items():  # the adaptive softmax's matrices
        if name.startswith(("head_W", "tail")):
            out[name] = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dt)
    for name, shape in shapes.items():
        if name not in out:
            out[name] = np.zeros(shape, dtype=dt)
    return {k: out[k] for k in param_names(cfg)}


def _wlm_init(cfg, shapes, rng) -> dict:
    """word_language_model's init_weights over torch's defaults (see the module)."""
    # torch's b_ih + b_hh kept as one bh: the sum of two draws
    summed = cfg.cell in ("rnn", "lstm") and not cfg.two_biases
    out = {}
    for name in param_names(cfg):
        shape = shapes[name]
        tail = name.rsplit("_", 1)[-1]
        layer = int(tail) if tail.isdigit() else 0
        k = 1.0 / np.sqrt(cfg.widths[layer])  # each layer's own hidden_size
        if name in ("Wemb", "Why"):
            out[name] = rng.uniform(-0.1, 0.1, shape)
        elif name.startswith(("head_", "tail")):  # torch's nn.Linear default
            fan_in = shape[0] if name != "head_b" else shapes["head_W"][0]
            out[name] = rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
        elif name == "by":
            out[name] = np.zeros(shape)
        elif name.startswith("bh") and not name.startswith("bhh") and summed:
            out[name] = rng.uniform(-k, k, shape) + rng.uniform(-k, k, shape)
        else:
            out[name] = rng.uniform(-k, k, shape)
    return out


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
            raise ConfigError(
                f"parameter {name} has shape {value.shape}, expected {shape}"
            )
        out[name] = value
    return {k: out[k] for k in param_names(cfg)}
