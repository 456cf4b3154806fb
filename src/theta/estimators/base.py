"""The estimator contract (scikit-learn's, exactly): hyperparameters in, learned state out.

``__init__`` stores its arguments unchanged and does nothing else; ``fit`` validates the
hyperparameters and the data, learns, stores what it learned in attributes ending in ``_``
and returns ``self``; prediction methods first check that ``fit`` ran and that the data has
as many features as it had. Messages copy scikit-learn's sentences word for word, so
users recognise them, and ``__sklearn_tags__`` lets scikit-learn's own ``check_estimator``,
``Pipeline`` and ``GridSearchCV`` treat theta estimators as their own — without theta
importing scikit-learn unless scikit-learn is the one asking.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from theta.autograd import no_grad, tensor
from theta.errors import DivergenceError, NotFittedError, sklearn_twin
from theta.metrics import accuracy_score, r2_score
from theta.nn import Module
from theta.params import Params
from theta.validation import (
    Interval,
    Options,
    check_array,
    check_consistent_length,
    check_sample_weight,
    check_X_y,
    column_or_1d,
    feature_names,
    validate_params,
)

__all__ = [
    "BaseEstimator", "ClassifierMixin", "ClusterMixin", "Interval", "Options", "RegressorMixin",
    "TransformerMixin", "check_classification_targets", "check_is_fitted", "column_or_1d",
]  # fmt: skip


# --- the estimator base -------------------------------------------------------------------


class BaseEstimator(Params):
    """Base class of every theta estimator: params, validation, fitted-state checks, tags.

    Subclasses declare ``_parameter_constraints`` (name → list of accepted constraints of
    :func:`theta.validation.violation`: ``Interval``, ``Options``, ``Each``, a type,
    ``"boolean"``, ``"random_state"``, ``"callable"`` or ``None``) and call
    ``self._validate_params()`` first thing in ``fit``.

    Examples
    --------
    >>> from theta.estimators import BaseEstimator, Ridge
    >>> model = Ridge(alpha=2.0)
    >>> isinstance(model, BaseEstimator), model.get_params()["alpha"]
    (True, 2.0)
    >>> model.set_params(alpha=0.5).alpha
    0.5
    """

    _parameter_constraints: dict[str, list[Any]] = {}

    def _validate_params(self) -> None:
        """Raise ``InvalidParameterError`` (scikit-learn's sentence) for a bad hyperparameter."""
        validate_params(self, self._parameter_constraints)

    def _validate_data(self, X: Any, y: Any = "no_validation", *, reset: bool = True,
                       **check_params: Any) -> Any:  # fmt: skip
        """Check ``X`` (and ``y``); on ``reset`` record the features, else compare with them.

        A fit that must not change any state before its last check calls ``check_array`` or
        ``check_X_y`` itself and records the features with :meth:`_set_features` at the end.
        """
        if y is None and self.__sklearn_tags__().target_tags.required:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        names = feature_names(X)
        if not reset:
            self._check_feature_names(names)
        if isinstance(y, str) and y == "no_validation":
            X = check_array(X, caller=self, **check_params)
            out = X
        else:
            X, y = check_X_y(X, y, caller=self, **check_params)
            out = (X, y)
        if reset:
            self._set_features(X.shape[1], names)
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return out

    def _set_features(self, n_features: int, names: np.ndarray | None) -> None:
        """Record what ``fit`` saw: ``n_features_in_`` and, given ``names`` (those of
        :func:`~theta.validation.feature_names`), ``feature_names_in_``; a later fit on data
        without names forgets the earlier names."""
        self.n_features_in_ = n_features
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = names

    def _check_feature_names(self, names: np.ndarray | None) -> None:
        """Refuse columns that are not those of ``fit``, in order (scikit-learn's sentences).

        Data with names given to an estimator fitted without (or the reverse) only warns: the
        columns may well be right, there is just nothing to check them against.
        """
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None and names is None:
            return
        if fitted is None or names is None:
            what = (
                f"X has feature names, but {type(self).__name__} was fitted without"
                if fitted is None
                else f"X does not have valid feature names, but {type(self).__name__} was "
                "fitted with"
            )
            warnings.warn(f"{what} feature names", UserWarning, stacklevel=4)
            return
        if len(fitted) == len(names) and (fitted == names).all():
            return
        unseen, missing = sorted(set(names) - set(fitted)), sorted(set(fitted) - set(names))
        message = "The feature names should match those that were passed during fit.\n"
        if unseen:
            message += "Feature names unseen at fit time:\n" + _name_list(unseen)
        if missing:
            message += "Feature names seen at fit time, yet now missing:\n" + _name_list(missing)
        if not unseen and not missing:
            message += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(message)

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (imported only when scikit-learn itself asks for them)."""
        from sklearn.utils import Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False))

    def __sklearn_is_fitted__(self) -> bool:
        return _fitted_attributes(self) != []


def _name_list(names: list[str], limit: int = 5) -> str:
    lines = [f"- {name}\n" for name in names[:limit]]
    return "".join(lines) + ("- ...\n" if len(names) > limit else "")


def _fitted_attributes(estimator: Any) -> list[str]:
    return [k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")]


def as_float(X: np.ndarray) -> np.ndarray:
    """float32 stays float32 (as in scikit-learn); every other dtype becomes float64."""
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


# Beyond these magnitudes, products of two entries (Gram and covariance matrices) overflow or
# underflow float64 even after summing a billion of them.
_SAFE_MAGNITUDES = (2.0**-255, 2.0**255)


def safe_scale(A: np.ndarray) -> float:
    """A power of two to divide ``A`` by (exactly) before forming products of its entries.

    1.0 when ``A``'s largest magnitude is within ``2**±255``; otherwise the power of two just
    above it, so that ``A / scale`` has entries of magnitude below 1 and ``X.T @ X`` neither
    overflows (data near 1e300) nor underflows to zero (data near 1e-300).

    Examples
    --------
    >>> safe_scale(np.array([1.0, -3.0])), 0.5 <= 3e300 / safe_scale(np.array([3e300])) < 1
    (1.0, True)
    """
    amax = max(float(A.max(initial=0.0)), -float(A.min(initial=0.0)))
    if amax == 0.0 or not math.isfinite(amax):
        return 1.0
    if _SAFE_MAGNITUDES[0] <= amax <= _SAFE_MAGNITUDES[1]:
        return 1.0
    return math.ldexp(1.0, math.frexp(amax)[1])


def diverged(where: str, exc: DivergenceError) -> ValueError:
    """theta.train's divergence diagnosis as the ValueError an estimator's ``fit`` raises.

    The estimator keeps nothing from the diverged run, whatever ``fit``'s message says.
    """
    why = str(exc).removesuffix(" The parameters from the last good step were kept.")
    return ValueError(f"{where} diverged: {why}")


def check_is_fitted(estimator: Any) -> None:
    """Raise scikit-learn's ``NotFittedError`` sentence if ``fit`` has not run.

    Examples
    --------
    >>> from theta.estimators import Ridge, check_is_fitted
    >>> try:
    ...     check_is_fitted(Ridge())
    ... except Exception as exc:
    ...     print(type(exc).__name__)
    ...
    NotFittedError
    >>> check_is_fitted(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]))
    """
    if not _fitted_attributes(estimator):
        raise sklearn_twin(NotFittedError)(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def check_classification_targets(y: Any) -> None:
    """Refuse a continuous (regression) target given to a classifier (array-like labels).

    Examples
    --------
    >>> from theta.estimators import check_classification_targets
    >>> import numpy as np
    >>> check_classification_targets([0, 1, 1])
    >>> try:
    ...     check_classification_targets(np.array([0.5, 1.7]))
    ... except ValueError as exc:
    ...     print(type(exc).__name__)
    ...
    ValueError
    """
    y = np.asarray(y)
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise ValueError(
            "Unknown label type: continuous. Maybe you are trying to fit a classifier, which "
            "expects discrete classes on a regression target with continuous values."
        )
    if y.dtype.kind not in "iubfUSO":
        raise ValueError(f"Unknown label type: {y.dtype}.")


# --- mixins: what each kind of estimator promises ---------------------------------------------


class ClassifierMixin:
    """Classifiers predict labels; ``score`` is accuracy.

    Examples
    --------
    >>> from theta.estimators import ClassifierMixin, KNeighborsClassifier
    >>> X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> clf = KNeighborsClassifier(n_neighbors=1).fit(X, y)
    >>> isinstance(clf, ClassifierMixin), clf.score(X, y)
    (True, 1.0)
    """

    _estimator_type = "classifier"

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of ``predict(X)`` against ``y``: the (weighted) fraction predicted exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Each sample's weight in the average, as in scikit-learn.

        Returns
        -------
        float
        """
        y_pred = self.predict(X)  # type: ignore[attr-defined]
        if sample_weight is None:
            return accuracy_score(y, y_pred)
        y, weights = _weighted_targets(y, y_pred, sample_weight)
        return float(np.average(y == y_pred, axis=0, weights=weights).mean())

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags


class RegressorMixin:
    """Regressors predict numbers; ``score`` is R².

    Examples
    --------
    >>> from theta.estimators import LinearRegression, RegressorMixin
    >>> X, y = [[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0]
    >>> reg = LinearRegression().fit(X, y)
    >>> isinstance(reg, RegressorMixin), round(reg.score(X, y), 4)
    (True, 1.0)
    """

    _estimator_type = "regressor"

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of ``predict(X)`` against ``y``, weighted by ``sample_weight`` if given.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Each sample's weight in the sums of squares (and in the mean of ``y``), as in
            scikit-learn.

        Returns
        -------
        float
            1 is perfect, 0 predicts no better than the (weighted) mean of ``y``.
        """
        y_pred = self.predict(X)  # type: ignore[attr-defined]
        if sample_weight is None:
            return r2_score(y, y_pred)
        y, weights = _weighted_targets(y, y_pred, sample_weight)
        y = y.astype(np.float64)
        weights = weights.reshape(-1, *[1] * (y.ndim - 1))  # one weight per row
        residual = np.sum(weights * (y - y_pred) ** 2)
        total = np.sum(weights * (y - np.sum(weights * y, axis=0) / np.sum(weights)) ** 2)
        if total == 0:  # a constant y: scikit-learn's rule, as r2_score
            return 1.0 if residual == 0 else 0.0
        return float(1.0 - residual / total)

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import RegressorTags

        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        return tags


def _weighted_targets(y: Any, y_pred: np.ndarray, sample_weight: Any) -> tuple[np.ndarray, ...]:
    """``y`` as an array and ``sample_weight`` checked against it (scikit-learn's messages)."""
    y = np.asarray(y)
    check_consistent_length(y, y_pred, sample_weight)
    return y, check_sample_weight(sample_weight, len(y))


class TransformerMixin:
    """Transformers map X to new features; ``fit_transform`` fits, then transforms.

    Examples
    --------
    >>> from theta.estimators import StandardScaler, TransformerMixin
    >>> scaler = StandardScaler()
    >>> isinstance(scaler, TransformerMixin)
    True
    >>> scaler.fit_transform([[1.0], [3.0]]).tolist()
    [[-1.0], [1.0]]
    """

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X, y, **fit_params).transform(X)  # type: ignore[attr-defined]

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.transformer_tags = TransformerTags()
        return tags


