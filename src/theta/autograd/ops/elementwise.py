"""Elementwise ops: arithmetic with broadcasting, unary math, activations, and comparisons.

Binary ops return gradients in the broadcast shape; the engine sums them back to each
input's shape. Scalars in backward rules are Python floats so float32 stays float32.
"""

from __future__ import annotations

import inspect
import math
import operator
from functools import partial
from typing import Any

import numpy as np

from theta import special as _special
from theta.autograd._tensor import Tensor, as_tensor, get_default_dtype
from theta.autograd.function import Context, Function
from theta.special import sigmoid as _sigmoid

__all__ = [
    "abs", "acos", "add", "allclose", "asin", "astype", "atan", "atan2", "bitwise_and",
    "bitwise_not", "bitwise_or", "bitwise_xor", "ceil", "clip", "compare", "cos", "cosh", "div",
    "elu", "erf", "exp", "exp2", "expm1", "floor", "floor_divide", "gelu", "hardsigmoid",
    "hardswish", "hardtanh", "isclose", "isfinite", "isinf", "isnan", "leaky_relu", "left_shift",
    "log", "log10", "log1p", "log2", "logical_and", "logical_not", "logical_or", "logical_xor",
    "logsigmoid", "maximum", "minimum", "mish", "mul", "neg", "power", "reciprocal", "relu",
    "relu6", "remainder", "right_shift", "round", "rsqrt", "selu", "sigmoid", "sign", "silu",
    "sin", "sinh", "softplus", "sqrt", "square", "sub", "tanh", "trunc", "where",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]
_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def broadcast_error(op: str, *shapes: tuple[int, ...]) -> ValueError:
    """The error for shapes that do not broadcast, naming the op, the shapes and the axis."""
    shown = " and ".join(str(s) for s in shapes)
    for back in range(1, max(len(s) for s in shapes) + 1):
        sizes = {s[-back] for s in shapes if len(s) >= back} - {1}
        if len(sizes) > 1:
            sizes_text = " and ".join(str(s[-back]) for s in shapes if len(s) >= back)
            return ValueError(
                f"{op}: shapes {shown} cannot be broadcast together; axis -{back} has sizes "
                f"{sizes_text}."
            )
    return ValueError(f"{op}: shapes {shown} cannot be broadcast together.")


class Add(Function):
    """``a + b``."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return grad, grad


class Sub(Function):
    """``a - b``; a primitive rather than ``a + (-b)`` to save one pass over memory."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return grad, (-grad if ctx.needs_grad[1] else None)


class Mul(Function):
    """``a * b``."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        a, b = ctx.saved
        return (grad * b if ctx.needs_grad[0] else None, grad * a if ctx.needs_grad[1] else None)


class Div(Function):
    """``a / b``."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a / b
        if a.dtype.kind in "biu" and b.dtype.kind in "biu":  # integers divide to the default
            out = out.astype(get_default_dtype())  # dtype, as in PyTorch (NumPy: float64)
        ctx.save(b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        b, out = ctx.saved
        grad_a = grad / b
        return grad_a if ctx.needs_grad[0] else None, (-grad_a * out if ctx.needs_grad[1] else None)


class Pow(Function):
    """``a ** b`` with both sides tensors, with PyTorch's gradients where ``a == 0``: d/da is 0
    where ``b == 0`` (``a ** 0`` is constant), and d/db is 0 where ``b >= 0``, else
    ``out * log(0) = -inf``."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a**b
        ctx.save(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        a, b, out = ctx.saved
        grad_a = grad_b = None
        # 0 ** negative is inf and the log of 0 or of a negative base is -inf or NaN: the
        # values PyTorch gives, so NumPy's warnings about them say nothing new
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.needs_grad[0]:
                grad_a = grad * np.where(b == 0, 0.0, b * a ** (b - 1))
            if ctx.needs_grad[1]:
                grad_b = grad * np.where((a == 0) & (b >= 0), 0.0, out * np.log(a))
        return grad_a, grad_b


class PowScalar(Function):
    """``x ** p`` for a fixed Python number ``p``: the common case, without a log in backward."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, exponent: float) -> np.ndarray:
        ctx.save(x)
        if exponent == 2:
            return x * x
        return x**exponent

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (x,) = ctx.saved
        p = ctx.kwargs["exponent"]
        if p == 2:
            return (grad * (2.0 * x),)
        if p == 0:  # x ** 0 is constant; the rule below would give 0 * inf = NaN at x = 0
            return (np.zeros_like(grad),)
        with np.errstate(divide="ignore"):  # 0 ** (p - 1) for p < 1 is inf, as in PyTorch
            return (grad * (p * x ** (p - 1)),)


class Unary(Function):
    """An elementwise op given by its value ``f(x)`` and its derivative ``df(x, out)``.

    Subclasses set both as static functions (tinygrad's rule table, one line per rule);
    backward multiplies the incoming gradient by ``df``. Keyword arguments of ``apply``
    (an activation's ``alpha``) reach both.
    """

    f: Any
    df: Any

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        out = ctx.fn.f(x, **kwargs)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad * ctx.fn.df(*ctx.saved, **ctx.kwargs),)


