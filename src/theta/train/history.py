"""``History``: what a training run recorded, step by step and epoch by epoch."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["History"]


_ROWS = 10  # rows a table shows; a longer one keeps its first and last halves around "..."


@dataclass(repr=False)
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

    Its ``repr`` is a short table of the per-epoch values, not every step's loss; in a
    notebook it shows as an HTML table beside a thumbnail of the loss curve.

    Examples
    --------
    >>> History(step_loss=[0.5, 0.25, 0.125], epochs={"loss": [0.375, 0.125]})
    History: 3 steps, 2 epochs
    epoch  loss
        1  0.375
        2  0.125
    """

    step_loss: list[float] = field(default_factory=list)
    epochs: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, list[np.ndarray]] = field(default_factory=dict)
    grad_norm: list[float] = field(default_factory=list)
    stopped_reason: str | None = None

    @property
    def n_steps(self) -> int:
        return len(self.step_loss)

    def __repr__(self) -> str:
        lines = [self._headline()]
        for header, rows in self._tables():
            columns = zip(header, *rows, strict=True)
            widths = [max(len(cell) for cell in column) for column in columns]
            lines += ["  ".join(c.rjust(w) if i == 0 else c.ljust(w)
                                for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
                      for row in (header, *rows)]  # fmt: skip
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The tables as HTML and the loss curve as an inline PNG (when matplotlib is there)."""
        parts = [f"<p><b>{html.escape(self._headline())}</b></p>"]
        for header, rows in self._tables():
            head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                           for row in rows)  # fmt: skip
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        thumbnail = self._thumbnail()
        if thumbnail:
            parts.append(f'<img alt="loss curve" src="data:image/png;base64,{thumbnail}">')
        return "<div>" + "".join(parts) + "</div>"

    def _headline(self) -> str:
        n_epochs = len(self.epochs.get("loss", []))
        text = f"History: {self.n_steps} steps, {n_epochs} epochs"
        return text + (f"; stopped: {self.stopped_reason}" if self.stopped_reason else "")

    def _tables(self) -> list[tuple[list[str], list[list[str]]]]:
        """``(header, rows)`` per group of epoch-level series of one length: the per-epoch
        values under an ``epoch`` column, and e.g. ``EvaluateEvery``'s step table apart."""
        groups: dict[int, list[str]] = {}
        for name, values in self.epochs.items():
            groups.setdefault(len(values), []).append(name)
        tables = []
        for n, names in groups.items():
            if not n:
                continue
            numbered = "eval_step" not in names  # EvaluateEvery's rows are numbered by step
            header = (["epoch"] if numbered else []) + names
            shown = list(range(n)) if n <= _ROWS else [*range(_ROWS // 2), -1,
                                                       *range(n - _ROWS // 2, n)]  # fmt: skip
            rows = [["..."] * len(header) if i < 0 else
                    ([str(i + 1)] if numbered else []) + [_number(self.epochs[k][i]) for k in names]
                    for i in shown]  # fmt: skip
            tables.append((header, rows))
        return tables

    def _thumbnail(self) -> str | None:
        """The training loss per step as a small base64 PNG; None without matplotlib or losses."""
        if not self.step_loss:
            return None
        try:
            from matplotlib.figure import Figure
        except ImportError:
            return None
        figure = Figure(figsize=(3.2, 1.8), dpi=80)
        axes = figure.add_subplot()
        axes.plot(np.arange(1, self.n_steps + 1), self.step_loss, linewidth=1)
        axes.set(xlabel="step", ylabel="loss")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return base64.b64encode(buffer.getvalue()).decode("ascii")

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


def _number(value: float) -> str:
    """A step count as an integer, any other value to 4 significant digits."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:.4g}"
