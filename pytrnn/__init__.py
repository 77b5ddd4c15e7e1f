"""pytrnn: the classic Theano char-RNN notebook on PyTensor, plus a word-level scan RNN."""

__version__ = "0.1.0"

from .config import RNNConfig, TrainConfig  # noqa: E402
from .errors import PytrnnError  # noqa: E402
from .model import RNN  # noqa: E402

__all__ = ["RNN", "RNNConfig", "TrainConfig", "PytrnnError", "__version__"]
