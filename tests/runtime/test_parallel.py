"""Data parallelism over JAX devices: the same numbers as one device, and clear errors."""

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pytrnn
from pytrnn.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
TWO_CPUS = {
    **os.environ,
    "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    "PYTHONPATH": str(ROOT),
}


def run_py(code: str, env=TWO_CPUS, timeout=300) -> str:
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_two_devices_equal_one_device_with_the_same_global_batch():
    out = run_py("""
        import numpy as np, jax, pytrnn
        assert len(jax.devices()) == 2
        cfg = pytrnn.RNNConfig(vocab_size=9, hidden=6, window=5)
        rng = np.random.default_rng(0)
        X, Y = rng.integers(0, 9, (6, 5, 4)), rng.integers(0, 9, (6, 5, 4))
        runs = []
        for d in (1, 2):
            m = pytrnn.RNN(cfg, mode="unroll", devices=d, seed=3)
            losses = np.concatenate([m.train_windows(X[:3], Y[:3])[0],
                                     m.train_windows(X[3:], Y[3:])[0]])
            runs.append((losses, m.get_params()))
            assert "NamedSharding" in type(m.params["Whh"].get_value(borrow=True).sharding).__name__ or d == 1
        np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-9)
        for k in runs[0][1]:
            np.testing.assert_allclose(runs[0][1][k], runs[1][1][k], rtol=1e-9, atol=1e-12)
        print("ok", runs[1][0][-1])
    """)
    assert out.startswith("ok")


def test_carried_state_and_dropout_over_two_devices_equal_one_device():
    """--carry-state and --dropout with --devices: each device carries the states of
    its own share of the streams and applies their dropout masks; a two-layer LSTM's
    (h, c) and parameters end where one device's do, and the states are carried (a
    run without them ends elsewhere)."""
    out = run_py("""
        import numpy as np, jax, pytrnn
        assert len(jax.devices()) == 2
        cfg = pytrnn.RNNConfig(vocab_size=9, hidden=6, window=5, cell="lstm", layers=2,
                               dropout=0.3)
        rng = np.random.default_rng(0)
        X, Y = rng.integers(0, 9, (6, 5, 4)), rng.integers(0, 9, (6, 5, 4))
        runs = {}
        for d, carry in ((1, True), (2, True), (2, False)):
            m = pytrnn.RNN(cfg, mode="scan", devices=d, seed=3, carry_state=carry)
            losses = np.concatenate([m.train_windows(X[:3], Y[:3])[0],
                                     m.train_windows(X[3:], Y[3:])[0]])
            runs[d, carry] = (losses, m.get_params(), m.get_carry())
        (l1, p1, c1), (l2, p2, c2) = runs[1, True], runs[2, True]
        assert c1.shape == c2.shape == (4, 4, 6) and np.abs(c1).max() > 0
        np.testing.assert_allclose(c1, c2, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(l1, l2, rtol=1e-9)
        for k in p1:
            np.testing.assert_allclose(p1[k], p2[k], rtol=1e-9, atol=1e-12)
        assert not np.allclose(runs[2, False][0][3:], l2[3:])
        print("ok")
    """)
    assert out.startswith("ok")


def test_carried_state_across_processes_is_refused():
    cfg = pytrnn.TrainConfig(carry_state=True, devices=2, batch=4, num_processes=2)
    with pytest.raises(pytrnn.PytrnnError, match="across processes"):
        cfg.validate()
    pytrnn.TrainConfig(carry_state=True, devices=2, batch=4).validate()


def test_cli_devices_two_matches_one(tmp_path):
    base = [
        sys.executable,
        "-m",
        "pytrnn.cli",
        "train",
        "--limit-chars",
        "6000",
        "--passes",
        "1",
        "--batch",
        "4",
        "--hidden",
        "8",
        "--window",
        "10",
        "--mode",
        "scan",
        "--sample-length",
        "0",
    ]
    for d in (1, 2):
        r = subprocess.run(
            base + ["--devices", str(d), "--checkpoint", str(tmp_path / f"{d}.npz")],
            env=TWO_CPUS,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-2000:]
    from pytrnn.runtime.checkpoint import load

    a, b = load(tmp_path / "1.npz"), load(tmp_path / "2.npz")
    assert a.history[0]["loss"] == pytest.approx(b.history[0]["loss"], rel=1e-9)
    for k in a.params:
        assert a.params[k] == pytest.approx(b.params[k], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--devices", "3", "--batch", "4"], "multiple of --devices 3"),
        (["--devices", "2"], "multiple of --devices 2"),
    ],
)
def test_devices_need_a_matching_batch(args, needle, small_text, monkeypatch):
    # the CLI asks XLA for host devices before JAX starts: keep that out of this process
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=1")
    r = CliRunner().invoke(app, ["train", "--corpus", str(small_text), *args])
    assert r.exit_code == 2 and needle in r.stderr


def test_more_devices_than_jax_sees_is_a_clear_error():
    with pytest.raises(pytrnn.PytrnnError, match="JAX sees 1 device"):
        pytrnn.RNN(pytrnn.RNNConfig(vocab_size=3, hidden=2, window=2), devices=2)


def test_two_processes_train_like_one(tmp_path):
    """Two processes on 127.0.0.1 (jax.distributed, gloo CPU collectives), one device
    each, batch 4 split 2 + 2: both end with the same parameters, equal to a
    single-process run with the same global batch; only process 0 writes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = textwrap.dedent("""
        import sys, pytrnn
        from pytrnn.runtime.checkpoint import params_digest
        from pytrnn.training.progress import PrintReporter
        from pytrnn.training import train
        pid, ckpt = int(sys.argv[1]), sys.argv[2]
        extra = dict(coordinator=sys.argv[3], num_processes=2, process_id=pid, devices=2) \\
            if len(sys.argv) > 3 else {}
        cfg = pytrnn.TrainConfig(limit_chars=4000, passes=2, batch=4, mode="scan",
                                 checkpoint=ckpt, sample_length=0, **extra)
        r = train(pytrnn.RNNConfig(hidden=8, window=10), cfg, PrintReporter())
        print("digest", params_digest(r.model.get_params()))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ckpts = [tmp_path / f"{i}.npz" for i in (0, 1, 2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(i), str(ckpts[i]), f"127.0.0.1:{port}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    digests = [out.strip().splitlines()[-1] for out, _ in outs]
    assert digests[0] == digests[1]  # replicated: bit for bit the same on both hosts
    assert ckpts[0].exists() and not ckpts[1].exists()  # only process 0 writes
    # ... and only process 0 prints: process 1's output is its digest line alone
    # (beside the lines gloo's C++ writes on stdout itself)
    assert "iteration=2, iseq=" in outs[0][0] and "compiled" in outs[0][0]
    ours = [ln for ln in outs[1][0].strip().splitlines() if not ln.startswith("[Gloo]")]
    assert ours == [digests[1]]
    single = subprocess.run(
        [sys.executable, "-c", code, "0", str(ckpts[2])],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    from pytrnn.runtime.checkpoint import load

    a, b = load(ckpts[0]), load(ckpts[2])
    assert a.history[-1]["loss"] == pytest.approx(b.history[-1]["loss"], rel=1e-9)
    for k in a.params:
        assert a.params[k] == pytest.approx(b.params[k], rel=1e-9, abs=1e-12)
