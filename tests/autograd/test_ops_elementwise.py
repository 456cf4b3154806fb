"""Elementwise ops of issue 15: more unary math, rounding, ``%`` and ``//``, ``atan2``, tensor
bounds for ``clip``, the activations, and the ops outside the graph (logical, bitwise,
``isclose``, ``isnan``).

The differentiable ops are rows of the op table (``optable``); kinks and ties, integer and
bool dtypes, huge inputs and errors get plain tests against NumPy and PyTorch.
"""

from __future__ import annotations

import math
import operator as op
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from optable import (
    SAME,
    Op,
    Sampler,
    _compare_with_torch,
    away,
    join,
    mask,
    normal,
    np_sigmoid,
    positive,
    table_tests,
    uniform,
)  # fmt: skip

import theta
from theta import Tensor

# the table names PyTorch's functions directly, so this file needs PyTorch
torch = pytest.importorskip("torch")
F = torch.nn.functional

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
np_erf = np.vectorize(math.erf, otypes=[float])


def off_grid(step: float, *shapes: tuple[int, ...]) -> Sampler:
    """Values ``k * step + u * step`` with ``u`` in ``[0.2, 0.8)``: never within a fifth of a
    step of a multiple of ``step``, where floor, round and the like jump."""
    return lambda rng: [(rng.integers(-8, 8, s) + rng.uniform(0.2, 0.8, s)) * step for s in shapes]


def scaled(factor: float, sample: Sampler) -> Sampler:
    """``sample``'s inputs times ``factor`` (moves ``away``'s kinks by the same factor)."""
    return lambda rng: [x * factor for x in sample(rng)]


def dividend_divisor(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> Sampler:
    """Divisors of size 0.5 to 2 and either sign, and dividends (of the broadcast shape)
    whose quotient keeps at least 0.1 from an integer, so ``a % b`` is smooth there."""

    def sample(rng: np.random.Generator) -> list[np.ndarray]:
        b = rng.uniform(0.5, 2.0, shape_b) * rng.choice([-1.0, 1.0], shape_b)
        a = b * (rng.integers(-3, 3, shape_a) + rng.uniform(0.1, 0.9, shape_a))
        return [np.asarray(a), np.asarray(b)]

    return sample


def untied(*shapes: tuple[int, ...], margin: float = 0.1) -> Sampler:
    """Normal inputs whose broadcast pairs all differ by at least ``margin`` (no ties)."""

    def sample(rng: np.random.Generator) -> list[np.ndarray]:
        while True:
            xs = [np.asarray(rng.standard_normal(s)) for s in shapes]
            if all(np.abs(a - b).min() >= margin for i, a in enumerate(xs) for b in xs[i + 1 :]):
                return xs

    return sample


def _clip_mixed(rng: np.random.Generator) -> list[np.ndarray]:
    """A tensor ``x`` and an upper bound, both away from each other and from ``-0.5``."""
    while True:
        x, hi = untied((2, 3), (3,))(rng)
        if np.abs(x + 0.5).min() > 0.1 and np.abs(hi + 0.5).min() > 0.1:
            return [x, hi]


def np_softplus_torch(beta: float, threshold: float) -> Callable[..., np.ndarray]:
    return lambda x: np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def np_elu(alpha: float, scale: float = 1.0) -> Callable[..., np.ndarray]:
    return lambda x: scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def np_mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(np.log1p(np.exp(x)))


def np_hardsigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 3, 0, 6) / 6


def torch_hardsigmoid(x: torch.Tensor) -> torch.Tensor:
    """``F.hardsigmoid`` away from its kinks; its kernel's gradient is float32's 1/6 (3e-8 off)
    even in float64, while theta's is 1/6."""
    return torch.clamp(x + 3, 0, 6) / 6


def np_hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3, 0, 6) / 6


