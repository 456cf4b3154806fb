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

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "get_loss",
    "hinge", "huber", "mae", "mse",
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
    total = per.sum()
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
    def forward(ctx: Context, p: np.ndarray, y: np.ndarray, *, reduction: str) -> np.ndarray:
        y = y.astype(p.dtype, copy=False)
        with np.errstate(divide="ignore"):  # log(0) = -inf is clamped on the next line
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        per = log_p - log_q
        per *= y
        per += log_q
        np.negative(per, out=per)  # -(y log p + (1 - y) log(1 - p))
        ctx.save(p, y, (log_p, log_q) if ctx.needs_grad[1] else None)
        return _reduce(per, reduction, per.size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        p, y, logs = ctx.saved
        s = _scale(grad, ctx.kwargs["reduction"], p.size)
        grad_p = None
        if ctx.needs_grad[0]:
            # PyTorch's rule: the denominator is floored at 1e-12 so p in {0, 1} stays finite
            grad_p = p - y
            grad_p /= np.maximum((1.0 - p) * p, 1e-12)
            grad_p *= s
        grad_y = (logs[1] - logs[0]) * s if ctx.needs_grad[1] else None
        return grad_p, grad_y


class _BCEWithLogits(Function):
    """Binary cross-entropy of ``sigmoid(x)``, computed from the logit ``x`` without ever
    forming ``sigmoid(x)``: ``max(x, 0) - x * y + log1p(exp(-|x|))`` is finite for any ``x``
    (``exp`` only ever sees arguments <= 0), where ``log(sigmoid(1e4))`` is ``log(0)``."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray, *, reduction: str) -> np.ndarray:
        y = y.astype(x.dtype, copy=False)
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)  # exp(-|x|), in (0, 1]; backward reuses it for sigmoid
        per = np.log1p(e)
        per += np.maximum(x, 0.0)
        per -= x * y
        ctx.save(x, y, e)
        return _reduce(per, reduction, per.size)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, y, e = ctx.saved
        s = _scale(grad, ctx.kwargs["reduction"], x.size)
        grad_x = None
        if ctx.needs_grad[0]:
            # sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, with e = exp(-|x|)
            grad_x = 1.0 / (1.0 + e)
            np.multiply(grad_x, e, out=grad_x, where=x < 0)
            grad_x -= y
            grad_x *= s
        grad_y = -x * s if ctx.needs_grad[1] else None
        return grad_x, grad_y


def _binary(fn: type[Function], name: str, what: str, pred: Any, target: Any, **kwargs) -> Tensor:
    _check_reduction(name, kwargs["reduction"])
    pred = _prediction(name, pred, what)
    if not isinstance(target, Tensor):
        target = Tensor(_target_array(target))
    _check_same_shape(name, pred.shape, target.shape, what)
    return fn.apply(pred, target, **kwargs)


def binary_cross_entropy(probabilities: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of predicted probabilities, ``-(y log p + (1 - y) log(1 - p))``.

    Prefer :func:`binary_cross_entropy_with_logits` on the raw score: it is exact where this
    form must clamp. Here each log is clamped at -100 (as in PyTorch) so ``p`` of exactly 0
    or 1 gives a finite loss and a finite gradient.

    Parameters
    ----------
    probabilities : Tensor of shape (...)
        Values in ``[0, 1]``, e.g. the output of a sigmoid.
    target : Tensor or array-like of the same shape
        Labels in ``{0, 1}`` or soft labels in ``[0, 1]``.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or the input's shape for ``reduction="none"``)

    Raises
    ------
    ValueError
        If a probability lies outside ``[0, 1]``, the shapes differ, or ``reduction`` is
        unknown.

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
    return _binary(_BCE, "binary_cross_entropy", "probabilities", p, target, reduction=reduction)


def binary_cross_entropy_with_logits(
    logits: Any, target: Any, *, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(logits)``, fused and stable for logits of any size.

    Parameters
    ----------
    logits : Tensor of shape (...)
        Raw scores; ``sigmoid(logits)`` is the predicted probability of class 1.
    target : Tensor or array-like of the same shape
        Labels in ``{0, 1}`` or soft labels in ``[0, 1]``.
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
        reduction=reduction,
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


# --- softmax cross-entropy ----------------------------------------------------------------


class _CrossEntropy(Function):
    """Softmax cross-entropy with integer targets and PyTorch's label smoothing.

    The target distribution is ``q = (1 - eps) * onehot(y) + eps / C``, the per-sample loss
    ``-sum_c q_c log_softmax(x)_c`` and its gradient ``softmax(x) - q``. Fused for speed and
    stability: forward allocates one (N, C) array (the shifted logits, exponentiated in
    place) and backward one more (the gradient); softmax's division by the row sums is
    folded into backward's single pass rather than costing forward a pass of its own.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        *,
        y: np.ndarray,
        valid: np.ndarray | None,
        smoothing: float,
        reduction: str,
    ) -> np.ndarray:
        # Dimensions: N samples (times any trailing axes), C classes.
        shape = x.shape
        C = shape[1]
        if x.ndim > 2:
            x = np.moveaxis(x, 1, -1).reshape(-1, C)  # (N * d..., C)
        N = x.shape[0]
        rows = np.arange(N)
        shifted = x - _row_max(x)[:, None]  # (N, C), <= 0: exp cannot overflow
        picked = shifted[rows, y]  # (N,)
        class_sum = shifted.sum(axis=1) if smoothing else None  # (N,)
        e = np.exp(shifted, out=shifted)  # (N, C); softmax = e / norm, divided in backward
        norm = e.sum(axis=1)  # (N,), >= 1: log is finite
        lse = np.log(norm)
        # log_softmax = shifted - lse, so -log_softmax[y] = lse - picked
        per = lse - picked
        if smoothing:
            per *= 1.0 - smoothing
            per += (smoothing / C) * (C * lse - class_sum)
        count = N
        if valid is not None:
            per *= valid  # ignored positions: loss 0 (their gathered index is a dummy 0)
            count = int(valid.sum())
        ctx.save(e, norm, rows, count, shape)
        if reduction == "none":
            return per.reshape(shape[0], *shape[2:])
        return _reduce(per, reduction, count)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        e, norm, rows, count, shape = ctx.saved
        kw = ctx.kwargs
        y, valid, smoothing = kw["y"], kw["valid"], kw["smoothing"]
        s = _scale(grad, kw["reduction"], count)  # d loss / d per-sample loss
        if isinstance(s, np.ndarray):
            s = s.reshape(-1)  # (N,)
        if valid is not None:
            s = s * valid  # (N,)
        # (softmax - q) * s, with softmax = e / norm folded into one pass over (N, C)
        g = e * (s / norm)[:, None]  # (N, C)
        if smoothing:
            g -= (smoothing / e.shape[1]) * (s[:, None] if isinstance(s, np.ndarray) else s)
        g[rows, y] -= (1.0 - smoothing) * s
        if len(shape) > 2:  # back from (N * d..., C) to (N, C, d...)
            g = np.moveaxis(g.reshape(shape[0], *shape[2:], shape[1]), -1, 1)
        return (g,)


