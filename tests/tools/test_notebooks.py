"""The notebooks execute without error on a small budget and draw their figures; the
committed ones carry their figures as images."""

from pathlib import Path

import nbclient  # the [test] extras: a missing one is a failure, not a skip
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


NOTEBOOKS = [
    "01_char_rnn_reproduction.ipynb",
    "02_word_rnn_scan.ipynb",
    "03_cells_and_optimizers.ipynb",
]


def png_outputs(nb) -> int:
    return sum(
        "image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_was_run_at_full_budget_with_its_figures(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "budget: full" in text
    assert png_outputs(nb) >= 1
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_BUDGET", "small")  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on any failing cell
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "budget: small" in text
    assert png_outputs(nb) >= 1  # its plots come out as images
    if name.startswith("01"):
        assert "iteration=1, iseq=38, ichar=0, loss=" in text
    if name.startswith("02"):
        assert "test perplexity" in text
