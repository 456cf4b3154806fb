"""``Tensor``: an ndarray that remembers how it was made, so gradients can flow back through it.

Dtypes follow NumPy with one rule added for teaching-friendly defaults: floating NumPy data
keeps its dtype, while Python scalars and lists of floats take the default dtype (float32,
see :func:`set_default_dtype`). A Python scalar combined with a tensor takes the tensor's
dtype, so ``x * 2.0`` never turns float32 into float64. Only floating tensors can require a
gradient, and every gradient has the dtype and shape of its tensor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from theta.autograd import engine
from theta.autograd.engine import _Mode

if TYPE_CHECKING:
    from theta.autograd.function import Context

__all__ = ["Tensor", "as_tensor", "get_default_dtype", "set_default_dtype", "tensor"]

_default_dtype: list[np.dtype] = [np.dtype(np.float32)]

Axis = int | tuple[int, ...] | None


def set_default_dtype(dtype: type | str | np.dtype) -> None:
    """Set the dtype that Python scalars, lists and new parameters get (float32 or float64).

    Examples
    --------
    >>> import numpy as np, theta
    >>> theta.set_default_dtype(np.float64)
    >>> theta.tensor(1.5).dtype
    dtype('float64')
    >>> theta.set_default_dtype(np.float32)
    """
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"set_default_dtype: expected float32 or float64 (got {dt}).")
    _default_dtype[0] = dt


def get_default_dtype() -> np.dtype:
    """Return the dtype that Python scalars, lists and new parameters get.

    Examples
    --------
    >>> import theta
    >>> theta.get_default_dtype()
    dtype('float32')
    >>> theta.tensor([1.0, 2.0]).dtype == theta.get_default_dtype()
    True
    """
    return _default_dtype[0]


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert ``data`` under theta's dtype rules (see the module docstring)."""
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        return data
    arr = np.asarray(data)
    if arr.dtype == np.float64 and not isinstance(data, np.generic):
        return arr.astype(_default_dtype[0])  # Python floats and lists of them
    if arr.dtype.kind == "O":
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data.")
    return arr


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array-like
        The values. NumPy arrays are wrapped without a copy.
    requires_grad : bool, default=False
        Record operations on this tensor so that ``backward`` can fill its ``.grad``.
    dtype : numpy dtype, optional
        Convert ``data`` to this dtype first.

    Notes
    -----
    Gradients accumulate: each ``backward()`` adds into ``.grad`` until it is cleared
    (``t.grad = None``, or ``Module.zero_grad()``), as in PyTorch. Treat ``.grad`` as
    read-only; it may share memory with arrays the engine still uses.

    Every in-place change made through the tensor (``+=``, ``-=``, ``*=``, ``/=``,
    ``t[i] = v``, an optimizer's ``step``, ``Module.load_state_dict``) adds one to its
    version, ``t._version``, as PyTorch's version counter does. An op that saves a tensor for
    its backward remembers that version, and ``backward`` raises a ``RuntimeError`` naming the
    op if the tensor has changed since, instead of returning a wrong gradient. A tensor that
    shares another's memory (a reshape, a transpose, a basic slice, ``detach()``) shares its
    version too. Writes into the ndarray itself (``t.data``, ``t.numpy()``) are not counted:
    see :meth:`numpy`.

    Examples
    --------
    >>> import theta
    >>> w = theta.tensor(3.0, requires_grad=True)
    >>> loss = (w * 2.0 - 1.0) ** 2
    >>> loss.backward()
    >>> float(w.grad)
    20.0
    """

    # _base: set on views only (see _View); before _version, so unpickling sets it first
    __slots__ = ("data", "grad", "_requires_grad", "_ctx", "_base", "_version", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Tensor` defer to Tensor.__radd__
    __hash__ = object.__hash__  # __eq__ is elementwise, identity stays the hash

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._ctx: Context | None = None
        self._version = 0  # in-place changes so far; see the class Notes
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx: Context | None) -> Tensor:
        """Wrap an op's output without re-validating it (the hot path)."""
        out = object.__new__(Tensor)
        out.data = data
        out.grad = None
        out._ctx = ctx
        out._version = 0
        out._requires_grad = ctx is not None
        return out

    # --- gradient bookkeeping -------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for ``backward``."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(
                f"Only floating-point tensors can require gradients (got dtype "
                f"{self.data.dtype}). Convert first, e.g. tensor(data, dtype=np.float32)."
            )
        if not flag and self._ctx is not None:
            raise RuntimeError(
                "requires_grad: cannot switch off gradients of a tensor made by an op; "
                "use .detach() to get a tensor outside the graph."
            )
        self._requires_grad = bool(flag)

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an op."""
        return self._ctx is None

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Add the gradient of this tensor with respect to every leaf into the leaves' ``.grad``.

        Parameters
        ----------
        grad : array-like, optional
            The seed d(something)/d(self), of this tensor's shape. Needed unless the tensor
            has one element (a loss), where it defaults to 1.
        retain_graph : bool, default=False
            Keep the graph for another backward. By default, as in PyTorch, each op frees
            what it saved for backward (and its link to its inputs) as soon as its backward
            has run, so the activations of a training step are released during the walk.

        Raises
        ------
        RuntimeError
            If the tensor does not require a gradient, has several elements and no seed, or
            part of its graph was freed by an earlier backward.
        ValueError
            If ``grad`` has the wrong shape.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; create the "
                "leaves with requires_grad=True and do not compute it under no_grad()."
            )
        if grad is None:
            data = self.data
            if data.ndim == 0:  # a loss: np.array is a third of np.ones's cost
                seed = np.array(1, data.dtype)
            elif data.size == 1:
                seed = np.ones(data.shape, data.dtype)
            else:
                raise RuntimeError(
                    f"backward: output has shape {data.shape}; pass a gradient of that "
                    "shape or reduce to a scalar first (e.g. loss.sum())."
                )
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, self.data.dtype)
            if seed.shape != self.data.shape:
                raise ValueError(
                    f"backward: gradient has shape {seed.shape} but the tensor has shape "
                    f"{self.data.shape}; they must match."
                )
        engine.backward(self, seed, retain_graph)

    def detach(self) -> Tensor:
        """Return a tensor sharing this one's data, and version, but outside the graph."""
        return Tensor._from_op(self.data, None)._view_of(self)

    def _view_of(self, base: Tensor) -> Tensor:
        """Make this tensor, which shares ``base``'s memory, share its version; return it."""
        self._base = base._base if type(base) is _View else base
        self.__class__ = _View
        return self

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return the tensor (PyTorch's spelling)."""
        self.requires_grad = flag
        return self

    # --- array facts ----------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed, as ``ndarray.T``."""
        return _mv.transpose(self)

    def item(self) -> float | int | bool:
        """Return the single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only a tensor with one element converts to a Python scalar "
                f"(got shape {self.data.shape})."
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """Return the underlying ndarray (shared, not copied).

        As PyTorch's ``Tensor.numpy()``: the array is the tensor's memory, and writing into
        it is not seen by autograd. Such a write does not count as an in-place change of the
        tensor (its version stays), so an op that saved the tensor for backward cannot notice
        it and its gradient uses the changed values. Change a tensor that a graph still needs
        through the tensor (``t -= 1`` under ``no_grad()``, ``t[i] = v``), which
        ``backward`` checks, or write into a copy (``t.numpy().copy()``). The same holds
        for ``t.data``.
        """
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``; differentiable between floating dtypes."""
        return _ew.astype(self, dtype)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise TypeError(
                "The truth value of a Tensor is ambiguous; use (t > 0).all().item() or "
                ".any().item()."
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != _default_dtype[0] and self.data.dtype.kind == "f":
            extras.append(f"dtype={self.data.dtype}")
        if self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # --- operators and methods ------------------------------------------------------------
    # One line each, calling the public op (``t.exp()`` is ``exp(t)``), so that IDEs and type
    # checkers see them. The ops import Tensor, so they are imported at the end of this file.
    # fmt: off
    def __add__(self, other: Any) -> Tensor: return _ew.add(self, other)
    def __radd__(self, other: Any) -> Tensor: return _ew.add(other, self)
    def __sub__(self, other: Any) -> Tensor: return _ew.sub(self, other)
    def __rsub__(self, other: Any) -> Tensor: return _ew.sub(other, self)
    def __mul__(self, other: Any) -> Tensor: return _ew.mul(self, other)
    def __rmul__(self, other: Any) -> Tensor: return _ew.mul(other, self)
    def __truediv__(self, other: Any) -> Tensor: return _ew.true_divide(self, other)
    def __rtruediv__(self, other: Any) -> Tensor: return _ew.true_divide(other, self)
    def __pow__(self, other: Any) -> Tensor: return _ew.power(self, other)
    def __rpow__(self, other: Any) -> Tensor: return _ew.power(other, self)
    def __matmul__(self, other: Any) -> Tensor: return _la.matmul(self, other)
    def __rmatmul__(self, other: Any) -> Tensor: return _la.matmul(other, self)
    def __neg__(self) -> Tensor: return _ew.neg(self)
    def __pos__(self) -> Tensor: return self
    def __getitem__(self, index: Any) -> Tensor: return _mv.getitem(self, index)
    # comparisons: bool tensors outside the graph
    def __lt__(self, other: Any) -> Tensor: return _ew.compare(np.less, self, other)
    def __le__(self, other: Any) -> Tensor: return _ew.compare(np.less_equal, self, other)
    def __gt__(self, other: Any) -> Tensor: return _ew.compare(np.greater, self, other)
    def __ge__(self, other: Any) -> Tensor: return _ew.compare(np.greater_equal, self, other)
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ew.compare(np.equal, self, other)
    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ew.compare(np.not_equal, self, other)
    # elementwise
    def exp(self) -> Tensor: return _ew.exp(self)
    def log(self) -> Tensor: return _ew.log(self)
    def log1p(self) -> Tensor: return _ew.log1p(self)
    def sqrt(self) -> Tensor: return _ew.sqrt(self)
    def abs(self) -> Tensor: return _ew.abs(self)
    __abs__ = abs
    def sin(self) -> Tensor: return _ew.sin(self)
    def cos(self) -> Tensor: return _ew.cos(self)
    def tanh(self) -> Tensor: return _ew.tanh(self)
    def sigmoid(self) -> Tensor: return _ew.sigmoid(self)
    def relu(self) -> Tensor: return _ew.relu(self)
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return _ew.leaky_relu(self, negative_slope)
    def gelu(self, approximate: str = "none") -> Tensor: return _ew.gelu(self, approximate)
    def softplus(self, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
        return _ew.softplus(self, beta, threshold)
    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return _ew.clip(self, min, max)
    def maximum(self, other: Any) -> Tensor: return _ew.maximum(self, other)
    def minimum(self, other: Any) -> Tensor: return _ew.minimum(self, other)
    # issue 15: more math (zero gradient for floor, ceil, round, trunc, sign, //), bits, tests
    def floor(self) -> Tensor: return _ew.floor(self)
    def ceil(self) -> Tensor: return _ew.ceil(self)
    def round(self, decimals: int = 0) -> Tensor: return _ew.round(self, decimals)
    def trunc(self) -> Tensor: return _ew.trunc(self)
    def sign(self) -> Tensor: return _ew.sign(self)
    def reciprocal(self) -> Tensor: return _ew.reciprocal(self)
    def square(self) -> Tensor: return _ew.square(self)
    def rsqrt(self) -> Tensor: return _ew.rsqrt(self)
    def exp2(self) -> Tensor: return _ew.exp2(self)
    def log2(self) -> Tensor: return _ew.log2(self)
    def log10(self) -> Tensor: return _ew.log10(self)
    def expm1(self) -> Tensor: return _ew.expm1(self)
    def sinh(self) -> Tensor: return _ew.sinh(self)
    def cosh(self) -> Tensor: return _ew.cosh(self)
    def asin(self) -> Tensor: return _ew.asin(self)
    def acos(self) -> Tensor: return _ew.acos(self)
    def atan(self) -> Tensor: return _ew.atan(self)
    def erf(self) -> Tensor: return _ew.erf(self)
    def isnan(self) -> Tensor: return _ew.isnan(self)
    def isinf(self) -> Tensor: return _ew.isinf(self)
    def isfinite(self) -> Tensor: return _ew.isfinite(self)
    def __mod__(self, other: Any) -> Tensor: return _ew.remainder(self, other)
    def __rmod__(self, other: Any) -> Tensor: return _ew.remainder(other, self)
    def __floordiv__(self, other: Any) -> Tensor: return _ew.floor_divide(self, other)
    def __rfloordiv__(self, other: Any) -> Tensor: return _ew.floor_divide(other, self)
    def __and__(self, other: Any) -> Tensor: return _ew.bitwise_and(self, other)
    def __rand__(self, other: Any) -> Tensor: return _ew.bitwise_and(other, self)
    def __or__(self, other: Any) -> Tensor: return _ew.bitwise_or(self, other)
    def __ror__(self, other: Any) -> Tensor: return _ew.bitwise_or(other, self)
    def __xor__(self, other: Any) -> Tensor: return _ew.bitwise_xor(self, other)
    def __rxor__(self, other: Any) -> Tensor: return _ew.bitwise_xor(other, self)
    def __invert__(self) -> Tensor: return _ew.bitwise_not(self)
    def __lshift__(self, other: Any) -> Tensor: return _ew.left_shift(self, other)
    def __rlshift__(self, other: Any) -> Tensor: return _ew.left_shift(other, self)
    def __rshift__(self, other: Any) -> Tensor: return _ew.right_shift(self, other)
    def __rrshift__(self, other: Any) -> Tensor: return _ew.right_shift(other, self)
    matmul = __matmul__
    # reductions (axis: int, tuple or None; keepdims)
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.sum(self, axis, keepdims)
    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.mean(self, axis, keepdims)
    def var(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _red.var(self, axis, ddof, keepdims)
    def std(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return _red.std(self, axis, ddof, keepdims)
    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.max(self, axis, keepdims)
    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.min(self, axis, keepdims)
    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.logsumexp(self, axis, keepdims)
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _red.argmax(self, axis, keepdims)
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _red.argmin(self, axis, keepdims)
    def softmax(self, axis: int = -1) -> Tensor: return _red.softmax(self, axis)
    def log_softmax(self, axis: int = -1) -> Tensor: return _red.log_softmax(self, axis)
    def prod(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.prod(self, axis, keepdims)
    def cumsum(self, axis: int | None = None) -> Tensor: return _red.cumsum(self, axis)
    def cumprod(self, axis: int | None = None) -> Tensor: return _red.cumprod(self, axis)
    def norm(self, ord: float | str | None = None, axis: Axis = None,
             keepdims: bool = False) -> Tensor:
        return _red.norm(self, ord, axis, keepdims)
    def count_nonzero(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.count_nonzero(self, axis, keepdims)
    # sorting and selection: (values, indices) pairs as in PyTorch
    def sort(self, axis: int | None = -1, descending: bool = False, *,
             stable: bool = False) -> tuple[Tensor, Tensor]:
        return _sort.sort(self, axis, descending, stable=stable)
    def argsort(self, axis: int | None = -1, descending: bool = False, *,
                stable: bool = False) -> Tensor:
        return _sort.argsort(self, axis, descending, stable=stable)
    def topk(self, k: int, axis: int | None = -1, largest: bool = True,
             sorted: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002
        return _sort.topk(self, k, axis, largest, sorted)
    def kthvalue(self, k: int, axis: int | None = -1,
                 keepdims: bool = False) -> tuple[Tensor, Tensor]:
        return _sort.kthvalue(self, k, axis, keepdims)
    def median(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _sort.median(self, axis, keepdims)
    def cummax(self, axis: int | None = None) -> tuple[Tensor, Tensor]:
        return _sort.cummax(self, axis)
    def cummin(self, axis: int | None = None) -> tuple[Tensor, Tensor]:
        return _sort.cummin(self, axis)
    # movement
    def swapaxes(self, axis1: int, axis2: int) -> Tensor: return _mv.swapaxes(self, axis1, axis2)
    def expand_dims(self, axis: int | tuple[int, ...]) -> Tensor: return _mv.expand_dims(self, axis)
    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return _mv.squeeze(self, axis)
    def broadcast_to(self, shape: Sequence[int]) -> Tensor: return _mv.broadcast_to(self, shape)
    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        return _mv.flatten(self, start_axis, end_axis)
    def split(self, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
        return _mv.split(self, indices_or_sections, axis)
    def flip(self, axis: Axis = None) -> Tensor: return _mv.flip(self, axis)
    def roll(self, shift: int | tuple[int, ...], axis: Axis = None) -> Tensor:
        return _mv.roll(self, shift, axis)
    def tril(self, k: int = 0) -> Tensor: return _mv.tril(self, k)
    def triu(self, k: int = 0) -> Tensor: return _mv.triu(self, k)
    def tile(self, reps: int | Sequence[int]) -> Tensor: return _mv.tile(self, reps)
    # PyTorch's meaning (tile), not NumPy's: see movement.tensor_repeat
    def repeat(self, *sizes: int | Sequence[int]) -> Tensor: return _mv.tensor_repeat(self, sizes)
    def repeat_interleave(self, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
        return _mv.repeat_interleave(self, repeats, axis)
    def unfold(self, axis: int, size: int, step: int) -> Tensor:
        return _mv.unfold(self, axis, size, step)
    # indexing (PyTorch's gather/scatter family, out of place)
    def gather(self, axis: int, index: Any) -> Tensor: return _ix.gather(self, axis, index)
    def scatter(self, axis: int, index: Any, src: Any) -> Tensor:
        return _ix.scatter(self, axis, index, src)
    def scatter_add(self, axis: int, index: Any, src: Any) -> Tensor:
        return _ix.scatter_add(self, axis, index, src)
    def scatter_reduce(self, axis: int, index: Any, src: Any, reduce: str = "sum",
                       include_self: bool = True) -> Tensor:
        return _ix.scatter_reduce(self, axis, index, src, reduce, include_self)
    def index_add(self, axis: int, index: Any, source: Any, alpha: float = 1) -> Tensor:
        return _ix.index_add(self, axis, index, source, alpha)
    def index_put(self, indices: tuple, values: Any, accumulate: bool = False) -> Tensor:
        return _ix.index_put(self, indices, values, accumulate)
    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _ix.masked_fill(self, mask, value)
    # fmt: on

    # In place, as PyTorch: allowed where no graph is being recorded (the optimizer's update).
    # Each change counts in ``_version``, which backward checks (see engine._check_versions).
    def _inplace(self, ufunc: np.ufunc, other: Any) -> Tensor:
        other_data = other.data if isinstance(other, Tensor) else other
        if _Mode.grad_enabled and (
            self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
        ):
            if self._ctx is None and self._requires_grad:
                raise RuntimeError(
                    "a leaf tensor that requires grad cannot be modified in place while "
                    "gradients are recorded; do the update inside `with theta.no_grad():`."
                )
            return NotImplemented
        ufunc(self.data, other_data, out=self.data, casting="same_kind")
        self._version += 1
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.true_divide, other)

    def __setitem__(self, index: Any, value: Any) -> None:
        """Assign into part of the tensor in place, as ``ndarray.__setitem__``.

        Allowed where ``+=`` is: under ``no_grad()``, or when neither the tensor nor
        ``value`` requires a gradient (assignment is not recorded in the graph).
        """
        value_grad = isinstance(value, Tensor) and value._requires_grad
        if _Mode.grad_enabled and (self._requires_grad or value_grad):
            raise RuntimeError(
                f"setitem: cannot assign while gradients are recorded (tensor requires_grad="
                f"{self._requires_grad}, value requires_grad={value_grad}); assign under "
                "`with theta.no_grad():`, or build a new tensor (theta.where, theta.concatenate)."
            )
        self.data[index.data if isinstance(index, Tensor) else index] = np.asarray(value)
        self._version += 1

    # all/any carry no gradient; they exist for the fix that `if tensor:`'s error suggests
    def all(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.all(self, axis, keepdims)

    def any(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _red.any(self, axis, keepdims)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        return _mv.reshape(self, shape)

    def transpose(self, *axes: int | Sequence[int]) -> Tensor:
        if len(axes) == 1 and not isinstance(axes[0], int):
            axes = tuple(axes[0])
        return _mv.transpose(self, axes or None)

    def permute(self, *axes: int | Sequence[int]) -> Tensor:
        return self.transpose(*axes)


class _View(Tensor):
    """A tensor whose memory is another's (``_base``, which owns it), as PyTorch's views.

    It reads and counts its version on the base, so that a change through the base, or
    through any of its views, is seen by every op that saved one of them. The property costs
    plain tensors nothing: only views, made by the movement ops and ``detach``, have it.
    """

    __slots__ = ()

    @property
    def _version(self) -> int:  # type: ignore[override]
        return self._base._version

    @_version.setter
    def _version(self, value: int) -> None:
        self._base._version = value


def tensor(data: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Make a new leaf tensor (the public constructor).

    Examples
    --------
    >>> import theta
    >>> theta.tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """Return ``value`` as a Tensor; a Python scalar takes the floating dtype of ``like``."""
    if isinstance(value, Tensor):
        return value
    if like is not None and isinstance(value, int | float) and like.data.dtype.kind == "f":
        return Tensor._from_op(np.asarray(value, dtype=like.data.dtype), None)
    return Tensor._from_op(_to_array(value), None)


# The ops import Tensor from this module, so they load after the class exists.
from theta.autograd.ops import elementwise as _ew  # noqa: E402
from theta.autograd.ops import indexing as _ix  # noqa: E402
from theta.autograd.ops import linalg as _la  # noqa: E402
from theta.autograd.ops import movement as _mv  # noqa: E402
from theta.autograd.ops import reduce as _red  # noqa: E402
from theta.autograd.ops import sorting as _sort  # noqa: E402
