"""New tensors from a shape, a range or another tensor: NumPy's names and keywords, with
PyTorch's ``requires_grad`` (and its ``rand``/``randn``).

Floating results default to theta's default dtype (``get_default_dtype()``, float32 unless
set), not NumPy's float64; ``arange`` of integers gives int64 and ``full`` of an int or a bool
keeps its kind, as in NumPy and PyTorch. Shapes are ints or one sequence: ``zeros(2, 3)`` is
``zeros((2, 3))``. Random tensors draw from ``rng`` (an int seed or a ``numpy.random.Generator``,
which they advance), never from global state.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from theta.autograd._tensor import Tensor, get_default_dtype
from theta.rng import check_random_state

__all__ = [
    "arange", "empty", "empty_like", "eye", "full", "full_like", "linspace", "ones", "ones_like",
    "rand", "rand_like", "randn", "randn_like", "zeros", "zeros_like",
]  # fmt: skip

Shape = int | Sequence[int]


def _shape(name: str, shape: tuple[Any, ...]) -> tuple[int, ...]:
    """``(2, 3)`` from ``(2, 3)`` or ``((2, 3),)``, checked: sizes are non-negative ints."""
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        shape = tuple(shape[0])
    try:
        sizes = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{name}: sizes must be integers (got {shape!r}).") from None
    if any(n < 0 for n in sizes):
        raise ValueError(f"{name}: sizes must be non-negative (got shape {sizes}).")
    return sizes


def _float_dtype(name: str, dtype: Any) -> np.dtype:
    """``dtype``, or the default one; random draws exist only for float32 and float64."""
    dt = _or_default(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{name}: random values need a float32 or float64 dtype (got {dt}).")
    return dt


def _or_default(dtype: Any) -> np.dtype:
    # not ``dtype or default``: a plain dtype has length 0, so it is falsy
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(*shape: Shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros.

    Examples
    --------
    >>> import theta
    >>> theta.zeros(2, 3).shape
    (2, 3)
    """
    return Tensor(np.zeros(_shape("zeros", shape), _or_default(dtype)), requires_grad=requires_grad)


