"""Elementwise ops: arithmetic with broadcasting, unary math, activations, and comparisons.

Binary ops return gradients in the broadcast shape; the engine sums them back to each
input's shape. Scalars in backward rules are Python floats so float32 stays float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theta import special as _special
from theta.autograd._tensor import Tensor, as_tensor
from theta.autograd.function import Context, Function

__all__ = [
    "abs", "add", "astype", "clip", "compare", "cos", "div", "exp", "gelu", "leaky_relu", "log",
    "log1p", "maximum", "minimum", "mul", "neg", "power", "relu", "sigmoid", "sin", "softplus",
    "sqrt", "sub", "tanh", "where",
]  # fmt: skip

Grads = tuple[np.ndarray | None, ...]


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
        ctx.save(b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        b, out = ctx.saved
        grad_a = grad / b
        return grad_a if ctx.needs_grad[0] else None, (-grad_a * out if ctx.needs_grad[1] else None)


class Pow(Function):
    """``a ** b`` with both sides tensors; d/db uses ``log(a)``, taken as 0 where ``a == 0``."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a**b
        ctx.save(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        a, b, out = ctx.saved
        grad_a = grad * b * a ** (b - 1) if ctx.needs_grad[0] else None
        grad_b = None
        if ctx.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a == 0, 0.0, np.log(np.where(a == 0, 1, a)))
            grad_b = grad * out * log_a.astype(out.dtype, copy=False)
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
        return (grad * (p * x ** (p - 1)),)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function that only ever exponentiates ``-|x|``, so it cannot overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e).astype(x.dtype, copy=False) / (1.0 + e)


class Unary(Function):
    """An elementwise op given by its value ``f(x)`` and its derivative ``df(x, out)``.

    Subclasses set both as static functions (tinygrad's rule table, one line per rule);
    backward multiplies the incoming gradient by ``df``.
    """

    f: Any
    df: Any

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        out = ctx.fn.f(x)
        ctx.save(x, out)
        return out

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        return (grad * ctx.fn.df(*ctx.saved),)


class Neg(Unary):
    """``-x``."""

    f, df = np.negative, staticmethod(lambda x, out: -1.0)


class Exp(Unary):
    """``exp(x)``; the derivative is the output itself."""

    f, df = np.exp, staticmethod(lambda x, out: out)


class Log(Unary):
    """Natural ``log(x)``."""

    f, df = np.log, staticmethod(lambda x, out: 1.0 / x)


class Log1p(Unary):
    """``log(1 + x)``, accurate for small ``x``."""

    f, df = np.log1p, staticmethod(lambda x, out: 1.0 / (1.0 + x))


class Sqrt(Unary):
    """``sqrt(x)``."""

    f, df = np.sqrt, staticmethod(lambda x, out: 0.5 / out)


class Abs(Unary):
    """``|x|``; the gradient at 0 is 0, as in PyTorch."""

    f, df = np.abs, staticmethod(lambda x, out: np.sign(x))


class Sin(Unary):
    """``sin(x)``."""

    f, df = np.sin, staticmethod(lambda x, out: np.cos(x))


class Cos(Unary):
    """``cos(x)``."""

    f, df = np.cos, staticmethod(lambda x, out: -np.sin(x))


class Tanh(Unary):
    """``tanh(x)``; the derivative reuses the output."""

    f, df = np.tanh, staticmethod(lambda x, out: 1.0 - out * out)


class Sigmoid(Unary):
    """``1 / (1 + exp(-x))``; a primitive because the composed form overflows ``exp`` for
    large negative ``x``."""

    f, df = staticmethod(_sigmoid), staticmethod(lambda x, out: out * (1.0 - out))


class Softplus(Unary):
    """``log(1 + exp(x))`` computed as ``logaddexp(0, x)``, finite for any ``x``."""

    f = staticmethod(lambda x: np.logaddexp(0.0, x).astype(x.dtype, copy=False))
    df = staticmethod(lambda x, out: _sigmoid(x))


class ReLU(Function):
    """``max(x, 0)``; the gradient at 0 is 0."""

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
        return (_special.gelu_grad(ctx.saved[0], grad, ctx.kwargs["approximate"]),)


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


def _binary_twin(fn: type[Function], name: str, **kwargs: Any) -> Any:
    """The public function of a two-input op, e.g. ``add(a, b)``, with broadcasting.

    It lifts scalars and arrays to tensors (a scalar takes its partner's dtype) and applies
    ``fn``, in one frame: it runs under every ``Tensor`` operator (the per-op overhead).
    """

    def op(a: Any, b: Any) -> Tensor:
        if not isinstance(a, Tensor):
            a = as_tensor(a, like=b)
        if not isinstance(b, Tensor):
            b = as_tensor(b, like=a)
        try:
            return fn.apply(a, b, **kwargs)
        except ValueError as exc:
            if "broadcast" in str(exc) and not str(exc).startswith(name):
                raise broadcast_error(name, a.shape, b.shape) from None
            raise

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}(a, b)`` with NumPy broadcasting."
    return op


add = _binary_twin(Add, "add")
sub = _binary_twin(Sub, "sub")
mul = _binary_twin(Mul, "mul")
div = _binary_twin(Div, "div")
maximum = _binary_twin(Maximum, "maximum", lower=False)
minimum = _binary_twin(Maximum, "minimum", lower=True)
_power = _binary_twin(Pow, "power")  # the general case of power


def power(a: Any, b: Any) -> Tensor:
    """``a ** b``; a Python-number exponent takes the fast path without ``log(a)``."""
    if isinstance(a, Tensor) and isinstance(b, int | float) and not isinstance(b, bool):
        return PowScalar.apply(a, exponent=b)
    return _power(a, b)


def _unary_twin(fn: type[Function], name: str) -> Any:
    """The public function of a one-input op: ``exp(x)`` is ``Exp.apply(x)``."""

    def op(x: Any) -> Tensor:
        return fn.apply(x if isinstance(x, Tensor) else as_tensor(x))  # one frame for tensors

    op.__name__ = op.__qualname__ = name
    op.__doc__ = fn.__doc__
    return op


neg = _unary_twin(Neg, "neg")
exp = _unary_twin(Exp, "exp")
log = _unary_twin(Log, "log")
log1p = _unary_twin(Log1p, "log1p")
sqrt = _unary_twin(Sqrt, "sqrt")
abs = _unary_twin(Abs, "abs")  # noqa: A001 - NumPy's name
sin = _unary_twin(Sin, "sin")
cos = _unary_twin(Cos, "cos")
tanh = _unary_twin(Tanh, "tanh")
sigmoid = _unary_twin(Sigmoid, "sigmoid")
relu = _unary_twin(ReLU, "relu")
softplus = _unary_twin(Softplus, "softplus")


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(as_tensor(x), negative_slope=float(negative_slope))


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """GELU; ``approximate="tanh"`` for the GPT-2 form, ``"none"`` for the exact erf form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh' (got {approximate!r}).")
    return GELU.apply(as_tensor(x), approximate=approximate)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    """Limit values to ``[min, max]`` (either bound may be ``None``)."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max.")
    return Clip.apply(as_tensor(x), low=min, high=max)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Choose ``a`` where ``condition`` is true and ``b`` elsewhere, with broadcasting."""
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
        return Tensor._from_op(ufunc(a_data, b_data), None)
    except ValueError:
        raise broadcast_error(ufunc.__name__, np.shape(a_data), np.shape(b_data)) from None
