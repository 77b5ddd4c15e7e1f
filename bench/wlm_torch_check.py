"""pytrnn's wlm and AWD recipes against torch itself, from the same initial weights.

For each case, ``pytrnn.train`` runs the recipe (its real loop: windows, carried
state, the norm clip, the optimizer, held-out scoring) on a small WikiText-2-format
cut, dropout 0, with its initial parameters taken from a torch model built here the
way word_language_model's ``RNNModel`` builds it (an embedding, ``nn.LSTM`` /
``nn.GRU``, a decoder, optionally tied; ``init_weights``' uniform(-0.1, 0.1)). Then
torch trains that same model on the same token streams with ``main.py``'s step
(``get_batch`` windows, ``repackage_hidden``, ``clip_grad_norm_``, ``p -= lr *
grad``, or ``torch.optim.Adam``), and AWD-LSTM's (one ``nn.LSTM`` a layer, the
variable windows pytrnn drew, the rate times ``seq_len / bptt``, ``torch.optim.SGD``
with ``weight_decay``). Printed per case: the largest relative difference of the
per-window training losses, of the parameters after the epoch, and of the
validation perplexity (``evaluate``: batches of 10, carried state).

torch is never a pytrnn dependency: run this with a python that has both,

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy && /tmp/torchvenv/bin/pip install -e .
    /tmp/torchvenv/bin/python bench/wlm_torch_check.py [--corpus ../shared/corpora/wikitext2-valid]

No wlm code is copied: its semantics are transcribed from pytorch/examples'
word_language_model (main.py, model.py) and salesforce/awd-lstm-lm's main.py.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import pytrnn
from pytrnn.runtime import model as model_mod
from pytrnn.training import loop as loop_mod

CUT_LINES = {"train.txt": 1200, "valid.txt": 150, "test.txt": 150}
E = H = 32  # small enough to run in seconds, wide enough to train


def make_cut(src: Path, dst: Path) -> None:
    """The first lines of each split: a stream whose last window is a partial one."""
    for name, n in CUT_LINES.items():
        lines = (src / name).read_text(encoding="utf8").splitlines(keepends=True)
        (dst / name).write_text("".join(lines[:n]), encoding="utf8")


class Net(torch.nn.Module):
    """word_language_model's RNNModel at dropout 0; ``per_layer``: AWD-LSTM's one
    ``nn.LSTM`` a layer (the top one emsize wide when tied)."""

    def __init__(self, cell, V, layers, tied, per_layer=False):
        super().__init__()
        self.encoder = torch.nn.Embedding(V, E)
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        if per_layer:
            widths = [H] * (layers - 1) + [E if tied else H]
            ins = [E] + widths[:-1]
            self.rnns = torch.nn.ModuleList(kind(i, w, 1) for i, w in zip(ins, widths))
        else:
            self.rnns = torch.nn.ModuleList([kind(E, H, layers)])
        self.decoder = torch.nn.Linear(E if tied else H, V)
        if tied:
            self.decoder.weight = self.encoder.weight
        torch.nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        torch.nn.init.zeros_(self.decoder.bias)
        torch.nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        self.cell = cell

    def forward(self, x, hidden):
        out, new = self.encoder(x), []
        for rnn, h in zip(self.rnns, hidden):
            out, h = rnn(out, h)
            new.append(h)
        logits = self.decoder(out).view(-1, self.decoder.out_features)
        return torch.log_softmax(logits, dim=1), new

    def init_hidden(self, B):
        def zeros(rnn):
            z = torch.zeros(rnn.num_layers, B, rnn.hidden_size)
            return (z, z.clone()) if self.cell == "lstm" else z

        return [zeros(r) for r in self.rnns]

    def pytrnn_params(self) -> dict:
        """The parameter contract's names (docs/model.md): transposed matrices."""
        P = {"Wemb": self.encoder.weight}
        k = 0
        for rnn in self.rnns:
            for j in range(rnn.num_layers):
                s = "" if k == 0 else f"_{k}"
                P["Wxh" + s] = getattr(rnn, f"weight_ih_l{j}").T
                P["Whh" + s] = getattr(rnn, f"weight_hh_l{j}").T
                P["bh" + s] = getattr(rnn, f"bias_ih_l{j}")
                P["bhh" + s] = getattr(rnn, f"bias_hh_l{j}")
                k += 1
        if self.decoder.weight is not self.encoder.weight:
            P["Why"] = self.decoder.weight.T
        P["by"] = self.decoder.bias
        return {n: v.detach().numpy().copy() for n, v in P.items()}


