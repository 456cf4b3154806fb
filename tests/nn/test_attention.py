"""Attention and the transformer block: fused against PyTorch, against the composed oracle,
and against finite differences.

Dimensions: B batch, T query length, S key length, C embedding size, nh heads, hs head size.

PyTorch's references take theta's weights (copied by name) and inputs in float64; forward
values and every gradient must agree to 1e-8. theta's masks are True where attention is
forbidden (``torch.nn.MultiheadAttention``'s convention; ``F.scaled_dot_product_attention``
takes the opposite, so it gets ``~mask``); float masks are added to the scores in both. A
query whose keys are all masked gets zeros in theta and in PyTorch's
``F.scaled_dot_product_attention`` but NaN in ``nn.MultiheadAttention``'s fast path, so those
rows are tested on their own.
"""

import math
import warnings

import numpy as np
import pytest

import theta
from theta.nn import MultiHeadAttention, TransformerBlock, attention_mask
from theta.nn.attention import (
    PackedSelfAttention,
    ScaledDotProductAttention,
    attention_composed,
    scaled_dot_product_attention,
    sinusoidal_positions,
)

torch = pytest.importorskip("torch")
tnn = torch.nn
tF = torch.nn.functional

TOL = 1e-8
B, NH, T, HS = 2, 3, 5, 4

# (name, T, S, causal, key padding of shape (B, S) as rows of 0/1): no query is fully masked
MASKS = [
    ("none", 5, 5, False, None),
    ("causal", 5, 5, True, None),
    ("causal_longer_keys", 4, 6, True, None),  # the last T queries of S positions
    ("padding", 5, 6, False, [[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]]),
    ("causal_padding", 5, 5, True, [[0, 0, 0, 0, 1], [0, 0, 1, 1, 1]]),
]
MASK_IDS = [row[0] for row in MASKS]


def make_mask(T_, S_, causal, padding):
    pad = None if padding is None else np.array(padding, dtype=bool)
    return attention_mask(T_, S_, causal=causal, key_padding=pad)


def qkv_arrays(rng, T_=T, S_=T):
    q = rng.standard_normal((B, NH, T_, HS))
    k = rng.standard_normal((B, NH, S_, HS))
    v = rng.standard_normal((B, NH, S_, HS))
    return q, k, v


def leaf(array):
    return theta.tensor(array, dtype=np.float64, requires_grad=True)


def torch_leaf(array):
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=True)


def close(got, expected, what, tol=TOL):
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    if isinstance(got, theta.Tensor):
        got = got.numpy()
    np.testing.assert_allclose(np.asarray(got), expected, rtol=tol, atol=tol, err_msg=what)


