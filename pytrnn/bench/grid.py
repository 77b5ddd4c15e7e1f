"""``pytrnn bench``: chars/s for every mode x backend x dtype x batch that runs here,
next to two baselines measured in the same run (a plain numpy BPTT loop and a
hand-written JAX trainer), with ratios, compile times and peak memory.

Machines are shared and noisy: compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pytrnn.bench.baselines import jax_trainer, numpy_train
from pytrnn.config import FUSE_CHUNK, RNNConfig
from pytrnn.data.batches import split_streams, stack_windows, window_starts
from pytrnn.data.corpora import Vocab, load_corpus
from pytrnn.graphs.params import init_params
from pytrnn.runtime.backends import fuses_windows
from pytrnn.runtime.model import RNN
from pytrnn.tools.info import cpu_facts
from pytrnn.training.loop import ASYNC_STEPS

L = 25
FUSE = FUSE_CHUNK  # windows per call in the fused rows: the CLI's default chunk


@dataclass
class Row:
    name: str
    chars_per_s: float
    compile_s: float = 0.0
    vs_numpy: float = 0.0
    vs_jax: float = 0.0
    rss_mb: float = 0.0
    note: str = ""


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def matmul_peak_gflops(n: int = 2048, repeat: int = 5) -> float:
    """This machine's float32 matrix-multiply rate, measured now with numpy (both
    cores, OpenBLAS). The bench takes the best of a measurement before and after its
    rows: a peak measured in a slow spell would flatter every "% of peak"."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def xla_matmul_gflops(m: int, k: int, steps: int = 2000) -> float:
    """What XLA itself reaches here for an (m, k) @ (k, k) float32 matmul repeated in
    a loop, each product feeding the next as the recurrence does: a ceiling for the
    batched recurrent step that no graph handed to XLA can beat."""
    import jax
    import jax.numpy as jnp

    a = jnp.full((m, k), 0.01, jnp.float32)
    b = jnp.full((k, k), 0.01, jnp.float32)
    loop = jax.jit(
        lambda a, b: jax.lax.fori_loop(0, steps, lambda i, c: jnp.tanh(c @ b), a)
    )
    loop(a, b).block_until_ready()
    best = min(_timed(lambda: loop(a, b).block_until_ready()) for _ in range(3))
    return 2 * m * k * k * steps / best / 1e9


def settle(steps, units):
    """Read back (loss, data_loss) pairs left on the device: [(loss, data, units)]."""
    return [(float(loss), float(data), units) for loss, data in steps]


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


REPEATS = 3  # each figure is the best of this many runs: the machines are shared


def best_of(fn, repeats: int = REPEATS) -> float:
    return min(_timed(fn) for _ in range(repeats))