def detach(hidden):
    return [
        tuple(v.detach() for v in h) if isinstance(h, tuple) else h.detach()
        for h in hidden
    ]


def windows(S, bptt, variable):
    """main.py's ``range(0, S - 1, bptt)`` with get_batch's ``min``; AWD's
    (start, length) rows as pytrnn drew them."""
    if variable is not None:
        return [(int(i), int(n)) for i, n in variable]
    return [(i, min(bptt, S - 1 - i)) for i in range(0, S - 1, bptt)]


def torch_epoch(net, streams, case, wins):
    """One epoch of main.py's train() (or AWD's): the per-window losses."""
    data = torch.tensor(streams.T.astype(np.int64))  # batchify: (S, B)
    lr, clip = case["lr"], 0.25
    opt = None
    if case.get("optimizer") == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=lr)
    elif case.get("awd"):
        opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=case["wdecay"])
    hidden, losses = net.init_hidden(streams.shape[0]), []
    for i, n in wins:
        x, y = data[i : i + n], data[i + 1 : i + 1 + n].reshape(-1)
        net.zero_grad()
        hidden = detach(hidden)
        out, hidden = net(x, hidden)
        loss = torch.nn.functional.nll_loss(out, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        if case.get("awd"):  # AWD: lr * seq_len / bptt for this window
            opt.param_groups[0]["lr"] = lr * n / case["window"]
        if opt is not None:
            opt.step()
        else:
            for p in net.parameters():
                p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return np.array(losses)


def torch_ppl(net, ids, bptt, B=10):
    """main.py's evaluate: batchify(ids, 10), windows of bptt, carried state."""
    S = len(ids) // B
    data = torch.tensor(ids[: S * B].reshape(B, S).T.astype(np.int64))
    hidden, total = net.init_hidden(B), 0.0
    with torch.no_grad():
        for i in range(0, S - 1, bptt):
            n = min(bptt, S - 1 - i)
            out, hidden = net(data[i : i + n], hidden)
            y = data[i + 1 : i + 1 + n].reshape(-1)
            total += n * torch.nn.functional.nll_loss(out, y).item()
    return math.exp(total / (S - 1))


def run_case(case, corpus, backend):
    """pytrnn's run and torch's beside it: the largest differences."""
    seen = {}
    cfg_kw = dict(
        recipe=case["recipe"],
        corpus=str(corpus),
        passes=1,
        emsize=E,
        hidden=H,
        lr=case["lr"],
        sample_length=0,
        backend=backend,
        cell=case["cell"],
        tied=case["tied"],
        layers=case["layers"],
        seed=case.get("seed", 1111),
    )
    if case.get("awd"):
        cfg_kw.update(dropouti=0.0, dropouth=0.0, dropouto=0.0, dropoute=0.0,
                      wdrop=0.0, ar=0.0, tar=0.0, nt_asgd=0, batch=8,
                      window=case["window"], wdecay=case["wdecay"])  # fmt: skip
    else:
        cfg_kw["dropout"] = 0.0
    if case.get("optimizer"):
        cfg_kw["optimizer"] = case["optimizer"]
    model_cfg, train_cfg, given = pytrnn.configure(**cfg_kw)
    torch.manual_seed(case.get("seed", 1111))

    def torch_init(cfg, rng):  # the torch model's initial weights, as pytrnn's
        net = Net(cfg.cell, cfg.vocab_size, cfg.layers, cfg.tied, case.get("awd"))
        seen["net"] = net
        return {k: v.astype(cfg.dtype) for k, v in net.pytrnn_params().items()}

    def recording(self, order, j, n):
        out = train_chunk(self, order, j, n)
        seen.setdefault("losses", []).extend(loss for loss, _, _ in out)
        seen["loop"] = self
        return out

    train_chunk = loop_mod.Loop.train_chunk
    init = model_mod.init_params
    model_mod.init_params, loop_mod.Loop.train_chunk = torch_init, recording
    try:
        with tempfile.TemporaryDirectory() as d:
            train_cfg = replace(train_cfg, checkpoint=f"{d}/run.npz")
            result = pytrnn.train(model_cfg, train_cfg, given)
    finally:
        model_mod.init_params, loop_mod.Loop.train_chunk = init, train_chunk
    loop, net = seen["loop"], seen["net"]
    b = loop.batcher
    order = b.order(0)
    wins = windows(b.streams.shape[1], model_cfg.window,
                   order if model_cfg.variable_bptt else None)  # fmt: skip
    t_loss = torch_epoch(net, b.streams, {**case, "window": model_cfg.window}, wins)
    p_loss = np.array(seen["losses"])
    P = result.model.get_params()
    T = net.pytrnn_params()
    rel = lambda a, b: float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30)))  # noqa: E731
    param_err = max(
        float(np.max(np.abs(P[k] - T[k])) / max(np.max(np.abs(T[k])), 1e-30)) for k in T
    )
    val_ids = loop.figures.held.val
    t_ppl = torch_ppl(net, np.asarray(val_ids), model_cfg.window)
    p_ppl = result.history[-1]["val_ppl"]
    n = min(len(p_loss), len(t_loss))
    off = np.abs(p_loss[:n] - t_loss[:n]) > 1e-5 * np.abs(t_loss[:n])
    return dict(
        agree=int(np.argmax(off)) if off.any() else n,  # windows equal to 1e-5
        windows=f"{len(p_loss)} (torch {len(t_loss)})",
        stream=b.streams.shape,
        loss_rel=rel(p_loss, t_loss) if len(p_loss) == len(t_loss) else float("nan"),
        param_rel=param_err,
        ppl=(p_ppl, t_ppl),
        ppl_rel=abs(p_ppl - t_ppl) / t_ppl,
        two_biases=sorted(k for k in P if k.startswith("bhh")),
    )


