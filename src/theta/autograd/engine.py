"""Reverse-mode differentiation: the graph walk behind ``Tensor.backward``.

The protocol: every non-leaf tensor holds a ``Context`` (``_ctx``) naming the ``Function``
that made it, its parent tensors, which of them need a gradient, and what ``forward`` saved.
``backward`` sorts the graph once (iteratively, so a 100,000-op chain needs no recursion),
then visits nodes from the output back, asking each op for its input gradients. The engine
alone reduces broadcast gradients to each input's shape and dtype and sums the gradients of a
tensor used more than once; ops never do either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from theta.autograd.tensor import Tensor

__all__ = ["detect_anomaly", "enable_grad", "is_grad_enabled", "no_grad", "unbroadcast"]


class _Mode:
    """Process-wide switches read on every op: whether to record graphs, whether to check."""

    grad_enabled: bool = True
    anomaly: bool = False


def is_grad_enabled() -> bool:
    """Return whether new operations record the graph that ``backward`` needs."""
    return _Mode.grad_enabled


@contextlib.contextmanager
def _switch(name: str, value: bool) -> Iterator[None]:
    """Set one of the ``_Mode`` switches for the duration of a ``with`` block."""
    previous = getattr(_Mode, name)
    setattr(_Mode, name, value)
    try:
        yield
    finally:
        setattr(_Mode, name, previous)


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Run the block without recording a graph: inference is the forward pass alone.

    Examples
    --------
    >>> import theta
    >>> w = theta.tensor(2.0, requires_grad=True)
    >>> with theta.no_grad():
    ...     y = w * 3.0
    >>> y.requires_grad
    False
    """
    return _switch("grad_enabled", False)


def enable_grad() -> contextlib.AbstractContextManager[None]:
    """Record graphs inside the block even within an enclosing ``no_grad``."""
    return _switch("grad_enabled", True)


def detect_anomaly() -> contextlib.AbstractContextManager[None]:
    """Check every forward output and backward gradient for NaN/inf and name the op at fault.

    Slow (one extra pass over every array); use it to find where a NaN is born.
    """
    return _switch("anomaly", True)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched so it has ``shape``."""
    if grad.shape == shape:
        return grad
    n_new = grad.ndim - len(shape)
    if n_new > 0:
        grad = grad.sum(axis=tuple(range(n_new)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes that lead to ``root`` and need a gradient, each after all of its parents."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        # Mark on expansion, not on push: a node pushed by one child may be reached again
        # through a later sibling (x * x.exp()), and must then come before that sibling.
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            for parent, needed in zip(ctx.parents, ctx.needs_grad, strict=True):
                if needed and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def backward(root: Tensor, grad: np.ndarray) -> None:
    """Accumulate d(root)/d(leaf), seeded with ``grad``, into every leaf's ``.grad``."""
    grads: dict[int, np.ndarray] = {id(root): grad}
    # arrays already stored in a leaf's .grad; a second leaf gets a copy, never an alias
    handed_out: set[int] = {id(grad)}
    for node in reversed(_topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        ctx = node._ctx
        if ctx is None:
            if node.requires_grad:
                if node.grad is None:
                    # NumPy arithmetic on 0-d arrays returns scalars; .grad is always an ndarray
                    if id(g) in handed_out or not g.flags.owndata or g.ndim == 0:
                        g = np.array(g)
                    handed_out.add(id(g))
                    node.grad = g
                else:
                    node.grad = np.asarray(node.grad + g)
            continue
        input_grads = ctx.fn.backward(ctx, g)
        for i, (parent, pg) in enumerate(zip(ctx.parents, input_grads, strict=True)):
            if pg is None or not ctx.needs_grad[i]:
                continue
            pg = unbroadcast(pg, parent.data.shape)
            if pg.dtype != parent.data.dtype:
                pg = pg.astype(parent.data.dtype)
            if _Mode.anomaly and not np.isfinite(pg).all():
                raise FloatingPointError(
                    f"detect_anomaly: the backward of {ctx.fn.__name__} produced a non-finite "
                    f"gradient for its input {i} of shape "
                    f"{parent.data.shape}."
                )
            previous = grads.get(id(parent))
            grads[id(parent)] = pg if previous is None else previous + pg