def _row_max(x: np.ndarray) -> np.ndarray:
    """The largest entry of each row: (N, C) -> (N,).

    NumPy reduces short rows one row at a time; up to 64 columns, reducing a transposed copy
    down its columns is 2-10x faster, and a max is exact either way.
    """
    if x.shape[1] <= 64:
        return np.ascontiguousarray(x.T).max(axis=0)
    return x.max(axis=1)


def _class_targets(logits: Tensor, target: Any, ignore_index: int | None) -> tuple:
    """Validate integer class targets; return them flat, with the mask of kept positions."""
    y = _target_array(target)
    if logits.ndim < 2:
        raise ValueError(
            f"cross_entropy: logits must have shape (N, C) (or (N, C, d...)); got shape "
            f"{logits.shape}. For one sample use logits.reshape(1, -1)."
        )
    expected = (logits.shape[0], *logits.shape[2:])
    if y.shape != expected:
        hint = ""
        if y.shape == logits.shape:
            hint = " One-hot targets? Pass class indices instead: target.argmax(axis=1)."
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need integer targets of shape "
            f"{expected}, got target of shape {y.shape}.{hint}"
        )
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"cross_entropy: target must hold integer class indices (got dtype {y.dtype}); "
            "convert with target.astype(np.int64)."
        )
    y = y.reshape(-1).copy()  # backward must see the targets of the forward, whatever the caller
    C = logits.shape[1]
    valid = None
    if ignore_index is not None:
        keep = y != ignore_index
        if not keep.all():
            valid = keep.astype(logits.dtype)
            y = np.where(keep, y, 0)  # any in-range index; the mask zeroes its contribution
    # One reduction checks both ends: read as unsigned, a negative index is a huge number
    if y.size and y.view(f"u{y.itemsize}").max() >= C:
        bad = y[(y < 0) | (y >= C)]
        raise ValueError(
            f"cross_entropy: target values must be class indices in [0, {C}) for logits with "
            f"C={C} classes; got {bad[:5].tolist()}."
        )
    return y, valid


def cross_entropy(
    logits: Any,
    target: Any,
    *,
    label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Softmax cross-entropy of integer class targets, ``-mean(log_softmax(logits)[i, y_i])``.

    One fused op: stable for logits of any size (log-sum-exp with the max subtracted), and
    its backward is ``(softmax(logits) - q) / N`` with ``q`` the (smoothed) one-hot target.

    Parameters
    ----------
    logits : Tensor of shape (N, C) or (N, C, d1, ...)
        Unnormalised scores, classes on axis 1 (PyTorch's layout).
    target : array-like of int of shape (N,) or (N, d1, ...)
        Class indices in ``[0, C)``. Targets carry no gradient.
    label_smoothing : float, default=0.0
        In ``[0, 1)``. The target distribution becomes ``(1 - eps) * onehot + eps / C``, as
        in PyTorch.
    ignore_index : int, optional
        Target value whose positions add nothing to the loss or the gradient; ``"mean"``
        divides by the number of other positions (PyTorch uses -100 by default; here it is
        off unless given).
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    Tensor of shape () (or (N, d1, ...) for ``reduction="none"``)

    Raises
    ------
    ValueError
        If the logits are not at least 2-D, the target shape or dtype is wrong, a class index
        is out of range, ``label_smoothing`` is outside ``[0, 1)`` or ``reduction`` is unknown.

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
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must be in [0, 1) (got {label_smoothing})."
        )
    x = _prediction("cross_entropy", logits, "logits")
    y, valid = _class_targets(x, target, ignore_index)
    return _CrossEntropy.apply(
        x, y=y, valid=valid, smoothing=float(label_smoothing), reduction=reduction
    )


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
}


def get_loss(loss: str | Loss) -> Loss:
    """Return the loss function called ``loss`` (or ``loss`` itself if it is callable).

    Parameters
    ----------
    loss : str or callable
        One of ``"mse"``, ``"mae"``, ``"huber"``, ``"bce"`` (``"binary_cross_entropy"``),
        ``"bce_with_logits"`` (``"binary_cross_entropy_with_logits"``), ``"cross_entropy"``,
        ``"hinge"``; or a callable ``(prediction, target) -> Tensor``, returned unchanged.

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
