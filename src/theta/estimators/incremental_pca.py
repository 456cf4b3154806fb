"""Incremental PCA: principal components of data seen one batch at a time.

A batch at a time, the components so far (scaled by their singular values) are stacked on
top of the new, centred batch and one small SVD finds the components of both: the old data
survives only as ``n_components`` rows, so memory is ``O(batch_size * n_features)`` whatever
the number of samples (Ross et al., 2008, "Incremental learning for robust visual tracking").
One more row corrects for the mean having moved; means and variances are merged by Chan,
Golub and LeVeque's pairwise update. It is scikit-learn's ``IncrementalPCA`` step for step,
including its sign rule, so on the same batches both find the same components.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from theta.estimators.base import BaseEstimator, TransformerMixin, as_float, check_is_fitted
from theta.estimators.decomposition import _flip_signs
from theta.validation import Interval, check_array, feature_names

__all__ = ["IncrementalPCA"]


def merge_mean_var(X: np.ndarray, mean: np.ndarray, var: np.ndarray,
                   count: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The mean and (biased) variance of ``count`` earlier rows and the rows of ``X``.

    Chan, Golub and LeVeque's pairwise update, with the two-pass correction on the batch.

    Examples
    --------
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> mean, var = merge_mean_var(X[2:], X[:2].mean(0), X[:2].var(0), 2)
    >>> float(mean[0]), float(var[0]) == float(X.var())
    (2.5, True)
    """
    n = X.shape[0]
    new_sum = X.sum(axis=0, dtype=np.float64)
    total = count + n
    temp = X - new_sum / n
    correction = temp.sum(axis=0, dtype=np.float64)
    new_scatter = (temp**2).sum(axis=0, dtype=np.float64) - correction**2 / n
    if count == 0:
        return new_sum / total, new_scatter / total
    last_sum = mean * count
    ratio = count / n
    scatter = var * count + new_scatter + ratio / total * (last_sum / ratio - new_sum) ** 2
    return (last_sum + new_sum) / total, scatter / total


