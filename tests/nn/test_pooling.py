"""Pooling and interpolation against torch.nn.functional, op table and keyword products.

Max pooling rows draw distinct values, so no window has a tie and finite differences see a
smooth function; ties get their own test (the first maximum wins, as in PyTorch).
"""

import itertools

import numpy as np
import pytest
from optable import Op, distinct, normal, table_tests

import theta
from theta import io
from theta.errors import InvalidParameterError
from theta.nn import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, Upsample
from theta.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def row(name, op, sample, **kw):
    """A table row calling ``F.<op>`` and ``torch.nn.functional.<op>`` with ``kw``; the NumPy
    column runs PyTorch on the arrays (NumPy has no pooling of its own)."""
    ours, theirs = getattr(F, op), getattr(TF, op)
    return Op(
        name,
        lambda x: ours(x, **kw),
        lambda x: theirs(torch.from_numpy(x), **kw).numpy(),
        lambda x: theirs(x, **kw),
        sample,
    )


ROWS = [
    row("max_pool2d", "max_pool2d", distinct((2, 3, 4, 4)), kernel_size=2),
    row("max_pool2d_overlap_pad_dilation", "max_pool2d", distinct((1, 2, 6, 5)), kernel_size=3,
        stride=(1, 2), padding=1, dilation=(2, 1)),  # fmt: skip
    row("max_pool2d_ceil", "max_pool2d", distinct((1, 2, 5, 5)), kernel_size=2, ceil_mode=True),
    row("max_pool1d", "max_pool1d", distinct((2, 2, 7)), kernel_size=3, stride=2, padding=1),
    row("max_pool2d_size0", "max_pool2d", distinct((0, 2, 4, 4)), kernel_size=2),
    row("avg_pool2d", "avg_pool2d", normal((2, 3, 4, 6)), kernel_size=2),
    row("avg_pool2d_pad_exclude_ceil", "avg_pool2d", normal((1, 2, 5, 6)), kernel_size=3,
        stride=2, padding=1, ceil_mode=True, count_include_pad=False),  # fmt: skip
    row("avg_pool2d_divisor", "avg_pool2d", normal((1, 1, 4, 4)), kernel_size=(2, 3),
        stride=1, divisor_override=5),  # fmt: skip
    row("avg_pool1d", "avg_pool1d", normal((2, 2, 7)), kernel_size=3, padding=1, ceil_mode=True),
    row("adaptive_avg_pool2d", "adaptive_avg_pool2d", normal((2, 2, 5, 7)), output_size=(3, 4)),
    row("adaptive_avg_pool2d_1", "adaptive_avg_pool2d", normal((1, 3, 3, 3)), output_size=1),
    row("adaptive_avg_pool1d", "adaptive_avg_pool1d", normal((2, 2, 7)), output_size=3),
    row("nearest", "interpolate", normal((1, 2, 3, 4)), scale_factor=2),
    row("nearest_size", "interpolate", normal((1, 1, 5, 4)), size=(3, 7)),
    row("nearest_1d", "interpolate", normal((2, 1, 5)), scale_factor=1.5),
    row("bilinear", "interpolate", normal((1, 2, 3, 4)), size=(5, 7), mode="bilinear"),
    row("bilinear_align", "interpolate", normal((1, 1, 3, 3)), scale_factor=2, mode="bilinear",
        align_corners=True),  # fmt: skip
    row("linear", "interpolate", normal((2, 2, 4)), size=9, mode="linear"),
]

(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(ROWS)


def _compare(ours, theirs, x, rng, indices=False):
    t, q = theta.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(t), theirs(q)
    if indices:
        (out, idx), (ref, ref_idx) = out, ref
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx.data, ref_idx.numpy())
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    ref.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(t.grad, q.grad.numpy(), rtol=1e-10, atol=1e-10)


