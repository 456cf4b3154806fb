"""Indexing ops of issue 15: gather, take_along_axis, the scatter family, index_add,
index_put and masked_fill.

The op table checks each against a NumPy reference written as a plain loop over the index
(independent of theta's flat-position arithmetic), central differences and PyTorch. Rows
whose gradient is a convention rather than a derivative (a value written twice, a tie)
are plain tests against PyTorch. Hypothesis checks gather/scatter round trips.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theta
from theta import Tensor

try:
    import torch
except ImportError:  # the PyTorch cross-checks skip themselves
    torch = None

from optable import Op, _compare_with_torch, distinct, normal, table_tests

INDEX = np.array([[0, 2, 2], [1, 0, 2]])  # (2, 3) into axis 1 of a (3, 4): repeats in row 0
PERM = np.array([[2, 0, 1], [1, 2, 0]])  # no repeats: a scatter writes each place once
INDEX_0 = np.array([[2, 0, 1, 1]])  # (1, 4) into axis 0 of a (3, 4)
ROWS_ADD = np.array([2, 0, 2])
MASK = np.array([True, False, False, True])


def t_index(index: np.ndarray) -> torch.Tensor:
    return torch.tensor(index)


def np_gather(x: np.ndarray, axis: int, index: np.ndarray) -> np.ndarray:
    """``out[p] = x[p with index[p] along axis]``, one element at a time."""
    out = np.empty(index.shape, x.dtype)
    for p in np.ndindex(index.shape):
        q = list(p)
        q[axis] = index[p]
        out[p] = x[tuple(q)]
    return out


def np_scatter(axis: int, index: np.ndarray, reduce: str | None = None, include_self=True):
    """PyTorch's scatter / scatter_reduce, one element at a time (last write wins)."""

    def ref(x: np.ndarray, src: np.ndarray) -> np.ndarray:
        out = x.copy()
        parts: dict[tuple, list] = {}
        for p in np.ndindex(index.shape):
            q = list(p)
            q[axis] = index[p]
            parts.setdefault(tuple(q), []).append(src[p])
        for q, values in parts.items():
            values = ([x[q]] if include_self else []) + values
            if reduce is None:
                out[q] = values[-1]
            else:
                out[q] = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max,
                          "amin": np.min}[reduce](values)  # fmt: skip
        return out

    return ref


def reduce_row(reduce: str, include_self: bool) -> Op:
    sample = distinct((3, 4), (2, 3)) if reduce in ("amax", "amin") else normal((3, 4), (2, 3))
    return Op(
        f"scatter_reduce_{reduce}_{'self' if include_self else 'noself'}",
        lambda x, s: theta.scatter_reduce(x, 1, INDEX, s, reduce, include_self=include_self),
        np_scatter(1, INDEX, reduce, include_self),
        lambda x, s: x.scatter_reduce(1, t_index(INDEX), s, reduce, include_self=include_self),
        sample,
    )


