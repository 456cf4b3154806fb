"""Every differentiable op, tested from one table (STYLE.md rule 13).

Each row of ``OPS`` gives one op four ways (``optable.Op``: the theta call, a NumPy reference,
a PyTorch reference, a sampler); ``optable.table_tests`` reads the table: the forward pass
against NumPy, the gradients of every input against central differences and against
PyTorch, and float32 in gives float32 out. Hypothesis adds random
shapes for broadcasting binary ops, reductions and matmul; the last tests push large logits
through the numerically delicate ops and check ties at kinks follow PyTorch's conventions.
"""

from __future__ import annotations

import operator as op
from functools import partial
from itertools import product
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import theta
from theta import Tensor

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the PyTorch cross-checks skip themselves
    torch = F = None

from optable import (
    SAME,
    Op,
    _compare_with_torch,
    apart,
    away,
    combine,
    distinct,
    join,
    mask,
    normal,
    np_gelu,
    np_gelu_tanh,
    np_leaky_relu,
    np_log_softmax,
    np_logsumexp,
    np_relu,
    np_sigmoid,
    np_softmax,
    np_softplus,
    positive,
    table_tests,
    torch_reduce,
    uniform,
)  # fmt: skip

ROW_MASK = np.array([True, False, True, True])
MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
REPEATED = np.array([0, 2, 0, 0])
REPEATED_2D = np.array([[0, 1], [1, 1]])
REPEATED_COLS = np.array([1, 3, 1, 1])  # with REPEATED: element (0, 1) three times
COARSE = {"eps": 1e-3, "rtol": 1e-3, "atol": 1e-5}  # a float32 round trip blurs tiny steps

