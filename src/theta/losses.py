"""Losses: step 2 of the chapter's loop, ``loss = loss_fn(pred, y)``.

A loss maps a prediction and a target to one scalar tensor that says how wrong the model is;
``backward`` on it starts the gradient step. Every loss here takes ``reduction``: ``"mean"``
(the default) averages the per-element losses, ``"sum"`` adds them, ``"none"`` returns them.

Each loss is one fused ``Function``: the per-element loss and the reduction happen in a
single forward, and backward writes the input gradient in one or two passes. Composed from
primitives (subtract, square, mean, ...) the same losses would cost a graph node and a
full-size temporary per step, and the log-based ones would overflow: ``log(sigmoid(x))`` and
``log(softmax(x))`` reach ``log(0)`` for large logits, while the fused forms below never do.

Predictions and targets must have the same shape: a loss compares element by element and
never broadcasts, because an ``(N, 1)`` prediction against an ``(N,)`` target would
silently broadcast to ``(N, N)`` and train on the wrong number.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import numpy as np

from theta.autograd import Context, Function, Tensor, tensor
from theta.validation import broadcasts_to

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "get_loss",
    "hinge", "huber", "mae", "mse", "nll_loss",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]
Loss = Callable[..., Tensor]
_REDUCTIONS = ("mean", "sum", "none")


# --- shared helpers -----------------------------------------------------------------------


def _reduce(per: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """Reduce per-element losses; ``count`` is the divisor of ``"mean"`` (NaN when 0, as
    PyTorch gives for an empty batch)."""
    if reduction == "none":
        return per
    total = np.add.reduce(per, axis=None)  # per.sum() without its Python wrapper
    if reduction == "mean":
        total = total / count if count else np.nan
    return np.asarray(total, dtype=per.dtype)


def _scale(grad: np.ndarray, reduction: str, count: int) -> float | np.ndarray:
    """d(loss) / d(each per-element loss): a Python float (so float32 stays float32) for the
    reduced forms, the incoming per-element gradient for ``"none"``."""
    if reduction == "none":
        return grad
    g = float(grad)
    return g / count if reduction == "mean" and count else g


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none' (got {reduction!r}).")


def _prediction(name: str, x: Any, what: str = "prediction") -> Tensor:
    """Lift ``x`` to a tensor and require a floating dtype (scores are never integers)."""
    t = x if isinstance(x, Tensor) else tensor(x)
    if t.dtype.kind != "f":
        raise TypeError(
            f"{name}: {what} must be a floating-point tensor (got dtype {t.dtype}); "
            f"convert it first, e.g. {what}.astype(np.float32)."
        )
    return t


def _target_array(x: Any) -> np.ndarray:
    """The target's values, outside any graph (class labels and margins carry no gradient)."""
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _check_same_shape(name: str, pred: tuple, target: tuple, what: str = "prediction") -> None:
    if pred == target:
        return
    hint = "reshape one to the other's shape."
    if len(pred) == len(target) + 1 and pred[-1] == 1 and pred[:-1] == target:
        hint = (
            f"an (N, 1) {what} against an (N,) target would broadcast to (N, N) and give a "
            f"wrong loss; use {what}.reshape(-1) or target.reshape(-1, 1)."
        )
    elif len(target) == len(pred) + 1 and target[-1] == 1 and target[:-1] == pred:
        hint = f"use target.reshape(-1) or {what}.reshape(-1, 1)."
    raise ValueError(
        f"{name}: {what} of shape {pred} and target of shape {target} differ; losses compare "
        f"element by element and do not broadcast, so {hint}"
    )


def _regression_target(name: str, pred: Tensor, target: Any) -> Tensor:
    """A float target tensor of the prediction's shape; it may itself require a gradient."""
    if not isinstance(target, Tensor):
        arr = np.asarray(target)
        target = Tensor(arr if arr.dtype == pred.dtype else arr.astype(pred.dtype))
    _check_same_shape(name, pred.shape, target.shape)
    return target


# --- regression: mse, mae, huber ----------------------------------------------------------


class _Regression(Function):
    """Shared backward of the elementwise regression losses: ``d loss / d pred`` is
    ``rate(diff) * scale``, and ``d loss / d target`` is its negative."""

    @staticmethod
    def rate(diff: np.ndarray, kwargs: dict) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def backward(cls, ctx: Context, grad: np.ndarray) -> Grads:
        (diff,) = ctx.saved
        g = cls.rate(diff, ctx.kwargs)  # a fresh array, so scaling it in place is safe
        g *= _scale(grad, ctx.kwargs["reduction"], diff.size)
        return g, (-g if ctx.needs_grad[1] else None)


