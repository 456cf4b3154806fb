"""Linear models: a straight line (or plane) through the data, ``X @ coef_.T + intercept_``.

The chapter's model in its most useful forms:

- :class:`LinearRegression` finds θ in closed form, or — with ``solver="gd"`` — the chapter's
  way, by running forward → loss → gradient → update on a ``theta.nn.Linear`` model through
  ``theta.train.fit``, starting from θ = 0;
- :class:`Ridge` adds an L2 penalty ``alpha * ||coef||²`` and stays closed form;
- :class:`LogisticRegression` turns the line's output into class probabilities (sigmoid for
  two classes, softmax for more) and minimises scikit-learn's L2-regularised log-loss with a
  NumPy L-BFGS.

The algorithms are pure functions on arrays (``_solve_least_squares``, ``_lbfgs_logistic``);
the classes validate, call them, and store what was learned.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from theta.errors import ConvergenceWarning, DivergenceError, sklearn_twin
from theta.estimators.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    binary_log_proba,
    check_classification_targets,
    check_is_fitted,
    class_index,
    column_or_1d,
    diverged,
    safe_scale,
)
from theta.losses import mse
from theta.nn import Linear
from theta.optim import SGD
from theta.rng import check_random_state
from theta.special import log_softmax
from theta.train import fit as train_fit
from theta.validation import Interval, Options, check_X_y, feature_names

__all__ = ["LinearRegression", "LogisticRegression", "Ridge"]

# Normal equations square the condition number: above this, their float64 answer could lose
# more than ~1e-8 of relative accuracy, so the solve falls back to an SVD of X itself.
_MAX_GRAM_COND = 1e8


# --- closed-form least squares ----------------------------------------------------------------


def _center(X: np.ndarray, Y: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, ...]:
    """float64 copies of X and Y minus their column means (zeros when no intercept)."""
    if fit_intercept:
        x_mean = X.mean(axis=0, dtype=np.float64)
        y_mean = Y.mean(axis=0, dtype=np.float64)
        return np.subtract(X, x_mean, dtype=np.float64), Y - y_mean, x_mean, y_mean
    y_mean = np.zeros(Y.shape[1:])
    return X.astype(np.float64, copy=False), Y, np.zeros(X.shape[1]), y_mean


def _solve_least_squares(X: np.ndarray, Y: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    """``argmin ||X c - Y||² + alpha ||c||²`` (minimum-norm when that is not unique).

    Tall, well-conditioned X (the common case) solves the small (d, d) normal equations through
    an eigendecomposition, which is ~15x faster than an SVD of X on 100k x 50; otherwise, or
    when their condition number is too large for 1e-8 accuracy, an SVD of X (LAPACK's gelsd
    route, as ``numpy.linalg.lstsq``) gives the numerically sound answer. Data of magnitude
    near 1e±300 is first divided by a power of two (exact), as LAPACK's own solvers do.
    """
    x_scale, y_scale = safe_scale(X), safe_scale(Y)
    if x_scale != 1.0 or y_scale != 1.0:  # data near 1e±300: X.T @ X would over/underflow
        coef = _solve_least_squares(X / x_scale, Y / y_scale, alpha / x_scale / x_scale)
        return coef * (y_scale / x_scale)
    n, d = X.shape
    if n >= d:
        gram = X.T @ X  # (d, d); NumPy computes X.T @ X with one symmetric rank-k update
        eigvals, V = np.linalg.eigh(gram)
        shifted = eigvals + alpha
        if shifted[0] > 0 and shifted[-1] <= _MAX_GRAM_COND * shifted[0]:
            return V @ ((V.T @ (X.T @ Y)) / (shifted[:, None] if Y.ndim == 2 else shifted))
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s > max(n, d) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
    inv = np.zeros_like(s)
    inv[keep] = s[keep] / (s[keep] ** 2 + alpha)
    UtY = U.T @ Y
    return Vt.T @ (inv[:, None] * UtY if Y.ndim == 2 else inv * UtY)


def _gradient_descent(
    X: np.ndarray, Y: np.ndarray, *, fit_intercept: bool, lr: float, steps: int, rng: Any
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The chapter's loop on a ``theta.nn.Linear`` model from θ = 0: (weight, bias, losses)."""
    model = Linear(X.shape[1], Y.shape[1], bias=fit_intercept, rng=rng, dtype=np.float64)
    for p in model.parameters():
        p.data[...] = 0.0  # the chapter starts knowing nothing
    optimizer = SGD(model.parameters(), lr=lr)
    history = train_fit(model, X, Y, loss=mse, optimizer=optimizer, steps=steps,
                        batch_size=None, progress=False)  # fmt: skip
    bias = model.bias.data.copy() if fit_intercept else np.zeros(Y.shape[1])
    return model.weight.data.copy(), bias, list(history.step_loss)