OPS: list[Op] = [
    # --- arithmetic: broadcasting pairs, 0-d tensors, Python scalars on either side ---
    #  name             theta              NumPy torch inputs
    Op("add",           op.add,            SAME, SAME, normal((3, 1), (4,))),
    Op("add_0d",        op.add,            SAME, SAME, normal((), (2, 3))),
    Op("add_scalar",    lambda x: x + 2.0, SAME, SAME, normal((2, 3))),
    Op("radd_scalar",   lambda x: 2.0 + x, SAME, SAME, normal((1, 3))),
    Op("sub",           op.sub,            SAME, SAME, normal((2, 3), ())),
    Op("sub_bcast",     op.sub,            SAME, SAME, normal((2, 1, 3), (4, 1))),
    Op("rsub_scalar",   lambda x: 1.5 - x, SAME, SAME, normal((3,))),
    Op("mul",           op.mul,            SAME, SAME, normal((2, 1, 3), (4, 1))),
    Op("mul_0d",        op.mul,            SAME, SAME, normal((), ())),
    Op("mul_self",      lambda x: x * x,   SAME, SAME, normal((2, 3))),
    Op("mul_scalar",    lambda x: x * 2.5, SAME, SAME, normal((2, 3))),
    Op("div",           op.truediv,        SAME, SAME, away((3, 1), (4,), margin=0.5)),
    Op("div_0d",        op.truediv,        SAME, SAME, away((2, 3), (), margin=0.5)),
    Op("div_scalar",    lambda x: x / 4,   SAME, SAME, normal((2, 3))),
    Op("rdiv_scalar",   lambda x: 2.0 / x, SAME, SAME, away((2, 3), margin=0.5)),
    Op("neg",           op.neg,            SAME, SAME, normal((2, 3))),
    Op("neg_0d",        op.neg,            SAME, SAME, normal(())),
    Op("pow_2",         lambda x: x**2,    SAME, SAME, normal((2, 3))),
    Op("pow_3",         lambda x: x**3,    SAME, SAME, normal((1, 4))),
    Op("pow_0",         lambda x: x**0,    SAME, SAME, normal((3,))),
    Op("pow_half",      lambda x: x**0.5,  SAME, SAME, positive((2, 3))),
    Op("pow_neg",       lambda x: x**-1.5, SAME, SAME, positive(())),
    Op("pow_tensor",    op.pow,            SAME, SAME, join(positive((3, 1)), normal((4,)))),
    Op("pow_tensor_0d", op.pow,            SAME, SAME, join(positive(()), normal((2, 3)))),
    Op("rpow_scalar",   lambda x: 2.0**x,  SAME, SAME, normal((2, 3))),
    # --- unary math and activations (gelu's wide inputs reach all three ranges of its erf) ---
    #  name          theta                   NumPy        torch                   inputs
    Op("exp",        lambda x: x.exp(),      np.exp,      SAME,                   normal((2, 3))),
    Op("exp_0d",     theta.exp,              np.exp,      lambda x: torch.exp(x), normal(())),
    Op("log",        lambda x: x.log(),      np.log,      SAME,                   positive((2, 3))),
    Op("log1p",      lambda x: x.log1p(),    np.log1p,    SAME,
                     uniform(-0.5, 2.0, (5,))),
    Op("sqrt",       lambda x: x.sqrt(),     np.sqrt,     SAME,                   positive((2, 3))),
    Op("abs",        abs,                    SAME,        SAME,                   away((2, 3))),
    Op("abs_0d",     theta.abs,              np.abs,      lambda x: torch.abs(x), away(())),
    Op("sin",        lambda x: x.sin(),      np.sin,      SAME,                   normal((2, 3))),
    Op("cos",        lambda x: x.cos(),      np.cos,      SAME,                   normal((2, 3))),
    Op("tanh",       lambda x: x.tanh(),     np.tanh,     SAME,                   normal((2, 3))),
    Op("sigmoid",    lambda x: x.sigmoid(),  np_sigmoid,  SAME,                   normal((2, 3))),
    Op("relu",       lambda x: x.relu(),     np_relu,     SAME,                   away((2, 3))),
    Op("softplus",   lambda x: x.softplus(), np_softplus, lambda x: F.softplus(x),
                     normal((2, 3))),
    Op("leaky_relu", theta.leaky_relu,       np_leaky_relu(0.01), lambda x: F.leaky_relu(x),
                     away((2, 3))),
    Op("leaky_relu_0.2", lambda x: x.leaky_relu(0.2), np_leaky_relu(0.2),
                     lambda x: F.leaky_relu(x, 0.2), away((5,))),
    Op("gelu",       lambda x: x.gelu(),     np_gelu,     lambda x: F.gelu(x),
                     uniform(-7, 7, (3, 4))),
    Op("gelu_tanh",  lambda x: x.gelu("tanh"), np_gelu_tanh,
                     lambda x: F.gelu(x, approximate="tanh"),
                     uniform(-7, 7, (3, 4))),
    # --- piecewise binary ops and selection, away from kinks and ties ---
    #  name              theta                        NumPy       torch  inputs
    Op("maximum_method", lambda a, b: a.maximum(b),   np.maximum, SAME,  apart((2, 3), (2, 3))),
    Op("clip",           lambda x: x.clip(-0.5, 0.5), SAME,       SAME,
                         away((3, 4), kinks=(-0.5, 0.5))),
    Op("clip_min",       lambda x: x.clip(min=0.0),   SAME,       SAME,  away((2, 3))),
    Op("clip_max",       lambda x: x.clip(max=0.2),   SAME,       SAME,  away((5,), kinks=(0.2,))),
    Op("maximum",        theta.maximum,               np.maximum, lambda a, b: torch.maximum(a, b),
                         apart((3, 1), (4,))),
    Op("minimum",        theta.minimum,               np.minimum, lambda a, b: torch.minimum(a, b),
                         apart((), (2, 3))),
    Op("maximum_scalar", lambda x: theta.maximum(x, 0.3), lambda x: np.maximum(x, 0.3),
                         lambda x: x.clamp(min=0.3), away((2, 3), kinks=(0.3,))),
    Op("minimum_scalar", lambda x: theta.minimum(0.3, x), lambda x: np.minimum(0.3, x),
                         lambda x: x.clamp(max=0.3), away((4,), kinks=(0.3,))),
    Op("where",          theta.where,                 np.where,
                         lambda c, a, b: torch.where(c, a, b),
                         join(mask((3, 1)), normal((3, 4), (4,)))),
    Op("where_scalar",   lambda c, x: theta.where(c, x, 0.0), lambda c, x: np.where(c, x, 0.0),
                         lambda c, x: torch.where(c, x, 0.0), join(mask((2, 3)), normal((2, 3)))),
    # --- matmul: every rank pairing NumPy defines; batch axes broadcast ---
    #  name             theta      NumPy torch inputs
    Op("matmul_1d_1d",  op.matmul, SAME, SAME, normal((4,), (4,))),
    Op("matmul_1d_2d",  op.matmul, SAME, SAME, normal((4,), (4, 3))),
    Op("matmul_2d_1d",  op.matmul, SAME, SAME, normal((3, 4), (4,))),
    Op("matmul_2d_2d",  op.matmul, SAME, SAME, normal((2, 4), (4, 3))),
    Op("matmul_size1",  op.matmul, SAME, SAME, normal((1, 4), (4, 1))),
    Op("matmul_batch",  op.matmul, SAME, SAME, normal((2, 1, 3, 4), (5, 4, 2))),
    Op("matmul_btc_cd", op.matmul, SAME, SAME, normal((2, 3, 4), (4, 5))),
    Op("matmul_2d_nd",  op.matmul, SAME, SAME, normal((3, 4), (2, 4, 5))),
    Op("matmul_1d_nd",  op.matmul, SAME, SAME, normal((4,), (2, 4, 3))),
    Op("matmul_nd_1d",  op.matmul, SAME, SAME, normal((2, 3, 4), (4,))),
    Op("matmul_self",   lambda x: theta.matmul(x, x.T), lambda x: x @ x.T, lambda x: x @ x.T,
                        normal((3, 2))),
    # --- softmax and log_softmax over different axes ---
    #  name               theta                        NumPy               torch inputs
    Op("softmax",         lambda x: x.softmax(-1),     np_softmax(-1),     SAME, normal((2, 3, 4))),
    Op("softmax_ax0",     lambda x: x.softmax(0),      np_softmax(0),      SAME, normal((2, 3, 4))),
    Op("softmax_ax1",     lambda x: x.softmax(1),      np_softmax(1),      SAME, normal((2, 3, 4))),
    Op("softmax_size1",   lambda x: x.softmax(-1),     np_softmax(-1),     SAME, normal((3, 1))),
    Op("softmax_fn",      theta.softmax,               np_softmax(-1),
                          lambda x: torch.softmax(x, -1), normal((5,))),
    Op("log_softmax",     lambda x: x.log_softmax(-1), np_log_softmax(-1), SAME, normal((2, 3, 4))),
    Op("log_softmax_ax0", lambda x: x.log_softmax(0),  np_log_softmax(0),  SAME, normal((2, 3, 4))),
    Op("log_softmax_ax1", lambda x: x.log_softmax(1),  np_log_softmax(1),  SAME, normal((2, 3, 4))),
    Op("log_softmax_fn",  theta.log_softmax,           np_log_softmax(-1),
                          lambda x: torch.log_softmax(x, -1), normal((5,))),
    # --- movement: the same elements in new places ---
    #  name                 theta                        NumPy torch inputs
    Op("reshape",           lambda x: x.reshape(4, -1),  SAME, SAME, normal((2, 3, 2))),
    Op("reshape_to_0d",     lambda x: x.reshape(()),     SAME, SAME, normal((1, 1))),
    Op("reshape_0d",        lambda x: x.reshape(1, 1),   SAME, SAME, normal(())),
    Op("T",                 lambda x: x.T,               SAME, SAME, normal((2, 3))),
    Op("swapaxes",          lambda x: x.swapaxes(0, -1), SAME, SAME, normal((2, 3, 4))),
    Op("squeeze",           lambda x: x.squeeze(),       SAME, SAME, normal((1, 3, 1))),
    Op("squeeze_axis",      lambda x: x.squeeze(-1),     SAME, SAME, normal((1, 3, 1))),
    Op("squeeze_tuple",     lambda x: x.squeeze((0, 2)), SAME, SAME, normal((1, 3, 1))),
    Op("flatten",           lambda x: x.flatten(),       SAME, SAME, normal((2, 3, 4))),
    Op("flatten_0d",        lambda x: x.flatten(),       SAME, SAME, normal(())),
    Op("flatten_start",     lambda x: x.flatten(1),      lambda x: x.reshape(2, 12), SAME,
                            normal((2, 3, 4))),
    Op("flatten_range",     lambda x: x.flatten(0, 1),   lambda x: x.reshape(6, 4), SAME,
                            normal((2, 3, 4))),
    Op("transpose",         lambda x: x.transpose(),     SAME, lambda x: x.permute(2, 1, 0),
                            normal((2, 3, 4))),
    Op("transpose_axes",    lambda x: x.transpose(1, 0, 2), SAME, lambda x: x.permute(1, 0, 2),
                            normal((2, 3, 4))),
    Op("permute",           lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), SAME,
                            normal((2, 3, 4))),
    Op("expand_dims",       lambda x: x.expand_dims(1),  lambda x: np.expand_dims(x, 1),
                            lambda x: x.unsqueeze(1), normal((2, 3))),
    Op("expand_dims_tuple", lambda x: x.expand_dims((0, -1)), lambda x: np.expand_dims(x, (0, -1)),
                            lambda x: x[None, ..., None], normal((2, 3))),
    Op("expand_dims_0d",    lambda x: theta.expand_dims(x, 0), lambda x: np.expand_dims(x, 0),
                            lambda x: x.unsqueeze(0), normal(())),
    Op("broadcast_to",      lambda x: x.broadcast_to((2, 3, 4)),
                            lambda x: np.broadcast_to(x, (2, 3, 4)), SAME, normal((3, 1))),
    Op("broadcast_to_0d",   lambda x: theta.broadcast_to(x, (2, 3)),
                            lambda x: np.broadcast_to(x, (2, 3)), lambda x: x.broadcast_to((2, 3)),
                            normal(())),
    # --- indexing: basic, boolean masks, integer arrays that repeat (gradients add up) ---
    #  name                  theta                                  NumPy torch inputs
    Op("index_int",          lambda x: x[1],                        SAME, SAME, normal((3, 4))),
    Op("index_to_0d",        lambda x: x[1, -2],                    SAME, SAME, normal((3, 4))),
    Op("index_slice",        lambda x: x[::2, 1:],                  SAME, SAME, normal((3, 4))),
    Op("index_neg",          lambda x: x[-1, 1:3],                  SAME, SAME, normal((3, 4))),
    Op("index_none",         lambda x: x[None, ..., 1],             SAME, SAME, normal((2, 3, 4))),
    Op("index_0d",           lambda x: x[None, ...],                SAME, SAME, normal(())),
    Op("index_mask",         lambda x: x[MASK],                     SAME, SAME, normal((3, 4))),
    Op("index_mask_ax1",     lambda x: x[:, ROW_MASK],              SAME, SAME, normal((3, 4))),
    Op("index_repeat",       lambda x: x[REPEATED],                 SAME, SAME, normal((3, 4))),
    Op("index_repeat_list",  lambda x: x[:, [3, 0, 3]],             SAME, SAME, normal((3, 4))),
    Op("index_repeat_2d",    lambda x: x[REPEATED_2D],              SAME, SAME, normal((3, 4))),
    Op("index_repeat_pairs", lambda x: x[REPEATED, REPEATED_COLS],  SAME, SAME, normal((3, 4))),
    # --- joining, splitting, padding ---
    Op("concatenate",    lambda a, b, c: theta.concatenate([a, b, c], axis=1),
                         lambda a, b, c: np.concatenate([a, b, c], axis=1),
                         lambda a, b, c: torch.cat([a, b, c], dim=1),
                         normal((2, 1), (2, 3), (2, 2))),
    Op("concatenate_1d", lambda a, b: theta.concatenate([a, b], axis=-1),
                         lambda a, b: np.concatenate([a, b], axis=-1),
                         lambda a, b: torch.cat([a, b], dim=-1), normal((3,), (2,))),
    Op("stack",          lambda a, b, c: theta.stack([a, b, c], axis=1),
                         lambda a, b, c: np.stack([a, b, c], axis=1),
                         lambda a, b, c: torch.stack([a, b, c], dim=1),
                         normal((2, 3), (2, 3), (2, 3))),
    Op("stack_last",     lambda a, b: theta.stack([a, b], axis=-1),
                         lambda a, b: np.stack([a, b], axis=-1),
                         lambda a, b: torch.stack([a, b], dim=-1), normal((2, 3), (2, 3))),
    Op("stack_0d",       lambda a, b: theta.stack([a, b]), lambda a, b: np.stack([a, b]),
                         lambda a, b: torch.stack([a, b]), normal((), ())),
    Op("split_sections", lambda x: theta.concatenate(x.split(3, axis=1)[::-1], axis=1),
                         lambda x: np.concatenate(np.split(x, 3, axis=1)[::-1], axis=1),
                         lambda x: torch.cat(torch.tensor_split(x, 3, dim=1)[::-1], dim=1),
                         normal((2, 6))),
    Op("split_points",   lambda x: combine(theta.split(x, [1, 3])),
                         lambda x: combine(np.split(x, [1, 3])),
                         lambda x: combine(torch.tensor_split(x, [1, 3])), normal((5, 2))),
    Op("pad",            lambda x: theta.pad(x, ((1, 0), (2, 1)), value=0.5),
                         lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
                         lambda x: F.pad(x, (2, 1, 1, 0), value=0.5), normal((2, 3))),
    Op("pad_int",        lambda x: theta.pad(x, 1), lambda x: np.pad(x, 1),
                         lambda x: F.pad(x, (1, 1, 1, 1)), normal((2, 3))),
    # --- casts between float dtypes ---
    Op("astype_f32",        lambda x: x.astype(np.float32), SAME, lambda x: x.to(torch.float32),
                            normal((2, 3)), check=COARSE, out_dtype=np.float32),
    Op("astype_f64",        lambda x: x.astype(np.float64), SAME, lambda x: x.to(torch.float64),
                            normal((2, 3)), out_dtype=np.float64),
    Op("astype_round_trip", lambda x: x.astype(np.float32).astype(np.float64) * x, SAME,
                            lambda x: x.to(torch.float32).to(torch.float64) * x,
                            normal((3,)), check=COARSE, out_dtype=np.float64),
]  # fmt: skip


