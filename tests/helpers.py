"""``compare_backends``: one graph, every backend, the same inputs, the same answers.

In the manner of PyTensor's ``compare_jax_and_py``: each backend builds the same
graph (mode, level, dtype), starts from the same parameters, trains on the same
sequences, and its losses, data losses and final parameters must match the first
backend's and the independent numpy reference's (1e-9 in float64, 1e-4 in float32).
Each compiled function is also checked to run on the linker its backend names, so a
backend that silently fell back to another could not compare equal to it.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from numpy_ref import init, loss_and_grads, sgd_step

import pytrnn

TINY = dict(vocab_size=7, hidden=5, window=6)

_MODELS: dict = {}  # compiling costs seconds: one model per key, reset with set_params


def cached_model(mode="unroll", backend="jax", **cfg_kw) -> pytrnn.RNN:
    """One compiled model per (mode, backend, config); callers set the params they need."""
    kw = {**TINY, **cfg_kw}
    key = (mode, backend, tuple(sorted(kw.items())))
    if key not in _MODELS:
        _MODELS[key] = pytrnn.RNN(pytrnn.RNNConfig(**kw), mode=mode, backend=backend)
    return _MODELS[key]


LR, REG, CLIP = 0.01, 0.01, 5.0
# AWD-LSTM's regularizers, every one on, on a tied 2 x 4 LSTM (tests/graphs)
AWD_ON = dict(
    cell="lstm",
    layers=2,
    emsize=4,
    tied=True,
    dropouti=0.3,
    dropouth=0.2,
    dropouto=0.4,
    dropoute=0.2,
    wdrop=0.5,
    ar=2.0,
    tar=1.0,
    wdecay=0.01,
    locked_dropout=True,
    clip=0.0,
    clip_norm=0.5,
    loss_scale="token",
)
TOL = {"float64": 1e-9, "float32": 1e-4}
WORD_LENGTHS = (5, 6, 5, 6)  # one bucket (6): one compile per backend


def batched_step(P, X, Y, lr=LR, reg=REG, clip=CLIP):
    """Reference minibatch step: mean over streams of the window losses, one SGD step.
    Returns (loss, data loss (the mean over streams), new parameters)."""
    B = X.shape[1]
    grads = {k: np.zeros_like(v) for k, v in P.items()}
    data = 0.0
    for b in range(B):
        _, d, g = loss_and_grads(P, X[:, b], Y[:, b], reg=0.0)
        data += d / B
        for k in g:
            grads[k] += g[k] / B
    reg_sum = sum((P[k] ** 2).sum() for k in ("Wxh", "Whh", "Why"))
    for k in ("Wxh", "Whh", "Why"):
        grads[k] += 2 * reg * P[k]
    new = {k: P[k] - lr * np.clip(grads[k], -clip, clip) for k in P}
    return data + reg * reg_sum, data, new


def sentences(rng, lengths, D=9):
    """Random (x, y) sentences of these lengths over D ids (the word tests' D = 9)."""
    return [(rng.integers(0, D, n), rng.integers(0, D, n)) for n in lengths]


def mean_step(P, seqs, grads_of):
    """numpy: one SGD step on the mean over the sentences of each one's summed loss."""
    g_sum, loss = None, 0.0
    for x, y in seqs:
        l, _, g = grads_of(P, x, y)
        loss += l / len(seqs)
        g_sum = (
            {k: v / len(seqs) for k, v in g.items()}
            if g_sum is None
            else {k: g_sum[k] + v / len(seqs) for k, v in g.items()}
        )
    return loss, {k: P[k] - LR * np.clip(g_sum[k], -CLIP, CLIP) for k in P}


def assert_linker(fn, backend: str) -> None:
    """``fn`` (a compiled PyTensor function) runs on ``backend``'s own linker.

    "c" must be PyTensor's C virtual machine (VMLinker with C thunks and the C loop);
    in PyTensor 3 ``FAST_RUN`` is Numba, and a fallback there would compare Numba
    with itself.
    """
    from pytensor.link.c.cvm import CVM
    from pytensor.link.jax.linker import JAXLinker
    from pytensor.link.numba.linker import NumbaLinker
    from pytensor.link.vm import VMLinker

    linker = fn.maker.linker
    if backend == "c":
        assert type(linker) is VMLinker and linker.c_thunks and linker.use_cloop, linker
        assert isinstance(fn.vm, CVM), type(fn.vm)
        # an OpFromGraph left in a C graph (PyTensor 3's Softmax is one) runs its
        # inner graph through perform, compiled in the default mode: Numba
        symbolic = inner_graph_ops(fn.maker.fgraph)
        assert not symbolic, f"c: ops that run through another mode: {symbolic}"
    else:
        want = {"jax": JAXLinker, "numba": NumbaLinker}[backend]
        assert isinstance(linker, want), f"{backend}: {type(linker).__name__}"


def inner_graph_ops(fgraph) -> list[str]:
    """The OpFromGraph nodes of ``fgraph`` and of every scan inside it."""
    from pytensor.compile.builders import OpFromGraph
    from pytensor.scan.op import Scan

    found = []
    for node in fgraph.toposort():
        if isinstance(node.op, OpFromGraph):
            found.append(str(node.op))
        elif isinstance(node.op, Scan):
            found += inner_graph_ops(node.op.fgraph)
    return found


def assert_model_linkers(model) -> None:
    """Every function the model compiled so far runs on its backend's linker."""
    fns = [f for f in model.compiled().values() if hasattr(f, "maker")]
    assert fns, "the model compiled nothing"
    for fn in fns:
        assert_linker(fn, model.backend)


def sequences(level: str, rng, D: int, L: int):
    lengths = [L] * 4 if level == "char" else WORD_LENGTHS
    return [(rng.integers(0, D, n), rng.integers(0, D, n)) for n in lengths]


def run_model(model, P0, seqs, level):
    """Train ``seqs`` from P0: (losses, data losses, final parameters)."""
    model.set_params(P0)
    losses, data_losses = [], []
    for x, y in seqs:
        pad = None
        if level == "word" and model.static_shapes:
            from pytrnn.data.words import bucket

            pad = bucket(len(x))  # the masked path, with the L2 term on
        loss, data_loss = model.train_step(x, y, pad_to=pad)
        losses.append(loss)
        data_losses.append(data_loss)
    return np.array(losses), np.array(data_losses), model.get_params()


def compare_backends(mode, level, backends, dtype="float64", seed=0):
    """Run the same steps on each backend; assert agreement; return the results."""
    rng = np.random.default_rng(seed)
    D, H, L = TINY["vocab_size"], TINY["hidden"], TINY["window"]
    P0 = init(D, H, rng)
    seqs = sequences(level, rng, D, L)
    # the independent reference, always in float64
    P, want, want_data = P0, [], []
    for x, y in seqs:
        want_data.append(loss_and_grads(P, x, y, REG)[1])
        loss, P = sgd_step(P, x, y, LR, REG, CLIP)
        want.append(loss)
    tol = TOL[dtype]
    results = {}
    for b in backends:
        model = cached_model(mode, b, dtype=dtype)
        losses, data_losses, params = run_model(model, P0, seqs, level)
        assert_model_linkers(model)
        results[b] = (losses, params)
        np.testing.assert_allclose(losses, want, rtol=tol, err_msg=f"{b} loss vs numpy")
        np.testing.assert_allclose(
            data_losses, want_data, rtol=tol, err_msg=f"{b} data_loss vs numpy"
        )
        for k in P:
            np.testing.assert_allclose(
                params[k], P[k], rtol=tol, atol=tol, err_msg=f"{b} {k} vs numpy"
            )
    first_losses, first_params = results[backends[0]]
    for b in backends[1:]:
        losses, params = results[b]
        np.testing.assert_allclose(
            losses, first_losses, rtol=tol, err_msg=f"{b} vs {backends[0]}"
        )
        for k in P:
            np.testing.assert_allclose(
                params[k],
                first_params[k],
                rtol=tol,
                atol=tol,
                err_msg=f"{b} {k} vs {backends[0]}",
            )
    return results


def train_in_both_modes(make_model, P, seqs) -> dict:
    """mode -> (losses, final parameters) of the same steps from P in "unroll" and
    "scan": ``make_model(mode)`` gives each mode's model."""
    out = {}
    for mode in ("unroll", "scan"):
        m = make_model(mode)
        m.set_params(P)
        out[mode] = ([m.train_on_seq(x, y) for x, y in seqs], m.get_params())
    return out


def signal_once_training(proc, sig, delay: float):
    """Wait for a training subprocess's "compiled" line, let it train ``delay``
    seconds, send ``sig`` and return its (stdout, stderr)."""
    import time

    for line in proc.stdout:
        if line.startswith("compiled"):
            break
    time.sleep(delay)
    proc.send_signal(sig)
    return proc.communicate(timeout=120)


# -- the CLI, in process and as a subprocess -------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args):
    """``pytrnn ARGS`` in process (Typer's runner), stdout and stderr apart."""
    from typer.testing import CliRunner

    from pytrnn.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args])