class _MSE(_Regression):
    @staticmethod
    def forward(ctx: Context, pred: np.ndarray, target: np.ndarray, *, reduction: str):
        diff = pred - target.astype(pred.dtype, copy=False)
        ctx.save(diff)
        return _reduce(diff * diff, reduction, diff.size)

    @staticmethod
    def rate(diff: np.ndarray, kwargs: dict) -> np.ndarray:
        return diff * 2.0


class _MAE(_Regression):
    @staticmethod
    def forward(ctx: Context, pred: np.ndarray, target: np.ndarray, *, reduction: str):
        diff = pred - target.astype(pred.dtype, copy=False)
        ctx.save(diff)
        return _reduce(np.abs(diff), reduction, diff.size)

    @staticmethod
    def rate(diff: np.ndarray, kwargs: dict) -> np.ndarray:
        return np.sign(diff)  # 0 at 0, as PyTorch


class _Huber(_Regression):
    @staticmethod
    def forward(
        ctx: Context, pred: np.ndarray, target: np.ndarray, *, delta: float, reduction: str
    ):
        diff = pred - target.astype(pred.dtype, copy=False)
        ctx.save(diff)
        # q = min(|d|, delta) makes both branches one formula: q * (|d| - q / 2) is d**2 / 2
        # inside the band and delta * (|d| - delta / 2) outside it.
        per = np.abs(diff)
        q = np.minimum(per, delta)
        per -= q * 0.5
        per *= q
        return _reduce(per, reduction, diff.size)

    @staticmethod
    def rate(diff: np.ndarray, kwargs: dict) -> np.ndarray:
        delta = kwargs["delta"]
        return np.clip(diff, -delta, delta)


def _regression(fn: type[Function], name: str, prediction: Any, target: Any, **kwargs) -> Tensor:
    _check_reduction(name, kwargs["reduction"])
    pred = _prediction(name, prediction)
    return fn.apply(pred, _regression_target(name, pred, target), **kwargs)