REDUCTIONS = [
    # name        theta            NumPy         torch                      inputs    keywords
    ("sum",       theta.sum,       np.sum,       torch_reduce("sum"),       normal,   {}),
    ("mean",      theta.mean,      np.mean,      torch_reduce("mean"),      normal,   {}),
    ("var",       theta.var,       np.var,       torch_reduce("var"),       normal,   {"ddof": 0}),
    ("var_ddof1", theta.var,       np.var,       torch_reduce("var"),       normal,   {"ddof": 1}),
    ("std",       theta.std,       np.std,       torch_reduce("std"),       normal,   {"ddof": 0}),
    ("std_ddof1", theta.std,       np.std,       torch_reduce("std"),       normal,   {"ddof": 1}),
    ("max",       theta.max,       np.max,       torch_reduce("amax"),      distinct, {}),
    ("min",       theta.min,       np.min,       torch_reduce("amin"),      distinct, {}),
    ("logsumexp", theta.logsumexp, np_logsumexp, torch_reduce("logsumexp"), normal,   {}),
]  # fmt: skip


def reduction_rows() -> list[Op]:
    """Each reduction over every axis form, with and without keepdims.

    The forms are None, an int, a negative int and a tuple on a (3, 4, 2) input, plus a 0-d
    input and a size-1 axis (not for var and std, whose gradients divide by zero there).
    """
    rows = []
    for name, fn, ref, torch_ref, sample, kwargs in REDUCTIONS:
        cases = [((3, 4, 2), axis) for axis in (None, 1, -1, (0, 2))]
        if fn not in (theta.var, theta.std):
            cases += [((), None), ((4, 1), 1)]
        for (shape, axis), keepdims in product(cases, (False, True)):
            kw = {**kwargs, "axis": axis, "keepdims": keepdims}
            axis_id = "all" if axis is None else "_".join(str(a) for a in np.atleast_1d(axis))
            shape_id = "x".join(map(str, shape)) or "0d"
            row_id = f"{name}-axis{axis_id}-{shape_id}" + ("-keepdims" if keepdims else "")
            rows.append(
                Op(row_id, partial(fn, **kw), partial(ref, **kw), partial(torch_ref, **kw),
                   sample(shape))
            )  # fmt: skip
    return rows


