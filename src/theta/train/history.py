"""``History``: what a training run recorded, step by step and epoch by epoch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """The record of a ``fit``.

    Attributes
    ----------
    step_loss : list of float
        Training loss of every step, measured before that step's update.
    epochs : dict of str to list of float
        Per-epoch values: ``loss`` (mean training loss), ``val_loss`` and ``val_<metric>``
        when validation data is given.
    params : dict of str to list of ndarray
        Parameter values after every step, when ``fit(record_params=True)`` (for plotting
        the descent path, e.g. ``w → 2``, ``b → 1``).
    grad_norm : list of float
        Global gradient norm of every step, when ``fit(record_grad_norm=True)``.
    stopped_reason : str or None
        Why training ended early (early stopping, divergence, interruption), if it did.
    """

    step_loss: list[float] = field(default_factory=list)
    epochs: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, list[np.ndarray]] = field(default_factory=dict)
    grad_norm: list[float] = field(default_factory=list)
    stopped_reason: str | None = None

    @property
    def n_steps(self) -> int:
        return len(self.step_loss)

    def log_epoch(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.epochs.setdefault(key, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (for JSON checkpoints); recorded parameters are left out."""
        return {
            "step_loss": list(self.step_loss),
            "epochs": {k: list(v) for k, v in self.epochs.items()},
            "grad_norm": list(self.grad_norm),
            "stopped_reason": self.stopped_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            step_loss=list(data["step_loss"]),
            epochs={k: list(v) for k, v in data["epochs"].items()},
            grad_norm=list(data["grad_norm"]),
            stopped_reason=data["stopped_reason"],
        )
