"""Reverse-mode differentiation: the graph walk behind ``Tensor.backward``.

The protocol: every non-leaf tensor holds a ``Context`` (``_ctx``) naming the ``Function``
that made it, its parent tensors, which of them need a gradient, and what ``forward`` saved.
``backward`` sorts the graph once (iteratively, so a 100,000-op chain needs no recursion),
then visits nodes from the output back, asking each op for its input gradients. The engine
alone reduces broadcast gradients to each input's shape and dtype and sums the gradients of a
tensor used more than once; ops never do either. As in PyTorch, a node lets go of its saved
arrays and its parents once its backward has run (unless ``retain_graph``), so activations
are freed during the walk rather than when the whole graph is dropped. Before an op's
backward runs, the versions of its inputs and output are compared with those it saw in
forward, so an array changed in place since raises instead of giving a wrong gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from theta.autograd._tensor import Tensor
    from theta.autograd.function import Context

__all__ = ["detect_anomaly", "enable_grad", "is_grad_enabled", "no_grad", "unbroadcast"]


class _Mode:
    """Process-wide switches read on every op: whether to record graphs, whether to check."""

    grad_enabled: bool = True
    anomaly: bool = False


def is_grad_enabled() -> bool:
    """Return whether new operations record the graph that ``backward`` needs.

    Examples
    --------
    >>> import theta
    >>> theta.is_grad_enabled()
    True
    >>> with theta.no_grad():
    ...     print(theta.is_grad_enabled())
    ...
    False
    """
    return _Mode.grad_enabled


class _Switch:
    """Set one of the ``_Mode`` switches for the duration of a ``with`` block.

    A plain class rather than ``contextlib.contextmanager``: it is entered every inference
    and every optimizer step, and a generator costs microseconds there.
    """

    __slots__ = ("name", "value", "previous")

    def __init__(self, name: str, value: bool) -> None:
        self.name, self.value = name, value

    def __enter__(self) -> None:
        self.previous = getattr(_Mode, self.name)
        setattr(_Mode, self.name, self.value)

    def __exit__(self, *exc_info: object) -> None:
        setattr(_Mode, self.name, self.previous)


def no_grad() -> _Switch:
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
    return _Switch("grad_enabled", False)


def enable_grad() -> _Switch:
    """Record graphs inside the block even within an enclosing ``no_grad``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([1.0], requires_grad=True)
    >>> with theta.no_grad():
    ...     with theta.enable_grad():
    ...         y = x * 2
    ...
    >>> y.requires_grad
    True
    """
    return _Switch("grad_enabled", True)


def detect_anomaly() -> _Switch:
    """Check every forward output and backward gradient for NaN/inf and name the op at fault.

    Slow (one extra pass over every array); use it to find where a NaN is born.

    Examples
    --------
    >>> import numpy as np
    >>> import theta
    >>> x = theta.tensor([-1.0, 4.0], requires_grad=True)
    >>> try:
    ...     with np.errstate(invalid="ignore"), theta.detect_anomaly():
    ...         theta.sqrt(x)
    ... except FloatingPointError as exc:
    ...     print(exc)
    ...
    detect_anomaly: Sqrt produced NaN or infinity from finite inputs of shapes (2,).
    """
    return _Switch("anomaly", True)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched so it has ``shape``."""
    # np.add.reduce is what ndarray.sum calls, without its Python wrapper: the same numbers
    if not shape:  # a scalar parameter (the chapter's w and b): one reduction over everything
        return np.add.reduce(grad, axis=None)
    n_new = grad.ndim - len(shape)
    if n_new > 0:
        grad = np.add.reduce(grad, axis=tuple(range(n_new)))
    if grad.shape != shape:
        stretched = tuple([i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1])
        if stretched:
            grad = np.add.reduce(grad, axis=stretched, keepdims=True)
    return grad


def versions_of(tensors: tuple[Tensor, ...]) -> tuple[int, ...]:
    """The tensors' versions (``Tensor._version``), unrolled for the usual one to three
    (a Linear with bias): a list comprehension costs three times as much on every op."""
    n = len(tensors)
    if n == 1:
        return (tensors[0]._version,)
    if n == 2:
        return (tensors[0]._version, tensors[1]._version)
    if n == 3:
        return (tensors[0]._version, tensors[1]._version, tensors[2]._version)
    return tuple([t._version for t in tensors])


