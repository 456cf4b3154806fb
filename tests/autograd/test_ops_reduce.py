"""Reductions, scans, sorting and selection (issue 15): prod, cumsum, cumprod, cummax, cummin,
sort, argsort, topk, kthvalue, median, norm, count_nonzero, any, all, and the edge cases of
the older reductions (empty axes, out-of-range axes).

The op table checks every differentiable op against NumPy, finite differences and PyTorch;
plain tests check the indices against PyTorch, the gradients at zeros and ties where PyTorch
defines them, and the errors; Hypothesis checks that sorting and top-k agree.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import product
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.exceptions import AxisError

import theta
from theta import Tensor

try:
    import torch
except ImportError:  # the PyTorch cross-checks skip themselves
    torch = None

from optable import Op, _compare_with_torch, distinct, normal, table_tests

# --- references that NumPy or PyTorch lack --------------------------------------------------


def _dims(x: Any, axis: Any) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes of ``x`` (all of them for None)."""
    if axis is None:
        return tuple(range(x.ndim))
    return tuple(a % x.ndim for a in np.atleast_1d(axis))


def _merge_last(x: Any, dims: tuple[int, ...]) -> Any:
    """Torch ``x`` with the axes ``dims`` moved last and merged into one."""
    kept = [i for i in range(x.ndim) if i not in dims]
    return x.permute(tuple(kept) + dims).reshape(*[x.shape[i] for i in kept], -1)


def _keep(out: Any, x: Any, dims: tuple[int, ...], keepdims: bool) -> Any:
    return out.reshape([1 if i in dims else n for i, n in enumerate(x.shape)]) if keepdims else out


def torch_prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``torch.prod`` over any axes (it takes one ``dim`` only): merge them first."""
    dims = _dims(x, axis)
    return _keep(_merge_last(x, dims).prod(-1), x, dims, keepdims)


def torch_median(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """NumPy's median in PyTorch: the 0.5 quantile interpolates between the two middles."""
    dims = _dims(x, axis)
    return _keep(torch.quantile(_merge_last(x, dims), 0.5, dim=-1), x, dims, keepdims)


def np_scan(fn: Any, axis: int | None) -> Any:
    """A NumPy scan that, like PyTorch, treats a 0-d array as one element along axis 0."""
    return lambda x: fn(x.reshape(1), axis=0).reshape(()) if x.ndim == 0 else fn(x, axis=axis)


def np_topk(k: int, axis: int, largest: bool = True) -> Any:
    """The ``k`` largest (smallest) values along ``axis``, largest (smallest) first."""

    def ref(x: np.ndarray) -> np.ndarray:
        ordered = np.sort(x, axis=axis)
        return np.take(np.flip(ordered, axis) if largest else ordered, np.arange(k), axis=axis)

    return ref


def with_zeros(shape: tuple[int, ...], *flat_positions: int) -> Any:
    """Normal inputs with zeros at ``flat_positions`` (prod and cumprod at their hard cases)."""

    def sample(rng: np.random.Generator) -> list[np.ndarray]:
        x = rng.standard_normal(shape)
        x.flat[list(flat_positions)] = 0.0
        return [x]

    return sample


# --- the table ------------------------------------------------------------------------------

