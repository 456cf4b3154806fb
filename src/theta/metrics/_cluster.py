"""Scores of a clustering without ground truth: the silhouette."""

from __future__ import annotations

import numpy as np

from theta.errors import InvalidParameterError
from theta.pairwise import pairwise_distances_chunked
from theta.rng import check_random_state
from theta.validation import check_X_y

_METRICS = ("cityblock", "cosine", "euclidean", "l1", "l2", "manhattan", "precomputed")


def silhouette_samples(X: object, labels: object, *, metric: str = "euclidean") -> np.ndarray:
    """Silhouette coefficient of each sample: ``(b - a) / max(a, b)``.

    ``a`` is the mean distance to the other members of the sample's cluster, ``b`` the mean
    distance to the members of the nearest other cluster; a sample alone in its cluster
    scores 0. Distances come from :func:`theta.pairwise.pairwise_distances_chunked`, a
    memory-bounded block of rows at a time, so the full matrix never exists.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) if precomputed
        The samples, or their distance matrix when ``metric="precomputed"``.
    labels : array-like of shape (n_samples,)
        Cluster of each sample; between 2 and ``n_samples - 1`` clusters.
    metric : {"euclidean", "manhattan", "cosine", "precomputed"}, default="euclidean"
        Distance between samples (``"l2"``, ``"l1"`` and ``"cityblock"`` are aliases).

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        For fewer than 2 or more than ``n_samples - 1`` clusters, NaN, or a precomputed
        matrix that is not square with a zero diagonal.

    Examples
    --------
    >>> silhouette_samples([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]).round(3).tolist()
    [0.905, 0.895, 0.895, 0.905]
    """
    if metric not in _METRICS:
        raise InvalidParameterError(
            f"The 'metric' parameter of silhouette_samples must be a str among "
            f"{{{', '.join(repr(m) for m in _METRICS)}}}. Got {metric!r} instead."
        )
    X, labels = check_X_y(X, labels)
    if metric == "precomputed":
        if X.shape[0] != X.shape[1]:
            raise ValueError(f"X should be a square distance matrix, got shape {X.shape}.")
        if np.any(np.abs(np.diagonal(X)) > np.finfo(X.dtype).eps * 100):
            raise ValueError(
                "The precomputed distance matrix contains non-zero elements on the diagonal. "
                "Use np.fill_diagonal(X, 0)."
            )
    X = X.astype(np.float64, copy=False)
    classes, codes = np.unique(labels, return_inverse=True)
    n_samples, n_labels = len(codes), len(classes)
    if not 1 < n_labels < n_samples:
        raise ValueError(
            f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 (inclusive)"
        )
    freqs = np.bincount(codes)
    onehot = (codes[:, None] == np.arange(n_labels)).astype(np.float64)  # (n_samples, n_labels)

    def reduce(D: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean distance to the own cluster's total (a·count) and to the nearest other one."""
        rows = np.arange(len(D))
        own = codes[start : start + len(D)]
        sums = D @ onehot  # (chunk, n_labels): total distance to each cluster
        intra = sums[rows, own]
        sums[rows, own] = np.inf
        return intra, (sums / freqs).min(axis=1)

    if metric == "precomputed":
        blocks = [reduce(X, 0)]
    else:
        blocks = list(pairwise_distances_chunked(X, reduce_func=reduce, metric=metric))
    intra = np.concatenate([b[0] for b in blocks])
    inter = np.concatenate([b[1] for b in blocks])
    with np.errstate(divide="ignore", invalid="ignore"):
        intra /= (freqs - 1)[codes]  # a lone sample gives 0/0 = NaN, turned to 0 below
        sil = (inter - intra) / np.maximum(intra, inter)
    return np.nan_to_num(sil)


def silhouette_score(
    X: object,
    labels: object,
    *,
    metric: str = "euclidean",
    sample_size: int | None = None,
    random_state: None | int | np.random.Generator = None,
) -> float:
    """Mean silhouette coefficient over samples: near 1 for tight, well-separated clusters.

    Parameters
    ----------
    X, labels, metric
        As in :func:`silhouette_samples`.
    sample_size : int, optional
        Score a random subset of this many samples (drawn with ``random_state``; the draw
        differs from scikit-learn's, whose generator is a ``RandomState``).
    random_state : None, int or numpy.random.Generator
        Source of the subset.

    Returns
    -------
    float

    Examples
    --------
    >>> round(silhouette_score([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]), 4)
    0.8997
    """
    if sample_size is not None:
        X, labels = check_X_y(X, labels)
        idx = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
        X = X[idx][:, idx] if metric == "precomputed" else X[idx]
        labels = labels[idx]
    return float(np.mean(silhouette_samples(X, labels, metric=metric)))
