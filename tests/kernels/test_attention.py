"""The compiled masked softmax of attention (``theta.kernels._softmax``) against theta's NumPy
path in float64 and PyTorch: outputs and the gradients of q, k and v under every kind of mask
(causal with T < S, bool and additive, per key, per query, per head), fully masked queries,
NaN, the float32 exponential's accuracy, and the cases that stay on NumPy.

Dimensions: B batch, nh heads, T queries, S keys, hs head size.
"""

import math

import numpy as np
import pytest

import theta
import theta.kernels
from theta.nn import MultiHeadAttention, attention_mask
from theta.nn.attention import (
    PackedSelfAttention,
    _softmax_kernels,
    scaled_dot_product_attention,
)

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

B, NH, HS = 2, 3, 8


def sdpa(backend, q, k, v, mask, grad):
    """Output and the gradients of q, k, v through ``scaled_dot_product_attention``."""
    with theta.kernels.use_backend(backend):
        ts = [theta.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = scaled_dot_product_attention(*ts, mask=mask)
        out.backward(grad)
    return out.data, *(t.grad for t in ts)


def arrays(rng, T, S, dtype=np.float32):
    q = rng.standard_normal((B, NH, T, HS))
    k, v = rng.standard_normal((2, B, NH, S, HS))
    grad = rng.standard_normal((B, NH, T, HS))
    return tuple(a.astype(dtype) for a in (q, k, v, grad))


def masks(rng, T, S):
    """Every kind of mask the kernel takes, by name."""
    pad = rng.random((B, S)) < 0.3
    pad[:, 0] = False  # every query keeps a key
    return {
        "none": None,
        "causal": attention_mask(T, S, causal=True),
        "padding": attention_mask(T, S, key_padding=pad),
        "causal_padding": attention_mask(T, S, causal=True, key_padding=pad),
        "per_head_bool": rng.random((B, NH, T, S)) < 0.2,
        "additive": rng.standard_normal((T, S)),
        "additive_per_key": np.where(pad, -np.inf, 0.5)[:, None, None, :],
    }


@pytest.mark.parametrize("T, S", [(7, 7), (16, 16), (5, 9), (64, 64), (33, 40)], ids=str)
@pytest.mark.parametrize("kind", list(masks(np.random.default_rng(0), 4, 4)))
def test_float32_kernel_matches_the_float64_numpy_path(T, S, kind, rng):
    q, k, v, grad = arrays(rng, T, S)
    mask = masks(rng, T, S)[kind]
    ours = sdpa("numba", q, k, v, mask, grad)
    exact = sdpa("numpy", *(a.astype(np.float64) for a in (q, k, v)), mask, grad)
    assert all(a.dtype == np.float32 for a in ours)
    for got, want, what in zip(ours, exact, ("out", "grad q", "grad k", "grad v"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5, err_msg=what)


@pytest.mark.parametrize("T", [20, 64], ids=str)  # 64: PackedSelfAttention's causal halves
def test_packed_attention_on_the_kernel_matches_torch(T, rng):
    qkv = rng.standard_normal((B, T, 3 * NH * HS)).astype(np.float32)
    g = rng.standard_normal((B, T, NH * HS)).astype(np.float32)
    with theta.kernels.use_backend("numba"):
        x = theta.tensor(qkv, requires_grad=True)
        out = PackedSelfAttention.apply(x, n_heads=NH, mask=attention_mask(T, causal=True),
                                        scale=1 / math.sqrt(HS), keep=None)  # fmt: skip
        out.backward(g)
    tx = torch.tensor(qkv.astype(np.float64), requires_grad=True)
    q, k, v = (t.view(B, T, NH, HS).transpose(1, 2) for t in tx.split(NH * HS, dim=-1))
    ty = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    ty = ty.transpose(1, 2).reshape(B, T, -1)
    ty.backward(torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(out.data, ty.detach().numpy(), rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_fully_masked_queries_get_zeros_without_warnings(kind, rng):
    T = 6
    q, k, v, grad = arrays(rng, T, T)
    forbid = np.zeros((T, T), dtype=bool)
    forbid[2] = True  # query 2 may look nowhere
    mask = forbid if kind == "bool" else np.where(forbid, -np.inf, 0.0)
    out, gq, gk, gv = sdpa("numba", q, k, v, mask, grad)
    assert np.all(out[:, :, 2] == 0) and np.all(gq[:, :, 2] == 0)
    assert all(np.isfinite(a).all() for a in (out, gq, gk, gv))
    exact = sdpa("numpy", *(a.astype(np.float64) for a in (q, k, v)), mask, grad)
    np.testing.assert_allclose(out, exact[0], rtol=1e-4, atol=2e-5)


def test_nan_in_a_query_stays_in_its_row(rng):
    T = 5
    q, k, v, grad = arrays(rng, T, T)
    q[0, 1, 3, 0] = np.nan
    out = sdpa("numba", q, k, v, None, grad)[0]
    assert np.isnan(out[0, 1, 3]).all()
    out[0, 1, 3] = 0
    assert np.isfinite(out).all()


def test_float32_exponential_is_accurate_over_its_range():
    with theta.kernels.use_backend("numba"):
        soft = theta.kernels.load("softmax")
    z = -np.linspace(0.0, 87.0, 4097, dtype=np.float32)  # one row: peak 0, so exp(z) itself
    scores = np.concatenate([z, [-np.inf]]).astype(np.float32)[None, :]
    soft.softmax_rows(scores, 1, 1, 1.0, False, np.empty(0, np.float32), (0, 0, 0, 0))
    want = np.exp(np.concatenate([z, [-np.inf]]).astype(np.float64))
    want /= want.sum()
    np.testing.assert_allclose(scores[0], want, rtol=1e-5, atol=0)  # sum: float32


def test_attention_weights_on_the_kernel_equal_numpy(rng):
    x = rng.standard_normal((B, 6, 12)).astype(np.float32)
    attn = MultiHeadAttention(12, NH, causal=True, rng=0)
    pad = np.zeros((B, 6), dtype=bool)
    pad[1, 4:] = True
    with theta.kernels.use_backend("numba"):
        ours = attn.attention_weights(x, key_padding=pad)
    with theta.kernels.use_backend("numpy"):
        exact = attn.attention_weights(x, key_padding=pad)
    np.testing.assert_allclose(ours, exact, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.sum(-1), 1.0, rtol=1e-5)


def test_float64_dropout_and_mixed_dtypes_stay_on_numpy(rng):
    q, k, v, _ = arrays(rng, 4, 4)
    keep = np.ones((B, NH, 4, 4), dtype=np.float32)
    with theta.kernels.use_backend("numba"):
        assert _softmax_kernels(q, k, v, None) is not None
        assert _softmax_kernels(q, k, v, keep) is None  # dropout
        assert _softmax_kernels(*(a.astype(np.float64) for a in (q, k, v)), None) is None
        assert _softmax_kernels(q, k, v.astype(np.float64), None) is None
    with theta.kernels.use_backend("numpy"):
        assert _softmax_kernels(q, k, v, None) is None
