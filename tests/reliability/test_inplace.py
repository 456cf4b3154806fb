"""In-place changes to tensors that a graph saved for backward (RELIABILITY 49, issue item 11).

PyTorch's rule, and theta's: every in-place change through a tensor raises its version; an op
remembers the versions of what it saved, and backward raises instead of differentiating
with changed values. PyTorch runs the same programs as the oracle where it can.
"""

import copy
import pickle

import numpy as np
import pytest
import torch

import theta
from theta import losses, no_grad
from theta.nn import (
    Linear,
    MultiHeadAttention,
    Sequential,
    functional,
    scaled_dot_product_attention,
)
from theta.optim import SGD, Adam

STALE = "has been modified by an in-place operation"


def _torch_error(program) -> str:
    with pytest.raises(RuntimeError) as info:
        program()
    return str(info.value)


# --- the three programs of the issue ---------------------------------------------------------


def test_leaf_changed_under_no_grad_after_the_forward_makes_backward_raise():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with no_grad():
        w -= 1
    with pytest.raises(RuntimeError, match=STALE) as info:
        y.backward()  # was: silently [0, 2], the gradient at the changed w
    message = str(info.value)
    assert "backward of Mul" in message and "input 0 of Mul (a leaf)" in message
    assert "[Tensor of shape (2,), float32]" in message
    assert "is at version 1; expected version 0 instead" in message
    assert w.grad is None

    def torch_program():
        tw = torch.tensor([1.0, 2.0], requires_grad=True)
        ty = (tw * tw).sum()
        with torch.no_grad():
            tw -= 1
        ty.backward()

    assert "is at version 1; expected version 0 instead" in _torch_error(torch_program)


def test_intermediate_changed_in_place_makes_backward_raise_naming_its_op():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1.0
    y = (h * h).sum()
    with no_grad():
        h += 1
    with pytest.raises(RuntimeError, match=STALE) as info:
        y.backward()  # was: silently [4, 6]
    assert "input 0 of Mul (the output of Mul)" in str(info.value)

    def torch_program():
        tw = torch.tensor([1.0, 2.0], requires_grad=True)
        th = tw * 1.0
        ty = (th * th).sum()
        th += 1
        ty.backward()

    assert "is at version 1; expected version 0 instead" in _torch_error(torch_program)


@pytest.mark.parametrize("optimizer", [SGD, Adam])  # Adam steps a group of small arrays at once
def test_optimizer_step_between_two_backwards_of_a_retained_graph_raises(optimizer):
    model = Sequential(Linear(3, 4, rng=0), Linear(4, 1, rng=1))
    opt = optimizer(model.parameters(), lr=0.1)
    x = theta.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    loss = (model(x) ** 2).mean()
    loss.backward(retain_graph=True)
    versions = [p._version for p in model.parameters()]
    opt.step()
    assert opt.skipped_steps == 0
    assert [p._version for p in model.parameters()] == [v + 1 for v in versions]
    with pytest.raises(RuntimeError, match=STALE) as info:
        loss.backward()
    assert "Linear" in str(info.value) and "optimizer step" in str(info.value)

    def torch_program():
        tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
        topt = getattr(torch.optim, optimizer.__name__)(tm.parameters(), lr=0.1)
        tloss = (tm(torch.ones(5, 3)) ** 2).mean()
        tloss.backward(retain_graph=True)
        topt.step()
        tloss.backward()

    assert "modified by an inplace operation" in _torch_error(torch_program)


def test_the_next_step_after_an_optimizer_step_trains_normally():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    for _ in range(3):  # each step's graph is built after the previous update
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, np.array([1.0, 2.0]) * 0.8**3, rtol=1e-6)


# --- every way theta changes a tensor in place counts ------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.__iadd__(1.0),
        lambda t: t.__isub__(1.0),
        lambda t: t.__imul__(2.0),
        lambda t: t.__itruediv__(2.0),
        lambda t: t.__setitem__(0, 5.0),
        lambda t: t.__setitem__(np.array([True, False]), theta.tensor(5.0)),
    ],
    ids=["iadd", "isub", "imul", "itruediv", "setitem", "setitem-mask"],
)
def test_each_in_place_change_raises_the_version_by_one(change):
    t = theta.tensor([1.0, 2.0], requires_grad=True)
    assert t._version == 0
    with no_grad():
        change(t)
    assert t._version == 1


def test_setitem_on_a_saved_tensor_makes_backward_raise():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with no_grad():
        w[0] = 5.0
    np.testing.assert_array_equal(w.data, [5.0, 2.0])
    with pytest.raises(RuntimeError, match=STALE):
        y.backward()


