"""``theta.nn.functional``: the fused ``linear`` and ``layer_norm`` against their composed
oracles (forward and every gradient, float64, 1e-10), ``gradcheck`` on the fused forms, and
the contracts of ``dropout`` and ``embedding``.
"""

import numpy as np
import pytest

import theta
from theta import Tensor
from theta.nn import functional as F

TOL = 1e-10


def leaf(array: np.ndarray) -> Tensor:
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def run_both(fused, composed, arrays, rng, **kwargs):
    """Forward and backward (same random upstream gradient) through both forms."""
    results = []
    upstream = None
    for fn in (fused, composed):
        inputs = [leaf(a) if a is not None else None for a in arrays]
        out = fn(*inputs, **kwargs)
        if upstream is None:
            upstream = rng.standard_normal(out.shape)
        out.backward(upstream)
        results.append((out, inputs))
    return results


def assert_same(fused_run, composed_run):
    (out_f, in_f), (out_c, in_c) = fused_run, composed_run
    assert out_f.shape == out_c.shape
    np.testing.assert_allclose(out_f.data, out_c.data, rtol=TOL, atol=TOL)
    for i, (a, b) in enumerate(zip(in_f, in_c, strict=True)):
        if a is None:
            continue
        assert a.grad is not None and b.grad is not None, f"input {i} got no gradient"
        assert a.grad.shape == a.shape, f"input {i}: gradient shape {a.grad.shape} != {a.shape}"
        np.testing.assert_allclose(a.grad, b.grad, rtol=TOL, atol=TOL, err_msg=f"input {i}")


# --- linear ----------------------------------------------------------------------------------

LINEAR_SHAPES = [(5,), (4, 5), (2, 3, 5), (2, 1, 3, 5)]