class Neg(Unary):
    """``-x``.

    Examples
    --------
    >>> import theta
    >>> theta.neg(theta.tensor([1, -2]))
    tensor([-1,  2])
    """

    f, df = np.negative, staticmethod(lambda x, out: -1.0)


class Exp(Unary):
    """``exp(x)``; the derivative is the output itself.

    Examples
    --------
    >>> import theta
    >>> theta.exp(theta.tensor([0.0, 1.0])).round(4)
    tensor([1.    , 2.7183])
    """

    f, df = np.exp, staticmethod(lambda x, out: out)


class Log(Unary):
    """Natural ``log(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.log(theta.tensor([1.0, 10.0])).round(4)
    tensor([0.    , 2.3026])
    """

    f, df = np.log, staticmethod(lambda x, out: 1.0 / x)


class Log1p(Unary):
    """``log(1 + x)``, accurate for small ``x``.

    Examples
    --------
    >>> import theta
    >>> theta.log1p(theta.tensor([0.0, 1.0])).round(4)
    tensor([0.    , 0.6931])
    """

    f, df = np.log1p, staticmethod(lambda x, out: 1.0 / (1.0 + x))


class Sqrt(Unary):
    """``sqrt(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.sqrt(theta.tensor([4, 9]))
    tensor([2., 3.])
    """

    f, df = np.sqrt, staticmethod(lambda x, out: 0.5 / out)


class Abs(Unary):
    """``|x|``; the gradient at 0 is 0, as in PyTorch.

    Examples
    --------
    >>> import theta
    >>> theta.abs(theta.tensor([-2, 0, 3]))
    tensor([2, 0, 3])
    """

    f, df = np.abs, staticmethod(lambda x, out: np.sign(x))


class Sin(Unary):
    """``sin(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.sin(theta.tensor([0.0, 1.5708])).round(4)
    tensor([0., 1.])
    """

    f, df = np.sin, staticmethod(lambda x, out: np.cos(x))


class Cos(Unary):
    """``cos(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.cos(theta.tensor([0.0, 3.1416])).round(4)
    tensor([ 1., -1.])
    """

    f, df = np.cos, staticmethod(lambda x, out: -np.sin(x))


class Tanh(Unary):
    """``tanh(x)``; the derivative reuses the output.

    Examples
    --------
    >>> import theta
    >>> theta.tanh(theta.tensor([-1.0, 0.0, 1.0])).round(4)
    tensor([-0.7616,  0.    ,  0.7616])
    """

    f, df = np.tanh, staticmethod(lambda x, out: 1.0 - out * out)


class Reciprocal(Unary):
    """``1 / x``; integers give floats, as in PyTorch (NumPy's ``reciprocal`` truncates).

    Examples
    --------
    >>> import theta
    >>> theta.reciprocal(theta.tensor([1, 2, 4]))
    tensor([1.  , 0.5 , 0.25])
    """

    f, df = staticmethod(lambda x: 1.0 / x), staticmethod(lambda x, out: -out * out)


class Square(Unary):
    """``x * x``.

    Examples
    --------
    >>> import theta
    >>> theta.square(theta.tensor([-3, 2]))
    tensor([9, 4])
    """

    f, df = np.square, staticmethod(lambda x, out: 2.0 * x)


class Rsqrt(Unary):
    """``1 / sqrt(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.rsqrt(theta.tensor([1.0, 4.0]))
    tensor([1. , 0.5])
    """

    f = staticmethod(lambda x: 1.0 / np.sqrt(x))
    df = staticmethod(lambda x, out: -0.5 * out * out * out)


class Exp2(Unary):
    """``2 ** x``.

    Examples
    --------
    >>> import theta
    >>> theta.exp2(theta.tensor([0.0, 3.0]))
    tensor([1., 8.])
    """

    f, df = np.exp2, staticmethod(lambda x, out: out * _LN2)


class Log2(Unary):
    """Base-2 ``log2(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.log2(theta.tensor([1.0, 8.0]))
    tensor([0., 3.])
    """

    f, df = np.log2, staticmethod(lambda x, out: 1.0 / (x * _LN2))


class Log10(Unary):
    """Base-10 ``log10(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.log10(theta.tensor([1.0, 1000.0])).round(4)
    tensor([0., 3.])
    """

    f, df = np.log10, staticmethod(lambda x, out: 1.0 / (x * _LN10))


class Expm1(Unary):
    """``exp(x) - 1``, accurate for small ``x``.

    Examples
    --------
    >>> import theta
    >>> theta.expm1(theta.tensor([0.0, 1.0])).round(4)
    tensor([0.    , 1.7183])
    """

    f, df = np.expm1, staticmethod(lambda x, out: out + 1.0)


class Sinh(Unary):
    """``sinh(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.sinh(theta.tensor([0.0, 1.0])).round(4)
    tensor([0.    , 1.1752])
    """

    f, df = np.sinh, staticmethod(lambda x, out: np.cosh(x))


