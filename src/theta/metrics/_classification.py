"""Classification scores on label arrays: accuracy, confusion matrix, precision, recall, F.

Labels are 1-D arrays of numbers or strings (multilabel indicator matrices are not
supported). Definitions, messages and warnings follow scikit-learn's: an ill-defined
precision, recall or F-score (a zero denominator) is set to ``zero_division``, which by
default (``"warn"``) gives 0.0 and an :class:`~theta.errors.UndefinedMetricWarning`.
"""

from __future__ import annotations

import numbers
import warnings
from functools import partial
from typing import Any

import numpy as np

from theta.errors import InvalidParameterError, UndefinedMetricWarning, sklearn_twin
from theta.validation import check_consistent_length, check_sample_weight


def accuracy_score(y_true: object, y_pred: object) -> float:
    """Fraction of labels predicted exactly.

    Examples
    --------
    >>> accuracy_score([0, 1, 1], [0, 1, 0])
    0.6666666666666666
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_consistent_length(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


# --- classification: labels and counts ------------------------------------------------------


def _labels_1d(y: object, name: str) -> np.ndarray:
    """``y`` as a 1-D label array (a column vector is raveled); NaN and infinity refused."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"{name} should be a 1d array of labels, got an array of shape {y.shape} instead "
            "(multilabel and multioutput targets are not supported)."
        )
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported\n{y}\n")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        what = "NaN" if np.isnan(y).any() else f"infinity or a value too large for {y.dtype}"
        raise ValueError(f"Input {name} contains {what}.")
    return y


def _is_str(y: np.ndarray) -> bool:
    return y.dtype.kind in "US" or (y.dtype.kind == "O" and all(isinstance(v, str) for v in y))


def _unique(y: np.ndarray) -> np.ndarray:
    try:
        return np.unique(y)
    except TypeError:  # Python objects that cannot be ordered together, e.g. "a" and 1
        raise ValueError("Mix of label input types (string and number)") from None


def _target_type(y: np.ndarray) -> str:
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        return "continuous"
    return "binary" if len(_unique(y)) <= 2 else "multiclass"


def _check_targets(y_true: object, y_pred: object, sample_weight: object = None) -> tuple:
    """Validate a pair of label arrays: ``(type, sorted labels, y_true, y_pred, weights)``."""
    y_true, y_pred = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    check_consistent_length(y_true, y_pred, sample_weight)
    if len(y_true) == 0:
        raise ValueError(
            "Found empty input array (e.g., `y_true` or `y_pred`) while a minimum of 1 "
            "sample is required."
        )
    types = [_target_type(y_true), _target_type(y_pred)]
    merged = {"multiclass"} if set(types) == {"binary", "multiclass"} else set(types)
    if len(merged) > 1:
        raise ValueError(
            f"Classification metrics can't handle a mix of {types[0]} and {types[1]} targets"
        )
    if "continuous" in merged:
        raise ValueError("continuous is not supported")
    if _is_str(y_true) != _is_str(y_pred):
        raise ValueError("Mix of label input types (string and number)")
    present = _unique(np.concatenate([y_true, y_pred]))
    y_type = "binary" if len(present) <= 2 else "multiclass"
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, len(y_true), dtype=None)
    return y_type, present, y_true, y_pred, sample_weight


def _label_counts(y_true, y_pred, labels, present, sample_weight) -> tuple:
    """True positives, predicted and true totals (weighted) for each of ``labels``, in order."""
    universe = _unique(np.concatenate([np.asarray(labels), present]))
    t, p = np.searchsorted(universe, y_true), np.searchsorted(universe, y_pred)
    hit = t == p
    hit_weights = None if sample_weight is None else sample_weight[hit]
    tp = np.bincount(t[hit], weights=hit_weights, minlength=len(universe))
    pred = np.bincount(p, weights=sample_weight, minlength=len(universe))
    true = np.bincount(t, weights=sample_weight, minlength=len(universe))
    idx = np.searchsorted(universe, labels)
    return tp[idx], pred[idx], true[idx]


