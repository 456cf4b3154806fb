"""Losses against PyTorch (values and gradients in float64), at extreme inputs, in float32,
by name, and on the shape mistakes users make."""

import inspect

import numpy as np
import pytest

import theta
from theta import losses
from theta.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    get_loss,
    hinge,
    huber,
    mae,
    mse,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = {"rtol": 1e-10, "atol": 1e-12}
REDUCTIONS = ["mean", "sum", "none"]


def _leaf(a: np.ndarray) -> theta.Tensor:
    return theta.tensor(np.array(a), requires_grad=True)


def _tleaf(a: np.ndarray):
    return torch.tensor(np.array(a), requires_grad=True)


def _seed(out_shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A random upstream gradient, so "none" is checked with more than a ones seed."""
    return rng.standard_normal(out_shape)


def _run_both(ours, theirs, inputs, reduction, rng, grad_of=(0,)):
    """Evaluate a loss in theta and torch on the same inputs; return values and grads."""
    t_in = [_leaf(a) if i in grad_of else a for i, a in enumerate(inputs)]
    p_in = [_tleaf(a) if i in grad_of else torch.tensor(a) for i, a in enumerate(inputs)]
    out = ours(*t_in, reduction=reduction)
    ref = theirs(*p_in, reduction=reduction)
    seed = _seed(out.shape, rng)
    out.backward(seed)
    ref.backward(torch.tensor(seed))
    grads = [(t_in[i].grad, p_in[i].grad.numpy()) for i in grad_of]
    return out.data, ref.detach().numpy(), grads


def _assert_matches(ours, theirs, inputs, reduction, rng, grad_of=(0,)):
    value, expected, grads = _run_both(ours, theirs, inputs, reduction, rng, grad_of)
    assert value.shape == expected.shape
    np.testing.assert_allclose(value, expected, **TOL)
    for got, want in grads:
        np.testing.assert_allclose(got, want, **TOL)


# --- every loss and reduction against torch.nn.functional --------------------------------

REGRESSION = [
    ("mse", mse, F.mse_loss),
    ("mae", mae, F.l1_loss),
    ("huber", huber, F.huber_loss),
    ("huber_delta_0.3", lambda p, t, **kw: huber(p, t, delta=0.3, **kw),
     lambda p, t, **kw: F.huber_loss(p, t, delta=0.3, **kw)),
]  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, ours, theirs", REGRESSION, ids=[r[0] for r in REGRESSION])
def test_regression_losses_match_torch(name, ours, theirs, reduction, rng):
    pred, target = rng.standard_normal((5, 3)) * 2, rng.standard_normal((5, 3))
    _assert_matches(ours, theirs, [pred, target], reduction, rng, grad_of=(0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch(reduction, rng):
    p = rng.uniform(0.02, 0.98, (6, 2))
    y = rng.uniform(0, 1, (6, 2))  # soft labels exercise the target gradient too
    _assert_matches(binary_cross_entropy, F.binary_cross_entropy, [p, y], reduction, rng, (0, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction, rng):
    x = rng.standard_normal((6, 2)) * 4
    y = rng.uniform(0, 1, (6, 2))
    _assert_matches(
        binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, [x, y], reduction,
        rng, (0, 1),
    )  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.45])
def test_cross_entropy_matches_torch(smoothing, reduction, rng):
    x = rng.standard_normal((7, 4)) * 3
    y = rng.integers(0, 4, 7)

    def ours(x, y, reduction):
        return cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction)

    def theirs(x, y, reduction):
        return F.cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction)

    _assert_matches(ours, theirs, [x, y], reduction, rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_trailing_axes_matches_torch(smoothing, reduction, rng):
    x = rng.standard_normal((3, 5, 2, 4))  # (N, C, d1, d2)
    y = rng.integers(0, 5, (3, 2, 4))

    def ours(x, y, reduction):
        return cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction)

    def theirs(x, y, reduction):
        return F.cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction)

    _assert_matches(ours, theirs, [x, y], reduction, rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_ignore_index_matches_torch(smoothing, reduction, rng):
    x = rng.standard_normal((8, 3))
    y = rng.integers(0, 3, 8)
    y[[1, 4, 5]] = -100

    def ours(x, y, reduction):
        return cross_entropy(
            x, y, label_smoothing=smoothing, ignore_index=-100, reduction=reduction
        )

    def theirs(x, y, reduction):
        return F.cross_entropy(
            x, y, label_smoothing=smoothing, ignore_index=-100, reduction=reduction
        )

    _assert_matches(ours, theirs, [x, y], reduction, rng)


def test_cross_entropy_all_ignored_mean_is_nan_like_torch():
    x, y = np.zeros((2, 3)), np.array([1, 1])
    loss = cross_entropy(_leaf(x), y, ignore_index=1)
    assert np.isnan(loss.item())
    assert torch.isnan(F.cross_entropy(torch.tensor(x), torch.tensor(y), ignore_index=1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("labels", ["pm1", "01"])
def test_hinge_matches_torch_clamp(labels, reduction, rng):
    f = rng.standard_normal((9, 2)) * 2
    y01 = rng.integers(0, 2, (9, 2))
    y = y01 if labels == "01" else 2 * y01 - 1

    def theirs(f, y, reduction):
        per = torch.clamp(1.0 - (2.0 * (y > 0) - 1.0) * f, min=0.0)
        return {"mean": per.mean, "sum": per.sum, "none": lambda: per}[reduction]()

    _assert_matches(hinge, theirs, [f, y], reduction, rng)


# --- extreme inputs: finite losses and gradients -----------------------------------------


@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_bce_with_logits_is_finite_at_extreme_logits(scale, rng):
    x = np.array([scale, -scale, scale, -scale, scale, -scale, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 1.0])
    value, expected, [(grad, want)] = _run_both(
        binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, [x, y], "none", rng
    )
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(value, expected, **TOL)
    np.testing.assert_allclose(grad, want, **TOL)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_cross_entropy_is_finite_at_extreme_logits(scale, smoothing, rng):
    x = np.array([[scale, -scale, 0.0], [scale, -scale, 0.0], [-scale, -scale, -scale]])
    y = np.array([0, 1, 2])
    for reduction in REDUCTIONS:

        def ours(x, y, reduction):
            return cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction)

        def theirs(x, y, reduction):
            return F.cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction)

        value, expected, [(grad, want)] = _run_both(ours, theirs, [x, y], reduction, rng)
        assert np.isfinite(value).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(value, expected, **TOL)
        np.testing.assert_allclose(grad, want, **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_at_probabilities_zero_and_one_matches_torch_clamp(reduction, rng):
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    value, expected, [(grad, want)] = _run_both(
        binary_cross_entropy, F.binary_cross_entropy, [p, y], reduction, rng
    )
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(value, expected, **TOL)
    # torch floors p * (1 - p) at the float32 constant 1e-12f = 9.99999996e-13, theta at
    # 1e-12 exactly: the clamped gradients (about 1e12) agree to 4e-9, the others to 1e-10
    clamped = (p == 0.0) | (p == 1.0)
    np.testing.assert_allclose(grad[clamped], want[clamped], rtol=1e-8)
    np.testing.assert_allclose(grad[~clamped], want[~clamped], **TOL)


def test_bce_target_gradient_stays_finite_at_zero_and_one():
    # torch gives -logit(p) = +-inf here; the clamped logs keep ours finite
    p, y = theta.tensor(np.array([0.0, 1.0])), _leaf(np.array([0.5, 0.5]))
    binary_cross_entropy(p, y, reduction="sum").backward()
    np.testing.assert_allclose(y.grad, [100.0, -100.0])


# --- dtypes -----------------------------------------------------------------------------

FLOAT32_CASES = [
    ("mse", mse, lambda r: r.standard_normal((4, 3)), lambda r: r.standard_normal((4, 3))),
    ("mae", mae, lambda r: r.standard_normal((4, 3)), lambda r: r.standard_normal((4, 3))),
    ("huber", huber, lambda r: r.standard_normal((4, 3)), lambda r: r.standard_normal((4, 3))),
    ("bce", binary_cross_entropy, lambda r: r.uniform(0, 1, (4, 3)),
     lambda r: r.integers(0, 2, (4, 3)).astype(np.float64)),
    ("bce_with_logits", binary_cross_entropy_with_logits, lambda r: r.standard_normal((4, 3)),
     lambda r: r.uniform(0, 1, (4, 3))),
    ("hinge", hinge, lambda r: r.standard_normal((4, 3)), lambda r: r.integers(0, 2, (4, 3))),
    ("cross_entropy", cross_entropy, lambda r: r.standard_normal((4, 3)),
     lambda r: r.integers(0, 3, 4)),
    ("cross_entropy_smooth", lambda x, y, **kw: cross_entropy(x, y, label_smoothing=0.1, **kw),
     lambda r: r.standard_normal((4, 3, 2)), lambda r: r.integers(0, 3, (4, 2))),
]  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name, fn, make_pred, make_target", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES]
)
def test_float32_stays_float32(name, fn, make_pred, make_target, reduction, rng):
    # float64 targets must not promote a float32 loss
    pred = theta.tensor(make_pred(rng).astype(np.float32), requires_grad=True)
    loss = fn(pred, make_target(rng), reduction=reduction)
    assert loss.dtype == np.float32
    loss.backward(np.ones(loss.shape, np.float32))
    assert pred.grad.dtype == np.float32 and pred.grad.shape == pred.shape


def test_float64_target_tensor_gets_float64_grad_from_float32_loss(rng):
    pred = theta.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    target = _leaf(rng.standard_normal(3))
    loss = mse(pred, target)
    loss.backward()
    assert loss.dtype == np.float32 and target.grad.dtype == np.float64


# --- gradcheck and the composed oracle ---------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_gradcheck_cross_entropy(smoothing, reduction, rng):
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    report = theta.gradcheck(
        lambda x: cross_entropy(x, y, label_smoothing=smoothing, reduction=reduction), x
    )
    assert report.ok, str(report)


def test_gradcheck_cross_entropy_trailing_axes_and_ignore_index(rng):
    x, y = rng.standard_normal((2, 3, 4)), rng.integers(0, 3, (2, 4))
    y[0, 1] = -1
    report = theta.gradcheck(lambda x: cross_entropy(x, y, label_smoothing=0.1, ignore_index=-1), x)
    assert report.ok, str(report)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_bce_with_logits(reduction, rng):
    x, y = rng.standard_normal((4, 3)) * 3, rng.uniform(0, 1, (4, 3))
    report = theta.gradcheck(
        lambda x, y: binary_cross_entropy_with_logits(x, y, reduction=reduction), x, y
    )
    assert report.ok, str(report)


@pytest.mark.parametrize(
    "fn",
    [mse, mae, huber, binary_cross_entropy],
    ids=["mse", "mae", "huber", "bce"],
)
def test_gradcheck_regression_and_bce(fn, rng):
    # away from the kinks of |d| and huber's band edge, where finite differences straddle
    a = rng.uniform(0.2, 0.4, (3, 2))
    b = a + rng.choice([-1.0, 1.0], (3, 2)) * rng.uniform(0.05, 0.15, (3, 2))
    report = theta.gradcheck(lambda a, b: fn(a, b), a, b)
    assert report.ok, str(report)


def test_gradcheck_hinge(rng):
    f = np.array([[2.0, 0.3], [-0.4, -2.0]])
    y = np.array([[1, 1], [1, -1]])
    assert theta.gradcheck(lambda f: hinge(f, y, reduction="sum"), f).ok


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_cross_entropy_equals_composed_form(dtype, rng):
    data, y = rng.standard_normal((6, 5)).astype(dtype), rng.integers(0, 5, 6)
    fused_x, composed_x = (
        theta.tensor(data, requires_grad=True),
        theta.tensor(data, requires_grad=True),
    )
    fused = cross_entropy(fused_x, y)
    composed = -(theta.log_softmax(composed_x, axis=1)[np.arange(6), y]).mean()
    fused.backward()
    composed.backward()
    tol = TOL if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(fused.data, composed.data, **tol)
    np.testing.assert_allclose(fused_x.grad, composed_x.grad, **tol)


def test_cross_entropy_is_one_graph_node(rng):
    loss = cross_entropy(_leaf(rng.standard_normal((3, 2))), np.array([0, 1, 1]))
    assert loss._ctx.parents[0].is_leaf


def test_backward_twice_accumulates_and_does_not_corrupt_saved_state(rng):
    x, y = _leaf(rng.standard_normal((4, 3))), rng.integers(0, 3, 4)
    for fn, target in [(cross_entropy, y), (binary_cross_entropy_with_logits, np.ones((4, 3)))]:
        x.grad = None
        loss = fn(x, target, reduction="sum")
        loss.backward(retain_graph=True)
        once = x.grad.copy()
        loss.backward()
        np.testing.assert_allclose(x.grad, 2 * once, **TOL)


def test_targets_may_be_tensors(rng):
    x, y = _leaf(rng.standard_normal((4, 3))), rng.integers(0, 3, 4)
    a = cross_entropy(x, theta.tensor(y))
    b = cross_entropy(x, y)
    assert a.item() == b.item()
    pred, target = _leaf(rng.standard_normal(3)), _leaf(rng.standard_normal(3))
    mse(pred, target).backward()
    np.testing.assert_allclose(target.grad, -pred.grad)


def test_no_grad_builds_no_graph(rng):
    x = _leaf(rng.standard_normal((2, 3)))
    with theta.no_grad():
        loss = cross_entropy(x, np.array([0, 2]))
    assert not loss.requires_grad


def test_chapter_example_loss():
    # the chapter's first step: w = b = 0 predicts zeros for y = 2x + 1 on x = 0..4
    y = 2 * np.arange(5.0) + 1
    assert mse(theta.tensor(np.zeros(5)), y).item() == 33.0


# --- lookup by name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fn",
    [("mse", mse), ("mae", mae), ("huber", huber), ("bce", binary_cross_entropy),
     ("binary_cross_entropy", binary_cross_entropy),
     ("bce_with_logits", binary_cross_entropy_with_logits),
     ("cross_entropy", cross_entropy), ("hinge", hinge)],
)  # fmt: skip
def test_get_loss_by_name(name, fn):
    assert get_loss(name) is fn


def test_get_loss_passes_callables_through():
    def custom(pred, target):
        return mse(pred, target)

    assert get_loss(custom) is custom


def test_get_loss_unknown_name_lists_names_and_suggests():
    with pytest.raises(ValueError, match="unknown loss 'mes'; did you mean 'mse'") as info:
        get_loss("mes")
    for name in ("mae", "huber", "bce_with_logits", "cross_entropy", "hinge"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match=r"unknown loss 'zzzz'; Valid names: bce, ") as info:
        get_loss("zzzz")  # nothing close: no suggestion, and the names are listed one by one
    assert str(info.value).endswith(", hinge, huber, mae, mse, nll, nll_loss.")
    with pytest.raises(TypeError, match=r"expected a loss name or a callable \(got int\)"):
        get_loss(3)


def test_module_all_lists_exactly_the_public_functions():
    defined = {
        name
        for name, obj in vars(losses).items()
        if inspect.isfunction(obj) and obj.__module__ == losses.__name__ and name[0] != "_"
    }
    assert defined == set(losses.__all__)


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, pred, target",
    [(mse, np.zeros((4, 1)), np.zeros(4)), (mae, np.zeros((4, 1)), np.zeros(4)),
     (huber, np.zeros((4, 1)), np.zeros(4)), (binary_cross_entropy, np.zeros((4, 1)), np.zeros(4)),
     (binary_cross_entropy_with_logits, np.zeros((4, 1)), np.zeros(4)),
     (hinge, np.zeros((4, 1)), np.ones(4))],
    ids=["mse", "mae", "huber", "bce", "bce_with_logits", "hinge"],
)  # fmt: skip
def test_n1_against_n_is_an_error_not_a_broadcast(fn, pred, target):
    with pytest.raises(ValueError, match=r"of shape \(4, 1\) and target of shape \(4,\)") as info:
        fn(theta.tensor(pred), target)
    message = str(info.value)
    assert message.startswith(fn.__name__ + ":")
    assert "(N, N)" in message and "reshape(-1)" in message


def test_other_shape_mismatches_name_both_shapes():
    with pytest.raises(
        ValueError, match=r"mse: prediction of shape \(4,\) and target of shape \(4, 1\)"
    ):
        mse(theta.tensor(np.zeros(4)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        mae(theta.tensor(np.zeros((2, 3))), np.zeros((3, 2)))


def test_cross_entropy_validation():
    logits = theta.tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\).*\(3,\)"):
        cross_entropy(theta.tensor(np.zeros(3)), np.array([0]))
    with pytest.raises(ValueError, match=r"shape \(4,\), got target of shape \(5,\)"):
        cross_entropy(logits, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="One-hot targets"):
        cross_entropy(logits, np.eye(3)[[0, 1, 2, 0]].astype(int))
    with pytest.raises(ValueError, match="integer class indices.*float64"):
        cross_entropy(logits, np.zeros(4))
    with pytest.raises(ValueError, match=r"in \[0, 3\).*\[3, -1\]"):
        cross_entropy(logits, np.array([0, 3, -1, 1]))
    for dtype in (np.int8, np.int32, np.uint8, np.uint64):  # one unsigned max checks both ends
        y = np.array([0, 2, 1, 0], dtype=dtype)
        assert np.isfinite(cross_entropy(logits, y).item())
        with pytest.raises(ValueError, match=r"in \[0, 3\).*\[3\]"):
            cross_entropy(logits, np.array([0, 3, 1, 0], dtype=dtype))
    with pytest.raises(ValueError, match=r"in \[0, 3\).*\[-128\]"):
        cross_entropy(logits, np.array([0, -128, 1, 0], dtype=np.int8)[::-1])
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        cross_entropy(logits, np.zeros(4, dtype=int), label_smoothing=1.0)


@pytest.mark.parametrize(
    "fn", [mse, mae, huber, binary_cross_entropy, binary_cross_entropy_with_logits, hinge]
)
def test_bad_reduction_is_an_error(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: reduction must be .*'avg'"):
        fn(theta.tensor(np.full(2, 0.5)), np.ones(2), reduction="avg")


def test_cross_entropy_bad_reduction():
    with pytest.raises(ValueError, match="cross_entropy: reduction"):
        cross_entropy(theta.tensor(np.zeros((2, 2))), np.array([0, 1]), reduction="batchmean")


def test_other_argument_errors():
    with pytest.raises(ValueError, match=r"huber: delta must be positive \(got 0"):
        huber(theta.tensor(np.zeros(2)), np.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\].*1.5"):
        binary_cross_entropy(theta.tensor(np.array([0.2, 1.5])), np.ones(2))
    with pytest.raises(ValueError, match=r"hinge: target labels.*\[-1, 0, 1\]"):
        hinge(theta.tensor(np.zeros(3)), np.array([-1, 0, 1]))
    with pytest.raises(TypeError, match="mse: prediction must be a floating-point"):
        mse(theta.tensor(np.array([1, 2])), np.array([1, 2]))
