"""Runs that lose nothing, part 2: one run per checkpoint path, --overwrite that
replaces only when it writes, unwritable paths caught before training, refused
writes as one line, resume that compares what was given, interrupts while
compiling, pasteable commands and truthful messages."""

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import invoke, one_line_error, spawn

from pytrnn.data.corpora import load_texts, read_text
from pytrnn.runtime import checkpoint as ck
from pytrnn.training.loop import best_path

ROOT = Path(__file__).resolve().parents[2]
TINY = [
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


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A finished two-pass run with a validation split, so it has a best pass."""
    d = tmp_path_factory.mktemp("first")
    path = d / "m.npz"
    r = invoke("train", *TINY, "--val-frac", 0.2, "--passes", 2, "--checkpoint", path)
    assert r.exit_code == 0, r.output
    assert best_path(path).exists()
    return path


def copy_run(src: Path, folder: Path) -> tuple[Path, Path, bytes, bytes]:
    """The run's checkpoint and best pass copied into ``folder``, with their bytes."""
    dst = folder / src.name
    a, b = src.read_bytes(), best_path(src).read_bytes()
    dst.write_bytes(a)
    best_path(dst).write_bytes(b)
    return dst, best_path(dst), a, b


# -- one run per path ----------------------------------------------------------------


def lock_path(path):
    return path.with_name(path.name + ".lock")


def test_a_claimed_path_stops_a_second_run_at_once(tmp_path):
    from pytrnn.files import claim

    path = tmp_path / "m.npz"
    with claim(path):
        r = invoke("train", *TINY, "--passes", 1, "--checkpoint", path)
        one_line_error(r, "being written by another run", f"pid {os.getpid()}")
        assert "compiled" not in r.stdout
    assert not path.exists() and not lock_path(path).exists()
    r = invoke("train", *TINY, "--passes", 1, "--checkpoint", path)  # the claim is gone
    assert r.exit_code == 0, r.output
    assert not lock_path(path).exists()  # released on the way out


def test_two_runs_racing_on_one_path_lose_neither(tmp_path):
    """Started together on one --checkpoint: one trains, the other stops with one
    line and exit 2 (the path is claimed, or holds the first run by then), and the
    file holds the run that said it wrote it."""
    path = tmp_path / "race.npz"
    procs = {
        seed: spawn("train", *TINY, "--passes", 2, "--seed", seed, "--checkpoint", path)
        for seed in (1, 2)
    }
    outs = {seed: p.communicate(timeout=300) for seed, p in procs.items()}
    codes = {seed: p.returncode for seed, p in procs.items()}
    assert sorted(codes.values()) == [0, 2], (codes, outs)
    winner = next(s for s, c in codes.items() if c == 0)
    loser = next(s for s, c in codes.items() if c == 2)
    assert f"checkpoint: {path}" in outs[winner][0]
    assert f"checkpoint: {path}" not in outs[loser][0]
    err = outs[loser][1].strip()
    assert len(err.splitlines()) == 1 and str(path) in err, err
    saved = ck.load(path)
    assert saved.seed == winner and saved.passes_done == 2
    assert not lock_path(path).exists()


# -- --overwrite replaces only when it writes -----------------------------------------


def test_overwrite_that_stops_before_saving_keeps_the_old_run_whole(
    first_run, tmp_path
):
    path, best, a, b = copy_run(first_run, tmp_path)
    r = invoke(
        "train",
        *TINY,
        "--passes",
        2,
        "--lr",
        1e200,
        "--overwrite",
        "--checkpoint",
        path,
    )
    err = one_line_error(
        r, "pass 1, window", "this run wrote no checkpoint", "is as it was"
    )
    assert "kept" not in err
    assert path.read_bytes() == a and best.read_bytes() == b
    # once the new run writes, the old best pass goes with the old run
    r = invoke("train", *TINY, "--passes", 1, "--overwrite", "--checkpoint", path)
    assert r.exit_code == 0, r.output
    assert not best.exists() and ck.load(path).history[0].get("val_bpc") is None


def test_divergence_before_any_save_says_nothing_was_written(tmp_path):
    path = tmp_path / "nan.npz"
    r = invoke("train", *TINY, "--passes", 2, "--lr", 1e200, "--checkpoint", path)
    err = one_line_error(r, "no checkpoint was written yet")
    assert "kept" not in err and not path.exists()


# -- paths checked before training; refused writes are one line ---------------------


def test_unwritable_outputs_stop_before_compiling(first_run, tmp_path):
    path, best, a, b = copy_run(first_run, tmp_path)
    folder = tmp_path / "adir"
    folder.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        (["--checkpoint", folder], "is a folder"),
        (["--checkpoint", folder, "--overwrite"], "is a folder"),
        (["--checkpoint", afile / "x.npz"], "is a file, not a folder"),
        (["--checkpoint", tmp_path / "new.npz", "--log", folder], "--log"),
        (["--resume", path, "--passes", 3, "--log", folder], "--log"),
    ]
    for extra, needle in cases:
        r = invoke("train", *TINY, "--passes", 1, *extra)
        err = one_line_error(r, needle)
        assert "continue it with" not in err, err  # never "--resume a folder"
        assert "compiled" not in r.stdout, extra
    assert path.read_bytes() == a and best.read_bytes() == b
    assert not (tmp_path / "new.npz").exists()


