"""Stochastic gradient descent estimators: the chapter's update, one sample at a time.

For each sample: forward (``p = w·x + b``), loss, gradient of the loss in ``p`` (``dloss``),
update (``w -= eta * dloss * x``, the penalty's shrinkage first). :class:`SGDClassifier` and
:class:`SGDRegressor` run scikit-learn's plain SGD step for step (its ``_plain_sgd``): the same
losses and their gradients, the ``optimal`` schedule with its ``t0`` heuristic, the L2 penalty
as a lazy scale of the weights (``w = wscale * v``, so shrinking costs O(1), not O(d)), the
truncated-gradient L1 penalty, averaging by Bottou's lazy trick, and the same stopping rule.
Without shuffling both therefore learn the same weights, to rounding (1e-15 to 1e-10 in float64:
``numpy.dot`` sums in another order than scikit-learn's loop, and steps of the size of the
weights, as ``optimal`` takes with a small ``alpha``, can amplify that into different runs).
With ``shuffle=True`` the epochs visit the samples in a NumPy ``Generator``'s order, not in
scikit-learn's own generator's, so runs differ from scikit-learn's by the order of the samples.

``partial_fit`` runs one epoch over the batch given and keeps the weights and the step count
``t_`` for the next call: a stream of batches trains the model as one long epoch would.

The loop is a Python loop over the rows (one ``numpy.dot`` and one in-place ``axpy`` per
sample, everything else on Python floats): each update depends on the previous one, so there
is nothing to vectorise across samples. It runs 10-40x slower than scikit-learn's compiled
loop (10k x 20: ~200k samples/s with L2, ~40k with L1); use it for streams and teaching, not
for raw speed.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from theta.errors import ConvergenceWarning, sklearn_twin
from theta.estimators.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    check_classification_targets,
    check_is_fitted,
    class_index,
    column_or_1d,
)  # fmt: skip
from theta.rng import check_random_state
from theta.validation import Interval, Options, check_sample_weight, check_X_y, feature_names

__all__ = ["SGDClassifier", "SGDRegressor"]

_MAX_DLOSS = 1e12  # scikit-learn clips the loss gradient to this, against overflow
_RESET_WSCALE = 1e-9  # below this the lazy scale is folded into the weights (scikit-learn's)
_MAX_SEED = np.iinfo(np.int32).max

# --- losses: (loss(y, p), dloss(y, p)) on Python floats, scikit-learn's formulas ---------------

LossPair = tuple[Callable[[float, float], float], Callable[[float, float], float]]


def _hinge(threshold: float) -> LossPair:
    def loss(y: float, p: float) -> float:
        z = p * y
        return threshold - z if z <= threshold else 0.0

    def dloss(y: float, p: float) -> float:
        return -y if p * y <= threshold else 0.0

    return loss, dloss


def _squared_hinge(y: float, p: float) -> float:
    z = 1.0 - p * y
    return z * z if z > 0 else 0.0


def _d_squared_hinge(y: float, p: float) -> float:
    z = 1.0 - p * y
    return -2 * y * z if z > 0 else 0.0


def _modified_huber(y: float, p: float) -> float:
    z = p * y
    if z >= 1.0:
        return 0.0
    return (1.0 - z) * (1.0 - z) if z >= -1.0 else -4.0 * z


def _d_modified_huber(y: float, p: float) -> float:
    z = p * y
    if z >= 1.0:
        return 0.0
    return 2.0 * (1.0 - z) * -y if z >= -1.0 else -4.0 * y


def _log1pexp(x: float) -> float:
    if x <= -37:
        return math.exp(x)
    if x <= -2:
        return math.log1p(math.exp(x))
    if x <= 18:
        return math.log(1.0 + math.exp(x))
    return x + math.exp(-x) if x <= 33.3 else x


def _log_loss(y: float, p: float) -> float:
    return _log1pexp(p) - y * p


def _d_log_loss(y: float, p: float) -> float:
    """``sigmoid(p) - y`` for y in {0, 1}, in scikit-learn's overflow-free form."""
    if p > -37:
        e = math.exp(-p)
        return ((1 - y) - y * e) / (1 + e)
    return math.exp(p) - y