class Cosh(Unary):
    """``cosh(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.cosh(theta.tensor([0.0, 1.0])).round(4)
    tensor([1.    , 1.5431])
    """

    f, df = np.cosh, staticmethod(lambda x, out: np.sinh(x))


class Asin(Unary):
    """``arcsin(x)`` on ``[-1, 1]``.

    Examples
    --------
    >>> import theta
    >>> theta.asin(theta.tensor([0.0, 1.0])).round(4)
    tensor([0.    , 1.5708])
    """

    f, df = np.arcsin, staticmethod(lambda x, out: 1.0 / np.sqrt(1.0 - x * x))


class Acos(Unary):
    """``arccos(x)`` on ``[-1, 1]``.

    Examples
    --------
    >>> import theta
    >>> theta.acos(theta.tensor([1.0, 0.0])).round(4)
    tensor([0.    , 1.5708])
    """

    f, df = np.arccos, staticmethod(lambda x, out: -1.0 / np.sqrt(1.0 - x * x))


class Atan(Unary):
    """``arctan(x)``.

    Examples
    --------
    >>> import theta
    >>> theta.atan(theta.tensor([0.0, 1.0])).round(4)
    tensor([0.    , 0.7854])
    """

    f, df = np.arctan, staticmethod(lambda x, out: 1.0 / (1.0 + x * x))


class Erf(Unary):
    """The error function ``erf(x)`` (NumPy has none: ``theta.special.erf``).

    Examples
    --------
    >>> import theta
    >>> theta.erf(theta.tensor([0.0, 1.0])).round(4)
    tensor([0.    , 0.8427])
    """

    f = staticmethod(_special.erf)
    df = staticmethod(lambda x, out: _TWO_OVER_SQRT_PI * np.exp(-x * x))


class Flat(Function):
    """An op that is constant between jumps (floor, ceil, trunc, round, sign, floor division):
    its gradient is 0 everywhere, at the jumps too, as PyTorch defines it. ``f`` computes it."""

    @staticmethod
    def forward(ctx: Context, *arrays: np.ndarray, f: Any) -> np.ndarray:
        return f(*arrays)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return tuple(
            np.zeros(p.shape, p.dtype) if need else None
            for p, need in zip(ctx.parents, ctx.needs_grad, strict=True)
        )


class Atan2(Function):
    """``arctan2(y, x)``, the angle of the point ``(x, y)``."""

    @staticmethod
    def forward(ctx: Context, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        ctx.save(y, x)
        return np.arctan2(y, x)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        y, x = ctx.saved
        scale = grad / (x * x + y * y)
        return (scale * x if ctx.needs_grad[0] else None, -scale * y if ctx.needs_grad[1] else None)


class Remainder(Function):
    """``a mod b`` with the sign of ``b`` (Python's and NumPy's ``%``); PyTorch's gradients:
    1 for ``a`` and ``-floor(a / b)`` for ``b``."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ctx.save(a, b)
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        a, b = ctx.saved
        return grad, (-grad * np.floor_divide(a, b) if ctx.needs_grad[1] else None)


class Sigmoid(Unary):
    """``1 / (1 + exp(-x))``; a primitive because the composed form overflows ``exp`` for
    large negative ``x``.

    Examples
    --------
    >>> import theta
    >>> theta.sigmoid(theta.tensor([-100.0, 0.0, 2.0])).round(4)
    tensor([0.    , 0.5   , 0.8808])
    """

    f, df = staticmethod(_sigmoid), staticmethod(lambda x, out: out * (1.0 - out))


def _softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """PyTorch's ``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``;
    ``logaddexp`` keeps it finite whatever the threshold."""
    bx = x * beta
    soft = np.logaddexp(0.0, bx).astype(x.dtype, copy=False) / beta
    return np.where(bx > threshold, x, soft)


class Softplus(Unary):
    """Smooth ReLU ``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (PyTorch's)."""

    f = staticmethod(_softplus)
    df = staticmethod(
        lambda x, out, beta, threshold: np.where(x * beta > threshold, 1.0, _sigmoid(x * beta))
    )


class ELU(Unary):
    """``scale * x`` for ``x > 0``, else ``scale * alpha * (exp(x) - 1)`` (ELU; SELU's fixed
    constants). A primitive: composed, ``exp`` of the unused positive branch overflows."""

    f = staticmethod(
        lambda x, alpha, scale: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))) * scale
    )
    df = staticmethod(
        lambda x, out, alpha, scale: (
            np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))) * scale
        )
    )


def _dsilu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(np.logaddexp(0.0, x).astype(x.dtype, copy=False))