OPS += reduction_rows()

(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(OPS)


# --- Hypothesis: random shapes, broadcasting partners, reduction axes, matmul pairs ------------

BINARY = [
    # name       theta            NumPy         torch
    ("add",      op.add,          op.add,       op.add),
    ("sub",      op.sub,          op.sub,       op.sub),
    ("mul",      op.mul,          op.mul,       op.mul),
    ("div",      op.truediv,      op.truediv,   op.truediv),
    ("maximum",  theta.maximum,   np.maximum,   lambda a, b: torch.maximum(a, b)),
]  # fmt: skip

REDUCE = [
    # name     theta        NumPy     torch
    ("sum",    theta.sum,   np.sum,   torch_reduce("sum")),
    ("mean",   theta.mean,  np.mean,  torch_reduce("mean")),
    ("max",    theta.max,   np.max,   torch_reduce("amax")),
]  # fmt: skip

SMALL = settings(max_examples=30, deadline=None)
seeds = st.integers(0, 2**32 - 1)


@SMALL
@given(
    case=st.sampled_from(BINARY),
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    seed=seeds,
)
def test_binary_ops_broadcast_random_shapes(case, shapes, seed) -> None:
    """Binary ops on random broadcasting pairs match NumPy forward and PyTorch backward."""
    pytest.importorskip("torch")
    _, fn, ref, torch_fn = case
    rng = np.random.default_rng(seed)
    a, b = normal(*shapes.input_shapes)(rng)
    if fn is op.truediv:  # keep the denominator away from zero
        b = np.where(b < 0, -1.0, 1.0) * (0.5 + np.abs(b))
    out = fn(Tensor(a), Tensor(b))
    np.testing.assert_allclose(out.data, ref(a, b), rtol=1e-12, atol=1e-12, strict=True)
    _compare_with_torch(fn, torch_fn, [a, b], rng)


@st.composite
def shape_and_axis(draw: st.DrawFn) -> tuple[tuple[int, ...], Any]:
    """A shape and an axis argument valid for it: None, an int (maybe negative) or a tuple."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    options = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
    return shape, draw(st.one_of(options))


@SMALL
@given(
    case=st.sampled_from(REDUCE), shape_axis=shape_and_axis(), keepdims=st.booleans(), seed=seeds
)
def test_reductions_random_axes(case, shape_axis, keepdims, seed) -> None:
    """sum, mean and max over random axes match NumPy forward and PyTorch backward."""
    pytest.importorskip("torch")
    _, fn, ref, torch_fn = case
    shape, axis = shape_axis
    x = np.asarray(np.random.default_rng(seed).standard_normal(shape))
    out = fn(Tensor(x), axis=axis, keepdims=keepdims)
    expected = ref(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, strict=True)
    _compare_with_torch(
        partial(fn, axis=axis, keepdims=keepdims),
        partial(torch_fn, axis=axis, keepdims=keepdims),
        [x],
        np.random.default_rng(seed),
    )


@SMALL
@given(
    shapes=hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3),
    seed=seeds,
)
def test_matmul_random_pairs(shapes, seed) -> None:
    """matmul on random compatible pairs (1-D, 2-D, broadcast batches) matches both references."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    a, b = normal(*shapes.input_shapes)(rng)
    out = Tensor(a) @ Tensor(b)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-12, atol=1e-12, strict=True)
    _compare_with_torch(op.matmul, op.matmul, [a, b], rng)