OPS: list[Op] = [
    # --- prod: zeros once and twice in a slice, as PyTorch's gradient handles them ---
    #  name                theta                          NumPy                         torch
    Op("prod_zero_once",   lambda x: theta.prod(x, axis=1),   lambda x: x.prod(axis=1),
                           lambda x: x.prod(1),           with_zeros((3, 4), 1, 9, 10)),
    Op("prod_zero_all",    theta.prod,                        np.prod,
                           lambda x: x.prod(),            with_zeros((2, 3), 4)),
    Op("prod_zeros_twice", lambda x: theta.prod(x, axis=0),   lambda x: x.prod(axis=0),
                           lambda x: x.prod(0),           with_zeros((3, 2), 0, 2, 3)),
    # --- scans ---
    Op("cumsum_ax1",       lambda x: theta.cumsum(x, 1),      np_scan(np.cumsum, 1),
                           lambda x: x.cumsum(1),         normal((3, 4))),
    Op("cumsum_ax0_bcast", lambda x, y: theta.cumsum(x * y, 0), lambda x, y: np.cumsum(x * y, 0),
                           lambda x, y: (x * y).cumsum(0), normal((3, 1), (4,))),
    Op("cumsum_neg",       lambda x: x.cumsum(-1),        np_scan(np.cumsum, -1),
                           lambda x: x.cumsum(-1),        normal((2, 3, 4))),
    Op("cumsum_flat",      theta.cumsum,                      np.cumsum,
                           lambda x: x.flatten().cumsum(0), normal((2, 3))),
    Op("cumsum_0d",        lambda x: theta.cumsum(x, 0),      np_scan(np.cumsum, 0),
                           lambda x: x.cumsum(0),         normal(())),
    Op("cumsum_size1",     lambda x: theta.cumsum(x, 1),      np_scan(np.cumsum, 1),
                           lambda x: x.cumsum(1),         normal((3, 1))),
    Op("cumprod_ax1",      lambda x: theta.cumprod(x, 1),     np_scan(np.cumprod, 1),
                           lambda x: x.cumprod(1),        normal((3, 4))),
    Op("cumprod_zeros",    lambda x: theta.cumprod(x, 1),     np_scan(np.cumprod, 1),
                           lambda x: x.cumprod(1),        with_zeros((4, 5), 0, 7, 12, 14, 16, 19)),
    Op("cumprod_zeros_ax0", lambda x: x.cumprod(0),       np_scan(np.cumprod, 0),
                           lambda x: x.cumprod(0),        with_zeros((4, 3), 3, 4, 7)),
    Op("cumprod_flat",     theta.cumprod,                     np.cumprod,
                           lambda x: x.flatten().cumprod(0), normal((2, 3))),
    Op("cumprod_0d",       lambda x: x.cumprod(0),        np_scan(np.cumprod, 0),
                           lambda x: x.cumprod(0),        normal(())),
    Op("cummax",           lambda x: theta.cummax(x, 1)[0],   np_scan(np.maximum.accumulate, 1),
                           lambda x: x.cummax(1).values,  distinct((3, 5))),
    Op("cummax_ax0",       lambda x: x.cummax(0)[0],      np_scan(np.maximum.accumulate, 0),
                           lambda x: x.cummax(0).values,  distinct((4, 2, 3))),
    Op("cummax_0d",        lambda x: x.cummax(-1)[0],     np_scan(np.maximum.accumulate, -1),
                           lambda x: x.cummax(-1).values, normal(())),
    Op("cummin",           lambda x: theta.cummin(x, -1)[0],  np_scan(np.minimum.accumulate, -1),
                           lambda x: x.cummin(-1).values, distinct((3, 5))),
    # --- sorting and selection ---
    Op("sort",             lambda x: theta.sort(x)[0],        np.sort,
                           lambda x: x.sort().values,     distinct((3, 4))),
    Op("sort_ax0_desc",    lambda x: theta.sort(x, 0, descending=True)[0],
                           lambda x: -np.sort(-x, axis=0),
                           lambda x: x.sort(0, descending=True).values, distinct((4, 3))),
    Op("sort_flat",        lambda x: theta.sort(x, None)[0],  partial(np.sort, axis=None),
                           lambda x: x.flatten().sort().values, distinct((2, 3))),
    Op("sort_stable",      lambda x: x.sort(1, stable=True)[0], partial(np.sort, axis=1),
                           lambda x: x.sort(dim=1, stable=True).values, distinct((2, 3, 2))),
    Op("sort_0d",          lambda x: theta.sort(x)[0],        lambda x: x.copy(),
                           lambda x: x.sort().values,     normal(())),
    Op("sort_size1",       lambda x: theta.sort(x)[0],        np.sort,
                           lambda x: x.sort().values,     normal((3, 1))),
    Op("sort_empty",       lambda x: theta.sort(x, 0)[0],     partial(np.sort, axis=0),
                           lambda x: x.sort(0).values,    normal((0, 3))),
    Op("topk",             lambda x: theta.topk(x, 2)[0],     np_topk(2, -1),
                           lambda x: x.topk(2).values,    distinct((3, 5))),
    Op("topk_smallest_ax0", lambda x: x.topk(3, axis=0, largest=False)[0],
                           np_topk(3, 0, largest=False),
                           lambda x: x.topk(3, 0, largest=False).values, distinct((4, 2))),
    Op("topk_all",         lambda x: theta.topk(x, 4)[0],     np_topk(4, -1),
                           lambda x: x.topk(4).values,    distinct((2, 4))),
    Op("topk_none",        lambda x: theta.topk(x, 0)[0],     np_topk(0, -1),
                           lambda x: x.topk(0).values,    distinct((2, 4))),
    Op("topk_0d",          lambda x: theta.topk(x, 1)[0],     lambda x: x.copy(),
                           lambda x: x.topk(1).values,    normal(())),
    Op("kthvalue",         lambda x: theta.kthvalue(x, 2)[0], lambda x: np.sort(x, -1)[..., 1],
                           lambda x: x.kthvalue(2).values, distinct((3, 4))),
    Op("kthvalue_keepdims", lambda x: x.kthvalue(3, 0, keepdims=True)[0],
                           lambda x: np.sort(x, 0)[2:3],
                           lambda x: x.kthvalue(3, 0, keepdim=True).values, distinct((4, 3))),
]  # fmt: skip