def mse(prediction: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """Mean squared error, ``mean((prediction - target) ** 2)``: the chapter's loss.

    Parameters
    ----------
    prediction : Tensor of shape (...)
        The model's output.
    target : Tensor or array-like of the same shape
        The true values; a tensor target may require a gradient too.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-element losses are combined.

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Raises
    ------
    ValueError
        If the shapes differ (no broadcasting) or ``reduction`` is unknown.

    Examples
    --------
    >>> import theta
    >>> pred = theta.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> loss = mse(pred, [1.0, 2.0, 5.0])
    >>> loss.item()
    1.3333333730697632
    >>> loss.backward()
    >>> pred.grad.tolist()
    [0.0, 0.0, -1.3333333730697632]
    """
    return _regression(_MSE, "mse", prediction, target, reduction=reduction)


def mae(prediction: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """Mean absolute error, ``mean(|prediction - target|)``; robust to outliers.

    Parameters
    ----------
    prediction : Tensor of shape (...)
    target : Tensor or array-like of the same shape
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Examples
    --------
    >>> import theta
    >>> mae(theta.tensor([1.0, 2.0, 3.0]), [2.0, 2.0, 5.0]).item()
    1.0
    """
    return _regression(_MAE, "mae", prediction, target, reduction=reduction)


def huber(prediction: Any, target: Any, *, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Huber loss: squared error for ``|d| < delta``, absolute error (slope ``delta``) beyond.

    Equal to PyTorch's ``huber_loss``; its gradient is ``clip(d, -delta, delta)``, so one
    outlier cannot pull harder than ``delta``.

    Parameters
    ----------
    prediction : Tensor of shape (...)
    target : Tensor or array-like of the same shape
    delta : float, default=1.0
        Where the quadratic part turns linear; must be positive.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Examples
    --------
    >>> import theta
    >>> huber(theta.tensor([0.5, 3.0]), [0.0, 0.0], reduction="none").tolist()
    [0.125, 2.5]
    """
    if not delta > 0:
        raise ValueError(f"huber: delta must be positive (got {delta}).")
    return _regression(_Huber, "huber", prediction, target, delta=float(delta), reduction=reduction)


# --- binary classification ----------------------------------------------------------------


class _BCE(Function):
    """Cross-entropy of probabilities. Logs are clamped at -100 as PyTorch does, so ``p`` of
    exactly 0 or 1 gives a finite loss (100 per wrong element) instead of infinity."""

    @staticmethod
    def forward(
        ctx: Context, p: np.ndarray, y: np.ndarray, *, weight: np.ndarray | None, reduction: str
    ) -> np.ndarray:
        shape = p.shape
        p, y = np.atleast_1d(p), np.atleast_1d(y).astype(p.dtype, copy=False)  # out= needs arrays
        with np.errstate(divide="ignore"):  # log(0) = -inf is clamped on the next line
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        per = log_p - log_q
        per *= y
        per += log_q
        np.negative(per, out=per)  # -(y log p + (1 - y) log(1 - p))
        if weight is not None:
            per *= weight
        ctx.save(p, y, (log_p, log_q) if ctx.needs_grad[1] else None, shape)
        return _reduce(per.reshape(shape), reduction, per.size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        p, y, logs, shape = ctx.saved
        s = _scale(grad, ctx.kwargs["reduction"], p.size)
        weight = ctx.kwargs["weight"]
        s = s if weight is None else s * weight
        grad_p = None
        if ctx.needs_grad[0]:
            # PyTorch's rule: the denominator is floored at 1e-12 so p in {0, 1} stays finite
            grad_p = p - y
            grad_p /= np.maximum((1.0 - p) * p, 1e-12)
            grad_p *= s
            grad_p = grad_p.reshape(shape)
        grad_y = ((logs[1] - logs[0]) * s).reshape(shape) if ctx.needs_grad[1] else None
        return grad_p, grad_y


class _BCEWithLogits(Function):
    """Binary cross-entropy of ``sigmoid(x)``, computed from the logit ``x`` without ever
    forming ``sigmoid(x)``: with ``softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)`` (``exp``
    only ever sees arguments <= 0) the loss ``(1 - y) x + (1 + (pw - 1) y) softplus(-x)`` is
    finite for any ``x``, where ``log(sigmoid(1e4))`` is ``log(0)``. ``pw`` is PyTorch's
    ``pos_weight``, the factor on the positive term ``-y log sigmoid(x)``."""

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        y: np.ndarray,
        *,
        weight: np.ndarray | None,
        pos_weight: np.ndarray | None,
        reduction: str,
    ) -> np.ndarray:
        shape = x.shape
        x, y = np.atleast_1d(x), np.atleast_1d(y).astype(x.dtype, copy=False)  # out= needs arrays
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)  # exp(-|x|), in (0, 1]; backward reuses it for sigmoid
        per = np.log1p(e)
        if pos_weight is None:
            per += np.maximum(x, 0.0)  # softplus(x) = softplus(-x) + x
            per -= x * y
        else:
            per += np.maximum(-x, 0.0)  # softplus(-x) = -log sigmoid(x)
            per *= 1.0 + (pos_weight - 1.0) * y
            per += (1.0 - y) * x
        if weight is not None:
            per *= weight
        ctx.save(x, y, e, shape)
        return _reduce(per.reshape(shape), reduction, per.size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, y, e, shape = ctx.saved
        kw = ctx.kwargs
        pw, weight = kw["pos_weight"], kw["weight"]
        s = _scale(grad, kw["reduction"], x.size)
        s = s if weight is None else s * weight
        grad_x = grad_y = None
        if ctx.needs_grad[0]:
            # sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|)
            grad_x = 1.0 / (1.0 + e)
            np.multiply(grad_x, e, out=grad_x, where=x < 0)
            if pw is None:
                grad_x -= y
            else:  # (1 + (pw - 1) y) sigmoid(x) - pw y
                grad_x *= 1.0 + (pw - 1.0) * y
                grad_x -= pw * y
            grad_x *= s
            grad_x = grad_x.reshape(shape)
        if ctx.needs_grad[1]:
            if pw is None:
                grad_y = -x * s
            else:  # d/dy of the loss: (pw - 1) softplus(-x) - x
                grad_y = np.log1p(e) + np.maximum(-x, 0.0)
                grad_y *= pw - 1.0
                grad_y -= x
                grad_y *= s
            grad_y = grad_y.reshape(shape)
        return grad_x, grad_y


def _elementwise_weight(name: str, what: str, w: Any, shape: tuple, dtype: Any) -> Any:
    """``w`` as an array of the input's dtype that broadcasts to the input's ``shape``; a
    weight is a constant here, so a tensor weight gets no gradient."""
    if w is None:
        return None
    arr = _target_array(w)
    if not broadcasts_to(arr.shape, shape):
        raise ValueError(
            f"{name}: {what} of shape {arr.shape} does not broadcast to the input's shape "
            f"{shape}; it rescales the per-element losses and may not grow them."
        )
    return arr.astype(dtype)


def _binary(fn: type[Function], name: str, what: str, pred: Any, target: Any, **kwargs) -> Tensor:
    _check_reduction(name, kwargs["reduction"])
    pred = _prediction(name, pred, what)
    if not isinstance(target, Tensor):
        target = Tensor(_target_array(target))
    _check_same_shape(name, pred.shape, target.shape, what)
    for key in ("weight", "pos_weight"):
        if key in kwargs:
            kwargs[key] = _elementwise_weight(name, key, kwargs[key], pred.shape, pred.dtype)
    return fn.apply(pred, target, **kwargs)


def binary_cross_entropy(
    probabilities: Any, target: Any, *, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of predicted probabilities, ``-w (y log p + (1 - y) log(1 - p))``.

    Prefer :func:`binary_cross_entropy_with_logits` on the raw score: it is exact where this
    form must clamp. Here each log is clamped at -100 (as in PyTorch) so ``p`` of exactly 0
    or 1 gives a finite loss and a finite gradient.

    Parameters
    ----------
    probabilities : Tensor of shape (...)
        Values in ``[0, 1]``, e.g. the output of a sigmoid. 0-d inputs are allowed.
    target : Tensor or array-like of the same shape
        Labels in ``{0, 1}`` or soft labels in ``[0, 1]``.
    weight : array-like broadcastable to the input's shape, optional
        Rescales each element's loss; a constant (no gradient). ``"mean"`` still divides by
        the number of elements, as in PyTorch.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Raises
    ------
    ValueError
        If a probability lies outside ``[0, 1]``, the shapes differ, ``weight`` does not
        broadcast to the input or ``reduction`` is unknown.

    Examples
    --------
    >>> import theta
    >>> round(binary_cross_entropy(theta.tensor([0.9, 0.2]), [1.0, 0.0]).item(), 4)
    0.1643
    >>> binary_cross_entropy(theta.tensor([0.0]), [1.0]).item()  # clamped, not inf
    100.0
    """
    p = _prediction("binary_cross_entropy", probabilities, "probabilities")
    if p.size and not (p.data.min() >= 0.0 and p.data.max() <= 1.0):
        raise ValueError(
            f"binary_cross_entropy: probabilities must lie in [0, 1] (got values from "
            f"{p.data.min()} to {p.data.max()}); for raw scores use "
            "binary_cross_entropy_with_logits."
        )
    return _binary(
        _BCE, "binary_cross_entropy", "probabilities", p, target, weight=weight,
        reduction=reduction,
    )  # fmt: skip


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, *, weight: Any = None, pos_weight: Any = None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Binary cross-entropy of ``sigmoid(logits)``, fused and stable for logits of any size.

    The per-element loss is ``-w (pw y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))``, as
    PyTorch's ``binary_cross_entropy_with_logits``.

    Parameters
    ----------
    logits : Tensor of shape (...)
        Raw scores; ``sigmoid(logits)`` is the predicted probability of class 1. 0-d inputs
        are allowed.
    target : Tensor or array-like of the same shape
        Labels in ``{0, 1}`` or soft labels in ``[0, 1]``.
    weight : array-like broadcastable to the input's shape, optional
        Rescales each element's loss ``w``; a constant (no gradient).
    pos_weight : array-like broadcastable to the input's shape, optional
        Factor ``pw`` on the positive examples' term, usually one per class (shape (C,),
        matched against the last axis): ``pw > 1`` trades precision for recall. A constant.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([0.0, 1e4, -1e4], requires_grad=True)
    >>> binary_cross_entropy_with_logits(x, [1.0, 1.0, 1.0], reduction="none").tolist()
    [0.6931471824645996, 0.0, 10000.0]
    """
    return _binary(
        _BCEWithLogits, "binary_cross_entropy_with_logits", "logits", logits, target,
        weight=weight, pos_weight=pos_weight, reduction=reduction,
    )  # fmt: skip


class _Hinge(Function):
    """``max(0, 1 - y f)`` for labels ``y`` in {-1, +1}; the gradient ``-y`` flows where the
    margin is violated (``y f < 1``)."""

    @staticmethod
    def forward(ctx: Context, f: np.ndarray, *, y: np.ndarray, reduction: str) -> np.ndarray:
        per = f * y
        np.subtract(1.0, per, out=per)
        np.maximum(per, 0.0, out=per)
        active = per > 0.0
        ctx.save(active)
        return _reduce(per, reduction, per.size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (active,) = ctx.saved
        y = ctx.kwargs["y"]
        s = _scale(grad, ctx.kwargs["reduction"], active.size)
        g = np.negative(y, where=active, out=np.zeros_like(y))
        g *= s
        return (g,)


def hinge(prediction: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """Hinge loss of a linear classifier (the SVM loss), ``mean(max(0, 1 - y * f))``.

    Parameters
    ----------
    prediction : Tensor of shape (...)
        Raw decision scores ``f``; the sign is the predicted class.
    target : array-like of the same shape
        Labels in {-1, +1}, or in {0, 1} (0 is read as -1). Targets carry no gradient.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Raises
    ------
    ValueError
        If a label is not in {-1, +1} or {0, 1}, the shapes differ, or ``reduction`` is
        unknown.

    Examples
    --------
    >>> import theta
    >>> hinge(theta.tensor([2.0, 0.5, -1.0]), [1, 1, 0], reduction="none").tolist()
    [0.0, 0.5, 0.0]
    """
    _check_reduction("hinge", reduction)
    f = _prediction("hinge", prediction)
    y = _target_array(target)
    _check_same_shape("hinge", f.shape, y.shape)
    labels = set(np.unique(y).tolist())
    if not (labels <= {-1, 1} or labels <= {0, 1}):
        raise ValueError(
            f"hinge: target labels must be in {{-1, +1}} or {{0, 1}} (got {sorted(labels)})."
        )
    y = y.astype(f.dtype)  # a fresh array the graph may keep
    if 0 in labels:
        y *= 2.0
        y -= 1.0
    return _Hinge.apply(f, y=y, reduction=reduction)


# --- softmax cross-entropy and negative log-likelihood ------------------------------------


def _rows(x: np.ndarray) -> np.ndarray:
    """(N, C, d...) -> (N * d..., C): one row of class scores per position."""
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]) if x.ndim > 2 else x


def _unrows(g: np.ndarray, shape: tuple) -> np.ndarray:
    """The inverse of :func:`_rows`: (N * d..., C) -> ``shape`` = (N, C, d...)."""
    if len(shape) == 2:
        return g
    return np.moveaxis(g.reshape(shape[0], *shape[2:], shape[1]), -1, 1)


def _per_position(s: float | np.ndarray) -> float | np.ndarray:
    """The incoming per-position gradient as a column (M, 1), or the reduced float as is."""
    return s.reshape(-1, 1) if isinstance(s, np.ndarray) else s


class _CrossEntropy(Function):
    """Softmax cross-entropy with integer targets, class weights and label smoothing.

    With class weights ``w`` (all ones by default) the target distribution of position ``i``
    is ``q_c = w_c ((1 - eps) [c == y_i] + eps / C)``, the loss ``-sum_c q_c log_softmax(x)_c``
    and its gradient ``Q softmax(x) - q`` with ``Q = sum_c q_c``, PyTorch's numbers. Fused for
    speed and stability: forward allocates one (M, C) array (the shifted logits,
    exponentiated in place) and backward one more (the gradient); softmax's division by the
    row sums is folded into backward's single pass rather than costing forward a pass.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        *,
        y: np.ndarray,
        valid: np.ndarray | None,
        weight: np.ndarray | None,
        smoothing: float,
        reduction: str,
    ) -> np.ndarray:
        # Dimensions: M positions (N samples times any trailing axes), C classes.
        shape, C = x.shape, x.shape[1]
        x = _rows(x)  # (M, C)
        rows = _row_indices(x.shape[0])
        shifted = x - _row_max(x)[:, None]  # (M, C), <= 0: exp cannot overflow
        picked = shifted[rows, y]  # (M,)
        if smoothing:
            class_sum = shifted.sum(axis=1) if weight is None else shifted @ weight  # (M,)
        e = np.exp(shifted, out=shifted)  # (M, C); softmax = e / norm, divided in backward
        norm = np.add.reduce(e, axis=1)  # (M,), >= 1: log is finite
        lse = np.log(norm)
        # log_softmax = shifted - lse, so -log_softmax[y] = lse - picked
        per = lse - picked
        w_y = None if weight is None else weight[y]  # (M,)
        if w_y is not None:
            per *= w_y
        if smoothing:
            per *= 1.0 - smoothing
            total_w = C if weight is None else float(weight.sum())
            per += (smoothing / C) * (total_w * lse - class_sum)
        if valid is not None:
            per *= valid  # ignored positions: loss 0 (their gathered index is a dummy 0)
        # "mean" divides by the summed weight of the kept targets (their count if unweighted)
        kept = w_y if valid is None else (valid if w_y is None else w_y * valid)
        count = per.size if kept is None else float(kept.sum())
        ctx.save(e, norm, rows, w_y, count, shape)
        if reduction == "none":
            return per.reshape(shape[0], *shape[2:])
        return _reduce(per, reduction, count)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        e, norm, rows, w_y, count, shape = ctx.saved
        kw = ctx.kwargs
        y, valid, weight, eps = kw["y"], kw["valid"], kw["weight"], kw["smoothing"]
        s = _scale(grad, kw["reduction"], count)  # d loss / d per-position loss
        if isinstance(s, np.ndarray):
            s = s.reshape(-1)  # (M,)
        if valid is not None:
            s = s * valid  # (M,)
        coeff = s / norm  # (M,)
        if weight is not None:  # Q, the row's total target mass
            coeff *= (1.0 - eps) * w_y + (eps / e.shape[1]) * float(weight.sum())
        # (Q softmax - q) * s, with softmax = e / norm folded into one pass over (M, C)
        g = e * coeff[:, None]  # (M, C)
        if eps:
            spread = _per_position(s) if weight is None else _per_position(s) * weight
            g -= (eps / e.shape[1]) * spread
        g[rows, y] -= (1.0 - eps) * (s if w_y is None else s * w_y)
        return (_unrows(g, shape),)