# --- stability at huge logits ------------------------------------------------------------------

STABLE = [
    # name          theta                          torch
    ("softmax",     lambda x: x.softmax(-1),       lambda x: torch.softmax(x, -1)),
    ("log_softmax", lambda x: x.log_softmax(-1),   lambda x: torch.log_softmax(x, -1)),
    ("logsumexp",   lambda x: x.logsumexp(-1),     lambda x: torch.logsumexp(x, -1)),
    ("sigmoid",     lambda x: x.sigmoid(),         lambda x: torch.sigmoid(x)),
    ("softplus",    lambda x: x.softplus(),        lambda x: F.softplus(x)),
]  # fmt: skip

HUGE = {
    "1e4": [[1e4, -1e4, 0.0, 1.0], [-1e4, -1e4 + 1.0, -1e4 - 2.0, -1e4]],
    "1e30": [[1e30, -1e30, 0.0, 1.0], [-1e30, -1e30, -1e30, -1e30]],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", list(HUGE))
@pytest.mark.parametrize("case", STABLE, ids=[c[0] for c in STABLE])
def test_huge_logits_stay_finite(case, scale, dtype, rng) -> None:
    """Logits of +-1e4 and +-1e30 give finite values and gradients that match PyTorch."""
    pytest.importorskip("torch")
    _, fn, torch_fn = case
    x = Tensor(np.array(HUGE[scale], dtype=dtype), requires_grad=True)
    out = fn(x)
    out.backward(np.asarray(rng.standard_normal(out.shape), dtype=dtype))
    assert np.isfinite(out.data).all(), f"non-finite output {out.data}"
    assert np.isfinite(x.grad).all(), f"non-finite gradient {x.grad}"
    tol = 1e-10 if dtype == np.float64 else 1e-5
    _compare_with_torch(fn, torch_fn, [x.data], rng, rtol=tol, atol=tol)


# --- kinks and ties: the subgradient conventions follow PyTorch --------------------------------

KINKS = [
    # name          inputs                    theta                     torch
    ("relu",         [[0, 1, -1]],             lambda x: x.relu(),       SAME),
    ("abs",          [[0, 2, -2]],             abs,                      SAME),
    ("leaky_relu",   [[0, 1]],                 lambda x: x.leaky_relu(), lambda x: F.leaky_relu(x)),
    ("clip_bounds",  [[-1, 1, 0, 2]],          lambda x: x.clip(-1, 1),  SAME),
    ("pow_0",        [[0, 1.5]],               lambda x: x**0,           SAME),
    ("maximum_ties", [[1, 2], [1, 3]],         theta.maximum,            lambda a, b: a.maximum(b)),
    ("minimum_ties", [[1, 2], [1, 3]],         theta.minimum,            lambda a, b: a.minimum(b)),
    ("max_ties",     [[[1, 3, 3], [2, 2, 2]]], lambda x: x.max(1),       lambda x: x.amax(1)),
    ("min_ties_all", [[[1, 3], [1, 1]]],       lambda x: x.min(),        lambda x: x.amin((0, 1))),
]  # fmt: skip


@pytest.mark.parametrize("case", KINKS, ids=[c[0] for c in KINKS])
def test_kinks_and_ties_follow_torch(case, rng) -> None:
    """At kinks and ties theta picks the same gradient as PyTorch (e.g. ties split evenly)."""
    pytest.importorskip("torch")
    _, values, fn, torch_fn = case
    _compare_with_torch(fn, torch_fn or fn, [np.array(v, dtype=np.float64) for v in values], rng)