def _dmish(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    t = np.tanh(np.logaddexp(0.0, x).astype(x.dtype, copy=False))
    return t + x * _sigmoid(x) * (1.0 - t * t)


class SiLU(Unary):
    """``x * sigmoid(x)`` (swish); one op instead of two, as it is a hot path of modern nets.

    Examples
    --------
    >>> import theta
    >>> theta.silu(theta.tensor([-1.0, 0.0, 1.0])).round(4)
    tensor([-0.2689,  0.    ,  0.7311])
    """

    f, df = staticmethod(lambda x: x * _sigmoid(x)), staticmethod(_dsilu)


class Mish(Unary):
    """``x * tanh(softplus(x))``; one op instead of three passes (and three saved arrays).

    Examples
    --------
    >>> import theta
    >>> theta.mish(theta.tensor([-1.0, 0.0, 1.0])).round(4)
    tensor([-0.3034,  0.    ,  0.8651])
    """

    f, df = staticmethod(_mish), staticmethod(_dmish)


class Hardtanh(Unary):
    """``x`` limited to ``[low, high]``; unlike ``clip`` the gradient is 0 at the bounds
    themselves (PyTorch's ``hardtanh`` and ``relu6``)."""

    f = staticmethod(lambda x, low, high: np.clip(x, low, high))
    df = staticmethod(lambda x, out, low, high: (x > low) & (x < high))


class Hardsigmoid(Unary):
    """``relu6(x + 3) / 6``, piecewise linear; the gradient is 0 at ``x = -3`` and ``3`` (as in
    PyTorch) and exactly 1/6 between (PyTorch's kernel uses float32's 1/6 even in float64).

    Examples
    --------
    >>> import theta
    >>> theta.hardsigmoid(theta.tensor([-4.0, 0.0, 1.5, 4.0]))
    tensor([0.  , 0.5 , 0.75, 1.  ])
    """

    f = staticmethod(lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0)
    df = staticmethod(lambda x, out: (np.abs(x) < 3.0) * x.dtype.type(1.0 / 6.0))


class Hardswish(Unary):
    """``x * relu6(x + 3) / 6``; PyTorch's gradient: 0 up to ``x = -3``, ``x / 3 + 1/2`` on
    ``(-3, 3)``, and 1 from ``x = 3``.

    Examples
    --------
    >>> import theta
    >>> theta.hardswish(theta.tensor([-1.0, 0.0, 1.0, 4.0])).round(4)
    tensor([-0.3333,  0.    ,  0.6667,  4.    ])
    """

    f = staticmethod(lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0)
    df = staticmethod(
        lambda x, out: np.where(x <= -3.0, 0.0, np.where(x < 3.0, x / 3.0 + 0.5, 1.0))
    )


class LogSigmoid(Unary):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``; a primitive: composed, ``log`` of a
    sigmoid that underflowed to 0 is -inf for very negative ``x``.

    Examples
    --------
    >>> import theta
    >>> theta.logsigmoid(theta.tensor([-100.0, 0.0])).round(4)
    tensor([-100.    ,   -0.6931])
    """

    f = staticmethod(lambda x: np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x))))
    df = staticmethod(lambda x, out: _sigmoid(-x))


class ReLU(Function):
    """``max(x, 0)``; the gradient at 0 is 0.

    Examples
    --------
    >>> import theta
    >>> theta.relu(theta.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.])
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = np.maximum(x, 0)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad * (ctx.saved[0] > 0),)


class LeakyReLU(Function):
    """``x`` for ``x > 0``, else ``negative_slope * x``."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, negative_slope: float) -> np.ndarray:
        positive = x > 0
        ctx.save(positive)
        return np.where(positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (np.where(ctx.saved[0], grad, grad * ctx.kwargs["negative_slope"]),)


class GELU(Function):
    """Gaussian error linear unit ``x * Phi(x)``, exact (erf) or with the tanh approximation.

    A primitive for speed (the composed tanh form is about ten passes over memory) and for
    memory: like PyTorch it saves only its input, which the graph keeps anyway, and the
    backward recomputes the rest (cheaply, in cache-sized blocks: see ``theta.special``).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, approximate: str) -> np.ndarray:
        ctx.save(x)
        return _special.gelu(x, approximate)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (x,) = ctx.saved
        return (_special.gelu_grad(x, grad, ctx.kwargs["approximate"]),)


class Maximum(Function):
    """Elementwise ``max(a, b)``, or ``min(a, b)`` with ``lower=True``; ties send half the
    gradient to each side (as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray, *, lower: bool) -> np.ndarray:
        ctx.save(a, b)
        return np.minimum(a, b) if lower else np.maximum(a, b)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        a, b = ctx.saved
        wins = a < b if ctx.kwargs["lower"] else a > b
        share = np.where(a == b, 0.5, wins).astype(grad.dtype, copy=False)
        return (
            grad * share if ctx.needs_grad[0] else None,
            grad * (1.0 - share) if ctx.needs_grad[1] else None,
        )


class Clip(Function):
    """``x`` limited to ``[low, high]``; the gradient passes where ``low <= x <= high``."""

    @staticmethod
    def forward(
        ctx: Context, x: np.ndarray, *, low: float | None, high: float | None
    ) -> np.ndarray:
        ctx.save(x)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        (x,) = ctx.saved
        low, high = ctx.kwargs["low"], ctx.kwargs["high"]
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        return (grad * inside,)


class ClipTensor(Function):
    """``clip`` with tensor bounds, as ``torch.clamp``: ``low`` gets the gradient where
    ``x < low`` (and ``low < high``), ``high`` where ``x > high`` (or ``high < low``, where
    the output is ``high``). A missing bound is an infinite one."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        ctx.save(x, low, high)
        return np.minimum(np.maximum(x, low), high)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x, low, high = ctx.saved
        zero = np.zeros((), grad.dtype)
        need_x, need_low, need_high = ctx.needs_grad
        return (
            np.where((x >= low) & (x <= high), grad, zero) if need_x else None,
            np.where((x < low) & (low < high), grad, zero) if need_low else None,
            np.where((x > high) | (high < low), grad, zero) if need_high else None,
        )


