"""Models between pytrnn and PyTorch, through safetensors (no pickle): ``pytrnn
export`` writes a checkpoint's parameters under the names of PyTorch's modules,
``pytrnn import`` builds a checkpoint from such a file or from a
word_language_model ``state_dict`` saved with safetensors.

Names (pytrnn.graphs.params keeps torch's layouts; its matrices are transposed):
``encoder.weight`` = Wemb; ``rnn.weight_ih_l{l}`` = Wxh{_l}.T, ``rnn.weight_hh_l{l}``
= Whh{_l}.T (the tanh cell's Whh as it is: the notebook's ``Whh.dot(h)`` is torch's
``h @ weight_hh.T``), ``rnn.bias_ih_l{l}`` = bh{_l}, ``rnn.bias_hh_l{l}`` = bhh{_l} (zeros
where the model keeps one bias: torch adds the two); ``decoder.weight`` = Why.T (a
tied model: Wemb, saved under both names as wlm's state_dict holds it),
``decoder.bias`` = by: word_language_model's ``RNNModel``. Layers of different
widths (AWD's tied rule) are AWD-LSTM's one module per layer, ``rnns.{l}.weight_ih_l0``
...; the adaptive softmax is ``decoder.`` + ``AdaptiveLogSoftmaxWithLoss``'s names
(``head.weight``, ``head.bias``, ``tail.{i}.0.weight``, ``tail.{i}.1.weight``). A
char model has no embedding: its one-hot input into ``rnn.weight_ih_l0`` is an
``nn.Embedding`` whose weight is Wxh's rows, or an ``nn.RNN`` fed one-hot vectors.
The file's metadata holds the configuration and the vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pytrnn.config import RNNConfig
from pytrnn.errors import ConfigError, CorpusError
from pytrnn.files import atomic_write, check_writable
from pytrnn.graphs.adaptive import clusters
from pytrnn.graphs.optim import averaged, init_state
from pytrnn.graphs.params import param_names, param_shapes, suffix
from pytrnn.runtime import checkpoint as ckpt_io

CELL_OF = {1: "rnn", 3: "gru", 4: "lstm"}  # gate rows per hidden unit


def recurrent_prefix(cfg: RNNConfig, layer: int) -> tuple[str, int]:
    """The module and layer index torch names a layer by: wlm's one ``rnn`` of
    equal layers, or AWD's ``rnns.{l}`` where the widths differ."""
    if len(set(cfg.widths)) == 1:
        return "rnn.", layer
    return f"rnns.{layer}.", 0


def torch_names(cfg: RNNConfig) -> dict[str, tuple[str, bool]]:
    """pytrnn's name -> (torch's name, transposed)."""
    out = {"Wemb": ("encoder.weight", False)} if cfg.emsize else {}
    for layer in range(cfg.layers):
        s, (m, j) = suffix(layer), recurrent_prefix(cfg, layer)
        out["Wxh" + s] = (f"{m}weight_ih_l{j}", True)
        # the notebook's tanh cell computes Whh.dot(h): torch's layout already
        out["Whh" + s] = (f"{m}weight_hh_l{j}", cfg.cell != "rnn")
        out["bh" + s] = (f"{m}bias_ih_l{j}", False)
        out["bhh" + s] = (f"{m}bias_hh_l{j}", False)
    if cfg.softmax == "adaptive":
        out["head_W"] = ("decoder.head.weight", True)
        out["head_b"] = ("decoder.head.bias", False)
        for i in range(len(clusters(cfg))):
            out[f"tail{i}_proj"] = (f"decoder.tail.{i}.0.weight", True)
            out[f"tail{i}_out"] = (f"decoder.tail.{i}.1.weight", True)
    else:
        out["Why"] = ("decoder.weight", True)
        out["by"] = ("decoder.bias", False)
    return out


def to_torch(cfg: RNNConfig, params: dict) -> dict[str, np.ndarray]:
    """The parameters under torch's names, as contiguous arrays."""
    out = {}
    for name, (key, transposed) in torch_names(cfg).items():
        if name in params:
            v = np.asarray(params[name])
            out[key] = np.ascontiguousarray(v.T if transposed else v)
        elif name.startswith("bhh"):  # one bias kept: torch's second is zero
            out[key] = np.zeros_like(np.asarray(params["bh" + name[3:]]))
    if cfg.tied and cfg.softmax != "adaptive":
        out["decoder.weight"] = out["encoder.weight"].copy()
    return out


def export(checkpoint, output) -> Path:
    """``pytrnn export``: the parameters evaluation uses (ASGD's average where the
    run averaged) under torch's names, the configuration and vocabulary as the
    file's metadata."""
    from safetensors.numpy import save

    out = Path(output)
    check_writable(out, "-o", "model.safetensors")
    if out.resolve() == Path(checkpoint).resolve():
        raise ConfigError(f"-o {output} is the checkpoint being exported")
    ck = ckpt_io.load(checkpoint)
    tensors = to_torch(ck.cfg, averaged(ck.cfg, ck.params, ck.opt_state))
    meta = {
        "format": "pytrnn-export",
        "config": json.dumps(ck.cfg.to_dict()),
        "vocab": json.dumps(list(ck.vocab)),
        "level": ck.level,
        "corpus": ck.corpus,
        "run": json.dumps(ck.run.to_dict()),
    }
    return atomic_write(out, lambda f: f.write(save(tensors, metadata=meta)))