def np_index_put(indices: tuple, accumulate: bool):
    def ref(x: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = x.copy()
        if accumulate:
            for i, v in zip(zip(*indices, strict=True), np.broadcast_to(values, len(indices[0])),
                            strict=True):  # fmt: skip
                out[i] += v
        else:
            out[indices] = values
        return out

    return ref


ROWS: list[Op] = [
    # --- gather (PyTorch) and take_along_axis (NumPy) ---
    Op("gather",          lambda x: theta.gather(x, 1, INDEX), lambda x: np_gather(x, 1, INDEX),
                          lambda x: torch.gather(x, 1, t_index(INDEX)), normal((3, 4))),
    Op("gather_axis0",    lambda x: x.gather(0, INDEX_0), lambda x: np_gather(x, 0, INDEX_0),
                          lambda x: x.gather(0, t_index(INDEX_0)), normal((3, 4))),
    Op("gather_size0",    lambda x: x.gather(1, np.zeros((2, 0), int)), lambda x: x[:2, :0],
                          lambda x: x.gather(1, torch.zeros((2, 0), dtype=int)), normal((3, 4))),
    Op("gather_0d",       lambda x: x.gather(0, np.array(0)), lambda x: x,
                          lambda x: x.gather(0, torch.tensor(0)), normal(())),
    Op("take_along_axis", lambda x: theta.take_along_axis(x, np.array([[0], [-1], [2]]), 1),
                          lambda x: np.take_along_axis(x, np.array([[0], [-1], [2]]), 1),
                          lambda x: torch.take_along_dim(x, torch.tensor([[0], [3], [2]]), 1),
                          normal((3, 4))),
    Op("take_along_bcast", lambda x: theta.take_along_axis(x, np.array([[1, 1, 0]]), 0),
                           lambda x: np.take_along_axis(x, np.array([[1, 1, 0]]), 0),
                           lambda x: torch.take_along_dim(x, torch.tensor([[1, 1, 0]]), 0),
                           normal((2, 1))),
    Op("take_along_none", lambda x: theta.take_along_axis(x, np.array([5, 0, 5]), None),
                          lambda x: np.take_along_axis(x, np.array([5, 0, 5]), None),
                          lambda x: torch.take_along_dim(x, torch.tensor([5, 0, 5])),
                          normal((2, 3))),
    # --- scatter family ---
    Op("scatter",         lambda x, s: theta.scatter(x, 1, PERM, s), np_scatter(1, PERM),
                          lambda x, s: x.scatter(1, t_index(PERM), s), normal((2, 4), (2, 3))),
    Op("scatter_bigsrc",  lambda x, s: x.scatter(1, PERM[:, :2], s), np_scatter(1, PERM[:, :2]),
                          # torch's own backward fails for a src larger than index: crop it
                          lambda x, s: x.scatter(1, t_index(PERM[:, :2]), s[:2, :2]),
                          normal((2, 4), (3, 3))),
    Op("scatter_value",   lambda x: x.scatter(1, PERM, 2.5),
                          lambda x: np_scatter(1, PERM)(x, np.full(PERM.shape, 2.5)),
                          lambda x: x.scatter(1, t_index(PERM), 2.5), normal((2, 4))),
    Op("scatter_add",     lambda x, s: theta.scatter_add(x, 1, INDEX, s),
                          np_scatter(1, INDEX, "sum"),
                          lambda x, s: x.scatter_add(1, t_index(INDEX), s),
                          normal((3, 4), (2, 3))),
    *[reduce_row(r, inc) for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)],
    Op("index_add",       lambda x, s: theta.index_add(x, 0, ROWS_ADD, s, alpha=2.0),
                          lambda x, s: np_scatter(0, np.broadcast_to(ROWS_ADD[:, None], s.shape),
                                                  "sum")(x, 2.0 * s),
                          lambda x, s: x.index_add(0, t_index(ROWS_ADD), s, alpha=2.0),
                          normal((3, 4), (3, 4))),
    Op("index_add_axis1", lambda x, s: x.index_add(1, ROWS_ADD, s),
                          lambda x, s: np_scatter(1, np.broadcast_to(ROWS_ADD, s.shape),
                                                  "sum")(x, s),
                          lambda x, s: x.index_add(1, t_index(ROWS_ADD), s),
                          normal((2, 3), (2, 3))),
    # --- index_put and masked_fill ---
    Op("index_put_acc",   lambda x, v: theta.index_put(x, (ROWS_ADD, np.array([1, 1, 1])), v,
                                                       accumulate=True),
                          np_index_put((ROWS_ADD, np.array([1, 1, 1])), True),
                          lambda x, v: x.index_put((t_index(ROWS_ADD), torch.tensor([1, 1, 1])),
                                                   v, accumulate=True),
                          normal((3, 4), (3,))),
    Op("index_put_rows",  lambda x, v: x.index_put((np.array([2, 0]),), v),
                          np_index_put((np.array([2, 0]),), False),
                          lambda x, v: x.index_put((torch.tensor([2, 0]),), v),
                          normal((3, 4), (4,))),
    Op("index_put_mask",  lambda x, v: x.index_put((MASK,), v),
                          np_index_put((MASK,), False),
                          lambda x, v: x.index_put((torch.tensor(MASK),), v), normal((4,), ())),
    Op("masked_fill",     lambda x: theta.masked_fill(x, MASK, -1.5),
                          lambda x: np.where(MASK, -1.5, x),
                          lambda x: x.masked_fill(torch.tensor(MASK), -1.5), normal((3, 4))),
    Op("masked_fill_tensor", lambda x, v: x.masked_fill(MASK[:, None], v),
                             lambda x, v: np.where(MASK[:, None], v, x),
                             lambda x, v: x.masked_fill(torch.tensor(MASK[:, None]), v),
                             normal((4, 2), ())),
    Op("masked_fill_0d",  lambda x: x.masked_fill(np.array(True), 0.5),
                          lambda x: np.full_like(x, 0.5),
                          lambda x: x.masked_fill(torch.tensor(True), 0.5), normal(())),
]  # fmt: skip

