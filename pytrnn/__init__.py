"""pytrnn: the classic Theano char-RNN notebook on PyTensor, plus a word-level scan RNN."""

__version__ = "0.1.0"

from pytrnn.config import (  # noqa: E402
    DataConfig,
    ModelConfig,
    OptimConfig,
    RNNConfig,
    RunConfig,
    TrainConfig,
)
from pytrnn.errors import PytrnnError  # noqa: E402


def __getattr__(name):
    """``pytrnn.RNN`` and ``pytrnn.train`` on first use: importing the package (and its configs, as the
    CLI does for --help) stays light, without PyTensor."""
    if name == "RNN":
        from pytrnn.runtime.model import RNN

        return RNN
    if name == "configure":
        from pytrnn.resolve import configure

        return configure
    if name == "train":
        from pytrnn.training import train

        return train
    raise AttributeError(f"module 'pytrnn' has no attribute {name!r}")


def evaluate(checkpoint, corpus, backend=None, batch: int = 10, cache=None) -> dict:
    """A checkpoint's data loss on a text file (pytrnn.tools.evaluate): what `pytrnn eval`
    prints, as a dict; ``cache``: a pytrnn.runtime.cache.Cache to mix in."""
    from pytrnn.tools.evaluate import evaluate as run

    return run(checkpoint, corpus, backend=backend, batch=batch, cache=cache)


__all__ = [
    "RNN",
    "RNNConfig",
    "TrainConfig",
    "ModelConfig",
    "OptimConfig",
    "DataConfig",
    "RunConfig",
    "PytrnnError",
    "configure",
    "evaluate",
    "train",
    "__version__",
]
