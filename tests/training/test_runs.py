"""Runs that lose nothing: resume writes back, no run overwrites another, the best
pass is kept, train/valid/test texts, word sampling options, interrupts anywhere."""

import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, one_line_error, signal_once_training, spawn
from numpy_ref import forward

from pytrnn.runtime import checkpoint as ck

ROOT = Path(__file__).resolve().parents[2]
CHAR = [
    "--hidden",
    "8",
    "--window",
    "10",
    "--limit-chars",
    "3000",
    "--mode",
    "scan",
    "--sample-length",
    "0",
]
TRAIN = (
    "the cat sat on the mat . the dog sat on the log . a cat saw a dog . "
    "the dog saw the cat . a dog sat on a mat . "
) * 12
VALID = "the zebra sat on the mat . the cat saw the dog . "  # zebra: not in train
TEST = "a dog saw the yak . the cat sat . "  # yak: not in train


# -- resume writes back; nothing overwrites another run -----------------------------


def test_sigterm_saves_and_the_printed_command_continues_the_run(tmp_path):
    """SIGTERM saves like SIGINT; the printed resume command, run as printed, writes
    back to the same checkpoint and ends the run: every pass logged exactly once."""
    cut, log = tmp_path / "cut.npz", tmp_path / "run.jsonl"
    proc = spawn(
        "train",
        "--hidden",
        "8",
        "--window",
        "10",
        "--limit-chars",
        "40000",
        "--passes",
        "12",
        "--checkpoint",
        cut,
        "--log",
        log,
        "--sample-length",
        0,
    )
    out, err = signal_once_training(proc, signal.SIGTERM, 0.3)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    stopped = ck.load(cut)
    assert stopped.passes_done < 12
    command = re.search(r"Resume with: (pytrnn train .*)$", err.strip()).group(1)
    assert command == f"pytrnn train --resume {cut} --passes 12 --log {log}"
    r = invoke(*shlex.split(command)[1:])
    assert r.exit_code == 0, r.output
    done = ck.load(cut)
    assert done.passes_done == 12
    windows = done.iseq  # windows trained over all passes, the interrupted one too
    assert windows % 12 == 0 and done.history[-1]["iseq"] == windows - 1
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    logged = [r["pass"] for r in lines if "pass" in r]
    assert logged == list(range(1, 13))
    starts = [r["run"]["passes_done"] for r in lines if "run" in r]
    assert starts[0] == 0 and len(starts) == 2  # the run, then where it resumed