def median_rows() -> list[Op]:
    """Median over every axis form, with odd and even counts, and keepdims."""
    cases = [((3, 4, 2), axis) for axis in (None, 0, 1, -1, (0, 2))] + [((), None), ((4, 1), 1)]
    rows = []
    for (shape, axis), keepdims in product(cases, (False, True)):
        kw = {"axis": axis, "keepdims": keepdims}
        axis_id = "all" if axis is None else "_".join(str(a) for a in np.atleast_1d(axis))
        row_id = f"median-axis{axis_id}-{'x'.join(map(str, shape)) or '0d'}" + (
            "-keepdims" if keepdims else ""
        )
        rows.append(Op(row_id, partial(theta.median, **kw), partial(np.median, **kw),
                       partial(torch_median, **kw), distinct(shape)))  # fmt: skip
    return rows


def prod_rows() -> list[Op]:
    """prod over every axis form, with and without keepdims (no zeros: those rows are above)."""
    cases = [((3, 4, 2), axis) for axis in (None, 1, -1, (0, 2))] + [((), None), ((4, 1), 1)]
    rows = []
    for (shape, axis), keepdims in product(cases, (False, True)):
        kw = {"axis": axis, "keepdims": keepdims}
        axis_id = "all" if axis is None else "_".join(str(a) for a in np.atleast_1d(axis))
        row_id = f"prod-axis{axis_id}-{'x'.join(map(str, shape)) or '0d'}" + (
            "-keepdims" if keepdims else ""
        )
        rows.append(Op(row_id, partial(theta.prod, **kw), partial(np.prod, **kw),
                       partial(torch_prod, **kw), normal(shape)))  # fmt: skip
    return rows


NORMS = [
    # name          ord        axis        shape       sampler
    ("l2_flat",     None,      None,       (3, 2, 2),  normal),
    ("l2_axis",     2,         1,          (3, 4),     normal),
    ("l1",          1,         -1,         (3, 4),     distinct),
    ("inf",         math.inf,  0,          (3, 4),     distinct),
    ("neg_inf",     -math.inf, 1,          (3, 4),     distinct),
    ("l0",          0,         1,          (3, 4),     distinct),
    ("l3",          3,         1,          (2, 3),     distinct),
    ("l_half",      0.5,       1,          (2, 3),     distinct),
    ("l_neg1",      -1,        0,          (3, 2),     distinct),
    ("vector_1d",   3.5,       None,       (4,),       distinct),
    ("fro",         "fro",     (0, 1),     (3, 4),     normal),
    ("fro_batch",   None,      (-1, -2),   (2, 3, 4),  normal),
    ("matrix_1",    1,         (0, 1),     (3, 4),     distinct),
    ("matrix_-1",   -1,        (1, 2),     (2, 3, 4),  distinct),
    ("matrix_inf",  math.inf,  None,       (3, 4),     distinct),
    ("matrix_-inf", -math.inf, (1, 0),     (3, 4),     distinct),
]  # fmt: skip


def norm_rows() -> list[Op]:
    """Each norm with and without keepdims, against ``np.linalg.norm`` and ``torch.linalg.norm``."""
    rows = []
    for (name, ord, axis, shape, sample), keepdims in product(NORMS, (False, True)):
        kw = {"ord": ord, "axis": axis, "keepdims": keepdims}
        torch_kw = {"ord": ord, "dim": axis, "keepdim": keepdims}
        rows.append(Op(f"norm-{name}" + ("-keepdims" if keepdims else ""),
                       partial(theta.norm, **kw), partial(np.linalg.norm, **kw),
                       lambda x, torch_kw=torch_kw: torch.linalg.norm(x, **torch_kw),
                       sample(shape)))  # fmt: skip
    return rows


OPS += median_rows() + prod_rows() + norm_rows()