def torch_attention(q, k, v, mask, keep=None):
    """Attention written out in torch: the reference that can also take a dropout mask."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(torch.as_tensor(mask), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if keep is not None:
        weights = weights * torch.as_tensor(keep)
    return weights @ v


# --- the mask builder ----------------------------------------------------------------------


def test_attention_mask_causal_hides_the_future():
    mask = attention_mask(3, causal=True)
    assert mask.tolist() == [[False, True, True], [False, False, True], [False, False, False]]


def test_attention_mask_with_longer_keys_aligns_queries_to_the_last_positions():
    mask = attention_mask(2, 4, causal=True)  # queries are positions 2 and 3 of 4
    assert mask.tolist() == [[False, False, False, True], [False, False, False, False]]


def test_attention_mask_combines_causal_and_padding():
    pad = np.array([[False, False, True], [False, True, True]])
    mask = attention_mask(3, causal=True, key_padding=pad)
    assert mask.shape == (2, 1, 3, 3)
    assert mask[1, 0].tolist() == [[False, True, True]] * 3
    assert mask[0, 0].tolist() == [[False, True, True], [False, False, True], [False, False, True]]


def test_attention_mask_is_none_when_nothing_is_masked():
    assert attention_mask(4) is None


# --- ScaledDotProductAttention against PyTorch ---------------------------------------------


@pytest.mark.parametrize("name, T_, S_, causal, padding", MASKS, ids=MASK_IDS)
def test_sdpa_matches_torch_forward_and_gradients(name, T_, S_, causal, padding, rng):
    q, k, v = qkv_arrays(rng, T_, S_)
    mask = make_mask(T_, S_, causal, padding)
    grad = rng.standard_normal((B, NH, T_, HS))

    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    out = scaled_dot_product_attention(tq, tk, tv, mask=mask)
    out.backward(grad)

    pq, pk, pv = torch_leaf(q), torch_leaf(k), torch_leaf(v)
    allowed = None if mask is None else torch.as_tensor(~np.broadcast_to(mask, (B, 1, T_, S_)))
    ref = tF.scaled_dot_product_attention(pq, pk, pv, attn_mask=allowed)
    ref.backward(torch.as_tensor(grad))

    close(out, ref, f"{name}: output")
    for got, expected, what in ((tq, pq, "q"), (tk, pk, "k"), (tv, pv, "v")):
        close(got.grad, expected.grad, f"{name}: gradient of {what}")


@pytest.mark.parametrize("name, T_, S_, causal, padding", MASKS, ids=MASK_IDS)
def test_sdpa_with_a_fixed_dropout_mask_matches_torch(name, T_, S_, causal, padding, rng):
    q, k, v = qkv_arrays(rng, T_, S_)
    mask = make_mask(T_, S_, causal, padding)
    keep = (rng.random((B, NH, T_, S_)) >= 0.3) / 0.7
    grad = rng.standard_normal((B, NH, T_, HS))

    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    out = ScaledDotProductAttention.apply(tq, tk, tv, mask=mask, scale=1 / math.sqrt(HS),
                                          keep=keep)  # fmt: skip
    out.backward(grad)
    pq, pk, pv = torch_leaf(q), torch_leaf(k), torch_leaf(v)
    ref = torch_attention(pq, pk, pv, mask, keep)
    ref.backward(torch.as_tensor(grad))

    close(out, ref, f"{name}: output")
    for got, expected, what in ((tq, pq, "q"), (tk, pk, "k"), (tv, pv, "v")):
        close(got.grad, expected.grad, f"{name}: gradient of {what}")


def test_sdpa_rejects_mismatched_shapes(rng):
    q = theta.tensor(rng.standard_normal((1, 2, 3, 4)))
    k = theta.tensor(rng.standard_normal((1, 2, 5, 4)))
    v = theta.tensor(rng.standard_normal((1, 2, 6, 4)))
    with pytest.raises(ValueError, match=r"attention: query \(1, 2, 3, 4\), key \(1, 2, 5, 4\)"):
        scaled_dot_product_attention(q, k, v)


def test_sdpa_dropout_is_seeded_and_off_in_eval(rng):
    q, k, v = (theta.tensor(a) for a in qkv_arrays(rng))
    plain = scaled_dot_product_attention(q, k, v).numpy()
    a = scaled_dot_product_attention(q, k, v, dropout=0.5, rng=3).numpy()
    b = scaled_dot_product_attention(q, k, v, dropout=0.5, rng=3).numpy()
    off = scaled_dot_product_attention(q, k, v, dropout=0.5, rng=3, training=False).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)
    np.testing.assert_array_equal(off, plain)


# --- PackedSelfAttention against PyTorch ---------------------------------------------------


def torch_packed(qkv, n_heads, mask, keep=None):
    B_, T_, C3 = qkv.shape
    C = C3 // 3
    q, k, v = (t.reshape(B_, T_, n_heads, C // n_heads).transpose(1, 2)
               for t in qkv.split(C, dim=-1))  # fmt: skip
    y = torch_attention(q, k, v, mask, keep)  # (B, nh, T, hs)
    return y.transpose(1, 2).reshape(B_, T_, C)


@pytest.mark.parametrize("with_dropout", [False, True], ids=["no_dropout", "fixed_dropout"])
@pytest.mark.parametrize("name, T_, S_, causal, padding",
                         [m for m in MASKS if m[1] == m[2]], ids=[m[0] for m in MASKS if m[1] == m[2]])  # fmt: skip  # noqa: E501
def test_packed_attention_matches_torch(name, T_, S_, causal, padding, with_dropout, rng):
    C = NH * HS
    qkv = rng.standard_normal((B, T_, 3 * C))
    mask = make_mask(T_, S_, causal, padding)
    keep = (rng.random((B, NH, T_, T_)) >= 0.25) / 0.75 if with_dropout else None
    grad = rng.standard_normal((B, T_, C))

    x = leaf(qkv)
    out = PackedSelfAttention.apply(x, n_heads=NH, mask=mask, scale=1 / math.sqrt(HS), keep=keep)
    out.backward(grad)
    px = torch_leaf(qkv)
    ref = torch_packed(px, NH, mask, keep)
    ref.backward(torch.as_tensor(grad))

    close(out, ref, f"{name}: output")
    close(x.grad, px.grad, f"{name}: gradient of the packed q, k, v")


# --- fused against the composed oracle -----------------------------------------------------


@pytest.mark.parametrize("name, T_, S_, causal, padding", MASKS, ids=MASK_IDS)
def test_fused_attention_equals_composed(name, T_, S_, causal, padding, rng):
    q, k, v = qkv_arrays(rng, T_, S_)
    mask = make_mask(T_, S_, causal, padding)
    grad = rng.standard_normal((B, NH, T_, HS))
    fused_in = [leaf(a) for a in (q, k, v)]
    composed_in = [leaf(a) for a in (q, k, v)]
    fused = scaled_dot_product_attention(*fused_in, mask=mask)
    composed = attention_composed(*composed_in, mask=mask)
    fused.backward(grad)
    composed.backward(grad)
    close(fused, composed.numpy(), f"{name}: output", tol=1e-10)
    for a, b, what in zip(fused_in, composed_in, "qkv", strict=True):
        close(a.grad, b.grad, f"{name}: gradient of {what}", tol=1e-10)


def test_packed_attention_equals_composed_on_the_split_heads(rng):
    C = NH * HS
    qkv = rng.standard_normal((B, T, 3 * C))
    mask = make_mask(T, T, True, [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]])
    grad = rng.standard_normal((B, T, C))
    x1, x2 = leaf(qkv), leaf(qkv)
    fused = PackedSelfAttention.apply(x1, n_heads=NH, mask=mask, scale=1 / math.sqrt(HS),
                                      keep=None)  # fmt: skip
    heads = x2.reshape(B, T, 3, NH, HS).transpose(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
    y = attention_composed(heads[0], heads[1], heads[2], mask=mask)  # (B, nh, T, hs)
    composed = y.transpose(0, 2, 1, 3).reshape(B, T, C)
    fused.backward(grad)
    composed.backward(grad)
    close(fused, composed.numpy(), "output", tol=1e-10)
    close(x1.grad, x2.grad, "gradient", tol=1e-10)


# --- finite differences --------------------------------------------------------------------

GRADCHECK_CASES = [
    ("causal", True, None),
    ("padding", False, [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]]),
    ("causal_padding_with_a_fully_masked_row", True, [[0, 0, 0, 0, 0], [1, 0, 0, 1, 1]]),
]


@pytest.mark.parametrize("dropout", [0.0, 0.4], ids=["no_dropout", "fixed_dropout"])
@pytest.mark.parametrize("name, causal, padding", GRADCHECK_CASES,
                         ids=[c[0] for c in GRADCHECK_CASES])  # fmt: skip
def test_sdpa_gradcheck(name, causal, padding, dropout, rng):
    q, k, v = qkv_arrays(rng)
    mask = make_mask(T, T, causal, padding)
    keep = (rng.random((B, NH, T, T)) >= dropout) / (1 - dropout) if dropout else None

    def fn(q_, k_, v_):
        return ScaledDotProductAttention.apply(q_, k_, v_, mask=mask, scale=1 / math.sqrt(HS),
                                               keep=keep)  # fmt: skip

    report = theta.gradcheck(fn, q, k, v)
    assert report.ok, str(report)


@pytest.mark.parametrize("dropout", [0.0, 0.4], ids=["no_dropout", "fixed_dropout"])
@pytest.mark.parametrize("name, causal, padding", GRADCHECK_CASES,
                         ids=[c[0] for c in GRADCHECK_CASES])  # fmt: skip
def test_packed_attention_gradcheck(name, causal, padding, dropout, rng):
    qkv = rng.standard_normal((B, T, 3 * NH * HS))
    mask = make_mask(T, T, causal, padding)
    keep = (rng.random((B, NH, T, T)) >= dropout) / (1 - dropout) if dropout else None

    def fn(x):
        return PackedSelfAttention.apply(x, n_heads=NH, mask=mask, scale=1 / math.sqrt(HS),
                                         keep=keep)  # fmt: skip

    report = theta.gradcheck(fn, qkv)
    assert report.ok, str(report)


# --- fully masked queries ------------------------------------------------------------------


def test_fully_masked_rows_give_zeros_without_nan_or_warnings(rng):
    q, k, v = qkv_arrays(rng)
    pad = np.array([[True] * T, [False, False, True, True, True]])  # sample 0: every key padded
    mask = attention_mask(T, key_padding=pad)
    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scaled_dot_product_attention(tq, tk, tv, mask=mask)
        out.backward(rng.standard_normal(out.shape))
    assert np.all(out.numpy()[0] == 0.0)
    for t in (tq, tk, tv):
        assert np.all(np.isfinite(t.grad))
        assert np.all(t.grad[0] == 0.0)
    # the other sample is untouched by the first one's padding
    ref = torch_attention(*(torch.as_tensor(a[1:]) for a in (q, k, v)), mask[1:])
    close(out.numpy()[1:], ref, "unmasked sample")


def test_fully_masked_query_in_packed_attention_gives_zeros(rng):
    qkv = rng.standard_normal((1, T, 3 * NH * HS))
    mask = attention_mask(T, causal=True, key_padding=np.array([[True, False, False, False,
                                                                 False]]))  # fmt: skip
    x = leaf(qkv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = PackedSelfAttention.apply(x, n_heads=NH, mask=mask, scale=0.5, keep=None)
        out.sum().backward()
    assert np.all(out.numpy()[0, 0] == 0.0)  # query 0 may look only at key 0, which is padding
    assert np.all(np.isfinite(out.numpy())) and np.all(np.isfinite(x.grad))


# --- MultiHeadAttention against torch.nn.MultiheadAttention ---------------------------------


def torch_mha_from(attn: MultiHeadAttention, C: int):
    """``torch.nn.MultiheadAttention`` with theta's weights, loaded strictly by name."""
    mha = tnn.MultiheadAttention(C, attn.n_heads, batch_first=True, dtype=torch.float64)
    mha.load_state_dict({k: torch.as_tensor(v) for k, v in attn.state_dict().items()})
    return mha


