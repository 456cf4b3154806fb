"""Optimizers, learning-rate schedules and gradient clipping: the chapter's "update" step.

Each optimizer writes the update of one array, in place; the base class runs it over every
parameter group. Schedules are pure functions of the step.
"""

from theta.optim.adam import Adam, AdamW
from theta.optim.clip import clip_grad_norm, clip_grad_value
from theta.optim.optimizer import Optimizer, weight_decay_groups
from theta.optim.rmsprop import RMSprop
from theta.optim.schedules import (
    LRSchedule,
    ReduceLROnPlateau,
    constant,
    cosine_with_warmup,
    exponential,
    set_lr,
    step_decay,
)
from theta.optim.sgd import SGD

__all__ = [
    "SGD", "Adam", "AdamW", "LRSchedule", "Optimizer", "RMSprop", "ReduceLROnPlateau",
    "clip_grad_norm", "clip_grad_value", "constant", "cosine_with_warmup", "exponential",
    "set_lr", "step_decay", "weight_decay_groups",
]  # fmt: skip
