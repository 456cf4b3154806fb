"""``Function``: one differentiable op, its forward and backward on plain ndarrays, side by side.

A subclass writes two static methods. ``forward(ctx, *arrays, **kwargs)`` computes the
output and saves on ``ctx`` only what ``backward`` needs. ``backward(ctx, grad)`` returns one
gradient per array input (``None`` where ``ctx.needs_grad[i]`` is false), in the output's
broadcast shape if that is easier: the engine reduces it. ``backward`` must not write into
``grad``, which other ops may share. ``apply`` runs ``forward`` and, when a gradient will be
needed, links the output into the graph.

What ``forward`` saves must still hold at backward time: ``apply`` records the version of
every input (``Tensor._version``, which each in-place change increases) of an op that saved
something, and the engine refuses to run that op's backward if an input or the output it
saved has been changed in place since (``engine._check_versions``), as PyTorch does. An op
that needs only an input's shape reads it from ``ctx.parents`` instead of saving it, so it has
nothing to check.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor
from theta.autograd.engine import _Mode, versions_of

__all__ = ["Context", "Function"]


class Context:
    """What one application of a ``Function`` remembers for its backward pass.

    Examples
    --------
    >>> import theta
    >>> class Double(theta.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         print(type(ctx).__name__, ctx.needs_grad)
    ...         return 2 * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         return (2 * grad,)
    ...
    >>> Double.apply(theta.tensor([1.0], requires_grad=True))
    Context (True,)
    tensor([2.], requires_grad=True)
    """

    __slots__ = ("fn", "parents", "needs_grad", "saved", "kwargs", "versions")

    def __init__(self, fn: type[Function], parents: tuple[Tensor, ...], kwargs: dict) -> None:
        self.fn = fn
        self.parents: tuple[Tensor, ...] | None = parents
        n = len(parents)  # unrolled for the usual one or two inputs, as versions_of
        if n == 1:
            self.needs_grad = (parents[0]._requires_grad,)
        elif n == 2:
            self.needs_grad = (parents[0]._requires_grad, parents[1]._requires_grad)
        else:
            self.needs_grad = tuple([p._requires_grad for p in parents])
        self.saved: tuple[Any, ...] | None = ()  # both None once backward has freed them
        self.kwargs = kwargs
        # set by apply on a recorded op: its inputs' versions if forward saved anything
        self.versions: tuple[int, ...] | None

    def save(self, *values: Any) -> None:
        """Keep ``values`` (arrays or small objects) for ``backward``."""
        self.saved = values


class Function:
    """Base class of every op; see the module docstring for the protocol.

    Examples
    --------
    >>> import theta
    >>> class Cube(theta.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved
    ...         return (3 * x ** 2 * grad,)
    ...
    >>> x = theta.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad.tolist()
    [3.0, 12.0]
    """

    @staticmethod
    def forward(ctx: Context, *arrays: np.ndarray, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **kwargs: Any) -> Tensor:
        """Run the op on tensors; the output joins the graph if any input needs a gradient."""
        ctx = Context(cls, inputs, kwargs)
        # unrolled for one and two inputs: a list comprehension and a star call per op cost more
        n = len(inputs)
        if n == 1:
            data = cls.forward(ctx, inputs[0].data, **kwargs)
        elif n == 2:
            data = cls.forward(ctx, inputs[0].data, inputs[1].data, **kwargs)
        else:
            data = cls.forward(ctx, *[t.data for t in inputs], **kwargs)
        if type(data) is not np.ndarray:
            data = np.asarray(data)  # NumPy returns scalars from 0-d ufuncs and full reductions
        if _Mode.anomaly:
            _check_finite_forward(cls, inputs, data)
        if _Mode.grad_enabled and True in ctx.needs_grad:
            ctx.versions = versions_of(inputs) if ctx.saved else None
            return Tensor._from_op(data, ctx)
        return Tensor._from_op(data, None)


def _check_finite_forward(fn: type[Function], inputs: tuple[Tensor, ...], out: np.ndarray) -> None:
    """Under ``detect_anomaly``, name the op that turned finite inputs into NaN or infinity."""
    finite_in = all(t.data.dtype.kind != "f" or np.isfinite(t.data).all() for t in inputs)
    if finite_in and out.dtype.kind == "f" and not np.isfinite(out).all():
        shapes = ", ".join(str(t.data.shape) for t in inputs)
        raise FloatingPointError(
            f"detect_anomaly: {fn.__name__} produced NaN or infinity from finite inputs of "
            f"shapes {shapes}."
        )