(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(OPS)


# --- indices against PyTorch ----------------------------------------------------------------

INDEXED = [
    # name          theta                                           torch
    ("sort",        lambda x: x.sort(1),                            lambda x: x.sort(1)),
    ("sort_desc",   lambda x: x.sort(0, descending=True),           lambda x: x.sort(0, True)),
    ("topk",        lambda x: x.topk(2, 1),                         lambda x: x.topk(2, 1)),
    ("topk_small",  lambda x: x.topk(3, 0, largest=False),          lambda x: x.topk(3, 0, False)),
    ("kthvalue",    lambda x: x.kthvalue(2, 1),                     lambda x: x.kthvalue(2, 1)),
    ("cummax",      lambda x: x.cummax(1),                          lambda x: x.cummax(1)),
    ("cummin",      lambda x: x.cummin(0),                          lambda x: x.cummin(0)),
]  # fmt: skip


@pytest.mark.parametrize("case", INDEXED, ids=[c[0] for c in INDEXED])
def test_indices_match_torch(case, rng) -> None:
    """Values and int64 indices equal PyTorch's on distinct values."""
    pytest.importorskip("torch")
    _, fn, torch_fn = case
    (x,) = distinct((4, 5))(rng)
    values, indices = fn(Tensor(x))
    want = torch_fn(torch.tensor(x))
    np.testing.assert_array_equal(values.data, want.values.numpy())
    np.testing.assert_array_equal(indices.data, want.indices.numpy(), strict=True)
    assert indices.dtype == np.int64 and not indices.requires_grad


def test_argsort_matches_sort_and_numpy(rng) -> None:
    (x,) = distinct((3, 4))(rng)
    np.testing.assert_array_equal(theta.argsort(x, 0).data, np.argsort(x, 0))
    np.testing.assert_array_equal(Tensor(x).argsort(descending=True).data, np.argsort(-x, -1))
    np.testing.assert_array_equal(theta.argsort(x, None).data, np.argsort(x, None))


TIES = np.array([[2.0, 1.0, 2.0, 1.0, 2.0], [3.0, 3.0, 3.0, 0.0, 0.0]])


@pytest.mark.parametrize("descending", [False, True])
def test_stable_sort_keeps_ties_in_order_as_torch(descending) -> None:
    """A stable sort keeps equal values in their original order, ascending or descending."""
    pytest.importorskip("torch")
    values, indices = theta.sort(TIES, descending=descending, stable=True)
    want = torch.sort(torch.tensor(TIES), descending=descending, stable=True)
    np.testing.assert_array_equal(indices.data, want.indices.numpy())
    np.testing.assert_array_equal(values.data, want.values.numpy())


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_running_extremes_with_ties_and_nan_follow_torch(name, rng) -> None:
    """Ties point at the latest occurrence, NaN at the latest NaN; gradients go there."""
    pytest.importorskip("torch")
    for x in (TIES, np.array([1.0, np.nan, 3.0, np.nan, 5.0])):
        values, indices = getattr(theta, name)(x, -1)
        want = getattr(torch, name)(torch.tensor(x), -1)
        np.testing.assert_array_equal(indices.data, want.indices.numpy())
        np.testing.assert_array_equal(values.data, want.values.numpy())
    fn = lambda t: getattr(t, name)(-1)[0]  # noqa: E731
    _compare_with_torch(fn, lambda t: getattr(torch, name)(t, -1).values, [TIES], rng)


def test_topk_unsorted_holds_the_same_values(rng) -> None:
    (x,) = distinct((3, 6))(rng)
    values, indices = theta.topk(x, 3, sorted=False)
    np.testing.assert_array_equal(np.sort(values.data), np.sort(x)[:, 3:])
    np.testing.assert_array_equal(np.take_along_axis(x, indices.data, -1), values.data)


def test_sort_integers_and_median_of_integers() -> None:
    x = np.array([[3, 1, 2], [9, 7, 8]])
    values, indices = theta.sort(x)
    np.testing.assert_array_equal(values.data, np.sort(x), strict=True)
    assert theta.median(x).item() == np.median(x)


def test_median_of_a_slice_with_nan_is_nan() -> None:
    x = Tensor(np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]]), requires_grad=True)
    out = theta.median(x, axis=1)
    assert np.isnan(out.data[0]) and out.data[1] == 2.0
    out.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [0, 1, 0]])


def test_median_even_count_splits_the_gradient_as_torch_quantile(rng) -> None:
    pytest.importorskip("torch")
    _compare_with_torch(theta.median, lambda t: torch.quantile(t, 0.5), [np.arange(6.0)], rng)


# --- zeros, ties and kinks: PyTorch's gradients ----------------------------------------------

