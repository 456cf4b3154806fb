"""Where theta.plot meets matplotlib: a figure without pyplot, written atomically as a PNG.

Figures are built from ``matplotlib.figure.Figure`` directly, not through pyplot, so drawing
never touches pyplot's global state (its backend, its list of open figures): a notebook
keeps its own backend, and a figure is freed as soon as nobody holds it. Without pyplot no
backend shows them, so each figure shows itself in Jupyter as a PNG (``_repr_png_``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from theta.tensorfile import atomic_write_bytes


def new_figure(width: float = 6.0, height: float = 4.0, *, nrows: int = 1, ncols: int = 1
               ) -> tuple[Any, np.ndarray]:  # fmt: skip
    """A figure of ``width`` by ``height`` inches and its axes, shape (nrows, ncols).

    Raises ImportError naming the ``plot`` extra when matplotlib is missing.
    """
    _require_matplotlib()
    from theta.plot._notebook import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    return figure, axes


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("theta.plot needs matplotlib: pip install 'theta-ml[plot]'") from None


def png_bytes(figure: Any) -> bytes:
    """``figure`` rendered as a PNG, cropped to what was drawn."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.1)
    return buffer.getvalue()


def save(figure: Any, path: str | Path | None) -> Any:
    """Write ``figure`` to ``path`` as a PNG, atomically, when a path is given; return it."""
    if path is not None:
        atomic_write_bytes(Path(path), png_bytes(figure))
    return figure


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
