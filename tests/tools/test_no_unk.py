"""A standard corpus's <unk> is one of its tokens and is drawn (wlm's generate.py);
``pytrnn sample --no-unk`` never draws it, even where it is the most likely word."""

import numpy as np
from helpers import invoke, one_line_error

import pytrnn
from pytrnn.graphs.params import init_params
from pytrnn.runtime import checkpoint as ck

VOCAB = ["<eos>", "the", "cat", "<unk>"]


def save_model(path, level="word", vocab=VOCAB):
    """A tiny model whose output bias makes <unk> (or the last symbol) the likeliest
    next token after anything."""
    cfg = pytrnn.RNNConfig(vocab_size=len(vocab), hidden=4).validate()
    P = init_params(cfg, np.random.default_rng(0))
    P["by"] = np.array([0.0, 1.0, 0.5, 9.0])
    run = ck.RunInfo(train={"tokenizer": "whitespace", "layout": "stream"})
    ck.save(path, ck.Checkpoint(cfg=cfg, params=P, vocab=list(vocab), level=level,
                                corpus="c", run=run, passes_done=1))  # fmt: skip
    return path


def test_no_unk_never_draws_unk(tmp_path):
    path = save_model(tmp_path / "w.npz")
    args = ["sample", path, "--argmax", "--sentences", 2, "--length", 5]
    drawn = invoke(*args)
    assert drawn.exit_code == 0, drawn.output
    assert drawn.stdout.split() == ["<unk>"] * 10  # the model's own argmax
    clean = invoke(*args, "--no-unk")
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.split() == ["the"] * 10  # the likeliest other word
    one_line_error(
        invoke("sample", save_model(tmp_path / "c.npz", "char", list("abcd")),
               "--no-unk"),
        "--no-unk",
    )  # fmt: skip
