"""The transformer's fused fast paths against their composed forms and PyTorch: ``linear_gelu``
(GELU's value and slope in one pass), ``theta.special``'s float32 GELU kernels, the key-major
attention core and the GEMV-based LayerNorm backward."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from optable import Op, join, normal, np_gelu, np_gelu_tanh, table_tests

import theta
from theta import Tensor, special
from theta.nn import functional as F
from theta.nn.attention import (
    PackedSelfAttention,
    attention_composed,
    attention_mask,
)
from theta.nn.functional import linear_gelu

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def _np_linear(x, w, b=None):
    out = x @ w.T
    return out if b is None else out + b


# fmt: off
ROWS = [
    Op("linear_gelu_tanh", lambda x, w, b: linear_gelu(x, w, b, approximate="tanh"),
       lambda x, w, b: np_gelu_tanh(_np_linear(x, w, b)),
       lambda x, w, b: tF.gelu(tF.linear(x, w, b), approximate="tanh"),
       normal((2, 3, 4), (5, 4), (5,))),
    Op("linear_gelu_exact", lambda x, w, b: linear_gelu(x, w, b),
       lambda x, w, b: np_gelu(_np_linear(x, w, b)),
       lambda x, w, b: tF.gelu(tF.linear(x, w, b)),
       normal((3, 4), (5, 4), (5,))),
    Op("linear_gelu_no_bias_1d", lambda x, w: linear_gelu(x, w, approximate="tanh"),
       lambda x, w: np_gelu_tanh(_np_linear(x, w)),
       lambda x, w: tF.gelu(tF.linear(x, w), approximate="tanh"),
       normal((4,), (3, 4))),
    Op("linear_gelu_size_1_axes", lambda x, w, b: linear_gelu(x, w, b),
       lambda x, w, b: np_gelu(_np_linear(x, w, b)),
       lambda x, w, b: tF.gelu(tF.linear(x, w, b)),
       normal((1, 1, 1), (1, 1), (1,))),
    Op("linear_gelu_size_0_rows", lambda x, w, b: linear_gelu(x, w, b, approximate="tanh"),
       lambda x, w, b: np_gelu_tanh(_np_linear(x, w, b)),
       lambda x, w, b: tF.gelu(tF.linear(x, w, b), approximate="tanh"),
       join(normal((0, 4)), normal((2, 4), (2,)))),
    Op("linear_gelu_wide_inputs", lambda x, w, b: linear_gelu(3.0 * x, w, b),
       lambda x, w, b: np_gelu(_np_linear(3.0 * x, w, b)),
       lambda x, w, b: tF.gelu(tF.linear(3.0 * x, w, b)),
       normal((6, 2), (4, 2), (4,))),
]
# fmt: on

test_forward_matches_numpy, test_gradients_match_finite_differences, test_matches_torch, \
    test_float32_stays_float32 = table_tests(ROWS)  # fmt: skip


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_gelu_equals_the_composed_ops(approximate, dtype, rng):
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(3, 7, 8), (16, 8), (16,)])
    g = rng.standard_normal((3, 7, 16)).astype(dtype)
    fused = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    composed = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    out_f = linear_gelu(*fused, approximate=approximate)
    out_c = theta.gelu(F.linear(*composed), approximate)
    out_f.backward(g)
    out_c.backward(g)
    # the same kernels: the value bit for bit, the gradient up to the order of one product
    np.testing.assert_array_equal(out_f.data, out_c.data)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, c in zip(fused, composed, strict=True):
        np.testing.assert_allclose(a.grad, c.grad, rtol=tol, atol=tol)
    with theta.no_grad():  # the in-place path without a graph gives the same numbers
        np.testing.assert_array_equal(linear_gelu(*fused, approximate=approximate).data, out_f.data)


def test_linear_gelu_backward_twice_with_retain_graph(rng):
    x = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    out = linear_gelu(x, w, approximate="tanh")
    out.sum().backward(retain_graph=True)
    once = x.grad.copy(), w.grad.copy()
    out.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * once[0], rtol=1e-14)
    np.testing.assert_allclose(w.grad, 2 * once[1], rtol=1e-14)


def test_linear_gelu_errors():
    x, w = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"linear_gelu: approximate must be 'none' or 'tanh'"):
        linear_gelu(x, w, approximate="erf")
    with pytest.raises(ValueError, match=r"linear_gelu: input of shape \(2, 3\).*\(4, 2\)"):
        linear_gelu(x, Tensor(np.ones((4, 2))))


# --- theta.special's GELU kernels ------------------------------------------------------------


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_with_slope_equals_gelu_and_its_gradient(approximate, dtype, rng):
    x = (3 * rng.standard_normal((70, 999))).astype(dtype)  # several blocks
    g = rng.standard_normal(x.shape).astype(dtype)
    value, slope = special.gelu_with_slope(x, approximate)
    assert value.dtype == slope.dtype == dtype
    np.testing.assert_array_equal(value, special.gelu(x, approximate))
    np.testing.assert_allclose(slope * g, special.gelu_grad(x, g, approximate), rtol=1e-6,
                               atol=1e-7)  # fmt: skip
    # in place: the same numbers written over x
    y = x.copy()
    assert special.gelu(y, approximate, out=y) is y
    np.testing.assert_array_equal(y, value)
    y = x.copy()
    value2, slope2 = special.gelu_with_slope(y, approximate, overwrite_x=True)
    assert slope2 is y
    np.testing.assert_array_equal(value2, value)
    np.testing.assert_array_equal(slope2, slope)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_float32_gelu_and_slope_match_torch(approximate, rng):
    x = (3 * rng.standard_normal(50_000)).astype(np.float32)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = tF.gelu(tx, approximate=approximate)
    ty.sum().backward()
    value, slope = special.gelu_with_slope(x, approximate)
    np.testing.assert_allclose(value, ty.detach().numpy(), rtol=1e-6, atol=5e-7)
    np.testing.assert_allclose(slope, tx.grad.numpy(), rtol=1e-5, atol=3e-6)


def test_float32_exact_gelu_propagates_nan():
    value, slope = special.gelu_with_slope(np.array([np.nan, 0.0, -0.0], dtype=np.float32))
    assert np.isnan(value[0]) and np.isnan(slope[0])
    np.testing.assert_array_equal(value[1:], 0.0)
    np.testing.assert_allclose(slope[1:], 0.5, rtol=1e-7)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 300),
                  elements=st.floats(-30, 30, width=32)))  # fmt: skip
def test_float32_exact_gelu_is_within_its_error_bound(x):
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    value, slope = special.gelu_with_slope(x)
    # Abramowitz & Stegun's 1.5e-7 on Phi, times |x|, plus float32 rounding
    np.testing.assert_allclose(value, exact, rtol=2e-7, atol=4e-7)
    phi = np.exp(-0.5 * x.astype(np.float64) ** 2) / math.sqrt(2 * math.pi)
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    np.testing.assert_allclose(slope, cdf + x * phi, rtol=1e-6, atol=4e-7)


# --- attention and layer norm, float32 against PyTorch ---------------------------------------


def test_packed_attention_float32_with_large_scores_matches_torch(kernel_backend, rng):
    B, T, nh, hs = 2, 9, 3, 4
    qkv = (20 * rng.standard_normal((B, T, 3 * nh * hs))).astype(np.float32)  # scores ~ 1e3
    g = rng.standard_normal((B, T, nh * hs)).astype(np.float32)
    x = Tensor(qkv, requires_grad=True)
    out = PackedSelfAttention.apply(x, n_heads=nh, mask=attention_mask(T, causal=True),
                                    scale=1 / math.sqrt(hs), keep=None)  # fmt: skip
    out.backward(g)
    tx = torch.tensor(qkv.astype(np.float64), requires_grad=True)
    q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in tx.split(nh * hs, dim=-1))
    ty = tF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, -1)
    ty.backward(torch.tensor(g.astype(np.float64)))
    assert out.dtype == x.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, ty.detach().numpy(), rtol=1e-4, atol=1e-3)
    scale = np.abs(tx.grad.numpy()).max()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-3, atol=1e-4 * scale)


def test_layer_norm_float32_far_from_zero_matches_torch(rng):
    x = (50.0 + 0.01 * rng.standard_normal((6, 32))).astype(np.float32)  # mean >> spread
    w = rng.standard_normal(32).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.layer_norm(*ours)
    out.backward(g)
    theirs = [torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, w, b)]
    ref = tF.layer_norm(theirs[0], (32,), theirs[1], theirs[2], eps=1e-5)
    ref.backward(torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-3, atol=1e-3)
    for a, t in zip(ours, theirs, strict=True):
        assert a.grad.dtype == np.float32
        want = t.grad.numpy()
        np.testing.assert_allclose(a.grad, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


# --- embedding's segment-sum backward ----------------------------------------------------------


@pytest.mark.parametrize("idx_shape", [(7,), (3, 5), (2, 0), (1, 1)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_gradient_equals_a_scatter_add(idx_shape, dtype, rng):
    weight = Tensor(rng.standard_normal((4, 3)).astype(dtype), requires_grad=True)
    idx = rng.integers(0, 3, idx_shape)  # repeats, and row 3 never picked
    out = F.embedding(idx, weight)
    np.testing.assert_array_equal(out.data, weight.data[idx])
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(g)
    expected = np.zeros((4, 3))
    np.add.at(expected, idx, g.astype(np.float64))
    assert weight.grad.dtype == dtype and weight.grad.shape == (4, 3)
    np.testing.assert_allclose(weight.grad, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(weight.grad[3], 0.0)


def test_embedding_of_a_3d_table_matches_torch(rng):
    table = rng.standard_normal((5, 2, 3))
    idx = rng.integers(0, 5, (4, 6))
    weight = Tensor(table, requires_grad=True)
    out = F.embedding(idx, weight)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    t = torch.tensor(table, requires_grad=True)
    t[torch.as_tensor(idx)].backward(torch.tensor(g))
    np.testing.assert_allclose(weight.grad, t.grad.numpy(), rtol=1e-12, atol=1e-12)


# --- causal self-attention in two query halves (T >= 32) ----------------------------------------


def _packed(x, n_heads, mask, keep=None):
    hs = x.shape[-1] // (3 * n_heads)
    return PackedSelfAttention.apply(x, n_heads=n_heads, mask=mask, scale=1 / math.sqrt(hs),
                                     keep=keep)  # fmt: skip


def _composed_packed(x, n_heads, mask, keep=None):
    """The packed op from primitives: split, attention_composed (dropout: weights * keep)."""
    B, T, C3 = x.shape
    hs = C3 // (3 * n_heads)
    heads = x.reshape(B, T, 3, n_heads, hs).transpose(2, 0, 3, 1, 4)
    q, k, v = heads[0], heads[1], heads[2]
    if keep is None:
        y = attention_composed(q, k, v, mask=mask)
    else:
        scores = (q @ k.swapaxes(-1, -2)) * (1 / math.sqrt(hs))
        scores = theta.where(~np.broadcast_to(mask, scores.shape), scores, -1e30)
        y = (theta.softmax(scores, axis=-1) * keep) @ v
    return y.transpose(0, 2, 1, 3).reshape(B, T, C3 // 3)


@pytest.mark.parametrize("T", [32, 33, 40], ids=str)
@pytest.mark.parametrize("dropout", [False, True], ids=["no_dropout", "fixed_dropout"])
def test_causal_halves_equal_the_composed_attention(T, dropout, rng):
    B, nh, hs = 2, 2, 3
    qkv = rng.standard_normal((B, T, 3 * nh * hs))
    mask = attention_mask(T, causal=True)
    keep = (rng.random((B, nh, T, T)) >= 0.3) / 0.7 if dropout else None
    grad = rng.standard_normal((B, T, nh * hs))
    fused_x, composed_x = Tensor(qkv, requires_grad=True), Tensor(qkv, requires_grad=True)
    fused = _packed(fused_x, nh, mask, keep)
    composed = _composed_packed(composed_x, nh, mask, keep)
    fused.backward(grad)
    composed.backward(grad)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fused_x.grad, composed_x.grad, rtol=1e-10, atol=1e-10)


def test_causal_halves_pass_gradcheck_and_match_torch(rng):
    B, T, nh, hs = 1, 32, 2, 2
    qkv = rng.standard_normal((B, T, 3 * nh * hs))
    mask = attention_mask(T, causal=True)
    report = theta.gradcheck(lambda x: _packed(x, nh, mask), qkv)
    assert report.ok, str(report)
    x = Tensor(qkv, requires_grad=True)
    out = _packed(x, nh, mask)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    tx = torch.tensor(qkv, requires_grad=True)
    q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in tx.split(nh * hs, dim=-1))
    ty = tF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, -1)
    ty.backward(torch.tensor(grad))
    np.testing.assert_allclose(out.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_a_non_causal_mask_is_not_cut_in_halves(rng):
    T = 32
    qkv = rng.standard_normal((1, T, 6))
    mask = attention_mask(T, causal=True)
    mask[0, T - 1] = False  # the first query may see the last key: no cut is valid
    x, y = Tensor(qkv, requires_grad=True), Tensor(qkv, requires_grad=True)
    fused, composed = _packed(x, 1, mask), _composed_packed(y, 1, mask)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-10, atol=1e-10)
    fused.sum().backward()
    composed.sum().backward()
    np.testing.assert_allclose(x.grad, y.grad, rtol=1e-10, atol=1e-10)