def ones(*shape: Shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones.

    Examples
    --------
    >>> import theta
    >>> theta.ones(2, 3)
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    >>> theta.ones((2, 3), dtype="int64").dtype
    dtype('int64')
    """
    return Tensor(np.ones(_shape("ones", shape), _or_default(dtype)), requires_grad=requires_grad)


def empty(*shape: Shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are whatever the memory held: fill it before reading it.

    Examples
    --------
    >>> import theta
    >>> x = theta.empty(2, 3)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    return Tensor(np.empty(_shape("empty", shape), _or_default(dtype)), requires_grad=requires_grad)


def full(
    shape: Shape, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor with every element ``fill_value``; a bool or int fill keeps its kind.

    Examples
    --------
    >>> import theta
    >>> theta.full((2,), 7).tolist(), theta.full(2, 0.5).dtype
    ([7, 7], dtype('float32'))
    """
    if dtype is None:
        kind = np.asarray(fill_value).dtype.kind
        dtype = get_default_dtype() if kind == "f" else None  # NumPy's int64 and bool
    data = np.full(_shape("full", (shape,)), fill_value, dtype)
    return Tensor(data, requires_grad=requires_grad)


def eye(
    N: int,  # noqa: N803 - NumPy's name
    M: int | None = None,  # noqa: N803
    k: int = 0,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """An ``(N, M)`` matrix (``M = N`` by default) with ones on diagonal ``k`` (0 the main).

    Examples
    --------
    >>> import theta
    >>> theta.eye(2, 3, k=1)
    tensor([[0., 1., 0.],
            [0., 0., 1.]])
    """
    return Tensor(np.eye(N, M, k, dtype=_or_default(dtype)), requires_grad=requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values in ``[start, stop)``; ``arange(n)`` is ``0, 1, ..., n - 1``.

    All-integer arguments give int64, any float the default float dtype.

    Examples
    --------
    >>> import theta
    >>> theta.arange(3).tolist(), theta.arange(0, 1, 0.25).tolist()
    ([0, 1, 2], [0.0, 0.25, 0.5, 0.75])
    """
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero (got 0).")
    if dtype is None:
        ints = all(isinstance(v, int | np.integer) for v in (start, stop, step))
        dtype = np.int64 if ints else get_default_dtype()
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)


def linspace(
    start: float,
    stop: float,
    num: int = 50,
    endpoint: bool = True,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included unless ``endpoint``
    is false), computed in float64 and then cast, as NumPy does.

    Examples
    --------
    >>> import theta
    >>> theta.linspace(0.0, 1.0, 5)
    tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    if operator.index(num) < 0:
        raise ValueError(f"linspace: num must be non-negative (got {num}).")
    data = np.linspace(start, stop, num, endpoint=endpoint).astype(_or_default(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Shape, dtype: Any = None, requires_grad: bool = False, rng: Any = None) -> Tensor:
    """Uniform samples from ``[0, 1)``, drawn from ``rng`` (a seed or a Generator).

    Examples
    --------
    >>> import theta
    >>> bool((theta.rand(3, rng=0) == theta.rand(3, rng=0)).all())
    True
    """
    dt = _float_dtype("rand", dtype)
    data = check_random_state(rng).random(_shape("rand", shape), dtype=dt)
    return Tensor(data, requires_grad=requires_grad)


def randn(*shape: Shape, dtype: Any = None, requires_grad: bool = False, rng: Any = None) -> Tensor:
    """Standard normal samples, drawn from ``rng`` (a seed or a Generator).

    Examples
    --------
    >>> import theta
    >>> x = theta.randn(2, 3, rng=0)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    >>> theta.randn(3, rng=0).round(4)
    tensor([ 1.1176, -1.3871, -0.4266])
    """
    dt = _float_dtype("randn", dtype)
    data = check_random_state(rng).standard_normal(_shape("randn", shape), dtype=dt)
    return Tensor(data, requires_grad=requires_grad)


def _like(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def zeros_like(x: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``x``'s shape and (unless ``dtype`` is given) dtype.

    Examples
    --------
    >>> import theta
    >>> theta.zeros_like(theta.tensor([[1, 2], [3, 4]]))
    tensor([[0, 0],
            [0, 0]])
    """
    return Tensor(np.zeros_like(_like(x), dtype=dtype), requires_grad=requires_grad)


def ones_like(x: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``x``'s shape and (unless ``dtype`` is given) dtype.

    Examples
    --------
    >>> import theta
    >>> theta.ones_like(theta.tensor([1, 2, 3]), dtype="float32")
    tensor([1., 1., 1.])
    """
    return Tensor(np.ones_like(_like(x), dtype=dtype), requires_grad=requires_grad)


def empty_like(x: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An unfilled tensor of ``x``'s shape and (unless ``dtype`` is given) dtype.

    Examples
    --------
    >>> import theta
    >>> x = theta.empty_like(theta.zeros(2, 3))
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    return Tensor(np.empty_like(_like(x), dtype=dtype), requires_grad=requires_grad)


def full_like(x: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, in ``x``'s shape and (unless ``dtype`` is given) dtype.

    Examples
    --------
    >>> import theta
    >>> theta.full_like(theta.zeros(2, 2), 7.0)
    tensor([[7., 7.],
            [7., 7.]])
    """
    return Tensor(np.full_like(_like(x), fill_value, dtype=dtype), requires_grad=requires_grad)


def rand_like(x: Any, *, dtype: Any = None, requires_grad: bool = False, rng: Any = None) -> Tensor:
    """``rand`` of ``x``'s shape and (unless ``dtype`` is given) floating dtype.

    Examples
    --------
    >>> import theta
    >>> theta.rand_like(theta.zeros(3), rng=0).round(4)
    tensor([0.8506, 0.637 , 0.5111])
    """
    like = _like(x)
    dtype = like.dtype if dtype is None else dtype
    return rand(like.shape, dtype=dtype, requires_grad=requires_grad, rng=rng)


def randn_like(
    x: Any, *, dtype: Any = None, requires_grad: bool = False, rng: Any = None
) -> Tensor:
    """``randn`` of ``x``'s shape and (unless ``dtype`` is given) floating dtype.

    Examples
    --------
    >>> import theta
    >>> theta.randn_like(theta.zeros(2, 3), rng=0).shape
    (2, 3)
    """
    like = _like(x)
    dtype = like.dtype if dtype is None else dtype
    return randn(like.shape, dtype=dtype, requires_grad=requires_grad, rng=rng)
