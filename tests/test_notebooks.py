"""Both reproduction notebooks execute without error on a small budget."""

from pathlib import Path

import pytest

import nbclient  # the [test] extras: a missing one is a failure, not a skip
import nbformat

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["01_char_rnn_reproduction.ipynb", "02_word_rnn_scan.ipynb"])
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRNN_BUDGET", "small")  # the kernel inherits the environment
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any failing cell
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "budget: small" in text
    if name.startswith("01"):
        assert "iteration=1, iseq=38, ichar=0, loss=" in text
