"""The engine's and ``Function.apply``'s fast paths give the numbers of the general ones:
unrolled one- and two-input applies, leaves stored as soon as their gradient is complete, and
``unbroadcast`` through ``np.add.reduce`` instead of ``ndarray.sum``.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import theta
from theta import Function, Tensor
from theta.autograd.engine import unbroadcast


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


class Blend(Function):
    """``a * b + c``, three inputs (the general apply path), keyword ``scale``."""

    @staticmethod
    def forward(ctx, a, b, c, *, scale=1.0):
        ctx.save(a, b)
        return (a * b + c) * scale

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        s = ctx.kwargs["scale"]
        return grad * b * s, grad * a * s, grad * s


class Ghost(Function):
    """Identity whose backward sends nothing back, though its input needs a gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return (None,)


@pytest.mark.parametrize("needs", [(True, True, True), (False, True, False), (True, False, True)])
def test_three_input_apply_matches_torch(needs):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((2, 3), (3,), (2, 1))]
    ours = [Tensor(a, requires_grad=n) for a, n in zip(arrays, needs, strict=True)]
    theirs = [torch.tensor(a, requires_grad=n) for a, n in zip(arrays, needs, strict=True)]
    Blend.apply(*ours, scale=0.5).sum().backward()
    ((theirs[0] * theirs[1] + theirs[2]) * 0.5).sum().backward()
    for o, t in zip(ours, theirs, strict=True):
        if t.grad is None:
            assert o.grad is None
        else:
            np.testing.assert_allclose(o.grad, t.grad.numpy(), rtol=1e-15)
            assert o.grad.shape == o.shape


def test_leaf_whose_every_path_sends_none_gets_no_gradient():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (Ghost.apply(x) * 2.0 + Ghost.apply(x) + y).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])


def test_leaf_with_one_silent_path_gets_the_others():
    x = leaf([1.0, -2.0])
    (Ghost.apply(x) + x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_leaf_root_backward_stores_a_copy_of_the_seed():
    x = leaf([1.0, 2.0], dtype=np.float32)
    seed = np.array([0.5, -1.0], dtype=np.float32)
    x.backward(seed)
    np.testing.assert_array_equal(x.grad, seed)
    assert x.grad is not seed and x.grad.dtype == np.float32


def test_chapter_loop_matches_torch():
    """The book's loop (w*x + b, MSE, SGD) through 200 steps, float64, against PyTorch."""
    xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    X, y = theta.tensor(xs), theta.tensor(2.0 * xs + 1.0)
    w, b = theta.tensor(0.0, dtype=np.float64, requires_grad=True), leaf(0.0)
    tX, ty = torch.tensor(xs), torch.tensor(2.0 * xs + 1.0)
    tw = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    for _ in range(200):
        ((w * X + b - y) ** 2).mean().backward()
        ((tw * tX + tb - ty) ** 2).mean().backward()
        with theta.no_grad(), torch.no_grad():
            for p, q in ((w, tw), (b, tb)):
                assert p.grad.shape == () and type(p.grad) is np.ndarray
                p -= 0.05 * p.grad
                q -= 0.05 * q.grad
                p.grad = q.grad = None
    np.testing.assert_allclose([w.item(), b.item()], [tw.item(), tb.item()], rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 3), min_size=0, max_size=3),
    extra=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    stretch=st.lists(st.booleans(), min_size=3, max_size=3),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_unbroadcast_is_bitwise_the_sum_over_broadcast_axes(shape, extra, stretch, dtype):
    target = tuple(1 if s else n for n, s in zip(shape, stretch, strict=False))
    grad = np.random.default_rng(1).standard_normal((*extra, *shape)).astype(dtype)
    expected = grad.sum(axis=tuple(range(len(extra)))) if extra else grad
    axes = tuple(i for i, n in enumerate(target) if n == 1 and expected.shape[i] != 1)
    if axes:
        expected = expected.sum(axis=axes, keepdims=True)
    got = unbroadcast(grad, target)
    assert np.shape(got) == target
    np.testing.assert_array_equal(got, expected, strict=True)
