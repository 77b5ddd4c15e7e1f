"""Independent plain-numpy forward and BPTT for every cell and any number of layers,
and numpy transcriptions of torch.optim's documented update rules.

Written from the equations of the parameter contract (docs/model.md, "Cells,
layers and optimizers"), not from pytrnn's code:
- rnn (the notebook's): h = tanh(xe + Whh @ h_prev)
- gru (torch.nn.GRU, gates r, z, n): hid = h_prev @ Whh + bhh, r = s(xe_r + hid_r),
  z = s(xe_z + hid_z), n = tanh(xe_n + r * hid_n), h = (1 - z) * n + z * h_prev
- lstm (torch.nn.LSTM, gates i, f, g, o): a = xe + h_prev @ Whh,
  c = s(a_f) * c_prev + s(a_i) * tanh(a_g), h = s(a_o) * tanh(c)
with xe = Wxh[x_t] + bh in layer 0 and h_below @ Wxh_l + bh_l above (+ bhh for the
tanh cell and the LSTM where P has it: torch's two biases), p = softmax(h_top
@ Why + by), loss = sum -log p[y] + reg * (sum of squares of every Wxh*, Whh*, Why).

With an embedding (``Wemb`` in P, wlm's nn.Embedding): layer 0 reads
xe = (Wemb[x_t] * dropout mask) @ Wxh + bh; tied (no ``Why`` in P): the output
layer reads Wemb.T, so Wemb's gradient is the sum of both uses. ``scale`` multiplies
the data term of the objective (1/tokens: wlm's mean per token).
"""

import numpy as np
import numpy_adaptive

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def names(cell, layers, emsize=None, tied=False, two=False):
    out = ["Wemb"] if emsize else []
    for l in range(layers):
        s = "" if l == 0 else f"_{l}"
        bhh = cell == "gru" or two
        out += [f"Wxh{s}", f"Whh{s}", f"bh{s}"] + ([f"bhh{s}"] if bhh else [])
    return out + (["by"] if tied else ["Why", "by"])


def input_bias(cell, P, s):
    """torch's b_ih + b_hh where the tanh cell or the LSTM has both (``bhh`` in P:
    nn.RNN's and nn.LSTM's two biases); the GRU's bhh is the hidden side's."""
    if cell != "gru" and f"bhh{s}" in P:
        return P[f"bh{s}"] + P[f"bhh{s}"]
    return P[f"bh{s}"]


def init(cell, layers, D, H, rng, scale=0.5, emsize=None, tied=False, two=False):
    """Random parameters, biases included (non-zero, so their gradients are tested).
    Tied with several layers, the top layer is emsize wide (AWD-LSTM's rule).
    ``two``: torch's two biases for the tanh cell and the LSTM too."""
    widths = [H] * (layers - 1) + [emsize if tied and layers > 1 else H]
    P = {}
    if emsize:
        P["Wemb"] = rng.standard_normal((D, emsize)) * scale
    for l in range(layers):
        s, Hl = ("" if l == 0 else f"_{l}"), widths[l]
        k = GATES[cell] * Hl
        P[f"Wxh{s}"] = (
            rng.standard_normal(((emsize or D) if l == 0 else widths[l - 1], k)) * scale
        )
        P[f"Whh{s}"] = rng.standard_normal((Hl, k)) * scale
        P[f"bh{s}"] = rng.standard_normal(k) * 0.1
        if cell == "gru" or two:
            P[f"bhh{s}"] = rng.standard_normal(k) * 0.1
    if not tied:
        P["Why"] = rng.standard_normal((H, D)) * scale
    P["by"] = rng.standard_normal(D) * 0.1
    return P


def _why(P):
    return P["Why"] if "Why" in P else P["Wemb"].T


def _masks(P, layers, drop):
    """(embedding mask or None, one mask per layer's output), each cut to its width
    from pytrnn's (layers [+ 1], T, width) layout."""
    if drop is None:
        return None, None
    Hs = [P["Whh" + ("" if l == 0 else f"_{l}")].shape[0] for l in range(layers)]
    if "Wemb" not in P:
        return None, [drop[l][..., : Hs[l]] for l in range(layers)]
    E = P["Wemb"].shape[1]
    return drop[0][..., :E], [drop[l + 1][..., : Hs[l]] for l in range(layers)]


