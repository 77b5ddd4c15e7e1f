"""pytrnn's adaptive softmax against torch.nn.AdaptiveLogSoftmaxWithLoss itself, for
the same weights, in float64: every token's log-probability (log_prob), the
forward's output and loss, and the gradients of every parameter and of the input.
torch is never a pytrnn dependency: run this with a python that has both.

    /path/to/torchvenv/bin/python bench/adaptive_torch_check.py
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import torch

from pytrnn.config import RNNConfig
from pytrnn.graphs import adaptive


def check(H=16, V=50, cutoffs=(5, 20, 35), div_value=2.0, head_bias=True, N=37, seed=0):
    torch.manual_seed(seed)
    m = torch.nn.AdaptiveLogSoftmaxWithLoss(
        H, V, list(cutoffs), div_value=div_value, head_bias=head_bias
    ).double()
    cfg = RNNConfig(
        vocab_size=V,
        hidden=H,
        softmax="adaptive",
        head_bias=head_bias,
        cutoffs=",".join(map(str, cutoffs)),
        div_value=div_value,
    ).validate()
    P = {"head_W": m.head.weight.detach().numpy().T.copy()}
    if head_bias:
        P["head_b"] = m.head.bias.detach().numpy().copy()
    for i, seq in enumerate(m.tail):
        P[f"tail{i}_proj"] = seq[0].weight.detach().numpy().T.copy()
        P[f"tail{i}_out"] = seq[1].weight.detach().numpy().T.copy()
    assert {k: v.shape for k, v in P.items()} == adaptive.shapes(cfg)
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((N, H))
    y = rng.integers(0, V, N)
    ht = torch.tensor(h, requires_grad=True)
    out = m(ht, torch.tensor(y))
    out.loss.backward()
    lp_t = m.log_prob(ht).detach().numpy()

    S = {k: pytensor.shared(v, name=k) for k, v in P.items()}
    hv, yv = pt.matrix("h", dtype="float64"), pt.vector("y", dtype="int64")
    pick = lambda lp, idx: lp[pt.arange(N), idx]  # noqa: E731
    cap = adaptive.capacities(cfg, y)
    head, clusters = adaptive.head_and_clusters(
        cfg, S, hv, yv, pt.ones((N,)), pick, cap
    )
    loss = -(head.sum() + clusters) / N
    grads = pytensor.grad(loss, [*S.values(), hv])
    f = pytensor.function([hv, yv], [adaptive.log_prob(cfg, S, hv), loss, *grads])
    lp, L, *g = f(h, y)
    err = {
        "log_prob": np.abs(lp - lp_t).max(),
        "output": np.abs(lp[np.arange(N), y] - out.output.detach().numpy()).max(),
        "loss": abs(L - out.loss.item()),
    }
    named = dict(zip(S, g[:-1]))
    torch_g = {"head_W": m.head.weight.grad.numpy().T}
    if head_bias:
        torch_g["head_b"] = m.head.bias.grad.numpy()
    for i, seq in enumerate(m.tail):
        torch_g[f"tail{i}_proj"] = seq[0].weight.grad.numpy().T
        torch_g[f"tail{i}_out"] = seq[1].weight.grad.numpy().T
    for k in torch_g:
        err["d" + k] = np.abs(named[k] - torch_g[k]).max()
    err["dh"] = np.abs(g[-1] - ht.grad.numpy()).max()
    return err


if __name__ == "__main__":
    worst = 0.0
    for kw in (
        dict(),
        dict(head_bias=False, cutoffs=(10,), div_value=4.0),
        dict(V=200, cutoffs=(20, 60, 120), N=300, seed=3),
    ):
        err = check(**kw)
        worst = max(worst, *err.values())
        print(kw or "defaults", " ".join(f"{k} {v:.1e}" for k, v in err.items()))
    print(f"largest difference from torch: {worst:.1e}")
