"""The errors a user can cause. The CLI prints each as one line and exits 2."""


class PytrnnError(ValueError):
    """Bad input from the user: a corpus, an option, a checkpoint, a prime text."""


class ConfigError(PytrnnError):
    """An option or config value out of range."""


class CorpusError(PytrnnError):
    """A corpus that is missing, empty, not UTF-8 or too short."""


class CheckpointError(PytrnnError):
    """A checkpoint that is missing, damaged or not a pytrnn file."""


class DivergedError(PytrnnError):
    """Training produced a NaN or Inf loss."""


class OutputError(PytrnnError):
    """An output path (checkpoint, log, figure) that cannot be written."""
