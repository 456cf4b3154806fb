"""Scores of predicted probabilities: the log loss (cross-entropy)."""

from __future__ import annotations

import warnings

import numpy as np

from theta.metrics._classification import _labels_1d, _unique
from theta.validation import check_array, check_consistent_length, check_sample_weight


def log_loss(
    y_true: object,
    y_proba: object,
    *,
    normalize: bool = True,
    sample_weight: object = None,
    labels: object = None,
    eps: str | float = "auto",
) -> float:
    """Cross-entropy of predicted class probabilities against the true labels.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the sorted order of the labels; a 1-D array is the
        probability of the larger of two labels.
    normalize : bool, default=True
        Mean over samples; otherwise the sum.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    labels : array-like, optional
        All class labels, when ``y_true`` does not contain every column's class.
    eps : "auto" or float, default="auto"
        Probabilities are clipped to ``[eps, 1 - eps]`` so that ``log(0)`` never happens;
        ``"auto"`` is the machine epsilon of ``y_proba``'s dtype (scikit-learn's rule).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On probabilities outside [0, 1], NaN, fewer than two classes, or a class count that
        does not match the columns.

    Examples
    --------
    >>> round(log_loss(["spam", "ham", "ham", "spam"],
    ...                [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]), 5)
    0.21616
    """
    y_proba = check_array(y_proba, ensure_2d=False, input_name="y_proba")
    y_true = _labels_1d(y_true, "y_true")
    if y_proba.max() > 1:
        raise ValueError(f"y_prob contains values greater than 1: {y_proba.max()}")
    if y_proba.min() < 0:
        raise ValueError(f"y_prob contains values lower than 0: {y_proba.min()}")
    check_consistent_length(y_proba, y_true, sample_weight)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, len(y_true), dtype=None)
    classes = _unique(y_true if labels is None else np.asarray(labels))
    if labels is not None:
        if not np.array_equal(classes, labels):
            warnings.warn(
                f"Labels passed were {labels}. But this function assumes labels are ordered "
                f"lexicographically. Pass the ordered labels={classes.tolist()} and ensure "
                "that the columns of y_prob correspond to this ordering.",
                UserWarning,
                stacklevel=2,
            )
        unseen = set(y_true.tolist()) - set(classes.tolist())
        if unseen:
            raise ValueError(
                f"y_true contains values {unseen} not belonging to the passed labels {labels}."
            )
    if len(classes) == 1:
        if labels is None:
            raise ValueError(
                f"y_true contains only one label ({classes[0]}). Please provide the list of "
                "all expected class labels explicitly through the labels argument."
            )
        raise ValueError(f"The labels array needs to contain at least two labels, got {classes}.")
    onehot = (y_true[:, None] == classes[None, :]).astype(y_proba.dtype)  # (n_samples, n_classes)
    if y_proba.ndim == 1:
        y_proba = y_proba[:, None]
    if y_proba.shape[1] == 1:
        y_proba = np.concatenate([1 - y_proba, y_proba], axis=1)
    dtype_eps = np.finfo(y_proba.dtype).eps
    if not np.allclose(y_proba.sum(axis=1), 1, rtol=np.sqrt(dtype_eps), atol=0):
        warnings.warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning,
            stacklevel=2,
        )
    if len(classes) != y_proba.shape[1]:
        if labels is None:
            raise ValueError(
                f"y_true and y_prob contain different number of classes: {len(classes)} vs "
                f"{y_proba.shape[1]}. Please provide the true labels explicitly through the "
                f"labels argument. Classes found in y_true: {classes}"
            )
        raise ValueError(
            "The number of classes in labels is different from that in y_prob. Classes "
            f"found in labels: {classes}"
        )
    eps = dtype_eps if isinstance(eps, str) and eps == "auto" else eps
    loss = -(onehot * np.log(np.clip(y_proba, eps, 1 - eps))).sum(axis=1)
    if normalize:
        return float(np.average(loss, weights=sample_weight))
    return float(np.sum(loss) if sample_weight is None else np.dot(loss, sample_weight))
