"""`pytrnn export` and `pytrnn import` against torch itself (#37).

Export: for each case, ``pytrnn.train`` runs the wlm recipe for one pass on a small
WikiText-2-format cut (32 x 32, 2 layers); ``pytrnn export`` writes the checkpoint
as safetensors; a torch model built as word_language_model's ``RNNModel`` builds
itself (an embedding, ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN``, a decoder, tied by
sharing the weight) loads the file with ``load_state_dict(strict=True)`` and scores
the test text as main.py's ``evaluate`` does (batches of 10, windows of 35, the
state carried). Printed: the relative difference of that loss from `pytrnn eval`'s
on the same checkpoint (bounds: 1e-6 in float32, 1e-12 in float64).

Import: the other way, a freshly initialised torch model's ``state_dict`` saved with
safetensors, read by ``pytrnn import --corpus`` and scored by both.

torch is never a pytrnn dependency: run this with a python that has both,

    /tmp/torchvenv/bin/python bench/export_torch_check.py [--corpus ../shared/corpora/wikitext2-valid]

(the venv as bench/wlm_torch_check.py makes it). No wlm code is copied.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file

import pytrnn
from pytrnn.runtime import checkpoint as ck
from pytrnn.tools.evaluate import evaluate
from pytrnn.tools.interchange import corpus_vocab, export, import_model

sys.path.insert(0, str(Path(__file__).parent))
from wlm_torch_check import make_cut, torch_ppl  # noqa: E402

E = H = 32
CASES = [  # (cell, tied, dtype)
    ("lstm", False, "float32"),
    ("lstm", True, "float32"),
    ("gru", False, "float32"),
    ("lstm", False, "float64"),
    ("lstm", True, "float64"),
    ("gru", True, "float64"),
    ("rnn", False, "float64"),
]


class RNNModel(torch.nn.Module):
    """word_language_model's RNNModel (dropout 0): its module names, so its
    state_dict's keys."""

    def __init__(self, cell, V, layers, tied):
        super().__init__()
        self.encoder = torch.nn.Embedding(V, E)
        if cell == "rnn":
            self.rnn = torch.nn.RNN(E, H, layers, nonlinearity="tanh")
        else:
            self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](E, H, layers)
        self.decoder = torch.nn.Linear(H, V)
        if tied:
            self.decoder.weight = self.encoder.weight
        self.cell, self.layers = cell, layers

    def forward(self, x, hidden):  # as wlm_torch_check.Net: (T * B, V) log-probs
        out, hidden = self.rnn(self.encoder(x), hidden)
        logits = self.decoder(out).view(-1, self.decoder.out_features)
        return torch.log_softmax(logits, dim=-1), hidden

    def init_hidden(self, B):
        z = torch.zeros(self.layers, B, H, dtype=self.encoder.weight.dtype)
        return (z, z.clone()) if self.cell == "lstm" else z


def torch_loss(net, ids) -> float:
    """main.py's evaluate (wlm_torch_check.torch_ppl: batches of 10, windows of 35,
    carried state), as loss per word."""
    return math.log(torch_ppl(net, ids, 35))


def test_ids(ckpt, corpus: Path) -> np.ndarray:
    index = {w: i for i, w in enumerate(ckpt.vocab)}
    lines = (corpus / "test.txt").read_text(encoding="utf8").splitlines()
    return np.array([index.get(w, index.get("<unk>")) for ln in lines
                     for w in (*ln.split(), "<eos>")])  # fmt: skip


def export_case(cell, tied, dtype, corpus: Path, d: Path, backend) -> float:
    path = d / f"{cell}-{tied}-{dtype}.npz"
    model_cfg, run_cfg, given = pytrnn.configure(
        recipe="wlm", corpus=str(corpus), passes=1, emsize=E, hidden=H, cell=cell,
        tied=tied, dtype=dtype, lr=2.0, dropout=0.0, sample_length=0,
        checkpoint=str(path), backend=backend)  # fmt: skip
    pytrnn.train(model_cfg, run_cfg, given)
    st = export(path, d / "m.safetensors")
    c = ck.load(path)
    net = RNNModel(cell, c.cfg.vocab_size, c.cfg.layers, tied).to(getattr(torch, dtype))
    net.load_state_dict(load_file(str(st)), strict=True)
    if tied:
        assert net.decoder.weight is net.encoder.weight
    ours = evaluate(path, corpus / "test.txt", backend=backend)["loss_per_word"]
    theirs = torch_loss(net, test_ids(c, corpus))
    return abs(ours - theirs) / abs(theirs), ours, theirs


def import_case(cell, tied, dtype, corpus: Path, d: Path, backend) -> float:
    V = len(corpus_vocab(corpus))
    torch.manual_seed(7)
    net = RNNModel(cell, V, 2, tied).to(getattr(torch, dtype))
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    save_file(sd, d / "wlm.safetensors")
    out = d / f"imp-{cell}-{tied}-{dtype}.npz"
    import_model(d / "wlm.safetensors", out, corpus)
    ours = evaluate(out, corpus / "test.txt", backend=backend)["loss_per_word"]
    theirs = torch_loss(net, test_ids(ck.load(out), corpus))
    return abs(ours - theirs) / abs(theirs), ours, theirs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="../shared/corpora/wikitext2-valid")
    ap.add_argument("--backend", default="jax")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    bound = {"float32": 1e-6, "float64": 1e-12}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        corpus = d / "cut"
        corpus.mkdir()
        make_cut(Path(args.corpus), corpus)
        for way, fn in (("export", export_case), ("import", import_case)):
            worst = {}
            for cell, tied, dtype in CASES:
                rel, ours, theirs = fn(cell, tied, dtype, corpus, d, args.backend)
                worst[dtype] = max(worst.get(dtype, 0.0), rel)
                ok &= rel <= bound[dtype]
                print(f"{way} {cell:4s} {'tied' if tied else 'untied':6s} {dtype}: "
                      f"test loss/word pytrnn {ours:.10f} torch {theirs:.10f} "
                      f"(ppl {math.exp(ours):.4f}): {rel:.1e} relative", flush=True)  # fmt: skip
            print(f"{way}: largest {worst['float32']:.1e} relative in float32 (bound "
                  f"1e-6), {worst['float64']:.1e} in float64 (bound 1e-12)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
