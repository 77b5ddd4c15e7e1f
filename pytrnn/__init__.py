"""pytrnn: the classic Theano char-RNN notebook on PyTensor, plus a word-level scan RNN."""

__version__ = "0.1.0"

from .config import RNNConfig, TrainConfig  # noqa: E402
from .errors import PytrnnError  # noqa: E402
from .model import RNN  # noqa: E402


def evaluate(checkpoint, corpus, backend=None) -> dict:
    """A checkpoint's data loss on a text file (pytrnn.evaluate): what `pytrnn eval`
    prints, as a dict."""
    from .evaluate import evaluate as run

    return run(checkpoint, corpus, backend=backend)


__all__ = ["RNN", "RNNConfig", "TrainConfig", "PytrnnError", "evaluate", "__version__"]