class IncrementalPCA(TransformerMixin, BaseEstimator):
    """PCA fitted in batches of ``batch_size`` samples (or by :meth:`partial_fit` calls).

    Parameters
    ----------
    n_components : int or None, default=None
        Components to keep; ``None`` keeps ``min(n_samples of the first batch, n_features)``.
    whiten : bool, default=False
        Divide the projections by the square roots of their variances.
    batch_size : int or None, default=None
        Samples per batch of :meth:`fit` (``5 * n_features`` by default; a last batch smaller
        than ``n_components`` joins the one before it).

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
    explained_variance_ : ndarray of shape (n_components_,)
    explained_variance_ratio_ : ndarray of shape (n_components_,)
    singular_values_ : ndarray of shape (n_components_,)
    mean_, var_ : ndarray of shape (n_features,)
        Per-feature mean and variance of all the samples seen.
    noise_variance_ : float
        Mean variance of the discarded directions (0 when none were discarded).
    n_components_ : int
    n_samples_seen_ : int
    batch_size_ : int
        The batch size :meth:`fit` used.
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 3)) * [3.0, 1.0, 0.1]
    >>> ipca = IncrementalPCA(n_components=2, batch_size=20).fit(X)
    >>> np.abs(ipca.components_).argmax(axis=1).tolist()
    [0, 1]
    >>> ipca.transform(X[:4]).shape
    (4, 2)
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None), None],
        "whiten": ["boolean"],
        "batch_size": [Interval(numbers.Integral, 1, None), None],
    }

    def __init__(self, n_components: int | None = None, *, whiten: bool = False,
                 batch_size: int | None = None) -> None:  # fmt: skip
        self.n_components = n_components
        self.whiten = whiten
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> IncrementalPCA:
        """Fit on ``X`` of shape (n_samples, n_features), ``batch_size`` rows at a time."""
        self._validate_params()
        names = feature_names(X)
        X = as_float(check_array(X, caller=self))
        n_samples, n_features = X.shape
        batch = self.batch_size if self.batch_size is not None else 5 * n_features
        fresh = type(self)(**self.get_params(deep=False))  # learns apart: an error changes nothing
        min_batch = self.n_components or 0
        start = 0
        for _ in range(n_samples // batch):  # scikit-learn's gen_batches
            if start + batch + min_batch > n_samples:
                continue
            fresh._update(X[start : start + batch])
            start += batch
        if start < n_samples:
            fresh._update(X[start:])
        for key in [k for k in vars(self) if k.endswith("_")]:  # fit forgets earlier fits
            del self.__dict__[key]
        self.__dict__.update(vars(fresh))
        self.batch_size_ = batch
        self._set_features(n_features, names)
        return self

    def partial_fit(self, X: Any, y: Any = None) -> IncrementalPCA:
        """Update the components with the batch ``X`` of shape (n_samples, n_features)."""
        first = not hasattr(self, "components_")
        if first:
            self._validate_params()
            names = feature_names(X)
            X = as_float(check_array(X, caller=self))
        else:
            X = as_float(self._validate_data(X, reset=False))
        self._update(X)
        if first:
            self._set_features(X.shape[1], names)
        return self

    def _update(self, X: np.ndarray) -> None:
        """One step of the sequential SVD on the batch ``X`` (every check before any change)."""
        n_samples, n_features = X.shape
        first = not hasattr(self, "components_")
        if self.n_components is None:
            k = min(n_samples, n_features) if first else self.components_.shape[0]
        elif self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components!r} invalid for n_features={n_features}, need "
                "more rows than columns for IncrementalPCA processing"
            )
        elif self.n_components > n_samples and first:
            raise ValueError(
                f"n_components={self.n_components} must be less or equal to the batch number "
                f"of samples {n_samples} for the first partial_fit call."
            )
        else:
            k = int(self.n_components)
        if not first and self.components_.shape[0] != k:
            raise ValueError(
                f"Number of input features has changed from {self.components_.shape[0]} to "
                f"{k} between calls to partial_fit! Try setting n_components to a fixed value."
            )
        seen = 0 if first else self.n_samples_seen_
        zeros = np.zeros(n_features)
        mean, var = merge_mean_var(X, zeros if first else self.mean_,
                                   zeros if first else self.var_, seen)  # fmt: skip
        total = seen + n_samples
        if first:
            A = X - mean
        else:
            batch_mean = X.mean(axis=0)
            # the old mean's distance from the batch's, weighted as one extra row
            correction = np.sqrt(seen / total * n_samples) * (self.mean_ - batch_mean)
            A = np.vstack([self.singular_values_[:, None] * self.components_, X - batch_mean,
                           correction])  # fmt: skip
        _, S, Vt = np.linalg.svd(A, full_matrices=False)
        Vt = _flip_signs(Vt)
        variance = S**2 / (total - 1)
        self.n_samples_seen_ = total
        self.n_components_ = k
        self.components_ = Vt[:k]
        self.singular_values_ = S[:k]
        self.mean_, self.var_ = mean.astype(X.dtype), var.astype(X.dtype)
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = S[:k] ** 2 / np.sum(var * total)
        self.noise_variance_ = (
            float(variance[k:].mean()) if k not in (n_samples, n_features) else 0.0
        )

    def transform(self, X: Any) -> np.ndarray:
        """Project ``X`` (n_samples, n_features) on the components: (n_samples, n_components_)."""
        check_is_fitted(self)
        X = as_float(self._validate_data(X, reset=False))
        Z = (X - self.mean_) @ self.components_.T
        if self.whiten:
            Z /= np.sqrt(self.explained_variance_)
        return Z.astype(X.dtype, copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map projections (n_samples, n_components_) back to (n_samples, n_features)."""
        check_is_fitted(self)
        Z = as_float(check_array(X, caller=self))
        components = self.components_
        if self.whiten:
            components = np.sqrt(self.explained_variance_)[:, None] * components
        return Z @ components + self.mean_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
