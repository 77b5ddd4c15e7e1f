"""Runs that lose nothing, part 3: the seventeen commands a careless or hostile user
typed (and the minor ones) each end in one line and exit 2, or work where working
is the fix, and nothing a user had is replaced. (The mid-pass saves of every
training branch: tests/training/test_mid_pass_saves.py.)"""

import io
import json
import zipfile

import numpy as np
import pytest
import tomllib
from helpers import invoke, one_line_error, serve

from pytrnn.files import claim
from pytrnn.runtime import checkpoint as ck
from pytrnn.training.loop import best_path

TINY = [
    "--hidden",
    "6",
    "--window",
    "10",
    "--limit-chars",
    "2000",
    "--mode",
    "scan",
    "--sample-length",
    "0",
    "--backend",
    "jax",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A three-pass char run with validation (its best pass kept beside it), and a
    whitespace corpus folder whose held-out words are all in its training text."""
    d = tmp_path_factory.mktemp("runs")
    path = d / "r.npz"
    r = invoke(
        "train",
        *TINY,
        "--val-frac",
        0.2,
        "--passes",
        3,
        "--lr",
        0.05,
        "--checkpoint",
        path,
    )
    assert r.exit_code == 0, r.output
    words = d / "words"
    words.mkdir()
    line = "the cat sat on the mat and the dog sat on the log\n"
    (words / "train.txt").write_text(line * 30, encoding="utf-8")
    (words / "valid.txt").write_text(line * 3, encoding="utf-8")
    return path, words


def same_files(*paths):
    """The bytes of every file now, to hold against after a refused command."""
    return {p: p.read_bytes() for p in paths}


# -- 1: mid-pass saves: tests/training/test_mid_pass_saves.py ----------------------

# -- 2, 3: the best file ----------------------------------------------------------


def test_resuming_a_best_file_never_writes_over_it(runs, tmp_path):
    src, _ = runs
    best = tmp_path / "x.best.npz"
    best.write_bytes(best_path(src).read_bytes())
    kept = same_files(best)
    one_line_error(
        invoke("train", "--resume", best, "--passes", 4),
        "best pass",
        "--checkpoint",
        "x-from-best.npz",
    )
    one_line_error(
        invoke("train", "--resume", best, "--passes", 4, "--checkpoint", best),
        "best pass",
    )
    assert same_files(best) == kept
    new = tmp_path / "x-from-best.npz"
    r = invoke("train", "--resume", best, "--passes", 4, "--checkpoint", new)
    assert r.exit_code == 0, r.output
    assert same_files(best) == kept and ck.load(new).passes_done == 4
    line = next(s for s in r.stdout.splitlines() if s.startswith("checkpoint:"))
    assert ".best.best" not in line and str(new) in line


def test_the_lock_covers_the_best_file_and_the_log(tmp_path):
    path = tmp_path / "q.npz"
    for held, flag in (
        (best_path(path), "--checkpoint"),
        (tmp_path / "log.jsonl", "--log"),
    ):
        with claim(held):
            r = invoke(
                "train",
                *TINY,
                "--passes",
                1,
                "--checkpoint",
                path,
                "--log",
                tmp_path / "log.jsonl",
            )
            one_line_error(r, str(held), "being written by another run", flag)
        assert not path.exists()
    # a run whose checkpoint is another run's best file is stopped by that claim
    with claim(tmp_path / "q.npz"), claim(best_path(path)):
        one_line_error(
            invoke("train", *TINY, "--passes", 1, "--checkpoint", best_path(path)),
            "being written by another run",
        )


# -- 4, 17: recipes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, needles",
    [
        (
            [
                "--recipe",
                "awd-lstm",
                "--dropout",
                0.9,
            ],  # 4: it would train bitwise the same
            ["--dropout 0.9 would change nothing", "--recipe awd-lstm", "--dropouto"],
        ),
        (
            ["--recipe", "awd-lstm", "--softmax", "adaptive", "--cutoffs", "10"],
            ["--tied comes from --recipe awd-lstm", "--no-tied"],
        ),
        (["--recipe", "wlm", "--level", "char"], ["--recipe wlm", "word level"]),
    ],
)
def test_errors_name_the_recipe_behind_a_value_nobody_typed(runs, args, needles):
    _, words = runs
    one_line_error(invoke("train", *args, "--corpus", words, "--passes", 1), *needles)


def test_a_recipes_val_frac_beside_a_validation_file_names_the_recipe(runs):
    _, words = runs
    one_line_error(
        invoke("train", "--recipe", "char-rnn", "--corpus", words),
        "--val-frac 0.05 comes from --recipe char-rnn",
    )


def test_a_recipes_flags_turn_off_from_the_command_line(runs):
    _, words = runs
    r = invoke(
        "train",
        "--recipe",
        "awd-lstm",
        "--corpus",
        words,
        "--no-tied",
        "--no-carry-state",
        "--no-variable-bptt",
        "--no-locked-dropout",
        "--print-config",
    )
    assert r.exit_code == 0, r.output
    got = tomllib.loads(r.stdout)
    for key in ("tied", "carry-state", "variable-bptt", "locked-dropout"):
        assert got[key] is False, key


# -- 5: print-config of a resumed run ------------------------------------------------


def test_print_config_of_a_resumed_run_replays_it(runs, tmp_path):
    src, _ = runs
    part = tmp_path / "r.npz"
    part.write_bytes(src.read_bytes())
    r = invoke("train", "--resume", part, "--passes", 4, "--print-config")
    assert r.exit_code == 0, r.output
    assert "lr" not in tomllib.loads(r.stdout)
    conf = tmp_path / "f.toml"
    conf.write_text(r.stdout, encoding="utf-8")
    r = invoke("train", "--config", conf)
    assert r.exit_code == 0, r.output
    assert "resuming with lr" not in r.stdout
    assert ck.load(part).history[-1]["lr"] == 0.05


# -- 6: held-out shares that hold out nothing ------------------------------------


@pytest.mark.parametrize("extra", [[], ["--nt-asgd", 1]])
def test_a_held_out_share_that_holds_out_nothing_is_refused(tmp_path, extra):
    d = tmp_path / "one"
    d.mkdir()
    (d / "train.txt").write_text("a b c d e f g h i j k l m n o p\n", encoding="utf-8")
    out = ["--checkpoint", tmp_path / "m.npz"]
    one_line_error(
        invoke(
            "train",
            "--corpus",
            d,
            "--level",
            "word",
            "--val-frac",
            0.2,
            "--test-frac",
            0.2,
            "--window",
            3,
            "--hidden",
            4,
            *extra,
            *out,
        ),
        "--val-frac 0.2 of 1 sentence holds out nothing",
    )
    if extra:  # the default share (5% of one line) holds out nothing: NT-ASGD refuses
        one_line_error(
            invoke(
                "train",
                "--corpus",
                d,
                "--level",
                "word",
                "--window",
                3,
                "--hidden",
                4,
                *extra,
                *out,
            ),
            "--nt-asgd",
            "holds no validation out",
        )
    assert not (tmp_path / "m.npz").exists()


def test_a_char_share_that_holds_out_nothing_is_refused(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("abcdefghij" * 4, encoding="utf-8")
    one_line_error(
        invoke(
            "train",
            "--corpus",
            text,
            "--val-frac",
            0.01,
            "--window",
            5,
            "--checkpoint",
            tmp_path / "m.npz",
        ),
        "--val-frac 0.01",
        "holds out nothing",
    )


# -- 7, 13, 14: data fetch -----------------------------------------------------------

BOOK = (
    b"The Four Million\r\nby O. Henry\r\n" + b"The city is a cage of words.\r\n" * 4000
)


def test_fetch_refuses_what_is_not_the_book_and_keeps_the_good_copy(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    good = tmp_path / "4millions.txt"
    html = (
        b"<!DOCTYPE HTML>\n<html><head><title>Directory listing</title></head></html>"
    )
    pages = {
        "/": html,
        "/short.txt": b"The Four Million\n" * 10,
        "/other.txt": b"War and Peace\n" * 10_000,
        "/latin1.txt": b"\xe9t\xe9" * 50_000,
        "/book.txt": BOOK,
    }
    with serve(pages) as url:
        assert (
            invoke(
                "data", "fetch", "four-million", "--url", f"{url}/book.txt"
            ).exit_code
            == 0
        )
        kept = same_files(good)
        for page, needle in (
            ("/", "web page"),
            ("/short.txt", "too few"),
            ("/other.txt", "not the book"),
            ("/latin1.txt", "UTF-8"),
        ):
            one_line_error(
                invoke("data", "fetch", "four-million", "--url", url + page), needle
            )
            assert same_files(good) == kept


def patched_zip(kind: str) -> bytes:
    """A wikitext-103 archive whose train member is encrypted (flag bit 0) or
    compressed by method 99 (AES, which zipfile cannot undo)."""
    buf = io.BytesIO()
    members = {"train": "a b <unk>\n", "valid": "a b\n", "test": "b a\n"}
    with zipfile.ZipFile(buf, "w") as z:
        for split, text in members.items():
            z.writestr(f"wikitext-103/wiki.{split}.tokens", text)
    raw = bytearray(buf.getvalue())
    for sig, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.index(sig)  # the first member's headers: train
        if kind == "encrypted":
            raw[at + flags_at] |= 1
        else:
            raw[at + flags_at + 2 : at + flags_at + 4] = (99).to_bytes(2, "little")
    return bytes(raw)


@pytest.mark.parametrize("kind", ["encrypted", "method99"])
def test_an_archive_zipfile_cannot_read_is_one_line(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("PYTRNN_CACHE", str(tmp_path))
    with serve({"/w.zip": patched_zip(kind)}) as url:
        one_line_error(
            invoke("data", "fetch", "wikitext-103", "--url", f"{url}/w.zip"),
            "archive cannot be read",
            "nothing was written",
        )
    assert not (tmp_path / "wikitext-103").exists()


@pytest.mark.parametrize("name", ["four-million", "wikitext-2"])
def test_a_cache_that_is_a_file_is_one_line(tmp_path, monkeypatch, name):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for cache, needle in (
        (afile, "is a file, not a folder"),
        (afile / "sub", "cannot make"),
    ):
        monkeypatch.setenv("PYTRNN_CACHE", str(cache))
        one_line_error(
            invoke("data", "fetch", name, "--url", "http://127.0.0.1:9/"), needle
        )
    assert afile.read_text() == "x"


# -- 8, 10, 11, minor: bad values before anything is made ---------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--cutoffs", ","], "at least one integer"),  # 8
        (["--cutoffs", " "], "at least one integer"),
        (["--cutoffs", ",,"], "at least one integer"),
        (["--cutoffs", "10", "--div-value", 0.001], "--div-value must be"),  # minor
        (["--cutoffs", "10", "--div-value", "inf"], "--div-value must be"),
    ],
)
def test_bad_adaptive_softmax_values_are_one_line(runs, args, needle):
    _, words = runs
    one_line_error(
        invoke("train", "--corpus", words, "--softmax", "adaptive", *args), needle
    )


def test_a_cutoffs_error_quotes_no_vocabulary_it_has_not_read(runs):
    _, words = runs
    err = one_line_error(
        invoke(
            "train", "--corpus", words, "--softmax", "adaptive", "--cutoffs", "10,5"
        ),
        "--cutoffs must be",
    )
    assert "97" not in err and "V - 1" in err


def test_negative_seeds_are_one_line(runs):
    src, _ = runs
    one_line_error(invoke("train", *TINY, "--seed", -1), "--seed must be 0 or more")
    one_line_error(invoke("sample", src, "--seed", -1), "--seed must be 0 or more")
    one_line_error(invoke("reproduce", "--quick", "--seed", -1), "--seed must be 0")


def test_a_model_too_large_for_memory_is_refused_before_any_array(tmp_path):
    one_line_error(
        invoke(
            "train",
            *TINY[:-4],
            "--hidden",
            1_000_000,
            "--checkpoint",
            tmp_path / "big.npz",
        ),
        "parameters",
        "GB",
    )
    conf = tmp_path / "big.toml"
    conf.write_text("hidden = 99999999999999999999\n", encoding="utf-8")
    one_line_error(
        invoke("train", "--config", conf, "--checkpoint", tmp_path / "b.npz"),
        "parameters",
    )
    assert not (tmp_path / "big.npz").exists()


# -- 9, 16, minor: the cache ---------------------------------------------------------


def test_cache_settings_that_cannot_work_are_one_line(runs, tmp_path):
    src, _ = runs
    text = tmp_path / "held.txt"
    text.write_text("The the quick brown fox. " * 6, encoding="utf-8")
    for window in (99_999_999_999, 3_000_000):  # 9: never an array of that size
        one_line_error(
            invoke("eval", src, "--corpus", text, "--cache-window", window),
            "never be used",
        )
    one_line_error(
        invoke("eval", src, "--corpus", text, "--cache-window", 5, "--cache-lambda", 1),
        "--cache-lambda must be in [0, 1)",
    )  # 16
    r = invoke("eval", src, "--corpus", text, "--cache-window", 5)
    assert r.exit_code == 0, r.output  # a cached figure says so
    assert "with the neural cache (window 5, theta 1, lambda 0.1)" in r.stdout
    assert "neural cache" not in invoke("eval", src, "--corpus", text).stdout


def test_the_cache_is_refused_for_sentence_models_whatever_its_lambda(tmp_path):
    text, path = tmp_path / "held.txt", tmp_path / "s.npz"
    text.write_text("The cat sat. The dog sat. A cat ran.\n" * 20, encoding="utf-8")
    r = invoke(
        "train",
        "--corpus",
        text,
        "--level",
        "word",
        "--layout",
        "sentences",
        "--hidden",
        4,
        "--passes",
        1,
        "--vocab-size",
        20,
        "--sample-length",
        0,
        "--checkpoint",
        path,
        "--backend",
        "jax",
    )
    assert r.exit_code == 0, r.output
    for lam in (0.1, 0):
        one_line_error(
            invoke(
                "eval",
                path,
                "--corpus",
                text,
                "--cache-window",
                2,
                "--cache-lambda",
                lam,
            ),
            "reads a stream",
        )


# -- 12, 15: plot and compare --------------------------------------------------------


@pytest.mark.parametrize("command", ["plot", "compare"])
@pytest.mark.parametrize("out", ["out.txt", "runs.jsonl", "run.v2"])
def test_figures_with_a_suffix_matplotlib_cannot_write_are_one_line(
    runs, tmp_path, command, out
):
    src, _ = runs
    one_line_error(invoke(command, src, "-o", tmp_path / out), "png", out)
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize(
    "history", [["oops"], [{"pass": 1, "loss": "x"}], [{"loss": 1.0}], {"pass": 1}]
)
def test_a_checkpoint_whose_history_is_damaged_is_one_line(runs, tmp_path, history):
    src, _ = runs
    bad = tmp_path / "bad.npz"
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")[()]))
    meta["history"] = history  # the parameters' checksum still holds
    with open(bad, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
    for command in (["compare", bad], ["plot", bad, "-o", tmp_path / "p.png"]):
        one_line_error(invoke(*command), "damaged metadata")


# -- minor: config files, print-config, sample, eval -------------------------------


def test_config_files_that_would_drop_a_value_are_one_line(tmp_path):
    both = tmp_path / "both.toml"
    both.write_text("clip_norm = 0.5\nclip-norm = 0.25\n", encoding="utf-8")
    one_line_error(
        invoke("train", "--config", both), "clip_norm", "clip-norm", "same option"
    )
    one = tmp_path / "one.toml"
    one.write_text("hidden = 8\n", encoding="utf-8")
    one_line_error(invoke("train", "--config", one, "--config", both), "one file")


def test_print_config_writes_toml_for_any_path(tmp_path):
    odd = str(tmp_path / 'a\nb "c" \\ \t.npz')
    r = invoke("train", "--checkpoint", odd, "--print-config")
    assert r.exit_code == 0, r.output
    assert tomllib.loads(r.stdout)["checkpoint"] == odd


def test_sample_length_zero_is_one_line(runs):
    src, _ = runs
    one_line_error(invoke("sample", src, "--length", 0), "--length must be at least 1")


def test_eval_skips_and_counts_words_outside_a_vocabulary_without_unk(runs, tmp_path):
    """A whitespace model whose vocabulary has no <unk>: docs/cli.md's rule, unknown
    words skipped and counted, and the figure that of the known words alone."""
    _, words = runs
    path = tmp_path / "w.npz"
    r = invoke(
        "train",
        "--corpus",
        words,
        "--level",
        "word",
        "--hidden",
        4,
        "--window",
        5,
        "--passes",
        1,
        "--sample-length",
        0,
        "--checkpoint",
        path,
        "--backend",
        "jax",
    )
    assert r.exit_code == 0, r.output
    assert "<unk>" not in ck.load(path).vocab
    known, unknown = tmp_path / "known.txt", tmp_path / "unknown.txt"
    known.write_text("the cat sat on the mat\n" * 3, encoding="utf-8")
    unknown.write_text("the zebra cat sat on the mat\n" * 3, encoding="utf-8")
    a = invoke("eval", path, "--corpus", known)
    b = invoke("eval", path, "--corpus", unknown)
    assert a.exit_code == 0 and b.exit_code == 0, (a.output, b.output)
    assert "3 outside the vocabulary (it has no <unk>) skipped" in b.stdout
    assert a.stdout.split("(")[0] == b.stdout.split("(")[0]  # the same figure


def test_a_log_that_is_a_checkpoint_is_refused(runs, tmp_path):
    src, _ = runs
    other = tmp_path / "other.npz"
    other.write_bytes(src.read_bytes())
    kept = same_files(other)
    path = tmp_path / "m.npz"
    for log in (path, best_path(path), other):
        one_line_error(
            invoke("train", *TINY, "--passes", 1, "--checkpoint", path, "--log", log),
            "is a checkpoint",
        )
    assert same_files(other) == kept and not path.exists()
