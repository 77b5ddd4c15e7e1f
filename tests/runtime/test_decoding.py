"""Sampling as the field samples (#37): the top-k and top-p filters against numpy
transcriptions of their usual rules, beam search against an exhaustive search,
the batched step against the one-id step, and `pytrnn sample` unchanged where no
new option is given."""

import itertools
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, one_line_error

import pytrnn
from pytrnn.runtime.decoding import beam_search, filtered, top_k_filter, top_p_filter
from pytrnn.runtime.sampling import log_softmax_rows, steps

FIX = Path(__file__).parents[1] / "fixtures"


def nanogpt_top_k(p, k):
    """nanoGPT's sample: ``v, _ = topk(logits, k); logits[logits < v[-1]] = -inf``."""
    v = np.sort(p)[::-1][:k]
    return np.where(p < v[-1], 0.0, p)


def nucleus(p, P):
    """The definition, one token at a time: the most probable first (the lower id
    among equals), until their sum reaches P."""
    q, kept, total = p / p.sum(), [], 0.0
    for i in sorted(range(len(p)), key=lambda i: (-q[i], i)):
        kept.append(i)
        total += q[i]
        if total >= P:
            break
    out = np.zeros_like(p)
    out[kept] = p[kept]
    return out


def test_top_k_keeps_the_k_largest_and_their_ties():
    p = np.array([0.1, 0.3, 0.05, 0.3, 0.15, 0.1])
    for k in range(1, 7):
        np.testing.assert_array_equal(top_k_filter(p, k), nanogpt_top_k(p, k))
    assert (top_k_filter(p, 1) > 0).sum() == 2  # the two tied at the top
    assert (top_k_filter(p, 4) > 0).sum() == 5  # the other 0.1 ties the fourth
    rows = np.random.default_rng(0).dirichlet(np.ones(9), size=4)
    got = top_k_filter(rows, 3)
    for r, g in zip(rows, got):
        np.testing.assert_array_equal(g, nanogpt_top_k(r, 3))


@pytest.mark.parametrize("P", [1e-9, 0.3, 0.5, 0.55, 0.8, 0.95, 0.999, 1.0])
def test_top_p_keeps_the_smallest_set_reaching_p(P):
    rng = np.random.default_rng(1)
    for p in [np.array([0.2, 0.2, 0.1, 0.35, 0.15]), *rng.dirichlet(np.ones(8), 5)]:
        np.testing.assert_array_equal(top_p_filter(p, P), nucleus(p, P))
    p = np.array([0.25, 0.25, 0.25, 0.25])  # ties: the lower ids first
    assert (top_p_filter(p, 0.5) > 0).tolist() == [True, True, False, False]
    assert (top_p_filter(p, P) > 0).sum() == max(1, int(np.ceil(P * 4 - 1e-9)))


def test_both_filters_top_k_first_and_renormalised():
    p = np.array([0.4, 0.3, 0.2, 0.1])
    got = filtered(p, top_k=3, top_p=0.7)  # top-3 renormalised: 0.44, 0.33, 0.22
    np.testing.assert_allclose(got, [4 / 7, 3 / 7, 0, 0])
    np.testing.assert_allclose(filtered(p, top_p=0.7), [4 / 7, 3 / 7, 0, 0])
    np.testing.assert_allclose(filtered(p, top_k=3, top_p=0.44), [1, 0, 0, 0])
    np.testing.assert_allclose(filtered(p, top_k=3, top_p=0.45), [4 / 7, 3 / 7, 0, 0])


@pytest.fixture(scope="module")
def tiny():
    """A two-layer LSTM over 5 ids with large random weights (a peaked model)."""
    cfg = pytrnn.RNNConfig(vocab_size=5, hidden=6, cell="lstm", layers=2)
    m = pytrnn.RNN(cfg, mode="scan", backend="jax", seed=3)
    rng = np.random.default_rng(7)
    m.set_params({k: 1.5 * rng.standard_normal(v.shape) for k, v in
                  m.get_params().items()})  # fmt: skip
    return m


def total_logp(model, first, tokens):
    """A sequence's log-probability through the one-id step, in numpy."""
    h, last, total = model.initial_state(), first, 0.0
    for t in tokens:
        h, logits = model.step(last, h)
        total += log_softmax_rows(np.asarray(logits, np.float64))[t]
        last = t
    return total