def _count_uses(root: Tensor) -> dict[int, int]:
    """For every node that leads to ``root`` and needs a gradient, how often it is used."""
    uses = {id(root): 0}
    stack = [root._ctx]  # contexts, not tensors: the walk needs nothing else
    while stack:
        ctx = stack.pop()
        if ctx.parents is None:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time: the "
                f"{ctx.fn.__name__} node already ran its backward and freed its saved arrays. "
                "Specify retain_graph=True in the first backward to walk a graph again."
            )
        for parent, needed in zip(ctx.parents, ctx.needs_grad, strict=True):
            if needed:
                key = id(parent)
                if key in uses:
                    uses[key] += 1
                else:
                    uses[key] = 1
                    if parent._ctx is not None:  # a leaf has nothing to walk
                        stack.append(parent._ctx)
    return uses


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes that lead to ``root`` and need a gradient, each after all of its parents."""
    uses = _count_uses(root) if root._ctx is not None else {id(root): 0}
    order, ready = [], [root]
    while ready:
        node = ready.pop()
        order.append(node)
        if node._ctx is not None:
            for parent, needed in zip(node._ctx.parents, node._ctx.needs_grad, strict=True):
                if needed:
                    uses[id(parent)] -= 1
                    if uses[id(parent)] == 0:
                        ready.append(parent)
    order.reverse()
    return order


def _store_leaf_grad(node: Tensor, g: np.ndarray, handed_out: set[int]) -> None:
    """Accumulate into a leaf's ``.grad``; a stored array never aliases another leaf's."""
    if node.grad is not None:
        node.grad = np.asarray(node.grad + g)
        return
    # NumPy arithmetic on 0-d arrays returns scalars; .grad is always an owned ndarray
    if g.base is not None or g.ndim == 0 or id(g) in handed_out:
        g = np.array(g)
    handed_out.add(id(g))
    node.grad = g


def backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf), seeded with ``grad``, into every leaf's ``.grad``.

    Kahn's algorithm: a node's gradient is complete, and its backward runs, once every use
    of the node has sent its share back; counting the uses first makes that exact. Unless
    ``retain_graph``, each node then drops its saved arrays and parents, and a gradient is
    dropped as soon as its node has used it.
    """
    handed_out: set[int] = {id(grad)}
    if root._ctx is None:
        _store_leaf_grad(root, grad, handed_out)
        return
    uses = _count_uses(root)
    # Only the gradients of tensors used more than once wait here for their other shares; a
    # node's complete gradient travels with it on the stack of nodes ready to run.
    partial: dict[int, np.ndarray] = {}
    ready = [(root, grad)]
    anomaly = _Mode.anomaly
    while ready:
        node, g = ready.pop()
        ctx = node._ctx
        parents = ctx.parents
        if g is None:
            input_grads = (None,) * len(parents)
        else:
            # versions is None unless forward saved something
            if ctx.versions is not None and (node._version or ctx.versions != versions_of(parents)):
                _check_versions(node, ctx)
            input_grads = ctx.fn.backward(ctx, g)
        i = -1
        for parent, needed, pg in zip(parents, ctx.needs_grad, input_grads, strict=True):
            i += 1
            if not needed:
                continue
            if pg is not None:
                data = parent.data
                if (
                    anomaly
                    or pg.shape != data.shape
                    or (pg.dtype is not data.dtype and pg.dtype != data.dtype)
                ):
                    pg = _fit_to(pg, data, ctx, i)
            key = id(parent)
            left = uses[key] - 1
            uses[key] = left
            if partial and key in partial:  # add the shares that came before
                previous = partial.pop(key)
                if pg is not None:
                    previous = previous + pg
                pg = previous
            if left:  # more shares to come
                if pg is not None:
                    partial[key] = pg
            elif parent._ctx is not None:  # the gradient is complete
                ready.append((parent, pg))
            elif pg is not None and parent._requires_grad:  # a leaf stores it at once
                _store_leaf_grad(parent, pg, handed_out)
        if not retain_graph:
            ctx.saved = ctx.parents = None
        input_grads = pg = g = None  # not held through the next node's backward


def _check_versions(node: Tensor, ctx: Context) -> None:
    """Raise if an array that ``ctx``'s forward saved has been changed in place since.

    Called only when the output, or an input, is at a newer version than when the op ran.
    It raises only if that tensor's memory is among what forward saved: ``relu`` saves its
    output and ``sum`` only a shape, so changing their input leaves their backward right.
    """
    saved = [a for v in ctx.saved for a in (v if isinstance(v, tuple | list) else (v,))]
    name = ctx.fn.__name__
    changed = [(node, 0, f"output 0 of {name}")] if node._version else []
    for i, (p, v) in enumerate(zip(ctx.parents, ctx.versions, strict=True)):
        if p._version != v:
            origin = "a leaf" if p._ctx is None else f"the output of {p._ctx.fn.__name__}"
            changed.append((p, v, f"input {i} of {name} ({origin})"))
    for tensor, expected, role in changed:
        if any(isinstance(a, np.ndarray) and np.may_share_memory(a, tensor.data) for a in saved):
            raise RuntimeError(
                f"backward of {name}: one of the arrays needed for gradient computation has been "
                f"modified by an in-place operation: [Tensor of shape {tensor.shape}, "
                f"{tensor.dtype}], which is {role}, is at version {tensor._version}; expected "
                f"version {expected} instead. Run backward first (an optimizer step changes "
                "parameters in place), or change a copy (t = t - 1, not t -= 1)."
            )


def _fit_to(pg: np.ndarray, data: np.ndarray, ctx: Context, i: int) -> np.ndarray:
    """Reduce an op's gradient to its input's shape and dtype, checking it on the way."""
    if pg.shape != data.shape:
        pg = unbroadcast(pg, data.shape)
        if pg.shape != data.shape:
            raise RuntimeError(
                f"backward of {ctx.fn.__name__}: gradient of shape {pg.shape} for input {i} "
                f"of shape {data.shape}; a backward must return the input's shape or one "
                "that broadcasts to it."
            )
    if pg.dtype is not data.dtype and pg.dtype != data.dtype:
        pg = pg.astype(data.dtype)
    if _Mode.anomaly and not np.isfinite(pg).all():
        raise FloatingPointError(
            f"detect_anomaly: the backward of {ctx.fn.__name__} produced a non-finite "
            f"gradient for its input {i} of shape {data.shape}."
        )
    return pg
