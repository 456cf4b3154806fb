"""Gradient clipping: PyTorch's results, the post-clip bound, never writing into a (possibly
shared) gradient, non-finite norms, and the exploding-gradient toy of RELIABILITY 34.
"""

import math

import numpy as np
import pytest

from theta import Tensor
from theta.optim import SGD, clip_grad_norm, clip_grad_value

torch = pytest.importorskip("torch")


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def with_grads(grads, dtype=np.float64):
    """Theta tensors and PyTorch tensors carrying the same gradients (None: no gradient)."""
    ours, theirs = [], []
    for g in grads:
        shape = (1,) if g is None else np.shape(g)
        p, tp = leaf(np.zeros(shape), dtype), torch.zeros(shape, dtype=torch.float64)
        tp.requires_grad_(True)
        if g is not None:
            p.grad = np.array(g, dtype=dtype)
            tp.grad = torch.tensor(np.array(g, dtype=np.float64))
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


def _grads(rng, scale=1.0):
    return [scale * rng.standard_normal((4, 5)), None, scale * rng.standard_normal(7),
            scale * rng.standard_normal(())]  # fmt: skip


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    ours, theirs = with_grads(_grads(rng))
    total = clip_grad_norm(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert type(total) is float
    assert total == pytest.approx(float(expected), rel=1e-12)
    for p, tp in zip(ours, theirs, strict=True):
        if tp.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_post_clip_norm_is_at_most_max_norm(rng):
    for trial in range(200):
        grads = [g for g in _grads(rng, scale=10.0 ** rng.uniform(-3, 6)) if g is not None]
        params = [leaf(np.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        max_norm = 10.0 ** rng.uniform(-3, 3)
        norm_type = [1.0, 2.0, 3.0, math.inf][trial % 4]
        before = clip_grad_norm(params, max_norm, norm_type)
        after = clip_grad_norm(params, math.inf, norm_type)
        assert after <= max_norm * (1 + 1e-6), (trial, before, after, max_norm)
        if before <= max_norm:
            assert after == before, "grads below the limit are untouched"


def test_clipping_replaces_grads_and_never_writes_into_them():
    shared = np.array([3.0, 4.0])
    shared.flags.writeable = False  # an in-place scale would raise
    a, b = leaf([0.0, 0.0]), leaf([0.0, 0.0])
    a.grad = b.grad = shared  # one array behind two tensors
    assert clip_grad_norm([a, b], 1.0) == pytest.approx(math.sqrt(50))
    assert np.array_equal(shared, [3.0, 4.0])
    assert a.grad is not shared and b.grad is not shared
    clip_grad_value([a], 0.1)
    assert np.array_equal(shared, [3.0, 4.0]) and a.grad is not shared


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_norm_is_returned_and_grads_left_alone(bad):
    a, b = leaf([0.0, 0.0]), leaf([0.0])
    ga, gb = np.array([1e3, 2e3]), np.array([bad])
    a.grad, b.grad = ga, gb
    total = clip_grad_norm([a, b], 1.0)
    assert math.isnan(total) if np.isnan(bad) else total == math.inf
    assert a.grad is ga and b.grad is gb
    if np.isnan(bad):  # NaN wins wherever it is
        a.grad, b.grad = gb, ga
        assert math.isnan(clip_grad_norm([a, b], 1.0, norm_type=math.inf))


def test_float32_grads_stay_float32_and_huge_values_do_not_overflow():
    w = leaf(np.zeros(4), np.float32)
    w.grad = np.full(4, 1e30, dtype=np.float32)  # the squares overflow float32
    total = clip_grad_norm(w, 1.0)
    assert total == pytest.approx(2e30, rel=1e-6)
    assert w.grad.dtype == np.float32
    assert float(np.linalg.norm(w.grad.astype(np.float64))) <= 1.0 * (1 + 1e-6)
    w.grad = np.full(4, 1e30, dtype=np.float32)
    assert clip_grad_norm(w, 1.0, norm_type=3.0) == pytest.approx(4 ** (1 / 3) * 1e30, rel=1e-6)


def test_edge_cases_no_grads_empty_arrays_and_measuring_only():
    assert clip_grad_norm([leaf([1.0])], 1.0) == 0.0
    assert clip_grad_norm([], 1.0) == 0.0
    e = leaf(np.zeros(0))
    e.grad = np.zeros(0)
    assert clip_grad_norm([e], 1.0) == 0.0
    w = leaf([0.0, 0.0])
    w.grad = g = np.array([30.0, 40.0])
    assert clip_grad_norm((p for p in [w]), math.inf) == 50.0 and w.grad is g
    z = leaf([0.0])
    z.grad = np.zeros(1)
    assert clip_grad_norm([z], 1.0, norm_type=3.0) == 0.0


def test_clip_grad_value_matches_torch(rng):
    ours, theirs = with_grads(_grads(rng, scale=2.0))
    clip_grad_value(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, tp in zip(ours, theirs, strict=True):
        if tp.grad is not None:
            np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    w = leaf([0.0], np.float32)
    w.grad = np.array([5.0], dtype=np.float32)
    clip_grad_value(w, 1)
    assert w.grad.dtype == np.float32 and w.grad[0] == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: clip_grad_norm(p, 0.0), r"The 'max_norm' parameter of clip_grad_norm must be "
                                           r"a float in the range \(0, inf\]\. Got 0\.0 instead\."),
        (lambda p: clip_grad_norm(p, -1), r"'max_norm' .* Got -1 instead"),
        (lambda p: clip_grad_norm(p, math.nan), r"'max_norm' .* Got nan instead"),
        (lambda p: clip_grad_norm(p, 1.0, norm_type=0),
         r"The 'norm_type' parameter of clip_grad_norm .* Got 0 instead"),
        (lambda p: clip_grad_value(p, 0), r"The 'clip_value' parameter of clip_grad_value must be "
                                          r"a float in the range \(0, inf\)\. Got 0 instead\."),
        (lambda p: clip_grad_value(p, "1"), r"The 'clip_value' parameter of clip_grad_value"),
        (lambda p: clip_grad_value(p, math.inf), r"'clip_value' .* Got inf instead"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_naming_them(call, match):
    w = leaf([1.0])
    w.grad = np.ones(1)
    with pytest.raises(ValueError, match=match):
        call([w])


# --- RELIABILITY 34: the exploding-gradient toy ------------------------------------------------


def _descend(clip: float | None, n_steps: int = 100) -> list[float]:
    """lr=10 gradient descent on 1/2 sum(a * w^2): each step multiplies w_i by (1 - 10 a_i)."""
    a = np.array([1.0, 2.0, 3.0])
    w = leaf([1.0, -0.5, 0.25])
    opt = SGD([w], lr=10.0)
    sizes = []
    for _ in range(n_steps):
        loss = (a * w * w).sum() * 0.5
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            clip_grad_norm([w], clip)
        opt.step()
        sizes.append(float(np.abs(w.data).max()))
        if sizes[-1] > 1e6:
            break  # diverged; stop before the squares overflow
    return sizes


def test_lr_10_diverges_without_clipping_and_stays_finite_with_it():
    unclipped = _descend(clip=None)
    assert unclipped[-1] > 1e6 and len(unclipped) < 20, "lr=10 should blow up within steps"
    clipped = _descend(clip=1.0)
    assert len(clipped) == 100 and all(math.isfinite(s) for s in clipped)
    assert max(clipped) < 20.0, "each clipped step moves w by at most lr * max_norm = 10"
