"""The LayerNorm kernels (``theta.kernels._normalization``) against theta's NumPy path and
PyTorch: values and all three gradients, float32 and float64, rows with a large mean, NaN and
infinity, the column sums' determinism, and the cases that must fall back to NumPy.
"""

import numpy as np
import pytest

import theta
import theta.kernels
from theta.nn import functional as F

torch = pytest.importorskip("torch")
pytest.importorskip("numba")


def run(backend, x, w, b, g, eps=1e-5):
    """Output and the gradients of x, weight and bias through ``F.layer_norm`` on ``backend``."""
    with theta.kernels.use_backend(backend):
        xt, wt, bt = (theta.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.layer_norm(xt, wt, bt, eps=eps)
        out.backward(g)
    return out.data, xt.grad, wt.grad, bt.grad


def run_torch(x, w, b, g, eps=1e-5, dtype=torch.float64):
    """The same through torch, computed in ``dtype`` and returned as float64 arrays."""
    xt, wt, bt = (torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w, b))
    out = torch.nn.functional.layer_norm(xt, w.shape, wt, bt, eps)
    out.backward(torch.tensor(g, dtype=dtype))
    return tuple(t.detach().double().numpy() for t in (out, xt.grad, wt.grad, bt.grad))


def inputs(rng, shape, dtype, loc=0.0, scale=1.0):
    """x, weight, bias and an upstream gradient for a LayerNorm over the last axis."""
    d = shape[-1]
    x = loc + scale * rng.standard_normal(shape)
    w, b = rng.standard_normal(d), rng.standard_normal(d)
    g = rng.standard_normal(shape)
    return tuple(a.astype(dtype) for a in (x, w, b, g))


SHAPES = [(64, 128), (3, 5, 384), (1, 1), (7, 3), (0, 4), (33, 17)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_kernel_matches_numpy_path_and_torch(shape, dtype, tol, rng):
    x, w, b, g = inputs(rng, shape, dtype, loc=0.5)
    ours, numpy_path = run("numba", x, w, b, g), run("numpy", x, w, b, g)
    reference = run_torch(x, w, b, g)
    for name, a, n, r in zip(("out", "grad_x", "grad_w", "grad_b"), ours, numpy_path, reference,
                             strict=True):  # fmt: skip
        assert a.dtype == dtype and a.shape == r.shape, name
        scale = max(1.0, float(np.abs(r).max(initial=0.0)))
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol * scale, err_msg=name)
        np.testing.assert_allclose(a, n, rtol=tol, atol=tol * scale, err_msg=name)


def test_float32_row_with_a_large_mean_keeps_its_precision(rng):
    # 1e4 + noise of 0.1: a float32 mean loses the noise; float64 sums keep it (torch's own
    # float32 kernel is off by about 1e-3 here)
    x, w, b, g = inputs(rng, (8, 128), np.float32, loc=1e4, scale=0.1)
    reference = run_torch(x, w, b, g)
    for name, a, r in zip(("out", "grad_x", "grad_w", "grad_b"), run("numba", x, w, b, g),
                          reference, strict=True):  # fmt: skip
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5 * np.abs(r).max(), err_msg=name)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_rows_give_nan_like_torch(bad, rng):
    x, w, b, g = inputs(rng, (4, 6), np.float32)
    x[1, 2] = bad
    ours, reference = run("numba", x, w, b, g), run_torch(x, w, b, g)
    for name, a, r in zip(("out", "grad_x", "grad_w", "grad_b"), ours, reference, strict=True):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(r), err_msg=name)
        np.testing.assert_allclose(a, r, rtol=2e-5, atol=2e-5, err_msg=name)  # NaN == NaN here
    assert np.isnan(ours[0][1]).all() and np.isfinite(np.delete(ours[0], 1, axis=0)).all()


def test_column_sums_are_deterministic_for_a_thread_count(rng):
    x, w, b, g = inputs(rng, (1001, 64), np.float32)
    before = theta.get_num_threads()
    try:
        runs = {}
        for n in (1, 2, 2):
            theta.set_num_threads(n)
            runs.setdefault(n, []).append(run("numba", x, w, b, g))
    finally:
        theta.set_num_threads(before)
    for first, again in zip(*runs[2], strict=True):
        np.testing.assert_array_equal(first, again)
    for one, two in zip(runs[1][0], runs[2][0], strict=True):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5)


def test_forward_on_kernels_backward_after_leaving_them(rng):
    x, w, b, g = inputs(rng, (5, 8), np.float32)
    with theta.kernels.use_backend("numba"):
        xt, wt, bt = (theta.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.layer_norm(xt, wt, bt)
    with theta.kernels.use_backend("numpy"):
        out.backward(g)
    for a, r in zip((out.data, xt.grad, wt.grad, bt.grad), run("numpy", x, w, b, g), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, r, rtol=2e-5, atol=2e-5)


def test_inputs_the_kernels_do_not_take_fall_back_to_numpy(rng):
    x, w, b, g = inputs(rng, (6, 5), np.float64)
    wide = rng.standard_normal((6, 9))
    cases = {
        "mixed dtypes": (x.astype(np.float32), w, b, g.astype(np.float32)),
        "rows with a gap": (wide[:, :5], w, b, g),  # reshape keeps the gap: not C-contiguous
        "float16": tuple(a.astype(np.float16) for a in (x, w, b, g)),
    }
    for name, args in cases.items():
        for a, r in zip(run("numba", *args), run("numpy", *args), strict=True):
            assert a.dtype == r.dtype, name
            np.testing.assert_array_equal(a, r, err_msg=name)


def test_broadcast_upstream_gradient_and_frozen_weights(rng):
    x, w, b, _ = inputs(rng, (3, 4, 6), np.float32)
    with theta.kernels.use_backend("numba"):
        xt = theta.tensor(x, requires_grad=True)
        F.layer_norm(xt, theta.tensor(w), theta.tensor(b)).sum().backward()
    reference = run_torch(x, w, b, np.ones_like(x))
    np.testing.assert_allclose(xt.grad, reference[1], rtol=2e-5, atol=2e-5)