def confusion_matrix(
    y_true: object,
    y_pred: object,
    *,
    labels: object = None,
    sample_weight: object = None,
    normalize: str | None = None,
) -> np.ndarray:
    """Counts of (true label, predicted label) pairs: row ``i`` is true class ``labels[i]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels (numbers or strings).
    labels : array-like of shape (n_classes,), optional
        Labels (and their order) to index the matrix by; samples whose true or predicted
        label is not among them are left out. Default: the sorted labels of both inputs.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample; integer weights give an integer matrix.
    normalize : {"true", "pred", "all"}, optional
        Divide by the row sums, the column sums or the total (0 where a sum is 0).

    Returns
    -------
    ndarray of shape (n_classes, n_classes)

    Examples
    --------
    >>> confusion_matrix(["cat", "dog", "dog"], ["cat", "cat", "dog"])
    array([[1, 0],
           [1, 1]])
    """
    if normalize not in (None, "true", "pred", "all"):
        raise InvalidParameterError(
            "The 'normalize' parameter of confusion_matrix must be a str among "
            f"{{'all', 'pred', 'true'}} or None. Got {normalize!r} instead."
        )
    _, present, y_true, y_pred, weights = _check_targets(y_true, y_pred, sample_weight)
    if labels is None:
        labels = present
    else:
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ValueError("'labels' should contain at least one label.")
        if len(np.intersect1d(y_true, labels)) == 0:
            raise ValueError("At least one label specified must be in y_true")
    n = len(labels)
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]

    def index(y: np.ndarray) -> np.ndarray:  # position in ``labels``, or n if absent
        pos = np.clip(np.searchsorted(ordered, y), 0, n - 1)
        return np.where(ordered[pos] == y, order[pos], n)

    t, p = index(y_true), index(y_pred)
    keep = (t < n) & (p < n)
    cm = np.bincount(
        t[keep] * n + p[keep], weights=None if weights is None else weights[keep], minlength=n * n
    ).reshape(n, n)
    if weights is not None:  # bincount's own dtype is float64 for weights, int64 when empty
        cm = cm.astype(np.int64 if weights.dtype.kind in "iub" else np.float64)
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            cm = cm / cm.sum()
        cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn(
            "A single label was found in 'y_true' and 'y_pred'. For the confusion matrix to "
            "have the correct shape, use the 'labels' parameter to pass all known labels.",
            UserWarning,
            stacklevel=2,
        )
    return cm


# --- precision, recall, F -------------------------------------------------------------------


def _check_prf_params(caller: str, average: object, zero_division: object, beta: object) -> None:
    if average not in (None, "binary", "micro", "macro", "weighted"):
        raise InvalidParameterError(
            f"The 'average' parameter of {caller} must be a str among {{'binary', 'macro', "
            f"'micro', 'weighted'}} or None. Got {average!r} instead."
        )
    ok = (isinstance(zero_division, str) and zero_division == "warn") or (
        isinstance(zero_division, numbers.Real)
        and not isinstance(zero_division, bool)
        and (zero_division in (0, 1) or np.isnan(zero_division))
    )
    if not ok:
        raise InvalidParameterError(
            f"The 'zero_division' parameter of {caller} must be a float among {{0.0, 1.0}}, "
            f"numpy.nan or a str among {{'warn'}}. Got {zero_division!r} instead."
        )
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0:
        raise InvalidParameterError(
            f"The 'beta' parameter of {caller} must be a float in the range [0.0, inf]. "
            f"Got {beta!r} instead."
        )