def _layer_forward(cell, P, s, xe, init=None):
    T, H = len(xe), P[f"Whh{s}"].shape[0]
    h, c = (np.zeros(H), np.zeros(H)) if init is None else init
    cache = []
    for t in range(T):
        if cell == "rnn":
            hn = np.tanh(xe[t] + P[f"Whh{s}"] @ h)
            cache.append((h,))
        elif cell == "gru":
            hid = h @ P[f"Whh{s}"] + P[f"bhh{s}"]
            r = sig(xe[t][:H] + hid[:H])
            z = sig(xe[t][H : 2 * H] + hid[H : 2 * H])
            n = np.tanh(xe[t][2 * H :] + r * hid[2 * H :])
            hn = (1 - z) * n + z * h
            cache.append((h, hid, r, z, n))
        else:
            a = xe[t] + h @ P[f"Whh{s}"]
            i, f = sig(a[:H]), sig(a[H : 2 * H])
            g, o = np.tanh(a[2 * H : 3 * H]), sig(a[3 * H :])
            cn = f * c + i * g
            hn = o * np.tanh(cn)
            cache.append((h, c, i, f, g, o, cn))
            c = cn
        h = hn
        cache[-1] = cache[-1] + (hn,)
    return np.array([cc[-1] for cc in cache]), cache


