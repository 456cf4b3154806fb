"""Creation functions: shapes as ints or a tuple, theta's default float dtype, NumPy's int64
for integer ranges, ``requires_grad``, and random tensors that depend on ``rng`` alone."""

from __future__ import annotations

import numpy as np
import pytest

import theta

FILLED = [
    # name      theta                      NumPy
    ("zeros",   theta.zeros,               np.zeros),
    ("ones",    theta.ones,                np.ones),
    ("empty",   theta.empty,               np.empty),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, ref", FILLED, ids=[f[0] for f in FILLED])
@pytest.mark.parametrize("shape", [(2, 3), (0, 4), (), (1,)])
def test_shapes_as_ints_or_tuple(name, fn, ref, shape) -> None:
    for out in (fn(*shape), fn(shape), fn(list(shape))):
        assert out.shape == shape and out.dtype == theta.get_default_dtype()
        if name != "empty":
            np.testing.assert_array_equal(out.data, ref(shape))


def test_default_dtype_follows_set_default_dtype() -> None:
    theta.set_default_dtype(np.float64)
    try:
        assert theta.ones(2).dtype == np.float64
        assert theta.rand(2, rng=0).dtype == np.float64
        assert theta.arange(0.0, 1.0, 0.5).dtype == np.float64
    finally:
        theta.set_default_dtype(np.float32)
    assert theta.ones(2).dtype == np.float32


def test_dtype_and_requires_grad() -> None:
    x = theta.zeros(2, dtype=np.float64, requires_grad=True)
    assert x.dtype == np.float64 and x.requires_grad and x.is_leaf
    assert theta.ones(3, dtype=np.int32).dtype == np.int32
    with pytest.raises(TypeError, match="Only floating-point tensors can require gradients"):
        theta.zeros(2, dtype=np.int64, requires_grad=True)


def test_full_keeps_the_kind_of_its_fill() -> None:
    assert theta.full((2, 3), 1.5).dtype == np.float32
    np.testing.assert_array_equal(theta.full(3, 7).data, np.full(3, 7), strict=True)
    np.testing.assert_array_equal(theta.full((2,), True).data, np.full(2, True), strict=True)
    assert theta.full(2, 1, dtype=np.float64).dtype == np.float64


def test_eye_and_linspace_match_numpy() -> None:
    np.testing.assert_array_equal(theta.eye(3).data, np.eye(3, dtype=np.float32), strict=True)
    np.testing.assert_array_equal(theta.eye(2, 4, 1).data, np.eye(2, 4, 1, dtype=np.float32))
    got = theta.linspace(-1, 2, 7, dtype=np.float64).data
    np.testing.assert_array_equal(got, np.linspace(-1, 2, 7), strict=True)
    got = theta.linspace(0, 1, 4, endpoint=False)
    np.testing.assert_array_equal(got.data, np.linspace(0, 1, 4, endpoint=False, dtype=np.float32))


@pytest.mark.parametrize(
    "args, dtype",
    [((5,), np.int64), ((2, 9, 3), np.int64), ((-3, 3), np.int64), ((0.0, 1.0, 0.25), np.float32),
     ((1, 2.5), np.float32), ((4, 0, -1), np.int64)],
)  # fmt: skip
def test_arange_matches_numpy_with_int64_for_integers(args, dtype) -> None:
    out = theta.arange(*args)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.data, np.arange(*args, dtype=dtype))


def test_arange_matches_pytorch_dtypes() -> None:
    torch = pytest.importorskip("torch")
    assert str(theta.arange(4).dtype) == str(torch.arange(4).dtype).removeprefix("torch.")
    assert str(theta.arange(0.5, 2).dtype) == str(torch.arange(0.5, 2).dtype).removeprefix("torch.")


LIKE = [
    ("zeros_like", theta.zeros_like, np.zeros_like, ()),
    ("ones_like", theta.ones_like, np.ones_like, ()),
    ("full_like", theta.full_like, np.full_like, (2.5,)),
    ("empty_like", theta.empty_like, np.empty_like, ()),
]


@pytest.mark.parametrize("name, fn, ref, extra", LIKE, ids=[f[0] for f in LIKE])
def test_like_functions_keep_shape_and_dtype(name, fn, ref, extra) -> None:
    for source in (np.ones((2, 3), np.float64), np.arange(4), theta.ones(3, 1)):
        out = fn(source, *extra)
        data = source.data if isinstance(source, theta.Tensor) else source
        assert out.shape == data.shape and out.dtype == data.dtype
        if name != "empty_like":
            np.testing.assert_array_equal(out.data, ref(data, *extra), strict=True)
    out = fn(np.arange(4), *extra, dtype=np.float32, requires_grad=True)
    assert out.dtype == np.float32 and out.requires_grad


@pytest.mark.parametrize("fn, draw", [(theta.rand, "random"), (theta.randn, "standard_normal")])
def test_random_tensors_come_from_rng_alone(fn, draw) -> None:
    a, b = fn(3, 4, rng=7), fn((3, 4), rng=7)
    np.testing.assert_array_equal(a.data, b.data, strict=True)
    expected = getattr(np.random.default_rng(7), draw)((3, 4), dtype=np.float32)
    np.testing.assert_array_equal(a.data, expected, strict=True)
    assert not np.array_equal(fn(3, 4, rng=8).data, a.data)
    assert fn(2, dtype=np.float64, rng=0).dtype == np.float64
    assert fn(2, requires_grad=True, rng=0).requires_grad


@pytest.mark.parametrize("fn", [theta.rand, theta.randn, theta.rand_like, theta.randn_like])
def test_a_generator_is_advanced(fn) -> None:
    gen = np.random.default_rng(0)
    args = (np.zeros(5),) if fn in (theta.rand_like, theta.randn_like) else (5,)
    first, second = fn(*args, rng=gen), fn(*args, rng=gen)
    assert not np.array_equal(first.data, second.data)
    again = fn(*args, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(first.data, again.data.astype(first.dtype))


def test_uniform_samples_lie_in_unit_interval() -> None:
    x = theta.rand(1000, rng=1).data
    assert 0.0 <= x.min() and x.max() < 1.0 and 0.4 < x.mean() < 0.6
    assert abs(theta.randn(1000, rng=1).data.std() - 1.0) < 0.1


def test_random_like_keeps_float_dtype_and_refuses_integers() -> None:
    assert theta.rand_like(np.zeros(3, np.float64), rng=0).dtype == np.float64
    with pytest.raises(TypeError, match="rand: random values need a float32 or float64 dtype"):
        theta.rand_like(np.arange(3), rng=0)
    assert theta.randn_like(np.arange(3), dtype=np.float32, rng=0).dtype == np.float32


def test_errors() -> None:
    with pytest.raises(
        ValueError, match=r"zeros: sizes must be non-negative \(got shape \(2, -1\)\)"
    ):
        theta.zeros(2, -1)
    with pytest.raises(TypeError, match="ones: sizes must be integers"):
        theta.ones(2.5)
    with pytest.raises(ValueError, match="arange: step must not be zero"):
        theta.arange(0, 3, 0)
    with pytest.raises(ValueError, match="linspace: num must be non-negative"):
        theta.linspace(0, 1, -2)
    with pytest.raises(TypeError, match="check_random_state"):
        theta.rand(2, rng="seed")