def test_word_run_stopped_by_sigint_then_sigterm_resumes_bitwise(small_text, tmp_path):
    """A word-level stream run with carried state and dropout, in a folder whose
    name needs quoting: SIGINT, then SIGTERM on the run resumed by pasting the
    printed command into a shell, then the pasted command once more to the end,
    trains bitwise what an unstopped run trains."""
    folder = tmp_path / "sp dir"
    folder.mkdir()
    cut, full = folder / "x y.npz", tmp_path / "full.npz"
    args = [
        "train",
        "--corpus",
        small_text,
        "--level",
        "word",
        "--layout",
        "stream",
        "--carry-state",
        "--batch",
        2,
        "--hidden",
        8,
        "--window",
        6,
        "--dropout",
        0.2,
        "--val-frac",
        0.1,
        "--passes",
        120,
        "--seed",
        3,
        "--sample-length",
        0,
    ]

    def pasted(command):
        """The printed command as a shell runs it (exec: the signal reaches it)."""
        line = command.replace(
            "pytrnn", f"exec {shlex.quote(sys.executable)} -m cli", 1
        )
        return subprocess.Popen(
            line,
            shell=True,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    proc = spawn(*args, "--checkpoint", cut)
    for sig in (signal.SIGINT, signal.SIGTERM):
        out, err = signal_once_training(proc, sig, 0.3)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        command = re.search(r"Resume with: (pytrnn train .*)$", err.strip()).group(1)
        assert shlex.quote(str(cut)) in command
        assert ck.load(cut).passes_done < 120
        proc = pasted(command)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    r = invoke(*args, "--checkpoint", full)
    assert r.exit_code == 0, r.output
    a, b = ck.load(full), ck.load(cut)
    assert a.iseq == b.iseq and a.passes_done == b.passes_done == 120
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    np.testing.assert_array_equal(a.carry, b.carry)
    assert [h["val_ppl"] for h in a.history] == [h["val_ppl"] for h in b.history]


def test_a_new_run_never_overwrites_another(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("train", *CHAR, "--passes", 1).exit_code == 0  # runs/pydoc-char.npz
    first = tmp_path / "runs" / "pydoc-char.npz"
    before = first.read_bytes()
    r = invoke("train", *CHAR, "--passes", 2, "--hidden", 12)
    one_line_error(r, "runs/pydoc-char.npz", "--resume", "--overwrite", "1 passes done")
    assert first.read_bytes() == before and ck.load(first).cfg.hidden == 8
    r = invoke("train", *CHAR, "--passes", 1, "--hidden", 12, "--overwrite")
    assert r.exit_code == 0, r.output
    assert ck.load(first).cfg.hidden == 12
    # resuming into a path that holds another run is refused the same way
    other = tmp_path / "other.npz"
    assert invoke("train", *CHAR, "--passes", 1, "--checkpoint", other).exit_code == 0
    one_line_error(
        invoke("train", "--resume", first, "--passes", 2, "--checkpoint", other),
        "other.npz",
    )


def test_resume_saves_back_and_may_change_the_learning_rate(tmp_path):
    a = tmp_path / "a.npz"
    assert invoke("train", *CHAR, "--passes", 1, "--checkpoint", a).exit_code == 0
    r = invoke("train", "--resume", a, "--passes", 2, "--lr", 0.05)
    assert r.exit_code == 0, r.output
    assert "resuming with lr 0.05 (was 0.01)" in r.stdout
    back = ck.load(a)
    assert back.passes_done == 2 and back.cfg.lr == 0.05
    assert [h["lr"] for h in back.history] == [0.01, 0.05]
    assert not (tmp_path / "runs").exists()


def test_checkpoints_get_the_mode_the_umask_gives(tmp_path):
    from pytrnn.config import RNNConfig
    from pytrnn.graphs.params import init_params

    cfg = RNNConfig(vocab_size=3, hidden=2)
    c = ck.Checkpoint(
        cfg=cfg, params=init_params(cfg, np.random.default_rng(0)), vocab=list("abc")
    )
    old = os.umask(0o022)
    try:
        assert ck.save(tmp_path / "a.npz", c).stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert ck.save(tmp_path / "b.npz", c).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_ctrl_c_while_compiling_is_one_line_and_exit_130(tmp_path):
    ckpt = tmp_path / "m.npz"
    proc = spawn(
        "train",
        "--mode",
        "unroll",
        "--hidden",
        "8",
        "--window",
        "40",
        "--limit-chars",
        "3000",
        "--checkpoint",
        ckpt,
    )
    for line in proc.stdout:
        if line.startswith("corpus "):  # printed just before compiling
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "compiled" not in out  # it stopped before training
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], err
    assert not ckpt.exists()


# -- train/valid/test texts and the best pass -----------------------------------


@pytest.fixture(scope="module")
def split_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    corpus = d / "corpus"
    corpus.mkdir()
    (corpus / "train.txt").write_text(TRAIN)
    (corpus / "valid.txt").write_text(VALID)
    (corpus / "test.txt").write_text(TEST)
    path = d / "w.npz"
    r = invoke(*split_args(corpus, 6), "--checkpoint", path)
    assert r.exit_code == 0, r.output
    return r, path, corpus


def split_args(corpus, passes):
    return [
        "train",
        "--corpus",
        corpus,
        "--level",
        "word",
        "--tokenizer",
        "regex",
        "--hidden",
        12,
        "--lr",
        0.3,
        "--reg",
        0,
        "--passes",
        passes,
        "--seed",
        1,
    ]


def numpy_word_loss(params, vocab, text):
    """Mean loss per word (END included) of a text, from the arrays alone."""
    from pytrnn.data.words import WordVocab, split_sentences

    v = WordVocab(tuple(vocab))
    total, words = 0.0, 0
    for s in split_sentences(text):
        x, y = v.encode_sentence(s)
        _, ps = forward(params, x)
        total -= np.log(ps[np.arange(len(y)), y]).sum()
        words += len(y)
    return total / words


def test_resuming_a_sentence_run_as_a_stream_names_both_layouts(split_run, tmp_path):
    _, path, corpus = split_run
    r = invoke(
        "train",
        "--resume",
        path,
        "--passes",
        7,
        "--layout",
        "stream",
        "--checkpoint",
        tmp_path / "s.npz",
    )
    one_line_error(r, "--layout is sentences in the checkpoint, but stream was given")


def test_corpus_folder_gives_valid_and_test_with_the_training_vocabulary(split_run):
    r, path, _ = split_run
    last = ck.load(path)
    assert "zebra" not in last.vocab and "yak" not in last.vocab
    assert set(last.vocab[3:]) == set(TRAIN.split())  # train.txt's words alone
    # by hand: valid.txt's two sentences have 7 + 6 words, one of them (zebra)
    # <unk>; test.txt's have 6 + 4 words, one of them (yak) <unk>
    assert "2 held out (7.7% <unk>), 2 for test (10.0% <unk>)" in r.stdout
    # the last pass's validation loss, from the checkpoint's own arrays in numpy
    want = numpy_word_loss(last.params, last.vocab, VALID)
    assert last.history[-1]["val_word_loss"] == pytest.approx(want, rel=1e-9)
    assert last.history[-1]["val_ppl"] == pytest.approx(math.exp(want), rel=1e-9)
    # test: once, at the end, with the best pass's parameters
    best = ck.load(path.with_name("w.best.npz"))
    t = last.run.test
    assert t["pass"] == best.passes_done
    assert t["loss_per_word"] == pytest.approx(
        numpy_word_loss(best.params, best.vocab, TEST), rel=1e-9
    )
    assert f"ppl={t['ppl']:.2f}" in r.stdout and "test (pass" in r.stdout


def test_best_checkpoint_is_the_pass_with_the_lowest_validation_loss(
    split_run, tmp_path
):
    _, path, corpus = split_run
    last, best = ck.load(path), ck.load(path.with_name("w.best.npz"))
    val = [h["val_word_loss"] for h in last.history]
    assert best.passes_done == int(np.argmin(val)) + 1
    assert best.history == last.history[: best.passes_done]
    # the same run trained for just that many passes has the same parameters
    again = tmp_path / "again.npz"
    r = invoke(*split_args(corpus, best.passes_done), "--checkpoint", again)
    assert r.exit_code == 0, r.output
    for k, v in ck.load(again).params.items():
        np.testing.assert_allclose(best.params[k], v, rtol=1e-12, atol=1e-15, err_msg=k)


def overfitting_run(tmp_path, path, *extra):
    """8 word-level passes at a high rate, whose validation loss rises again."""
    (tmp_path / "t.txt").write_text(TRAIN)
    (tmp_path / "v.txt").write_text("the mat saw a log . a log sat on the dog . " * 3)
    r = invoke(
        "train",
        "--corpus",
        tmp_path / "t.txt",
        "--valid",
        tmp_path / "v.txt",
        "--level",
        "word",
        "--hidden",
        16,
        "--lr",
        0.5,
        "--reg",
        0,
        "--passes",
        8,
        "--checkpoint",
        path,
        *extra,
    )
    assert r.exit_code == 0, r.output
    return r


def test_best_pass_is_not_simply_the_last(tmp_path):
    """A run whose validation loss rises again keeps the earlier, better pass."""
    path = tmp_path / "o.npz"
    r = overfitting_run(tmp_path, path)
    val = [h["val_word_loss"] for h in ck.load(path).history]
    best = ck.load(tmp_path / "o.best.npz")
    assert best.passes_done == int(np.argmin(val)) + 1 < 8, val
    assert "*best*" in r.stdout


def test_char_level_valid_file_skips_unknown_chars(tmp_path):
    (tmp_path / "t.txt").write_text("abcab cabca " * 30)
    (tmp_path / "v.txt").write_text("abZc abc! " * 5)
    r = invoke(
        "train",
        "--corpus",
        tmp_path / "t.txt",
        "--valid",
        tmp_path / "v.txt",
        "--test",
        tmp_path / "v.txt",
        "--hidden",
        4,
        "--window",
        5,
        "--passes",
        1,
        "--checkpoint",
        tmp_path / "c.npz",
        "--sample-length",
        0,
    )
    assert r.exit_code == 0, r.output
    assert "(10 valid chars outside the vocabulary skipped)" in r.stdout
    assert "test (pass 1): loss/char=" in r.stdout
    assert "val_bpc" in ck.load(tmp_path / "c.npz").history[0]


# -- word sampling honours its options ------------------------------------------


def test_word_sample_prime_argmax_and_length(split_run):
    _, path, _ = split_run
    r = invoke("sample", path, "--prime", "The dog", "--sentences", 3, "--seed", 4)
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and all(s.startswith("The dog") for s in lines), lines
    a = invoke("sample", path, "--argmax", "--sentences", 2, "--seed", 1).stdout
    b = invoke("sample", path, "--argmax", "--sentences", 2, "--seed", 2).stdout
    assert a == b and len(set(a.strip().splitlines())) == 1  # no randomness left
    capped = invoke("sample", path, "--length", 2, "--sentences", 4, "--min-words", 5)
    assert capped.exit_code == 0, capped.output
    assert all(len(s.split()) <= 2 for s in capped.stdout.strip().splitlines())
    one_line_error(invoke("sample", path, "--prime", "the zebra"), "'zebra'")


@pytest.mark.parametrize("words", [1, 25, 60])
def test_word_sample_length_counts_words_in_sentences(split_run, words):
    """--sample-length at the word level: sentences until they hold that many words,
    the last one cut there (never more words than asked), the same draws as
    ``sample_sentences``."""
    from pytrnn.data.words import WordVocab, detokenize
    from pytrnn.runtime.sampling import sample_sentences, sentences_until
    from pytrnn.tools.generate import load_model, sentence_start

    _, path, _ = split_run
    model, ck = load_model(path)
    vocab = WordVocab(tuple(ck.vocab))
    got = sentences_until(model, vocab, words, seed=3, start=sentence_start(ck))
    counts = [max(1, len(s)) for s in got]
    assert sum(counts) >= words > sum(counts[:-1])
    assert sum(len(s) for s in got) <= words
    same = sample_sentences(model, vocab, n=len(got), seed=3, start=sentence_start(ck))
    assert [detokenize(s) for s in got[:-1]] == same[:-1]
    assert same[-1].startswith(detokenize(got[-1]))  # the last, cut


def test_char_checkpoint_rejects_word_options(tmp_path):
    path = tmp_path / "c.npz"
    assert invoke("train", *CHAR, "--passes", 1, "--checkpoint", path).exit_code == 0
    one_line_error(
        invoke("sample", path, "--sentences", 3), "--sentences", "char level"
    )
    one_line_error(invoke("sample", path, "--min-words", 3), "--min-words")


# -- long sentences and the word-level shuffle ------------------------------------


def test_long_sentences_report_their_share_of_words_and_zero_lifts_the_limit(tmp_path):
    text = "a b c . " * 10 + " ".join(["w"] * 9) + " .\n"  # 10 x 4 words + 10 words
    (tmp_path / "t.txt").write_text(text)
    base = [
        "train",
        "--corpus",
        tmp_path / "t.txt",
        "--level",
        "word",
        "--hidden",
        4,
        "--passes",
        1,
        "--sample-length",
        0,
        "--val-frac",
        0,
    ]
    r = invoke(*base, "--max-sentence-len", 5, "--checkpoint", tmp_path / "a.npz")
    assert r.exit_code == 0, r.output
    assert "1 skipped as longer than 5 words (20.0% of the words)" in r.stdout
    assert "10 train sentences (50 words)" in r.stdout  # 4 words + END each
    r = invoke(*base, "--max-sentence-len", 0, "--checkpoint", tmp_path / "b.npz")
    assert r.exit_code == 0, r.output
    assert "11 train sentences (61 words)" in r.stdout and "no length limit" in r.stdout


def test_word_shuffle_is_seeded_and_new_each_pass():
    from pytrnn.config import TrainConfig
    from pytrnn.training.sentences import Sentences

    def order(seed, p):
        cfg = TrainConfig(level="word", seed=seed, backend="c")
        return Sentences(cfg, [(np.zeros(3), np.zeros(3))] * 50, "c").order(p)

    np.testing.assert_array_equal(order(3, 0), order(3, 0))
    assert sorted(order(3, 0)) == list(range(50))
    assert not np.array_equal(order(3, 0), order(3, 1))
    assert not np.array_equal(order(3, 0), order(4, 0))


def test_save_every_writes_inside_a_pass(tmp_path, monkeypatch):
    """--save-every 0 writes after every chunk of windows, mid-pass; the default (60 s)
    only after the pass on a run this short."""
    import pytrnn
    import pytrnn.training.loop as loop
    from pytrnn.training import train
    from pytrnn.training.progress import PrintReporter

    saves = []
    real = ck.save

    def spy(path, c):
        saves.append((c.passes_done, c.window))
        return real(path, c)

    monkeypatch.setattr(loop.ckpt_io, "save", spy)
    for every, name in ((0.0, "a"), (60.0, "b")):
        saves.clear()
        cfg = pytrnn.TrainConfig(
            limit_chars=2000,
            passes=1,
            fuse=64,
            save_every=every,
            checkpoint=str(tmp_path / f"{name}.npz"),
            sample_length=0,
        )
        train(pytrnn.RNNConfig(hidden=4, window=10), cfg, PrintReporter(quiet=True))
        if every == 0:  # 199 windows in chunks of 64: saved at 64, 128 and 192
            assert saves == [(0, 64), (0, 128), (0, 192), (1, 0)]
        else:
            assert saves == [(1, 0)]


# -- learning-rate schedules -----------------------------------------------------


def test_lr_decay_changes_the_steps_and_resumes_exactly(tmp_path):
    """char-rnn's decay: pass p trains at lr * 0.5^max(0, p - 1) with
    --lr-decay-after 1. The decayed run equals one trained pass by pass at those
    fixed rates, and a resumed decayed run equals an uninterrupted one."""
    sched = ["--lr-decay", 0.5, "--lr-decay-after", 1]
    full, part, fixed = (
        tmp_path / "full.npz",
        tmp_path / "part.npz",
        tmp_path / "fx.npz",
    )
    r = invoke("train", *CHAR, *sched, "--passes", 3, "--checkpoint", full)
    assert r.exit_code == 0, r.output
    a = ck.load(full)
    assert [h["lr"] for h in a.history] == [0.01, 0.005, 0.0025]
    assert "lr 0.0025" in r.stdout
    assert (
        invoke("train", *CHAR, *sched, "--passes", 1, "--checkpoint", part).exit_code
        == 0
    )
    assert (
        invoke("train", "--resume", part, "--passes", 3).exit_code == 0
    )  # keeps the schedule
    b = ck.load(part)
    assert [h["lr"] for h in b.history] == [0.01, 0.005, 0.0025]
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert invoke("train", *CHAR, "--passes", 1, "--checkpoint", fixed).exit_code == 0
    for lr, p in ((0.005, 2), (0.0025, 3)):
        assert (
            invoke("train", "--resume", fixed, "--passes", p, "--lr", lr).exit_code == 0
        )
    c = ck.load(fixed)
    for k in a.params:
        np.testing.assert_allclose(
            a.params[k], c.params[k], rtol=1e-9, atol=1e-12, err_msg=k
        )


def test_anneal_on_plateau_divides_by_four_when_validation_stalls(tmp_path):
    path = tmp_path / "p.npz"
    overfitting_run(tmp_path, path, "--anneal-on-plateau")
    h = ck.load(path).history
    best = float("inf")
    stalled = 0
    for prev, nxt in zip(h, h[1:]):
        improved = prev["val_word_loss"] < best
        best = min(best, prev["val_word_loss"])
        assert nxt["lr"] == pytest.approx(prev["lr"] if improved else prev["lr"] / 4)
        stalled += not improved
    assert stalled >= 1, [x["val_word_loss"] for x in h]  # the rule was exercised


# -- pytrnn eval -------------------------------------------------------------------


def test_eval_char_level_against_numpy(tmp_path):
    """Consecutive windows from the first char, the last partial one included, each
    from h = 0; characters outside the vocabulary counted and skipped."""
    from numpy_ref import forward as rnn_forward

    import pytrnn

    path = tmp_path / "c.npz"
    assert invoke("train", *CHAR, "--passes", 1, "--checkpoint", path).exit_code == 0
    text = "The quick brown fox: pydoc's text, plus ¤ and ¤ (two unknown)."
    (tmp_path / "e.txt").write_text(text)
    r = pytrnn.evaluate(path, tmp_path / "e.txt")
    c = ck.load(path)
    index = {s: i for i, s in enumerate(c.vocab)}
    ids = np.array([index[ch] for ch in text if ch in index])
    L, total = c.cfg.window, 0.0
    for i in range(0, len(ids) - 1, L):
        y = ids[i + 1 : i + 1 + L]
        _, ps = rnn_forward(c.params, ids[i : i + len(y)])
        total -= np.log(ps[np.arange(len(y)), y]).sum()
    skipped = len(text) - len(ids)  # the two ¤, and any other char the 3000 lack
    assert r["skipped_chars"] == skipped >= 2 and r["chars"] == len(ids) - 1
    assert r["loss_per_char"] == pytest.approx(total / (len(ids) - 1), rel=1e-9)
    out = invoke("eval", path, "--corpus", tmp_path / "e.txt")
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith(
        f"loss/char={r['loss_per_char']:.4f} bits/char={r['bpc']:.4f}"
    )
    assert f"{skipped} outside the vocabulary skipped" in out.stdout


def test_eval_word_level_against_numpy(split_run, tmp_path):
    _, path, _ = split_run
    c = ck.load(path)
    (tmp_path / "e.txt").write_text(TEST)
    out = invoke("eval", path, "--corpus", tmp_path / "e.txt")
    assert out.exit_code == 0, out.output
    want = numpy_word_loss(c.params, c.vocab, TEST)
    assert out.stdout.startswith(f"loss/word={want:.4f} ppl={math.exp(want):.2f}")
    assert "10.0% <unk>" in out.stdout
    (tmp_path / "folder").mkdir()  # the standard layout train takes: its test.txt
    (tmp_path / "folder" / "test.txt").write_text(TEST)
    again = invoke("eval", path, "--corpus", tmp_path / "folder")
    assert again.exit_code == 0 and again.stdout == out.stdout, again.output
    (tmp_path / "folder" / "test.txt").unlink()
    one_line_error(invoke("eval", path, "--corpus", tmp_path / "folder"), "valid.txt")


def test_eval_bad_input_is_one_line(tmp_path, split_run):
    _, path, _ = split_run
    one_line_error(invoke("eval", path, "--corpus", tmp_path / "none.txt"), "not found")
    (tmp_path / "empty.txt").write_text("")
    one_line_error(invoke("eval", path, "--corpus", tmp_path / "empty.txt"), "empty")
    (tmp_path / "t.txt").write_text("hello")
    one_line_error(
        invoke("eval", tmp_path / "none.npz", "--corpus", tmp_path / "t.txt"),
        "checkpoint not found",
    )
