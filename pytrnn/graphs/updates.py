"""Training steps as graphs: the optimizer's update pairs, one window's step as a
pure function of its inputs (for a backend's own loop, pytrnn.runtime.fused), and many
windows in one graph (an outer scan carrying the parameters, for C and Numba).

The forward graphs come from pytrnn.graphs.forward; the update rules from pytrnn.graphs.optim.
"""

from __future__ import annotations

from dataclasses import replace

import pytensor
import pytensor.tensor as pt

from pytrnn.config import RNNConfig
from pytrnn.graphs import optim
from pytrnn.graphs.forward import BUILDERS, carry_input, seq_inputs
from pytrnn.graphs.params import param_names, param_shapes
from pytrnn.graphs.regularizers import drop_input, drop_shape, noise_input, noise_shapes


def train_updates(
    params: dict, grads: list, state: dict, cfg: RNNConfig, lr=None
) -> list:
    """Update pairs of the parameters and the optimizer's state (pytrnn.graphs.optim);
    ``lr`` a variable with the current rate (None: cfg.lr)."""
    names = param_names(cfg)
    P, S = [params[k] for k in names], list(state.values())
    new_p, new_s = optim.apply(cfg, P, grads, S, lr=lr)
    return list(zip(P, new_p)) + list(zip(S, new_s))


def sgd_updates(params: dict, grads: list, cfg: RNNConfig) -> list:
    """Plain SGD on elementwise-clipped gradients, as update pairs: the notebook's
    rule, whatever optimizer ``cfg`` names (the rule itself lives in pytrnn.graphs.optim)."""
    P = [params[k] for k in param_names(cfg)]
    return list(zip(P, optim.apply(replace(cfg, optimizer="sgd"), P, grads, [])[0]))


def window_update(
    cfg: RNNConfig,
    mode: str,
    P: list,
    x,
    y,
    w,
    length: int | None,
    batch: int | None,
    S: list = (),
    lr=None,
    drop=None,
    h0=None,
    mask=None,
    traced_length: bool = False,
    noise=None,
    capacity=None,
):
    """One window's optimizer step on parameter variables ``P`` (in param_names order)
    and optimizer state ``S`` (pytrnn.graphs.optim.state_shapes order), from the carried
    state ``h0`` (S, B, H) or from zero (None); ``mask`` (T, B): padded sentences.

    ``w`` scales the step: 0 leaves everything as it was (a padding window), the
    carried state included. Returns (new parameters + new state [+ the carried
    state after the window], loss, data_loss). ``traced_length``: see graph.build_scan.
    ``noise``: the step's embedding-dropout and weight-drop masks (graph.noise_shapes).
    """
    g = BUILDERS[mode](
        cfg,
        dict(zip(param_names(cfg), P)),
        length=length,
        batch=batch,
        xy=(x, y) if mask is None else (x, y, mask),
        drop=drop,
        h0=h0,
        traced_length=traced_length,
        noise=noise,
        capacity=capacity,
    )
    grads = pytensor.grad(g.loss, list(P))
    new_p, new_s = optim.apply(cfg, list(P), grads, list(S), w=w, lr=lr)
    carried = [] if h0 is None else [pt.switch(pt.gt(w, 0), g.state_last, h0)]
    return new_p + new_s + carried, g.loss, g.data_loss