class ClusterMixin:
    """Clusterers find groups without labels; ``fit_predict`` returns each sample's group.

    Examples
    --------
    >>> from theta.estimators import ClusterMixin, KMeans
    >>> X = [[0.0], [0.1], [5.0], [5.1]]
    >>> km = KMeans(n_clusters=2, random_state=0)
    >>> labels = km.fit_predict(X)
    >>> isinstance(km, ClusterMixin), bool(labels[0] == labels[1] != labels[2])
    (True, True)
    """

    _estimator_type = "clusterer"

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        self.fit(X, **fit_params)  # type: ignore[attr-defined]
        return self.labels_  # type: ignore[attr-defined]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.estimator_type = "clusterer"
        return tags


# --- what the estimators built on theta's modules share ---------------------------------------


def parameter_dtype(module: Module) -> np.dtype:
    """The dtype of ``module``'s first parameter (float64 for a module without any)."""
    first = next(module.parameters(), None)
    return first.dtype if first is not None else np.dtype(np.float64)


def module_output(module: Module, X: np.ndarray) -> np.ndarray:
    """The forward pass alone: ``module``'s output for ``X`` in eval mode, without a graph
    (the module's training mode is restored afterwards)."""
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            return module(tensor(X)).data
    finally:
        module.train(was_training)


def binary_log_proba(z: np.ndarray) -> np.ndarray:
    """``[log(1 - sigmoid(z)), log(sigmoid(z))]`` for one logit per sample (shape (n,)), as
    columns of shape (n, 2); log-add-exp, so never the log of 0."""
    return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])


def class_index(scores: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Each sample's predicted class index from its decision scores: the argmax of one column
    per class, or, for one score per sample (shape (n,) or (n, 1)), class 1 where the score
    is above ``threshold`` (0 for margins and logits, 0.5 for probabilities)."""
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    return (scores.reshape(len(scores)) > threshold).astype(np.intp)
