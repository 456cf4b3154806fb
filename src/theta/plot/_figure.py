"""Where theta.plot meets matplotlib: a figure without pyplot, written atomically as a PNG.

Figures are built from ``matplotlib.figure.Figure`` directly, not through pyplot, so drawing
never touches pyplot's global state (its backend, its list of open figures): a notebook
keeps its own backend, and a figure is freed as soon as nobody holds it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from theta.tensorfile import atomic_write_bytes

__all__ = ["Picture"]


@dataclass(frozen=True)
class Picture:
    """A picture written to ``path``; ``figure`` is the matplotlib Figure that was drawn.

    The figure stays readable after saving, so the numbers drawn can be checked
    (``picture.figure.axes[0].lines[0].get_xydata()``). A ``Picture`` is path-like:
    ``open(picture, "rb")`` opens the PNG.
    """

    path: Path
    figure: Any  # matplotlib.figure.Figure, typed loosely so theta imports without matplotlib

    def __fspath__(self) -> str:
        return str(self.path)


def new_figure(width: float = 6.0, height: float = 4.0, *, nrows: int = 1, ncols: int = 1
               ) -> tuple[Any, np.ndarray]:  # fmt: skip
    """A figure of ``width`` by ``height`` inches and its axes, shape (nrows, ncols).

    Raises ImportError naming the ``plot`` extra when matplotlib is missing.
    """
    _require_matplotlib()
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    return figure, axes


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("theta.plot needs matplotlib: pip install 'theta-ml[plot]'") from None


def save(figure: Any, path: str | Path) -> Picture:
    """Render ``figure`` as PNG and write it to ``path`` atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.1)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return Picture(path, figure)


def class_codes(*labelings: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sorted distinct labels of all ``labelings`` and each labeling as indices into them.

    Labels may be numbers or strings; colours are then chosen by index, so a label has the
    same colour in every part of a picture.
    """
    arrays = [np.asarray(labels) for labels in labelings]
    classes = np.unique(np.concatenate([a.ravel() for a in arrays]))
    return classes, [np.searchsorted(classes, a) for a in arrays]


def class_colormap(n_classes: int) -> Any:
    """A colormap with one distinct colour per class (tab10, or tab20 past ten classes)."""
    _require_matplotlib()
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    base = colormaps["tab10" if n_classes <= 10 else "tab20"]
    return ListedColormap([base(i % base.N) for i in range(max(n_classes, 1))])


def class_legend(classes: Sequence[Any], cmap: Any) -> list[Any]:
    """One legend entry per class, in the colour ``class_colormap`` gives it."""
    from matplotlib.patches import Patch

    return [Patch(color=cmap(i), label=str(c)) for i, c in enumerate(classes)]
