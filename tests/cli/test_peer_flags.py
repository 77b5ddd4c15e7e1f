"""A wlm or AWD-LSTM user's first hour: their option names work with their meaning
or are refused in one line naming pytrnn's (pytrnn/cli/peers.py, docs/cli.md's
table); usage errors are one line; --print-config prints only runs that start, and
the whole run; --log-interval prints wlm's line as the pass goes."""

import re
import subprocess
import sys

import pytest
import tomllib
from helpers import ROOT, invoke, one_line_error

from pytrnn.cli.peers import REFUSED, WORKS

DOCS = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
VALUES = {"--data": "pydoc", "--epochs": 3, "--bptt": 30, "--nhid": 50,
          "--nlayers": 2, "--batch_size": 4}  # fmt: skip


@pytest.mark.parametrize("flag", sorted(REFUSED))
def test_their_flags_pytrnn_does_not_take_name_pytrnns(flag):
    err = one_line_error(invoke("train", flag, "1"), flag)
    for ours in re.findall(r"--[a-z][a-z-]*", REFUSED[flag][1]):
        assert ours in err
    assert f"`{flag}`" in DOCS  # the table lists it


@pytest.mark.parametrize("flag", sorted(WORKS))
def test_their_flags_that_mean_the_same_work(flag):
    r = invoke("train", flag, VALUES[flag], "--print-config")
    assert r.exit_code == 0, r.output
    ours = WORKS[flag][1]
    assert tomllib.loads(r.stdout)[ours[2:]] == VALUES[flag]
    assert f"`{flag}`" in DOCS and f"`{ours}`" in DOCS


@pytest.mark.parametrize(
    "args, ours",
    [
        (["--recipe", "awd-lstm", "--alpha", "0"], "--ar"),
        (["--recipe", "awd-lstm", "--beta", "0"], "--tar"),
        (["--recipe", "awd-lstm", "--dropout", "0.4"], "--dropouto"),
        (["--bptt", "30", "--window", "35"], "--window"),
    ],
)
def test_awd_names_that_mean_otherwise_are_refused(args, ours):
    one_line_error(invoke("train", *args, "--print-config"), ours)


def test_clip_under_wlm_is_a_note_naming_clip_norm():
    r = invoke("train", "--recipe", "wlm", "--clip", "0.25", "--print-config")
    assert r.exit_code == 0 and "--clip-norm" in r.stderr, r.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--frob", "1"], "no such option: --frob"),
        (["train", "--cell", "foo"], "'foo' is not one of"),
        (["train", "--hidden", "x"], "--hidden"),
        (["sample"], "missing argument"),
    ],
)
def test_usage_errors_are_one_line(args, needle):
    one_line_error(invoke(*args), needle)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--level", "word", "--softmax", "adaptive"], "needs --cutoffs"),
        (["--recipe", "awd-lstm", "--optimizer", "asgd"], "--recipe awd-lstm"),
        (
            [
                "--level",
                "word",
                "--softmax",
                "adaptive",
                "--cutoffs",
                "9",
                "--tied",
                "--emsize",
                "100",
            ],
            "--tied",
        ),  # fmt: skip
        (["--softmax", "adaptive", "--cutoffs", "9"], "word-level"),
    ],
)
def test_print_config_prints_only_runs_that_start(args, needle):
    one_line_error(invoke("train", *args, "--print-config"), needle)


def test_print_config_is_the_whole_run():
    r = invoke("train", "--recipe", "awd-lstm", "--print-config")
    assert r.exit_code == 0, r.output
    assert tomllib.loads(r.stdout)["passes"] == 10  # the default it will run


def test_log_interval_lines_come_during_the_pass(tmp_path):
    """To a pipe (no terminal, no -u): the first interval line arrives while the run
    goes on; the intervals' figures average to the pass's own."""
    p = subprocess.Popen(
        [sys.executable, "-m", "pytrnn.cli", "train", "--limit-chars", "2110",
         "--window", "25", "--passes", "2", "--log-interval", "21",
         "--checkpoint", tmp_path / "m.npz", "--sample-length", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines, running = [], None
    for line in p.stdout:
        lines.append(line)
        if running is None and line.startswith("| pass"):
            running = p.poll() is None
    p.wait(timeout=300)
    assert p.returncode == 0, "".join(lines) + p.stderr.read()
    assert running, "the interval line came only when the run had ended"
    out = "".join(lines)
    # 2,110 chars: 84 windows of 25 a pass; a line after steps 21, 42, 63 and 84
    first = [ln for ln in lines if ln.startswith("| pass   1")]
    steps = [re.search(r"(\d+)/\s*84 steps", ln)[1] for ln in first]
    assert steps == ["21", "42", "63", "84"], out
    assert out.index("| pass   1") < out.index("iteration=1") < out.index("| pass   2")
    bits = [float(re.search(r"bits/char ([\d.]+)", ln)[1]) for ln in first]
    train = float(re.search(r"iteration=1,.*\(train ([\d.]+) bits/char", out)[1])
    assert sum(bits) / 4 == pytest.approx(train, abs=2e-3)  # equal shares of the pass
    assert re.search(r"chars/s, [\d.]+ s\)", out)  # the pass line ends with its time