OPS: list[Op] = [
    # --- rounding and sign: zero gradient (PyTorch); inputs keep away from the jumps ---
    Op("floor", lambda x: x.floor(), np.floor, SAME, off_grid(0.5, (2, 3))),
    Op("ceil_0d", theta.ceil, np.ceil, torch.ceil, off_grid(0.5, ())),
    Op("trunc", theta.trunc, np.trunc, torch.trunc, off_grid(0.5, (4,))),
    Op("round", lambda x: x.round(), SAME, SAME, off_grid(0.5, (2, 3))),
    Op("round_dec1", lambda x: x.round(decimals=1), SAME, SAME, off_grid(0.05, (5,))),
    Op("round_dec-1", lambda x: theta.round(x, -1), lambda x: np.round(x, -1),
       lambda x: torch.round(x, decimals=-1), off_grid(5.0, (5,))),
    Op("sign", theta.sign, np.sign, torch.sign, off_grid(0.5, (2, 3))),
    Op("size0", theta.floor, np.floor, torch.floor, normal((0, 3))),
    # --- unary math ---
    Op("reciprocal", lambda x: x.reciprocal(), np.reciprocal, SAME, away((2, 3), margin=0.5)),
    Op("square", lambda x: x.square(), np.square, SAME, normal((2, 3))),
    Op("square_0d", theta.square, np.square, torch.square, normal(())),
    Op("rsqrt", lambda x: x.rsqrt(), lambda x: 1 / np.sqrt(x), SAME, positive((2, 3))),
    Op("exp2", lambda x: x.exp2(), np.exp2, SAME, normal((2, 3))),
    Op("log2", lambda x: x.log2(), np.log2, SAME, positive((2, 3))),
    Op("log10", lambda x: x.log10(), np.log10, SAME, positive((1, 3))),
    Op("expm1", lambda x: x.expm1(), np.expm1, SAME, normal((2, 3))),
    Op("sinh", lambda x: x.sinh(), np.sinh, SAME, normal((2, 3))),
    Op("cosh", theta.cosh, np.cosh, torch.cosh, normal((3,))),
    Op("asin", lambda x: x.asin(), np.arcsin, SAME, uniform(-0.9, 0.9, (2, 3))),
    Op("acos", lambda x: x.acos(), np.arccos, SAME, uniform(-0.9, 0.9, (2, 3))),
    Op("atan", lambda x: x.atan(), np.arctan, SAME, normal((2, 3))),
    Op("erf", lambda x: x.erf(), np_erf, SAME, uniform(-5, 5, (3, 4))),
    Op("erf_0d", theta.erf, np_erf, torch.erf, normal(())),
    # --- binary: atan2, remainder, floor and truncating division ---
    Op("atan2", theta.atan2, np.arctan2, torch.atan2, normal((3, 1), (4,))),
    Op("atan2_0d", theta.atan2, np.arctan2, torch.atan2, normal((), (2, 3))),
    Op("remainder", theta.remainder, np.remainder, torch.remainder,
       dividend_divisor((3, 4), (4,))),
    Op("mod_0d", op.mod, SAME, SAME, dividend_divisor((2, 3), ())),
    Op("mod_same", op.mod, SAME, SAME, dividend_divisor((2, 3), (2, 3))),
    Op("mod_scalar", lambda x: x % 1.5, SAME, SAME, scaled(1.5, off_grid(1.0, (2, 3)))),
    Op("rmod_scalar", lambda x: 2.0 % x, SAME,
       lambda x: torch.remainder(torch.full_like(x, 2.0), x),
       uniform(0.7, 0.9, (2, 3))),  # torch: no gradient for 2.0 % x
    Op("floordiv", op.floordiv, SAME, lambda a, b: torch.div(a, b, rounding_mode="floor"),
       dividend_divisor((3, 4), (4,))),
    Op("div_floor", lambda a, b: theta.div(a, b, rounding_mode="floor"), np.floor_divide,
       lambda a, b: torch.div(a, b, rounding_mode="floor"), dividend_divisor((2, 3), ())),
    Op("div_trunc", lambda a, b: theta.div(a, b, rounding_mode="trunc"),
       lambda a, b: np.trunc(a / b), lambda a, b: torch.div(a, b, rounding_mode="trunc"),
       dividend_divisor((2, 3), (3,))),
    Op("div_none", lambda a, b: theta.div(a, b, rounding_mode=None), np.divide, torch.div,
       away((2, 3), (3,), margin=0.5)),
    # --- clip with tensor bounds (broadcast, gradients to the active bound; crossed bounds too) ---
    Op("clip_tensors", theta.clip, np.clip, torch.clamp, untied((3, 4), (4,), (3, 1))),
    Op("clip_crossed", lambda x, lo, hi: theta.clip(x, lo + 1.0, hi - 1.0),
       lambda x, lo, hi: np.clip(x, lo + 1.0, hi - 1.0),
       lambda x, lo, hi: torch.clamp(x, lo + 1.0, hi - 1.0),
       untied((2, 3), (3,), (2, 1))),
    Op("clip_min_tensor", lambda x, lo: theta.clip(x, lo), lambda x, lo: np.clip(x, lo, None),
       lambda x, lo: torch.clamp(x, min=lo), untied((2, 3), (3,))),
    Op("clip_max_tensor", lambda x, hi: x.clip(max=hi), lambda x, hi: np.clip(x, None, hi),
       lambda x, hi: torch.clamp(x, max=hi), untied((2, 3), ())),
    Op("clip_mixed", lambda x, hi: theta.clip(x, -0.5, hi), lambda x, hi: np.clip(x, -0.5, hi),
       lambda x, hi: torch.clamp(x, torch.tensor(-0.5, dtype=hi.dtype), hi),
       _clip_mixed),
    # --- where with a condition of more axes than either branch ---
    Op("where_cond_bcast", theta.where, np.where, torch.where,
       join(mask((2, 3, 1)), normal((3, 4), ()))),
    # --- activations (PyTorch's definitions), away from their kinks ---
    Op("softplus_beta", lambda x: theta.softplus(x, beta=2.0, threshold=5.0),
       np_softplus_torch(2.0, 5.0), lambda x: F.softplus(x, beta=2.0, threshold=5.0),
       scaled(2.5, away((3, 4), kinks=(1.0,)))),
    Op("softplus_wide", theta.softplus, np_softplus_torch(1.0, 20.0), F.softplus,
       scaled(10.0, away((3, 4), kinks=(2.0,), margin=0.05))),
    Op("elu", theta.elu, np_elu(1.0), F.elu, away((2, 3))),
    Op("elu_alpha", lambda x: theta.elu(x, alpha=0.5), np_elu(0.5), lambda x: F.elu(x, alpha=0.5),
       away(())),
    Op("selu", theta.selu, np_elu(SELU_ALPHA, SELU_SCALE), F.selu, away((2, 3))),
    Op("silu", theta.silu, lambda x: x * np_sigmoid(x), F.silu, uniform(-8, 8, (3, 4))),
    Op("mish", theta.mish, np_mish, F.mish, uniform(-8, 8, (3, 4))),
    Op("hardtanh", theta.hardtanh, lambda x: np.clip(x, -1, 1), F.hardtanh,
       away((3, 4), kinks=(-1.0, 1.0))),
    Op("hardtanh_bounds", lambda x: theta.hardtanh(x, min_val=-0.5, max_val=2.0),
       lambda x: np.clip(x, -0.5, 2.0), lambda x: F.hardtanh(x, -0.5, 2.0),
       away((3, 4), kinks=(-0.5, 2.0))),
    Op("relu6", theta.relu6, lambda x: np.clip(x, 0, 6), F.relu6,
       scaled(3.0, away((3, 4), kinks=(0.0, 2.0)))),
    Op("hardsigmoid", theta.hardsigmoid, np_hardsigmoid, torch_hardsigmoid,
       scaled(3.0, away((3, 4), kinks=(-1.0, 1.0)))),
    Op("hardswish", theta.hardswish, np_hardswish, F.hardswish,
       scaled(3.0, away((3, 4), kinks=(-1.0, 1.0)))),
    Op("logsigmoid", theta.logsigmoid, lambda x: -np.log1p(np.exp(-x)), F.logsigmoid,
       uniform(-30, 30, (3, 4))),
    Op("silu_0d", theta.silu, lambda x: x * np_sigmoid(x), F.silu, normal(())),
]  # fmt: skip