MHA_CASES = [
    ("plain", False, None),
    ("causal", True, None),
    ("padding", False, [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]]),
    ("causal_padding", True, [[0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 1, 1]]),
]


@pytest.mark.parametrize("name, causal, padding", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multi_head_attention_matches_torch(name, causal, padding, rng):
    C, n_heads, T_ = 12, 3, 6
    attn = MultiHeadAttention(C, n_heads, causal=causal, rng=1, dtype=np.float64)
    mha = torch_mha_from(attn, C)
    x = rng.standard_normal((2, T_, C))
    grad = rng.standard_normal((2, T_, C))
    pad = None if padding is None else np.array(padding, dtype=bool)

    tx = leaf(x)
    out = attn(tx, pad)
    out.backward(grad)
    px = torch_leaf(x)
    causal_mask = torch.as_tensor(attention_mask(T_, causal=True)) if causal else None
    ref, _ = mha(px, px, px, attn_mask=causal_mask,
                 key_padding_mask=None if pad is None else torch.as_tensor(pad),
                 need_weights=False)  # fmt: skip
    ref.backward(torch.as_tensor(grad))

    close(out, ref, f"{name}: output")
    close(tx.grad, px.grad, f"{name}: gradient of x")
    theirs = dict(mha.named_parameters())
    assert [n for n, _ in attn.named_parameters()] == list(theirs)
    for pname, p in attn.named_parameters():
        close(p.grad, theirs[pname].grad, f"{name}: gradient of {pname}")


def test_multi_head_attention_rejects_indivisible_width():
    with pytest.raises(ValueError, match=r"n_embd \(10\) must be divisible by n_heads \(3\)"):
        MultiHeadAttention(10, 3)


def test_multi_head_attention_dropout_is_seeded_and_off_in_eval(rng):
    x = theta.tensor(rng.standard_normal((2, 4, 8)))
    plain = MultiHeadAttention(8, 2, rng=5, dtype=np.float64)
    a = MultiHeadAttention(8, 2, dropout=0.3, rng=5, dtype=np.float64)
    b = MultiHeadAttention(8, 2, dropout=0.3, rng=5, dtype=np.float64)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert not np.allclose(a(x).numpy(), plain(x).numpy())
    a.eval()
    np.testing.assert_array_equal(a(x).numpy(), plain(x).numpy())


# --- padding: values at padded positions never reach the others -----------------------------


def test_padded_keys_do_not_change_sdpa_outputs(rng):
    q, k, v = qkv_arrays(rng, T, 6)
    pad = np.array([[0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 1, 1]], dtype=bool)
    mask = attention_mask(T, 6, key_padding=pad)
    before = scaled_dot_product_attention(*(theta.tensor(a) for a in (q, k, v)), mask=mask)
    k2, v2 = k.copy(), v.copy()
    where = np.broadcast_to(pad[:, None, :, None], k.shape)
    k2[where] = rng.standard_normal(int(where.sum())) * 100
    v2[where] = rng.standard_normal(int(where.sum())) * 100
    after = scaled_dot_product_attention(*(theta.tensor(a) for a in (q, k2, v2)), mask=mask)
    np.testing.assert_array_equal(after.numpy(), before.numpy())


@pytest.mark.parametrize("Layer", [MultiHeadAttention, TransformerBlock])
def test_padded_positions_do_not_change_unpadded_outputs(Layer, rng):
    layer = Layer(16, 4, rng=2)
    pad = np.array([[0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 1, 1, 1]], dtype=bool)
    x = rng.standard_normal((2, 7, 16)).astype(np.float32)
    before = layer(theta.tensor(x), pad).numpy()
    x2 = x.copy()
    x2[pad] = rng.standard_normal((int(pad.sum()), 16)) * 10
    after = layer(theta.tensor(x2), pad).numpy()
    np.testing.assert_array_equal(after[~pad], before[~pad])
    assert not np.allclose(after[pad], before[pad])


# --- the transformer block against a PyTorch twin -------------------------------------------


class TorchAttention(tnn.MultiheadAttention):
    """``torch.nn.MultiheadAttention`` called as theta's: ``(x, key padding)``, causal or not."""

    def __init__(self, C, n_heads, causal):
        super().__init__(C, n_heads, batch_first=True, dtype=torch.float64)
        self.causal = causal

    def forward(self, x, pad=None):
        mask = torch.as_tensor(attention_mask(x.shape[1], causal=True)) if self.causal else None
        pad = None if pad is None else torch.as_tensor(pad)
        return super().forward(x, x, x, attn_mask=mask, key_padding_mask=pad,
                               need_weights=False)[0]  # fmt: skip


class TorchBlock(tnn.Module):
    """Pre-norm block with theta's parameter names: ln1, attn, ln2, fc, proj."""

    def __init__(self, C, n_heads, causal):
        super().__init__()
        self.ln1 = tnn.LayerNorm(C, dtype=torch.float64)
        self.attn = TorchAttention(C, n_heads, causal)
        self.ln2 = tnn.LayerNorm(C, dtype=torch.float64)
        self.fc = tnn.Linear(C, 4 * C, dtype=torch.float64)
        self.gelu = tnn.GELU(approximate="tanh")
        self.proj = tnn.Linear(4 * C, C, dtype=torch.float64)

    def forward(self, x, pad=None):
        x = x + self.attn(self.ln1(x), pad)
        return x + self.proj(self.gelu(self.fc(self.ln2(x))))


def randomise(module, rng):
    """Non-trivial LayerNorm gains and biases, so their gradients are really tested."""
    for _, p in module.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5 + (1.0 if p.ndim == 1 else 0.0)


@pytest.mark.parametrize("name, causal, padding", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_transformer_block_matches_torch(name, causal, padding, rng):
    C, n_heads, T_ = 16, 4, 6
    block = TransformerBlock(C, n_heads, causal=causal, rng=3, dtype=np.float64)
    randomise(block, rng)
    twin = TorchBlock(C, n_heads, causal)
    twin.load_state_dict({k: torch.as_tensor(v) for k, v in block.state_dict().items()})
    x = rng.standard_normal((2, T_, C))
    grad = rng.standard_normal((2, T_, C))
    pad = None if padding is None else np.array(padding, dtype=bool)

    tx = leaf(x)
    out = block(tx, pad)
    out.backward(grad)
    px = torch_leaf(x)
    ref = twin(px, pad)
    ref.backward(torch.as_tensor(grad))

    close(out, ref, f"{name}: output")
    close(tx.grad, px.grad, f"{name}: gradient of x")
    theirs = dict(twin.named_parameters())
    names = [n for n, _ in block.named_parameters()]
    assert sorted(names) == sorted(theirs)
    for pname, p in block.named_parameters():
        close(p.grad, theirs[pname].grad, f"{name}: gradient of {pname}")


def test_transformer_block_is_causal(rng):
    block = TransformerBlock(8, 2, causal=True, rng=0)
    x = rng.standard_normal((1, 6, 8)).astype(np.float32)
    before = block(theta.tensor(x)).numpy()
    x[0, 4] += 1.0
    after = block(theta.tensor(x)).numpy()
    np.testing.assert_array_equal(after[0, :4], before[0, :4])
    assert not np.allclose(after[0, 4:], before[0, 4:])


# --- positions -----------------------------------------------------------------------------


def test_sinusoidal_positions_match_the_formula():
    table = sinusoidal_positions(10, 6, dtype=np.float64)
    pos, i = 7, 2  # dimensions 2i and 2i + 1 share the frequency 1 / 10000^(2i / C)
    angle = pos / 10000 ** (2 * i / 6)
    assert table.shape == (10, 6)
    assert table[pos, 2 * i] == pytest.approx(math.sin(angle))
    assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle))
    assert sinusoidal_positions(3, 4).dtype == np.float32


