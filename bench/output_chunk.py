"""wlm's training step at a vocabulary of any size, the full softmax whole and in
chunks (``--output-chunk``), each setting in its own process: ms per step (the
best call after the first, which compiles) and the process's peak RSS.

The model is `--recipe wlm --tied`'s: a 2 x 200 LSTM, tied, float32, dropout 0.2,
clip-norm 0.25, lr 20, batch 20 x 35, fused windows on JAX, on random ids. The
peak is the step's: what a pass at that vocabulary holds (267,735 is
WikiText-103's).

    python bench/output_chunk.py [--vocab 267735] [--chunks 0,35,70,140]
        [--windows 2] [--calls 3] [--precision full|bf16]
"""

import argparse
import resource
import subprocess
import sys
import time


def step(vocab: int, chunk: int, windows: int, calls: int, precision: str) -> str:
    import numpy as np

    import pytrnn

    cfg = pytrnn.RNNConfig(
        vocab_size=vocab,
        hidden=200,
        emsize=200,
        tied=True,
        layers=2,
        cell="lstm",
        init="wlm",
        window=35,
        dtype="float32",
        dropout=0.2,
        clip=0.0,
        clip_norm=0.25,
        lr=20.0,
        reg=0.0,
        loss_scale="token",
        output_chunk=chunk,
        precision=precision,
    )
    m = pytrnn.RNN(cfg, mode="scan", backend="jax", seed=1, carry_state=True)
    m.reset_carry(20)
    rng = np.random.default_rng(0)
    X, Y = (rng.integers(0, vocab, (windows, 35, 20)) for _ in "XY")
    times = []
    for c in range(calls):
        drops = m.draw_drop(35, 20, windows, rng=np.random.default_rng(c))
        t0 = time.perf_counter()
        m.train_windows(X, Y, drops=drops)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    whole = "whole" if chunk == 0 else f"{chunk} rows"
    return (
        f"V {vocab:,}, {whole}, {precision}: {min(times[1:]) / windows * 1e3:,.0f} "
        f"ms/step (first call {times[0]:.1f} s), peak RSS {peak:,.0f} MB"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=267_735)
    ap.add_argument("--chunks", default="0,35,70,140")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--precision", default="full")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one is not None:  # the child: one setting
        print(step(a.vocab, a.one, a.windows, a.calls, a.precision), flush=True)
        return
    for chunk in (int(c) for c in a.chunks.split(",")):
        args = [f"--vocab={a.vocab}", f"--windows={a.windows}", f"--calls={a.calls}"]
        args += [f"--precision={a.precision}", f"--one={chunk}"]
        p = subprocess.run([sys.executable, __file__, *args], capture_output=True)
        out = p.stdout.decode().strip() or p.stderr.decode().strip()[-500:]
        print(out, flush=True)


if __name__ == "__main__":
    main()
