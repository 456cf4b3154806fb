"""Mini-batch k-means: k-means that learns from a stream, one small batch at a time.

Each step assigns a batch to its nearest centres and moves every centre that received points
to the running mean of all the points it has ever received: with ``counts[c]`` points seen so
far, a new point pulls its centre by ``1 / counts[c]``, a learning rate that decays as the
centre settles (Sculley, 2010). Centres that attract almost nothing (fewer than
``reassignment_ratio`` times the busiest centre's count) are moved to random points of the
batch, so no centre stays stranded. The algorithm is scikit-learn's ``MiniBatchKMeans`` step
for step (k-means++ seeding on ``init_size`` samples, the batch step, the reassignment rule,
the smoothed-inertia stopping rule), so given the same initial centres and the same batches
both learn the same centres; the random draws (batches, seeds, reassigned points) come from a
NumPy ``Generator``, not from scikit-learn's ``RandomState``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from theta.estimators.base import (
    BaseEstimator,
    ClusterMixin,
    TransformerMixin,
    as_float,
    check_is_fitted,
)  # fmt: skip
from theta.estimators.cluster import _row_norms_sq, _squared_distances, kmeans_plusplus
from theta.rng import check_random_state
from theta.validation import Interval, Options, check_array, check_sample_weight, feature_names

__all__ = ["MiniBatchKMeans"]


def _labels_inertia(X: np.ndarray, weights: np.ndarray, centers: np.ndarray) -> tuple:
    """Nearest centre of every row and the weighted sum of squared distances to it."""
    D = _squared_distances(X, centers, _row_norms_sq(X))  # (n, k)
    labels = D.argmin(axis=1).astype(np.int32)
    return labels, float(weights @ D[np.arange(len(X)), labels])


def minibatch_step(
    X: np.ndarray, weights: np.ndarray, centers: np.ndarray, counts: np.ndarray, *,
    rng: np.random.Generator, reassign: bool = False, reassignment_ratio: float = 0.0,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """One mini-batch step: (new centres, the batch's inertia before the move).

    ``counts`` (the summed weight each centre has received) is updated in place.

    Parameters
    ----------
    X : ndarray of shape (batch_size, n_features)
    weights : ndarray of shape (batch_size,)
    centers : ndarray of shape (n_clusters, n_features)
    counts : ndarray of shape (n_clusters,)
    rng : numpy.random.Generator
        Draws the points that low-count centres are moved to.
    reassign : bool
        Move the centres whose count is below ``reassignment_ratio`` times the largest.

    Examples
    --------
    >>> counts = np.array([1.0, 1.0])
    >>> new, _ = minibatch_step(np.array([[2.0], [10.0]]), np.ones(2), np.array([[0.0], [8.0]]),
    ...                         counts, rng=np.random.default_rng(0))
    >>> new.ravel().tolist(), counts.tolist()
    ([1.0, 9.0], [2.0, 2.0])
    """
    labels, inertia = _labels_inertia(X, weights, centers)
    k = len(centers)
    received = np.bincount(labels, weights=weights, minlength=k)
    onehot = np.zeros((len(X), k), dtype=X.dtype)
    onehot[np.arange(len(X)), labels] = weights
    sums = onehot.T @ X  # (k, n_features): each centre's weighted sum of new points
    new = centers.copy()
    hit = received > 0
    # undo the running mean, add the new points, take the mean again (scikit-learn's order)
    new[hit] = centers[hit] * counts[hit, None] + sums[hit]
    counts[hit] += received[hit]
    new[hit] *= (1.0 / counts[hit])[:, None]
    if reassign and reassignment_ratio > 0:
        low = counts < reassignment_ratio * counts.max()
        if low.sum() > 0.5 * len(X):  # never more than half the batch
            low[np.argsort(counts)[int(0.5 * len(X)) :]] = False
        n_low = int(low.sum())
        if n_low:
            new[low] = X[rng.choice(len(X), size=n_low, replace=False)]
            # not back to 0, or they would be moved again at once (scikit-learn's rule)
            counts[low] = np.min(counts[~low])
    return new, inertia


class MiniBatchKMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means on mini-batches: :meth:`fit` draws batches, :meth:`partial_fit` takes a stream.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random"} or array-like of shape (n_clusters, n_features), \
default="k-means++"
        Seeding, on ``init_size`` random samples; given centres are used as they are.
    max_iter : int, default=100
        Epochs of :meth:`fit` at most: ``max_iter * n_samples // batch_size`` steps.
    batch_size : int, default=1024
        Samples per step of :meth:`fit` (drawn with replacement).
    compute_labels : bool, default=True
        Compute ``labels_`` and ``inertia_`` on the whole data after fitting (else
        ``inertia_`` is the smoothed batch inertia times the total weight).
    random_state : int, numpy.random.Generator or None, default=None
    tol : float, default=0.0
        Stop when the centres move less than ``tol`` times the mean feature variance in a
        step (0 disables the test).
    max_no_improvement : int or None, default=10
        Stop after this many steps without a lower smoothed batch inertia (None: never).
    init_size : int or None, default=None
        Samples the seeding looks at (``3 * batch_size`` by default, at least
        ``3 * n_clusters``).
    n_init : int or "auto", default="auto"
        Seedings tried by :meth:`fit`, the best on a held sample kept ("auto": 1 for
        k-means++ and given centres, 3 for "random").
    reassignment_ratio : float, default=0.01
        Centres with fewer points than this fraction of the busiest one move to random points.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        Of the data given to :meth:`fit` (or to the last :meth:`partial_fit`).
    inertia_ : float
    n_iter_ : int
        Epochs :meth:`fit` ran.
    n_steps_ : int
        Batches processed.
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 0.0], [4.0, 2.0], [4.0, 0.0], [4.0, 4.0],
    ...               [4.0, 5.0], [0.0, 1.0], [2.0, 2.0], [3.0, 2.0], [5.0, 5.0], [1.0, -1.0]])
    >>> km = MiniBatchKMeans(n_clusters=2, init=[[1.0, 1.0], [4.0, 4.0]], batch_size=6)
    >>> km = km.partial_fit(X[:6]).partial_fit(X[6:])
    >>> km.cluster_centers_.tolist()
    [[1.625, 1.25], [4.25, 4.0]]
    >>> km.predict([[0.0, 0.0], [4.0, 4.0]]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        "n_clusters": [Interval(numbers.Integral, 1, None)],
        "init": [Options({"k-means++", "random"}), np.ndarray, list, tuple],
        "max_iter": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "compute_labels": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None)],
        "max_no_improvement": [Interval(numbers.Integral, 0, None), None],
        "init_size": [Interval(numbers.Integral, 1, None), None],
        "n_init": [Interval(numbers.Integral, 1, None), Options({"auto"})],
        "reassignment_ratio": [Interval(numbers.Real, 0, None)],
    }
    # what partial_fit continues from, besides the centres
    __theta_state_names__ = ("_counts", "_n_since_reassign", "_rng", "_batch_size")

    def __init__(
        self, n_clusters: int = 8, *, init: Any = "k-means++", max_iter: int = 100,
        batch_size: int = 1024, compute_labels: bool = True, random_state: Any = None,
        tol: float = 0.0, max_no_improvement: int | None = 10, init_size: int | None = None,
        n_init: int | str = "auto", reassignment_ratio: float = 0.01,
    ) -> None:  # fmt: skip
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio

    def _check_fit_data(self, X: Any, sample_weight: Any, reset: bool) -> tuple:
        names = feature_names(X)
        if not reset:
            self._check_feature_names(names)
        X = as_float(check_array(X, caller=self))
        if not reset and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        if reset and len(X) < self.n_clusters:
            raise ValueError(f"n_samples={len(X)} should be >= n_clusters={self.n_clusters}.")
        return X, check_sample_weight(sample_weight, len(X)).astype(X.dtype), names

    def _seed(self, X: np.ndarray, rng: np.random.Generator, init_size: int) -> np.ndarray:
        """Initial centres: given, or drawn from ``init_size`` random rows of ``X``."""
        if not isinstance(self.init, str):
            centers = check_array(self.init, caller=self, input_name="init").astype(X.dtype)
            if centers.shape != (self.n_clusters, X.shape[1]):
                raise ValueError(
                    f"The shape of the initial centers {centers.shape} does not match "
                    f"(n_clusters, n_features) = {(self.n_clusters, X.shape[1])}."
                )
            return centers
        if init_size < len(X):
            X = X[rng.integers(0, len(X), init_size)]
        if self.init == "k-means++":
            return kmeans_plusplus(X, self.n_clusters, rng=rng)
        return X[rng.choice(len(X), size=self.n_clusters, replace=False)].copy()

    def _sizes(self, n_samples: int) -> tuple[int, int]:
        """scikit-learn's batch and seeding sizes for ``n_samples`` samples."""
        batch = min(int(self.batch_size), n_samples)
        init_size = self.init_size if self.init_size is not None else 3 * batch
        if init_size < self.n_clusters:
            init_size = 3 * self.n_clusters
        return batch, min(init_size, n_samples)

    def _reassign_now(self) -> bool:
        """Reassign every ``10 * n_clusters`` samples, and whenever a centre is still empty."""
        self._n_since_reassign += self._batch_size
        if (self._counts == 0).any() or self._n_since_reassign >= 10 * self.n_clusters:
            self._n_since_reassign = 0
            return True
        return False

    def fit(self, X: Any, y: Any = None) -> MiniBatchKMeans:
        """Cluster ``X`` of shape (n_samples, n_features) by mini-batch steps; returns self.

        (Unlike :meth:`partial_fit`, no ``sample_weight``: batches drawn in proportion to
        weights are not the same as repeated samples, which scikit-learn's checks require.)
        """
        self._validate_params()
        X, weights, names = self._check_fit_data(X, None, reset=True)
        n_samples = len(X)
        batch, init_size = self._sizes(n_samples)
        rng = check_random_state(self.random_state)
        tol = float(np.mean(np.var(X, axis=0))) * self.tol if self.tol else 0.0
        valid = rng.integers(0, n_samples, init_size)
        n_init = 1 if not isinstance(self.init, str) else self.n_init
        if n_init == "auto":
            n_init = 1 if self.init == "k-means++" else 3
        best = None
        for _ in range(int(n_init)):
            centers = self._seed(X, rng, init_size)
            inertia = _labels_inertia(X[valid], weights[valid], centers)[1]
            if best is None or inertia < best[0]:
                best = (inertia, centers)
        centers = best[1]
        self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
        self._n_since_reassign, self._batch_size, self._rng = 0, batch, rng
        ewa = ewa_min = None
        stalled = 0
        total = float(weights.sum())
        unit = np.ones(batch, dtype=X.dtype)
        n_steps = int(self.max_iter) * n_samples // batch
        step = 0
        for step in range(n_steps):
            rows = X[rng.choice(n_samples, batch, replace=True)]
            new, batch_inertia = minibatch_step(
                rows, unit, centers, self._counts, rng=rng, reassign=self._reassign_now(),
                reassignment_ratio=float(self.reassignment_ratio),
            )  # fmt: skip
            moved = float(np.sum((new - centers) ** 2)) if tol > 0 else 0.0
            centers = new
            if step == 0:
                continue
            # the stopping rule watches an exponentially weighted mean of the batch inertia
            batch_inertia /= batch
            alpha = min(batch * 2.0 / (n_samples + 1), 1.0)
            ewa = batch_inertia if ewa is None else ewa * (1 - alpha) + batch_inertia * alpha
            if tol > 0 and moved <= tol:
                break
            if ewa_min is None or ewa < ewa_min:
                stalled, ewa_min = 0, ewa
            else:
                stalled += 1
            if self.max_no_improvement is not None and stalled >= self.max_no_improvement:
                break
        self.cluster_centers_ = centers
        self.n_steps_ = step + 1
        self.n_iter_ = math.ceil((step + 1) * batch / n_samples)
        if self.compute_labels:
            self.labels_, self.inertia_ = _labels_inertia(X, weights, centers)
        else:
            self.__dict__.pop("labels_", None)
            self.inertia_ = (ewa if ewa is not None else 0.0) * total
        self._set_features(X.shape[1], names)
        return self

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> MiniBatchKMeans:
        """One mini-batch step on ``X`` of shape (n_samples, n_features), continuing from the
        previous calls (the first call seeds the centres from it); returns self."""
        first = not hasattr(self, "cluster_centers_")
        if first:
            self._validate_params()
        X, weights, names = self._check_fit_data(X, sample_weight, reset=first)
        if first:
            batch, init_size = self._sizes(len(X))
            rng = check_random_state(self.random_state)
            self.cluster_centers_ = self._seed(X, rng, init_size)
            self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
            self._n_since_reassign, self._batch_size, self._rng = 0, batch, rng
            self.n_steps_ = 0
            self._set_features(X.shape[1], names)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        self.cluster_centers_, _ = minibatch_step(
            X, weights, centers, self._counts, rng=self._rng, reassign=self._reassign_now(),
            reassignment_ratio=float(self.reassignment_ratio),
        )  # fmt: skip
        if self.compute_labels:
            self.labels_, self.inertia_ = _labels_inertia(X, weights, self.cluster_centers_)
        self.n_steps_ += 1
        return self

    def _check_X(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        return as_float(self._validate_data(X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        """Index of the nearest centre of each sample, shape (n_samples,)."""
        X = self._check_X(X)
        return _labels_inertia(X, np.ones(len(X)), self.cluster_centers_.astype(X.dtype))[0]

    def transform(self, X: Any) -> np.ndarray:
        """Euclidean distance of each sample to each centre, (n_samples, n_clusters)."""
        X = self._check_X(X)
        centers = self.cluster_centers_.astype(X.dtype)
        return np.sqrt(_squared_distances(X, centers, _row_norms_sq(X)))

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Opposite of the (weighted) inertia of ``X`` on the centres (higher is better)."""
        X = self._check_X(X)
        weights = check_sample_weight(sample_weight, len(X))
        return -_labels_inertia(X, weights, self.cluster_centers_.astype(X.dtype))[1]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
