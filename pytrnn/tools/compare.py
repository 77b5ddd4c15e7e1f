"""``pytrnn compare``: several runs side by side, from their checkpoints alone.

A table with one row per run: the settings that differ between the runs (only
those), passes done, best validation figure and its pass, the test figure where one
was scored, and throughput; and a figure with every run's curves overlaid, each
labelled by what differs. Runs of different levels do not compare.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import asdict
from pathlib import Path

from pytrnn.errors import ConfigError
from pytrnn.files import figure_path
from pytrnn.runtime import checkpoint as ckpt_io

# per level: (validation key, its label, the per-pass speed key, train key, test key)
FIGURES = {
    "char": ("val_bpc", "bits/char", "chars_per_s", "train_bpc", "bpc"),
    "word": ("val_ppl", "perplexity", "words_per_s", "train_ppl", "ppl"),
}
SKIP = {"vocab_size"}  # follows from the text; the corpus says it


def settings(ck: ckpt_io.Checkpoint) -> dict:
    """What a run was asked for: the model's config, the run's data and loop options,
    the mode and backend it trained with."""
    s = {k: v for k, v in asdict(ck.cfg).items() if k not in SKIP}
    s.update({k: v for k, v in ck.run.train.items() if k not in SKIP})
    s.update(corpus=ck.corpus, mode=ck.mode, backend=ck.backend, seed=ck.seed)
    return s


def folded(paths) -> list:
    """The paths without a run's ``X.best.npz`` where ``X.npz`` is named too (a glob
    such as ``runs/sweep-*.npz`` matches both): one row per run."""
    named = {str(p) for p in paths if not isinstance(p, tuple)}
    return [
        p
        for p in paths
        if isinstance(p, tuple)
        or not (
            str(p).endswith(".best.npz")
            and str(p).removesuffix(".best.npz") + ".npz" in named
        )
    ]


def short_names(paths) -> list[str]:
    """Each run's file name less what every one shares at its start and its end
    (``runs/sweep-lr0.5.npz``, ``runs/sweep-lr1.npz``: ``lr0.5``, ``lr1``)."""
    stems = [Path(p).name.removesuffix(".npz") for p in paths]
    if len(set(stems)) < len(stems):  # one name in several folders: the paths
        return [str(p) for p in paths]
    if len(stems) < 2:
        return stems
    seps = "-_.="  # cut at a separator, never inside a word (sweep-lr0.5: lr0.5)
    pre = os.path.commonprefix(stems)
    head = max((pre.rfind(c) + 1 for c in seps), default=0)
    post = os.path.commonprefix([s[::-1] for s in stems])
    tail = max((post.rfind(c) + 1 for c in seps), default=0)
    cut = [s[head : len(s) - tail] for s in stems]
    return cut if all(cut) and len(set(cut)) == len(cut) else stems


def load_runs(paths) -> list[tuple[str, ckpt_io.Checkpoint]]:
    """(path, checkpoint) per run, all of one level, a run's best pass folded into
    it. Runs loaded before pass through as they are, so a caller that tabulates and
    draws reads each file once."""
    if not paths:
        raise ConfigError("name at least one checkpoint")
    paths = folded(list(paths))
    runs = [p if isinstance(p, tuple) else (str(p), ckpt_io.load(p)) for p in paths]
    levels = {ck.level for _, ck in runs}
    if len(levels) > 1:
        which = ", ".join(f"{p} is {ck.level}" for p, ck in runs)
        raise ConfigError(f"runs of different levels do not compare: {which}")
    return runs


def differences(runs) -> list[str]:
    """Setting names whose values are not the same in every run, in a stable order."""
    all_settings = [settings(ck) for _, ck in runs]
    keys = sorted({k for s in all_settings for k in s})
    return [k for k in keys if len({repr(s.get(k)) for s in all_settings}) > 1]


def shown(v) -> str:
    """A setting's value, short: floats as %g."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def label(path: str, ck, differ: list[str]) -> str:
    s = settings(ck)
    return ", ".join(f"{k}={shown(s.get(k))}" for k in differ) or Path(path).stem


def run_speed(history: list[dict], key: str) -> float | None:
    """The run's units per second over all its passes (not one pass's): each pass's
    rate weighted by its seconds (equally where none were kept)."""
    rated = [r for r in history if r.get(key)]
    if not rated:
        return None
    w = [r.get("seconds") or 1.0 for r in rated]
    return sum(r[key] * s for r, s in zip(rated, w)) / sum(w)