class _SoftCrossEntropy(Function):
    """Softmax cross-entropy with probability targets ``t`` (soft labels), PyTorch's rule:
    ``q = w * ((1 - eps) t + eps / C)``, loss ``-sum_c q_c log_softmax(x)_c``, ``"mean"``
    divides by the number of positions. The target may require a gradient too."""

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        t: np.ndarray,
        *,
        weight: np.ndarray | None,
        smoothing: float,
        reduction: str,
    ) -> np.ndarray:
        shape, C = x.shape, x.shape[1]
        x = _rows(x)  # (M, C)
        q = _rows(t).astype(x.dtype)  # (M, C), a fresh array
        if smoothing:
            q *= 1.0 - smoothing
            q += smoothing / C
        if weight is not None:
            q *= weight
        shifted = x - _row_max(x)[:, None]  # (M, C)
        per = -np.einsum("ij,ij->i", q, shifted)  # (M,)
        log_p = shifted.copy() if ctx.needs_grad[1] else None
        e = np.exp(shifted, out=shifted)
        norm = e.sum(axis=1)
        lse = np.log(norm)
        mass = q.sum(axis=1)  # (M,), Q
        per += mass * lse  # -sum q (shifted - lse)
        if log_p is not None:
            log_p -= lse[:, None]
        ctx.save(e, norm, q, mass, log_p, shape)
        if reduction == "none":
            return per.reshape(shape[0], *shape[2:])
        return _reduce(per, reduction, per.size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        e, norm, q, mass, log_p, shape = ctx.saved
        kw = ctx.kwargs
        s = _per_position(_scale(grad, kw["reduction"], e.shape[0]))
        grad_x = grad_t = None
        if ctx.needs_grad[0]:
            grad_x = e * (mass / norm)[:, None]
            grad_x -= q
            grad_x *= s
            grad_x = _unrows(grad_x, shape)
        if ctx.needs_grad[1]:  # d loss / d t = -(1 - eps) w log_softmax(x)
            grad_t = log_p * (-(1.0 - kw["smoothing"]))
            if kw["weight"] is not None:
                grad_t *= kw["weight"]
            grad_t *= s
            grad_t = _unrows(grad_t, shape)
        return grad_x, grad_t


class _NLL(Function):
    """``-w_y x[y]`` per position: a gather forward, a scatter backward; ``y`` has shape
    (N, 1, d...) so both work along the class axis in place, without moving it last."""

    @staticmethod
    def forward(
        ctx: Context, x: np.ndarray, *, y: np.ndarray, w_y: np.ndarray | None, reduction: str
    ) -> np.ndarray:
        per = np.take_along_axis(x, y, axis=1)[:, 0]  # (N, d...)
        np.negative(per, out=per)
        count = per.size
        if w_y is not None:  # class weights times the kept mask, per position
            per *= w_y
            count = float(w_y.sum())
        ctx.save(count)
        return _reduce(per, reduction, count)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (count,) = ctx.saved
        kw = ctx.kwargs
        picked = -_scale(grad, kw["reduction"], count)  # float, or (N, d...) for "none"
        if kw["w_y"] is not None:
            picked = picked * kw["w_y"]
        x = ctx.parents[0]
        g = np.zeros(x.shape, dtype=x.dtype)
        y = kw["y"]
        np.put_along_axis(g, y, np.broadcast_to(picked, y.shape[:1] + y.shape[2:])[:, None], axis=1)
        return (g,)


def _row_max(x: np.ndarray) -> np.ndarray:
    """The largest entry of each row: (N, C) -> (N,).

    NumPy reduces short rows one row at a time; up to 64 columns, reducing a transposed copy
    down its columns is 2-10x faster, and a max is exact either way.
    """
    # the ufunc's reduce directly: ndarray.max adds a Python call to each of these
    if x.shape[1] <= 64:
        return np.maximum.reduce(np.ascontiguousarray(x.T), axis=0)
    return np.maximum.reduce(x, axis=1)


_ROWS: dict[int, np.ndarray] = {}  # arange(m) for the batch sizes seen, m <= 512


def _row_indices(m: int) -> np.ndarray:
    """``arange(m)``, the row of each position; small ones are kept, read-only and shared,
    since making one costs a small batch's loss as much as its exp."""
    rows = _ROWS.get(m)
    if rows is None:
        rows = np.arange(m)
        if m <= 512:
            rows.flags.writeable = False
            _ROWS[m] = rows
    return rows


def _check_scores(name: str, x: Tensor, what: str) -> None:
    if x.ndim < 2:
        raise ValueError(
            f"{name}: {what} must have shape (N, C) (or (N, C, d...)); got shape "
            f"{x.shape}. For one sample use {what}.reshape(1, -1)."
        )


def _class_targets(name: str, scores: Tensor, target: Any, ignore_index: int | None) -> tuple:
    """Validate integer class targets; return them flat, with the mask of kept positions."""
    y = _target_array(target)
    expected = (scores.shape[0], *scores.shape[2:])
    if y.shape != expected:
        hint = ""
        if y.shape == scores.shape:
            hint = " One-hot targets? Pass class indices instead: target.argmax(axis=1)."
        raise ValueError(
            f"{name}: input of shape {scores.shape} needs integer targets of shape "
            f"{expected}, got target of shape {y.shape}.{hint}"
        )
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: target must hold integer class indices (got dtype {y.dtype}); "
            "convert with target.astype(np.int64)."
        )
    y = y.reshape(-1).copy()  # backward must see the targets of the forward, whatever the caller
    C = scores.shape[1]
    valid = None
    if ignore_index is not None:
        keep = y != ignore_index
        if not keep.all():
            valid = keep.astype(scores.dtype)
            y = np.where(keep, y, 0)  # any in-range index; the mask zeroes its contribution
    # One reduction checks both ends: read as unsigned, a negative index is a huge number
    if y.size and np.maximum.reduce(y.view(f"u{y.itemsize}")) >= C:
        bad = y[(y < 0) | (y >= C)]
        raise ValueError(
            f"{name}: target values must be class indices in [0, {C}) for input with "
            f"C={C} classes; got {bad[:5].tolist()}."
        )
    return y, valid