(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(OPS)


def _torch_grads(fn, *values):
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out = fn(*ts)
    out.backward(torch.ones_like(out))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _theta_grads(fn, *values):
    ts = [theta.tensor(v, dtype=np.float64, requires_grad=True) for v in values]
    out = fn(*ts)
    out.backward(np.ones(out.shape))
    return out.data, [t.grad for t in ts]


def _same_as_torch(fn, torch_fn, *values, rtol=1e-12):
    out, grads = _theta_grads(fn, *values)
    want, want_grads = _torch_grads(torch_fn, *values)
    np.testing.assert_allclose(out, want, rtol=rtol, atol=0, equal_nan=True)
    for got, expected in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=0, equal_nan=True)


# --- conventions at kinks and ties, against PyTorch ---------------------------------------------

KINKS = [
    # name          theta                                     torch                             at
    ("hardtanh", theta.hardtanh, F.hardtanh, [-1.0, 1.0, 0.0]),
    ("relu6", theta.relu6, F.relu6, [0.0, 6.0, 3.0]),
    ("hardsigmoid", theta.hardsigmoid, F.hardsigmoid, [-3.0, 3.0, 0.0]),
    ("hardswish", theta.hardswish, F.hardswish, [-3.0, 3.0, 0.0]),
    ("elu", theta.elu, F.elu, [0.0, -0.0]),
    ("softplus_at_threshold", lambda x: theta.softplus(x, 2.0, 4.0),
                    lambda x: F.softplus(x, 2.0, 4.0),        [2.0, 2.0000001]),
    ("sign", theta.sign, lambda x: torch.sign(x), [0.0, -1.0, 2.0]),
    ("round_half_even", theta.round, lambda x: torch.round(x), [0.5, 1.5, 2.5, -0.5, -2.5]),
    ("clip_at_bounds", lambda x: theta.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0),
     [-1.0, 1.0]),
    ("remainder_neg", lambda x: x % -1.5, lambda x: x % -1.5, [-4.0, 4.0, 3.0, -3.0]),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, torch_fn, at", KINKS, ids=[k[0] for k in KINKS])