def _squared_error(y: float, p: float) -> float:
    return 0.5 * (p - y) * (p - y)


def _d_squared_error(y: float, p: float) -> float:
    return p - y


def _huber(delta: float) -> LossPair:
    def loss(y: float, p: float) -> float:
        abserr = abs(y - p)
        return 0.5 * abserr**2 if abserr <= delta else delta * (abserr - 0.5 * delta)

    def dloss(y: float, p: float) -> float:
        res = p - y
        if abs(res) <= delta:
            return res
        return delta if res >= 0 else -delta

    return loss, dloss


def _epsilon_insensitive(epsilon: float) -> LossPair:
    def loss(y: float, p: float) -> float:
        ret = abs(y - p) - epsilon
        return ret if ret > 0 else 0.0

    def dloss(y: float, p: float) -> float:
        if y - p > epsilon:
            return -1.0
        return 1.0 if p - y > epsilon else 0.0

    return loss, dloss


def _loss_pair(name: str, epsilon: float) -> LossPair:
    if name in ("hinge", "perceptron"):
        return _hinge(1.0 if name == "hinge" else 0.0)
    if name == "huber":
        return _huber(epsilon)
    if name == "epsilon_insensitive":
        return _epsilon_insensitive(epsilon)
    return {"squared_hinge": (_squared_hinge, _d_squared_hinge),
            "modified_huber": (_modified_huber, _d_modified_huber),
            "log_loss": (_log_loss, _d_log_loss),
            "squared_error": (_squared_error, _d_squared_error)}[name]  # fmt: skip


# --- the per-sample loop ------------------------------------------------------------------------