def _class_weight(name: str, weight: Any, scores: Tensor) -> np.ndarray | None:
    """Per-class weights as an array (C,) of the input's dtype; constants, with no gradient."""
    if weight is None:
        return None
    w = _target_array(weight)
    if w.shape != (scores.shape[1],):
        raise ValueError(
            f"{name}: weight must hold one number per class, shape ({scores.shape[1]},) for "
            f"input of shape {scores.shape} (got weight of shape {w.shape})."
        )
    return w.astype(scores.dtype)


def cross_entropy(
    logits: Any,
    target: Any,
    *,
    weight: Any = None,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy, ``-mean(log_softmax(logits)[i, y_i])``, of class indices or of
    class probabilities (soft labels): PyTorch's ``cross_entropy``, numbers and gradients.

    One fused op: stable for logits of any size (log-sum-exp with the max subtracted), and
    its backward is ``(softmax(logits) - q) / N`` with ``q`` the (smoothed) target.

    Parameters
    ----------
    logits : Tensor of shape (N, C) or (N, C, d1, ...)
        Unnormalised scores, classes on axis 1 (PyTorch's layout).
    target : array-like of int of shape (N,) or (N, d1, ...), or of float of logits' shape
        Class indices in ``[0, C)`` (no gradient), or a probability distribution over the
        classes per position (axis 1), which may itself be a tensor requiring a gradient.
    weight : array-like of shape (C,), optional
        Per-class weights, a constant. With class indices, ``"mean"`` divides by the summed
        weight of the targets (not ignored); with probabilities, by the number of positions.
    label_smoothing : float, default=0.0
        In ``[0, 1)``. The target distribution becomes ``(1 - eps) * target + eps / C``, as
        in PyTorch.
    ignore_index : int, optional
        Class-index target value whose positions add nothing to the loss or the gradient;
        ``"mean"`` leaves them out of its divisor (PyTorch uses -100 by default; here it is
        off unless given). Not allowed with probability targets.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or (N, d1, ...) for ``reduction="none"``)

    Raises
    ------
    ValueError
        If the logits are not at least 2-D, the target shape or dtype is wrong, a class index
        is out of range, ``weight`` is not (C,), ``label_smoothing`` is outside ``[0, 1)``,
        ``ignore_index`` is given with probabilities, or ``reduction`` is unknown.

    Examples
    --------
    >>> import numpy as np, theta
    >>> logits = theta.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=np.float64, requires_grad=True)
    >>> loss = cross_entropy(logits, np.array([0, 0]))
    >>> round(loss.item(), 4)
    1.1269
    >>> loss.backward()
    >>> np.round(logits.grad, 4).tolist()
    [[-0.0596, 0.0596], [-0.4404, 0.4404]]
    >>> round(cross_entropy(logits, np.array([[0.5, 0.5], [1.0, 0.0]])).item(), 4)
    1.6269
    """
    name = "cross_entropy"
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1) (got {label_smoothing}).")
    x = _prediction(name, logits, "logits")
    _check_scores(name, x, "logits")
    w = _class_weight(name, weight, x)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.shape == x.shape and t.dtype.kind == "f":
        if ignore_index is not None:
            raise ValueError(
                f"{name}: ignore_index applies to class-index targets, not to probability "
                f"targets of shape {t.shape}; give ignored positions a zero weight instead."
            )
        if not isinstance(target, Tensor):
            target = Tensor(t.astype(x.dtype, copy=False))
        return _SoftCrossEntropy.apply(
            x, target, weight=w, smoothing=float(label_smoothing), reduction=reduction
        )
    y, valid = _class_targets(name, x, target, ignore_index)
    return _CrossEntropy.apply(
        x, y=y, valid=valid, weight=w, smoothing=float(label_smoothing), reduction=reduction
    )


def nll_loss(
    log_probabilities: Any,
    target: Any,
    *,
    weight: Any = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices, ``-mean(w_y * log_probabilities[i, y_i])``.

    The second half of :func:`cross_entropy`: feed it ``log_softmax(logits, axis=1)``.
    PyTorch's ``nll_loss``, numbers and gradients.

    Parameters
    ----------
    log_probabilities : Tensor of shape (N, C) or (N, C, d1, ...)
        Log-probabilities, classes on axis 1.
    target : array-like of int of shape (N,) or (N, d1, ...)
        Class indices in ``[0, C)``. Targets carry no gradient.
    weight : array-like of shape (C,), optional
        Per-class weights, a constant; ``"mean"`` divides by the summed weight of the targets
        that are not ignored, as PyTorch does.
    ignore_index : int, optional
        Target value whose positions add nothing to the loss, the gradient or the divisor of
        ``"mean"`` (off unless given, as in :func:`cross_entropy`; PyTorch's default is -100).
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or (N, d1, ...) for ``reduction="none"``)

    Raises
    ------
    ValueError
        If the input is not at least 2-D, the target shape or dtype is wrong, a class index
        is out of range, ``weight`` is not (C,) or ``reduction`` is unknown.

    Examples
    --------
    >>> import numpy as np, theta
    >>> logp = theta.tensor(np.log([[0.5, 0.5], [0.25, 0.75]]))
    >>> round(nll_loss(logp, np.array([0, 1]), weight=[1.0, 3.0]).item(), 4)
    0.389
    """
    name = "nll_loss"
    _check_reduction(name, reduction)
    x = _prediction(name, log_probabilities, "log_probabilities")
    _check_scores(name, x, "log_probabilities")
    w = _class_weight(name, weight, x)
    y, valid = _class_targets(name, x, target, ignore_index)
    w_y = valid if w is None else (w[y] if valid is None else w[y] * valid)
    positions = (x.shape[0], *x.shape[2:])
    if w_y is not None:
        w_y = w_y.reshape(positions)
    y = y.reshape(positions[0], 1, *positions[1:])  # (N, 1, d...), for take_along_axis
    return _NLL.apply(x, y=y, w_y=w_y, reduction=reduction)