@pytest.mark.parametrize("x_shape", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear_fused_matches_composed(x_shape, bias, rng):
    arrays = [
        rng.standard_normal(x_shape),
        rng.standard_normal((3, 5)),
        rng.standard_normal(3) if bias else None,
    ]
    fused, composed = run_both(F.linear, F.linear_composed, arrays, rng)
    assert fused[0].shape == (*x_shape[:-1], 3)
    assert_same(fused, composed)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear_gradcheck(bias, rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    if bias:
        report = theta.gradcheck(F.linear, x, w, b)
    else:
        report = theta.gradcheck(lambda x, w: F.linear(x, w), x, w)
    assert report.ok, str(report)
    assert report.ops == ("Linear",)  # one fused op, not a composed chain


@pytest.mark.parametrize("x_shape", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear_relu_fused_matches_composed(x_shape, bias, rng):
    arrays = [
        rng.standard_normal(x_shape),
        rng.standard_normal((3, 5)),
        rng.standard_normal(3) if bias else None,
    ]
    fused, composed = run_both(F.linear_relu, F.linear_relu_composed, arrays, rng)
    assert (fused[0].data == 0).any() and (fused[0].data > 0).any()  # both sides of the kink
    assert_same(fused, composed)


def test_linear_relu_gradcheck(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    report = theta.gradcheck(F.linear_relu, x, w, b)
    assert report.ok, str(report)
    assert report.ops == ("Linear",)


def test_mlp_runs_linear_relu_pairs_fused_and_keeps_other_activations(rng):
    x = Tensor(rng.standard_normal((4, 3)))
    relu_net = theta.nn.MLP((3, 5, 5, 2), rng=0, dtype=np.float64)
    tanh_net = theta.nn.MLP((3, 5, 2), activation="tanh", rng=0, dtype=np.float64)
    assert theta.gradcheck(relu_net, x.data).ops == ("Linear",) * 3
    assert theta.gradcheck(tanh_net, x.data).ops == ("Linear", "Tanh", "Linear")


def test_linear_computes_only_requested_gradients(rng):
    x = leaf(rng.standard_normal((4, 3)))
    w = Tensor(rng.standard_normal((2, 3)))
    b = Tensor(rng.standard_normal(2))
    F.linear(x, w, b).sum().backward()
    assert w.grad is None and b.grad is None
    np.testing.assert_allclose(x.grad, np.ones((4, 2)) @ w.data, rtol=TOL)


def test_linear_keeps_float32(rng):
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    out = F.linear(x, w, b)
    out.sum().backward()
    assert out.dtype == np.float32
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_linear_rejects_wrong_in_features(rng):
    x, w = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((2, 5)))
    with pytest.raises(ValueError, match=r"linear: .*\(4, 3\).*\(2, 5\).*in_features=5"):
        F.linear(x, w)


# --- layer_norm ------------------------------------------------------------------------------

NORM_CASES = [
    # x shape       normalised shape  eps
    ((4, 6), (6,), 1e-5),
    ((2, 3, 6), (6,), 1e-5),
    ((2, 3, 6), (6,), 0.1),
    ((2, 3, 4, 5), (4, 5), 1e-5),
    ((3, 4, 5), (4, 5), 0.5),
    ((7,), (7,), 1e-5),
]


@pytest.mark.parametrize("x_shape, norm_shape, eps", NORM_CASES, ids=str)
def test_layer_norm_fused_matches_composed(x_shape, norm_shape, eps, rng):
    arrays = [
        0.3 * rng.standard_normal(x_shape) + 1.0,  # small spread, so eps matters
        rng.standard_normal(norm_shape),
        rng.standard_normal(norm_shape),
    ]
    fused, composed = run_both(F.layer_norm, F.layer_norm_composed, arrays, rng, eps=eps)
    assert fused[0].shape == x_shape
    assert_same(fused, composed)


def test_layer_norm_eps_changes_the_result(rng):
    x, w, b = leaf(0.1 * rng.standard_normal((3, 4))), leaf(np.ones(4)), leaf(np.zeros(4))
    small = F.layer_norm(x, w, b, eps=1e-5).data
    large = F.layer_norm(x, w, b, eps=1.0).data
    assert np.abs(small - large).max() > 0.1
    centred = x.data - x.data.mean(axis=-1, keepdims=True)
    expected = centred / np.sqrt(centred.var(axis=-1, keepdims=True) + 1.0)
    np.testing.assert_allclose(large, expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("x_shape, norm_shape, eps", NORM_CASES[:4], ids=str)
def test_layer_norm_gradcheck(x_shape, norm_shape, eps, rng):
    x = rng.standard_normal(x_shape)
    w, b = rng.standard_normal(norm_shape), rng.standard_normal(norm_shape)
    report = theta.gradcheck(lambda x, w, b: F.layer_norm(x, w, b, eps=eps), x, w, b)
    assert report.ok, str(report)
    assert report.ops == ("LayerNorm",)


def test_layer_norm_constant_input_is_finite():
    x = leaf(np.full((2, 5), 3.0))
    out = F.layer_norm(x, leaf(np.ones(5)), leaf(np.zeros(5)))
    out.sum().backward()
    np.testing.assert_array_equal(out.data, 0.0)
    assert np.isfinite(x.grad).all()


def test_layer_norm_rejects_wrong_shape(rng):
    x = Tensor(rng.standard_normal((2, 3, 4)))
    with pytest.raises(ValueError, match=r"layer_norm: .*\(2, 3, 4\).*\(3,\)"):
        F.layer_norm(x, Tensor(np.ones(3)), Tensor(np.zeros(3)))


# --- dropout ---------------------------------------------------------------------------------


def test_dropout_zeroes_about_p_and_rescales_survivors():
    x = leaf(np.ones((200, 500)))
    out = F.dropout(x, 0.3, rng=0)
    zeroed = out.data == 0
    assert abs(zeroed.mean() - 0.3) < 0.01
    np.testing.assert_allclose(out.data[~zeroed], 1 / 0.7, rtol=1e-15)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # the gradient uses the same mask


def test_dropout_same_seed_same_mask_and_stream_advances(rng):
    x = Tensor(rng.standard_normal((8, 16)))
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=3).data, F.dropout(x, 0.5, rng=3).data)
    gen = np.random.default_rng(3)
    first, second = F.dropout(x, 0.5, rng=gen).data, F.dropout(x, 0.5, rng=gen).data
    assert not np.array_equal(first == 0, second == 0)


def test_dropout_identity_when_not_training_or_p_zero(rng):
    x = leaf(rng.standard_normal((3, 4)))
    assert F.dropout(x, 0.5, rng=0, training=False) is x
    assert F.dropout(x, 0.0, rng=0) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match=rf"dropout: p must be in \[0, 1\) \(got {p}\)"):
        F.dropout(Tensor(np.ones(3)), p, rng=0)


# --- embedding -------------------------------------------------------------------------------


def test_embedding_picks_rows_and_scatter_adds_repeats(rng):
    weight = leaf(rng.standard_normal((5, 3)))
    idx = np.array([[1, 3, 1], [0, 1, 3]])
    out = F.embedding(idx, weight)
    np.testing.assert_array_equal(out.data, weight.data[idx])
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected = np.zeros((5, 3))
    for pos in np.ndindex(idx.shape):
        expected[idx[pos]] += upstream[pos]
    np.testing.assert_allclose(weight.grad, expected, rtol=TOL, atol=TOL)
    np.testing.assert_array_equal(weight.grad[[2, 4]], 0.0)  # unused rows get nothing


def test_embedding_accepts_tensor_indices(rng):
    weight = leaf(rng.standard_normal((4, 2)))
    out = F.embedding(Tensor(np.array([3, 0])), weight)
    np.testing.assert_array_equal(out.data, weight.data[[3, 0]])


def test_embedding_rejects_float_and_out_of_range_indices(rng):
    weight = leaf(rng.standard_normal((4, 2)))
    with pytest.raises(TypeError, match="embedding: indices must be integers"):
        F.embedding(np.array([0.0, 1.0]), weight)
    with pytest.raises(ValueError, match=r"embedding: indices must be in \[0, 4\).*-1 to 4"):
        F.embedding(np.array([-1, 4]), weight)
