"""word_language_model's own main.py beside ``pytrnn train --recipe wlm``, on the same
folder, one after the other: per epoch each one's validation perplexity and seconds,
then the test perplexity, tokens/s, wall time and the ratios.

torch is never a pytrnn dependency. Make a separate venv for it and get wlm's code
(pytorch/examples, word_language_model/: main.py, data.py, model.py):

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch numpy
    git clone --depth 1 https://github.com/pytorch/examples /tmp/examples

    python bench/wlm_parity.py ../shared/corpora/wikitext2-valid --epochs 1 \\
        --torch-python /tmp/torchvenv/bin/python --wlm /tmp/examples/word_language_model \\
        --seeds 1111,1112 [--tied] [--pytrnn-args '--precision bf16']

Without --torch-python / --wlm only pytrnn runs (its figures and the corpus counts).
The token counts printed are data.Corpus's (transcribed here) beside pytrnn's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# wlm prints losses to 2 decimals and perplexities to 2: read the perplexities
EPOCH = re.compile(
    r"end of epoch\s+(\d+) \| time:\s*([\d.]+)s \| valid loss\s*[\d.]+ \| "
    r"valid ppl\s*([\d.]+)"
)
TEST = re.compile(r"End of training \| test loss\s*[\d.]+ \| test ppl\s*([\d.]+)")
BATCH = re.compile(r"ms/batch\s*([\d.]+)")
# the float32 matmul flops of one token of the 2x200 LSTM with V outputs (x3 for
# forward + backward): input and hidden products of two layers, then the output
FLOPS = lambda V, E=200, H=200: 3 * 2 * (4 * H * (E + H) + 4 * H * (H + H) + H * V)  # noqa: E731


def corpus_counts(folder: Path) -> dict:
    """data.Corpus, transcribed: tokens per file, and the dictionary's size."""
    word2idx, out = {}, {}
    for name in ("train", "valid", "test"):
        n = 0
        with open(folder / f"{name}.txt", encoding="utf8") as f:
            for line in f:
                for w in line.split() + ["<eos>"]:
                    word2idx.setdefault(w, len(word2idx))
                    n += 1
        out[name] = n
    out["vocab"] = len(word2idx)
    return out


def pytrnn_counts(folder: Path) -> dict:
    from pytrnn.data.corpora import load_texts
    from pytrnn.data.words import WordVocab, read_units, stream_ids

    t = load_texts(str(folder))
    lines = {
        k: read_units(getattr(t, k), "whitespace", False)
        for k in ("train", "valid", "test")
    }
    vocab = WordVocab.from_lines(lines["train"], lines["valid"] + lines["test"])
    out = {k: len(stream_ids(vocab, v)) for k, v in lines.items()}
    out["vocab"] = vocab.size
    return out


def run_wlm(python, wlm, data, epochs, seed, tied, work) -> dict:
    cmd = [
        python,
        "main.py",
        "--data",
        str(Path(data).resolve()),
        "--epochs",
        str(epochs),
        "--seed",
        str(seed),
        "--save",
        str(work / f"wlm{seed}.pt"),
    ] + (["--tied"] if tied else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=wlm, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"wlm's main.py failed ({p.returncode}):\n{p.stderr[-2000:]}")
    out = p.stdout
    epochs_ = [
        {"epoch": int(e), "seconds": float(s), "val_ppl": float(v)}
        for e, s, v in EPOCH.findall(out)
    ]
    ms = [float(m) for m in BATCH.findall(out)]
    test = TEST.search(out)
    return {
        "epochs": epochs_,
        "test_ppl": float(test.group(1)),
        "wall": wall,
        "ms_per_batch": sum(ms) / len(ms) if ms else None,
    }


def run_pytrnn(data, epochs, seed, tied, work, extra=()) -> dict:
    ckpt, log = work / f"p{seed}.npz", work / f"p{seed}.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "pytrnn.cli",
        "train",
        "--recipe",
        "wlm",
        "--corpus",
        str(data),
        "--passes",
        str(epochs),
        "--seed",
        str(seed),
        "--checkpoint",
        str(ckpt),
        "--log",
        str(log),
        "--sample-length",
        "0",
        "--overwrite",
        *extra,
    ] + (["--tied"] if tied else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"pytrnn failed ({p.returncode}):\n{p.stderr[-2000:]}")
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    recs = [r for r in recs if "pass" in r]  # the run's own line first
    test = re.search(r"test \(pass \d+\): loss/word=([\d.]+)", p.stdout)
    compile_s = re.search(r"compile ([\d.]+) s", p.stdout)
    return {
        "epochs": [
            {
                "epoch": r["pass"],
                "seconds": r["seconds"] + r.get("score_seconds", 0),
                "train_s": r["seconds"],
                "val_ppl": r["val_ppl"],
                "words_per_s": r["words_per_s"],
            }
            for r in recs
        ],
        "test_ppl": math.exp(float(test.group(1))),
        "wall": wall,
        "compile_s": float(compile_s.group(1)) if compile_s else None,
        "checkpoint": ckpt,
    }