def compare(paths) -> dict:
    """{"level", "differ", "val_label", "rows"}: one row per run (a dict). ``paths``:
    checkpoint files, or runs from ``load_runs``."""
    runs = load_runs(paths)
    level = runs[0][1].level
    val_key, val_label, speed_key, _, test_key = FIGURES[level]
    differ = differences(runs)
    rows = []
    for (path, ck), name in zip(runs, short_names([p for p, _ in runs])):
        s = settings(ck)
        h = ck.history
        vals = [(r[val_key], r["pass"]) for r in h if val_key in r]
        best = min(vals) if vals else (None, None)
        test = ck.run.test or {}
        rows.append(
            {
                "run": path,
                "name": name,
                "label": label(path, ck, differ),
                **{k: s.get(k) for k in differ},
                "passes": ck.passes_done,
                "parameters": sum(int(v.size) for v in ck.params.values()),
                "best_val": best[0],
                "best_pass": best[1],
                "test": test.get(test_key),
                "speed": run_speed(h, speed_key),
            }
        )
    return {
        "level": level,
        "differ": differ,
        "val_label": val_label,
        "unit": speed_key.split("_")[0],
        "rows": rows,
    }


def compare_runs(paths, out=None) -> tuple[dict, Path | None]:
    """``pytrnn compare``: the table of ``compare`` and, with ``out``, the runs'
    curves drawn there; the output path is checked before any file is read, and
    each checkpoint is read once for both. Returns (table, the file written)."""
    if out:
        out = figure_path(out)
    runs = load_runs(paths)
    return compare(runs), (plot_runs(runs, out) if out else None)


def plot_runs(paths, out) -> Path:
    """``runs_figure`` saved as a PNG (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = figure_path(out)  # before reading or drawing anything
    fig = runs_figure(paths)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def runs_figure(paths):
    """Every run's training and validation curves overlaid: train (dashed) and
    validation (solid) bits/char or perplexity per pass, one colour per run. A
    notebook shows the returned figure inline."""
    import matplotlib.pyplot as plt

    from pytrnn.tools.plot import pass_axis

    runs = load_runs(paths)
    level = runs[0][1].level
    val_key, val_label, _, train_key, _ = FIGURES[level]
    differ = differences(runs)
    if not any(ck.history for _, ck in runs):
        raise ConfigError("none of the checkpoints has a finished pass to plot")
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
    handles = []
    for i, (path, ck) in enumerate(runs):
        colour, name = f"C{i % 10}", label(path, ck, differ)
        h = ck.history
        val = [r for r in h if val_key in r]
        if val:
            ax.plot(
                [r["pass"] for r in val],
                [r[val_key] for r in val],
                marker="o",
                color=colour,
            )
        ax.plot(
            [r["pass"] for r in h],
            [r[train_key] for r in h],
            ls="--",
            marker=".",
            color=colour,
            alpha=0.6,
        )
        handles.append(Line2D([], [], color=colour, marker="o", label=name))
    drawn_val = any(val_key in r for _, ck in runs for r in ck.history)
    handles += [Line2D([], [], color="k", label="validation")] if drawn_val else []
    handles.append(
        Line2D(
            [], [], color="k", ls="--", marker=".", alpha=0.6, label="train (running)"
        )
    )
    pass_axis(ax, sorted({r["pass"] for _, ck in runs for r in ck.history}))
    ax.set_xlabel("pass")
    ax.set_ylabel(val_label)
    if level == "word":  # perplexities span decades: log, labelled at the ends too
        ax.set_yscale("log")
        drawn = [v for line in ax.get_lines() for v in line.get_ydata()]
        log_ticks(ax, min(drawn), max(drawn))
    title = f"{level} level: " + (", ".join(differ) or "the same settings")
    ax.set_title("\n".join(textwrap.wrap(title, 90)), fontsize="medium")
    fig.legend(handles=handles, fontsize="small", loc="outside right upper")
    return fig


def log_ticks(ax, lo: float, hi: float) -> None:
    """Labels a reader can place on a log axis: each decade's 1, 2 and 5 inside the
    data's range and its two ends, none closer than a fifth of a decade to another
    (they would overlap); no minor labels."""
    import math

    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    nice = [
        m * 10.0**e
        for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
        for m in (1, 2, 5)
    ]
    ends = [float(f"{lo:.3g}"), float(f"{hi:.3g}")]
    ticks = list(ends)
    for t in nice:
        if lo < t < hi and all(abs(math.log10(t / u)) > 0.2 for u in ticks):
            ticks.append(t)
    ax.yaxis.set_major_locator(FixedLocator(sorted(ticks)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    pad = (hi / lo) ** 0.04
    ax.set_ylim(lo / pad, hi * pad)
