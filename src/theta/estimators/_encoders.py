"""One-hot encoding of categorical features; public as ``theta.estimators.preprocessing``.

Categories may be numbers, strings or other objects, one type per column; NaN and None are
categories of their own, sorted last, as in scikit-learn.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from theta.estimators.base import BaseEstimator, TransformerMixin, check_is_fitted
from theta.validation import Options, check_array, feature_names

__all__ = ["OneHotEncoder"]


def _input_names(estimator: Any, input_features: Any) -> np.ndarray:
    """``input_features`` checked against ``feature_names_in_`` and ``n_features_in_``; by
    default the names seen in ``fit``, or ``x0, x1, ...``."""
    check_is_fitted(estimator)
    n = estimator.n_features_in_
    fitted = getattr(estimator, "feature_names_in_", None)
    if input_features is None:
        if fitted is not None:
            return fitted
        return np.asarray([f"x{i}" for i in range(n)], dtype=object)
    names = np.asarray(input_features, dtype=object)
    if fitted is not None and not np.array_equal(fitted, names):
        raise ValueError("input_features is not equal to feature_names_in_")
    if len(names) != n:
        raise ValueError(
            f"input_features should have length equal to number of features ({n}), got {len(names)}"
        )
    return names


def _is_nan(value: Any) -> bool:
    return isinstance(value, numbers.Real) and math.isnan(value)


def _is_numeric(column: np.ndarray) -> bool:
    return column.dtype.kind in "iuf"


def _sorted_categories(column: np.ndarray) -> np.ndarray:
    """Sorted distinct values of one column; None, then NaN, go last (scikit-learn's order)."""
    if _is_numeric(column):
        uniques = np.unique(column)  # NaNs sort last; NumPy >= 1.21 keeps a single one
        return uniques
    try:
        values = set(column.tolist())
        missing = [m for m in (None, np.nan) if (m is None and None in values)
                   or (m is not None and any(_is_nan(v) for v in values))]  # fmt: skip
        ordered = sorted(v for v in values if v is not None and not _is_nan(v)) + missing
    except TypeError:  # unhashable or unorderable mixtures, e.g. str with int or a dict
        types = sorted({type(v).__qualname__ for v in column.tolist()})
        raise TypeError(
            "Encoders require their input argument must be uniformly strings or numbers. "
            f"Got {types}"
        ) from None
    return np.array(ordered, dtype=column.dtype)


def _find(column: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, list]:
    """Index of each value in ``categories`` (-1 if unknown), and the unknown values."""
    if _is_numeric(column) and _is_numeric(categories):
        idx = np.clip(np.searchsorted(categories, column), 0, len(categories) - 1)
        found = (categories[idx] == column) | (np.isnan(categories[idx]) & np.isnan(column))
        unknown = list(np.unique(column[~found]))
    else:
        values = column.tolist()
        table = {v: i for i, v in enumerate(categories.tolist()) if not _is_nan(v)}
        idx = np.fromiter((table.get(v, -1) for v in values), dtype=np.intp, count=len(values))
        nan_at = next((i for i, v in enumerate(categories.tolist()) if _is_nan(v)), -1)
        if nan_at >= 0:  # NaN != NaN, so NaN values are looked up apart
            for k in np.flatnonzero(idx < 0):
                idx[k] = nan_at if _is_nan(values[k]) else -1
        found = idx >= 0
        unknown = list(dict.fromkeys(values[k] for k in np.flatnonzero(~found)))
    return np.where(found, idx, -1), unknown


class OneHotEncoder(TransformerMixin, BaseEstimator):
    """Encode each categorical feature as one 0/1 column per category (dense output).

    Works on numbers, strings and mixed object arrays (one category type per column). NaN and
    None are categories of their own, sorted last. Output columns follow ``categories_``,
    feature by feature.

    Parameters
    ----------
    categories : "auto" or list of array-like, default="auto"
        ``"auto"``: the sorted distinct values of each column in ``fit``. A list gives the
        categories of each column (numeric ones sorted, NaN last).
    drop : {"first", "if_binary"} or None, default=None
        Leave out one column per feature: the first category (``"first"``), or the first of
        features with exactly two categories (``"if_binary"``). Dropped categories encode as
        all zeros.
    sparse_output : bool, default=False
        Only ``False``: theta returns dense arrays (the argument is here so that code written
        for scikit-learn, ``OneHotEncoder(sparse_output=False)``, runs unchanged).
    dtype : numpy dtype, default=np.float64
        Type of the output.
    handle_unknown : {"error", "ignore", "warn"}, default="error"
        A category not seen in ``fit`` raises ``ValueError`` naming the column and value
        (``"error"``), or encodes as all zeros (``"ignore"``; ``"warn"`` also warns).

    Attributes
    ----------
    categories_ : list of ndarray
        Categories of each feature, in output column order.
    drop_idx_ : ndarray of shape (n_features,) or None
        Index in ``categories_[i]`` of the dropped category (None where nothing is dropped).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> enc = OneHotEncoder().fit([["red", 1], ["green", 2], ["red", 3]])
    >>> enc.categories_
    [array(['green', 'red'], dtype=object), array(['1', '2', '3'], dtype=object)]
    >>> enc.transform([["green", 3]])
    array([[1., 0., 0., 0., 1.]])
    >>> enc.get_feature_names_out().tolist()
    ['x0_green', 'x0_red', 'x1_1', 'x1_2', 'x1_3']
    >>> enc.inverse_transform([[0, 1, 1, 0, 0]])
    array([['red', '1']], dtype=object)
    """

    _parameter_constraints = {
        "categories": [Options({"auto"}), list],
        "drop": [Options({"first", "if_binary"}), None],
        "sparse_output": ["boolean"],
        "handle_unknown": [Options({"error", "ignore", "warn"})],
    }

    def __init__(self, *, categories: str | list = "auto", drop: str | None = None,
                 sparse_output: bool = False, dtype: Any = np.float64,
                 handle_unknown: str = "error") -> None:  # fmt: skip
        self.categories = categories
        self.drop = drop
        self.sparse_output = sparse_output
        self.dtype = dtype
        self.handle_unknown = handle_unknown

    def _columns(self, X: Any, *, fitted: bool) -> list[np.ndarray]:
        """Validate ``X`` without casting it to numbers (and, once ``fitted``, against the
        features of ``fit``); return its columns."""
        check = {"dtype": None, "ensure_all_finite": False}
        if fitted:
            arr = self._validate_data(X, reset=False, **check)
        else:
            arr = check_array(X, caller=self, **check)
        if not hasattr(X, "dtype") and arr.dtype.kind == "U":
            arr = arr.astype(object)  # lists of str: no fixed-width truncation when setting
        if arr.dtype.kind == "f" and np.isinf(arr).any():
            raise ValueError(f"Input X contains infinity or a value too large for {arr.dtype}.")
        return [arr[:, i] for i in range(arr.shape[1])]

    def fit(self, X: Any, y: Any = None) -> OneHotEncoder:
        """Learn the categories of each column of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Categorical data: numbers, strings or objects.
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        if self.sparse_output:
            raise ValueError(
                "OneHotEncoder: sparse_output=True is not supported; theta returns dense "
                "arrays. Pass sparse_output=False."
            )
        names = feature_names(X)
        columns = self._columns(X, fitted=False)
        if self.categories != "auto" and len(self.categories) != len(columns):
            raise ValueError(
                "Shape mismatch: if categories is an array, it has to be of shape (n_features,)."
            )
        cats = [
            _sorted_categories(col) if self.categories == "auto" else self._given(col, i)
            for i, col in enumerate(columns)
        ]
        if self.drop is None:
            drop_idx = None
        elif self.drop == "first":
            drop_idx = np.zeros(len(cats), dtype=object)
        else:
            drop_idx = np.array([0 if len(c) == 2 else None for c in cats], dtype=object)
        self.categories_, self.drop_idx_ = cats, drop_idx
        self._set_features(len(columns), names)
        return self

    def _given(self, column: np.ndarray, i: int) -> np.ndarray:
        """The user's categories for column ``i``, checked as scikit-learn checks them."""
        cats = np.array(
            self.categories[i], dtype=object if column.dtype.kind == "U" else column.dtype
        )
        if any(_is_nan(c) for c in cats.tolist()[:-1]):
            raise ValueError(
                "Nan should be the last element in user provided categories, see categories "
                f"{cats} in column #{i}"
            )
        if len(_sorted_categories(cats)) != cats.size:
            raise ValueError(
                f"In column {i}, the predefined categories contain duplicate elements."
            )
        if _is_numeric(column):
            stop = -1 if np.isnan(cats[-1]) else None
            if np.any(np.sort(cats)[:stop] != cats[:stop]):
                raise ValueError("Unsorted categories are not supported for numerical categories")
        if self.handle_unknown == "error":
            _, unknown = _find(column, cats)
            if unknown:
                raise ValueError(f"Found unknown categories {unknown} in column {i} during fit")
        return cats

    def _kept(self, i: int) -> np.ndarray:
        """Categories of feature ``i`` that have an output column."""
        if self.drop_idx_ is None or self.drop_idx_[i] is None:
            return self.categories_[i]
        return np.delete(self.categories_[i], self.drop_idx_[i])

    def transform(self, X: Any) -> np.ndarray:
        """One-hot encode ``X`` with the learned categories.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_encoded_features)
            One 1 per feature and sample (none for unknown or dropped categories).

        Raises
        ------
        ValueError
            With ``handle_unknown="error"``, for a category not seen in ``fit``: "Found unknown
            categories ['x'] in column 0 during transform".
        """
        check_is_fitted(self)
        columns = self._columns(X, fitted=True)
        widths = [len(self._kept(i)) for i in range(len(columns))]
        offsets = np.concatenate([[0], np.cumsum(widths)])
        out = np.zeros((len(columns[0]), offsets[-1]), dtype=self.dtype)
        unknown_in = []
        for i, col in enumerate(columns):
            idx, unknown = _find(col, self.categories_[i])
            if unknown and self.handle_unknown == "error":
                raise ValueError(
                    f"Found unknown categories {unknown} in column {i} during transform"
                )
            unknown_in += [i] if unknown else []
            dropped = None if self.drop_idx_ is None else self.drop_idx_[i]
            if dropped is not None:
                idx = np.where(idx == dropped, -1, idx - (idx > dropped))
            rows = np.flatnonzero(idx >= 0)
            out[rows, offsets[i] + idx[rows]] = 1
        if unknown_in and (self.handle_unknown == "warn" or self.drop is not None):
            warnings.warn(
                f"Found unknown categories in columns {unknown_in} during transform. These "
                "unknown categories will be encoded as all zeros",
                UserWarning,
                stacklevel=2,
            )
        return out

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map one-hot rows back to the categories.

        An all-zero block gives the dropped category, or None for an unknown category
        (``handle_unknown`` "ignore" or "warn").

        Parameters
        ----------
        X : array-like of shape (n_samples, n_encoded_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = check_array(X, caller=self)
        n_out = sum(len(self._kept(i)) for i in range(self.n_features_in_))
        if X.shape[1] != n_out:
            raise ValueError(
                f"Shape of the passed X data is not correct. Expected {n_out} columns, got "
                f"{X.shape[1]}."
            )
        dtype = np.result_type(*[c.dtype for c in self.categories_])
        out = np.empty((X.shape[0], self.n_features_in_), dtype=dtype)
        start, unknown = 0, {}
        for i, cats in enumerate(self.categories_):
            kept = self._kept(i)
            block = X[:, start : start + len(kept)]
            start += len(kept)
            dropped = None if self.drop_idx_ is None else self.drop_idx_[i]
            if len(kept) == 0:  # a single category, dropped: every row is that category
                out[:, i] = cats[dropped]
                continue
            out[:, i] = kept[block.argmax(axis=1)]
            zeros = block.sum(axis=1) == 0
            if not zeros.any():
                continue
            if dropped is not None:
                out[zeros, i] = cats[dropped]
            elif self.handle_unknown != "error":
                unknown[i] = zeros
            else:
                raise ValueError(
                    f"Samples {np.flatnonzero(zeros)} can not be inverted when drop=None and "
                    "handle_unknown='error' because they contain all zeros"
                )
        if unknown:
            out = out.astype(object)
            for i, zeros in unknown.items():
                out[zeros, i] = None
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names ``"<feature>_<category>"``.

        Parameters
        ----------
        input_features : array-like of str, optional
            Input feature names; default ``x0, x1, ...``.

        Returns
        -------
        ndarray of str objects
        """
        names = _input_names(self, input_features)
        return np.asarray(
            [f"{names[i]}_{c}" for i in range(self.n_features_in_) for c in self._kept(i)],
            dtype=object,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.allow_nan = True
        return tags
