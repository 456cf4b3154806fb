"""The compiled float32 GELU kernels (``theta.kernels._activations``) against float64, the NumPy
path and PyTorch: value and slope within a few float32 ulp, NaN and ``±inf`` as the NumPy path
gives them, the fused bias add and the in-place forms bit for bit, and the sizes and dtypes
that keep to NumPy."""

import numpy as np
import pytest

import theta
import theta.kernels
from theta import Tensor, special
from theta.nn import functional as F

pytest.importorskip("numba")
torch = pytest.importorskip("torch")

EPS = float(np.finfo(np.float32).eps)
FORMS = ["none", "tanh"]


@pytest.fixture(autouse=True)
def _compiled():
    with theta.kernels.use_backend("numba"):
        yield


def _numpy_path(fn, *args, **kwargs):
    with theta.kernels.use_backend("numpy"):
        return fn(*args, **kwargs)


def _inputs() -> np.ndarray:
    """A dense grid over both tails and typical pre-activations, (100, 4099)."""
    grid = np.linspace(-20.0, 20.0, 400_001)
    normal = 3.0 * np.random.default_rng(0).standard_normal(9_899)
    return np.concatenate([grid, normal]).astype(np.float32).reshape(100, 4099)


@pytest.mark.parametrize("approximate", FORMS)
def test_value_and_slope_are_within_two_ulp_of_float64(approximate):
    x = _inputs()
    value, slope = special.gelu_with_slope(x, approximate)
    exact_value, exact_slope = special.gelu_with_slope(x.astype(np.float64), approximate)
    scale = np.maximum(1.0, np.abs(x.astype(np.float64)))  # value ~ x: ulp of max(1, |x|)
    assert np.max(np.abs(value - exact_value) / scale) <= 2 * EPS
    assert np.max(np.abs(slope - exact_slope)) <= 3 * EPS


@pytest.mark.parametrize("approximate", FORMS)
def test_matches_the_numpy_path_and_torch_float32(approximate):
    x = _inputs()
    value, slope = special.gelu_with_slope(x, approximate)
    np_value, np_slope = _numpy_path(special.gelu_with_slope, x, approximate)
    scale = np.maximum(1.0, np.abs(x))
    assert np.max(np.abs(value - np_value) / scale) <= 3 * EPS
    # NumPy's tanh form loses up to 17 ulp of its slope to 1 + tanh(u) cancelling; ours does not
    assert np.max(np.abs(slope - np_slope)) <= (3 if approximate == "none" else 20) * EPS
    theirs = torch.nn.functional.gelu(torch.tensor(x), approximate=approximate).numpy()
    assert np.max(np.abs(value - theirs) / scale) <= 4 * EPS


@pytest.mark.parametrize("approximate", FORMS)
def test_gelu_and_gelu_grad_agree_with_gelu_with_slope_bit_for_bit(approximate, rng):
    x = (3 * rng.standard_normal((64, 300))).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    value, slope = special.gelu_with_slope(x, approximate)
    np.testing.assert_array_equal(special.gelu(x, approximate), value)
    np.testing.assert_array_equal(special.gelu_grad(x, g, approximate), slope * g)


@pytest.mark.parametrize("approximate", FORMS)
def test_fused_bias_and_in_place_forms_are_bit_for_bit(approximate, rng):
    x = (3 * rng.standard_normal((5, 9000))).astype(np.float32)  # rows of three tasks
    b = rng.standard_normal(9000).astype(np.float32)
    value, slope = special.gelu_with_slope(x + b, approximate)
    fused_value, fused_slope = special.gelu_with_slope(x, approximate, bias=b)
    np.testing.assert_array_equal(fused_value, value)
    np.testing.assert_array_equal(fused_slope, slope)
    np.testing.assert_array_equal(special.gelu(x, approximate, bias=b), value)
    y = x.copy()
    assert special.gelu(y, approximate, out=y, bias=b) is y
    np.testing.assert_array_equal(y, value)
    y = x.copy()
    in_place_value, in_place_slope = special.gelu_with_slope(y, approximate, overwrite_x=True,
                                                             bias=b)  # fmt: skip
    assert in_place_slope is y
    np.testing.assert_array_equal(in_place_value, value)
    np.testing.assert_array_equal(in_place_slope, slope)


@pytest.mark.parametrize("approximate", FORMS)
def test_bias_matches_the_numpy_path(approximate, rng):
    x = (3 * rng.standard_normal((300, 70))).astype(np.float32)
    b = rng.standard_normal(70).astype(np.float32)
    got = special.gelu_with_slope(x, approximate, bias=b)
    want = _numpy_path(special.gelu_with_slope, x, approximate, bias=b)
    for a, w in zip(got, want, strict=True):
        np.testing.assert_allclose(a, w, rtol=0, atol=20 * EPS * np.abs(x + b).max())


@pytest.mark.parametrize("approximate", FORMS)
def test_nan_and_inf_as_the_numpy_path(approximate):
    special_values = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 88.0, -88.0, 3e-39]
    x = np.zeros(5000, np.float32)
    x[: len(special_values)] = special_values
    got = special.gelu_with_slope(x, approximate)
    with np.errstate(all="ignore"):  # NumPy warns of the overflow and inf * 0 it computes
        want = _numpy_path(special.gelu_with_slope, x, approximate)
    for a, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(w))
        np.testing.assert_allclose(a, w, rtol=4 * EPS, atol=0)  # inf == inf, NaN == NaN
    assert np.isnan(got[0][0]) and np.isnan(got[1][0])


@pytest.mark.parametrize("approximate", FORMS)
def test_small_and_float64_arrays_keep_to_numpy(approximate, rng):
    small = rng.standard_normal(special._KERNEL_FROM - 1).astype(np.float32)
    wide = rng.standard_normal(2 * special._KERNEL_FROM)
    for x in (small, wide):
        got = special.gelu_with_slope(x, approximate)
        want = _numpy_path(special.gelu_with_slope, x, approximate)
        for a, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, w)


@pytest.mark.parametrize("approximate", FORMS)
def test_thread_count_does_not_change_the_numbers(approximate, rng):
    x = (3 * rng.standard_normal((33, 1000))).astype(np.float32)
    before = theta.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            theta.set_num_threads(n)
            results.append(special.gelu_with_slope(x, approximate))
    finally:
        theta.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("approximate", FORMS)
def test_linear_gelu_equals_gelu_of_linear_and_torch(approximate, rng):
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 64, 32), (96, 32), (96,)])
    g = rng.standard_normal((4, 64, 96)).astype(np.float32)
    fused = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    composed = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    out_f = F.linear_gelu(*fused, approximate=approximate)
    out_c = theta.gelu(F.linear(*composed), approximate)
    out_f.backward(g)
    out_c.backward(g)
    np.testing.assert_array_equal(out_f.data, out_c.data)  # the bias add fused, bit for bit
    for a, c in zip(fused, composed, strict=True):
        np.testing.assert_allclose(a.grad, c.grad, rtol=1e-5, atol=1e-5)
    with theta.no_grad():
        np.testing.assert_array_equal(F.linear_gelu(*fused, approximate=approximate).data,
                                      out_f.data)  # fmt: skip
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b)]
    ref = torch.nn.functional.gelu(torch.nn.functional.linear(*theirs), approximate=approximate)
    ref.backward(torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(out_f.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    for a, t in zip(fused, theirs, strict=True):
        want = t.grad.numpy()
        np.testing.assert_allclose(a.grad, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
