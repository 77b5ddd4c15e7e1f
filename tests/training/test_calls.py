"""A fused chunk trained in several calls so a person can follow it (#36): each
``--log-interval`` line printed as its call finishes, and on a terminal a bar that
moves through a heavy chunk; under the chunk's one draw of masks, so not one bit of
the run changes."""

from types import SimpleNamespace

import numpy as np
from test_awd_runs import run

from pytrnn.data.batches import Chunk
from pytrnn.runtime.parallel import DataParallel
from pytrnn.training.progress import PrintReporter, shown


def test_interval_lines_come_as_their_calls_finish(tmp_path, monkeypatch):
    """AWD's every mask, variable BPTT, a carried state, chunks of 6 windows: with
    --log-interval 2 each chunk is three calls, and a line is printed between the
    reads of two calls; the arrays are bitwise the one-call run's."""
    events = []

    class Lines(PrintReporter):
        def line(self, text):
            events.append("line" if text.startswith("| pass") else "other")

    real = DataParallel.fetch

    def fetch(self, value):
        events.append("read")
        return real(self, value)

    one = run(tmp_path, "one.npz", fuse=6, passes=2)
    monkeypatch.setattr(DataParallel, "fetch", fetch)
    calls = run(tmp_path, "calls.npz", Lines(), fuse=6, passes=2, log_interval=2)
    lines = [i for i, e in enumerate(events) if e == "line"]
    assert len(lines) >= 6
    assert all(b - a > 1 for a, b in zip(lines, lines[1:])), events  # reads between
    a, b = one.checkpoint, calls.checkpoint
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    for k in a.opt_state:
        assert np.array_equal(a.opt_state[k], b.opt_state[k]), k
    assert np.array_equal(a.carry, b.carry)


def test_a_bar_moves_through_heavy_chunks_only():
    """wlm's pass (249 windows of 35 x 20, V 12,252, H 200) in 16 calls under a bar;
    the notebook's chunk (256 windows of 25, V 65, H 100) stays one call, and without
    a bar or --log-interval every chunk does."""
    wlm = SimpleNamespace(vocab_size=12252, state_width=200)
    notebook = SimpleNamespace(vocab_size=65, state_width=100)

    def chunk(*shape):
        return Chunk(np.zeros(shape, np.int32), None, None, np.ones(shape[0]), [], 1)

    pieces = shown(chunk(249, 35, 20), 0, True, wlm).pieces()
    assert len(pieces) == 16 and {s.stop - s.start for s in pieces} == {15, 16}
    assert pieces[0].start == 0 and pieces[-1].stop == 249
    assert shown(chunk(249, 35, 20), 0, False, wlm).calls is None
    assert shown(chunk(256, 25), 0, True, notebook).calls is None
    assert shown(chunk(256, 25), 50, False, notebook).calls == 50
    assert len(shown(chunk(256, 25), 50, False, notebook).pieces()) == 6
