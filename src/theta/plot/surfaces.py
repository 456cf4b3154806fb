"""Pictures over a plane: gradient descent on a loss surface, a classifier's decision regions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from theta.plot._figure import (
    class_codes,
    class_colormap,
    class_legend,
    new_figure,
    save,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["decision_boundary", "descent_path"]

LossSurface = Callable[[float, float], float] | tuple[Any, Any]


def descent_path(w: Any, b: Any, loss: LossSurface, path: str | Path | None = None, *,
                 resolution: int = 60, title: str = "gradient descent on the loss surface"
                 ) -> Figure:  # fmt: skip
    """Draw the walk of ``(w, b)`` over the contours of the loss, for a two-parameter model.

    The chapter's picture: the loss is a surface over the parameters, and every step of
    gradient descent moves ``(w, b)`` downhill until it rests at the bottom, (2, 1) for the
    chapter's line. The surface is drawn over the path's range, widened to show the minimum
    when ``loss`` is data.

    Parameters
    ----------
    w, b : array-like of shape (n_points,)
        The parameters at each point of the walk (e.g. the start, then after every step:
        ``history.params["weight"]`` of ``fit(record_params=True)``).
    loss : callable or (x, y)
        ``loss(w, b)`` returning the loss at one point, or data ``(x, y)`` of shape
        (n_samples,) each, for the mean squared error of ``pred = w*x + b``.
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    resolution : int, default=60
        Grid points along each axis of the surface.

    Returns
    -------
    matplotlib.figure.Figure
        Its figure's line labelled ``"descent path"`` holds the walk as drawn.

    Examples
    --------
    >>> x = np.arange(5.0)
    >>> figure = descent_path([0, 1.4, 2], [0, 0.5, 1], (x, 2 * x + 1))
    >>> figure.axes[0].lines[0].get_xydata()[-1].tolist()
    [2.0, 1.0]
    """
    w, b = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if w.ndim != 1 or w.shape != b.shape or w.size == 0:
        raise ValueError(
            "descent_path: w and b must be 1-D, of the same non-zero length (one value per "
            f"point of the walk); got shapes {w.shape} and {b.shape}."
        )
    if not (np.isfinite(w).all() and np.isfinite(b).all()):
        raise ValueError("descent_path: w and b must be finite; the walk diverged.")
    if resolution < 2:
        raise ValueError(f"descent_path: resolution must be >= 2 (got {resolution}).")
    surface, lowest = _surface(loss)
    span_w, span_b = _widen(w, lowest[0]), _widen(b, lowest[1])
    W, B = np.meshgrid(np.linspace(*span_w, resolution), np.linspace(*span_b, resolution))
    Z = surface(W, B)  # (resolution, resolution)

    figure, axes = new_figure(6.0, 5.0)
    ax = axes[0, 0]
    ax.plot(w, b, "-", color="crimson", linewidth=1.5, marker=".", markersize=3,
            label="descent path")  # fmt: skip
    ax.plot(w[:1], b[:1], "o", color="black", label=f"start ({w[0]:.3g}, {b[0]:.3g})")
    ax.plot(w[-1:], b[-1:], "*", color="gold", markeredgecolor="black", markersize=14,
            label=f"end ({w[-1]:.4g}, {b[-1]:.4g})")  # fmt: skip
    levels, norm = _levels(Z)
    filled = ax.contourf(W, B, Z, levels=levels, norm=norm, cmap="viridis", extend="both")
    ax.contour(W, B, Z, levels=levels, colors="white", linewidths=0.4, alpha=0.5)
    figure.colorbar(filled, ax=ax, label="loss", format="%.3g")
    ax.set_xlabel("w (weight)")
    ax.set_ylabel("b (bias)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return save(figure, path)


def _surface(loss: LossSurface) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray],
                                         tuple[float | None, float | None]]:  # fmt: skip
    """The loss on a grid of (w, b), and the minimum's location when it is known."""
    if callable(loss):
        at_point = np.vectorize(lambda w_, b_: float(loss(float(w_), float(b_))))
        return at_point, (None, None)
    try:
        x, y = (np.asarray(a, dtype=np.float64).ravel() for a in loss)
    except (TypeError, ValueError):
        raise TypeError(
            "descent_path: loss must be a callable loss(w, b) or data (x, y) "
            f"(got {type(loss).__name__})."
        ) from None
    if x.shape != y.shape or x.size == 0:
        raise ValueError(
            f"descent_path: x and y must have the same non-zero length (got {x.size} and {y.size})."
        )

    def mse(W: np.ndarray, B: np.ndarray) -> np.ndarray:
        pred = W[..., None] * x + B[..., None]  # (rows, cols, n_samples)
        return np.mean((pred - y) ** 2, axis=-1)

    slope, intercept = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, float(np.mean(y)))
    return mse, (float(slope), float(intercept))