def test_setitem_while_gradients_are_recorded_is_refused_with_the_fix():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad") as info:
        w[0] = 5.0
    assert "theta.where" in str(info.value)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # nothing written
    plain = theta.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="value requires_grad=True"):
        plain[0] = w[1]
    plain[0] = 7.0  # no gradient involved: allowed, as ndarray assignment
    assert plain.tolist() == [7.0, 2.0]


def test_load_state_dict_counts_as_an_in_place_change_of_each_parameter():
    model = Linear(2, 1, rng=0)
    x = theta.tensor(np.ones((3, 2), dtype=np.float32))
    loss = model(x).sum()
    model.load_state_dict(Linear(2, 1, rng=1).state_dict())
    assert [p._version for p in model.parameters()] == [1, 1]
    with pytest.raises(RuntimeError, match="backward of Linear: .*" + STALE):
        loss.backward()


def test_views_and_detached_tensors_share_the_version_of_their_memory():
    x = theta.tensor(np.arange(6.0), requires_grad=True)
    views = [x.reshape(2, 3), x[1:4], x.reshape(2, 3).T, x.detach(), x.broadcast_to((2, 6))]
    with no_grad():
        x += 1.0
    assert [v._version for v in views] == [1] * len(views)
    with no_grad():
        views[1] *= 2.0  # a write through a view counts for x and all its views
    assert x._version == 2 and views[0]._version == 2
    copy = x[np.array([0, 1])]  # advanced indexing copies: its own memory, its own version
    assert copy._version == 0


def test_a_view_survives_pickle_and_deepcopy_with_its_version():
    x = theta.tensor(np.arange(6.0), requires_grad=True)
    with no_grad():
        x += 1.0
    base, view = pickle.loads(pickle.dumps((x, x.reshape(2, 3))))
    assert (base._version, view._version, view.tolist()) == (1, 1, [[1, 2, 3], [4, 5, 6]])
    assert copy.deepcopy(x.detach())._version == 1


@pytest.mark.parametrize("through", ["base", "view", "detached"])
def test_change_through_a_view_of_saved_memory_makes_backward_raise(through):
    x = theta.tensor(_x((2, 3)), requires_grad=True)
    h = x * 1.0
    v = h.reshape(3, 2)
    y = (v * v).sum()  # Mul saved v, a view of h
    target = {"base": h, "view": v, "detached": h.detach()}[through]
    with no_grad():
        target += 1.0
    with pytest.raises(RuntimeError, match=STALE):
        y.backward()

    def torch_program():
        tx = torch.ones(2, 3, requires_grad=True)
        th = tx * 1.0
        tv = th.reshape(3, 2)
        ty = (tv * tv).sum()
        with torch.no_grad():
            {"base": th, "view": tv, "detached": th.detach()}[through].add_(1.0)
        ty.backward()

    assert "modified by an inplace operation" in _torch_error(torch_program)


# --- what must not raise -------------------------------------------------------------------------


def test_changing_a_tensor_that_no_op_saved_leaves_backward_alone():
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    y = (w + 1.0).sum()  # add saves nothing, sum only a shape
    with no_grad():
        w -= 1
    y.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


def test_changing_the_input_of_an_op_that_saved_only_its_output_agrees_with_torch():
    def run(lib, w):
        h = w.relu() if lib is theta else torch.relu(w)  # relu saves its output, not w
        y = h.sum() * 2.0
        with lib.no_grad():
            w += 10.0
        y.backward()
        return np.asarray(w.grad)

    ours = run(theta, theta.tensor([-1.0, 2.0], requires_grad=True))
    np.testing.assert_array_equal(ours, run(torch, torch.tensor([-1.0, 2.0], requires_grad=True)))


def test_writes_through_numpy_are_not_tracked_as_in_torch():
    """The documented rule (``Tensor.numpy``): the array is shared and untracked, as in
    PyTorch, so backward uses the written values; both libraries agree on the result."""
    w = theta.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    w.numpy()[0] = 5.0
    assert w._version == 0
    y.backward()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = (tw * tw).sum()
    tw.detach().numpy()[0] = 5.0  # torch needs detach() first; the memory is the same
    ty.backward()
    np.testing.assert_array_equal(w.grad, tw.grad.numpy())


# --- the fused ops that save arrays ----------------------------------------------------------


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _linear(h):
    return functional.linear(h, theta.tensor(_x((2, 3), 1), requires_grad=True)).sum()


def _linear_relu(h):
    return functional.linear_relu(h, theta.tensor(_x((2, 3), 1), requires_grad=True)).sum()


def _layer_norm(h):
    w, b = (theta.tensor(np.ones(3, np.float32), requires_grad=True) for _ in range(2))
    return (functional.layer_norm(h, w, b) * theta.tensor(_x((4, 3), 2))).sum()


