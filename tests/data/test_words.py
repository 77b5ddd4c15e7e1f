"""The word pipeline: tokens, vocabulary, initial loss, training, generation, perplexity."""

import math

import numpy as np
import pytest

import pytrnn
from pytrnn.data.words import (
    END_ID,
    START_ID,
    UNK_ID,
    UNKNOWN,
    WordVocab,
    bucket,
    detokenize,
    prepare,
    split_sentences,
    tokenize,
)
from pytrnn.runtime.sampling import sample_sentence, sample_sentences
from pytrnn.runtime.scoring import mean_word_loss, perplexity
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter

PARAGRAPH = (
    "The cat sat on the mat. The dog sat on the log!\n"
    "Did the cat see the dog? It did not.\n\n"
    "A new paragraph with no full stop"
)


def test_tokenizer_and_sentences():
    assert tokenize("Don't stop, Mr. O'Hara-Smith!") == [
        "don't",
        "stop",
        ",",
        "mr",
        ".",
        "o'hara-smith",
        "!",
    ]
    assert tokenize("Keep Case", lower=False) == ["Keep", "Case"]
    sents = split_sentences(PARAGRAPH)
    assert sents[0] == ["the", "cat", "sat", "on", "the", "mat", "."]
    assert sents[2] == ["did", "the", "cat", "see", "the", "dog", "?"]
    assert sents[-1] == ["a", "new", "paragraph", "with", "no", "full", "stop"]
    assert len(sents) == 5


def test_vocabulary_counts_specials_and_unknown():
    sents = split_sentences(PARAGRAPH)
    v = WordVocab.build(sents, size=3)
    # counts: the=6, then "." cat did dog on sat = 2 each: top 3 by count, then a-z
    assert v.symbols[:3] == ("<unk>", "<s>", "</s>")
    assert v.symbols[3:] == ("the", ".", "cat")
    assert v.size == 6
    x, y = v.encode_sentence(["the", "zebra", "."])
    assert list(x) == [START_ID, v.index["the"], UNK_ID, v.index["."]]
    assert list(y) == [v.index["the"], UNK_ID, v.index["."], END_ID]
    assert v.symbols[UNK_ID] == UNKNOWN


def test_vocabulary_ties_are_alphabetical():
    v = WordVocab.build([["b", "a", "c", "a", "b"]], size=10)
    assert v.symbols[3:] == ("a", "b", "c")


def test_buckets_cover_and_are_few():
    for n in range(1, 300):
        assert bucket(n) >= n
    assert len({bucket(n) for n in range(1, 52)}) <= 9


def test_detokenize():
    assert detokenize(["hello", ",", "world", "!"]) == "Hello, world!"


def test_initial_word_loss_is_ln_v(rng):
    """At initialisation the mean loss per word is within 2% of ln(V) (WildML: 8.987)."""
    V = 8003
    model = pytrnn.RNN(pytrnn.RNNConfig(vocab_size=V, hidden=100), mode="scan", seed=0)
    total, words = 0.0, 0
    for n in (5, 9, 14, 20):
        x, y = rng.integers(0, V, n), rng.integers(0, V, n)
        total += model.seq_loss(x, y)[1]
        words += n
    assert total / words == pytest.approx(math.log(V), rel=0.02)


def test_perplexity_of_zero_weights_is_vocab_size(small_text):
    """Zero weights give uniform probabilities: loss/word = ln V, perplexity = V."""
    vocab, sents, _ = prepare(small_text.read_text(), 50, 50, True)
    seqs = [vocab.encode_sentence(s) for s in sents[:10]]
    model = pytrnn.RNN(pytrnn.RNNConfig(vocab_size=vocab.size, hidden=4), mode="scan")
    model.set_params({k: np.zeros_like(v) for k, v in model.get_params().items()})
    V = vocab.size
    loss = mean_word_loss(model, seqs)
    assert loss == pytest.approx(math.log(V), rel=1e-12)
    assert perplexity(loss) == pytest.approx(V, rel=1e-9)


@pytest.fixture(scope="module")
def word_run(tmp_path_factory):
    text = (
        "the cat sat on the mat . the dog sat on the log . "
        "a cat and a dog sat . the cat saw the dog . the dog saw the cat . "
    ) * 30
    d = tmp_path_factory.mktemp("words")
    (d / "t.txt").write_text(text)
    cfg = pytrnn.TrainConfig(
        corpus=str(d / "t.txt"),
        level="word",
        passes=3,
        checkpoint=str(d / "w.npz"),
        val_frac=0.1,
        seed=3,
    )
    return train(
        pytrnn.RNNConfig(hidden=16, lr=0.05, reg=0.0),
        cfg,
        reporter=PrintReporter(quiet=True),
    )


def test_word_loss_falls_over_three_passes(word_run):
    h = word_run.history
    assert [r["pass"] for r in h] == [1, 2, 3]
    assert h[-1]["train_word_loss"] < 0.8 * h[0]["train_word_loss"]
    assert h[-1]["val_ppl"] < h[0]["val_ppl"]
    # val_ppl against numpy from the checkpoint's own arrays: tests/training/test_runs.py


def test_generated_sentences_end_and_are_reproducible(word_run):
    from pytrnn.runtime.checkpoint import load

    ck = load(word_run.path)
    assert ck.level == "word" and ck.vocab[:3] == ["<unk>", "<s>", "</s>"]
    vocab = WordVocab(tuple(ck.vocab))
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert len(sample_sentence(word_run.model, vocab, rng, max_words=200)) < 200
    a = sample_sentences(word_run.model, vocab, n=3, seed=5)
    assert a == sample_sentences(word_run.model, vocab, n=3, seed=5)


@pytest.fixture
def biased(word_run):
    """The trained model with its output bias pushed towards some ids; restored after."""
    model = word_run.model
    saved = model.get_params()

    def push(**bias):
        P = {k: v.copy() for k, v in saved.items()}
        for i, b in bias.items():
            P["by"][{"unk": UNK_ID, "start": START_ID, "end": END_ID}[i]] = b
        model.set_params(P)
        return model, WordVocab(tuple(load_vocab(word_run.path)))

    yield push
    model.set_params(saved)


def load_vocab(path):
    from pytrnn.runtime.checkpoint import load

    return load(path).vocab


def test_unknown_and_start_are_never_drawn_even_when_likely(biased):
    """With <unk> and <s> at p ~ 0.5 each, not one of them may come out."""
    model, vocab = biased(unk=30.0, start=30.0)
    rng = np.random.default_rng(0)
    words = [
        w for _ in range(10) for w in sample_sentence(model, vocab, rng, max_words=8)
    ]
    assert words, "the sampler drew nothing"
    assert UNKNOWN not in words and "<s>" not in words


def test_min_words_holds_end_back(biased):
    """With </s> at p ~ 1 the natural sentence is empty; --min-words 6 gives exactly
    6 words (END held back until then, drawn at once after), and no <unk> or <s>
    although they are the most likely once END is held back."""
    model, vocab = biased(end=60.0, unk=30.0, start=30.0)
    rng = np.random.default_rng(1)
    assert sample_sentence(model, vocab, rng, max_words=50) == []
    for _ in range(5):
        words = sample_sentence(model, vocab, rng, min_words=6, max_words=50)
        assert len(words) == 6, words
        assert UNKNOWN not in words and "<s>" not in words