test_forward_matches_numpy, test_gradients_match_finite_differences, test_matches_torch, \
    test_float32_stays_float32 = table_tests(ROWS)  # fmt: skip


# --- conventions, not derivatives: repeated writes and ties, against PyTorch ---------------

CONVENTIONS = [
    # name                  theta                                        torch
    ("scatter_repeats",     lambda x, s: x.scatter(1, INDEX, s),
                            lambda x, s: x.scatter(1, t_index(INDEX), s)),
    ("index_put_repeats",   lambda x, v: x.index_put((ROWS_ADD,), v.reshape(-1)[:3, None]),
                            lambda x, v: x.index_put((t_index(ROWS_ADD),),
                                                     v.reshape(-1)[:3, None])),
    ("amax_ties",           lambda x, s: x.scatter_reduce(1, INDEX, s.round(), "amax"),
                            lambda x, s: x.scatter_reduce(1, t_index(INDEX), s.round(), "amax")),
    ("amin_ties",           lambda x, s: x.scatter_reduce(1, INDEX, s.round(), "amin"),
                            lambda x, s: x.scatter_reduce(1, t_index(INDEX), s.round(), "amin")),
    ("prod_zeros",          lambda x, s: x.scatter_reduce(1, INDEX, s * (s > 0), "prod"),
                            lambda x, s: x.scatter_reduce(1, t_index(INDEX), s * (s > 0), "prod")),
    ("prod_zeros_noself",   lambda x, s: x.scatter_reduce(1, INDEX, s * (s > 0), "prod",
                                                          include_self=False),
                            lambda x, s: x.scatter_reduce(1, t_index(INDEX), s * (s > 0), "prod",
                                                          include_self=False)),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, torch_fn", CONVENTIONS, ids=[c[0] for c in CONVENTIONS])
def test_repeated_writes_and_ties_follow_torch(name, fn, torch_fn, rng) -> None:
    """Every src value written to a place gets its gradient; tied extremes share equally;
    a product's factor gets the product of the others even where factors are zero."""
    pytest.importorskip("torch")
    x = np.round(rng.standard_normal((3, 4)))  # rounded: ties between x and src values
    s = rng.standard_normal((2, 3)) * 2
    if name.startswith("prod"):
        x[0, 2] = 0.0
    _compare_with_torch(fn, torch_fn, [x, s], rng)


def test_amax_without_self_gives_the_tied_src_the_whole_gradient() -> None:
    """The documented difference from PyTorch: an unused x value does not take a share."""
    x = Tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    s = Tensor(np.array([3.0, 2.0]), requires_grad=True)
    x.scatter_reduce(0, np.array([1, 1]), s, "amax", include_self=False).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(s.grad, [1.0, 0.0])


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    data=st.data(),
)
def test_scatter_of_gathered_values_at_a_permutation_recovers_the_input(shape, data) -> None:
    axis = data.draw(st.integers(0, len(shape) - 1))
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    perm = np.argsort(rng.random(shape), axis=axis)  # a permutation along axis, per line
    gathered = theta.gather(x, axis, perm)
    back = theta.scatter(np.zeros(shape), axis, perm, gathered)
    np.testing.assert_array_equal(back.data, x)
    np.testing.assert_array_equal(theta.take_along_axis(x, perm, axis).data, gathered.data)
    # and the gradient of the round trip is the identity
    xt = Tensor(x, requires_grad=True)
    seed_grad = rng.standard_normal(shape)
    theta.scatter(np.zeros(shape), axis, perm, xt.gather(axis, perm)).backward(seed_grad)
    np.testing.assert_allclose(xt.grad, seed_grad, rtol=0, atol=0)


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda x: theta.gather(x, 1, np.array([[0, 4]])), IndexError,
         "gather: index 4 is out of bounds for axis 1 with size 4"),
        (lambda x: theta.gather(x, 1, np.array([[-1]])), IndexError, "gather: index -1 is out"),
        (lambda x: theta.gather(x, 1, np.array([0.0])), TypeError, "gather: index must hold"),
        (lambda x: theta.gather(x, 1, np.array([0])), ValueError, "gather: index of shape (1,)"),
        (lambda x: theta.gather(x, 1, np.zeros((4, 1), int)), ValueError, "larger outside"),
        (lambda x: theta.gather(x, 2, np.zeros((1, 1), int)), ValueError, "axis 2 is out of"),
        (lambda x: theta.take_along_axis(x, np.array([[-5]]), 1), IndexError,
         "take_along_axis: index -5 is out of bounds for axis 1 with size 4"),
        (lambda x: theta.take_along_axis(x, np.zeros((2, 1), int), 1), ValueError,
         "take_along_axis: shapes (3, 4) and (2, 1) cannot be broadcast"),
        (lambda x: theta.take_along_axis(x, np.array([0]), 1), ValueError, "need as many axes"),
        (lambda x: theta.scatter(x, 0, np.array([[3]]), 1.0), IndexError,
         "scatter: index 3 is out of bounds for axis 0 with size 3"),
        (lambda x: theta.scatter_add(x, 0, np.zeros((2, 2), int), np.ones((1, 2))), ValueError,
         "scatter_add: src of shape (1, 2) is smaller than index of shape (2, 2)"),
        (lambda x: theta.scatter_reduce(x, 0, np.zeros((1, 1), int), x, "max"), ValueError,
         "scatter_reduce: reduce must be one of"),
        (lambda x: theta.index_add(x, 0, np.array([0, 3]), np.ones((2, 4))), IndexError,
         "index_add: index 3 is out of bounds for axis 0 with size 3"),
        (lambda x: theta.index_add(x, 0, np.array([0]), np.ones((2, 4))), ValueError,
         "index_add: source of shape (2, 4) and index of shape (1,) do not fit"),
        (lambda x: theta.index_put(x, (np.array([3]),), 1.0), IndexError,
         "index_put: index 3 is out of bounds for axis 0 with size 3"),
        (lambda x: theta.index_put(x, np.array([0]), 1.0), TypeError, "must be a tuple"),
        (lambda x: theta.index_put(x, (np.array([0.5]),), 1.0), TypeError, "integers or bool"),
        (lambda x: theta.index_put(x, (np.array([0]),), np.ones(3)), ValueError,
         "index_put: values of shape (3,) do not broadcast"),
        (lambda x: theta.masked_fill(x, np.ones(3, bool), 0.0), ValueError,
         "masked_fill: shapes (3,) and (3, 4) cannot be broadcast"),
        (lambda x: theta.masked_fill(x, np.ones(4), 0.0), TypeError, "mask must be boolean"),
        (lambda x: theta.masked_fill(x, np.ones(4, bool), np.ones(2)), ValueError,
         "value must be a scalar"),
    ],
)
def test_errors_name_the_op_and_the_rule(call, exc, fragment) -> None:
    with pytest.raises(exc, match=re.escape(fragment)):
        call(Tensor(np.zeros((3, 4))))


def test_masked_fill_hides_the_future_in_attention_scores() -> None:
    scores = Tensor(np.zeros((3, 3)), requires_grad=True)
    causal = np.triu(np.ones((3, 3), bool), k=1)
    weights = scores.masked_fill(causal, -np.inf).softmax(-1)
    np.testing.assert_allclose(weights.data, np.tril(np.ones((3, 3))) / [[1], [2], [3]])
    weights.sum().backward()
    assert np.isfinite(scores.grad).all()
    np.testing.assert_array_equal(scores.grad[causal], 0.0)


def test_index_ops_keep_the_dtype_and_leave_inputs_untouched() -> None:
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    kept = x.copy()
    out = theta.index_put(x, (np.array([0]),), np.float32(7.0), accumulate=True)
    assert out.dtype == np.float32
    assert theta.masked_fill(x, MASK, 1).dtype == np.float32
    assert theta.scatter_reduce(x, 1, INDEX, 1.0, "mean").dtype == np.float32
    np.testing.assert_array_equal(x, kept)