def plain_sgd(
    w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, *,
    loss: LossPair, penalty: str | None, alpha: float, l1_ratio: float, max_iter: int,
    tol: float | None, n_iter_no_change: int, fit_intercept: bool, rng: Any,
    weight_pos: float = 1.0, weight_neg: float = 1.0, learning_rate: str, eta0: float,
    power_t: float, t: float, average: int = 0, avg_w: np.ndarray | None = None,
    avg_b: float = 0.0,
) -> tuple[float, float, int]:  # fmt: skip
    """Run scikit-learn's plain SGD on one weight vector: ``w`` (and ``avg_w``) in place.

    Parameters
    ----------
    w : ndarray of shape (n_features,)
        float64 weights, updated in place.
    b : float
        Intercept.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Targets: ±1 for the margin losses, 0/1 for ``log_loss``, values for regression.
    sample_weight : ndarray of shape (n_samples,)
    loss : (loss, dloss)
        The loss and its derivative in the prediction, on Python floats.
    rng : numpy.random.Generator or None
        Shuffles the samples every epoch; ``None`` visits them in order.
    t : float
        The step counter at the start (``t_``: 1 for a fresh fit).
    average : int
        Average the weights from step ``average`` on (0: no averaging, ``avg_w`` unused).
    Other parameters are the estimators' hyperparameters, as scikit-learn's.

    Returns
    -------
    (intercept, average intercept, epochs run)

    Raises
    ------
    ValueError
        When the weights overflow (scikit-learn's sentence), before ``w`` is read back.
    """
    loss_value, dloss = loss
    n, d = X.shape
    if penalty == "l2":
        l1_ratio = 0.0
    elif penalty == "l1":
        l1_ratio = 1.0
    shrink = penalty in ("l2", "elasticnet")
    use_l1 = penalty in ("l1", "elasticnet")
    q = np.zeros(d) if use_l1 else None  # L1 penalty applied to each weight so far
    z, s = np.empty(d), np.empty(d)  # the L1 step's buffers: weights before it, their signs
    u = 0.0  # L1 penalty every weight could have received so far
    track = tol is not None  # the objective is only needed by the stopping rule
    wscale = 1.0
    sq_norm, l1_norm = float(w @ w), float(np.abs(w).sum())  # as scikit-learn keeps them
    avg_a, avg_bb = 0.0, 1.0  # Bottou's lazy average: avg = (avg_w + avg_a * w) / avg_bb
    eta = eta0
    optimal_init = 0.0
    if learning_rate == "optimal":  # t0 such that the first step is typw / max(1, -dloss)
        typw = math.sqrt(1.0 / math.sqrt(alpha))
        optimal_init = 1.0 / (typw / max(1.0, dloss(1.0, -typw)) * alpha)
    rows, ys, weights = list(X), y.tolist(), sample_weight.tolist()
    dot, multiply, step = np.dot, np.multiply, np.empty(d)  # looked up once, not per sample
    best, stalled, epoch, p = math.inf, 0, 0, 0.0
    for epoch in range(max_iter):
        objective = 0.0
        for i in rng.permutation(n).tolist() if rng is not None else range(n):
            x, yi = rows[i], ys[i]
            p = float(dot(w, x)) * wscale + b  # 1. forward
            if not -math.inf < p < math.inf:
                break  # overflow: reported below (BLAS may give inf where a loop gives NaN)
            if learning_rate == "optimal":
                eta = 1.0 / (alpha * (optimal_init + t - 1))
            elif learning_rate == "invscaling":
                eta = eta0 / t**power_t
            if track:  # 2. loss (plus the penalty: the objective the stopping rule watches)
                objective += loss_value(yi, p)
                if penalty is not None:
                    objective += alpha * ((1 - l1_ratio) * 0.5 * math.sqrt(sq_norm) ** 2
                                          + l1_ratio * l1_norm)  # fmt: skip
            g = min(max(dloss(yi, p), -_MAX_DLOSS), _MAX_DLOSS)  # 3. gradient
            update = -eta * g
            update *= (weight_pos if yi > 0.0 else weight_neg) * weights[i]
            if shrink:  # 4. update: shrink (lazily), then step along x
                c = max(0.0, 1.0 - ((1.0 - l1_ratio) * eta * alpha))
                wscale *= c
                sq_norm *= c * c
                l1_norm *= abs(c)
                if wscale < _RESET_WSCALE:
                    if average:
                        avg_w += avg_a * w
                        avg_w *= 1.0 / avg_bb
                        avg_a, avg_bb = 0.0, 1.0
                    w *= wscale
                    wscale = 1.0
            if update != 0.0:
                np.add(w, multiply(x, update / wscale, out=step), out=w)
                if track:
                    sq_norm = float(dot(w, w)) * (wscale * wscale)
                    if l1_ratio:  # only the elastic net's and L1's objective reads it
                        l1_norm = float(np.abs(w).sum()) * wscale
                if fit_intercept:
                    b += update
            if 0 < average <= t:
                k = t - average + 1
                avg_w += (avg_a * x) * (-update / wscale)
                if k > 1:
                    avg_bb /= 1.0 - 1.0 / k
                avg_a += (1.0 / k) * avg_bb * wscale
                avg_b += (b - avg_b) / k
            if use_l1:  # truncated gradient (Tsuruoka et al., 2009), in place
                u += l1_ratio * eta * alpha
                # with s = sign(w): w > 0 becomes max(0, w - (u + q) / wscale), w < 0 becomes
                # min(0, w + (u - q) / wscale), both as s * max(0, s * w - (u + s * q) / wscale)
                # (the same roundings: negation is exact)
                np.copyto(z, w)
                np.sign(z, out=s)
                np.multiply(s, q, out=step)
                step += u
                step /= wscale
                np.multiply(s, w, out=w)
                w -= step
                np.maximum(w, 0.0, out=w)
                w *= s
                np.subtract(w, z, out=step)
                step *= wscale
                q += step
            t += 1
        if not (-math.inf < p < math.inf and math.isfinite(b) and np.isfinite(w).all()):
            raise ValueError(
                f"Floating-point under-/overflow occurred at epoch #{epoch + 1}. Scaling input "
                "data with StandardScaler or MinMaxScaler might help."
            )
        if track:
            mean = objective / n
            stalled = stalled + 1 if mean > best - tol else 0
            best = min(best, mean)
        if stalled >= n_iter_no_change:
            if learning_rate == "adaptive" and eta > 1e-6:
                eta /= 5
                stalled = 0
            else:
                break
    if average:
        avg_w += avg_a * w
        avg_w *= 1.0 / avg_bb
    w *= wscale
    return b, avg_b, epoch + 1