KINKS = [
    # name            input                                theta                      torch
    ("prod_one_zero",  [[2.0, 0.0, 3.0], [1.0, 2.0, 3.0]], lambda x: x.prod(1),       None),
    ("prod_two_zeros", [[0.0, 0.0, 3.0], [0.0, 2.0, 0.0]], lambda x: x.prod(1),       None),
    ("prod_all_zero",  [[0.0, 0.0], [0.0, 2.0]],           lambda x: theta.prod(x),
                       lambda x: x.prod()),
    ("cumprod_zeros",  [[0.0, 2.0, 0.0, 3.0], [1.0, 0.0, 2.0, 3.0]],
                       lambda x: x.cumprod(1),             None),
    ("norm_zero_l2",   [[0.0, 0.0], [3.0, 4.0]],           lambda x: theta.norm(x, axis=1),
                       lambda x: torch.linalg.norm(x, dim=1)),
    ("norm_zero_l3",   [[0.0, 0.0], [3.0, 0.0]],           lambda x: theta.norm(x, 3, 1),
                       lambda x: torch.linalg.norm(x, 3, 1)),
    ("norm_zero_half", [[0.0, 0.0], [3.0, 0.0]],           lambda x: theta.norm(x, 0.5, 1),
                       lambda x: torch.linalg.norm(x, 0.5, 1)),
    ("norm_zero_l1",   [[0.0, 1.0]],                       lambda x: theta.norm(x, 1),
                       lambda x: torch.linalg.norm(x, 1)),
    ("norm_inf_ties",  [[-2.0, 2.0, 1.0]],                 lambda x: theta.norm(x, np.inf),
                       lambda x: torch.linalg.norm(x, np.inf)),
    ("norm_all_zero",  [[0.0, 0.0, 0.0]],                  lambda x: theta.norm(x),
                       lambda x: torch.linalg.norm(x)),
]  # fmt: skip


@pytest.mark.parametrize("case", KINKS, ids=[c[0] for c in KINKS])
def test_zeros_and_ties_follow_torch(case, rng) -> None:
    """Gradients at zeros (prod, cumprod, norms) and ties (inf-norm) equal PyTorch's."""
    pytest.importorskip("torch")
    _, values, fn, torch_fn = case
    _compare_with_torch(fn, torch_fn or fn, [np.array(values)], rng)


# --- non-differentiable reductions ----------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["count_nonzero", "any", "all"])
def test_logical_reductions_match_numpy(name, axis, keepdims) -> None:
    x = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    out = getattr(theta, name)(x, axis=axis, keepdims=keepdims)
    want = np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(out.data, want, strict=True)
    assert not out.requires_grad


def test_count_nonzero_method_and_norm_method() -> None:
    x = Tensor(np.array([[0.0, 3.0], [4.0, 0.0]]))
    assert x.count_nonzero().item() == 2
    assert x.norm().item() == 5.0


# --- empty inputs: NumPy's answers ------------------------------------------------------------


def test_mean_of_an_empty_axis_is_nan() -> None:
    """NaN as NumPy and PyTorch, with no warning (pytest turns warnings into errors)."""
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    out = theta.mean(x, axis=0)
    assert out.shape == (3,) and np.isnan(out.data).all()
    empty32 = theta.mean(np.zeros(0, np.float32))
    assert np.isnan(empty32.item()) and empty32.dtype == np.float32
    out.sum().backward()
    assert x.grad.shape == (0, 3)
    assert theta.mean(x, axis=1).shape == (0,)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_an_empty_axis_is_empty(name) -> None:
    x = Tensor(np.zeros((2, 0), np.float32), requires_grad=True)
    out = getattr(theta, name)(x, axis=-1)
    assert out.shape == (2, 0) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.shape == (2, 0)


def test_sum_and_prod_of_empty_follow_numpy() -> None:
    x = np.zeros((0, 3))
    np.testing.assert_array_equal(theta.sum(x).data, np.sum(x), strict=True)
    np.testing.assert_array_equal(theta.prod(x, axis=0).data, np.prod(x, axis=0), strict=True)
    np.testing.assert_array_equal(theta.cumsum(x, 0).data, np.cumsum(x, 0), strict=True)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_over_an_empty_axis_raises_as_numpy(name) -> None:
    x = np.zeros((0, 3))
    with pytest.raises(ValueError, match=f"{name}: cannot reduce over an empty axis"):
        getattr(theta, name)(x, axis=0)
    with pytest.raises(ValueError, match=f"{name}: cannot reduce over an empty axis"):
        getattr(theta, name)(x)
    # reducing a non-empty axis of an empty tensor is fine, as in NumPy
    np.testing.assert_array_equal(getattr(theta, name)(x, axis=1).data, np.zeros(0))