class Where(Function):
    """``a`` where ``condition`` holds, else ``b`` (``condition`` carries no gradient)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray, *, condition: np.ndarray) -> np.ndarray:
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        cond = ctx.kwargs["condition"]
        zero = np.zeros((), dtype=grad.dtype)
        return (
            np.where(cond, grad, zero) if ctx.needs_grad[0] else None,
            np.where(cond, zero, grad) if ctx.needs_grad[1] else None,
        )


class AsType(Function):
    """Cast to another dtype; the gradient is cast back by the engine."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, *, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad,)


# --- public functions (the lowercase twins) -----------------------------------------------


# One example for each function a factory makes: the call and what the doctest shows.
_EXAMPLES: dict[str, tuple[str, str]] = {
    "add": ("theta.add(theta.tensor([1, 2]), 10)", "tensor([11, 12])"),
    "sub": ("theta.sub(theta.tensor([5, 7]), 2)", "tensor([3, 5])"),
    "mul": ("theta.mul(theta.tensor([1.0, 2.0, 3.0]), 0.5)", "tensor([0.5, 1. , 1.5])"),
    "maximum": ("theta.maximum(theta.tensor([1, 5]), theta.tensor([3, 2]))", "tensor([3, 5])"),
    "minimum": ("theta.minimum(theta.tensor([1, 5]), theta.tensor([3, 2]))", "tensor([1, 2])"),
    "atan2": ("theta.atan2(theta.tensor([1.0, -1.0]), -1).round(4)", "tensor([ 2.3562, -2.3562])"),
    "remainder": ("theta.remainder(theta.tensor([-3, 3]), 2)", "tensor([1, 1])"),
    "floor_divide": ("theta.floor_divide(theta.tensor([-7, 7]), 2)", "tensor([-4,  3])"),
    "floor": ("theta.floor(theta.tensor([-1.5, 1.5]))", "tensor([-2.,  1.])"),
    "ceil": ("theta.ceil(theta.tensor([-1.5, 1.5]))", "tensor([-1.,  2.])"),
    "trunc": ("theta.trunc(theta.tensor([-1.5, 1.5]))", "tensor([-1.,  1.])"),
    "sign": ("theta.sign(theta.tensor([-2.0, 0.0, 3.0]))", "tensor([-1.,  0.,  1.])"),
    "relu6": ("theta.relu6(theta.tensor([-1.0, 3.0, 9.0]))", "tensor([0., 3., 6.])"),
    "isnan": ('theta.isnan(theta.tensor([1.0, float("nan")]))', "tensor([False,  True])"),
    "isinf": ('theta.isinf(theta.tensor([1.0, float("inf")]))', "tensor([False,  True])"),
    "isfinite": ('theta.isfinite(theta.tensor([1.0, float("inf")]))', "tensor([ True, False])"),
    "logical_and": ("theta.logical_and(theta.tensor([1, 1]), [1, 0])", "tensor([ True, False])"),
    "logical_or": ("theta.logical_or(theta.tensor([0, 0]), [1, 0])", "tensor([ True, False])"),
    "logical_xor": ("theta.logical_xor(theta.tensor([1, 1]), [1, 0])", "tensor([False,  True])"),
    "logical_not": ("theta.logical_not(theta.tensor([True, False]))", "tensor([False,  True])"),
    "bitwise_and": ("theta.bitwise_and(theta.tensor([12]), theta.tensor([10]))", "tensor([8])"),
    "bitwise_or": ("theta.bitwise_or(theta.tensor([12]), theta.tensor([10]))", "tensor([14])"),
    "bitwise_xor": ("theta.bitwise_xor(theta.tensor([12]), theta.tensor([10]))", "tensor([6])"),
    "bitwise_not": ("theta.bitwise_not(theta.tensor([0, 5]))", "tensor([-1, -6])"),
    "left_shift": ("theta.left_shift(theta.tensor([1, 3]), 2)", "tensor([ 4, 12])"),
    "right_shift": ("theta.right_shift(theta.tensor([8, 12]), 2)", "tensor([2, 3])"),
}


def _with_example(name: str, doc: str) -> str:
    """``doc`` with an ``Examples`` section made from ``_EXAMPLES[name]``, so that each
    function a factory makes shows (and doctests) its own call."""
    call, shown = _EXAMPLES[name]
    return f"{inspect.cleandoc(doc)}\n\nExamples\n--------\n>>> import theta\n>>> {call}\n{shown}\n"