def _prf_divide(num, den, metric, modifier, average, warn_for, zero_division) -> np.ndarray:
    """``num / den``, with ``zero_division`` (0.0 for "warn", which also warns) where den is 0."""
    mask = den == 0
    result = np.asarray(num, dtype=np.float64) / np.where(mask, 1, den).astype(np.float64)
    if not mask.any():
        return result
    result[mask] = 0.0 if isinstance(zero_division, str) else float(zero_division)
    if zero_division == "warn" and metric in warn_for:
        where = "due to" if result.shape[0] == 1 else "in labels with"
        warnings.warn(
            f"{metric.capitalize()} is ill-defined and being set to 0.0 {where} no {modifier} "
            "samples. Use `zero_division` parameter to control this behavior.",
            sklearn_twin(UndefinedMetricWarning),
            stacklevel=4,
        )
    return result


def _nanaverage(a: np.ndarray, weights: np.ndarray | None) -> float:
    mask = np.isnan(a)
    if a.shape[0] == 0 or mask.all():
        return float("nan")
    if weights is None:
        return float(np.nanmean(a))
    try:
        return float(np.average(a[~mask], weights=weights[~mask]))
    except ZeroDivisionError:  # every weight is zero: fall back to the plain mean
        return float(np.average(a[~mask]))


def _prfs(caller, y_true, y_pred, *, beta=1.0, labels=None, pos_label=1, average=None,
          warn_for=("precision", "recall", "f-score"), sample_weight=None,
          zero_division="warn") -> tuple:  # fmt: skip
    _check_prf_params(caller, average, zero_division, beta)
    y_type, present, y_true, y_pred, weights = _check_targets(y_true, y_pred, sample_weight)
    if average == "binary":
        if y_type != "binary":
            raise ValueError(
                f"Target is {y_type} but average='binary'. Please choose another average "
                f"setting, one of {[None, 'micro', 'macro', 'weighted']}."
            )
        if not any(v == pos_label for v in present.tolist()) and len(present) >= 2:
            raise ValueError(
                f"pos_label={pos_label} is not a valid label. It should be one of {present}"
            )
        labels = [pos_label]
    elif pos_label not in (None, 1):
        warnings.warn(
            f"Note that pos_label (set to {pos_label!r}) is ignored when average != 'binary' "
            f"(got {average!r}). You may use labels=[pos_label] to specify a single positive "
            "class.",
            UserWarning,
            stacklevel=3,
        )
    labels = present if labels is None else np.asarray(labels)
    tp, pred, true = _label_counts(y_true, y_pred, labels, present, weights)
    if average == "micro":
        tp, pred, true = tp.sum(keepdims=True), pred.sum(keepdims=True), true.sum(keepdims=True)
    divide = partial(_prf_divide, average=average, warn_for=warn_for, zero_division=zero_division)
    precision = divide(tp, pred, "precision", "predicted")
    recall = divide(tp, true, "recall", "true")
    if np.isposinf(beta):
        f_score = recall
    elif beta == 0:
        f_score = precision
    else:
        # F = (1 + b²)·tp / ((1 + b²)·tp + b²·fn + fp), defined whenever tp + fn + fp > 0
        denom = beta**2 * true.astype(np.float64) + pred.astype(np.float64)
        f_score = divide((1 + beta**2) * tp.astype(np.float64), denom, "f-score",
                         "true nor predicted")  # fmt: skip
    if average is None:
        return precision, recall, f_score, true
    weights = true if average == "weighted" else None
    return (
        _nanaverage(precision, weights), _nanaverage(recall, weights),
        _nanaverage(f_score, weights), None,
    )  # fmt: skip


