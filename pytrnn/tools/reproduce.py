"""Re-run the original notebook's three experiments and set its figures beside ours.

The original used a different random initialisation, Python 2's byte strings and the
set order of characters, so the figures agree in size and trend, not digit for digit.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pytrnn.config import RNNConfig, TrainConfig, check_seed
from pytrnn.data.corpora import REMOTE, cache_dir
from pytrnn.runtime.model import RNN
from pytrnn.training import train
from pytrnn.training.progress import PrintReporter

# What the notebook printed (In[114], In[115], In[107]).
ORIGINAL = {
    "in114": {"loss": 115.85033294086065, "expected": 114.62418696676431, "D": 98},
    "in115": [
        97.5848,
        88.0225,
        82.8493,
        78.878,
        75.9255,
        73.195,
        71.2562,
        68.7904,
        67.1693,
        65.6779,
    ],
    "in107": [
        60.5135,
        60.5437,
        60.5185,
        60.4995,
        60.4887,
        60.4934,
        60.5534,
        60.4818,
        60.4696,
        60.4553,
    ],
}
NOTE = (
    "The original used another random initialisation, Python 2 byte strings and "
    "set order of characters: figures agree in size and trend, not digit for digit."
)


@dataclass
class Row:
    figure: str
    original: float
    pytrnn: float

    @property
    def rel_diff(self) -> float:
        return (self.pytrnn - self.original) / self.original


def default_corpus() -> tuple[str, str]:
    """four-million when it has been fetched, else the embedded default (and why)."""
    if (cache_dir() / REMOTE["four-million"][1]).exists():
        return "four-million", "the notebook's own text"
    return "pydoc", "four-million is not downloaded (pytrnn data fetch four-million)"


def run_in114(seed: int = 0) -> tuple[float, float]:
    """Initial loss of x = y = [0]*25 with the notebook's D=98: (loss, L*ln D)."""
    cfg = RNNConfig()
    loss = RNN(cfg, mode="scan", seed=seed).train_on_seq(
        [0] * cfg.window, [0] * cfg.window
    )
    return loss, cfg.window * math.log(cfg.vocab_size)


def reproduce(
    corpus: str | None = None,
    quick: bool = False,
    seed: int = 0,
    reporter=None,
    mode: str = "unroll",
) -> dict:
    """Run In[114], In[115] and In[107]; returns rows, histories and the corpus used.

    ``quick`` trains In[107] for 2 passes over the first 100,000 chars instead of 10
    over the whole text.
    """
    check_seed(seed)
    reporter = reporter or PrintReporter()
    corpus, why = (corpus, "given") if corpus else default_corpus()
    loss114, expected114 = run_in114(seed)
    rows = [
        Row("In[114] initial loss", ORIGINAL["in114"]["loss"], loss114),
        Row("In[114] L*ln(D)", ORIGINAL["in114"]["expected"], expected114),
    ]
    histories = {}
    with tempfile.TemporaryDirectory() as d:
        runs = {
            "in115": TrainConfig(corpus=corpus, limit_chars=1000, passes=10),
            "in107": TrainConfig(
                corpus=corpus,
                passes=2 if quick else 10,
                limit_chars=100_000 if quick else None,
            ),
        }
        for key, cfg in runs.items():
            reporter.line(
                f"-- {key.replace('in', 'In[')}]: {cfg.passes} passes over "
                f"{cfg.limit_chars or 'all'} chars of {corpus}"
            )
            cfg = TrainConfig(
                **{
                    **cfg.__dict__,
                    "seed": seed,
                    "mode": mode,
                    "checkpoint": str(Path(d) / f"{key}.npz"),
                    "sample_length": 0,
                }
            )
            result = train(RNNConfig(), cfg, reporter=reporter)
            histories[key] = [r["loss"] for r in result.history]
            for i, loss in enumerate(histories[key]):
                rows.append(
                    Row(
                        f"{key.replace('in', 'In[')}] iteration={i + 1}",
                        ORIGINAL[key][i],
                        loss,
                    )
                )
    return {
        "rows": rows,
        "histories": histories,
        "corpus": corpus,
        "why": why,
        "note": NOTE,
    }
