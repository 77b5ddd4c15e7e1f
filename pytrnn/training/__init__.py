"""The pass loop and each level's pass (chars, word sentences, word
stream), the resume rules, progress reporting, and ``train``: what ``pytrnn
train`` runs.
"""

from pytrnn.training.loop import TrainingInterrupted, TrainResult  # noqa: E402
from pytrnn.training.run import train  # noqa: E402

__all__ = ["train", "TrainResult", "TrainingInterrupted"]
