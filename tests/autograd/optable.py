"""The op table's machinery (STYLE.md rule 13), shared by every ``test_ops*.py`` file.

A row (``Op``) gives one op four ways: the theta call, a NumPy reference, a PyTorch reference,
and a sampler that draws float64 inputs inside the op's smooth domain. ``table_tests(rows)``
makes the four tests every row must pass: the forward pass against NumPy, the gradients of
every input against central differences and against PyTorch, and float32 in gives float32 out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import theta
from theta import Tensor

try:
    import torch
except ImportError:  # the PyTorch cross-checks skip themselves
    torch = None

Sampler = Callable[[np.random.Generator], list[np.ndarray]]

# In a reference column: the theta call runs unchanged on ndarrays (NumPy) or torch tensors.
SAME = None


# --- samplers: float64 inputs inside each op's smooth domain ------------------------------


def normal(*shapes: tuple[int, ...]) -> Sampler:
    """Standard normal inputs of the given shapes."""
    return lambda rng: [np.asarray(rng.standard_normal(s)) for s in shapes]


def uniform(low: float, high: float, *shapes: tuple[int, ...]) -> Sampler:
    """Inputs drawn uniformly from ``[low, high)``."""
    return lambda rng: [np.asarray(rng.uniform(low, high, s)) for s in shapes]


def positive(*shapes: tuple[int, ...]) -> Sampler:
    """Inputs in ``[0.5, 2)``, for log, sqrt, negative powers and the base of ``a ** b``."""
    return uniform(0.5, 2.0, *shapes)


def away(
    *shapes: tuple[int, ...], kinks: tuple[float, ...] = (0.0,), margin: float = 0.1
) -> Sampler:
    """Normal inputs pushed at least ``margin`` away from every kink of a piecewise op."""

    def sample(rng: np.random.Generator) -> list[np.ndarray]:
        xs = [np.asarray(rng.standard_normal(s)) for s in shapes]
        for k in kinks:
            xs = [np.asarray(k + np.copysign(np.maximum(np.abs(x - k), margin), x - k)) for x in xs]
        return xs

    return sample


def distinct(*shapes: tuple[int, ...]) -> Sampler:
    """Inputs whose values all lie at least 0.1 apart, so max and min have no ties."""

    def sample(rng: np.random.Generator) -> list[np.ndarray]:
        out = []
        for s in shapes:
            n = math.prod(s)
            values = (rng.permutation(n) + rng.uniform(0.1, 0.9, n) - n / 2) * 0.5
            out.append(values.reshape(s))
        return out

    return sample


def apart(shape_a: tuple[int, ...], shape_b: tuple[int, ...], margin: float = 0.1) -> Sampler:
    """Two normal inputs whose broadcast pairs differ by at least ``margin`` (no ties)."""

    def sample(rng: np.random.Generator) -> list[np.ndarray]:
        while True:
            a, b = normal(shape_a, shape_b)(rng)
            if np.abs(a - b).min() >= margin:
                return [a, b]

    return sample


def mask(shape: tuple[int, ...]) -> Sampler:
    """A random boolean condition (passed through gradcheck untouched: it is not floating)."""
    return lambda rng: [np.asarray(rng.random(shape) < 0.5)]


def join(*samplers: Sampler) -> Sampler:
    """The inputs of several samplers, in order."""
    return lambda rng: [x for sample in samplers for x in sample(rng)]


# --- references that NumPy lacks ------------------------------------------------------------

Ref = Callable[[np.ndarray], np.ndarray]
_erf = np.vectorize(math.erf, otypes=[float])


def np_sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, straight from the definition."""
    return 1.0 / (1.0 + np.exp(-x))


def np_softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))``, straight from the definition."""
    return np.log1p(np.exp(x))


def np_relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``."""
    return np.maximum(x, 0.0)


def np_leaky_relu(slope: float) -> Ref:
    """Leaky ReLU with ``slope`` for negative inputs."""
    return lambda x: np.where(x > 0, x, slope * x)


def np_gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU ``x * Phi(x)``."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def np_gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU with GPT-2's tanh approximation."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    """``log(sum(exp(x)))``, unshifted: the samplers keep inputs small."""
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def np_softmax(axis: int) -> Ref:
    """Softmax along ``axis``, straight from the definition."""
    return lambda x: np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True)


def np_log_softmax(axis: int) -> Ref:
    """Log-softmax along ``axis``, straight from the definition."""
    return lambda x: x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def torch_reduce(name: str) -> Callable[..., Any]:
    """``torch.<name>`` called with NumPy's keywords (``axis``, ``keepdims``, ``ddof``)."""

    def reduce(x: Any, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Any:
        if "ddof" in kwargs:
            kwargs["correction"] = kwargs.pop("ddof")
        dims = tuple(range(x.ndim)) if axis is None else axis
        if dims == ():  # NumPy reduces nothing over no axes; torch would reduce everything
            return x * 1.0
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims, **kwargs)

    return reduce


def combine(pieces: list[Any]) -> Any:
    """Mix three split pieces non-linearly, so each one's gradient depends on the others."""
    return pieces[0] * pieces[1] + pieces[2]


# --- the table ------------------------------------------------------------------------------