def forward(cell, layers, P, x, drop=None, init=None, erows=None):
    """(top hidden states (T, H) as the output layer reads them, probabilities (T, D),
    per-layer caches). ``drop`` (layers, T, H): dropout masks multiplying each layer's
    output on its way up (to the next layer, or to the output layer). ``init``: each
    layer's first (h, c) (c unused but by the LSTM), zero by default. ``erows`` (V,):
    embedding dropout's mask on the rows of Wemb (AWD's embedded_dropout)."""
    inp, caches = None, []
    emb_mask, drop = _masks(P, layers, drop)
    for l in range(layers):
        s = "" if l == 0 else f"_{l}"
        if l > 0 and drop is not None:
            inp = inp * drop[l - 1]
        if l == 0 and "Wemb" in P:
            rows = 1.0 if erows is None else erows[x][:, None]
            inp = P["Wemb"][x] * rows * (1.0 if emb_mask is None else emb_mask)
            xe = inp @ P["Wxh"] + input_bias(cell, P, s)
        else:
            xe = (P["Wxh"][x] if l == 0 else inp @ P[f"Wxh{s}"]) + input_bias(
                cell, P, s
            )
        hs, cache = _layer_forward(cell, P, s, xe, None if init is None else init[l])
        caches.append((inp, cache))
        inp = hs
    if drop is not None:
        inp = inp * drop[layers - 1]
    if "head_W" in P:  # the adaptive softmax (tests/numpy_adaptive.py)
        return inp, np.exp(numpy_adaptive.log_prob(P, inp)), caches
    z = inp @ _why(P) + P["by"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return inp, e / e.sum(axis=1, keepdims=True), caches


def final_states(cell, caches):
    """Each layer's (h, c) after the last step: the next window's ``init``."""
    out = []
    for _, cache in caches:
        last = cache[-1]
        out.append((last[-1], last[-2] if cell == "lstm" else None))
    return out


def loss_and_grads(
    cell,
    layers,
    P,
    x,
    y,
    reg,
    drop=None,
    init=None,
    truncate=-1,
    scale=1.0,
    erows=None,
    wmask=None,
    ar=0.0,
    tar=0.0,
):
    """(loss, data_loss, grads keyed like P), by BPTT written from the equations.
    ``init``: carried first states (constants: the gradient stops there).
    ``truncate=K`` applies scan's truncate_gradient in every layer: only the last K
    positions pass gradient into the recurrence, through those K steps only; the
    output layer still sees every position.

    AWD-LSTM's terms: ``erows`` (V,) embedding dropout's row mask; ``wmask``
    {"": (H, kH), "_1": ...} weight drop's masks, the layers reading Whh * mask (the
    L2 term the raw Whh); ``ar`` and ``tar`` the coefficients of the sums of squares
    of the top layer's dropped states and of its undropped states' differences
    (AWD's alpha and beta over the number of elements they average)."""
    R = {k: np.asarray(v, np.float64) for k, v in P.items()}  # the raw parameters
    P = dict(R)
    for s, m in (wmask or {}).items():
        P[f"Whh{s}"] = R[f"Whh{s}"] * m
    T = len(x)
    hs, ps, caches = forward(cell, layers, P, x, drop, init, erows)
    data = -np.log(ps[np.arange(T), y]).sum()
    W = [k for k in P if k.startswith(("Wemb", "Wxh", "Whh", "Why", "head_W", "tail"))]
    g = {k: np.zeros_like(v) for k, v in P.items()}
    top = np.array([cc[-1] for cc in caches[-1][1]])  # (T, H) undropped
    diff = top[1:] - top[:-1]
    penalty = ar * (hs**2).sum() + tar * (diff**2).sum()
    if "head_W" in P:  # the adaptive softmax's backward
        ga, dhs = numpy_adaptive.grads(P, hs, np.asarray(y), np.full(T, float(scale)))
        for k, v in ga.items():
            g[k] += v
    else:
        dz = ps.copy()
        dz[np.arange(T), y] -= 1
        dz *= scale
        if "Why" in P:
            g["Why"] += hs.T @ dz
        else:  # tied: the output layer's use of Wemb
            g["Wemb"] += (hs.T @ dz).T
        g["by"] += dz.sum(0)
        dhs = dz @ _why(P).T  # (T, H): gradient reaching the top layer's h_t
    dhs = dhs + 2 * ar * hs  # AR, on the dropped states
    emb_mask, drop = _masks(P, layers, drop)
    if drop is not None:
        dhs = dhs * drop[layers - 1]
    dhs[1:] += 2 * tar * diff  # TAR, on the undropped ones
    dhs[:-1] -= 2 * tar * diff
    for l in reversed(range(layers)):
        s = "" if l == 0 else f"_{l}"
        below, cache = caches[l]
        H = P[f"Whh{s}"].shape[0]
        Whh = P[f"Whh{s}"]
        dxe = np.zeros((T, GATES[cell] * H))
        dh_next, dc_next = np.zeros(H), np.zeros(H)
        cut = max(T - truncate, 0) if truncate > 0 else 0
        for t in reversed(range(cut, T)):
            dh = dhs[t] + dh_next
            if cell == "rnn":
                h_prev, hn = cache[t]
                da = dh * (1 - hn**2)
                g[f"Whh{s}"] += np.outer(da, h_prev)
                dh_next = Whh.T @ da
                dxe[t] = da
            elif cell == "gru":
                h_prev, hid, r, z, n, hn = cache[t]
                dn, dzz = dh * (1 - z), dh * (h_prev - n)
                dan = dn * (1 - n**2)
                dr = dan * hid[2 * H :]
                dar, daz = dr * r * (1 - r), dzz * z * (1 - z)
                dhid = np.concatenate([dar, daz, dan * r])
                g[f"Whh{s}"] += np.outer(h_prev, dhid)
                g[f"bhh{s}"] += dhid
                dh_next = dh * z + Whh @ dhid
                dxe[t] = np.concatenate([dar, daz, dan])
            else:
                h_prev, c_prev, i, f, gg, o, cn, hn = cache[t]
                tc = np.tanh(cn)
                do = dh * tc
                dc = dc_next + dh * o * (1 - tc**2)
                da = np.concatenate(
                    [
                        dc * gg * i * (1 - i),
                        dc * c_prev * f * (1 - f),
                        dc * i * (1 - gg**2),
                        do * o * (1 - o),
                    ]
                )
                g[f"Whh{s}"] += np.outer(h_prev, da)
                dh_next, dc_next = Whh @ da, dc * f
                dxe[t] = da
        g[f"bh{s}"] += dxe.sum(0)
        if cell != "gru" and f"bhh{s}" in P:  # torch's second bias: the same gradient
            g[f"bhh{s}"] += dxe.sum(0)
        if l == 0 and "Wemb" in P:  # the input use of Wemb
            g["Wxh"] += below.T @ dxe
            de = dxe @ P["Wxh"].T * (1.0 if emb_mask is None else emb_mask)
            if erows is not None:
                de = de * erows[x][:, None]
            np.add.at(g["Wemb"], x, de)
        elif l == 0:
            np.add.at(g["Wxh"], x, dxe)
        else:
            g[f"Wxh{s}"] += below.T @ dxe  # below: the (masked) input it read
            dhs = dxe @ P[f"Wxh{s}"].T
            if drop is not None:
                dhs = dhs * drop[l - 1]
    for s, m in (wmask or {}).items():  # through Whh * mask to the raw Whh
        g[f"Whh{s}"] = g[f"Whh{s}"] * m
    for k in W:
        g[k] += 2 * reg * R[k]
    reg_sum = sum((R[k] ** 2).sum() for k in W)
    return scale * data + reg * reg_sum + penalty, data, g


def check_finite_differences(cell, layers, P, x, y, reg, keys, samples=6, eps=1e-6):
    """``loss_and_grads``' gradient of each array in ``keys`` against central
    differences of its loss, at about ``samples`` entries an array."""
    import pytest

    g = loss_and_grads(cell, layers, P, x, y, reg)[2]
    for k in keys:
        for idx in list(np.ndindex(P[k].shape))[:: max(P[k].size // samples, 1)]:
            Q = {n: v.copy() for n, v in P.items()}
            Q[k][idx] += eps
            lp = loss_and_grads(cell, layers, Q, x, y, reg)[0]
            Q[k][idx] -= 2 * eps
            lm = loss_and_grads(cell, layers, Q, x, y, reg)[0]
            want = (lp - lm) / (2 * eps)
            assert g[k][idx] == pytest.approx(want, rel=1e-5, abs=1e-8), (k, idx)


# -- torch.optim's update rules, transcribed from its documentation ---------------


def opt_init(name, P):
    if name == "sgd":
        return {}
    if name == "adam":
        return {
            "m": {k: np.zeros_like(v) for k, v in P.items()},
            "v": {k: np.zeros_like(v) for k, v in P.items()},
            "t": 0,
        }
    return {"s": {k: np.zeros_like(v) for k, v in P.items()}}


def norm_clip(G, max_norm):
    """torch.nn.utils.clip_grad_norm_, as its documentation states it: the L2 norm
    of every gradient together; each scaled by max_norm / (norm + 1e-6) when that
    is below 1."""
    total = np.sqrt(sum((v**2).sum() for v in G.values()))
    coef = min(max_norm / (total + 1e-6), 1.0)
    return {k: v * coef for k, v in G.items()}


def opt_step(
    name,
    P,
    G,
    state,
    lr,
    clip,
    alpha=0.99,
    b1=0.9,
    b2=0.999,
    eps=None,
    clip_norm=0.0,
    wdecay=0.0,
):
    """One step on clipped gradients (the norm first, with ``clip_norm``; then
    elementwise, unless ``clip`` is 0), then torch's ``weight_decay`` added;
    returns new P (state updated in place)."""
    if clip_norm:
        G = norm_clip(G, clip_norm)
    if clip:
        G = {k: np.clip(v, -clip, clip) for k, v in G.items()}
    if wdecay:
        G = {k: v + wdecay * P[k] for k, v in G.items()}
    if name == "asgd":
        return asgd_step(P, G, state, lr)
    if name == "sgd":
        return {k: P[k] - lr * G[k] for k in P}
    if name == "adagrad":
        eps = 1e-10 if eps is None else eps
        for k in P:
            state["s"][k] = state["s"][k] + G[k] ** 2
        return {k: P[k] - lr * G[k] / (np.sqrt(state["s"][k]) + eps) for k in P}
    if name == "rmsprop":
        eps = 1e-8 if eps is None else eps
        for k in P:
            state["s"][k] = alpha * state["s"][k] + (1 - alpha) * G[k] ** 2
        return {k: P[k] - lr * G[k] / (np.sqrt(state["s"][k]) + eps) for k in P}
    eps = 1e-8 if eps is None else eps
    state["t"] += 1
    t = state["t"]
    new = {}
    for k in P:
        state["m"][k] = b1 * state["m"][k] + (1 - b1) * G[k]
        state["v"][k] = b2 * state["v"][k] + (1 - b2) * G[k] ** 2
        mhat = state["m"][k] / (1 - b1**t)
        vhat = state["v"][k] / (1 - b2**t)
        new[k] = P[k] - lr * mhat / (np.sqrt(vhat) + eps)
    return new


def asgd_step(P, G, state, lr):
    """torch.optim.ASGD's step with AWD-LSTM's t0 = 0, lambd = 0, from its source's
    documented rule: the state (step 0, eta = the rate of this first step, mu 1,
    ax 0) is created at the first step; then step += 1, p -= eta * g, ax = p if
    mu == 1 else ax + (p - ax) * mu, eta = lr, mu = 1 / max(1, step - t0)."""
    if "step" not in state:
        state.update(
            step=0, eta=lr, mu=1.0, ax={k: np.zeros_like(v) for k, v in P.items()}
        )
    state["step"] += 1
    new = {k: P[k] - state["eta"] * G[k] for k in P}
    for k in P:
        ax = state["ax"][k]
        state["ax"][k] = (
            new[k].copy() if state["mu"] == 1 else ax + (new[k] - ax) * state["mu"]
        )
    state["eta"] = lr
    state["mu"] = 1.0 / max(1, state["step"])
    return new