def _read(path):
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        what = "a folder, not a file" if p.is_dir() else "no such file"
        raise ConfigError(f"{path}: {what}")
    try:
        with safe_open(str(p), framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
    except Exception as e:  # safetensors raises its own errors for a bad header
        raise ConfigError(f"{path} is not a safetensors file ({e})")


def corpus_vocab(folder) -> list[str]:
    """word_language_model's ``data.Corpus`` dictionary: every word of train.txt,
    valid.txt and test.txt (each line's, then ``<eos>``), in order of first use."""
    index: dict = {}
    for name in ("train.txt", "valid.txt", "test.txt"):
        path = Path(folder) / name
        if not path.is_file():
            raise CorpusError(f"--corpus {folder} has no {name} (wlm's layout)")
        for line in path.read_text(encoding="utf-8").splitlines():
            for w in (*line.split(), "<eos>"):
                index.setdefault(w, len(index))
    return list(index)


def wlm_config(t: dict, V: int, window: int) -> RNNConfig:
    """The configuration of a word_language_model ``RNNModel`` from its arrays."""
    need = ["encoder.weight", "decoder.weight", "decoder.bias", "rnn.weight_ih_l0"]
    missing = [k for k in need if k not in t]
    if missing:
        raise ConfigError(
            f"not a word_language_model RNNModel state_dict: no {', '.join(missing)}"
        )
    E = t["encoder.weight"].shape[1]
    rows, H = t["rnn.weight_hh_l0"].shape
    layers = sum(1 for k in t if k.startswith("rnn.weight_ih_l"))
    if rows // H not in CELL_OF or rows % H:
        raise ConfigError(f"rnn.weight_hh_l0 is {rows} x {H}: not a tanh, GRU or LSTM")
    tied = t["decoder.weight"].shape == t["encoder.weight"].shape and np.array_equal(
        t["decoder.weight"], t["encoder.weight"]
    )
    return RNNConfig(vocab_size=V, hidden=H, emsize=E, layers=layers, window=window,
                     cell=CELL_OF[rows // H], tied=tied, two_biases=True,
                     init="wlm", dtype=str(t["encoder.weight"].dtype),
                     loss_scale="token", clip=0.0)  # fmt: skip


def from_torch(cfg: RNNConfig, t: dict) -> dict:
    """pytrnn's parameters from torch's names, every shape checked."""
    shapes, params = param_shapes(cfg), {}
    for name, (key, transposed) in torch_names(cfg).items():
        if name not in shapes:
            continue
        if key not in t:
            raise ConfigError(f"the file has no {key} (pytrnn's {name})")
        v = t[key].T if transposed else t[key]
        if v.shape != shapes[name]:
            raise ConfigError(
                f"{key} is {'x'.join(map(str, t[key].shape))}, the model needs "
                f"{'x'.join(map(str, (shapes[name][::-1] if transposed else shapes[name])))}"
            )
        params[name] = np.ascontiguousarray(v, dtype=cfg.dtype)
    return params


def import_model(path, output, corpus=None, window: int = 35) -> Path:
    """``pytrnn import``: a checkpoint from a file ``export`` wrote (its metadata
    has everything) or from a word_language_model state_dict (the vocabulary
    rebuilt from the ``corpus`` folder as data.Corpus builds it)."""
    out = Path(output)
    check_writable(out, "-o", "run.npz")
    if out.exists():
        raise ConfigError(f"-o {output} exists: pick another path (no run is replaced)")
    t, meta = _read(path)
    if meta.get("format") == "pytrnn-export":
        cfg = RNNConfig.from_dict(json.loads(meta["config"])).validate()
        vocab, level = json.loads(meta["vocab"]), meta.get("level", "word")
        run = ckpt_io.RunInfo.from_dict(json.loads(meta.get("run", "{}")))
        name = meta.get("corpus", Path(path).stem)
    else:
        if corpus is None:
            raise ConfigError(
                "a word_language_model file has no vocabulary: give --corpus "
                "FOLDER (its train.txt, valid.txt and test.txt)"
            )
        vocab, level, name = corpus_vocab(corpus), "word", Path(corpus).name
        V = t["encoder.weight"].shape[0] if "encoder.weight" in t else None
        if V != len(vocab):
            raise ConfigError(
                f"the model has {V} words and {corpus} gives {len(vocab)}: "
                f"not the corpus it was trained on"
            )
        cfg = wlm_config(t, len(vocab), window).validate()
        run = ckpt_io.RunInfo(train={"layout": "stream", "tokenizer": "whitespace",
                                     "carry_state": True, "level": "word"})  # fmt: skip
    got = from_torch(cfg, t)
    params = {k: got[k] for k in param_names(cfg)}  # the checkpoint's order
    ck = ckpt_io.Checkpoint(cfg=cfg, params=params, vocab=vocab, level=level,
                            corpus=name, mode="scan", run=run,
                            opt_state=init_state(cfg))  # fmt: skip
    return ckpt_io.save(out, ck)