class Op(NamedTuple):
    """One row: an op, its references, its inputs, and any tolerance it needs."""

    name: str
    fn: Callable[..., Tensor]  # the theta call, on Tensors
    ref: Callable[..., np.ndarray] | None  # NumPy reference on ndarrays; SAME: ``fn`` itself
    torch_ref: Callable[..., Any] | None  # PyTorch reference; SAME: ``fn`` itself
    sample: Sampler
    check: dict[str, float] | None = None  # gradcheck tolerances where the defaults cannot hold
    out_dtype: type | None = None  # output dtype when it is not the input's


# --- checks -----------------------------------------------------------------------------------


def _is_float(x: np.ndarray) -> bool:
    return x.dtype.kind == "f"


def _compare_with_torch(
    fn: Callable[..., Tensor],
    torch_fn: Callable[..., Any],
    inputs: list[np.ndarray],
    rng: np.random.Generator,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> None:
    """Run both libraries on ``inputs`` with one upstream gradient; outputs and grads agree."""
    ours = [Tensor(x.copy(), requires_grad=_is_float(x)) for x in inputs]
    theirs = [torch.tensor(x, requires_grad=_is_float(x)) for x in inputs]
    out, ref = fn(*ours), torch_fn(*theirs)
    np.testing.assert_allclose(
        out.data, ref.detach().numpy(), rtol=rtol, atol=atol, strict=True, err_msg="forward"
    )
    seed = np.asarray(rng.standard_normal(out.shape), dtype=out.dtype)
    out.backward(seed)
    ref.backward(torch.tensor(seed))
    for i, (x, ours_i, theirs_i) in enumerate(zip(inputs, ours, theirs, strict=True)):
        if not _is_float(x):
            continue
        assert ours_i.grad is not None, f"input {i} got no gradient"
        assert ours_i.grad.shape == x.shape, f"input {i}: gradient shape {ours_i.grad.shape}"
        want = np.zeros(x.shape) if theirs_i.grad is None else theirs_i.grad.numpy()
        np.testing.assert_allclose(
            ours_i.grad, want, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )




def check_forward_matches_numpy(row: Op, rng: np.random.Generator) -> None:
    """The float64 forward pass equals the NumPy reference and leaves its inputs untouched."""
    inputs = row.sample(rng)
    kept = [x.copy() for x in inputs]
    out = row.fn(*[Tensor(x) for x in inputs])
    expected = (row.ref or row.fn)(*kept)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, strict=True)
    for x, x0 in zip(inputs, kept, strict=True):
        np.testing.assert_array_equal(x, x0, err_msg="forward wrote into its input")


def check_gradients_match_finite_differences(row: Op, rng: np.random.Generator) -> None:
    """Autodiff gradients of every input agree with central differences in float64."""
    inputs = row.sample(rng)
    report = theta.gradcheck(row.fn, *inputs, **(row.check or {}))
    assert report.ok, f"{row.name}: {report}"
    assert report.n_elements == sum(x.size for x in inputs if _is_float(x)), "an input was skipped"


def check_matches_torch(row: Op, rng: np.random.Generator) -> None:
    """Forward values and every gradient equal PyTorch's in float64 to 1e-10."""
    pytest.importorskip("torch")
    _compare_with_torch(row.fn, row.torch_ref or row.fn, row.sample(rng), rng)


def check_float32_stays_float32(row: Op, rng: np.random.Generator) -> None:
    """Float32 inputs give a float32 output (Python scalars never upcast) and float32 grads."""
    inputs = [x.astype(np.float32) if _is_float(x) else x for x in row.sample(rng)]
    tensors = [Tensor(x, requires_grad=_is_float(x)) for x in inputs]
    out = row.fn(*tensors)
    assert out.dtype == (row.out_dtype or np.float32)
    expected = (row.ref or row.fn)(*[x.astype(np.float64) if _is_float(x) else x for x in inputs])
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    seed = np.asarray(rng.standard_normal(out.shape), dtype=out.dtype)
    kept = seed.copy()
    out.backward(seed)
    np.testing.assert_array_equal(seed, kept, err_msg="backward wrote into the incoming gradient")
    for i, t in enumerate(tensors):
        if t.requires_grad:
            assert isinstance(t.grad, np.ndarray), f"input {i}: gradient is {type(t.grad)}"
            assert t.grad.dtype == np.float32, f"input {i}: gradient dtype {t.grad.dtype}"
            assert t.grad.shape == t.shape, f"input {i}: gradient shape {t.grad.shape}"


def table_tests(rows: list[Op]) -> tuple[Callable[..., None], ...]:
    """The four table tests over ``rows``, for a test module to bind to ``test_*`` names.

    Example: ``test_forward_matches_numpy, test_gradients_match_finite_differences,
    test_matches_torch, test_float32_stays_float32 = table_tests(ROWS)``.
    """
    ids = [row.name for row in rows]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"every row needs its own id: {repeated}")
    checks = (check_forward_matches_numpy, check_gradients_match_finite_differences,
              check_matches_torch, check_float32_stays_float32)  # fmt: skip
    tests = []
    for check in checks:

        def test(row: Op, rng: np.random.Generator, check: Callable[..., None] = check) -> None:
            check(row, rng)

        test.__name__ = check.__name__.replace("check_", "test_", 1)
        test.__doc__ = check.__doc__
        tests.append(pytest.mark.parametrize("row", rows, ids=ids)(test))
    return tuple(tests)