def matmul_peak() -> float:
    """GFLOP/s of a float32 (1024 x 1024) matmul on JAX here: the peak the shares
    are of (measured in this run; these machines are shared)."""
    import jax
    import jax.numpy as jnp

    a = jnp.ones((1024, 1024), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(10):
            out = f(a)
        out.block_until_ready()
        best = min(best, (time.perf_counter() - t0) / 10)
    return 2 * 1024**3 / best / 1e9


def eval_speed(ckpt: Path, folder: Path, tokens: int, words_per_s: float, work: Path):
    """``pytrnn eval`` (pytrnn.evaluate, in this process: loading and compiling
    included) on the first ``tokens`` tokens of train.txt, against one training
    pass over as many tokens at the run's speed."""
    lines, n = [], 0
    for line in (folder / "train.txt").read_text(encoding="utf-8").splitlines():
        lines.append(line)
        n += len(line.split()) + 1
        if n >= tokens:
            break
    text = work / "eval.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import pytrnn
    from pytrnn.tools.evaluate import eval_line

    t0 = time.perf_counter()
    r = pytrnn.evaluate(ckpt, text)
    return n, time.perf_counter() - t0, n / words_per_s, eval_line(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seeds", default="1111")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--torch-python", default=os.environ.get("PYTRNN_TORCH_PYTHON"))
    ap.add_argument(
        "--wlm", type=Path, help="pytorch/examples' word_language_model folder"
    )
    ap.add_argument(
        "--peak-gflops",
        type=float,
        default=None,
        help="the float32 matmul peak (default: measured here, JAX)",
    )
    ap.add_argument("--eval-tokens", type=int, default=100_000)
    ap.add_argument(
        "--pytrnn-args",
        default="",
        help="more options for pytrnn's runs, e.g. '--precision bf16'",
    )
    a = ap.parse_args()

    ours, theirs = pytrnn_counts(a.data), corpus_counts(a.data)
    print(
        f"tokens train/valid/test, vocabulary: data.Corpus {theirs['train']:,} / "
        f"{theirs['valid']:,} / {theirs['test']:,}, {theirs['vocab']:,}; pytrnn "
        f"{ours['train']:,} / {ours['valid']:,} / {ours['test']:,}, {ours['vocab']:,}"
        f" ({'equal' if ours == theirs else 'DIFFERENT'})"
    )
    peer = a.torch_python and a.wlm
    flops = FLOPS(ours["vocab"])
    a.peak_gflops = a.peak_gflops or matmul_peak()
    print(f"float32 matmul peak here (JAX, 1024^2): {a.peak_gflops:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in [int(s) for s in a.seeds.split(",")]:
            w = (
                run_wlm(a.torch_python, a.wlm, a.data, a.epochs, seed, a.tied, work)
                if peer
                else None
            )
            p = run_pytrnn(a.data, a.epochs, seed, a.tied, work, a.pytrnn_args.split())
            print(
                f"\nseed {seed}{' --tied' if a.tied else ''}: per epoch, validation ppl "
                f"and seconds (training + validation)"
            )
            for k, pe in enumerate(p["epochs"]):
                line = f"  epoch {pe['epoch']}: pytrnn ppl {pe['val_ppl']:8.2f} {pe['seconds']:6.1f} s"
                if w:
                    we = w["epochs"][k]
                    line += (
                        f" | wlm ppl {we['val_ppl']:8.2f} {we['seconds']:6.1f} s | "
                        f"ppl ratio {pe['val_ppl'] / we['val_ppl']:.3f}, "
                        f"time ratio {pe['seconds'] / we['seconds']:.2f}"
                    )
                print(line)
            speed = sum(e["words_per_s"] for e in p["epochs"]) / len(p["epochs"])
            line = (
                f"  test ppl: pytrnn {p['test_ppl']:.2f}; training {speed:,.0f} tokens/s; "
                f"wall {p['wall']:.1f} s (compile {p['compile_s']:.1f} s)"
            )
            if a.peak_gflops:
                line += (
                    f"; {speed * flops / 1e9 / a.peak_gflops:.0%} of the float32 peak"
                )
            print(line)
            if w:
                # wlm's ms/batch is the training step alone: batch 20 x bptt 35 tokens
                w_speed = (
                    20 * 35 / (w["ms_per_batch"] / 1000)
                    if w["ms_per_batch"]
                    else float("nan")
                )
                line = (
                    f"  test ppl: wlm {w['test_ppl']:.2f}; training {w_speed:,.0f} tokens/s"
                    f"; wall {w['wall']:.1f} s"
                )
                if a.peak_gflops:
                    line += f"; {w_speed * flops / 1e9 / a.peak_gflops:.0%} of the peak"
                print(line)
                print(
                    f"  ratios pytrnn / wlm: test ppl {p['test_ppl'] / w['test_ppl']:.3f}, "
                    f"tokens/s {speed / w_speed:.2f}x, wall time {p['wall'] / w['wall']:.2f}"
                )
            n, e_s, pass_s, e_line = eval_speed(
                p["checkpoint"], a.data, a.eval_tokens, speed, work
            )
            print(
                f"  pytrnn eval on {n:,} tokens: {e_s:.1f} s (loading, compiling included) "
                f"against {pass_s:.1f} s of training over as many ({e_s / pass_s:.2f}x): "
                f"{e_line}"
            )
    print(
        f"\n(a token of this model is about {flops / 1e6:.1f} MFLOP of float32 "
        f"matmuls, forward and backward)"
    )


if __name__ == "__main__":
    main()