def test_a_read_only_folder_is_refused_before_training(tmp_path, monkeypatch):
    """The folder is tried, not judged by its mode bits (which do not bind root):
    here the system's answer to creating a file in it is a refusal."""
    import pytrnn.files

    ro = tmp_path / "ro"
    ro.mkdir()
    real = pytrnn.files.tempfile.mkstemp

    def refuse_in_ro(*a, dir=None, **kw):
        if Path(dir) == ro:
            raise PermissionError(13, "Permission denied")
        return real(*a, dir=dir, **kw)

    monkeypatch.setattr(pytrnn.files.tempfile, "mkstemp", refuse_in_ro)
    ro.chmod(0o555)
    try:
        r = invoke("train", *TINY, "--passes", 1, "--checkpoint", ro / "m.npz")
    finally:
        ro.chmod(0o755)
    one_line_error(r, "is not writable", "Permission denied")
    assert "compiled" not in r.stdout


def test_a_write_refused_mid_run_is_one_line_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch
):
    import pytrnn.runtime.checkpoint

    path = tmp_path / "m.npz"
    real, calls = pytrnn.runtime.checkpoint.save, []

    def full_disk_on_second(p, c):
        calls.append(p)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(p, c)

    monkeypatch.setattr(pytrnn.runtime.checkpoint, "save", full_disk_on_second)
    r = invoke("train", *TINY, "--passes", 3, "--checkpoint", path)
    one_line_error(
        r,
        f"cannot write {path}",
        "No space left on device",
        f"the last good checkpoint is kept: {path}",
    )
    assert ck.load(path).passes_done == 1


def test_plot_and_compare_write_where_they_say(first_run, tmp_path):
    r = invoke("plot", first_run, "-o", tmp_path / "noext")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == f"wrote {tmp_path / 'noext.png'}"
    assert (tmp_path / "noext.png").stat().st_size > 0
    folder = tmp_path / "figs"
    folder.mkdir()
    for cmd in (["plot", first_run], ["compare", first_run, first_run]):
        one_line_error(invoke(*cmd, "-o", folder), "is a folder", "loss.png")
    assert not list(folder.iterdir()) and not (tmp_path / "figs.png").exists()


# -- resume compares only what was given -----------------------------------------


@pytest.fixture(scope="module")
def adam_lstm(tmp_path_factory):
    path = tmp_path_factory.mktemp("lstm") / "r.npz"
    r = invoke(
        "train",
        *TINY,
        "--passes",
        1,
        "--cell",
        "lstm",
        "--layers",
        2,
        "--optimizer",
        "adam",
        "--checkpoint",
        path,
    )
    assert r.exit_code == 0, r.output
    return path


@pytest.mark.parametrize(
    "option, given, saved",
    [
        ("--cell", "rnn", "lstm"),
        ("--layers", "1", "2"),
        ("--optimizer", "sgd", "adam"),
        ("--seed", "0", "0"),
    ],
)
def test_resume_refuses_a_given_value_that_conflicts_even_the_default(
    adam_lstm, option, given, saved
):
    """Each conflicting value is the CLI's default: a check against the defaults
    would let every one through. Given and equal to the saved value is fine."""
    r = invoke(
        "train",
        "--resume",
        adam_lstm,
        "--passes",
        2,
        option,
        given,
        "--checkpoint",
        adam_lstm.with_name("other" + option + ".npz"),
    )
    if given == saved:
        assert r.exit_code == 0, r.output
        return
    one_line_error(r, f"{option} is {saved} in the checkpoint, but {given} was given")


def test_lr_given_on_resume_takes_effect_even_at_its_default(adam_lstm, tmp_path):
    path = tmp_path / "r.npz"
    path.write_bytes(adam_lstm.read_bytes())
    r = invoke("train", "--resume", path, "--passes", 2, "--lr", 0.01)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == "resuming with lr 0.01 (was 0.001)"
    back = ck.load(path)
    assert back.cfg.lr == 0.01 and [h["lr"] for h in back.history] == [0.001, 0.01]