def precision_recall_fscore_support(
    y_true: object,
    y_pred: object,
    *,
    beta: float = 1.0,
    labels: object = None,
    pos_label: Any = 1,
    average: str | None = None,
    warn_for: tuple[str, ...] = ("precision", "recall", "f-score"),
    sample_weight: object = None,
    zero_division: str | float = "warn",
) -> tuple:
    """Precision, recall, F-beta and support of each class, or their average.

    Precision is ``tp / (tp + fp)``: of the samples predicted as the class, the share that
    belong to it. Recall is ``tp / (tp + fn)``: of the samples of the class, the share found.
    F-beta weighs recall ``beta`` times as much as precision (F1: their harmonic mean).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels (numbers or strings).
    beta : float, default=1.0
        Weight of recall in the F-score, at least 0.
    labels : array-like, optional
        Labels to report, in this order (default: the sorted labels of both inputs).
    pos_label : int, float, bool or str, default=1
        The class to score when ``average="binary"``.
    average : {"binary", "micro", "macro", "weighted"} or None, default=None
        ``None`` returns one score per label. ``"binary"``: the ``pos_label`` class only;
        ``"micro"``: from the total counts; ``"macro"``: the unweighted mean over labels;
        ``"weighted"``: the mean weighted by each label's support.
    warn_for : tuple of str, default=("precision", "recall", "f-score")
        Scores that warn when ill-defined.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    zero_division : {"warn", 0.0, 1.0, nan}, default="warn"
        The value of an ill-defined score (zero denominator); ``"warn"`` gives 0.0 and an
        :class:`~theta.errors.UndefinedMetricWarning`.

    Returns
    -------
    precision, recall, fbeta : float or ndarray of shape (n_labels,)
    support : ndarray of shape (n_labels,) or None
        Number of true samples of each label; ``None`` when averaging.

    Raises
    ------
    ValueError
        On continuous, multilabel or mixed-type targets, NaN, an invalid ``pos_label``, or
        ``average="binary"`` with more than two labels.

    Examples
    --------
    >>> p, r, f, s = precision_recall_fscore_support([0, 1, 1, 2], [0, 1, 2, 2])
    >>> p.tolist(), r.tolist(), s.tolist()
    ([1.0, 1.0, 0.5], [1.0, 0.5, 1.0], [1, 2, 1])
    """
    return _prfs(
        "precision_recall_fscore_support", y_true, y_pred, beta=beta, labels=labels,
        pos_label=pos_label, average=average, warn_for=warn_for, sample_weight=sample_weight,
        zero_division=zero_division,
    )  # fmt: skip


def precision_score(
    y_true: object,
    y_pred: object,
    *,
    labels: object = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: object = None,
    zero_division: str | float = "warn",
) -> Any:
    """Precision ``tp / (tp + fp)``: how many of the predicted positives are right.

    Parameters are those of :func:`precision_recall_fscore_support`, with
    ``average="binary"`` by default.

    Examples
    --------
    >>> precision_score([0, 1, 1, 0], [1, 1, 1, 0])
    0.6666666666666666
    >>> precision_score(["a", "b", "c"], ["a", "b", "b"], average="macro", zero_division=0)
    0.5
    """
    return _prfs("precision_score", y_true, y_pred, labels=labels, pos_label=pos_label,
                 average=average, warn_for=("precision",), sample_weight=sample_weight,
                 zero_division=zero_division)[0]  # fmt: skip