def _attention(h):
    q = h.reshape(1, 1, 4, 3)
    return scaled_dot_product_attention(q, q * 0.5, q * 2.0).sum()


def _packed_attention(h):
    return MultiHeadAttention(1, 1, rng=0)(h.reshape(1, 12, 1)).sum()


def _gelu(h):
    return theta.gelu(h).sum()


def _bce_logits(h):
    return losses.binary_cross_entropy_with_logits(h, np.ones((4, 3), np.float32))


# (name, loss of an intermediate h of shape (4, 3), the op that must refuse a changed h, and
# the shape it names: its input is h, or a view of h that shares h's version)
SAVE_THEIR_INPUT = [
    ("linear", _linear, "Linear", "(4, 3)"),
    ("linear_relu", _linear_relu, "Linear", "(4, 3)"),
    ("layer_norm", _layer_norm, "LayerNorm", "(4, 3)"),
    ("attention", _attention, "ScaledDotProductAttention", "(1, 1, 4, 3)"),
    ("packed_attention", _packed_attention, "Linear", "(1, 12, 1)"),
    ("gelu", _gelu, "GELU", "(4, 3)"),
    ("bce_with_logits", _bce_logits, "_BCEWithLogits", "(4, 3)"),
]


@pytest.mark.parametrize(
    "build", [r[1:] for r in SAVE_THEIR_INPUT], ids=[r[0] for r in SAVE_THEIR_INPUT]
)
def test_fused_op_that_saved_its_input_refuses_it_changed(build):
    fn, op, shape = build
    x = theta.tensor(_x((4, 3)), requires_grad=True)
    h = x * 1.0
    loss = fn(h)
    with no_grad():
        h += 1.0
    with pytest.raises(RuntimeError, match=STALE) as info:
        loss.backward()
    assert f"backward of {op}:" in str(info.value) and f"shape {shape}," in str(info.value)
    assert x.grad is None


def test_attention_refuses_its_saved_output_changed():
    q = theta.tensor(_x((1, 1, 4, 3)), requires_grad=True)
    out = scaled_dot_product_attention(q, q, q)
    loss = (out * out).sum()
    with no_grad():
        out *= 2.0
    with pytest.raises(RuntimeError, match=STALE):
        loss.backward()


@pytest.mark.parametrize(
    "fn",
    [
        lambda h: losses.cross_entropy(h, np.array([0, 1, 2, 0])),  # saves softmax, not h
        lambda h: losses.mse(h, np.zeros((4, 3), np.float32)),  # saves h - target
        lambda h: theta.softmax(h)[:, 0].sum(),  # saves its output
    ],
    ids=["cross_entropy", "mse", "softmax"],
)
def test_fused_op_that_saved_only_what_it_derived_gives_the_forward_gradient(fn):
    """No error where the op kept nothing of ``h``: the gradient is the one at the values the
    forward saw, equal to that of a run without the change."""
    x = theta.tensor(_x((4, 3)), requires_grad=True)
    h = x * 1.0
    loss = fn(h)
    with no_grad():
        h += 1.0
    loss.backward()
    ref = theta.tensor(_x((4, 3)), requires_grad=True)
    fn(ref * 1.0).backward()
    np.testing.assert_allclose(x.grad, ref.grad, rtol=1e-6)


# --- RELIABILITY 5: anomaly mode names the op where NaN is born --------------------------------


def test_anomaly_mode_names_the_op_that_made_nan_before_any_gradient_is_stored():
    w = theta.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match="Sqrt") as info, theta.detect_anomaly():
        with np.errstate(invalid="ignore"):
            loss = (w.sqrt() * 2.0).sum()
        loss.backward()
    assert "(2,)" in str(info.value)
    assert w.grad is None


def test_cross_entropy_targets_changed_after_the_forward_do_not_change_the_gradient():
    from theta.losses import cross_entropy

    logits = theta.tensor(np.array([[2.0, 0.0, -1.0], [0.5, 0.1, 0.3]]), requires_grad=True)
    target = np.array([0, 2])
    cross_entropy(logits, target).backward()
    expected = logits.grad.copy()
    logits.grad = None
    loss = cross_entropy(logits, target)
    target[:] = [1, 1]  # the caller reuses its buffer before backward
    loss.backward()
    np.testing.assert_array_equal(logits.grad, expected)


def test_an_output_saved_by_its_own_op_and_changed_in_place_is_named_as_torch_names_it():
    x = theta.tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()  # Exp saves its output for the backward
    with no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match=r"which is output 0 of Exp, is at version 1; "
                                           r"expected version 0"):  # fmt: skip
        y.sum().backward()
    xt = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True)
    yt = xt.exp()
    with torch.no_grad():
        yt += 1.0
    with pytest.raises(RuntimeError, match="which is output 0 of Exp"):
        yt.sum().backward()
