"""Standard-format corpora (WikiText, Penn Treebank) read exactly as PyTorch's
word_language_model reads them, held to a plain-Python transcription of its
``data.Corpus`` (a file opened in text mode, utf8; each line's ``split()`` plus
``<eos>``; ``Dictionary.add_word`` over train, valid and test in turn)."""

import pytest

import pytrnn
from pytrnn.data.corpora import load_texts
from pytrnn.data.words import (
    EOS,
    WordVocab,
    read_units,
    stream_ids,
    stream_unknown_rate,
)
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter

# blank lines, CRLF and a lone CR, tabs, no-break and ideographic spaces (split()
# splits on them, line iteration does not), <unk> and @-@ as tokens, no final newline
TRAIN = (
    "= Title =\r\n\r\n the cat sat\ton the mat . \n@-@ 1 @,@ 000 <unk>\rword\xa0next\x85more"
    " line\u3000here\n\n \nÉcole and the cat\n last"
)
VALID = "the dog <unk> sat\n\nthe cat\n"
TEST = "mat . the\nnew words here\n"


def corpus_transcription(files: dict) -> tuple[dict, dict]:
    """data.Corpus: (word2idx, token count per file)."""
    word2idx, counts = {}, {}
    for name in ("train", "valid", "test"):
        n = 0
        with open(files[name], encoding="utf8") as f:
            for line in f:
                for word in line.split() + ["<eos>"]:
                    if word not in word2idx:
                        word2idx[word] = len(word2idx)
                    n += 1
        counts[name] = n
    return word2idx, counts


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "wt"
    d.mkdir()
    files = {}
    for name, text in (("train", TRAIN), ("valid", VALID), ("test", TEST)):
        files[name] = d / f"{name}.txt"
        files[name].write_bytes(text.encode("utf-8"))
    return d, files


def test_token_counts_and_ids_equal_data_corpus(folder):
    d, files = folder
    word2idx, counts = corpus_transcription(files)
    texts = load_texts(str(d))
    lines = {
        k: read_units(getattr(texts, k), "whitespace", lower=True)
        for k in ("train", "valid", "test")
    }
    vocab = WordVocab.from_lines(lines["train"], lines["valid"] + lines["test"])
    ids = {k: stream_ids(vocab, v) for k, v in lines.items()}
    assert {k: len(v) for k, v in ids.items()} == counts
    # the training text's ids are data.Corpus's (its dictionary's first entries);
    # its later entries are the held-out words the training text lacks
    with open(files["train"], encoding="utf8") as f:
        want = [w for line in f for w in line.split() + [EOS]]
    assert [vocab.symbols[i] for i in ids["train"]] == want
    assert vocab.index == dict(list(word2idx.items())[: vocab.size])
    assert set(list(word2idx)[vocab.size :]) == {"dog", "new", "words"}
    assert vocab.symbols[vocab.end_id] == EOS and "<unk>" in vocab.index
    # held-out words outside the training text are <unk> and counted as such
    dog_and_new = 1 + 2  # "dog"; "new", "words" ("here" is in train)
    unk_in_text = 1
    held = list(ids["valid"]) + list(ids["test"])
    assert held.count(vocab.unk_id) == dog_and_new + unk_in_text
    assert stream_unknown_rate(ids["valid"], vocab) == pytest.approx(2 / 6)


def test_a_corpus_with_no_unknown_words_keeps_data_corpus_vocabulary(tmp_path):
    d = tmp_path / "c"
    d.mkdir()
    for name, text in (
        ("train", "a b <unk>\nc a\n"),
        ("valid", "a c\n"),
        ("test", "b\n"),
    ):
        (d / f"{name}.txt").write_text(text)
    word2idx, _ = corpus_transcription(
        {k: d / f"{k}.txt" for k in ("train", "valid", "test")}
    )
    texts = load_texts(str(d))
    lines = [
        read_units(t, "whitespace", True)
        for t in (texts.train, texts.valid, texts.test)
    ]
    vocab = WordVocab.from_lines(lines[0], lines[1] + lines[2])
    assert vocab.index == word2idx  # the same size and the same ids


def test_training_on_a_folder_reads_whitespace_tokens(folder, tmp_path):
    """The trainer's own figures: a folder defaults to whitespace tokens and the
    stream layout, counts and vocabulary as data.Corpus, nothing lower-cased."""
    d, files = folder
    _, counts = corpus_transcription(files)
    out = []
    rep = PrintReporter()
    rep.line = out.append
    r = train(
        pytrnn.RNNConfig(hidden=3, window=4),
        pytrnn.TrainConfig(
            corpus=str(d),
            level="word",
            passes=1,
            sample_length=5,
            checkpoint=str(tmp_path / "w.npz"),
        ),
        reporter=rep,
    )
    first = out[0]
    assert f"stream of {counts['train']} tokens" in first
    assert (
        f"{counts['valid']} held out" in first and f"{counts['test']} for test" in first
    )
    assert "École" in r.checkpoint.vocab and "<unk>" in r.checkpoint.vocab
    assert r.checkpoint.run.tokenizer == "whitespace"
    assert r.checkpoint.run.layout("word") == "stream"
    from pytrnn.tools.evaluate import evaluate

    got = evaluate(tmp_path / "w.npz", files["valid"])
    assert got["words"] == counts["valid"] - 1
