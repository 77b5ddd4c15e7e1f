"""pytrnn: the classic Theano char-RNN notebook on PyTensor, plus a word-level scan RNN."""

__version__ = "0.1.0"

from .config import RNNConfig, TrainConfig  # noqa: E402
from .errors import PytrnnError  # noqa: E402


def __getattr__(name):
    """``pytrnn.RNN`` on first use: importing the package (and its configs, as the
    CLI does for --help) stays light, without PyTensor."""
    if name == "RNN":
        from .model import RNN

        return RNN
    raise AttributeError(f"module 'pytrnn' has no attribute {name!r}")


def evaluate(checkpoint, corpus, backend=None) -> dict:
    """A checkpoint's data loss on a text file (pytrnn.scoring): what `pytrnn eval`
    prints, as a dict."""
    from .scoring import evaluate as run

    return run(checkpoint, corpus, backend=backend)


__all__ = ["RNN", "RNNConfig", "TrainConfig", "PytrnnError", "evaluate", "__version__"]
