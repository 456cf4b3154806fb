import math

import numpy as np
import pytest

from theta.special import erf

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