def _widen(values: np.ndarray, also: float | None) -> tuple[float, float]:
    """The range of ``values`` (and ``also``), with a margin so the walk is not on the edge."""
    low, high = float(values.min()), float(values.max())
    if also is not None:
        low, high = min(low, also), max(high, also)
    margin = max(0.15 * (high - low), 0.5)
    return low - margin, high + margin


def _levels(Z: np.ndarray, n: int = 20) -> tuple[np.ndarray, Any]:
    """Contour levels and their colour scale: by ratio (a log scale over four decades below
    the top) when the loss spans orders of magnitude, as a bowl's bottom would otherwise be
    one flat colour; evenly spaced otherwise."""
    finite = Z[np.isfinite(Z)]
    low, high = float(finite.min()), float(finite.max())
    positive = finite[finite > 0]
    if positive.size and high / positive.min() > 100:
        from matplotlib.colors import LogNorm

        levels = np.geomspace(max(float(positive.min()), high * 1e-4), high, n)
        return levels, LogNorm(levels[0], levels[-1])
    return np.linspace(low, high if high > low else low + 1.0, n), None


def decision_boundary(model: Any, X: Any, y: Any, path: str | Path | None = None, *,
                      resolution: int = 200,
                      title: str = "decision regions (colour: predicted class)"
                      ) -> Figure:  # fmt: skip
    """Colour the plane by the class ``model`` predicts, with the points of ``X`` on top.

    Parameters
    ----------
    model : estimator or callable
        Anything with ``predict(X)``, or a function of ``X``, returning one label per row.
    X : array-like of shape (n_samples, 2)
        Two features, in the units ``model`` takes.
    y : array-like of shape (n_samples,)
        The true labels, drawn as each point's colour (labels of the same kind as the
        predictions, so a class has one colour in regions and points).
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    resolution : int, default=200
        Grid points along each axis.

    Returns
    -------
    matplotlib.figure.Figure
        The regions are the figure's image (``figure.axes[0].images[0]``: class index per grid
        point, ``origin="lower"``), the points its first collection.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> figure = decision_boundary(lambda Z: Z[:, 0] > 0.5, X, [False, True], resolution=4)
    >>> figure.axes[0].images[0].get_array().tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary: X must have shape (n_samples, 2) (got {X.shape}).")
    if y.shape != (len(X),):
        raise ValueError(
            f"decision_boundary: y must have shape ({len(X)},), one label per row of X "
            f"(got {y.shape})."
        )
    if resolution < 2:
        raise ValueError(f"decision_boundary: resolution must be >= 2 (got {resolution}).")
    predict = model.predict if hasattr(model, "predict") else model
    (x0, x1), (y0, y1) = (_widen_fraction(X[:, j]) for j in (0, 1))
    gx, gy = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.stack([a.ravel() for a in np.meshgrid(gx, gy)], axis=1)  # (resolution**2, 2)
    regions = np.asarray(predict(grid))
    if regions.shape != (len(grid),):
        raise ValueError(
            f"decision_boundary: the model returned shape {regions.shape} for {len(grid)} "
            "rows; it must return one label per row."
        )
    classes, (point_codes, region_codes) = class_codes(y, regions)
    cmap = class_colormap(len(classes))
    colour = {"cmap": cmap, "vmin": -0.5, "vmax": len(classes) - 0.5}
    step_x, step_y = (x1 - x0) / (resolution - 1), (y1 - y0) / (resolution - 1)
    extent = (x0 - step_x / 2, x1 + step_x / 2, y0 - step_y / 2, y1 + step_y / 2)

    figure, axes = new_figure(6.0, 5.0)
    ax = axes[0, 0]
    ax.scatter(X[:, 0], X[:, 1], c=point_codes, edgecolors="black", linewidths=0.5, s=20,
               **colour)  # fmt: skip
    ax.imshow(region_codes.reshape(resolution, resolution), origin="lower", extent=extent,
              interpolation="nearest", aspect="auto", alpha=0.35, **colour)  # fmt: skip
    ax.legend(handles=class_legend(classes, cmap), loc="best", fontsize="small", title="class")
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.set_title(title)
    return save(figure, path)


def _widen_fraction(values: np.ndarray) -> tuple[float, float]:
    """The range of ``values`` plus 10% on each side (1 when all values are equal)."""
    low, high = float(values.min()), float(values.max())
    margin = 0.1 * (high - low) or 1.0
    return low - margin, high + margin