def test_batched_step_is_the_one_id_step(tiny):
    step = steps(tiny)
    S = np.random.default_rng(2).standard_normal((4, 3, 6)) * 0.5
    new, logits = step(np.array([0, 3, 4]), S)
    for b, i in enumerate([0, 3, 4]):
        h1, l1 = tiny.step(i, S[:, b])
        np.testing.assert_allclose(new[:, b], h1, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(logits[b], l1, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("end", [None, 2])
def test_beam_search_against_exhaustive_search(tiny, end):
    """Width V^L is the exhaustive optimum (with ``end``: sequences stop there);
    width 1 is greedy argmax."""
    step = steps(tiny)

    def logstep(i, s):
        s, logits = step(i, s)
        return s, log_softmax_rows(logits)

    V, L, first = 5, 4, 1
    h0 = tiny.initial_state()
    seqs = set()
    for full in itertools.product(range(V), repeat=L):
        cut = full.index(end) + 1 if end is not None and end in full else L
        seqs.add(full[:cut])
    best = max(seqs, key=lambda t: total_logp(tiny, first, t))
    tokens, score = beam_search(logstep, h0, first, V**L, L, end=end)
    assert tokens == best
    assert score == pytest.approx(total_logp(tiny, first, best), rel=1e-9)
    greedy, last, h = [], first, h0
    for _ in range(L):
        h, logits = tiny.step(last, h)
        last = int(np.argmax(logits))
        greedy.append(last)
        if last == end:
            break
    assert beam_search(logstep, h0, first, 1, L, end=end)[0] == tuple(greedy)


def test_sample_without_new_options_prints_what_it_printed(tmp_path):
    """The fixtures' texts were printed by the commit before these options."""
    for level in ("char", "word"):
        ck = str(FIX / f"{level}-0.1.0.npz")
        for extra, name in (([], ""), (["--argmax"], "-argmax")):
            r = invoke("sample", ck, "--seed", "3", *extra)
            assert r.exit_code == 0, r.output
            want = (FIX / f"sample-{level}-seed3{name}.txt").read_text()
            assert r.stdout == want, (level, extra)


def test_top_k_one_is_argmax_and_samples_are_batched_and_seeded():
    ck = str(FIX / "char-0.1.0.npz")
    argmax = invoke("sample", ck, "--prime", "the ", "--length", "30", "--argmax")
    top1 = invoke("sample", ck, "--prime", "the ", "--length", "30", "--top-k", "1")
    assert top1.stdout == argmax.stdout
    many = invoke("sample", ck, "--prime", "the ", "--length", "30",
                  "--num-samples", "3", "--seed", "5")  # fmt: skip
    again = invoke("sample", ck, "--prime", "the ", "--length", "30",
                   "--num-samples", "3", "--seed", "5")  # fmt: skip
    assert many.exit_code == 0 and many.stdout == again.stdout
    texts = many.stdout.split("\n" + "-" * 15 + "\n")[:3]
    assert len(set(texts)) == 3 and all(t.startswith("the ") for t in texts)
    assert all(len(t) == 34 for t in texts)
    greedy = invoke("sample", ck, "--prime", "the ", "--length", "30",
                    "--num-samples", "2", "--argmax")  # fmt: skip
    assert greedy.stdout.split("\n" + "-" * 15 + "\n")[0] == argmax.stdout.rstrip("\n")


def test_prime_file_and_word_samples(tmp_path):
    ck = str(FIX / "word-0.1.0.npz")
    (tmp_path / "p.txt").write_text("the cat", encoding="utf-8")
    a = invoke("sample", ck, "--prime-file", str(tmp_path / "p.txt"), "--seed", "1")
    b = invoke("sample", ck, "--prime", "the cat", "--seed", "1")
    assert a.exit_code == 0 and a.stdout == b.stdout
    r = invoke("sample", ck, "--num-samples", "4", "--prime", "the", "--seed", "2")
    lines = r.stdout.splitlines()
    assert r.exit_code == 0 and len(lines) == 4
    assert all(ln.lower().startswith("the") for ln in lines)
    beam = invoke("sample", ck, "--beam", "3")
    assert beam.exit_code == 0 and len(beam.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--top-k", "0"], "--top-k must be at least 1"),
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["--beam", "99"], "wider than the vocabulary"),
        (["--beam", "2", "--top-k", "3"], "--top-k would change nothing"),
        (["--length-penalty", "1"], "give --beam N"),
        (["--prime", "zebra"], "outside the vocabulary"),
        (["--num-samples", "0"], "--num-samples must be at least 1"),
        (["--prime", "a", "--prime-file", "x"], "not both"),
        (["--prime-file", "/nonexistent/p.txt"], "no such file"),
    ],
)
def test_bad_sampling_options_are_one_line(args, needle):
    r = invoke("sample", str(FIX / "word-0.1.0.npz"), *args)
    one_line_error(r, needle)