def build_window_step(
    cfg: RNNConfig,
    mode: str,
    length: int | None = None,
    batch: int | None = None,
    carry: bool = False,
    masked: bool = False,
    traced_length: bool = False,
    capacity=None,
):
    """One window's training step (any optimizer) as a pure graph: no shared
    variables, no updates.

    Inputs x, y (T,) or (T, B) int32 (with ``masked``, then the (T, B) mask of a
    group of left-padded sentences), w () and the parameters (then the optimizer's
    state, then with ``carry`` the carried state); outputs the new values of those,
    loss and data_loss. A backend can then loop it over windows itself
    (``pytrnn.runtime.fused`` runs it inside one ``jax.lax.scan`` per chunk of windows).
    ``traced_length``: a free length that JAX learns when it traces (see
    graph.build_scan), for groups of padded sentences of every bucket.
    """
    T = None if traced_length else length or cfg.window
    x, y, mask = seq_inputs(cfg, T, masked, batch)
    w = pt.tensor("w", shape=(), dtype=cfg.dtype)
    lr = pt.tensor("lr", shape=(), dtype=cfg.dtype)
    P = [pt.tensor(k, shape=s, dtype=cfg.dtype) for k, s in param_shapes(cfg).items()]
    S = [
        pt.tensor(k, shape=s, dtype=cfg.dtype)
        for k, s in optim.state_shapes(cfg).items()
    ]
    drop = drop_input(cfg, T, batch, cfg.drops or None)
    noise = noise_input(cfg, True)
    h0 = carry_input(cfg, batch, carry or None)
    new, loss, data_loss = window_update(
        cfg,
        mode,
        P,
        x,
        y,
        w,
        T,
        batch,
        S,
        lr,
        drop,
        h0,
        mask,
        traced_length,
        noise,
        capacity,
    )
    d = [] if drop is None else [drop]
    h = [] if h0 is None else [h0]
    m = [] if mask is None else [mask]
    return [x, y, *m, w, lr, *d, *noise.values(), *P, *S, *h], [*new, loss, data_loss]


def build_fused(
    cfg: RNNConfig,
    params: dict,
    mode: str,
    windows: int,
    length: int | None = None,
    batch: int | None = None,
    state: dict = None,
    lr=None,
    carry=None,
    capacity=None,
):
    """``windows`` SGD steps in one graph: an outer scan over windows carrying the
    parameters (and ``carry``, a shared carried state, when given), so Python leaves
    the hot loop.

    Inputs X, Y (K, T) or (K, T, B) int32 and ``wmask`` (K,): a window with weight 0
    leaves the parameters untouched (pads the last chunk of a pass). Returns
    (inputs, [losses (K,), data_losses (K,)], updates of the shared params).
    """
    T = length or cfg.window
    shape = (windows, T) if batch is None else (windows, T, batch)
    X = pt.tensor("X", shape=shape, dtype="int32")
    Y = pt.tensor("Y", shape=shape, dtype="int32")
    W = pt.tensor("wmask", shape=(windows,), dtype=cfg.dtype)
    seqs = [X, Y, W]
    if cfg.drops:  # one set of dropout masks per window; locked: one step of each
        once = drop_shape(cfg, 1 if cfg.locked_dropout else T, batch)
        seqs.append(pt.tensor("drops", shape=(windows, *once), dtype=cfg.dtype))
    names = list(noise_shapes(cfg))  # and of the other masks
    seqs += [
        pt.tensor(k, shape=(windows, *s), dtype=cfg.dtype)
        for k, s in noise_shapes(cfg).items()
    ]
    n_in = len(seqs)

    n_p, n_s = len(param_names(cfg)), len(state or {})
    shared = [params[k] for k in param_names(cfg)] + list((state or {}).values())
    if carry is not None:
        shared.append(carry)

    n = len(shared)
    rate = [] if lr is None else [lr]  # strict scans take every outer variable in

    def window(x, y, w, *rest):
        masks, PS = rest[: n_in - 3], rest[n_in - 3 :]
        drop = masks[0] if cfg.drops else None
        if cfg.drops and cfg.locked_dropout:  # every step under the same masks
            drop = pt.broadcast_to(drop, drop_shape(cfg, T, batch))
        noise = dict(zip(names, masks[1 if cfg.drops else 0 :]))
        h0 = PS[n_p + n_s] if carry is not None else None
        new, loss, data_loss = window_update(
            cfg,
            mode,
            PS[:n_p],
            x,
            y,
            w,
            T,
            batch,
            PS[n_p : n_p + n_s],
            PS[n] if rate else None,
            drop,
            h0,
            noise=noise,
            capacity=capacity,
        )
        return [*new, loss, data_loss]

    outs = pytensor.scan(
        window,
        sequences=seqs,
        outputs_info=[*shared, None, None],
        non_sequences=rate,
        strict=True,
        return_updates=False,
    )
    updates = [(p, seq[-1]) for p, seq in zip(shared, outs[:n])]
    return seqs, [outs[n], outs[n + 1]], updates
