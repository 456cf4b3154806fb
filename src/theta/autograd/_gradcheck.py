"""``gradcheck``: compare autodiff with central differences, and name the op that is wrong.

The whole function is checked first: every element of every input, in float64, against
``(f(x + eps) - f(x - eps)) / (2 eps)`` of the scalar ``sum(f(x) * r)`` for a fixed random
``r``. When that fails, each op recorded in the graph is checked on its own (its forward and
backward on the values it saw), and the report names the first op, in forward order, whose
backward disagrees with its own forward: the place to look, not just the symptom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor
from theta.autograd.engine import _topological_order, no_grad, unbroadcast
from theta.autograd.function import Context

__all__ = ["GradcheckReport", "Mismatch", "gradcheck"]


@dataclass(frozen=True)
class Mismatch:
    """One gradient element where autodiff and finite differences disagree.

    Examples
    --------
    >>> import theta
    >>> class WrongCube(theta.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved
    ...         return (2 * x ** 2 * grad,)  # should be 3 x**2
    ...
    >>> report = theta.gradcheck(WrongCube.apply, theta.tensor([1.0, 2.0], dtype="float64"))
    >>> m = report.mismatch
    >>> m.op, m.input_index, m.element, round(m.got, 2), round(m.expected, 2)
    ('WrongCube', 0, (0,), 1.28, 1.92)
    """

    op: str | None  # the Function whose own backward is wrong; None if every op checks out
    input_index: int  # input of ``op`` (or of the checked function when ``op`` is None)
    element: tuple[int, ...]
    got: float  # autodiff
    expected: float  # central differences
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...]

    def __str__(self) -> str:
        where = f"op {self.op}" if self.op else "the function (every op passed on its own)"
        shapes = ", ".join(str(s) for s in self.input_shapes)
        return (
            f"gradient mismatch in {where}: input {self.input_index}, element {self.element}: "
            f"autodiff gives {self.got:.10g}, finite differences give {self.expected:.10g} "
            f"(input shapes {shapes}; output shape {self.output_shape})"
        )


@dataclass(frozen=True)
class GradcheckReport:
    """The outcome of :func:`gradcheck`; truthy when every gradient matched.

    Examples
    --------
    >>> import theta
    >>> report = theta.gradcheck(theta.tanh, theta.tensor([0.5, -1.0], dtype="float64"))
    >>> bool(report), report.n_elements, report.mismatch
    (True, 2, None)
    """

    ok: bool
    max_abs_error: float
    n_elements: int
    mismatch: Mismatch | None = None
    ops: tuple[str, ...] = field(default=())  # every op in the graph, in forward order

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return (
                f"gradcheck passed: {self.n_elements} elements, max abs error "
                f"{self.max_abs_error:.3g}, ops {', '.join(self.ops)}"
            )
        return f"gradcheck failed: {self.mismatch}"


def _central_differences(
    f: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], i: int, eps: float
) -> np.ndarray:
    """d f / d arrays[i], one element at a time."""
    x = arrays[i]
    grad = np.zeros(x.shape)
    for j in np.ndindex(x.shape):
        saved = x[j]
        x[j] = saved + eps
        up = f(arrays)
        x[j] = saved - eps
        down = f(arrays)
        x[j] = saved
        grad[j] = (up - down) / (2 * eps)
    return grad


def _first_mismatch(
    got: np.ndarray, expected: np.ndarray, rtol: float, atol: float
) -> tuple[int, ...] | None:
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    return tuple(int(k) for k in np.argwhere(bad)[0]) if bad.any() else None


def _check_op(ctx: Context, eps: float, rtol: float, atol: float, rng) -> Mismatch | None:
    """Check one recorded op's backward against finite differences of its own forward."""
    fn, kwargs = ctx.fn, ctx.kwargs
    arrays = [
        np.array(p.data, dtype=np.float64 if p.dtype.kind == "f" else p.dtype) for p in ctx.parents
    ]
    probe = Context(fn, ctx.parents, kwargs)
    out = fn.forward(probe, *arrays, **kwargs)
    r = rng.standard_normal(np.shape(out))
    grads = fn.backward(probe, r)

    def projected(xs: list[np.ndarray]) -> float:
        return float(np.sum(fn.forward(Context(fn, ctx.parents, kwargs), *xs, **kwargs) * r))

    for i, needed in enumerate(ctx.needs_grad):
        if not needed or grads[i] is None:
            continue
        got = unbroadcast(np.asarray(grads[i], dtype=np.float64), arrays[i].shape)
        expected = _central_differences(projected, arrays, i, eps)
        element = _first_mismatch(got, expected, rtol, atol)
        if element is not None:
            return Mismatch(
                fn.__name__,
                i,
                element,
                float(got[element]),
                float(expected[element]),
                tuple(a.shape for a in arrays),
                np.shape(out),
            )
    return None


def gradcheck(
    fn: Callable[..., Tensor],
    *inputs: Any,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
) -> GradcheckReport:
    """Check ``fn``'s gradients with respect to every floating input by central differences.

    Parameters
    ----------
    fn : callable
        Takes tensors and returns a Tensor of any shape.
    *inputs : array-like or Tensor
        Floating inputs are copied to float64 tensors that require grad; others pass as given.
    eps : float, default=1e-6
        Finite-difference step.
    rtol, atol : float
        Tolerances, as in ``np.isclose``.
    seed : int, default=0
        Seed of the random projection that turns the output into a scalar.

    Returns
    -------
    GradcheckReport
        Truthy if all gradients match; otherwise ``mismatch`` names the first op whose own
        backward is wrong, the input, the element, and the two values.

    Examples
    --------
    >>> import theta
    >>> report = theta.gradcheck(lambda x: (x * x).sum(), [1.0, 2.0])
    >>> report.ok
    True
    """
    rng = np.random.default_rng(seed)
    tensors = []
    for x in inputs:
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        if data.dtype.kind == "f":
            tensors.append(Tensor(np.array(data, dtype=np.float64), requires_grad=True))
        else:
            tensors.append(Tensor(data))
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor (got {type(out).__name__}).")
    r = rng.standard_normal(out.shape)
    ops = ()
    if out.requires_grad:
        out.backward(r, retain_graph=True)  # _locate walks the graph again
        ops = tuple(n._ctx.fn.__name__ for n in _topological_order(out) if n._ctx is not None)

    def projected(arrays: list[np.ndarray]) -> float:
        with no_grad():
            return float(np.sum(fn(*[Tensor(a) for a in arrays]).data * r))

    arrays = [t.data for t in tensors]
    max_err, n_elements = 0.0, 0
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            continue
        got = t.grad if t.grad is not None else np.zeros(t.shape)
        expected = _central_differences(projected, arrays, i, eps)
        n_elements += t.size
        if t.size:
            max_err = max(max_err, float(np.max(np.abs(got - expected))))
        element = _first_mismatch(got, expected, rtol, atol)
        if element is not None:
            return GradcheckReport(
                False,
                max_err,
                n_elements,
                _locate(out, eps, rtol, atol, rng)
                or Mismatch(
                    None,
                    i,
                    element,
                    float(got[element]),
                    float(expected[element]),
                    tuple(a.shape for a in arrays),
                    out.shape,
                ),
                ops,
            )
    return GradcheckReport(True, max_err, n_elements, None, ops)


def _locate(out: Tensor, eps: float, rtol: float, atol: float, rng) -> Mismatch | None:
    """The first op, in forward order, whose own backward disagrees with its forward."""
    if out._ctx is None:
        return None
    for node in _topological_order(out):
        if node._ctx is not None:
            found = _check_op(node._ctx, eps, rtol, atol, rng)
            if found is not None:
                return found
    return None
