"""The Figure theta.plot draws on: matplotlib's own, shown as a PNG by Jupyter.

Imported only when a picture is drawn (it imports matplotlib). Jupyter's inline backend
displays figures that pyplot made; theta's figures bypass pyplot, so they say how to show
themselves, and a figure left as a cell's last value appears inline under any backend.
"""

from __future__ import annotations

import matplotlib.figure

from theta.plot._figure import png_bytes

__all__ = ["Figure"]


class Figure(matplotlib.figure.Figure):
    """A ``matplotlib.figure.Figure`` that IPython displays as a PNG."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)
