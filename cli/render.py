"""What the commands print as rich tables: each takes the dict (or rows) a library
function returned, so the commands stay one call into the library and one render."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from pytrnn.tools.compare import shown


def wide(at_least: int) -> Console:
    """A console at least this wide, so no column is cut in a pipe or a CI log."""
    return Console(width=max(Console().width, at_least))


def _columns(table: Table, names) -> None:
    for c in names:
        table.add_column(c, justify="left" if c in ("run", "figure") else "right")


def compare_table(out: dict) -> None:
    def fmt(v):
        return "-" if v is None else f"{v:,.3f}" if isinstance(v, float) else str(v)

    differ = ", ".join(out["differ"]) or "nothing: the same settings"
    table = Table(title=f"{out['level']}-level runs; they differ in {differ}")
    _columns(
        table,
        [
            "run",
            *out["differ"],
            "parameters",
            "passes",
            f"best val {out['val_label']}",
            "at pass",
            f"test {out['val_label']}",
            f"{out['unit']}/s",
        ],
    )
    for r in out["rows"]:
        speed = "-" if r["speed"] is None else f"{r['speed']:,.0f}"
        table.add_row(
            r["name"],
            *(shown(r[k]) for k in out["differ"]),
            f"{r['parameters']:,}",
            str(r["passes"]),
            fmt(r["best_val"]),
            fmt(r["best_pass"]),
            fmt(r["test"]),
            speed,
        )
    console = wide(120)
    console.print(table)
    if any(r["name"] != r["run"] for r in out["rows"]):  # the names in full
        for r in out["rows"]:
            console.print(f"{r['name']}: {r['run']}", markup=False, highlight=False)


def reproduce_table(out: dict, console: Console) -> None:
    table = Table(
        title=f"original notebook vs pytrnn on {out['corpus']} ({out['why']})"
    )
    _columns(table, ("figure", "original", "pytrnn", "rel. diff"))
    for r in out["rows"]:
        table.add_row(
            r.figure, f"{r.original:.4f}", f"{r.pytrnn:.4f}", f"{r.rel_diff:+.1%}"
        )
    console.print(table)
    console.print(out["note"])


def bench_tables(out: dict, console: Console) -> None:
    """``pytrnn bench``: the grid, the XLA reference line, the cells, In[107]."""
    machine_lines(out, console)
    table = Table(
        title=f"chars/s on {out['corpus']} (H={out['hidden']}, L={out['window']}, "
        f"D={out['vocab']}); f32 matmul peak "
        f"{out['matmul_peak_gflops_f32']:.0f} GFLOP/s"
    )
    _columns(
        table,
        (
            "run",
            "chars/s",
            "x numpy",
            "x JAX",
            "compile s",
            "% f32 peak",
            "peak RSS MB",
        ),
    )
    for r in out["rows"]:
        table.add_row(
            r["name"] + (f" ({r['note']})" if r["note"] else ""),
            f"{r['chars_per_s']:,.0f}",
            f"{r['vs_numpy']:.2f}",
            f"{r['vs_jax']:.2f}",
            f"{r['compile_s']:.1f}",
            f"{100 * r['of_peak']:.0f}%",
            f"{r['rss_mb']:.0f}",
        )
    console.print(table)
    xla, peak = out["xla_recurrent_matmul_gflops_f32"], out["matmul_peak_gflops_f32"]
    console.print(
        f"XLA alone, (64, {out['hidden']}) @ ({out['hidden']}, {out['hidden']}) "
        f"float32 in a dependent loop (batch 64's recurrent step): "
        f"{xla:.0f} GFLOP/s, {100 * xla / peak:.0f}% of the numpy peak"
    )
    if "cells" in out:
        t = Table(
            title="cells: chars/s against a hand-written JAX trainer of the same cell"
        )
        _columns(t, ("run", "chars/s", "x JAX (same cell)", "compile s"))
        for r in out["cells"]:
            t.add_row(
                r["name"],
                f"{r['chars_per_s']:,.0f}",
                f"{r['vs_jax']:.2f}",
                f"{r['compile_s']:.1f}",
            )
        console.print(t)
    if "in107" in out:
        e = out["in107"]
        console.print(
            f"In[107] job, 10 passes end to end: pytrnn CLI {e['cli_s']:.1f} s, "
            f"hand-written JAX {e['jax_s']:.1f} s, ratio {e['ratio']:.2f}; "
            f"CLI peak RSS {e['cli_peak_rss_mb']:.0f} MB"
        )


def machine_lines(out: dict, console: Console) -> None:
    """The machine the figures were measured on, and its products' rates."""
    from pytrnn.bench.machine import products_line
    from pytrnn.tools.info import cpu_line

    console.print(f"measured on: {cpu_line(out['machine'])}", markup=False)
    for dt, rates in out.get("products", {}).items():
        line = products_line(rates, out["step_rows"], out["hidden"], out["vocab"], dt)
        console.print(line, markup=False)


def word_bench_table(out: dict, console: Console) -> None:
    machine_lines(out, console)
    peer = any(r["vs_torch"] == r["vs_torch"] for r in out["rows"])  # not all nan
    table = Table(
        title=f"words/s, V={out['vocab']}, H={out['hidden']}, windows of "
        f"{out['window']}; f32 matmul peak "
        f"{out['matmul_peak_gflops_f32']:.0f} GFLOP/s"
    )
    _columns(
        table,
        (
            "run",
            "words/s",
            "x numpy",
            "x JAX (same batch, dtype)",
            *(("x PyTorch (same batch, dtype)",) if peer else ()),
            "compile s",
            "% f32 peak",
        ),
    )
    for r in out["rows"]:
        table.add_row(
            r["name"],
            f"{r['words_per_s']:,.0f}",
            f"{r['vs_numpy']:.2f}",
            f"{r['vs_jax']:.2f}",
            *((f"{r['vs_torch']:.2f}",) if peer else ()),
            f"{r['compile_s']:.1f}",
            f"{100 * r['of_peak']:.0f}%",
        )
    console.print(table)


def info_table(facts: dict) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in facts.items():
        if key == "backends":
            for name, (ok, detail) in value.items():
                verdict = {True: "works", False: "FAILS", None: "not probed"}[ok]
                table.add_row(f"backend {name}", f"{verdict} ({detail})")
        elif key == "jax_devices":
            table.add_row("jax devices", ", ".join(value) or "none")
        else:
            table.add_row(key, str(value))
    Console().print(table)