def test_kinks_and_ties_follow_pytorch(name, fn, torch_fn, at) -> None:
    pytest.importorskip("torch")
    rtol = 1e-7 if name == "hardsigmoid" else 1e-12  # see torch_hardsigmoid
    _same_as_torch(fn, torch_fn, np.array(at), rtol=rtol)


def test_clip_tensor_bounds_at_ties_follow_pytorch() -> None:
    pytest.importorskip("torch")
    x = np.array([0.0, 1.0, 2.0, 0.5, 5.0])
    lo = np.array([0.0, 0.0, 2.0, 1.0, 3.0])  # x == lo, inside, lo == hi == x, crossed, above
    hi = np.array([1.0, 1.0, 2.0, 0.0, 3.0])
    _same_as_torch(theta.clip, torch.clamp, x, lo, hi)


@pytest.mark.parametrize("base", [0.0, 1.0, -1.0, 2.0])
@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 2.0, 3.0, -1.0])
def test_pow_gradients_match_pytorch_everywhere(base, exponent) -> None:
    """``x ** y`` with a number and with a tensor exponent: PyTorch's values, also at x = 0."""
    pytest.importorskip("torch")
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 and (-1) ** 0.5 in forward
        _same_as_torch(lambda x: x**exponent, lambda x: x**exponent, np.array(base))
        _same_as_torch(op.pow, op.pow, np.array(base), np.array(exponent))


def test_pow_zero_exponent_agrees_for_number_and_tensor() -> None:
    x = theta.tensor([0.0, 1.0, -1.0, 2.0], dtype=np.float64, requires_grad=True)
    (x**0.0).sum().backward()
    by_number = x.grad
    x.grad = None
    (x ** theta.tensor(0.0, dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad, by_number)
    np.testing.assert_array_equal(by_number, np.zeros(4))


def test_gelu_of_0d_tensor_is_0d() -> None:
    for approximate in ("none", "tanh"):
        x = theta.tensor(0.7, dtype=np.float64, requires_grad=True)
        out = theta.gelu(x, approximate)
        assert out.shape == ()
        out.backward()
        assert x.grad.shape == ()


# --- integer and bool dtypes: NumPy's results, no graph -------------------------------------------

INTS_A = np.array([-7, -6, 5, 7, 0])
INTS_B = np.array([2, -4, -3, 3, 5])


@pytest.mark.parametrize(
    "fn, ref",
    [
        (op.mod, np.remainder),
        (op.floordiv, np.floor_divide),
        (theta.remainder, np.remainder),
        (lambda a, b: theta.div(a, b, rounding_mode="floor"), np.floor_divide),
        (lambda a, b: theta.div(a, b, rounding_mode="trunc"), lambda a, b: np.fix(a / b)),
    ],
    ids=["mod", "floordiv", "remainder", "div_floor", "div_trunc"],
)
def test_integer_division_stays_integer(fn, ref) -> None:
    out = fn(Tensor(INTS_A), Tensor(INTS_B))
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.data, ref(INTS_A, INTS_B).astype(np.int64))


def test_integer_division_matches_pytorch() -> None:
    pytest.importorskip("torch")
    a, b = torch.tensor(INTS_A), torch.tensor(INTS_B)
    for mode in ("trunc", "floor"):
        got = theta.div(Tensor(INTS_A), Tensor(INTS_B), rounding_mode=mode)
        np.testing.assert_array_equal(got.data, torch.div(a, b, rounding_mode=mode).numpy())
    np.testing.assert_array_equal((Tensor(INTS_A) % 3).data, (a % 3).numpy())


