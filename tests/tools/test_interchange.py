"""Models between pytrnn and PyTorch (#37 item 3): export writes torch's names
(word_language_model's RNNModel), import reads them back or a wlm state_dict with
its corpus' vocabulary; a round trip is bitwise and scores the same."""

from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, one_line_error
from safetensors.numpy import save_file

import pytrnn
from pytrnn.runtime import checkpoint as ck
from pytrnn.tools.evaluate import evaluate
from pytrnn.tools.interchange import corpus_vocab, to_torch

FIX = Path(__file__).parents[1] / "fixtures"
LINES = ["the cat sat on the mat", "a dog sat on a cat", "the dog saw the cat"]


def corpus(tmp_path) -> Path:
    d = tmp_path / "wiki"
    d.mkdir()
    (d / "train.txt").write_text("\n".join(LINES * 4) + "\n")
    (d / "valid.txt").write_text("the cat saw a mat\n")
    (d / "test.txt").write_text("a cat sat on the dog\nthe mat\n")
    return d


def test_round_trip_is_bitwise_and_scores_the_same(tmp_path):
    for level in ("word", "char"):
        src = FIX / f"{level}-0.1.0.npz"
        st, out = tmp_path / f"{level}.safetensors", tmp_path / f"{level}.npz"
        assert invoke("export", src, "-o", st).exit_code == 0
        r = invoke("import", st, "-o", out)
        assert r.exit_code == 0, r.output
        a, b = ck.load(src), ck.load(out)
        assert list(a.params) == list(b.params) and a.vocab == b.vocab
        for k in a.params:
            assert a.params[k].dtype == b.params[k].dtype
            assert np.array_equal(a.params[k], b.params[k]), k
        text = tmp_path / "t.txt"
        text.write_text("the cat sat on the mat .\na dog sat .\n" * 5)
        assert evaluate(src, text) == evaluate(out, text)


def test_export_names_are_word_language_models(tmp_path):
    """Two-layer tied LSTM with two biases: wlm's keys, torch's shapes, the tied
    weight under both names."""
    cfg = pytrnn.RNNConfig(vocab_size=11, hidden=6, emsize=6, layers=2, cell="lstm",
                           tied=True, two_biases=True)  # fmt: skip
    P = pytrnn.RNN(cfg, mode="scan", backend="jax", seed=1).get_params()
    t = to_torch(cfg, P)
    assert sorted(t) == sorted(
        ["encoder.weight", "decoder.weight", "decoder.bias"]
        + [
            f"rnn.{w}_l{j}"
            for j in (0, 1)
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]  # fmt: skip
    )
    assert t["rnn.weight_ih_l1"].shape == (24, 6)
    np.testing.assert_array_equal(t["rnn.weight_hh_l0"], P["Whh"].T)
    np.testing.assert_array_equal(t["rnn.bias_hh_l1"], P["bhh_1"])
    np.testing.assert_array_equal(t["decoder.weight"], t["encoder.weight"])
    one = pytrnn.RNNConfig(vocab_size=11, hidden=6, emsize=6, cell="lstm")
    P1 = pytrnn.RNN(one, mode="scan", backend="jax").get_params()
    t1 = to_torch(one, P1)
    assert not t1["rnn.bias_hh_l0"].any()  # one bias: torch's second is zero


def test_a_wlm_state_dict_imports_with_its_corpus(tmp_path):
    """A file as word_language_model's state_dict saves it (no metadata): the
    vocabulary from train, valid and test as data.Corpus reads them; eval runs."""
    d = corpus(tmp_path)
    vocab = corpus_vocab(d)
    assert vocab[:7] == ["the", "cat", "sat", "on", "mat", "<eos>", "a"]
    cfg = pytrnn.RNNConfig(vocab_size=len(vocab), hidden=5, emsize=5, cell="gru",
                           two_biases=True, dtype="float32")  # fmt: skip
    P = pytrnn.RNN(cfg, mode="scan", backend="jax", seed=2).get_params()
    save_file(to_torch(cfg, P), tmp_path / "wlm.safetensors")
    out = tmp_path / "m.npz"
    r = invoke("import", tmp_path / "wlm.safetensors", "--corpus", d, "-o", out)
    assert r.exit_code == 0, r.output
    got = ck.load(out)
    assert got.cfg.cell == "gru" and got.cfg.dtype == "float32" and not got.cfg.tied
    assert got.vocab == vocab and got.run.carry_state
    for k in P:
        np.testing.assert_array_equal(got.params[k], P[k])
    r = invoke("eval", out, "--corpus", d)
    assert r.exit_code == 0 and "ppl=" in r.stdout, r.output