# -- interrupts while compiling ---------------------------------------------------


def test_ctrl_c_swallowed_by_a_callback_while_compiling_still_stops(
    tmp_path, monkeypatch
):
    """The KeyboardInterrupt raised for a Ctrl-C can land in a callback that ignores
    exceptions (JAX's gc callback): the run must stop all the same, exit 130 and
    write nothing."""
    from pytrnn.training.loop import Loop

    def compile_hit_by_a_swallowed_ctrl_c(self):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs between these bytecodes
                pass
        except KeyboardInterrupt:
            pass  # what "Exception ignored in: <function _xla_gc_callback>" does
        return 0.0

    monkeypatch.setattr(Loop, "compile", compile_hit_by_a_swallowed_ctrl_c)
    path = tmp_path / "m.npz"
    r = invoke("train", *TINY, "--passes", 1, "--checkpoint", path)
    assert r.exit_code == 130, r.output
    assert "interrupted while compiling" in r.stderr and "compiled" not in r.stdout
    assert not path.exists() and not lock_path(path).exists()


# -- what is read, and what messages say ----------------------------------------------


def test_limit_chars_reads_only_a_prefix(tmp_path):
    """Bytes past the first 4N cannot be read by a run of N chars: they are not
    UTF-8 here, and only a read of the whole file would see them."""
    path = tmp_path / "big.txt"
    prefix = "é" * 50 + "abc" * 400  # a 2-byte char in the prefix, so 4N bytes matter
    path.write_bytes(prefix.encode() + b"\xff\xfe" * 5000)
    assert read_text(path, str(path), limit=1000) == prefix[:1000]
    assert load_texts(str(path), limit=1000).train == prefix[:1000]
    with pytest.raises(Exception, match="not valid UTF-8"):
        read_text(path, str(path))
    cut = tmp_path / "cut.txt"  # the 4N bytes end inside a 2-byte char
    cut.write_bytes(("a" + "é" * 10).encode())
    assert read_text(cut, str(cut), limit=3) == "aéé"
    r = invoke(
        "train",
        *TINY,
        "--corpus",
        path,
        "--limit-chars",
        1000,
        "--passes",
        1,
        "--checkpoint",
        tmp_path / "m.npz",
    )
    assert r.exit_code == 0, r.output
    assert "1000 chars" in r.stdout


def test_files_that_are_not_checkpoints_say_what_they_are(tmp_path):
    np.save(tmp_path / "arr.npy", np.zeros(3))
    (tmp_path / "j.npz").write_text('{"format": "pytrnn-checkpoint"}')
    with open(tmp_path / "obj.npz", "wb") as f:
        np.savez(f, meta=np.array([{"a": 1}], dtype=object))
    (tmp_path / "adir").mkdir()
    held = tmp_path / "t.txt"
    held.write_text("some text to score")
    cases = {
        "arr.npy": "a single .npy array",
        "j.npz": "not an .npz archive",
        "obj.npz": "holds Python objects",
        "adir": "is a folder, not a checkpoint",
    }
    for name, needle in cases.items():
        for cmd in (
            ["eval", tmp_path / name, "--corpus", held],
            ["sample", tmp_path / name],
        ):
            err = one_line_error(invoke(*cmd), needle)
            assert "pickle" not in err and "unsafe" not in err and "context" not in err


def test_printed_commands_paste_back_through_a_shell(first_run, tmp_path):
    """The "already holds" line's --resume, with spaces in the path, pasted into a
    shell, resumes that run."""
    folder = tmp_path / "sp dir"
    folder.mkdir()
    path, *_ = copy_run(first_run, folder)
    path = path.rename(folder / "x y.npz")
    err = one_line_error(invoke("train", *TINY, "--passes", 1, "--checkpoint", path))
    resume = err.split("continue it with ")[1].split(", pick")[0]
    assert resume == f"--resume {shlex.quote(str(path))}"
    cmd = f"{shlex.quote(sys.executable)} -m cli train {resume} --passes 3"
    done = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ck.load(path).passes_done == 3


def test_a_checkpoint_that_would_not_fit_stops_before_compiling(tmp_path, monkeypatch):
    import shutil

    import pytrnn.files

    real = shutil.disk_usage
    monkeypatch.setattr(
        pytrnn.files.shutil, "disk_usage", lambda p: real(p)._replace(free=1000)
    )
    r = invoke("train", *TINY, "--passes", 1, "--checkpoint", tmp_path / "m.npz")
    one_line_error(r, "needs about", "MB free")
    assert "compiled" not in r.stdout and not (tmp_path / "m.npz").exists()