# --- float (additive) masks ------------------------------------------------------------------


def float_mask(rng, shape, n_inf=3):
    """A random additive mask of ``shape`` with a few -inf entries, none filling a row."""
    m = rng.standard_normal(shape)
    flat = m.reshape(-1, shape[-1])
    rows = rng.choice(flat.shape[0], size=min(n_inf, flat.shape[0]), replace=False)
    flat[rows, rng.integers(0, shape[-1], rows.size)] = -np.inf
    return m


FLOAT_MASK_SHAPES = [(T, 6), (B, 1, T, 6), (B, NH, T, 6), (1, NH, 1, 6), (1, 6)]


@pytest.mark.parametrize("shape", FLOAT_MASK_SHAPES, ids=str)
def test_sdpa_float_mask_matches_torch(shape, rng):
    q, k, v = qkv_arrays(rng, T, 6)
    mask = float_mask(rng, shape)
    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    out = scaled_dot_product_attention(tq, tk, tv, mask=mask)
    grad = rng.standard_normal(out.shape)
    out.backward(grad)
    pq, pk, pv = torch_leaf(q), torch_leaf(k), torch_leaf(v)
    ref = tF.scaled_dot_product_attention(pq, pk, pv, attn_mask=torch.as_tensor(mask))
    ref.backward(torch.as_tensor(grad))
    close(out, ref, "output")
    for ours, theirs, name in ((tq, pq, "q"), (tk, pk, "k"), (tv, pv, "v")):
        close(ours.grad, theirs.grad, f"gradient of {name}")