POOLS = list(itertools.product([2, 3], [None, 1, 2], [0, 1], [False, True]))


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOLS)
def test_max_pool_matches_torch_with_indices(kernel, stride, padding, ceil_mode, rng):
    for dilation in (1, 2):
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                  ceil_mode=ceil_mode, return_indices=True)  # fmt: skip
        _compare(lambda t, kw=kw: F.max_pool2d(t, **kw), lambda t, kw=kw: TF.max_pool2d(t, **kw),
                 rng.standard_normal((2, 2, 7, 8)), rng, indices=True)  # fmt: skip
        _compare(lambda t, kw=kw: F.max_pool1d(t, **kw), lambda t, kw=kw: TF.max_pool1d(t, **kw),
                 rng.standard_normal((2, 2, 9)), rng, indices=True)  # fmt: skip


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", POOLS)
def test_avg_pool_matches_torch(kernel, stride, padding, ceil_mode, rng):
    for include in (False, True):
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=include)  # fmt: skip
        _compare(lambda t, kw=kw: F.avg_pool2d(t, **kw), lambda t, kw=kw: TF.avg_pool2d(t, **kw),
                 rng.standard_normal((2, 2, 7, 8)), rng)  # fmt: skip
        _compare(lambda t, kw=kw: F.avg_pool1d(t, **kw), lambda t, kw=kw: TF.avg_pool1d(t, **kw),
                 rng.standard_normal((2, 2, 9)), rng)  # fmt: skip


@pytest.mark.parametrize("size", [1, 3, (2, 5), (None, 3), (7, 8), (4, 11)])
def test_adaptive_avg_pool_matches_torch(size, rng):
    _compare(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: TF.adaptive_avg_pool2d(t, size),
             rng.standard_normal((2, 2, 7, 8)), rng)  # fmt: skip
    if size != (None, 3):
        one = size if isinstance(size, int) else size[1]
        _compare(lambda t: F.adaptive_avg_pool1d(t, one),
                 lambda t: TF.adaptive_avg_pool1d(t, one), rng.standard_normal((2, 2, 9)), rng)


@pytest.mark.parametrize(
    "resize",
    [{"size": 5}, {"size": 13}, {"scale_factor": 2}, {"scale_factor": 1.5},
     {"scale_factor": 0.7}, {"scale_factor": 1.5, "recompute_scale_factor": True},
     {"scale_factor": 10 / 3}],
)  # fmt: skip
@pytest.mark.parametrize("mode, ndim", [("nearest", 4), ("nearest", 3), ("bilinear", 4),
                                        ("linear", 3)])  # fmt: skip
def test_interpolate_matches_torch(resize, mode, ndim, rng):
    x = rng.standard_normal((2, 2, 7, 6)[: ndim])
    for align in [None] if mode == "nearest" else [False, True]:
        kw = dict(mode=mode, align_corners=align, **resize)
        ours = lambda t, kw=kw: F.interpolate(t, **kw)  # noqa: E731
        _compare(ours, lambda t, kw=kw: TF.interpolate(t, **kw), x, rng)


def test_nearest_keeps_infinities_where_they_are():
    x = np.array([[[np.inf, 1.0, -np.inf]]])
    got = F.interpolate(theta.tensor(x), scale_factor=2).data
    np.testing.assert_array_equal(got, TF.interpolate(torch.from_numpy(x), scale_factor=2))


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 3.0]]]])
    t, q = theta.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (out, idx), (ref, ref_idx) = F.max_pool2d(t, 2, return_indices=True), TF.max_pool2d(
        q, 2, return_indices=True)  # fmt: skip
    np.testing.assert_array_equal(idx.data, ref_idx.numpy())
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(t.grad, q.grad.numpy())


def test_max_pool_nan_wins_as_in_torch():
    x = np.array([[[1.0, np.nan, 3.0, np.nan, -1.0, 2.0]]])
    (out, idx), (ref, ref_idx) = F.max_pool1d(theta.tensor(x), 3, 1, return_indices=True), \
        TF.max_pool1d(torch.from_numpy(x), 3, 1, return_indices=True)  # fmt: skip
    np.testing.assert_array_equal(out.data, ref.numpy())
    np.testing.assert_array_equal(idx.data, ref_idx.numpy())