CASES = [
    dict(name="wlm LSTM untied, lr 2", recipe="wlm", cell="lstm", tied=False, layers=2, lr=2.0),
    dict(name="wlm LSTM tied, lr 2", recipe="wlm", cell="lstm", tied=True, layers=2, lr=2.0),
    dict(name="wlm GRU untied, lr 2", recipe="wlm", cell="gru", tied=False, layers=2, lr=2.0),
    dict(name="wlm GRU tied, lr 2", recipe="wlm", cell="gru", tied=True, layers=2, lr=2.0),
    dict(name="wlm LSTM tied, Adam 1e-3", recipe="wlm", cell="lstm", tied=True, layers=2,
         lr=1e-3, optimizer="adam"),
    dict(name="awd-lstm, regularizers 0, lr 2", recipe="awd-lstm", cell="lstm",
         tied=True, layers=3, lr=2.0, awd=True, window=35, wdecay=1.2e-6, seed=141),
    # the recipes' own rates: chaotic at this size, float32 rounding grows
    dict(name="wlm LSTM untied, lr 20", recipe="wlm", cell="lstm", tied=False, layers=2,
         lr=20.0, chaotic=True),
    dict(name="awd-lstm, regularizers 0, lr 30", recipe="awd-lstm", cell="lstm",
         tied=True, layers=3, lr=30.0, awd=True, window=35, wdecay=1.2e-6, seed=141,
         chaotic=True),
]  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="../shared/corpora/wikitext2-valid")
    ap.add_argument("--backend", default="jax")
    ap.add_argument("--only", help="run the cases whose name contains this")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    worst = {}
    with tempfile.TemporaryDirectory() as d:
        make_cut(Path(args.corpus), Path(d))
        for case in CASES:
            if args.only and args.only not in case["name"]:
                continue
            t0 = time.perf_counter()
            r = run_case(case, Path(d), args.backend)
            print(
                f"{case['name']:32s} windows {r['windows']}, streams {r['stream']}: "
                f"losses {r['loss_rel']:.1e}, params {r['param_rel']:.1e}, "
                f"val ppl {r['ppl'][0]:.4f} / torch {r['ppl'][1]:.4f} "
                f"({r['ppl_rel']:.1e}); the first {r['agree']} windows' losses equal "
                f"to 1e-5; {len(r['two_biases'])} bhh; "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            if not case.get("chaotic"):
                for k in ("loss_rel", "param_rel", "ppl_rel"):
                    worst[k] = max(worst.get(k, 0.0), r[k])
    if not worst:  # only the chaotic cases ran
        return 0
    print(
        f"largest at lr 2, Adam, AWD ({args.backend}): per-window loss "
        f"{worst['loss_rel']:.1e} relative (bound 1e-5), parameters "
        f"{worst['param_rel']:.1e} of each array's largest, validation perplexity "
        f"{worst['ppl_rel']:.1e} (bound 1e-4)"
    )
    ok = worst["loss_rel"] <= 1e-5 and worst["ppl_rel"] <= 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