def test_float_mask_equals_composed_and_passes_gradcheck(rng):
    q, k, v = qkv_arrays(rng)
    mask = float_mask(rng, (B, 1, T, T))
    fused_in, composed_in = [leaf(a) for a in (q, k, v)], [leaf(a) for a in (q, k, v)]
    fused = scaled_dot_product_attention(*fused_in, mask=mask)
    composed = attention_composed(*composed_in, mask=mask)
    grad = rng.standard_normal(fused.shape)
    fused.backward(grad)
    composed.backward(grad)
    close(fused, composed.numpy(), "output")
    for a, b in zip(fused_in, composed_in, strict=True):
        close(a.grad, b.grad, "gradient")
    report = theta.gradcheck(lambda *t: scaled_dot_product_attention(*t, mask=mask), q, k, v)
    assert report.ok, str(report)


def test_float32_float_mask_keeps_float32(kernel_backend, rng):
    q, k, v = (a.astype(np.float32) for a in qkv_arrays(rng))
    ts = [theta.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = scaled_dot_product_attention(*ts, mask=float_mask(rng, (T, T)))  # float64 mask
    out.sum().backward()
    assert out.dtype == np.float32 and all(t.grad.dtype == np.float32 for t in ts)


def test_float_minus_inf_mask_equals_the_bool_mask(rng):
    q, k, v = (theta.tensor(a) for a in qkv_arrays(rng))
    bool_mask = make_mask(T, T, True, [[0, 0, 0, 0, 1], [0, 0, 1, 1, 1]])
    additive = np.where(bool_mask, -np.inf, 0.0)
    np.testing.assert_array_equal(
        scaled_dot_product_attention(q, k, v, mask=additive).numpy(),
        scaled_dot_product_attention(q, k, v, mask=bool_mask).numpy(),
    )


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_rows_match_torch_sdpa(kind, rng):
    q, k, v = qkv_arrays(rng)
    allowed = np.ones((T, T), dtype=bool)
    allowed[2] = False  # query 2 may look nowhere
    ours_mask = ~allowed if kind == "bool" else np.where(allowed, 0.0, -np.inf)
    theirs_mask = allowed if kind == "bool" else ours_mask
    tq, tk, tv = leaf(q), leaf(k), leaf(v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = scaled_dot_product_attention(tq, tk, tv, mask=ours_mask)
        grad = rng.standard_normal(out.shape)
        out.backward(grad)
    pq, pk, pv = torch_leaf(q), torch_leaf(k), torch_leaf(v)
    ref = tF.scaled_dot_product_attention(pq, pk, pv, attn_mask=torch.as_tensor(theirs_mask))
    ref.backward(torch.as_tensor(grad))
    assert np.all(out.numpy()[:, :, 2] == 0.0)
    close(out, ref, "output")
    for ours, theirs, name in ((tq, pq, "q"), (tk, pk, "k"), (tv, pv, "v")):
        close(ours.grad, theirs.grad, f"gradient of {name}")


def test_sdpa_mask_errors(rng):
    q, k, v = (theta.tensor(a) for a in qkv_arrays(rng, T, 6))
    message = r"mask of shape \(2, 5, 6\) does not broadcast to the scores' shape \(B, nh, T, S\)"
    with pytest.raises(ValueError, match=message + r" = \(2, 3, 5, 6\)"):
        scaled_dot_product_attention(q, k, v, mask=np.zeros((2, 5, 6)))
    with pytest.raises(ValueError, match=r"\(2, 2, 3, 5, 6\)"):  # may not grow the output
        scaled_dot_product_attention(q, k, v, mask=np.zeros((2, 2, 3, 5, 6)))
    with pytest.raises(TypeError, match="mask must be bool .* or floating .*int64"):
        scaled_dot_product_attention(q, k, v, mask=np.zeros((5, 6), dtype=np.int64))
    learned = theta.tensor(np.zeros((5, 6)), requires_grad=True)
    with pytest.raises(ValueError, match=r"mask is a constant .* mask.detach\(\)"):
        scaled_dot_product_attention(q, k, v, mask=learned)
    out = scaled_dot_product_attention(q, k, v, mask=learned.detach())
    assert out.shape == (B, NH, T, HS)


# --- MultiHeadAttention's attn_mask against torch.nn.MultiheadAttention ----------------------


def _torch_key_padding(pad, dtype_like):
    """Padding as the same kind of mask as attn_mask, so torch merges them without warning."""
    if pad is None:
        return None
    if dtype_like is None or dtype_like.dtype == bool:
        return torch.as_tensor(pad)
    return torch.as_tensor(np.where(pad, -np.inf, 0.0))


MHA_MASK_CASES = [
    # name, attn_mask kind and shape ("TT" = (T, T), "BhTT" = (B * nh, T, T), "B1TT"), causal, pad
    ("float_TT", "float", "TT", False, None),
    ("float_BhTT", "float", "BhTT", False, None),
    ("float_B1TT_padding", "float", "B1TT", False, [[0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 1, 1]]),
    ("float_TT_causal_padding", "float", "TT", True, [[0, 0, 0, 0, 0, 1], [0, 0, 0, 1, 1, 1]]),
    ("bool_TT", "bool", "TT", False, None),
    ("bool_BhTT_causal_padding", "bool", "BhTT", True, [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]]),
]


@pytest.mark.parametrize("name, kind, layout, causal, padding", MHA_MASK_CASES,
                         ids=[c[0] for c in MHA_MASK_CASES])  # fmt: skip
def test_multi_head_attention_attn_mask_matches_torch(name, kind, layout, causal, padding, rng):
    C, n_heads, T_, B_ = 12, 3, 6, 2
    attn = MultiHeadAttention(C, n_heads, causal=causal, rng=1, dtype=np.float64)
    mha = torch_mha_from(attn, C)
    shape = {"TT": (T_, T_), "BhTT": (B_ * n_heads, T_, T_), "B1TT": (B_, 1, T_, T_)}[layout]
    if kind == "float":
        mask = float_mask(rng, shape)
    else:
        mask = rng.random(shape) < 0.3
        mask[..., 0] = False  # every query keeps key 0, so no row is fully masked
    pad = None if padding is None else np.array(padding, dtype=bool)
    x, grad = rng.standard_normal((B_, T_, C)), rng.standard_normal((B_, T_, C))

    tx = leaf(x)
    out = attn(tx, pad, attn_mask=mask)
    out.backward(grad)

    # torch takes one attn_mask of shape (T, T) or (B * nh, T, T): fold causal and B1TT into it
    theirs = mask if layout == "TT" else mask.reshape(B_, -1, T_, T_)
    if layout != "TT":  # (B, 1, T, T) -> (B * nh, T, T)
        theirs = np.broadcast_to(theirs, (B_, n_heads, T_, T_)).reshape(-1, T_, T_).copy()
    if causal:
        future = attention_mask(T_, causal=True)
        theirs = (theirs | future) if kind == "bool" else np.where(future, -np.inf, theirs)
    px = torch_leaf(x)
    ref, _ = mha(px, px, px, attn_mask=torch.as_tensor(theirs),
                 key_padding_mask=_torch_key_padding(pad, mask), need_weights=False)  # fmt: skip
    ref.backward(torch.as_tensor(grad))

    close(out, ref, f"{name}: output")
    close(tx.grad, px.grad, f"{name}: gradient of x")
    params = dict(mha.named_parameters())
    for pname, p in attn.named_parameters():
        close(p.grad, params[pname].grad, f"{name}: gradient of {pname}")


def test_attention_weights_and_block_take_the_float_mask(rng):
    C, T_ = 8, 5
    future = attention_mask(T_, causal=True)
    additive = np.where(future, -np.inf, 0.0)
    x = theta.tensor(rng.standard_normal((2, T_, C)))
    causal, plain = (MultiHeadAttention(C, 2, causal=c, rng=4, dtype=np.float64)
                     for c in (True, False))  # fmt: skip
    np.testing.assert_array_equal(
        plain.attention_weights(x, attn_mask=additive), causal.attention_weights(x)
    )
    blocks = [TransformerBlock(C, 2, causal=c, rng=4, dtype=np.float64) for c in (True, False)]
    np.testing.assert_array_equal(blocks[1](x, attn_mask=additive).numpy(), blocks[0](x).numpy())


def test_multi_head_attention_attn_mask_errors(rng):
    attn = MultiHeadAttention(8, 2, rng=0)
    x = theta.tensor(rng.standard_normal((3, 4, 8)).astype(np.float32))
    with pytest.raises(ValueError, match=r"MultiHeadAttention: attn_mask of shape \(5, 4, 4\) "
                                         r"does not broadcast .* \(3, 2, 4, 4\)"):  # fmt: skip
        attn(x, attn_mask=np.zeros((5, 4, 4)))
    with pytest.raises(TypeError, match="MultiHeadAttention: attn_mask must be bool"):
        attn(x, attn_mask=np.zeros((4, 4), dtype=np.int32))
