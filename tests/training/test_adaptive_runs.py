"""--softmax adaptive in a run: the vocabulary in falling frequency (its order kept
in the checkpoint), training, validation, test, ``pytrnn eval`` (with the neural
cache too) and sampling through the full distribution; bad values one line."""

from collections import Counter

import numpy as np
import pytest
from helpers import invoke, one_line_error

import pytrnn
from pytrnn.runtime import checkpoint as ck
from pytrnn.runtime.cache import Cache
from pytrnn.tools.generate import generate

WORDS = "the a of cat dog sat on mat ran far big small red blue".split()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("ada")
    rng = np.random.default_rng(0)
    p = 1 / np.arange(1, len(WORDS) + 1)
    for name, n in (("train", 120), ("valid", 20), ("test", 20)):
        lines = [
            " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9)), p=p / p.sum()))
            for _ in range(n)
        ]
        (d / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("adarun") / "a.npz"
    r = invoke(
        "train",
        "--corpus",
        folder,
        "--level",
        "word",
        "--hidden",
        8,
        "--emsize",
        8,
        "--cell",
        "lstm",
        "--window",
        6,
        "--batch",
        2,
        "--passes",
        1,
        "--softmax",
        "adaptive",
        "--cutoffs",
        "4,9",
        "--head-bias",
        "--sample-length",
        12,
        "--checkpoint",
        path,
    )
    assert r.exit_code == 0, r.output
    return path, r


def test_vocabulary_in_falling_frequency_and_the_run_scores_and_samples(folder, run):
    path, r = run
    c = ck.load(path)
    lines = (folder / "train.txt").read_text().splitlines()
    counts = Counter(w for line in lines for w in line.split() + ["<eos>"])
    first = {}
    for line in lines:
        for w in line.split() + ["<eos>"]:
            first.setdefault(w, len(first))
    assert c.vocab == sorted(counts, key=lambda w: (-counts[w], first[w]))
    assert list(c.params)[-6:] == [
        "head_W",
        "head_b",
        "tail0_proj",
        "tail0_out",
        "tail1_proj",
        "tail1_out",
    ]
    assert "val ppl" in r.stdout or "ppl=" in r.stdout
    assert "test (pass 1)" in r.stdout
    e = pytrnn.evaluate(path, folder / "test.txt")
    assert np.isfinite(e["ppl"]) and e["ppl"] > 1
    cached = pytrnn.evaluate(path, folder / "test.txt", cache=Cache(10, 1.0, 0.3))
    assert cached["ppl"] != e["ppl"] and np.isfinite(cached["ppl"])
    text = generate(path, length=8, seed=1)
    assert set(text.split()) <= set(c.vocab)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--cutoffs", "4,40"], "between 1 and V - 1"),
        (["--cutoffs", "9,4"], "--cutoffs must be unique integers, increasing"),
        (["--div-value", "0"], "--div-value must be positive"),
    ],
)
def test_bad_adaptive_options_are_one_line(folder, tmp_path, args, needle):
    r = invoke(
        "train",
        "--corpus",
        folder,
        "--level",
        "word",
        "--hidden",
        8,
        "--passes",
        1,
        "--softmax",
        "adaptive",
        "--cutoffs",
        "4,9",
        *args,
        "--checkpoint",
        tmp_path / "x.npz",
    )
    one_line_error(r, needle)
    assert not (tmp_path / "x.npz").exists()


def test_adaptive_at_the_char_level_and_cutoffs_alone_are_refused(tmp_path):
    r = invoke(
        "train",
        "--limit-chars",
        500,
        "--softmax",
        "adaptive",
        "--cutoffs",
        "10",
        "--checkpoint",
        tmp_path / "x.npz",
    )
    one_line_error(r, "--softmax adaptive is for large vocabularies")
    r = invoke(
        "train",
        "--limit-chars",
        500,
        "--cutoffs",
        "10",
        "--checkpoint",
        tmp_path / "x.npz",
    )
    one_line_error(r, "--cutoffs and --head-bias are for --softmax adaptive")
