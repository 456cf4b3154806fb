"""Data seen from above: clusters, and any data set projected on its two main directions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from theta.estimators import PCA
from theta.plot._figure import (
    class_codes,
    class_colormap,
    class_legend,
    new_figure,
    save,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["clusters", "projection"]


def clusters(X: Any, labels: Any, path: str | Path | None = None, *,
             centers: Any = None, title: str = "clusters") -> Figure:  # fmt: skip
    """Draw the points of ``X`` coloured by cluster, with the cluster ``centers`` if given.

    Data with more than two features is drawn on its first two principal components
    (:class:`theta.estimators.PCA`, fitted on ``X``; the centers are projected the same way).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        ``n_features >= 2``.
    labels : array-like of shape (n_samples,)
        Cluster of each point (e.g. ``KMeans().fit(X).labels_``).
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    centers : array-like of shape (n_clusters, n_features), optional
        Drawn as crosses.

    Returns
    -------
    matplotlib.figure.Figure
        The points as drawn (projected when projected) are the first collection's offsets,
        the centers the second's.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    >>> figure = clusters(X, [0, 0, 1])
    >>> figure.axes[0].collections[0].get_offsets().tolist()[-1]
    [5.0, 5.0]
    """
    X = _check_X("clusters", X)
    labels = _check_labels("clusters", labels, len(X))
    if centers is not None:
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2 or centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"clusters: centers must have shape (n_clusters, {X.shape[1]}) like the "
                f"features of X (got {centers.shape})."
            )
    axis_names = ("feature 0", "feature 1")
    if X.shape[1] > 2:
        pca = PCA(n_components=2).fit(X)
        X = pca.transform(X)
        centers = None if centers is None else pca.transform(centers)
        axis_names = _component_names(pca)
    figure, axes = new_figure(6.0, 5.0)
    ax = axes[0, 0]
    handles = _categorical_scatter(ax, X, labels)
    if centers is not None:
        handles.append(ax.scatter(centers[:, 0], centers[:, 1], marker="X", s=160, c="black",
                                  edgecolors="white", linewidths=1.0, label="center"))  # fmt: skip
    ax.legend(handles=handles, title="cluster", fontsize="small", loc="best")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title)
    return save(figure, path)


def projection(X: Any, y: Any, path: str | Path | None = None, *,
               title: str = "PCA projection") -> Figure:  # fmt: skip
    """Draw ``X`` on its first two principal components, coloured by ``y``.

    Whatever the number of features, the plane shown keeps as much of the data's variance as
    any plane can (the axis labels say how much). Class labels (integers, strings, booleans)
    get one colour each; real-valued targets a colour scale.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        ``n_features >= 2``.
    y : array-like of shape (n_samples,) or None
        Labels or targets to colour by; ``None`` draws one colour.
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.

    Returns
    -------
    matplotlib.figure.Figure
        The projected points are the first collection's offsets.

    Examples
    --------
    >>> from theta.data import load_iris
    >>> iris = load_iris()
    >>> figure = projection(iris.X, iris.y, title="iris · training data")
    >>> figure.axes[0].get_xlabel()
    'PC1 (92.5% of variance)'
    """
    X = _check_X("projection", X)
    pca = PCA(n_components=2).fit(X)
    X2 = pca.transform(X)  # (n_samples, 2)
    figure, axes = new_figure(6.0, 5.0)
    ax = axes[0, 0]
    if y is None:
        ax.scatter(X2[:, 0], X2[:, 1], s=16, alpha=0.8)
    else:
        y = _check_labels("projection", y, len(X))
        if y.dtype.kind == "f":
            points = ax.scatter(X2[:, 0], X2[:, 1], c=y, cmap="viridis", s=16, alpha=0.8)
            figure.colorbar(points, ax=ax, label="target")
        else:
            ax.legend(handles=_categorical_scatter(ax, X2, y), title="class", fontsize="small",
                      loc="best")  # fmt: skip
    names = _component_names(pca)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title)
    return save(figure, path)


def _check_X(where: str, X: Any) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2 or X.shape[0] < 2:
        raise ValueError(
            f"{where}: X must have shape (n_samples, n_features) with at least 2 samples and "
            f"2 features (got {X.shape})."
        )
    return X


def _check_labels(where: str, labels: Any, n_samples: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_samples,):
        raise ValueError(
            f"{where}: expected one label per row of X, shape ({n_samples},) (got {labels.shape})."
        )
    return labels


def _component_names(pca: PCA) -> tuple[str, str]:
    share = pca.explained_variance_ratio_ * 100
    return f"PC1 ({share[0]:.1f}% of variance)", f"PC2 ({share[1]:.1f}% of variance)"


def _categorical_scatter(ax: Any, X2: np.ndarray, labels: np.ndarray) -> list[Any]:
    """Draw the points coloured by label; return one legend handle per label."""
    classes, (codes,) = class_codes(labels)
    cmap = class_colormap(len(classes))
    ax.scatter(X2[:, 0], X2[:, 1], c=codes, cmap=cmap, vmin=-0.5, vmax=len(classes) - 0.5,
               s=16, alpha=0.85)  # fmt: skip
    return class_legend(classes, cmap)
