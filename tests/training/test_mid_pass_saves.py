"""Runs that lose nothing, part 3: a save in the middle of a pass, in every training
branch (one window per call, fused chunks, variable-BPTT windows one per call and
fused, batched windows, a word stream, sentences one group per call and fused;
char and word level; JAX, C and Numba), by the ``--save-every`` timer and by SIGINT
or SIGTERM. Each save is resumed to the end of the run and must give bitwise the
parameters, optimizer state and history of the run that was never stopped.

One stopped run serves two saves: the timer writes after every chunk (the test
keeps a copy of each), then a real signal (raised in this process, which runs the
handler ``owned_signals`` installed) stops it after the second chunk of its second
pass. The timer's copy after the first chunk is the file a SIGKILL would have left.
"""

import signal
import threading

import numpy as np
import pytest

import pytrnn
from pytrnn.runtime import checkpoint as ck
from pytrnn.training import TrainingInterrupted, train
from pytrnn.training.loop import Loop
from pytrnn.training.progress import PrintReporter

QUIET = PrintReporter(quiet=True)
WORD = dict(level="word", max_words=40, limit_chars=12_000)
# (name, backend, model options, run options): every branch of the loops
BRANCHES = [
    ("char-window-jax", "jax", {}, dict(fuse=1)),
    ("char-window-c", "c", {}, {}),
    ("char-window-numba", "numba", {}, {}),
    ("char-fused-jax", "jax", {}, dict(fuse=3, batch=2)),
    ("char-batched-c", "c", {}, dict(batch=2)),
    ("char-variable-window-c", "c", dict(variable_bptt=True), dict(batch=2)),
    ("char-variable-window-numba", "numba", dict(variable_bptt=True), dict(batch=2)),
    (
        "char-variable-window-jax",
        "jax",
        dict(variable_bptt=True),
        dict(batch=2, fuse=1),
    ),
    ("char-variable-fused-jax", "jax", dict(variable_bptt=True), dict(batch=2, fuse=3)),
    ("word-stream-fused-jax", "jax", {}, dict(WORD, layout="stream", batch=2, fuse=3)),
    ("word-stream-window-c", "c", {}, dict(WORD, layout="stream")),
    (
        "word-variable-window-jax",
        "jax",
        dict(variable_bptt=True),
        dict(WORD, layout="stream", fuse=1),
    ),
    ("word-sentences-fused-jax", "jax", {}, dict(WORD, batch=2, fuse=2)),
    ("word-sentences-c", "c", {}, dict(WORD, batch=2)),
]


def run(path, backend, model, **kw):
    opts = dict(
        limit_chars=3000,
        passes=2,
        mode="scan",
        backend=backend,
        seed=3,
        val_frac=0.2,
        sample_length=0,
        checkpoint=str(path),
    )
    return train(
        pytrnn.RNNConfig(hidden=6, window=10, **model),
        pytrnn.TrainConfig(**{**opts, **kw}),
        reporter=QUIET,
    )


def stopped_by(monkeypatch, sig, start):
    """``start()`` with the timer saving after every chunk (a copy of each save
    kept) and ``sig`` raised after the second chunk of the second pass; returns the
    copies of the mid-pass saves, the signal's last."""
    copies, chunks = [], []
    real_save = Loop.save

    def save(self, best=False):
        real_save(self, best)
        if not best and self.state["window"] > 0:
            copies.append((self.state["window"], self.path.read_bytes()))

    def wrap(real):
        def train_chunk(self, order, j, n):
            out = real(self, order, j, n)
            chunks.append(self.pass_index)
            if chunks.count(1) == 2:
                signal.raise_signal(sig)
            return out

        return train_chunk

    monkeypatch.setattr(Loop, "save", save)
    monkeypatch.setattr(Loop, "train_chunk", wrap(Loop.train_chunk))
    with pytest.raises(TrainingInterrupted, match="interrupted at pass 2"):
        start()
    monkeypatch.undo()
    return copies


def assert_same_run(a: ck.Checkpoint, b: ck.Checkpoint):
    assert (a.passes_done, a.iseq) == (b.passes_done, b.iseq)
    for k, v in b.params.items():
        np.testing.assert_array_equal(a.params[k], v, err_msg=k)
    for k, v in b.opt_state.items():
        np.testing.assert_array_equal(a.opt_state[k], v, err_msg=k)

    def figures(history):  # the timings differ from run to run; nothing else may
        return [
            {k: v for k, v in r.items() if "seconds" not in k and "_per_s" not in k}
            for r in history
        ]

    assert figures(a.history) == figures(b.history)


@pytest.mark.parametrize(
    "name, backend, model, kw", BRANCHES, ids=[b[0] for b in BRANCHES]
)
def test_a_mid_pass_save_resumes_bitwise(
    tmp_path, monkeypatch, name, backend, model, kw
):
    assert threading.current_thread() is threading.main_thread()  # signals reach us
    sig = (signal.SIGINT, signal.SIGTERM)[[b[0] for b in BRANCHES].index(name) % 2]
    full = run(tmp_path / "full.npz", backend, model, **kw).checkpoint
    copies = stopped_by(
        monkeypatch,
        sig,
        lambda: run(tmp_path / "part.npz", backend, model, save_every=0, **kw),
    )
    (w_timer, timer), (w_signal, signalled) = copies[-2], copies[-1]
    assert 0 < w_timer < w_signal  # both inside the second pass
    for what, data in (("timer", timer), (signal.Signals(sig).name, signalled)):
        path = tmp_path / f"{what}.npz"
        path.write_bytes(data)
        part = ck.load(path)
        assert part.passes_done == 1 and part.window > 0, what
        r = train(
            pytrnn.RNNConfig(**model),
            pytrnn.TrainConfig(
                resume=str(path), passes=2, backend=backend, sample_length=0
            ),
            reporter=QUIET,
        )
        assert_same_run(r.checkpoint, full)