def test_gradcheck_each_op(rng):
    x = rng.permutation(24).reshape(1, 2, 3, 4) / 4.0  # distinct: max pool is smooth here
    for fn in (lambda t: F.max_pool2d(t, 2, 1, ceil_mode=True),
               lambda t: F.avg_pool2d(t, 2, padding=1, count_include_pad=False),
               lambda t: F.adaptive_avg_pool2d(t, (2, 3)),
               lambda t: F.interpolate(t, scale_factor=1.5, mode="bilinear")):  # fmt: skip
        assert theta.gradcheck(fn, x).ok


# --- layers -----------------------------------------------------------------------------------

LAYERS = [
    (lambda: MaxPool2d(3, 2, 1, ceil_mode=True),
     lambda: torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    (lambda: AvgPool2d((2, 3), 1, (1, 1)), lambda: torch.nn.AvgPool2d((2, 3), 1, (1, 1))),
    (lambda: AdaptiveAvgPool2d((2, None)), lambda: torch.nn.AdaptiveAvgPool2d((2, None))),
    (lambda: Upsample(scale_factor=2, mode="bilinear"),
     lambda: torch.nn.Upsample(scale_factor=2, mode="bilinear")),
    (lambda: Upsample(size=(3, 5)), lambda: torch.nn.Upsample(size=(3, 5))),
]  # fmt: skip


@pytest.mark.parametrize("make, make_torch", LAYERS)
def test_layer_matches_torch_and_its_repr(make, make_torch, rng, tmp_path):
    layer, twin = make(), make_torch()
    assert repr(layer) == repr(twin)
    x = rng.standard_normal((2, 3, 5, 6))
    _compare(layer, twin, x, rng)
    io.save(layer, tmp_path / "m")
    loaded = io.load(tmp_path / "m")
    assert repr(loaded) == repr(layer)
    np.testing.assert_array_equal(loaded(theta.tensor(x)).data, layer(theta.tensor(x)).data)


def test_max_pool_layer_returns_indices(rng):
    x = rng.standard_normal((1, 2, 4, 4))
    out, idx = MaxPool2d(2, return_indices=True)(theta.tensor(x))
    np.testing.assert_array_equal(idx.data, torch.nn.MaxPool2d(2, return_indices=True)(
        torch.from_numpy(x))[1].numpy())  # fmt: skip


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda x: F.max_pool2d(x, 2, padding=2), ValueError, "at most half of kernel size"),
        (lambda x: F.max_pool2d(x, 6), ValueError, "too small"),
        (lambda x: F.max_pool2d(x, 0), InvalidParameterError, "'kernel_size' parameter"),
        (lambda x: F.max_pool2d(x[0], 2), ValueError, "expected a 4-D input"),
        (lambda x: F.avg_pool2d(x, 2, stride=(1, 1, 1)), ValueError, "tuple of 2 ints"),
        (lambda x: F.avg_pool2d(x, 2, divisor_override=0), InvalidParameterError, "divisor"),
        (lambda x: F.adaptive_avg_pool2d(x, (2, 0)), InvalidParameterError, "output_size"),
        (lambda x: F.interpolate(x), ValueError, "exactly one of size and scale_factor"),
        (lambda x: F.interpolate(x, size=2, mode="linear"), ValueError, "3-D input"),
        (lambda x: F.interpolate(x, size=2, mode="cubic"), InvalidParameterError, "'mode'"),
        (lambda x: F.interpolate(x, size=2, align_corners=True), ValueError, "align_corners"),
        (lambda x: F.interpolate(x, scale_factor=0.1), ValueError, "positive entries"),
    ],
)  # fmt: skip
def test_bad_arguments_raise(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(theta.tensor(np.zeros((1, 2, 5, 5))))
