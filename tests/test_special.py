import math

import numpy as np
import pytest

from theta.special import erf, gelu, gelu_grad, log_softmax, softmax

RTOL = 1e-14


def _max_rel_err(x: np.ndarray) -> float:
    got = erf(x)
    ref = np.array([math.erf(v) for v in x.tolist()])
    assert np.array_equal(got[ref == 0], ref[ref == 0])
    nz = ref != 0
    return float(np.max(np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])))


def test_accuracy_dense_grid() -> None:
    x = np.linspace(-10.0, 10.0, 200_001)
    assert _max_rel_err(x) <= RTOL


def test_accuracy_random_points() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-10.0, 10.0, 50_000), rng.standard_normal(50_000)])
    assert _max_rel_err(x) <= RTOL


@pytest.mark.parametrize("edge", [0.46875, 4.0, 6.0])
def test_accuracy_at_range_boundaries(edge: float) -> None:
    x = np.array([np.nextafter(edge, 0.0), edge, np.nextafter(edge, np.inf)])
    assert _max_rel_err(np.concatenate([x, -x])) <= RTOL


def test_accuracy_tiny_values() -> None:
    x = np.array([1e-300, -1e-300, 1e-20, -1e-20, 1e-10, 2.2250738585072014e-308])
    assert _max_rel_err(x) <= RTOL
    assert _max_rel_err(np.logspace(-300, 0, 3001)) <= RTOL


def test_odd_symmetry() -> None:
    x = np.linspace(0.0, 10.0, 10_001)
    np.testing.assert_array_equal(erf(-x), -erf(x))


def test_limits() -> None:
    out = erf(np.array([np.inf, -np.inf, np.nan, 0.0, -0.0]))
    np.testing.assert_array_equal(out[:2], [1.0, -1.0])
    assert np.isnan(out[2])
    assert out[3] == 0.0 and not np.signbit(out[3])
    assert out[4] == 0.0 and np.signbit(out[4])


def test_exactly_one_for_large_magnitude() -> None:
    x = np.array([6.0, 7.5, 10.0, 27.0, 1e10, 1e300, np.finfo(np.float64).max])
    np.testing.assert_array_equal(erf(x), np.ones_like(x))
    np.testing.assert_array_equal(erf(-x), -np.ones_like(x))


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int64, np.float64),
        (np.int32, np.float64),
    ],
)
def test_dtype_preserved(dtype: type, expected: type) -> None:
    x = np.array([-3, -1, 0, 1, 2], dtype=dtype)
    out = erf(x)
    assert out.dtype == expected
    ref = np.array([math.erf(v) for v in x.tolist()])
    np.testing.assert_allclose(out, ref.astype(expected), rtol=np.finfo(expected).eps)


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_shape_preserved(shape: tuple[int, ...]) -> None:
    x = np.linspace(-5.0, 5.0, math.prod(shape)).reshape(shape)
    out = erf(x)
    assert out.shape == shape
    np.testing.assert_array_equal(out.ravel(), erf(x.ravel()))


def test_non_contiguous_input() -> None:
    x = np.linspace(-8.0, 8.0, 120).reshape(4, 6, 5)[:, ::2, ::-1]
    np.testing.assert_array_equal(erf(x), erf(np.ascontiguousarray(x)))


# --- float32: one rational approximation, accurate to float32 rounding -----------------------


def test_float32_erf_within_2e7_of_exact_on_a_dense_grid_and_tails() -> None:
    x = np.concatenate(
        [np.linspace(-10.0, 10.0, 400_001), np.linspace(-1e-3, 1e-3, 2_001), [3.9, 4.0, 1e30]]
    ).astype(np.float32)
    ref = np.array([math.erf(v) for v in x.astype(np.float64).tolist()])
    got = erf(x)
    assert got.dtype == np.float32
    assert np.max(np.abs(got - ref)) <= 2e-7
    assert np.all(np.abs(got) <= 1.0)
    tiny = np.abs(x) < 1e-3  # relative accuracy where erf(x) ~ 2x / sqrt(pi)
    np.testing.assert_allclose(got[tiny], ref[tiny], rtol=1e-6, atol=1e-30)


def test_float32_erf_limits_and_nan() -> None:
    got = erf(np.array([np.inf, -np.inf, np.nan, 0.0], dtype=np.float32))
    np.testing.assert_array_equal(got[[0, 1, 3]], [1.0, -1.0, 0.0])
    assert np.isnan(got[2])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_float32_gelu_and_gradient_match_float64(approximate: str, kernel_backend: str) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((70, 999)) * 3).astype(np.float32)  # several blocks
    g = rng.standard_normal(x.shape).astype(np.float32)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    np.testing.assert_allclose(gelu(x, approximate), gelu(x64, approximate), atol=1e-6, rtol=1e-6)
    # float32's own cancellation in 1 + t (t -> -1 in the negative tail) bounds the tanh form
    np.testing.assert_allclose(
        gelu_grad(x, g, approximate), gelu_grad(x64, g64, approximate), atol=5e-6, rtol=1e-5
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_grad_is_the_derivative(approximate: str) -> None:
    x = np.linspace(-6.0, 6.0, 241)
    eps = 1e-6
    numeric = (gelu(x + eps, approximate) - gelu(x - eps, approximate)) / (2 * eps)
    np.testing.assert_allclose(gelu_grad(x, np.ones_like(x), approximate), numeric, atol=1e-8)


def test_exact_gelu_matches_its_definition() -> None:
    x = np.linspace(-8.0, 8.0, 161)
    ref = [0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()]
    np.testing.assert_allclose(gelu(x), ref, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_match_scipy(axis) -> None:
    special = pytest.importorskip("scipy.special")
    x = np.random.default_rng(0).normal(scale=30.0, size=(4, 5, 3))
    x[0, 0, 0] = 1e300  # no overflow: the maximum is subtracted first
    np.testing.assert_allclose(softmax(x, axis), special.softmax(x, axis), rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        log_softmax(x, axis), special.log_softmax(x, axis), rtol=1e-12, atol=1e-300
    )
    assert softmax(x[1:].astype(np.float32), axis).dtype == np.float32