# --- errors ---------------------------------------------------------------------------------

ERRORS = [
    # name, call, error, message fragment
    ("sum_axis", lambda: theta.sum(np.zeros((2, 3)), axis=2),
     AxisError, "sum: axis 2 is out of bounds"),
    ("sort_axis", lambda: theta.sort(np.zeros((2, 3)), axis=-3),
     AxisError, "sort: axis -3"),
    ("cumsum_0d_axis", lambda: theta.cumsum(np.float64(1.0), axis=1),
     AxisError, "cumsum: axis 1"),
    ("median_axis", lambda: theta.median(np.zeros(3), axis=1),
     AxisError, "median: axis 1"),
    ("topk_k", lambda: theta.topk(np.zeros((2, 3)), 4),
     ValueError, r"topk: k must lie in \[0, 3\]"),
    ("kthvalue_k", lambda: theta.kthvalue(np.zeros(3), 0),
     ValueError, r"kthvalue: k must lie in \[1, 3\]"),
    ("median_empty", lambda: theta.median(np.zeros((2, 0)), axis=1),
     ValueError, "median: cannot take"),
    ("norm_int", lambda: theta.norm(np.arange(3)),
     TypeError, "norm: expected a floating"),
    ("norm_nuc", lambda: theta.norm(np.zeros((2, 2)), "nuc"),
     ValueError, "matrix norm order 'nuc'"),
    ("norm_matrix_2", lambda: theta.norm(np.zeros((2, 2)), 2),
     ValueError, "need singular values"),
    ("norm_3d_ord", lambda: theta.norm(np.zeros((2, 2, 2)), 1),
     ValueError, "needs a 1-D or 2-D"),
    ("norm_vec_fro", lambda: theta.norm(np.zeros(3), "fro", axis=0),
     ValueError, "invalid order 'fro'"),
    ("norm_same_axes", lambda: theta.norm(np.zeros((2, 2)), 1, (0, -2)),
     ValueError, "repeated axis"),
    ("norm_inf_empty", lambda: theta.norm(np.zeros((2, 0)), np.inf, 1),
     ValueError, "norm: cannot reduce"),
]  # fmt: skip


@pytest.mark.parametrize("case", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_name_the_op(case) -> None:
    _, call, error, fragment = case
    with pytest.raises(error, match=fragment):
        call()


def test_axis_error_is_both_value_and_index_error() -> None:
    """As NumPy's: old ``except ValueError`` code and ``except IndexError`` code both work."""
    for error in (ValueError, IndexError):
        with pytest.raises(error):
            theta.mean(np.zeros(3), axis=1)


# --- Hypothesis: sorting and selection agree ---------------------------------------------------

SMALL = settings(max_examples=25, deadline=None)


@st.composite
def array_and_axis(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """A float64 array of 1 to 3 dims with possible ties, and one of its axes."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=st.integers(-3, 3).map(float)))
    return x, draw(st.integers(-len(shape), len(shape) - 1))


@SMALL
@given(case=array_and_axis(), descending=st.booleans(), stable=st.booleans())
def test_sort_gathers_back_to_sorted(case, descending, stable) -> None:
    """Taking ``x`` at the returned indices gives the values, which are NumPy's sort."""
    x, axis = case
    values, indices = theta.sort(x, axis, descending=descending, stable=stable)
    np.testing.assert_array_equal(np.take_along_axis(x, indices.data, axis), values.data)
    expected = np.sort(x, axis)
    np.testing.assert_array_equal(values.data, np.flip(expected, axis) if descending else expected)
    np.testing.assert_array_equal(np.sort(indices.data, axis), np.sort(np.argsort(x, axis), axis))


@SMALL
@given(case=array_and_axis(), largest=st.booleans(), data=st.data())
def test_topk_values_are_the_first_k_sorted(case, largest, data) -> None:
    x, axis = case
    k = data.draw(st.integers(0, x.shape[axis]))
    values, indices = theta.topk(x, k, axis, largest=largest)
    ordered = theta.sort(x, axis, descending=largest)[0].data
    np.testing.assert_array_equal(values.data, np.take(ordered, np.arange(k), axis=axis))
    np.testing.assert_array_equal(np.take_along_axis(x, indices.data, axis), values.data)
