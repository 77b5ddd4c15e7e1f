"""Loss curves from a checkpoint's per-pass history (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

from pytrnn.errors import ConfigError
from pytrnn.files import figure_path

# (history key, label) for the left panel and the right panel, per level. Each panel
# compares like with like: the notebook's training loss (data + L2 per window) stands
# alone on the left, since no held-out figure carries the L2 term; train and
# validation meet on the right as data loss per char (bits) or per word (perplexity).
PANELS = {
    "char": (
        [("loss", "train loss / window (data + L2, the notebook's)")],
        [("train_bpc", "train"), ("val_bpc", "validation")],
        "bits per char",
    ),
    "word": (
        [("train_word_loss", "train"), ("val_word_loss", "validation")],
        [("train_ppl", "train"), ("val_ppl", "validation")],
        "perplexity",
    ),
}


def plot_history(
    history: list[dict],
    out: str | Path,
    level: str = "char",
    title: str = "",
    reference: list[float] | None = None,
) -> Path:
    """Draw loss (left) and bits/char or perplexity (right) per pass into ``out``.

    ``reference`` is an optional series drawn beside the loss, e.g. the original
    notebook's printed figures.
    """
    out = figure_path(out)
    if not history:
        raise ConfigError("the checkpoint has no finished pass to plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    left, right, right_label = PANELS[level]
    passes = [r["pass"] for r in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in left:
        if key in history[0]:
            ax1.plot(passes, [r[key] for r in history], marker="o", label=label)
    if reference:
        ax1.plot(
            range(1, len(reference) + 1),
            reference,
            marker="s",
            ls="--",
            label="original notebook",
        )
    ax1.set_xlabel("pass")
    ax1.set_ylabel("loss" if level == "char" else "loss per word")
    ax1.legend()
    for key, label in right:
        if key in history[0]:
            ax2.plot(passes, [r[key] for r in history], marker="o", label=label)
    ax2.set_xlabel("pass")
    ax2.set_ylabel(right_label)
    for ax in (ax1, ax2):
        pass_axis(ax, passes)
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def pass_axis(ax, passes) -> None:
    """Passes are whole numbers: a tick at each (up to 20), else whole-number ticks;
    the axis reaches half a pass past the ends, so one pass is a visible point."""
    from matplotlib.ticker import MaxNLocator

    if len(passes) <= 20:
        ax.set_xticks(list(passes))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(min(passes) - 0.5, max(passes) + 0.5)


def run_title(ck) -> str:
    """What a run was: its corpus, level, cell and layers, width."""
    layers = f" x{ck.cfg.layers}" if ck.cfg.layers > 1 else ""
    return f"{ck.corpus} ({ck.level}, {ck.cfg.cell}{layers}, H={ck.cfg.hidden})"


def plot_checkpoint(path, out) -> Path:
    """One run's two panels; several runs (a list of paths) overlaid in one figure,
    as ``pytrnn compare -o`` draws them."""
    from pytrnn.runtime.checkpoint import load

    out = figure_path(out)  # before reading anything
    if isinstance(path, (list, tuple)):
        if len(path) > 1:
            from pytrnn.tools.compare import plot_runs

            return plot_runs(path, out)
        path = path[0]
    ck = load(path)
    return plot_history(ck.history, out, level=ck.level, title=run_title(ck))