# --- lookup by name -----------------------------------------------------------------------

_LOSSES: dict[str, Loss] = {
    "mse": mse,
    "mae": mae,
    "huber": huber,
    "bce": binary_cross_entropy,
    "binary_cross_entropy": binary_cross_entropy,
    "bce_with_logits": binary_cross_entropy_with_logits,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "cross_entropy": cross_entropy,
    "hinge": hinge,
    "nll": nll_loss,
    "nll_loss": nll_loss,
}


def get_loss(loss: str | Loss) -> Loss:
    """Return the loss function called ``loss`` (or ``loss`` itself if it is callable).

    Parameters
    ----------
    loss : str or callable
        One of ``"mse"``, ``"mae"``, ``"huber"``, ``"bce"`` (``"binary_cross_entropy"``),
        ``"bce_with_logits"`` (``"binary_cross_entropy_with_logits"``), ``"cross_entropy"``,
        ``"hinge"``, ``"nll"`` (``"nll_loss"``); or a callable ``(prediction, target) ->
        Tensor``, returned unchanged.

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the valid names and the closest one.

    Examples
    --------
    >>> get_loss("mse") is mse
    True
    >>> get_loss("cross_entropy_loss")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: get_loss: unknown loss 'cross_entropy_loss'; did you mean 'cross_entropy'? ...
    """
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(
            f"get_loss: expected a loss name or a callable (got {type(loss).__name__})."
        )
    found = _LOSSES.get(loss)
    if found is None:
        close = difflib.get_close_matches(loss, _LOSSES, n=1)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"get_loss: unknown loss {loss!r}; {suggestion}Valid names: "
            f"{', '.join(sorted(_LOSSES))}."
        )
    return found
