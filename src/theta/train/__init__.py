"""Training: ``fit`` and the steppable ``Trainer``, callbacks, history and checkpoints."""

from theta.train.callbacks import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    EpochLog,
    EvaluateEvery,
    LRScheduler,
    ModelCheckpoint,
    PrintSteps,
)  # fmt: skip
from theta.train.history import History
from theta.train.loop import StepResult, Trainer, deferred_interrupt, fit

__all__ = [
    "Callback", "DivergenceGuard", "EarlyStopping", "EvaluateEvery", "History", "LRScheduler",
    "ModelCheckpoint", "EpochLog",
    "PrintSteps", "StepResult", "Trainer", "deferred_interrupt", "fit",
]  # fmt: skip
