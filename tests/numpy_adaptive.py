"""torch.nn.AdaptiveLogSoftmaxWithLoss, transcribed to numpy from its source's
documented computation (its forward's loop over the head and the clusters, and
``log_prob``), with the backward written from the equations. The parameters are
pytrnn's contract: head_W = head.weight.T, head_b = head.bias, tail{i}_proj =
tail[i][0].weight.T, tail{i}_out = tail[i][1].weight.T; the cutoffs follow from
their shapes."""

import numpy as np


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def cutoffs(P):
    """torch's ``self.cutoffs``: the shortlist, then each cluster's end."""
    n = sum(1 for k in P if k.endswith("_out"))
    c0 = P["head_W"].shape[1] - n
    out = [c0]
    for i in range(n):
        out.append(out[-1] + P[f"tail{i}_out"].shape[1])
    return out


def head(P, h):
    z = h @ P["head_W"]
    return z + P["head_b"] if "head_b" in P else z


def forward(P, h, y):
    """torch's forward: (output = log p(y) per row, loss = mean of -output)."""
    cuts = cutoffs(P)
    shortlist = cuts[0]
    output = np.zeros(len(y))
    gather = np.empty(len(y), dtype=np.int64)
    values = [0] + cuts
    for i in range(len(values) - 1):
        low, high = values[i], values[i + 1]
        mask = (y >= low) & (y < high)
        rows = np.nonzero(mask)[0]
        if rows.size == 0:
            continue
        if i == 0:
            gather[rows] = y[mask]
        else:
            rel = y[mask] - low
            out = h[rows] @ P[f"tail{i - 1}_proj"] @ P[f"tail{i - 1}_out"]
            gather[rows] = shortlist + i - 1
            output[rows] = log_softmax(out)[np.arange(len(rows)), rel]
    output += log_softmax(head(P, h))[np.arange(len(y)), gather]
    return output, (-output).mean()


def log_prob(P, h):
    """torch's log_prob: (N, V)."""
    cuts = cutoffs(P)
    hp = log_softmax(head(P, h))
    parts = [hp[:, : cuts[0]]]
    for i in range(len(cuts) - 1):
        c = log_softmax(h @ P[f"tail{i}_proj"] @ P[f"tail{i}_out"])
        parts.append(c + hp[:, cuts[0] + i][:, None])
    return np.concatenate(parts, axis=1)


def grads(P, h, y, w):
    """Gradients of sum(w * -log p(y)) for the head's and clusters' parameters,
    and for h."""
    cuts = cutoffs(P)
    g = {k: np.zeros_like(P[k]) for k in P if k.startswith(("head", "tail"))}
    which = np.searchsorted(cuts[:-1], y, side="right")  # 0: the head
    target = np.where(which == 0, y, cuts[0] + which - 1)
    dz = np.exp(log_softmax(head(P, h)))
    dz[np.arange(len(y)), target] -= 1
    dz *= w[:, None]
    g["head_W"] += h.T @ dz
    if "head_b" in g:
        g["head_b"] += dz.sum(0)
    dh = dz @ P["head_W"].T
    for i in range(len(cuts) - 1):
        rows = np.nonzero(which == i + 1)[0]
        if rows.size == 0:
            continue
        u = h[rows] @ P[f"tail{i}_proj"]
        dc = np.exp(log_softmax(u @ P[f"tail{i}_out"]))
        dc[np.arange(len(rows)), y[rows] - cuts[i]] -= 1
        dc *= w[rows][:, None]
        g[f"tail{i}_out"] += u.T @ dc
        du = dc @ P[f"tail{i}_out"].T
        g[f"tail{i}_proj"] += h[rows].T @ du
        dh[rows] += du @ P[f"tail{i}_proj"].T
    return g, dh


def init(rng, H, cuts, div_value=4.0, head_bias=False, scale=0.5):
    """Random adaptive-softmax parameters for V = cuts[-1] and cutoffs cuts[:-1]."""
    n = len(cuts) - 1
    P = {"head_W": rng.standard_normal((H, cuts[0] + n)) * scale}
    if head_bias:
        P["head_b"] = rng.standard_normal(cuts[0] + n) * 0.1
    for i in range(n):
        hi = int(H // div_value ** (i + 1))
        P[f"tail{i}_proj"] = rng.standard_normal((H, hi)) * scale
        P[f"tail{i}_out"] = rng.standard_normal((hi, cuts[i + 1] - cuts[i])) * scale
    return P