# --- the estimators ---------------------------------------------------------------------------


class _BaseSGD(BaseEstimator):
    """What both SGD estimators share: hyperparameters, the state kept between calls, the run."""

    _parameter_constraints = {
        "penalty": [Options({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "l1_ratio": [Interval(numbers.Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left"), None],
        "shuffle": ["boolean"],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "learning_rate": [Options({"constant", "optimal", "invscaling", "adaptive"})],
        "eta0": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "average": [Interval(numbers.Integral, 0, None, closed="neither"), "boolean"],
    }  # fmt: skip
    # the plain and the averaged weights, whichever coef_ shows, kept for the next partial_fit
    __theta_state_names__ = ("_standard_coef", "_standard_intercept", "_average_coef",
                             "_average_intercept")  # fmt: skip

    def _check_hyperparameters(self) -> None:
        self._validate_params()
        if self.learning_rate == "optimal" and self.alpha == 0:
            raise ValueError(
                "alpha must be > 0 since learning_rate is 'optimal'. alpha is used to compute "
                "the optimal learning rate."
            )

    def _check_data(self, X: Any, y: Any, sample_weight: Any, *, reset: bool) -> tuple:
        """Validated float X, 1-D y, float64 weights and X's column names."""
        names = feature_names(X)
        if not reset:
            self._check_feature_names(names)
        X, y = check_X_y(X, y, caller=self, y_numeric=isinstance(self, RegressorMixin))
        y = column_or_1d(y)
        if not reset and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        weights = check_sample_weight(sample_weight, len(X), dtype=np.float64)
        return X.astype(np.float64, copy=False), y, weights, names

    def _run(self, X: np.ndarray, targets: list[np.ndarray], weights: np.ndarray,
             class_weights: list[tuple[float, float]], max_iter: int,
             state: dict[str, Any]) -> None:  # fmt: skip
        """Train every weight row of ``state`` against its target vector (one-vs-rest), then
        store the result: an error on the way leaves the estimator as it was."""
        coef, intercept = state["coef"], state["intercept"]
        avg_coef, avg_intercept = state["avg_coef"], state["avg_intercept"]
        rng = check_random_state(self.random_state)
        seeds = rng.integers(_MAX_SEED, size=len(targets))
        loss = _loss_pair(self.loss, float(self.epsilon))
        average = int(self.average)
        n_iter = 0
        for k, (target, (pos, neg)) in enumerate(zip(targets, class_weights, strict=True)):
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported
                b, avg_b, epochs = plain_sgd(
                    coef[k], float(intercept[k]), X, target, weights,
                    loss=loss, penalty=self.penalty, alpha=float(self.alpha),
                    l1_ratio=float(self.l1_ratio), max_iter=max_iter, tol=self.tol,
                    n_iter_no_change=int(self.n_iter_no_change), fit_intercept=self.fit_intercept,
                    rng=np.random.default_rng(seeds[k]) if self.shuffle else None,
                    weight_pos=pos, weight_neg=neg, learning_rate=self.learning_rate,
                    eta0=float(self.eta0), power_t=float(self.power_t), t=state["t"],
                    average=average, avg_w=avg_coef[k] if average else None,
                    avg_b=float(avg_intercept[k]) if average else 0.0,
                )  # fmt: skip
            intercept[k] = b
            if average:
                avg_intercept[k] = avg_b
            n_iter = max(n_iter, epochs)
        self._standard_coef, self._standard_intercept = coef, intercept
        self._average_coef, self._average_intercept = avg_coef, avg_intercept
        self.t_ = state["t"] + n_iter * X.shape[0]
        self.n_iter_ = n_iter
        use_average = average and average <= self.t_ - 1
        self.coef_ = avg_coef if use_average else coef
        self.intercept_ = avg_intercept if use_average else intercept

    def _start(self, n_rows: int, n_features: int, coef_init: Any = None,
               intercept_init: Any = None) -> dict[str, Any]:  # fmt: skip
        """Fresh (or given) weights, their averages and the step counter."""
        coef = np.zeros((n_rows, n_features))
        intercept = np.zeros(n_rows)
        if coef_init is not None:
            given = np.asarray(coef_init, dtype=np.float64)
            if given.size != coef.size:
                raise ValueError(
                    f"coef_init has shape {given.shape}, but the data needs "
                    f"{(n_rows, n_features) if n_rows > 1 else (n_features,)}."
                )
            coef[...] = given.reshape(coef.shape)
        if intercept_init is not None:
            given = np.asarray(intercept_init, dtype=np.float64)
            if given.size != n_rows:
                raise ValueError(
                    f"intercept_init has shape {given.shape}, but the data needs ({n_rows},)."
                )
            intercept[...] = given.reshape(n_rows)
        return {"coef": coef, "intercept": intercept, "avg_coef": np.zeros_like(coef),
                "avg_intercept": np.zeros(n_rows), "t": 1.0}  # fmt: skip

    def _current(self) -> dict[str, Any]:
        """Copies of the state the previous calls left, for the next partial_fit to train."""
        return {"coef": self._standard_coef.copy(), "intercept": self._standard_intercept.copy(),
                "avg_coef": self._average_coef.copy(),
                "avg_intercept": self._average_intercept.copy(), "t": self.t_}  # fmt: skip

    def _warm(self) -> tuple[Any, Any]:
        """The weights a warm start continues from (scikit-learn's: the current ``coef_``)."""
        if self.warm_start and hasattr(self, "coef_"):
            return self.coef_.copy(), np.array(self.intercept_, dtype=np.float64).copy()
        return None, None

    def _warn_if_not_converged(self) -> None:
        if self.tol is not None and self.n_iter_ == self.max_iter:
            warnings.warn(
                "Maximum number of iteration reached before convergence. Consider increasing "
                "max_iter to improve the fit.",
                sklearn_twin(ConvergenceWarning),
                stacklevel=3,
            )

    def _scores(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = self._validate_data(X, reset=False)
        return X @ self.coef_.T + self.intercept_


class SGDClassifier(ClassifierMixin, _BaseSGD):
    """Linear classifier trained by plain SGD, one sample at a time: scikit-learn's algorithm.

    Minimises ``mean(loss(y_i, w·x_i + b)) + alpha * R(w)`` with ``R`` the penalty, by
    stochastic gradient steps on one sample at a time; more than two classes are learned one
    versus the rest (one weight row per class).

    Parameters
    ----------
    loss : {"hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"}, \
default="hinge"
        ``"hinge"`` is a linear SVM, ``"log_loss"`` logistic regression (with
        :meth:`predict_proba`), ``"modified_huber"`` a smoothed hinge (with
        :meth:`predict_proba`), ``"perceptron"`` the hinge at threshold 0.
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        ``R(w)``: ``0.5 * ||w||²``, ``||w||_1`` or ``(1 - l1_ratio) * 0.5 * ||w||² +
        l1_ratio * ||w||_1``.
    alpha : float, default=1e-4
        Strength of the penalty; must be > 0 with ``learning_rate="optimal"``.
    l1_ratio : float, default=0.15
        Mix of L1 in the elastic net, in ``[0, 1]``.
    fit_intercept : bool, default=True
    max_iter : int, default=1000
        Maximum number of epochs of :meth:`fit` (:meth:`partial_fit` runs one).
    tol : float or None, default=1e-3
        Stop when the epoch's mean objective has not dropped below the best one minus ``tol``
        for ``n_iter_no_change`` epochs in a row; ``None`` runs ``max_iter`` epochs.
    shuffle : bool, default=True
        Visit the samples in a new random order every epoch.
    epsilon : float, default=0.1
        Unused by the classification losses; accepted for scikit-learn compatibility.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the shuffling.
    learning_rate : {"optimal", "constant", "invscaling", "adaptive"}, default="optimal"
        Step size at step ``t``: ``1 / (alpha * (t0 + t - 1))`` with Bottou's ``t0``;
        ``eta0``; ``eta0 / t**power_t``; or ``eta0`` divided by 5 each time the objective
        stalls for ``n_iter_no_change`` epochs (until it falls below 1e-6).
    eta0 : float, default=0.01
    power_t : float, default=0.5
    n_iter_no_change : int, default=5
    class_weight : dict, "balanced" or None, default=None
        Multiplies the step of each class's samples (``"balanced"``: inversely to the class
        frequencies of ``y``; not with :meth:`partial_fit`).
    warm_start : bool, default=False
        :meth:`fit` starts from the previous fit's weights.
    average : bool or int, default=False
        Report the average of the weights over all steps (an int: from that step on).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
        Epochs of the last call (the most over the one-vs-rest problems).
    t_ : float
        Steps taken over all calls, plus one.
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings.

    Warns
    -----
    ConvergenceWarning
        When :meth:`fit` ran ``max_iter`` epochs with ``tol`` set.

    Examples
    --------
    >>> X = [[-2.0, -1.0], [-1.0, -1.0], [1.0, 1.0], [2.0, 1.0]]
    >>> clf = SGDClassifier(shuffle=False, tol=None, max_iter=20).fit(X, ["a", "a", "b", "b"])
    >>> clf.predict([[-1.5, -1.0], [1.5, 1.0]])
    array(['a', 'b'], dtype='<U1')
    >>> clf = SGDClassifier(loss="log_loss").partial_fit(X[:2], [0, 0], classes=[0, 1])
    >>> clf.partial_fit(X[2:], [1, 1]).predict_proba([[2.0, 1.0]]).shape
    (1, 2)
    """

    _parameter_constraints = {
        **_BaseSGD._parameter_constraints,
        "loss": [Options({"hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron"})],
        "class_weight": [Options({"balanced"}), dict, None],
    }  # fmt: skip

    def __init__(
        self, loss: str = "hinge", *, penalty: str | None = "l2", alpha: float = 1e-4,
        l1_ratio: float = 0.15, fit_intercept: bool = True, max_iter: int = 1000,
        tol: float | None = 1e-3, shuffle: bool = True, epsilon: float = 0.1,
        random_state: Any = None, learning_rate: str = "optimal", eta0: float = 0.01,
        power_t: float = 0.5, n_iter_no_change: int = 5, class_weight: Any = None,
        warm_start: bool = False, average: bool | int = False,
    ) -> None:  # fmt: skip
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.average = average

    def fit(self, X: Any, y: Any, coef_init: Any = None,
            intercept_init: Any = None) -> SGDClassifier:  # fmt: skip
        """Learn the weights from ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)
        in up to ``max_iter`` epochs, from zero (or ``coef_init``/``intercept_init``, or the
        previous fit with ``warm_start``); returns ``self``. (Sample weights only with
        :meth:`partial_fit`: on shuffled epochs a weight is not a repeated sample, which
        scikit-learn's checks ask of ``fit``.)"""
        self._check_hyperparameters()
        X, y, weights, names = self._check_data(X, y, None, reset=True)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got 1 class"
            )
        class_weights = self._class_weights(classes, y)
        warm_coef, warm_intercept = self._warm()
        rows = 1 if len(classes) == 2 else len(classes)
        state = self._start(rows, X.shape[1], warm_coef if coef_init is None else coef_init,
                            warm_intercept if intercept_init is None else intercept_init)
        self._learn(X, y, weights, class_weights, int(self.max_iter), state, classes)
        self.classes_ = classes
        self._set_features(X.shape[1], names)
        self._warn_if_not_converged()
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> SGDClassifier:  # fmt: skip
        """One epoch of SGD over the batch ``(X, y)``, continuing from the previous calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            Every label the stream will contain; required on the first call (the batch need
            not show them all), and if given later, the same.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        first = not hasattr(self, "classes_")
        if first:
            self._check_hyperparameters()
            if self.class_weight == "balanced":
                raise ValueError(
                    "class_weight 'balanced' is not supported for partial_fit. Pass weights "
                    "computed on a large enough sample of the targets as a dict instead."
                )
        known = _check_classes(self, classes, first)
        X, y, weights, names = self._check_data(X, y, sample_weight, reset=first)
        check_classification_targets(y)
        if not np.isin(y, known).all():
            raise ValueError("classes should include all valid labels that can be in y")
        if first:
            if len(known) < 2:
                raise ValueError(
                    "The number of classes has to be greater than one; got 1 class"
                )
            state = self._start(1 if len(known) == 2 else len(known), X.shape[1])
        else:
            state = self._current()
        self._learn(X, y, weights, self._class_weights(known, y), 1, state, known)
        if first:
            self.classes_ = known
            self._set_features(X.shape[1], names)
        return self

    def _class_weights(self, classes: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        """(positive, negative) step multipliers of each one-vs-rest problem, as scikit-learn."""
        if self.class_weight is None:
            per_class = np.ones(len(classes))
        elif self.class_weight == "balanced":
            counts = np.array([np.sum(y == c) for c in classes], dtype=np.float64)
            per_class = len(y) / (len(classes) * np.maximum(counts, 1.0))
        else:
            unknown = [c for c in self.class_weight if c not in set(classes.tolist())]
            if unknown:
                raise ValueError(
                    f"The classes, {unknown}, are not in class, consider removing them from "
                    "your class_weight dict or y."
                )
            per_class = np.array([float(self.class_weight.get(c, 1.0)) for c in classes.tolist()])
        if len(classes) == 2:
            return [(float(per_class[1]), float(per_class[0]))]
        return [(float(w), 1.0) for w in per_class]

    def _learn(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray,
               class_weights: list[tuple[float, float]], max_iter: int, state: dict[str, Any],
               classes: np.ndarray) -> None:  # fmt: skip
        low = 0.0 if self.loss == "log_loss" else -1.0  # log_loss learns 0/1 targets
        positives = classes[1:] if len(classes) == 2 else classes
        targets = [np.where(y == c, 1.0, low) for c in positives]
        self._run(X, targets, weights, class_weights, max_iter, state)

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed distance to each hyperplane: (n_samples,) for two classes (positive means
        ``classes_[1]``), else (n_samples, n_classes)."""
        scores = self._scores(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class of each sample, shape (n_samples,)."""
        index = class_index(self.decision_function(X))  # checks the fit first
        return self.classes_[index]

    @property
    def predict_proba(self) -> Callable[[Any], np.ndarray]:
        """Class probabilities, (n_samples, n_classes): the sigmoid of the scores for
        ``log_loss`` (normalised over the one-vs-rest problems), ``(clip(score, -1, 1) + 1)
        / 2`` for ``modified_huber`` (scikit-learn's formulas). Other losses have none: the
        attribute is missing, so ``hasattr(clf, "predict_proba")`` tells."""
        self._check_proba()
        return self._predict_proba

    @property
    def predict_log_proba(self) -> Callable[[Any], np.ndarray]:
        """Log of :attr:`predict_proba` (for the same losses)."""
        self._check_proba()
        return self._predict_log_proba

    def _check_proba(self) -> None:
        if self.loss not in ("log_loss", "modified_huber"):
            raise AttributeError(
                f"probability estimates are not available for loss={self.loss!r}"
            )

    def _predict_proba(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        if self.loss == "log_loss":
            prob = 0.5 * (1.0 + np.tanh(0.5 * scores))  # the sigmoid, without overflow
        else:
            prob = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
        if prob.ndim == 1:
            return np.column_stack([1.0 - prob, prob])
        total = prob.sum(axis=1, keepdims=True)
        prob[total[:, 0] == 0] = 1.0  # no class claims the sample: all equally likely
        return prob / prob.sum(axis=1, keepdims=True)

    def _predict_log_proba(self, X: Any) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self._predict_proba(X))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _check_classes(estimator: SGDClassifier, classes: Any, first: bool) -> np.ndarray:
    """scikit-learn's ``_check_partial_fit_first_call`` rules, with its messages."""
    if first and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is None:
        return estimator.classes_
    known = np.unique(np.asarray(classes))
    if not first and not np.array_equal(known, estimator.classes_):
        raise ValueError(
            f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
            f"{estimator.classes_!r}"
        )
    return known


class SGDRegressor(RegressorMixin, _BaseSGD):
    """Linear regression trained by plain SGD, one sample at a time: scikit-learn's algorithm.

    Minimises ``mean(loss(y_i, w·x_i + b)) + alpha * R(w)`` by stochastic gradient steps.

    Parameters
    ----------
    loss : {"squared_error", "huber", "epsilon_insensitive"}, default="squared_error"
        Half the squared error; Huber's loss (squared within ``epsilon``, linear beyond);
        the SVR loss ``max(0, |y - p| - epsilon)``.
    epsilon : float, default=0.1
        Threshold of ``huber`` and ``epsilon_insensitive``.
    learning_rate : {"invscaling", "constant", "optimal", "adaptive"}, default="invscaling"
    eta0 : float, default=0.01
    power_t : float, default=0.25
    penalty, alpha, l1_ratio, fit_intercept, max_iter, tol, shuffle, random_state, \
n_iter_no_change, warm_start, average :
        As for :class:`SGDClassifier`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : ndarray of shape (1,)
    n_iter_ : int
    t_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of str objects

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1)
    >>> reg = SGDRegressor(learning_rate="constant", eta0=0.1, random_state=0)
    >>> reg = reg.fit(X, 2 * X.ravel() + 1)
    >>> round(float(reg.coef_[0]), 1), round(float(reg.intercept_[0]), 1)
    (2.0, 1.0)
    """

    _parameter_constraints = {
        **_BaseSGD._parameter_constraints,
        "loss": [Options({"squared_error", "huber", "epsilon_insensitive"})],
    }  # fmt: skip

    def __init__(
        self, loss: str = "squared_error", *, penalty: str | None = "l2", alpha: float = 1e-4,
        l1_ratio: float = 0.15, fit_intercept: bool = True, max_iter: int = 1000,
        tol: float | None = 1e-3, shuffle: bool = True, epsilon: float = 0.1,
        random_state: Any = None, learning_rate: str = "invscaling", eta0: float = 0.01,
        power_t: float = 0.25, n_iter_no_change: int = 5, warm_start: bool = False,
        average: bool | int = False,
    ) -> None:  # fmt: skip
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.shuffle = shuffle
        self.epsilon = epsilon
        self.random_state = random_state
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.average = average

    def fit(self, X: Any, y: Any, coef_init: Any = None,
            intercept_init: Any = None) -> SGDRegressor:  # fmt: skip
        """Learn ``coef_`` and ``intercept_`` from ``X`` (n_samples, n_features) and ``y``
        (n_samples,) in up to ``max_iter`` epochs (sample weights: :meth:`partial_fit` only,
        as for :class:`SGDClassifier`); returns ``self``."""
        self._check_hyperparameters()
        X, y, weights, names = self._check_data(X, y, None, reset=True)
        warm_coef, warm_intercept = self._warm()
        state = self._start(1, X.shape[1], warm_coef if coef_init is None else coef_init,
                            warm_intercept if intercept_init is None else intercept_init)
        self._learn(X, y, weights, int(self.max_iter), state)
        self._set_features(X.shape[1], names)
        self._warn_if_not_converged()
        return self

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> SGDRegressor:
        """One epoch of SGD over the batch ``(X, y)``, continuing from the previous calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        first = not hasattr(self, "coef_")
        if first:
            self._check_hyperparameters()
        X, y, weights, names = self._check_data(X, y, sample_weight, reset=first)
        self._learn(X, y, weights, 1, self._start(1, X.shape[1]) if first else self._current())
        if first:
            self._set_features(X.shape[1], names)
        return self

    def _learn(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray, max_iter: int,
               state: dict[str, Any]) -> None:  # fmt: skip
        self._run(X, [y.astype(np.float64)], weights, [(1.0, 1.0)], max_iter, state)
        self.coef_ = self.coef_[0]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values ``X @ coef_ + intercept_``, shape (n_samples,)."""
        return self._scores(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