@pytest.mark.parametrize("case", ["vocab", "shape", "not", "exists", "no-corpus"])
def test_bad_imports_are_one_line(tmp_path, case):
    d = corpus(tmp_path)
    V = len(corpus_vocab(d))
    cfg = pytrnn.RNNConfig(vocab_size=V + (case == "vocab"), hidden=5, emsize=5,
                           cell="lstm", two_biases=True)  # fmt: skip
    t = to_torch(cfg, pytrnn.RNN(cfg, mode="scan", backend="jax").get_params())
    if case == "shape":
        t["rnn.weight_hh_l0"] = t["rnn.weight_hh_l0"][:, :4]
    path = tmp_path / "m.safetensors"
    save_file(t, path)
    if case == "not":
        path.write_bytes(b"PK\x03\x04 not a safetensors file")
    out = tmp_path / "out.npz"
    if case == "exists":
        out.write_bytes(b"keep me")
    args = [] if case == "no-corpus" else ["--corpus", d]
    r = invoke("import", path, "-o", out, *args)
    needle = {"vocab": "not the corpus", "shape": "weight_hh_l0",
              "not": "not a safetensors file", "exists": "exists",
              "no-corpus": "--corpus"}[case]  # fmt: skip
    one_line_error(r, needle)
    if case == "exists":
        assert out.read_bytes() == b"keep me"


def sig(a):
    return 1 / (1 + np.exp(-a))


def torch_rules(cell, t, ids, layers):
    """torch's documented nn.RNN / nn.GRU / nn.LSTM equations (and wlm's encoder
    and decoder), in numpy, on the exported arrays: the logits after ``ids``."""
    H = t["rnn.weight_hh_l0"].shape[1]
    h, c = np.zeros((layers, H)), np.zeros((layers, H))
    for i in ids:
        x = t["encoder.weight"][i]
        for l in range(layers):
            Wi, Wh = t[f"rnn.weight_ih_l{l}"], t[f"rnn.weight_hh_l{l}"]
            bi, bh = t[f"rnn.bias_ih_l{l}"], t[f"rnn.bias_hh_l{l}"]
            gi, gh = Wi @ x + bi, Wh @ h[l] + bh
            if cell == "rnn":
                h[l] = np.tanh(gi + gh)
            elif cell == "lstm":
                a = gi + gh
                ig, fg, gg, og = np.split(a, 4)
                c[l] = sig(fg) * c[l] + sig(ig) * np.tanh(gg)
                h[l] = sig(og) * np.tanh(c[l])
            else:
                r = sig(gi[:H] + gh[:H])
                z = sig(gi[H : 2 * H] + gh[H : 2 * H])
                n = np.tanh(gi[2 * H :] + r * gh[2 * H :])
                h[l] = (1 - z) * n + z * h[l]
            x = h[l]
    return t["decoder.weight"] @ x + t["decoder.bias"]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_exported_arrays_follow_torchs_equations(cell):
    """The file's arrays, read by torch's documented rules, give pytrnn's logits
    (the tanh cell's Whh is torch's weight_hh as it is: Whh.dot(h))."""
    cfg = pytrnn.RNNConfig(vocab_size=9, hidden=5, emsize=5, layers=2, cell=cell,
                           two_biases=cell != "gru" or None)  # fmt: skip
    m = pytrnn.RNN(cfg, mode="scan", backend="jax", seed=1)
    rng = np.random.default_rng(3)
    m.set_params({k: 0.6 * rng.standard_normal(v.shape)
                  for k, v in m.get_params().items()})  # fmt: skip
    ids = [1, 4, 7, 2, 8]
    h = m.initial_state()
    for i in ids:
        h, logits = m.step(i, h)
    want = torch_rules(cell, to_torch(cfg, m.get_params()), ids, 2)
    np.testing.assert_allclose(logits, want, rtol=1e-12, atol=1e-12)