def _with_scalar(like: Any, value: Any) -> tuple[Any, Tensor]:
    """``(like, value)`` as two tensors: a scalar takes ``like``'s floating dtype, and a Python
    float meeting an integer or bool tensor makes both the default dtype (PyTorch's rule:
    ``int_tensor * 2.5`` is float32, where NumPy's would be float64)."""
    if isinstance(value, float) and isinstance(like, Tensor) and like.data.dtype.kind in "biu":
        dtype = get_default_dtype()
        return (Tensor._from_op(like.data.astype(dtype), None),
                Tensor._from_op(np.asarray(value, dtype=dtype), None))  # fmt: skip
    return like, as_tensor(value, like=like)


def _binary_twin(fn: type[Function], name: str, **kwargs: Any) -> Any:
    """The public function of a two-input op, e.g. ``add(a, b)``, with broadcasting.

    It lifts scalars and arrays to tensors (a scalar takes its partner's dtype) and applies
    ``fn``, in one frame: it runs under every ``Tensor`` operator (the per-op overhead).
    """

    def op(a: Any, b: Any) -> Tensor:
        if not isinstance(a, Tensor):
            b, a = _with_scalar(b, a)
        if not isinstance(b, Tensor):
            a, b = _with_scalar(a, b)
        try:
            return fn.apply(a, b, **kwargs)
        except ValueError as exc:
            if "broadcast" in str(exc) and not str(exc).startswith(name):
                raise broadcast_error(name, a.shape, b.shape) from None
            raise

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}(a, b)`` with NumPy broadcasting."
    if name in _EXAMPLES:  # not for the private helpers ``_power`` and ``_trunc_div``
        op.__doc__ = _with_example(name, op.__doc__)
    return op


add = _binary_twin(Add, "add")
sub = _binary_twin(Sub, "sub")
mul = _binary_twin(Mul, "mul")
true_divide = _binary_twin(Div, "div")
maximum = _binary_twin(Maximum, "maximum", lower=False)
minimum = _binary_twin(Maximum, "minimum", lower=True)
_power = _binary_twin(Pow, "power")  # the general case of power
atan2 = _binary_twin(Atan2, "atan2")
remainder = _binary_twin(Remainder, "remainder")
floor_divide = _binary_twin(Flat, "floor_divide", f=np.floor_divide)