def recall_score(
    y_true: object,
    y_pred: object,
    *,
    labels: object = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: object = None,
    zero_division: str | float = "warn",
) -> Any:
    """Recall ``tp / (tp + fn)``: how many of the true positives are found.

    Parameters are those of :func:`precision_recall_fscore_support`, with
    ``average="binary"`` by default.

    Examples
    --------
    >>> recall_score([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _prfs("recall_score", y_true, y_pred, labels=labels, pos_label=pos_label,
                 average=average, warn_for=("recall",), sample_weight=sample_weight,
                 zero_division=zero_division)[1]  # fmt: skip


def fbeta_score(
    y_true: object,
    y_pred: object,
    *,
    beta: float,
    labels: object = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: object = None,
    zero_division: str | float = "warn",
) -> Any:
    """F-beta: the weighted harmonic mean of precision and recall (recall counts ``beta`` times).

    Parameters are those of :func:`precision_recall_fscore_support`, with
    ``average="binary"`` by default.

    Examples
    --------
    >>> round(fbeta_score([0, 1, 1, 0], [1, 1, 0, 0], beta=2.0), 4)
    0.5
    """
    return _prfs("fbeta_score", y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label,
                 average=average, warn_for=("f-score",), sample_weight=sample_weight,
                 zero_division=zero_division)[2]  # fmt: skip


def f1_score(
    y_true: object,
    y_pred: object,
    *,
    labels: object = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: object = None,
    zero_division: str | float = "warn",
) -> Any:
    """F1: the harmonic mean of precision and recall, ``2·tp / (2·tp + fp + fn)``.

    Parameters are those of :func:`precision_recall_fscore_support`, with
    ``average="binary"`` by default.

    Examples
    --------
    >>> f1_score([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average="weighted", zero_division=0.0)
    0.65
    """
    return _prfs("f1_score", y_true, y_pred, labels=labels, pos_label=pos_label,
                 average=average, warn_for=("f-score",), sample_weight=sample_weight,
                 zero_division=zero_division)[2]  # fmt: skip


def classification_report(
    y_true: object,
    y_pred: object,
    *,
    labels: object = None,
    target_names: object = None,
    sample_weight: object = None,
    digits: int = 2,
    output_dict: bool = False,
    zero_division: str | float = "warn",
) -> str | dict:
    """Per-class precision, recall, F1 and support, then their averages, as scikit-learn's text.

    The "micro avg" row is called "accuracy" (one number) when every label is reported.

    Examples
    --------
    >>> print(classification_report(["a", "b", "b"], ["a", "b", "a"]))
                  precision    recall  f1-score   support
    <BLANKLINE>
               a       0.50      1.00      0.67         1
               b       1.00      0.50      0.67         2
    <BLANKLINE>
        accuracy                           0.67         3
       macro avg       0.75      0.75      0.67         3
    weighted avg       0.83      0.67      0.67         3
    <BLANKLINE>
    """
    _, present, *_ = _check_targets(y_true, y_pred, sample_weight)
    labels_given = labels is not None
    labels = np.asarray(labels) if labels_given else present
    micro_is_accuracy = not labels_given or set(labels.tolist()) >= set(present.tolist())
    if target_names is not None and len(labels) != len(target_names):
        if not labels_given:
            raise ValueError(
                f"Number of classes, {len(labels)}, does not match size of target_names, "
                f"{len(target_names)}. Try specifying the labels parameter"
            )
        warnings.warn(
            f"labels size, {len(labels)}, does not match size of target_names, {len(target_names)}",
            stacklevel=2,
        )
    names = [f"{label}" for label in labels] if target_names is None else list(target_names)
    headers = ["precision", "recall", "f1-score", "support"]
    score = partial(_prfs, "classification_report", y_true, y_pred, labels=labels,
                    sample_weight=sample_weight, zero_division=zero_division)  # fmt: skip
    p, r, f1, s = score(average=None)
    rows = list(zip(names, p, r, f1, s, strict=False))
    report = {name: dict(zip(headers, map(float, row), strict=True)) for name, *row in rows}
    width = max(max(len(n) for n in names), len("weighted avg"), digits)
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    text += "".join(row_fmt.format(*row, width=width, digits=digits) for row in rows) + "\n"
    for average in ("micro", "macro", "weighted"):
        heading = "accuracy" if average == "micro" and micro_is_accuracy else f"{average} avg"
        avg = [*score(average=average)[:3], np.sum(s)]
        report[heading] = dict(zip(headers, map(float, avg), strict=True))
        if heading == "accuracy":
            report[heading] = avg[2]
            text += ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
                heading, "", "", *avg[2:], width=width, digits=digits
            )
        else:
            text += row_fmt.format(heading, *avg, width=width, digits=digits)
    return report if output_dict else text
