"""Pictures of a hyperparameter search: how the score moves with each hyperparameter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from theta.plot._figure import new_figure, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["search_scores"]


def search_scores(cv_results: Mapping[str, Any], path: str | Path | None = None, *,
                  metric: str = "score", title: str = "hyperparameter search"
                  ) -> Figure:  # fmt: skip
    """Draw the mean cross-validated score against each searched hyperparameter.

    One panel per ``param_<name>`` column: every candidate is a point at its value of that
    hyperparameter, with the standard deviation over folds as an error bar; a line joins the
    best score at each value (the other hyperparameters at their best), and a star marks
    the best candidate. Numbers spanning more than two decades get a log axis; strings,
    booleans and ``None`` a categorical one. Candidates that failed (NaN score) or did not
    set a hyperparameter (a masked entry) are left out of that panel.

    Parameters
    ----------
    cv_results : mapping
        Columns named as scikit-learn's ``GridSearchCV.cv_results_``: ``"param_<name>"``,
        ``f"mean_test_{metric}"``, optionally ``f"std_test_{metric}"`` and
        ``f"rank_test_{metric}"``, each of shape (n_candidates,).
    path : str or path-like, optional
        Where the PNG goes (written atomically); None draws the figure only.
    metric : str, default="score"
        Which score columns to draw (a key of a multi-metric search).

    Returns
    -------
    matplotlib.figure.Figure
        Panel ``i`` (``figure.axes[i]``) shows the ``i``-th ``param_`` column; its first
        container is the candidates' error bars.

    Examples
    --------
    >>> results = {"param_lr": [0.001, 0.01, 0.1, 1.0],
    ...            "mean_test_score": [0.6, float("nan"), 0.9, 0.7],
    ...            "std_test_score": [0.05, float("nan"), 0.02, 0.04]}
    >>> ax = search_scores(results, title="digits · MLP · search over lr").axes[0]
    >>> ax.get_xscale(), ax.containers[0].lines[0].get_xydata().tolist()
    ('log', [[0.001, 0.6], [0.1, 0.9], [1.0, 0.7]])
    """
    key = f"mean_test_{metric}"
    if key not in cv_results:
        found = sorted(k[len("mean_test_"):] for k in cv_results if k.startswith("mean_test_"))
        raise ValueError(
            f"search_scores: cv_results has no {key!r} column; metrics found: "
            f"{', '.join(found) or 'none'}."
        )
    mean = np.asarray(cv_results[key], dtype=np.float64)
    n = len(mean)
    std = np.asarray(cv_results.get(f"std_test_{metric}", np.zeros(n)), dtype=np.float64)
    names = [k[len("param_"):] for k in cv_results if k.startswith("param_")]
    if not names:
        raise ValueError("search_scores: cv_results has no 'param_<name>' column to draw.")
    for name in names:
        if len(cv_results[f"param_{name}"]) != n:
            raise ValueError(
                f"search_scores: column 'param_{name}' has {len(cv_results[f'param_{name}'])} "
                f"entries but {key!r} has {n}; every column needs one per candidate."
            )
    best = _best(cv_results, metric, mean)
    ncols = min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    figure, axes = new_figure(4.2 * ncols, 3.4 * nrows + 0.4, nrows=nrows, ncols=ncols)
    for ax, name in zip(axes.ravel(), names, strict=False):
        _panel(ax, cv_results[f"param_{name}"], mean, std, best)
        ax.set_xlabel(name)
        ax.set_ylabel(f"mean test {metric}")
    for ax in axes.ravel()[len(names):]:
        ax.set_axis_off()
    figure.suptitle(title)
    return save(figure, path)


def _best(cv_results: Mapping[str, Any], metric: str, mean: np.ndarray) -> int | None:
    """Index of the best candidate: rank 1 if ranks are given, else the highest finite mean."""
    finite = np.isfinite(mean)
    if not finite.any():
        return None
    rank = cv_results.get(f"rank_test_{metric}")
    if rank is not None:
        rank = np.asarray(rank, dtype=np.float64)
        return int(np.argmin(np.where(finite, rank, np.inf)))
    return int(np.argmax(np.where(finite, mean, -np.inf)))


def _panel(ax: Any, column: Any, mean: np.ndarray, std: np.ndarray, best: int | None) -> None:
    if np.ma.isMaskedArray(column):  # scikit-learn masks a hyperparameter a candidate lacks
        masked, values = np.ma.getmaskarray(column), list(column.data)
    else:
        masked, values = np.zeros(len(mean), dtype=bool), list(column)
    keep = np.flatnonzero(~masked & np.isfinite(mean))
    if keep.size == 0:
        ax.text(0.5, 0.5, "no scored candidate", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        return
    chosen = [values[i] for i in keep]
    numeric = all(isinstance(v, Real) and not isinstance(v, bool | np.bool_) for v in chosen)
    if numeric:
        x = np.asarray(chosen, dtype=np.float64)
        if x.min() > 0 and x.max() / x.min() > 100:
            ax.set_xscale("log")
    else:
        categories = list(dict.fromkeys(str(v) for v in chosen))
        x = np.asarray([categories.index(str(v)) for v in chosen], dtype=np.float64)
        ax.set_xticks(range(len(categories)), categories)
    y = mean[keep]
    ax.errorbar(x, y, yerr=std[keep], fmt="o", alpha=0.6, capsize=3, label="candidates")
    at = np.unique(x)
    profile = [y[x == v].max() for v in at]
    ax.plot(at, profile, "-", linewidth=1.2, label="best at each value")
    if best is not None and best in keep:
        i = int(np.flatnonzero(keep == best)[0])
        ax.plot([x[i]], [y[i]], "*", markersize=14, markeredgecolor="black", label="best")
    ax.legend(fontsize="small", loc="best")
