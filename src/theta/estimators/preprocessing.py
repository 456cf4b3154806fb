"""Features: scale numbers, one-hot encode categories, expand into polynomial terms.

Each transformer learns something from the training data in ``fit`` (a mean and a spread, a
range, the categories, the number of inputs) and applies exactly that to new data in
``transform``. They compute what scikit-learn's transformers of the same names compute, with
the same formulas in the same order, so the outputs agree to the last bit or to rounding.

``OneHotEncoder`` lives in ``theta.estimators._encoders`` and is re-exported here.

One deliberate difference: the scalers refuse NaN (theta's rule for every estimator) where
scikit-learn's ignore it. ``OneHotEncoder``, like scikit-learn's, treats NaN and None as a
category of their own.
"""

from __future__ import annotations

import math
import numbers
from itertools import chain, combinations, combinations_with_replacement
from typing import Any

import numpy as np

from theta.estimators._encoders import OneHotEncoder, _input_names
from theta.estimators.base import BaseEstimator, TransformerMixin, check_is_fitted
from theta.validation import Interval, check_array, check_sample_weight, feature_names

__all__ = ["MinMaxScaler", "OneHotEncoder", "PolynomialFeatures", "StandardScaler"]


class _OneToOneNames:
    """Transformers whose output column ``j`` is input column ``j`` transformed."""

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names: the input names (``x0, x1, ...`` by default)."""
        return _input_names(self, input_features)


def _preserve_float32(tags: Any) -> Any:
    tags.transformer_tags.preserves_dtype = ["float64", "float32"]
    return tags


# --- StandardScaler -----------------------------------------------------------------------


def _update_mean_var(X, weights, mean, var, count, with_var) -> tuple:
    """Add the batch ``X`` to running per-feature (mean, variance, count) statistics.

    Chan, Golub and LeVeque's update, as scikit-learn's ``_incremental_mean_and_var``: the
    corrected two-pass variance of the batch, merged with the earlier one. Sums run in float64
    even for float32 data.
    """
    if weights is None:
        new_sum = X.sum(axis=0, dtype=np.float64)
        new_count = np.full(X.shape[1], X.shape[0], dtype=np.float64)
    else:
        weights = weights.astype(np.float64)
        new_sum = weights @ X.astype(np.float64)
        new_count = np.full(X.shape[1], weights.sum())
    last_sum = mean * count
    new_total = count + new_count
    new_mean = (last_sum + new_sum) / new_total
    if not with_var:
        return new_mean, None, new_total
    centred = X - new_sum / new_count  # (n_samples, n_features), float64
    if weights is None:
        correction, new_m2 = centred.sum(axis=0), (centred**2).sum(axis=0)
    else:
        correction, new_m2 = weights @ centred, weights @ centred**2
    new_m2 -= correction**2 / new_count  # the correction term of the two-pass algorithm
    if np.all(count == 0):
        return new_mean, new_m2 / new_total, new_total
    ratio = count / new_count
    m2 = var * count + new_m2 + ratio / new_total * (last_sum / ratio - new_sum) ** 2
    return new_mean, m2 / new_total, new_total


def constant_features(var: np.ndarray, mean: np.ndarray, n_samples: Any) -> np.ndarray:
    """Features whose variance is rounding noise, judged against the error bound of its
    computation (scikit-learn's rule); they keep scale 1, since dividing by noise would blow
    them up."""
    eps = np.finfo(np.float64).eps
    return var <= n_samples * eps * var + (n_samples * mean * eps) ** 2


class StandardScaler(_OneToOneNames, TransformerMixin, BaseEstimator):
    """Standardize features: subtract the mean, divide by the standard deviation.

    ``z = (x - mean_) / scale_``, with statistics learned in ``fit`` (population standard
    deviation, ``ddof=0``). A constant feature gets ``scale_`` 1, so it maps to 0 instead of
    dividing by zero. float32 data stays float32 (the statistics are accumulated in float64).

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the mean.
    with_std : bool, default=True
        Divide by the standard deviation.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,) or None
        Per-feature mean; None when neither ``with_mean`` nor ``with_std``.
    var_ : ndarray of shape (n_features,) or None
        Per-feature variance; None unless ``with_std``.
    scale_ : ndarray of shape (n_features,) or None
        Per-feature divisor (the standard deviation, 1 for constant features); None unless
        ``with_std``.
    n_samples_seen_ : float or int
        Samples (or total sample weight) seen by ``fit`` and ``partial_fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> scaler = StandardScaler().fit([[0.0, 5.0], [2.0, 5.0]])
    >>> scaler.mean_, scaler.scale_
    (array([1., 5.]), array([1., 1.]))
    >>> scaler.transform([[4.0, 5.0]])
    array([[3., 0.]])
    """

    _parameter_constraints = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, *, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Learn the per-feature mean and standard deviation of ``X`` (optionally weighted).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), optional
            Weight of each sample.

        Returns
        -------
        self
        """
        self._validate_params()
        names = feature_names(X)
        X = check_array(X, caller=self)
        weights = None if sample_weight is None else check_sample_weight(
            sample_weight, X.shape[0], dtype=X.dtype
        )  # fmt: skip
        for name in ("mean_", "var_", "scale_", "n_samples_seen_"):
            self.__dict__.pop(name, None)
        self._set_features(X.shape[1], names)
        return self._learn(X, weights)

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> StandardScaler:
        """Update the statistics with one more batch (for data that does not fit in memory).

        Parameters are those of :meth:`fit`.

        Returns
        -------
        self
        """
        self._validate_params()
        X = self._validate_data(X, reset=not hasattr(self, "n_samples_seen_"))
        weights = None if sample_weight is None else check_sample_weight(
            sample_weight, X.shape[0], dtype=X.dtype
        )  # fmt: skip
        return self._learn(X, weights)

    def _learn(self, X: np.ndarray, weights: np.ndarray | None) -> StandardScaler:
        n_seen = getattr(self, "n_samples_seen_", 0)
        if not self.with_mean and not self.with_std:
            self.mean_ = self.var_ = self.scale_ = None
            self.n_samples_seen_ = n_seen + (X.shape[0] if weights is None else weights.sum())
            return self
        count = np.full(X.shape[1], n_seen, dtype=np.float64)
        mean = self.mean_ if n_seen else 0.0
        var = self.var_ if n_seen else 0.0
        self.mean_, self.var_, count = _update_mean_var(
            X, weights, mean, var, count, with_var=self.with_std
        )
        self.n_samples_seen_ = count[0]
        self.scale_ = None
        if self.with_std:
            constant = constant_features(self.var_, self.mean_, self.n_samples_seen_)
            self.scale_ = np.where(constant, 1.0, np.sqrt(self.var_))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Standardize ``X`` with the learned statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Same float dtype as ``X`` (integers become float64).
        """
        check_is_fitted(self)
        X = self._validate_data(X, reset=False).copy()
        if self.with_mean:
            X -= self.mean_.astype(X.dtype)
        if self.with_std:
            X /= self.scale_.astype(X.dtype)
        return X

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``X * scale_ + mean_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = self._validate_data(X, reset=False).copy()
        if self.with_std:
            X *= self.scale_.astype(X.dtype)
        if self.with_mean:
            X += self.mean_.astype(X.dtype)
        return X

    def __sklearn_tags__(self) -> Any:
        return _preserve_float32(super().__sklearn_tags__())


# --- MinMaxScaler -------------------------------------------------------------------------


class MinMaxScaler(_OneToOneNames, TransformerMixin, BaseEstimator):
    """Scale each feature linearly so that its training range maps onto ``feature_range``.

    ``x_scaled = x * scale_ + min_``. A constant feature (zero range) is only shifted, to
    ``feature_range[0]``, instead of dividing by zero. float32 data stays float32.

    Parameters
    ----------
    feature_range : tuple (min, max), default=(0, 1)
        Range the training data is mapped onto.
    clip : bool, default=False
        Clip transformed values (of new data outside the training range) to ``feature_range``.

    Attributes
    ----------
    data_min_, data_max_, data_range_ : ndarray of shape (n_features,)
        Per-feature minimum, maximum and their difference seen in training.
    scale_ : ndarray of shape (n_features,)
        Per-feature factor ``(max - min) / data_range_`` (``data_range_`` 0 counts as 1).
    min_ : ndarray of shape (n_features,)
        Per-feature offset ``min - data_min_ * scale_``.
    n_samples_seen_ : int
        Samples seen by ``fit`` and ``partial_fit``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> MinMaxScaler().fit_transform([[1.0, -1.0], [3.0, 1.0], [5.0, 0.0]])
    array([[0. , 0. ],
           [0.5, 1. ],
           [1. , 0.5]])
    """

    _parameter_constraints = {"feature_range": [tuple], "clip": ["boolean"]}

    def __init__(self, feature_range: tuple[float, float] = (0, 1), *, clip: bool = False) -> None:
        self.feature_range = feature_range
        self.clip = clip

    def _check_range(self) -> None:
        self._validate_params()
        if self.feature_range[0] >= self.feature_range[1]:
            raise ValueError(
                "Minimum of desired feature range must be smaller than maximum. Got "
                f"{self.feature_range}."
            )

    def fit(self, X: Any, y: Any = None) -> MinMaxScaler:
        """Learn the per-feature minimum and maximum of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._check_range()
        names = feature_names(X)
        X = check_array(X, caller=self)
        self.__dict__.pop("n_samples_seen_", None)
        self._set_features(X.shape[1], names)
        return self._learn(X)

    def partial_fit(self, X: Any, y: Any = None) -> MinMaxScaler:
        """Widen the learned range with one more batch.

        Parameters are those of :meth:`fit`.

        Returns
        -------
        self
        """
        self._check_range()
        return self._learn(self._validate_data(X, reset=not hasattr(self, "n_samples_seen_")))

    def _learn(self, X: np.ndarray) -> MinMaxScaler:
        low, high = (np.asarray(v, dtype=X.dtype) for v in self.feature_range)
        data_min, data_max = X.min(axis=0), X.max(axis=0)
        if hasattr(self, "n_samples_seen_"):
            data_min = np.minimum(self.data_min_, data_min)
            data_max = np.maximum(self.data_max_, data_max)
            self.n_samples_seen_ += X.shape[0]
        else:
            self.n_samples_seen_ = X.shape[0]
        data_range = data_max - data_min
        # A range within rounding of zero counts as 1, so a constant feature is only shifted.
        tiny = data_range < 10 * np.finfo(data_range.dtype).eps
        self.scale_ = (high - low) / np.where(tiny, np.ones_like(data_range), data_range)
        self.min_ = low - data_min * self.scale_
        self.data_min_, self.data_max_, self.data_range_ = data_min, data_max, data_range
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Scale ``X`` with the learned range.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Same float dtype as ``X`` (integers become float64).
        """
        check_is_fitted(self)
        X = self._validate_data(X, reset=False).copy()
        X *= self.scale_
        X += self.min_
        if self.clip:
            low, high = (np.asarray(v, dtype=X.dtype) for v in self.feature_range)
            np.clip(X, low, high, out=X)
        return X

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``(X - min_) / scale_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = self._validate_data(X, reset=False).copy()
        X -= self.min_
        X /= self.scale_
        return X

    def __sklearn_tags__(self) -> Any:
        return _preserve_float32(super().__sklearn_tags__())


# --- PolynomialFeatures -------------------------------------------------------------------


class PolynomialFeatures(TransformerMixin, BaseEstimator):
    """All products of the features up to a degree: ``[1, a, b, a², ab, b²]`` for degree 2.

    Columns come in scikit-learn's order: the bias, then degree 1, 2, ... terms, each degree
    in lexicographic order of the feature indices. float32 data stays float32.

    Parameters
    ----------
    degree : int or tuple (min_degree, max_degree), default=2
        Highest degree, or the range of degrees, of the terms.
    interaction_only : bool, default=False
        Only products of distinct features (no ``a²``).
    include_bias : bool, default=True
        Include the constant column of ones (degree 0).

    Attributes
    ----------
    powers_ : ndarray of shape (n_output_features_, n_features_in_)
        Exponent of each input in each output column.
    n_output_features_ : int
        Number of output columns.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> poly = PolynomialFeatures().fit([[2.0, 3.0]])
    >>> poly.transform([[2.0, 3.0]])
    array([[1., 2., 3., 4., 6., 9.]])
    >>> poly.get_feature_names_out().tolist()
    ['1', 'x0', 'x1', 'x0^2', 'x0 x1', 'x1^2']
    """

    __theta_state_names__ = ("_min_degree", "_max_degree", "_n_out_full")  # saved with the fit
    _parameter_constraints = {
        "degree": [Interval(numbers.Integral, 0, None, closed="left"), tuple, list],
        "interaction_only": ["boolean"],
        "include_bias": ["boolean"],
    }

    def __init__(self, degree: int | tuple[int, int] = 2, *, interaction_only: bool = False,
                 include_bias: bool = True) -> None:  # fmt: skip
        self.degree = degree
        self.interaction_only = interaction_only
        self.include_bias = include_bias

    def _degrees(self) -> tuple[int, int]:
        if isinstance(self.degree, numbers.Integral):
            if self.degree == 0 and not self.include_bias:
                raise ValueError(
                    "Setting degree to zero and include_bias to False would result in an "
                    "empty output array."
                )
            return 0, int(self.degree)
        if len(self.degree) != 2:
            raise ValueError(
                "degree must be a non-negative int or tuple (min_degree, max_degree), got "
                f"{self.degree}."
            )
        low, high = self.degree
        if not (isinstance(low, numbers.Integral) and isinstance(high, numbers.Integral)
                and 0 <= low <= high):  # fmt: skip
            raise ValueError(
                "degree=(min_degree, max_degree) must be non-negative integers that fulfil "
                f"min_degree <= max_degree, got {self.degree}."
            )
        if high == 0 and not self.include_bias:
            raise ValueError(
                "Setting both min_degree and max_degree to zero and include_bias to False "
                "would result in an empty output array."
            )
        return int(low), int(high)

    def _count(self, n_features: int, low: int, high: int) -> int:
        """Number of output columns, without listing them."""
        if self.interaction_only:
            n = sum(math.comb(n_features, d) for d in range(max(1, low), min(high, n_features) + 1))
        else:
            n = math.comb(n_features + high, high) - 1
            n -= math.comb(n_features + low - 1, low - 1) - 1 if low > 0 else 0
        return n + int(self.include_bias)

    def fit(self, X: Any, y: Any = None) -> PolynomialFeatures:
        """Record the number of input features and of output terms.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        self._min_degree, self._max_degree = self._degrees()
        n_features = self._validate_data(X).shape[1]
        self.n_output_features_ = self._count(n_features, self._min_degree, self._max_degree)
        self._n_out_full = self._count(n_features, 0, self._max_degree)
        return self

    @property
    def powers_(self) -> np.ndarray:
        """Exponent of each input (columns) in each output term (rows)."""
        check_is_fitted(self)
        n = self.n_features_in_
        pick = combinations if self.interaction_only else combinations_with_replacement
        terms = chain.from_iterable(
            pick(range(n), d) for d in range(max(1, self._min_degree), self._max_degree + 1)
        )
        terms = chain([()], terms) if self.include_bias else terms
        rows = [np.bincount(np.asarray(t, dtype=np.intp), minlength=n) for t in terms]
        return np.vstack(rows) if rows else np.zeros((0, n), dtype=np.intp)

    def transform(self, X: Any) -> np.ndarray:
        """Expand ``X`` into its polynomial terms.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_output_features_)
        """
        check_is_fitted(self)
        X = np.asfortranarray(self._validate_data(X, reset=False))  # columns contiguous
        n_samples, n_features = X.shape
        # Build every degree from 0 and cut to min_degree at the end. Degree d's terms are
        # degree d-1's terms times one more feature, so each column is one multiplication.
        XP = np.empty((n_samples, self._n_out_full), dtype=X.dtype)
        col = int(self.include_bias)
        if self.include_bias:
            XP[:, 0] = 1
        if self._max_degree == 0:
            return XP
        XP[:, col : col + n_features] = X
        index = list(range(col, col + n_features)) + [col + n_features]  # start of each run
        col += n_features
        for _ in range(2, self._max_degree + 1):
            new_index, end = [], index[-1]
            for feature in range(n_features):
                start = index[feature]
                new_index.append(col)
                if self.interaction_only:
                    start += index[feature + 1] - index[feature]
                next_col = col + end - start
                if next_col <= col:
                    break
                # XP[:, start:end]: terms of degree d-1 using only features >= this one
                np.multiply(XP[:, start:end], X[:, feature : feature + 1], out=XP[:, col:next_col])
                col = next_col
            new_index.append(col)
            index = new_index
        if self._min_degree > 1:
            n_skip = self._n_out_full - self.n_output_features_
            bias = XP[:, :1] if self.include_bias else XP[:, :0]
            XP = np.hstack([bias, XP[:, int(self.include_bias) + n_skip :]])
        return XP

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names such as ``"1"``, ``"x0"``, ``"x0^2"``, ``"x0 x1"``.

        Parameters
        ----------
        input_features : array-like of str, optional
            Input feature names; default ``x0, x1, ...``.

        Returns
        -------
        ndarray of str objects
        """
        names = _input_names(self, input_features)
        out = []
        for row in self.powers_:
            used = np.flatnonzero(row)
            terms = [names[i] if row[i] == 1 else f"{names[i]}^{row[i]}" for i in used]
            out.append(" ".join(terms) if len(used) else "1")
        return np.asarray(out, dtype=object)

    def __sklearn_tags__(self) -> Any:
        return _preserve_float32(super().__sklearn_tags__())