class _LinearRegressor(RegressorMixin, BaseEstimator):
    """Shared by the least-squares regressors: data checks, prediction and tags."""

    def _check_fit_data(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, bool, Any]:
        """Validated X and 2-D Y, whether y was 1-D (a (n, 1) y stays 2-D), X's column
        names."""
        names = feature_names(X)
        y_arr = None if y is None else np.asarray(y)
        column = y_arr is not None and y_arr.ndim == 2 and y_arr.shape[1] == 1
        X, y = check_X_y(X, y_arr[:, 0] if column else y, y_numeric=True, caller=self)
        one_d = y.ndim == 1 and not column
        return X, y.reshape(len(y), -1), one_d, names

    def _store(self, coef: np.ndarray, intercept: np.ndarray, one_d: bool, X: np.ndarray,
               names: Any) -> None:  # fmt: skip
        """Set the learned state; ``coef`` is (n_targets, n_features)."""
        self.coef_ = coef[0] if one_d else coef
        self.intercept_ = float(intercept[0]) if one_d else intercept
        self._set_features(X.shape[1], names)

    def predict(self, X: Any) -> np.ndarray:
        """Predict with the fitted line: ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = self._validate_data(X, reset=False)
        return X @ self.coef_.T + self.intercept_

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class LinearRegression(_LinearRegressor):
    """Ordinary least squares: the line that minimises the mean squared error.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Learn an intercept ``b``; otherwise the line passes through the origin.
    solver : {"closed_form", "gd"}, default="closed_form"
        ``"closed_form"`` solves the least-squares problem directly (normal equations when
        well-conditioned, else an SVD). ``"gd"`` is the chapter's gradient descent: a
        ``theta.nn.Linear`` model starting from zero weights, trained full-batch on
        ``theta.losses.mse`` with ``theta.optim.SGD(lr)`` for ``steps`` steps by
        ``theta.train.fit`` (float64 throughout).
    lr : float, default=0.01
        Learning rate for ``solver="gd"``, in ``(0, inf)``.
    steps : int, default=1000
        Number of gradient-descent steps for ``solver="gd"``, in ``[0, inf)``.
    random_state : int, Generator or None, default=None
        Accepted for API symmetry; both solvers are deterministic (gd starts from zero).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Learned weights; 2-D when ``y`` is 2-D.
    intercept_ : float or ndarray of shape (n_targets,)
        Learned bias (0.0 when ``fit_intercept=False``).
    loss_curve_ : list of float
        With ``solver="gd"`` only: the mean squared error of every step, measured before that
        step's update (the chapter's convention).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Raises
    ------
    ValueError
        From ``fit`` with ``solver="gd"`` when the loss explodes or becomes NaN: the message
        (theta.train's ``DivergenceError`` diagnosis, chained) names the step and ``lr`` and
        suggests a smaller one.

    Examples
    --------
    The chapter's example: learn ``y = 2x + 1`` by gradient descent from ``w = b = 0``.

    >>> model = LinearRegression(solver="gd", lr=0.05, steps=1000)
    >>> model = model.fit([[0], [1], [2], [3], [4]], [1, 3, 5, 7, 9])
    >>> round(float(model.coef_[0]), 3), round(model.intercept_, 3)
    (2.0, 1.0)
    >>> model.predict([[10]]).round(3)
    array([21.])
    >>> model.loss_curve_[0]
    33.0
    """

    _parameter_constraints = {
        "fit_intercept": ["boolean"],
        "solver": [Options({"closed_form", "gd"})],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "steps": [Interval(numbers.Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        fit_intercept: bool = True,
        solver: str = "closed_form",
        lr: float = 0.01,
        steps: int = 1000,
        random_state: Any = None,
    ) -> None:
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.lr = lr
        self.steps = steps
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> LinearRegression:
        """Learn ``coef_`` and ``intercept_`` from ``X`` of shape (n_samples, n_features)
        and ``y`` of shape (n_samples,) or (n_samples, n_targets); returns ``self``."""
        self._validate_params()
        X, Y, one_d, names = self._check_fit_data(X, y)
        if self.solver == "gd":
            X64 = X.astype(np.float64, copy=False)
            try:
                coef, intercept, losses = _gradient_descent(
                    X64, Y.astype(np.float64, copy=False), fit_intercept=self.fit_intercept,
                    lr=float(self.lr), steps=int(self.steps),
                    rng=check_random_state(self.random_state),
                )  # fmt: skip
            except DivergenceError as exc:
                raise diverged("LinearRegression(solver='gd')", exc) from exc
            self._store(coef, intercept, one_d, X, names)
            self.loss_curve_ = losses
            return self
        Xc, Yc, x_mean, y_mean = _center(X, Y, self.fit_intercept)
        coef = _solve_least_squares(Xc, Yc).T  # (n_targets, n_features)
        intercept = y_mean - coef @ x_mean
        self.__dict__.pop("loss_curve_", None)  # forget a previous gd fit
        self._store(coef.astype(X.dtype), intercept.astype(X.dtype), one_d, X, names)
        return self


class Ridge(_LinearRegressor):
    """Least squares with an L2 penalty: minimises ``||y - Xw - b||² + alpha * ||w||²``.

    Solved in closed form (the centred normal equations through an eigendecomposition, or an
    SVD of X when those are ill-conditioned or X is wide); the intercept is not penalised.

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the penalty, in ``[0, inf)``; 0 is ordinary least squares.
    fit_intercept : bool, default=True
        Learn an (unpenalised) intercept.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Learned weights; 2-D when ``y`` is 2-D.
    intercept_ : float or ndarray of shape (n_targets,)
        Learned bias (0.0 when ``fit_intercept=False``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Examples
    --------
    >>> model = Ridge(alpha=1.0).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    >>> round(float(model.coef_[0]), 4), round(model.intercept_, 4)
    (0.6667, 0.3333)
    """

    _parameter_constraints = {
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, alpha: float = 1.0, *, fit_intercept: bool = True) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def fit(self, X: Any, y: Any) -> Ridge:
        """Learn ``coef_`` and ``intercept_`` from ``X`` of shape (n_samples, n_features)
        and ``y`` of shape (n_samples,) or (n_samples, n_targets); returns ``self``."""
        self._validate_params()
        X, Y, one_d, names = self._check_fit_data(X, y)
        Xc, Yc, x_mean, y_mean = _center(X, Y, self.fit_intercept)
        coef = _solve_least_squares(Xc, Yc, float(self.alpha)).T  # (n_targets, n_features)
        intercept = y_mean - coef @ x_mean
        self._store(coef.astype(X.dtype), intercept.astype(X.dtype), one_d, X, names)
        return self


# --- logistic regression ----------------------------------------------------------------------


def _binary_loss(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed log-loss of margins ``z`` (n,) for 0/1 targets, and the residual ``p - y``."""
    e = np.exp(-np.abs(z))  # never overflows; log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))
    loss = float(np.sum(np.log1p(e)) + np.sum(np.maximum(z, 0.0)) - y @ z)
    p = np.where(z >= 0, 1.0, e) / (1.0 + e)  # sigmoid(z), exact in both tails
    return loss, p - y


def _multinomial_loss(Z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed cross-entropy of margins ``Z`` (n, K) for class codes ``y``, and ``P - onehot``."""
    rows = np.arange(len(y))
    m = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - m)  # log-sum-exp shift: every exponent <= 0
    s = E.sum(axis=1, keepdims=True)
    loss = float(np.sum(np.log(s)) + np.sum(m) - np.sum(Z[rows, y]))
    E /= s
    E[rows, y] -= 1.0
    return loss, E


def _lbfgs_logistic(
    X: np.ndarray, codes: np.ndarray, n_classes: int, *, C: float, fit_intercept: bool,
    max_iter: int, tol: float, memory: int = 10,
) -> tuple[np.ndarray, int, bool, float]:  # fmt: skip
    """Minimise scikit-learn's lbfgs objective with L-BFGS; (params (K, d[+1]), n_iter, ok, |g|).

    The objective is ``mean(log-loss) + ||W||² / (2 C n)`` — the same minimiser as
    ``0.5 ||W||² + C * sum(log-loss)``, scaled as scikit-learn scales it so that ``tol`` (on
    the largest entry of its gradient) means the same thing. Two classes use one sigmoid row
    (K = 1); more use the full softmax (K = n_classes).

    L-BFGS runs in standardised coordinates ``V = W * s``, ``c = b + W @ mu`` (``mu`` the
    feature means, ``s`` their standard deviations): the same objective and minimiser, but
    the curvature is nearly equal along every axis and the intercept no longer couples to
    the weights, so unscaled data converges in a few dozen iterations instead of hundreds.
    The step comes from Armijo backtracking with quadratic interpolation, which suffices
    because the objective is convex (every accepted step has ``s·y > 0``). Margins are linear
    in the step, so a line-search trial costs O(n K), not a pass over X: X is read twice per
    iteration (``X @ W_D.T`` for the direction, ``R.T @ X`` for the gradient).
    """
    n, d = X.shape
    binary = n_classes == 2
    K = 1 if binary else n_classes
    target = (codes == 1).astype(np.float64) if binary else codes
    loss_fn = _binary_loss if binary else _multinomial_loss
    lam = 1.0 / (C * n)
    mu = X.mean(axis=0) if fit_intercept else np.zeros(d)
    var = np.einsum("ij,ij->j", X, X) / n - mu * mu  # no (n, d) temporary; rough is enough
    scale = np.sqrt(np.maximum(var, 0.0) + lam)  # + lam keeps the penalty's curvature <= 1

    def to_original(U: np.ndarray) -> np.ndarray:
        """(K, d[+1]) standardised coordinates → [W | b] (linear, so also maps directions)."""
        P = np.empty_like(U)
        P[:, :d] = U[:, :d] / scale
        if fit_intercept:
            P[:, d] = U[:, d] - P[:, :d] @ mu
        return P

    def margins(P: np.ndarray) -> np.ndarray:
        Z = X @ P[0, :d] if binary else X @ P[:, :d].T  # (n,) or (n, K)
        return Z + (P[0, d] if binary else P[:, d]) if fit_intercept else Z

    def gradient(R: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The objective's gradient in original and in standardised coordinates."""
        G = np.empty_like(P)
        G[:, :d] = (R @ X if binary else R.T @ X) / n + lam * P[:, :d]
        Gu = np.empty_like(P)
        if fit_intercept:
            G[:, d] = Gu[:, d] = R.sum(axis=0) / n
            Gu[:, :d] = (G[:, :d] - np.outer(G[:, d], mu)) / scale
        else:
            Gu[:, :d] = G[:, :d] / scale
        return G, Gu.ravel()

    U = np.zeros((K, d + fit_intercept))
    P = to_original(U)
    Z = margins(P)
    loss, R = loss_fn(Z, target)
    f = loss / n
    G, g = gradient(R, P)
    pairs: list[tuple[np.ndarray, np.ndarray, float]] = []
    n_iter, converged = 0, False
    while True:
        gmax = float(np.abs(G).max())
        if gmax <= tol:
            converged = True
            break
        if n_iter >= max_iter:
            break
        q = -g  # two-loop recursion: q becomes -H g
        alphas = []
        for s, yv, rho in reversed(pairs):
            a = rho * (s @ q)
            q = q - a * yv
            alphas.append(a)
        if pairs:
            s, yv, _ = pairs[-1]
            q = q * ((s @ yv) / (yv @ yv))
            for (s, yv, rho), a in zip(pairs, reversed(alphas), strict=True):
                q = q + (a - rho * (yv @ q)) * s
        else:
            q = q / np.linalg.norm(g)  # first step: unit length, as L-BFGS-B does
        slope = float(q @ g)
        if slope >= 0:  # not a descent direction (round-off): restart from steepest descent
            pairs.clear()
            q = -g / np.linalg.norm(g)
            slope = float(q @ g)
        D = to_original(q.reshape(U.shape))
        Zd = margins(D)
        W, DW = P[:, :d], D[:, :d]
        ww, wd, dd = float(np.sum(W * W)), float(np.sum(W * DW)), float(np.sum(DW * DW))
        t = 1.0
        for _ in range(50):
            Zt = Z + t * Zd
            loss, R = loss_fn(Zt, target)
            f_t = loss / n + 0.5 * lam * (ww + 2.0 * t * wd + t * t * dd)
            if f_t <= f + 1e-4 * t * slope:
                break
            denom = 2.0 * (f_t - f - slope * t)  # minimiser of the interpolating parabola
            t = float(np.clip(-slope * t * t / denom, 0.1 * t, 0.5 * t)) if denom > 0 else 0.5 * t
        else:
            converged = True  # no decrease left at machine precision: this is the optimum
            break
        U = U + t * q.reshape(U.shape)
        P = P + t * D
        G, g_new = gradient(R, P)
        s, yv = t * q, g_new - g
        sy = float(s @ yv)
        if sy > 1e-10 * float(yv @ yv):
            pairs = [*pairs[-(memory - 1) :], (s, yv, 1.0 / sy)]
        n_iter += 1
        f_old, f, g, Z = f, f_t, g_new, Zt
        if f_old - f <= 64 * np.finfo(np.float64).eps * max(abs(f_old), abs(f), 1.0):
            converged = True  # scipy's ftol stop, with scikit-learn's ftol
            break
    return P, n_iter, converged, gmax


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """L2-regularised logistic regression: binary (sigmoid) and multinomial (softmax).

    Minimises scikit-learn's objective for its default ``lbfgs`` solver,
    ``0.5 * ||W||² + C * sum(log-loss)`` with an unpenalised intercept, using theta's own
    NumPy L-BFGS (two-loop recursion, Armijo backtracking line search; no SciPy). Two classes
    learn one weight row; three or more learn one row per class (the full multinomial loss,
    as scikit-learn >= 1.5). Stops when the largest gradient entry of the objective divided by
    ``C * n_samples`` is at most ``tol``, or warns after ``max_iter`` iterations.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, in ``(0, inf)``; smaller is stronger.
    fit_intercept : bool, default=True
        Learn an (unpenalised) intercept per weight row.
    max_iter : int, default=100
        Maximum number of L-BFGS iterations, in ``[0, inf)``.
    tol : float, default=1e-4
        Gradient tolerance, in ``[0, inf)``.
    random_state : int, Generator or None, default=None
        Accepted for API compatibility; the solver is deterministic.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (any type ``numpy.unique`` can sort, strings included).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights; one row for binary problems (for ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Biases (zeros when ``fit_intercept=False``).
    n_iter_ : ndarray of shape (1,)
        Number of L-BFGS iterations run.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` iterations end before the gradient reaches ``tol``.

    Examples
    --------
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> clf = LogisticRegression().fit(X, ["no", "no", "yes", "yes"])
    >>> clf.predict([[0.5], [2.5]])
    array(['no', 'yes'], dtype='<U3')
    >>> clf.predict_proba([[1.5]]).round(3)
    array([[0.5, 0.5]])
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        C: float = 1.0,
        *,
        fit_intercept: bool = True,
        max_iter: int = 100,
        tol: float = 1e-4,
        random_state: Any = None,
    ) -> None:
        self.C = C
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> LogisticRegression:
        """Learn the weights from ``X`` of shape (n_samples, n_features) and labels ``y`` of
        shape (n_samples,); returns ``self``."""
        self._validate_params()
        names = feature_names(X)
        X, y = check_X_y(X, y, caller=self)
        y = column_or_1d(y)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {classes[0]!r}"
            )
        X = X.astype(np.float64, copy=False)
        # data near 1e300 would overflow the margins of the first step: fit X / scale (exact)
        # with the penalty rescaled to match, then map the weights back; data near 1e-300 needs
        # nothing (the penalty holds the weights near 0, the answer in float64)
        scale = max(safe_scale(X), 1.0)
        P, n_iter, converged, gmax = _lbfgs_logistic(
            X / scale if scale != 1.0 else X, codes.ravel(), len(classes),
            C=float(self.C) * scale * scale, fit_intercept=self.fit_intercept,
            max_iter=int(self.max_iter), tol=float(self.tol),
        )  # fmt: skip
        if not converged:
            warnings.warn(
                f"LogisticRegression: L-BFGS did not converge in max_iter={self.max_iter} "
                f"iterations (largest gradient entry {gmax:.3g} > tol={self.tol:g}). Increase "
                "max_iter, or scale the data (e.g. with StandardScaler).",
                sklearn_twin(ConvergenceWarning),
                stacklevel=2,
            )
        d = X.shape[1]
        self.classes_ = classes
        self.coef_ = np.ascontiguousarray(P[:, :d]) / scale
        self.intercept_ = P[:, d].copy() if self.fit_intercept else np.zeros(len(P))
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        self._set_features(d, names)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Margins ``X @ coef_.T + intercept_``: shape (n_samples,) for two classes (positive
        means ``classes_[1]``), else (n_samples, n_classes)."""
        check_is_fitted(self)
        X = self._validate_data(X, reset=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample, shape (n_samples,)."""
        scores = self.decision_function(X)
        return self.classes_[class_index(scores)]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log class probabilities, shape (n_samples, n_classes), computed without overflow."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return binary_log_proba(scores)
        return log_softmax(scores)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes); each row sums to 1."""
        return np.exp(self.predict_log_proba(X))
