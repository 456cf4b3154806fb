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

    # --- rows: the append-only form kept beside a checkpoint --------------------------------

    def lengths(self) -> dict[str, int]:
        """How many values each series holds now: where a later ``rows_since`` starts.

        Examples
        --------
        >>> History(step_loss=[0.5, 0.25], epochs={"loss": [0.375]}).lengths()
        {'step_loss': 2, 'grad_norm': 0, 'epochs/loss': 1}
        """
        counts = {"step_loss": len(self.step_loss), "grad_norm": len(self.grad_norm)}
        counts.update({f"epochs/{k}": len(v) for k, v in self.epochs.items()})
        return counts

    def rows_since(self, lengths: dict[str, int]) -> list[list[Any]]:
        """The values recorded after ``lengths`` (from :meth:`lengths`), one row each:
        ``["step_loss", v]``, ``["grad_norm", v]`` or ``["epochs", name, v]``.

        ``History.from_rows(h.rows_since({}))`` rebuilds ``h`` (recorded parameters and
        ``stopped_reason`` aside), and so do the rows of several calls concatenated, each
        given the ``lengths()`` taken right after the previous one.

        Examples
        --------
        >>> h = History(step_loss=[0.5])
        >>> start = h.lengths()
        >>> h.step_loss.append(0.25)
        >>> h.log_epoch({"loss": 0.375})
        >>> h.rows_since(start)
        [['step_loss', 0.25], ['epochs', 'loss', 0.375]]
        """
        rows: list[list[Any]] = []
        for name in ("step_loss", "grad_norm"):
            rows += [[name, v] for v in getattr(self, name)[lengths.get(name, 0) :]]
        for name, values in self.epochs.items():
            rows += [["epochs", name, v] for v in values[lengths.get(f"epochs/{name}", 0) :]]
        return rows

    @classmethod
    def from_rows(cls, rows: list[list[Any]], stopped_reason: str | None = None) -> History:
        """The history whose ``rows_since({})`` is ``rows`` (rows as :meth:`rows_since` makes)."""
        history = cls(stopped_reason=stopped_reason)
        for row in rows:
            if row[0] == "epochs":
                history.epochs.setdefault(row[1], []).append(float(row[2]))
            else:
                getattr(history, row[0]).append(float(row[1]))
        return history