def one_line_error(r, *needles) -> str:
    """The command exited 2 with one ``error:`` line naming every needle."""
    assert r.exit_code == 2, r.output
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    for n in needles:
        assert n in err, err
    return err


def spawn(*args):
    """``pytrnn ARGS`` as a real process (for signals), unbuffered."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytrnn.cli", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@contextlib.contextmanager
def serve(files: dict):
    """An HTTP server on 127.0.0.1 answering GET path -> bytes from ``files`` (404
    otherwise), for the downloader's tests: its base URL while the block runs."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def stopped_during(monkeypatch, run, pass_index: int, chunks: int = 2):
    """``run()``, a training run, stopped (as a first Ctrl-C stops it) after
    ``chunks`` chunks of its pass ``pass_index`` (0-based); it must raise
    TrainingInterrupted, having saved where it stopped."""
    import pytest

    from pytrnn.training import TrainingInterrupted
    from pytrnn.training.loop import Loop

    real, calls = Loop.train_chunk, []

    def stop(self, order, j, n):
        out = real(self, order, j, n)
        calls.append(self.pass_index)
        if calls.count(pass_index) == chunks:
            self.stop_requested = True
        return out

    monkeypatch.setattr(Loop, "train_chunk", stop)
    with pytest.raises(TrainingInterrupted):
        run()
    monkeypatch.setattr(Loop, "train_chunk", real)