def bench_pytrnn(cfg: RNNConfig, data, mode, backend, batch, fuse, budget_chars) -> Row:
    model = RNN(cfg, mode=mode, backend=backend, seed=0)
    streams = split_streams(data, batch)  # as the trainer lays them out
    starts = window_starts(streams.shape[1], L)
    n_steps = max(fuse, min(len(starts), budget_chars // (L * batch)) // fuse * fuse)
    X, Y = stack_windows(streams, starts[:n_steps], L)
    t0 = time.perf_counter()
    if fuse == 1 and batch == 1:
        model.compile()

        def one_run():
            for k0 in range(
                0, n_steps, ASYNC_STEPS
            ):  # as the trainer: read back in groups
                settle(
                    [
                        model.train_step(X[k], Y[k], sync=False)
                        for k in range(k0, min(k0 + ASYNC_STEPS, n_steps))
                    ],
                    L,
                )
    else:
        model.train_windows(X[:fuse], Y[:fuse], wmask=np.zeros(fuse))

        def one_run():
            for k in range(0, n_steps, fuse):
                model.train_windows(X[k : k + fuse], Y[k : k + fuse])

    compile_s = time.perf_counter() - t0
    dt = best_of(one_run)
    name = f"pytrnn {backend} {mode} {cfg.dtype} batch {batch} fuse {fuse}"
    return Row(name, n_steps * L * batch / dt, compile_s, rss_mb=peak_rss_mb())


def bench_baselines(cfg, data, budget_chars, numpy_chars):
    P = init_params(cfg, np.random.default_rng(0))
    starts = window_starts(len(data), L)
    n_np = max(1, min(len(starts), numpy_chars // L))
    dt = best_of(lambda: numpy_train(P, data, starts[:n_np], L))
    rows = [Row("numpy BPTT loop (baseline)", n_np * L / dt, rss_mb=peak_rss_mb())]
    import jax.numpy as jnp

    train = jax_trainer(L)  # turns on float64 before the arrays below are made
    n = max(1, min(len(starts), budget_chars // L))
    X, Y = map(jnp.asarray, stack_windows(data[None], starts[:n], L))
    PJ = {k: jnp.asarray(v) for k, v in P.items()}
    c = _timed(lambda: train(PJ, X, Y)[1].block_until_ready())
    dt = best_of(lambda: train(PJ, X, Y)[1].block_until_ready())
    rows.append(
        Row("hand-written JAX lax.scan (baseline)", n * L / dt, c, rss_mb=peak_rss_mb())
    )
    return rows


def configs(smoke: bool, backends):
    """(mode, backend, dtype, batch, fuse) to measure."""
    if smoke:
        return [
            ("scan", "jax", "float64", 1, 1),
            ("unroll", "jax", "float64", 1, 4),
            ("scan", "jax", "float32", 8, 4),
        ]
    out = []
    if "jax" in backends:  # the default backend: the whole grid
        out += [
            ("scan", "jax", "float64", 1, 1),  # the notebook's one call per window
            ("scan", "jax", "float64", 1, FUSE),  # the CLI's default
            ("unroll", "jax", "float64", 1, FUSE),
            ("scan", "jax", "float32", 1, FUSE),
        ]
        out += [
            (m, "jax", dt, B, FUSE)
            for dt in ("float64", "float32")
            for B in (32, 64)
            for m in ("scan", "unroll")
        ]
    for b in backends:  # the others compile for a minute per graph: fewer rows
        if not fuses_windows(b):
            out += [("scan", b, "float64", 1, 1), ("scan", b, "float64", 32, 16)]
    return out


def run_child(cmd) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process.

    The peak is the child's own VmHWM, polled from /proc: getrusage's maxrss for a
    child includes the parent's high-water mark inherited across fork.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.05)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))}... exited {proc.returncode}")
    return time.perf_counter() - t0, peak_kb / 1024


def end_to_end(corpus: str, passes: int, repeats: int = 2) -> dict:
    """The In[107] job through the CLI's defaults vs the hand-written JAX trainer,
    each a fresh process, start-up and compile included; and the CLI's peak RSS.
    The two alternate ``repeats`` times and each keeps its best, so a slow spell of
    a shared machine does not land on one side only."""
    cli, jax_s, rss = [], [], 0.0
    with tempfile.TemporaryDirectory() as d:
        cmd = [
            sys.executable,
            "-m",
            "pytrnn.cli",
            "train",
            "--corpus",
            corpus,
            "--passes",
            str(passes),
            "--checkpoint",
            str(Path(d) / "m.npz"),
            "--sample-length",
            "0",
        ]
        code = f"from pytrnn.bench.grid import e2e_jax_job; e2e_jax_job({corpus!r}, {passes})"
        for _ in range(repeats):
            t, peak = run_child(cmd)
            cli.append(t)
            rss = max(rss, peak)
            jax_s.append(run_child([sys.executable, "-c", code])[0])
    t_cli, t_jax = min(cli), min(jax_s)
    return {
        "cli_s": t_cli,
        "jax_s": t_jax,
        "ratio": t_cli / t_jax,
        "cli_peak_rss_mb": rss,
        "cli_runs_s": cli,
        "jax_runs_s": jax_s,
    }


def e2e_jax_job(corpus: str, passes: int) -> None:
    """The hand-written JAX trainer doing the In[107] job (run in a subprocess)."""
    import jax.numpy as jnp

    name, text = load_corpus(corpus)
    vocab = Vocab.from_text(text)
    data = vocab.encode(text).astype(np.int32)
    P = init_params(RNNConfig(vocab_size=vocab.size), np.random.default_rng(0))
    starts = window_starts(len(data), L)
    train = jax_trainer(L)  # float64, as the notebook
    X, Y = map(jnp.asarray, stack_windows(data[None], starts, L))
    P = {k: jnp.asarray(v) for k, v in P.items()}
    for _ in range(passes):
        P, losses = train(P, X, Y)
        print(float(losses.mean()))


def run(
    smoke: bool = False,
    backends=("jax", "numba", "c"),
    e2e: bool = False,
    corpus: str | None = None,
    reporter=print,
    cells: bool = False,
) -> dict:
    name, text = load_corpus(corpus)
    vocab = Vocab.from_text(text)
    data = vocab.encode(text).astype(np.int32)
    H = 16 if smoke else 100
    budget = 5_000 if smoke else 150_000
    base_cfg = RNNConfig(vocab_size=vocab.size, hidden=H)
    peak_n = 512 if smoke else 2048
    peak_before = matmul_peak_gflops(peak_n)
    rows = bench_baselines(base_cfg, data, budget, 2_000 if smoke else 40_000)
    np_cps, jax_cps = rows[0].chars_per_s, rows[1].chars_per_s
    for r in rows:
        reporter(f"{r.name}: {r.chars_per_s:,.0f} chars/s")
    for mode, backend, dtype, batch, fuse in configs(smoke, backends):
        cfg = RNNConfig(vocab_size=vocab.size, hidden=H, dtype=dtype)
        try:
            row = bench_pytrnn(
                cfg, data, mode, backend, batch, fuse, int(budget * batch**0.5)
            )
        except Exception as e:  # a backend that fails here is reported, not fatal
            row = Row(
                f"pytrnn {backend} {mode} {dtype} batch {batch} fuse {fuse}",
                0.0,
                note=f"{type(e).__name__}: {str(e).splitlines()[0][:60]}",
            )
        rows.append(row)
        reporter(
            f"{row.name}: {row.chars_per_s:,.0f} chars/s (compile {row.compile_s:.1f} s)"
        )
    for r in rows:
        r.vs_numpy, r.vs_jax = r.chars_per_s / np_cps, r.chars_per_s / jax_cps
    peak = max(peak_before, matmul_peak_gflops(peak_n))
    recurrent = xla_matmul_gflops(64, H)
    flops_per_char = 6 * H * (H + vocab.size)
    out = {
        "machine": cpu_facts(),
        "corpus": name,
        "hidden": H,
        "window": L,
        "vocab": vocab.size,
        "matmul_peak_gflops_f32": peak,
        "flops_per_char": flops_per_char,
        "xla_recurrent_matmul_gflops_f32": recurrent,
        "rows": [asdict(r) for r in rows],
    }
    for r in out["rows"]:
        r["gflops"] = r["chars_per_s"] * flops_per_char / 1e9
        r["of_peak"] = r["gflops"] / peak
    if cells:
        from pytrnn.bench.cells import CELL_ROWS, bench_cells

        which = [("gru", 1, "float64"), ("lstm", 4, "float32")] if smoke else CELL_ROWS
        out["cells"] = [
            asdict(r)
            for r in bench_cells(
                data, vocab.size, H, budget, 8 if smoke else FUSE, which, reporter
            )
        ]
    if e2e:
        out["in107"] = end_to_end(corpus or "pydoc", 10)
    return out


def save_json(out: dict, path) -> None:
    Path(path).write_text(json.dumps(out, indent=2))
