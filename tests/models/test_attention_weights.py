"""``attention_weights``: the weights the attention layers really use, for pictures."""

import numpy as np
import pytest

from theta.autograd import no_grad, tensor
from theta.models import GPT
from theta.nn import MultiHeadAttention


def test_the_weights_are_the_ones_forward_mixes_the_values_with(rng):
    attn = MultiHeadAttention(8, 2, causal=True, rng=0)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    weights = attn.attention_weights(x)  # (B, nh, T, T)
    assert weights.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(np.triu(weights, k=1) == 0)
    # forward = proj(weights @ v, heads merged): recompute it from the weights alone
    v = (x @ attn.in_proj_weight.data.T + attn.in_proj_bias.data)[..., 16:]  # (B, T, C)
    v = v.reshape(3, 5, 2, 4).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
    mixed = (weights @ v).transpose(0, 2, 1, 3).reshape(3, 5, 8)
    expected = mixed @ attn.out_proj.weight.data.T + attn.out_proj.bias.data
    with no_grad():
        np.testing.assert_allclose(attn(tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_gpt_attention_weights_of_each_layer_in_eval_mode():
    model = GPT(vocab_size=10, block_size=8, n_layer=3, n_heads=2, n_embd=8, dropout=0.5, rng=0)
    ids = np.array([[1, 2, 3, 4], [4, 3, 2, 1]])
    last = model.attention_weights(ids)
    assert last.shape == (2, 2, 4, 4) and model.training  # the mode is restored
    np.testing.assert_array_equal(last, model.attention_weights(ids, layer=2))  # no dropout
    first = model.attention_weights(ids, layer=0)
    x = model.wte(ids) + model.wpe(np.arange(4))
    np.testing.assert_allclose(first, model.blocks[0].attn.attention_weights(
        model.blocks[0].ln1(x)), rtol=1e-6)  # fmt: skip
    with pytest.raises(IndexError, match="layer 3 is out of range for 3 blocks"):
        model.attention_weights(ids, layer=3)
    with pytest.raises(ValueError, match="exceeds block_size 8"):
        model.attention_weights(np.zeros((1, 9), dtype=int))
