"""Initial values for parameters. Each takes an explicit ``rng`` and returns an ndarray.

The defaults match PyTorch's, so a theta layer starts from the same distribution as its
PyTorch twin: ``Linear`` draws weight and bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
Under :func:`skip_init` they only allocate, for models whose every weight is then loaded.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar

import numpy as np

from theta.autograd import get_default_dtype

__all__ = [
    "ParameterBudgetError", "kaiming_uniform", "normal", "ones", "parameter_budget", "skip_init",
    "uniform", "xavier_uniform", "zeros",
]  # fmt: skip

_skipping: ContextVar[bool] = ContextVar("skip_init", default=False)
# [budget, elements created so far] of the innermost parameter_budget block, if any
_budget: ContextVar[list[int] | None] = ContextVar("parameter_budget", default=None)


class ParameterBudgetError(ValueError):
    """Raised when a model under :func:`parameter_budget` creates more parameters than allowed.

    Examples
    --------
    >>> import theta
    >>> try:
    ...     with theta.nn.init.parameter_budget(10):
    ...         theta.nn.Linear(8, 8, rng=0)
    ... except theta.nn.init.ParameterBudgetError as exc:
    ...     print(type(exc).__name__)
    ...
    ParameterBudgetError
    """


@contextlib.contextmanager
def parameter_budget(n_elements: int) -> Iterator[None]:
    """Inside the block, creating parameters of more than ``n_elements`` numbers in all raises.

    For building a model from a file's config before its weights are read: a crafted config
    (``n_layer=100000``) then fails on the first parameter past what the weights file holds,
    instead of spending a minute and gigabytes building a model it cannot fill. The initialisers
    check before they allocate, ``Parameter`` counts what it wraps.

    Raises
    ------
    ParameterBudgetError
        A ``ValueError``, from the ``Parameter`` (or initialiser) that goes over the budget.

    Examples
    --------
    >>> from theta.nn import Linear
    >>> with parameter_budget(3):  # Linear(2, 2) here raises: 6 numbers
    ...     layer = Linear(2, 1)  # 2 weights and 1 bias: within the budget
    """
    integer = isinstance(n_elements, int | np.integer) and not isinstance(n_elements, bool)
    if not integer or n_elements < 0:
        raise ValueError(f"parameter_budget: n_elements must be an int >= 0 (got {n_elements!r}).")
    token = _budget.set([int(n_elements), 0])
    try:
        yield
    finally:
        _budget.reset(token)


def _check_budget(size: int, charge: bool) -> None:
    """Raise if ``size`` more elements go over the active budget; count them if ``charge``."""
    budget = _budget.get()
    if budget is None:
        return
    if budget[1] + size > budget[0]:
        raise ParameterBudgetError(
            f"parameter_budget: the model being built needs more than {budget[0]:,} parameter "
            f"elements; a new parameter of {size:,} brings the total to {budget[1] + size:,}."
        )
    if charge:
        budget[1] += size


def charge_parameter_budget(size: int) -> None:
    """Count a new parameter of ``size`` elements against the active budget (``Parameter``)."""
    _check_budget(size, charge=True)


@contextlib.contextmanager
def skip_init() -> Iterator[None]:
    """Inside the block, the random initialisers only allocate (``np.empty``), drawing nothing.

    For building a model whose weights all come from a checkpoint next: drawing random
    weights only to overwrite them is most of the time such a load takes. Load with a strict
    check that every parameter is in the file, and never hand out the model if it fails.

    Examples
    --------
    >>> import numpy as np, theta
    >>> from theta.nn import Linear
    >>> with skip_init():
    ...     layer = Linear(2, 1)
    >>> _ = layer.load_state_dict({"weight": np.ones((1, 2)), "bias": np.zeros(1)})
    >>> layer(theta.tensor([[1.0, 2.0]])).tolist()
    [[3.0]]
    """
    token = _skipping.set(True)
    try:
        yield
    finally:
        _skipping.reset(token)


def _dtype(dtype: np.dtype | type | None) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def uniform(
    shape: tuple[int, ...],
    low: float,
    high: float,
    *,
    rng: np.random.Generator,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Draw from ``U(low, high)``.

    Examples
    --------
    >>> import numpy as np
    >>> import theta
    >>> w = theta.nn.init.uniform((2, 3), -0.1, 0.1, rng=np.random.default_rng(0))
    >>> w.shape, bool(abs(w).max() <= 0.1)
    ((2, 3), True)
    """
    _check_budget(math.prod(shape), charge=False)
    if _skipping.get():
        return np.empty(shape, dtype=_dtype(dtype))
    return rng.uniform(low, high, size=shape).astype(_dtype(dtype))


def normal(
    shape: tuple[int, ...],
    std: float = 1.0,
    *,
    rng: np.random.Generator,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Draw from ``N(0, std²)``.

    Examples
    --------
    >>> import numpy as np
    >>> import theta
    >>> w = theta.nn.init.normal((2, 3), std=0.02, rng=np.random.default_rng(0))
    >>> w.shape, w.dtype
    ((2, 3), dtype('float32'))
    """
    _check_budget(math.prod(shape), charge=False)
    if _skipping.get():
        return np.empty(shape, dtype=_dtype(dtype))
    return (rng.standard_normal(size=shape) * std).astype(_dtype(dtype))


def kaiming_uniform(
    shape: tuple[int, ...],
    fan_in: int,
    *,
    rng: np.random.Generator,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``: PyTorch's default for linear layers.

    Examples
    --------
    >>> import numpy as np
    >>> import theta
    >>> w = theta.nn.init.kaiming_uniform((3, 4), fan_in=4, rng=np.random.default_rng(0))
    >>> w.shape, bool(abs(w).max() <= 0.5)
    ((3, 4), True)
    """
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def xavier_uniform(
    shape: tuple[int, int],
    *,
    rng: np.random.Generator,
    gain: float = 1.0,
    dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Glorot's ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``; shape (out, in).

    Examples
    --------
    >>> import numpy as np
    >>> import theta
    >>> w = theta.nn.init.xavier_uniform((4, 2), rng=np.random.default_rng(0))  # (out, in)
    >>> w.shape, bool(abs(w).max() <= 1.0)
    ((4, 2), True)
    """
    fan_out, fan_in = shape
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def zeros(shape: tuple[int, ...], *, dtype: np.dtype | type | None = None) -> np.ndarray:
    """An array of zeros of ``shape`` (the default dtype unless ``dtype`` is given): biases.

    Examples
    --------
    >>> import theta
    >>> theta.nn.init.zeros((2, 3))
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    _check_budget(math.prod(shape), charge=False)
    return np.zeros(shape, dtype=_dtype(dtype))


def ones(shape: tuple[int, ...], *, dtype: np.dtype | type | None = None) -> np.ndarray:
    """An array of ones of ``shape`` (the default dtype unless ``dtype`` is given): gains.

    Examples
    --------
    >>> import theta
    >>> theta.nn.init.ones((3,), dtype="float64")
    array([1., 1., 1.])
    """
    _check_budget(math.prod(shape), charge=False)
    return np.ones(shape, dtype=_dtype(dtype))