@pytest.mark.parametrize("fn", [theta.floor, theta.ceil, theta.trunc, theta.round, theta.sign])
def test_rounding_integers_keeps_them(fn) -> None:
    out = fn(Tensor(INTS_A))
    assert out.dtype == INTS_A.dtype
    np.testing.assert_array_equal(out.data, INTS_A if fn is not theta.sign else np.sign(INTS_A))


def test_reciprocal_of_integers_is_float() -> None:
    np.testing.assert_array_equal(theta.reciprocal(Tensor(np.array([2, 4]))).data, [0.5, 0.25])


BITWISE = [
    # name           theta                     NumPy
    ("and",          op.and_,                  np.bitwise_and),
    ("or",           op.or_,                   np.bitwise_or),
    ("xor",          op.xor,                   np.bitwise_xor),
    ("bitwise_and",  theta.bitwise_and,        np.bitwise_and),
    ("bitwise_or",   theta.bitwise_or,         np.bitwise_or),
    ("bitwise_xor",  theta.bitwise_xor,        np.bitwise_xor),
    ("lshift",       op.lshift,                np.left_shift),
    ("rshift",       op.rshift,                np.right_shift),
    ("left_shift",   theta.left_shift,         np.left_shift),
    ("right_shift",  theta.right_shift,        np.right_shift),
    ("logical_and",  theta.logical_and,        np.logical_and),
    ("logical_or",   theta.logical_or,         np.logical_or),
    ("logical_xor",  theta.logical_xor,        np.logical_xor),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, ref", BITWISE, ids=[b[0] for b in BITWISE])
def test_bitwise_and_logical_ops_match_numpy(name, fn, ref) -> None:
    a = np.array([[5, 12, 0], [3, 1, 7]])
    b = np.array([3, 2, 1])  # broadcasts
    out = fn(Tensor(a), Tensor(b))
    np.testing.assert_array_equal(out.data, ref(a, b), strict=True)
    np.testing.assert_array_equal(fn(Tensor(a), 2).data, ref(a, 2), strict=True)
    np.testing.assert_array_equal(fn(2, Tensor(a)).data, ref(2, a), strict=True)
    if "shift" not in name:
        p, q = np.array([True, True, False]), np.array([True, False, False])
        np.testing.assert_array_equal(fn(Tensor(p), Tensor(q)).data, ref(p, q), strict=True)


def test_not_and_invert_match_numpy() -> None:
    a, p = np.array([5, -3, 0]), np.array([True, False])
    np.testing.assert_array_equal((~Tensor(a)).data, ~a, strict=True)
    np.testing.assert_array_equal((~Tensor(p)).data, ~p, strict=True)
    np.testing.assert_array_equal(theta.bitwise_not(Tensor(a)).data, ~a, strict=True)
    np.testing.assert_array_equal(theta.logical_not(Tensor(a)).data, a == 0, strict=True)


def test_bitwise_ops_match_pytorch() -> None:
    pytest.importorskip("torch")
    a, b = np.array([5, 12, 0, -3]), np.array([3, 2, 1, 1])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for fn in (op.and_, op.or_, op.xor, op.lshift, op.rshift):
        np.testing.assert_array_equal(fn(Tensor(a), Tensor(b)).data, fn(ta, tb).numpy())
    np.testing.assert_array_equal((~Tensor(a)).data, (~ta).numpy())


@pytest.mark.parametrize(
    "fn, name",
    [(op.and_, "bitwise_and"), (op.or_, "bitwise_or"), (op.xor, "bitwise_xor"),
     (op.invert, "bitwise_not"), (op.lshift, "left_shift"), (op.rshift, "right_shift")],
)  # fmt: skip
def test_bitwise_ops_refuse_floats(fn, name) -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    with pytest.raises(TypeError, match=f"{name}: needs .*float32"):
        fn(x) if fn is op.invert else fn(x, Tensor(np.array([1, 2])))


def test_shifts_refuse_bools() -> None:
    with pytest.raises(TypeError, match="left_shift: needs integer"):
        Tensor(np.array([True])) << 1


def test_isnan_isinf_isfinite_match_numpy() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0], dtype=np.float32)
    for name in ("isnan", "isinf", "isfinite"):
        out = getattr(theta, name)(Tensor(x))
        np.testing.assert_array_equal(out.data, getattr(np, name)(x), strict=True)
        np.testing.assert_array_equal(getattr(Tensor(x), name)().data, out.data, strict=True)
    assert theta.isnan(Tensor(np.float64(np.nan))).shape == ()