def _trunc_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` rounded toward zero; integers stay integers (exact, with no float round trip)."""
    if np.result_type(a, b).kind == "f":
        return np.trunc(a / b)
    q = np.floor_divide(a, b)
    return q + ((q < 0) & (q * b != a))  # floor is one below trunc where a negative q is inexact


_trunc_div = _binary_twin(Flat, "div", f=_trunc_divide)


def div(a: Any, b: Any, rounding_mode: str | None = None) -> Tensor:
    """``a / b``, or rounded toward zero (``rounding_mode="trunc"``) or down (``"floor"``),
    as ``torch.div``; the rounded forms have zero gradient and keep integers integers.

    Examples
    --------
    >>> import theta
    >>> theta.div(theta.tensor([-7, 7]), 2, rounding_mode="trunc").tolist()
    [-3, 3]
    """
    if rounding_mode is None:
        return true_divide(a, b)
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        return _trunc_div(a, b)
    raise ValueError(
        f"div: rounding_mode must be None, 'trunc' or 'floor' (got {rounding_mode!r})."
    )


def power(a: Any, b: Any) -> Tensor:
    """``a ** b``; a Python-number exponent takes the fast path without ``log(a)``.

    Examples
    --------
    >>> import theta
    >>> theta.power(theta.tensor([1.0, 2.0, 3.0]), 2)
    tensor([1., 4., 9.])
    >>> theta.power(2.0, theta.tensor([0.0, 1.0, 3.0]))
    tensor([1., 2., 8.])
    """
    if isinstance(a, Tensor) and isinstance(b, int | float) and not isinstance(b, bool):
        return PowScalar.apply(a, exponent=b)
    return _power(a, b)


def _unary_twin(fn: type[Function], name: str, *, floating: bool = True, **kwargs: Any) -> Any:
    """The public function of a one-input op: ``exp(x)`` is ``Exp.apply(x)``. A ``floating``
    op turns integer and bool input into the default dtype first, as PyTorch does."""

    def op(x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else as_tensor(x)
        if floating and x.data.dtype.kind in "biu":
            x = Tensor._from_op(x.data.astype(get_default_dtype()), None)
        return fn.apply(x, **kwargs)  # one frame

    op.__name__ = op.__qualname__ = name
    op.__doc__ = _with_example(name, fn.__doc__) if name in _EXAMPLES else fn.__doc__
    return op


neg = _unary_twin(Neg, "neg", floating=False)
exp = _unary_twin(Exp, "exp")
log = _unary_twin(Log, "log")
log1p = _unary_twin(Log1p, "log1p")
sqrt = _unary_twin(Sqrt, "sqrt")
abs = _unary_twin(Abs, "abs", floating=False)  # noqa: A001 - NumPy's name
sin = _unary_twin(Sin, "sin")
cos = _unary_twin(Cos, "cos")
tanh = _unary_twin(Tanh, "tanh")
sigmoid = _unary_twin(Sigmoid, "sigmoid")
relu = _unary_twin(ReLU, "relu", floating=False)
reciprocal = _unary_twin(Reciprocal, "reciprocal")
square = _unary_twin(Square, "square", floating=False)
rsqrt = _unary_twin(Rsqrt, "rsqrt")
exp2 = _unary_twin(Exp2, "exp2")
log2 = _unary_twin(Log2, "log2")
log10 = _unary_twin(Log10, "log10")
expm1 = _unary_twin(Expm1, "expm1")
sinh = _unary_twin(Sinh, "sinh")
cosh = _unary_twin(Cosh, "cosh")
asin = _unary_twin(Asin, "asin")
acos = _unary_twin(Acos, "acos")
atan = _unary_twin(Atan, "atan")
erf = _unary_twin(Erf, "erf")
floor = _unary_twin(Flat, "floor", f=np.floor, floating=False)
ceil = _unary_twin(Flat, "ceil", f=np.ceil, floating=False)
trunc = _unary_twin(Flat, "trunc", f=np.trunc, floating=False)
sign = _unary_twin(Flat, "sign", f=np.sign, floating=False)
silu = _unary_twin(SiLU, "silu")
mish = _unary_twin(Mish, "mish")
hardswish = _unary_twin(Hardswish, "hardswish")
hardsigmoid = _unary_twin(Hardsigmoid, "hardsigmoid")
logsigmoid = _unary_twin(LogSigmoid, "logsigmoid")
relu6 = _unary_twin(Hardtanh, "relu6", low=0.0, high=6.0)
relu6.__doc__ = _with_example(
    "relu6", "``min(max(x, 0), 6)``; the gradient is 0 at 0 and at 6, as in PyTorch."
)


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001 - NumPy's name
    """Round to ``decimals`` places, halves to even (NumPy's and PyTorch's); zero gradient.

    Examples
    --------
    >>> import theta
    >>> theta.round(theta.tensor([0.5, 1.5, 2.5, -0.5])).tolist()
    [0.0, 2.0, 2.0, -0.0]
    """
    return Flat.apply(as_tensor(x), f=partial(np.round, decimals=operator.index(decimals)))


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, and ``x`` where ``beta x > threshold`` (PyTorch's).

    Examples
    --------
    >>> import theta
    >>> theta.softplus(theta.tensor([-1.0, 0.0, 30.0])).round(4)
    tensor([ 0.3133,  0.6931, 30.    ])
    """
    return Softplus.apply(as_tensor(x), beta=float(beta), threshold=float(threshold))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Examples
    --------
    >>> import theta
    >>> theta.elu(theta.tensor([-1.0, 0.0, 2.0])).round(4)
    tensor([-0.6321,  0.    ,  2.    ])
    """
    return ELU.apply(as_tensor(x), alpha=float(alpha), scale=1.0)


# Klambauer et al. (2017), to PyTorch's digits: the fixed point of mean 0 and variance 1
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(x: Any) -> Tensor:
    """Self-normalising ``scale * elu(x, alpha)`` with the constants of Klambauer et al.

    Examples
    --------
    >>> import theta
    >>> theta.selu(theta.tensor([-1.0, 0.0, 2.0])).round(4)
    tensor([-1.1113,  0.    ,  2.1014])
    """
    return ELU.apply(as_tensor(x), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``x`` limited to ``[min_val, max_val]``; zero gradient at the bounds, as in PyTorch.

    Examples
    --------
    >>> import theta
    >>> theta.hardtanh(theta.tensor([-3.0, 0.5, 3.0]))
    tensor([-1. ,  0.5,  1. ])
    """
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val must not exceed max_val (got min_val={min_val}, max_val={max_val})."
        )
    return Hardtanh.apply(as_tensor(x), low=float(min_val), high=float(max_val))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, else ``negative_slope * x``, as ``torch.nn.functional.leaky_relu``.

    Examples
    --------
    >>> import theta
    >>> theta.leaky_relu(theta.tensor([-2.0, 3.0]), negative_slope=0.1)
    tensor([-0.2,  3. ])
    """
    return LeakyReLU.apply(as_tensor(x), negative_slope=float(negative_slope))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """GELU; ``approximate="tanh"`` for the GPT-2 form, ``"none"`` for the exact erf form.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.gelu(x).round(4)
    tensor([-0.1587,  0.    ,  0.8413])
    >>> theta.gelu(x, approximate="tanh").round(4)
    tensor([-0.1588,  0.    ,  0.8412])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh' (got {approximate!r}).")
    return GELU.apply(as_tensor(x), approximate=approximate)


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to ``[min, max]`` (either bound may be ``None``).

    Bounds may be tensors (or arrays) that broadcast with ``x``; then, as ``torch.clamp``,
    each bound gets the gradient where it is the output. Number bounds take a faster path.

    Examples
    --------
    >>> import theta
    >>> theta.clip(theta.tensor([-2.0, 0.5, 3.0]), 0.0, 1.0)
    tensor([0. , 0.5, 1. ])
    """
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max.")
    x = as_tensor(x)
    if not isinstance(min, Tensor | np.ndarray) and not isinstance(max, Tensor | np.ndarray):
        return Clip.apply(x, low=min, high=max)
    low = as_tensor(-np.inf if min is None else min, like=x)
    high = as_tensor(np.inf if max is None else max, like=x)
    try:
        return ClipTensor.apply(x, low, high)
    except ValueError as exc:
        if "broadcast" in str(exc):
            raise broadcast_error("clip", x.shape, low.shape, high.shape) from None
        raise


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Choose ``a`` where ``condition`` is true and ``b`` elsewhere, with broadcasting.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 2.0, -3.0])
    >>> theta.where(x > 0, x, 0.0)
    tensor([0., 2., 0.])
    """
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    try:
        return Where.apply(a, b, condition=cond)
    except ValueError as exc:
        if "broadcast" in str(exc):
            raise broadcast_error("where", cond.shape, a.shape, b.shape) from None
        raise


def astype(x: Tensor, dtype: Any) -> Tensor:
    """Cast ``x`` to ``dtype`` (differentiable between floating dtypes)."""
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return x
    if dtype.kind != "f":
        return Tensor._from_op(x.data.astype(dtype), None)
    return AsType.apply(x, dtype=dtype)


def compare(ufunc: np.ufunc, a: Any, b: Any) -> Tensor:
    """Apply a comparison ufunc; the result is a bool tensor outside the graph."""
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    try:
        return Tensor._from_op(np.asarray(ufunc(a_data, b_data)), None)
    except ValueError:
        raise broadcast_error(ufunc.__name__, np.shape(a_data), np.shape(b_data)) from None


def _outside_graph(ufunc: np.ufunc, name: str, kinds: str = "") -> Any:
    """The public function of an op whose result carries no gradient (logical and bitwise
    ops, ``isnan``); ``kinds`` limits the inputs' dtype kinds, as bits exist only in bools
    and integers (NumPy's and PyTorch's rule)."""

    def op(*values: Any) -> Tensor:
        arrays = [v.data if isinstance(v, Tensor) else np.asarray(v) for v in values]
        if kinds and any(a.dtype.kind not in kinds for a in arrays):
            wanted = "integer" if kinds == "iu" else "integer or bool"
            got = " and ".join(str(a.dtype) for a in arrays)
            raise TypeError(f"{name}: needs {wanted} inputs; floats have no bits (got {got}).")
        try:
            return Tensor._from_op(np.asarray(ufunc(*arrays)), None)
        except ValueError:
            raise broadcast_error(name, *[a.shape for a in arrays]) from None

    op.__name__ = op.__qualname__ = name
    op.__doc__ = _with_example(
        name, f"Elementwise ``{name}``, as NumPy's; the result is outside the graph."
    )
    return op


isnan = _outside_graph(np.isnan, "isnan")
isinf = _outside_graph(np.isinf, "isinf")
isfinite = _outside_graph(np.isfinite, "isfinite")
logical_and = _outside_graph(np.logical_and, "logical_and")
logical_or = _outside_graph(np.logical_or, "logical_or")
logical_xor = _outside_graph(np.logical_xor, "logical_xor")
logical_not = _outside_graph(np.logical_not, "logical_not")
bitwise_and = _outside_graph(np.bitwise_and, "bitwise_and", "biu")
bitwise_or = _outside_graph(np.bitwise_or, "bitwise_or", "biu")
bitwise_xor = _outside_graph(np.bitwise_xor, "bitwise_xor", "biu")
bitwise_not = _outside_graph(np.invert, "bitwise_not", "biu")
left_shift = _outside_graph(np.left_shift, "left_shift", "iu")
right_shift = _outside_graph(np.right_shift, "right_shift", "iu")


def isclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Where ``|a - b| <= atol + rtol * |b|`` (NumPy's test), as a bool tensor.

    Examples
    --------
    >>> import theta
    >>> theta.isclose(theta.tensor([1.0, 1.1]), theta.tensor([1.0, 1.0]))
    tensor([ True, False])
    """
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    try:
        close = np.isclose(a_data, b_data, rtol=rtol, atol=atol, equal_nan=equal_nan)
    except ValueError:
        raise broadcast_error("isclose", np.shape(a_data), np.shape(b_data)) from None
    return Tensor._from_op(np.asarray(close), None)


def allclose(
    a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether ``isclose`` holds everywhere.

    Examples
    --------
    >>> import theta
    >>> theta.allclose(theta.tensor([1.0, 2.0]), theta.tensor([1.0, 2.0 + 1e-7]))
    True
    """
    return bool(isclose(a, b, rtol, atol, equal_nan).data.all())