@pytest.mark.parametrize(
    "rtol, atol, equal_nan", [(1e-5, 1e-8, False), (0.1, 0.0, True), (0.0, 0.5, False)]
)
def test_isclose_and_allclose_match_numpy(rtol, atol, equal_nan) -> None:
    a = np.array([[1.0, 1.05, np.nan, 0.0], [2.0, 3.0, np.inf, 1e-9]])
    b = np.array([1.0, 1.0, np.nan, 0.4])
    kw = {"rtol": rtol, "atol": atol, "equal_nan": equal_nan}
    out = theta.isclose(Tensor(a), Tensor(b), **kw)
    np.testing.assert_array_equal(out.data, np.isclose(a, b, **kw), strict=True)
    assert theta.allclose(Tensor(a), b, **kw) is np.allclose(a, b, **kw)
    assert theta.allclose(Tensor(a[:, :2]), Tensor(a[:, :2])) is True


# --- stability: huge inputs give finite values and gradients, no warnings, PyTorch's numbers ---

ACTIVATIONS = [
    ("softplus", theta.softplus, lambda x: F.softplus(x)),
    ("softplus_beta", lambda x: theta.softplus(x, 0.5, 30.0), lambda x: F.softplus(x, 0.5, 30.0)),
    ("elu", theta.elu, lambda x: F.elu(x)),
    ("selu", theta.selu, lambda x: F.selu(x)),
    ("silu", theta.silu, lambda x: F.silu(x)),
    ("mish", theta.mish, lambda x: F.mish(x)),
    ("hardtanh", theta.hardtanh, lambda x: F.hardtanh(x)),
    ("hardswish", theta.hardswish, lambda x: F.hardswish(x)),
    ("hardsigmoid", theta.hardsigmoid, torch_hardsigmoid),
    ("logsigmoid", theta.logsigmoid, lambda x: F.logsigmoid(x)),
    ("relu6", theta.relu6, lambda x: F.relu6(x)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fn, torch_fn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_stay_finite_for_huge_inputs(name, fn, torch_fn, dtype) -> None:
    pytest.importorskip("torch")
    x = np.array([-1e4, -100.0, -30.0, -0.3, 0.2, 30.0, 100.0, 1e4], dtype=dtype)
    t = theta.tensor(x, requires_grad=True)
    out = fn(t)
    out.backward(np.ones_like(x))
    assert out.dtype == dtype and t.grad.dtype == dtype
    assert np.isfinite(out.data).all() and np.isfinite(t.grad).all()
    ref = torch.tensor(x, requires_grad=True)
    want = torch_fn(ref)
    want.backward(torch.ones_like(want))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(t.grad, ref.grad.numpy(), rtol=tol, atol=tol)


# --- errors --------------------------------------------------------------------------------------


def test_errors_name_the_op() -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor'"):
        theta.div(x, x, rounding_mode="round")
    with pytest.raises(ValueError, match=r"clip: shapes \(2, 3\) and \(4,\) and \(\) cannot"):
        theta.clip(x, Tensor(np.zeros(4)))
    with pytest.raises(ValueError, match=r"remainder: shapes \(2, 3\) and \(2,\) cannot"):
        theta.remainder(x, Tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"bitwise_and: shapes \(2,\) and \(3,\)"):
        Tensor(np.array([1, 2])) & Tensor(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="hardtanh: min_val must not exceed max_val"):
        theta.hardtanh(x, 1.0, -1.0)
    with pytest.raises(TypeError):
        theta.round(x, 0.5)


# --- Hypothesis: random broadcasting pairs for the new binary ops --------------------------------

BINARY = [
    ("atan2", theta.atan2, np.arctan2, lambda a, b: torch.atan2(a, b)),
    ("remainder", theta.remainder, np.remainder, lambda a, b: torch.remainder(a, b)),
]


@settings(max_examples=25, deadline=None)
@given(
    case=st.sampled_from(BINARY),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_ops_broadcast_random_shapes(case, shapes, seed) -> None:
    pytest.importorskip("torch")
    _, fn, ref, torch_fn = case
    rng = np.random.default_rng(seed)
    a, b = normal(*shapes.input_shapes)(rng)
    b = np.where(b < 0, -1.0, 1.0) * (0.5 + np.abs(b))  # no division by zero in remainder
    np.testing.assert_allclose(fn(Tensor(a), Tensor(b)).data, ref(a, b), rtol=1e-12, strict=True)
    _compare_with_torch(fn, torch_fn, [a, b], rng)
