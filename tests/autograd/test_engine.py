"""Engine behaviour: accumulation, which gradients get computed, graph recording modes, long
chains, seeds, broadcasting, aliasing of ``.grad`` arrays, anomaly detection and in-place updates.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theta
from theta import Function, Tensor, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from theta.autograd.engine import _topological_order


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


# --- accumulation: a tensor used more than once gets every contribution ---------------------


def test_tensor_used_twice_in_mul_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_tensor_used_twice_in_add_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    (x + x).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0, 2.0])


def test_reused_non_leaf_accumulates_before_its_own_backward():
    x = leaf([1.0, 2.0])
    b = x * 3.0
    (b * b + b).sum().backward()  # d/dx (9x^2 + 3x) = 18x + 3
    np.testing.assert_allclose(x.grad, 18 * x.data + 3)


def test_diamond_graph():
    x = leaf([0.3, -0.7])
    y = x.exp()
    (y.sin() + y.cos()).sum().backward()
    e = np.exp(x.data)
    np.testing.assert_allclose(x.grad, e * (np.cos(e) - np.sin(e)))


def test_tensor_used_in_many_places_of_a_deep_graph():
    x = leaf(2.0)
    y = x
    for _ in range(10):
        y = y * x  # x ** 11
    y.backward()
    np.testing.assert_allclose(x.grad, 11 * 2.0**10)


# --- order: every node's gradient is complete before its backward runs ----------------------


@pytest.mark.parametrize(
    "f, df",
    [
        (lambda x: x * x.exp(), lambda x: np.exp(x) * (1 + x)),
        (lambda x: x * x.sigmoid(), lambda x: (s := 1 / (1 + np.exp(-x))) * (1 + x * (1 - s))),
        (lambda x: x + x.tanh(), lambda x: 2 - np.tanh(x) ** 2),
        (lambda x: x / (x * x + 1.0), lambda x: (1 - x * x) / (x * x + 1) ** 2),
    ],
    ids=["x*exp(x)", "swish", "residual", "x/(x^2+1)"],
)
def test_parent_reached_again_through_a_later_sibling(f, df):
    # The op's first input is also an ancestor of its second input: the engine must not run
    # the first input's backward before the second path has added its share.
    x = leaf([0.5, -1.0, 2.0])
    f(x).sum().backward()
    np.testing.assert_allclose(x.grad, df(x.data), rtol=1e-12)


def test_topological_order_puts_every_node_after_its_parents():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    y = (h * h.exp() + x * h.tanh()).sum()
    order = _topological_order(y)
    position = {id(node): i for i, node in enumerate(order)}
    assert len(position) == len(order)  # each node once
    for node in order:
        if node._ctx is not None:
            for parent, needed in zip(node._ctx.parents, node._ctx.needs_grad, strict=True):
                if needed:
                    assert position[id(parent)] < position[id(node)]


_OPS = ["add", "mul", "sub", "tanh", "sin"]
_STEPS = st.lists(
    st.tuples(st.sampled_from(_OPS), st.integers(0, 99), st.integers(0, 99)),
    min_size=1,
    max_size=12,
)


def _apply(lib, op, a, b):
    """One step of a random program, in theta or in torch (same function names)."""
    return getattr(lib, op)(a, b) if op in ("add", "mul", "sub") else getattr(lib, op)(a)


# Hypothesis reports a failure through libcst, whose import warns; with warnings as errors that
# warning would crash the whole pytest run instead of reporting this test's failing example.
@pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
@settings(max_examples=60, deadline=None)
@given(steps=_STEPS)
def test_random_graphs_match_torch(steps):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(steps))
    inputs = [rng.uniform(-1.0, 1.0, 3) for _ in range(3)]
    ours = [leaf(a) for a in inputs]
    theirs = [torch.tensor(a, requires_grad=True) for a in inputs]
    for nodes, lib in ((ours, theta), (theirs, torch)):
        for op, i, j in steps:
            nodes.append(_apply(lib, op, nodes[i % len(nodes)], nodes[j % len(nodes)]))
    sum(node.sum() for node in ours[3:]).backward()
    sum(node.sum() for node in theirs[3:]).backward()
    for mine, ref in zip(ours[:3], theirs[:3], strict=True):
        expected = np.zeros(3) if ref.grad is None else ref.grad.numpy()
        got = np.zeros(3) if mine.grad is None else mine.grad
        scale = max(1.0, float(np.abs(expected).max()))  # sums may cancel to near zero
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * scale)


# --- which tensors get a gradient -------------------------------------------------------------


def test_unused_input_gets_no_gradient():
    x, unused = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x * 2.0).sum().backward()
    assert unused.grad is None
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_input_without_requires_grad_gets_no_gradient():
    x = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, c.data)


def test_detached_path_carries_no_gradient():
    x = leaf([1.0, 2.0])
    (x * x.detach()).sum().backward()
    np.testing.assert_allclose(x.grad, x.data)  # not 2x: the second factor is a constant


class RecordingMul(Function):
    """``a * b`` whose backward records which gradients the engine asked for."""

    needs: list = []

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        RecordingMul.needs.append(ctx.needs_grad)
        a, b = ctx.saved
        return (grad * b if ctx.needs_grad[0] else None, grad * a if ctx.needs_grad[1] else None)


class SloppyMul(RecordingMul):
    """A careless op that returns both gradients whether or not they are needed."""

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return grad * b, grad * a


class ExplodingBackward(Function):
    """An op whose backward must never run."""

    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, grad):
        raise AssertionError("backward of an op that needs no gradient was called")


@pytest.mark.parametrize(
    "a_grad, b_grad", [(True, False), (False, True), (True, True)], ids=["a", "b", "both"]
)
def test_ops_are_told_which_gradients_are_needed(a_grad, b_grad):
    RecordingMul.needs.clear()
    a = Tensor(np.array([1.0, 2.0]), requires_grad=a_grad)
    b = Tensor(np.array([3.0, 4.0]), requires_grad=b_grad)
    RecordingMul.apply(a, b).sum().backward()
    assert RecordingMul.needs == [(a_grad, b_grad)]
    assert (a.grad is not None) == a_grad
    assert (b.grad is not None) == b_grad


def test_engine_drops_gradients_an_op_returns_for_inputs_that_need_none():
    a, c = leaf([1.0, 2.0]), Tensor(np.array([3.0, 4.0]))
    SloppyMul.apply(a, c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(a.grad, c.data)


def test_subgraph_of_constants_is_not_recorded_or_walked():
    x = leaf([1.0, 2.0])
    const = ExplodingBackward.apply(Tensor(np.array([5.0, 6.0])))
    assert not const.requires_grad and const._ctx is None
    (x * const).sum().backward()  # would raise if ExplodingBackward.backward ran
    np.testing.assert_allclose(x.grad, [10.0, 12.0])


def test_builtin_mul_skips_the_unneeded_gradient(monkeypatch):
    # Mul must not compute grad * a for a constant b: count the products its backward forms.
    from theta.autograd.ops import elementwise

    calls = []
    original = elementwise.Mul.backward

    def spy(ctx, grad):
        out = original(ctx, grad)
        calls.append(tuple(g is not None for g in out))
        return out

    monkeypatch.setattr(elementwise.Mul, "backward", staticmethod(spy))
    x = leaf([1.0, 2.0])
    (x * Tensor(np.array([3.0, 4.0]))).sum().backward()
    assert calls == [(True, False)]


# --- recording modes --------------------------------------------------------------------------


def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 3.0).exp().sum()
    assert is_grad_enabled()
    assert not y.requires_grad
    assert y._ctx is None and y.is_leaf


def test_enable_grad_inside_no_grad_records():
    x = leaf([1.0, 2.0])
    with no_grad():
        with enable_grad():
            y = (x * 3.0).sum()
        z = x * 3.0
    assert y.requires_grad and y._ctx is not None
    assert not z.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0  # noqa: B018
    assert is_grad_enabled()


def test_output_made_under_no_grad_cannot_backward():
    x = leaf([1.0, 2.0])
    with no_grad():
        y = (x * x).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# --- long chains --------------------------------------------------------------------------


def test_100k_op_chain_backprops_without_recursion_and_deletes_cleanly():
    x0 = Tensor(np.float64(1.0), requires_grad=True)
    x = x0
    for _ in range(100_000):
        x = x * 1.0000001
    x.backward()
    np.testing.assert_allclose(x0.grad, 1.0000001**100_000, rtol=1e-10)
    np.testing.assert_allclose(x.data, 1.0000001**100_000, rtol=1e-10)
    del x  # freeing 100,000 nested nodes must not overflow the C stack


def test_100k_add_chain_float32_deleted_without_backward():
    x0 = leaf(0.0, dtype=np.float32)
    x = x0
    for _ in range(100_000):
        x = x + 1.0
    assert x.item() == 100_000.0 and x.dtype == np.float32
    del x


# --- accumulation across calls ------------------------------------------------------------


def test_gradients_accumulate_across_backward_calls_until_cleared():
    x = leaf([1.0, -2.0])

    def loss():
        return (x * x * 3.0).sum()

    loss().backward()
    single = x.grad.copy()
    loss().backward()
    np.testing.assert_allclose(x.grad, 2 * single)
    x.grad = None
    loss().backward()
    np.testing.assert_allclose(x.grad, single)


# --- seeds ------------------------------------------------------------------------------------


def test_backward_on_non_scalar_without_seed_names_the_shape():
    x = leaf(np.ones((4, 3)))
    with pytest.raises(RuntimeError) as info:
        (x * 2.0).backward()
    message = str(info.value)
    assert "backward" in message and "(4, 3)" in message and "sum()" in message
    assert x.grad is None


def test_backward_with_explicit_seed():
    x = leaf(np.arange(12.0).reshape(4, 3))
    seed = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    (x * 2.0).backward(seed)
    np.testing.assert_allclose(x.grad, 2 * seed)


def test_backward_with_tensor_seed_of_another_dtype_gives_float32_grad():
    x = leaf(np.ones((2, 2)), dtype=np.float32)
    (x * 2.0).backward(Tensor(np.full((2, 2), 0.5)))  # float64 seed
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, np.ones((2, 2)))


def test_backward_on_one_element_non_scalar_needs_no_seed():
    x = leaf([[3.0]])
    (x * x).backward()
    np.testing.assert_allclose(x.grad, [[6.0]])


def test_backward_with_wrong_seed_shape_raises_value_error():
    x = leaf(np.ones((4, 3)))
    with pytest.raises(ValueError) as info:
        (x * 2.0).backward(np.ones((3, 4)))
    assert "(3, 4)" in str(info.value) and "(4, 3)" in str(info.value)


def test_backward_on_tensor_not_requiring_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.array(1.0)).backward()


def test_backward_on_a_leaf_sets_its_own_gradient():
    x = leaf([1.0, 2.0])
    seed = np.array([0.5, -1.0])
    x.backward(seed)
    np.testing.assert_allclose(x.grad, seed)
    seed[0] = 99.0
    assert x.grad[0] == 0.5  # the seed array was copied, not stored


# --- broadcasting ---------------------------------------------------------------------------

BROADCAST_CASES = [
    ((3, 1), (4,)),
    ((2, 3, 4), (3, 1)),
    ((), (2, 3)),
    ((1, 1), (5, 2)),
    ((5, 1, 3), (1, 4, 1)),
]


@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_CASES, ids=str)
@pytest.mark.parametrize("op", ["add", "mul", "sub", "div"])
def test_broadcast_gradient_is_summed_back_to_each_input_shape(shape_a, shape_b, op):
    rng = np.random.default_rng(0)
    a_data = rng.uniform(0.5, 1.5, shape_a)
    b_data = rng.uniform(0.5, 1.5, shape_b)
    a, b = leaf(a_data), leaf(b_data)
    weights = rng.standard_normal(np.broadcast_shapes(shape_a, shape_b))
    out = getattr(theta, op)(a, b)
    (out * Tensor(weights)).sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b

    torch = pytest.importorskip("torch")
    ta = torch.tensor(a_data, requires_grad=True)
    tb = torch.tensor(b_data, requires_grad=True)
    ops = {"add": torch.add, "mul": torch.mul, "sub": torch.sub, "div": torch.div}
    (ops[op](ta, tb) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_broadcast_add_gradient_values():
    a, b = leaf(np.zeros((3, 1))), leaf(np.zeros(4))
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad, np.full(4, 3.0))


# --- .grad arrays never alias each other ---------------------------------------------------


def _assert_no_shared_memory(*arrays):
    for i, first in enumerate(arrays):
        for second in arrays[i + 1 :]:
            assert not np.shares_memory(first, second)


def test_two_leaves_given_the_same_gradient_do_not_alias():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad += 10.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    _assert_no_shared_memory(a.grad, b.grad)


def test_gradient_passed_through_two_adds_does_not_alias():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    ((a + (b + c)) * 2.0).sum().backward()
    _assert_no_shared_memory(a.grad, b.grad, c.grad)
    a.grad *= 0.0
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])
    np.testing.assert_array_equal(c.grad, [2.0, 2.0])


def test_explicit_seed_is_not_stored_as_a_gradient():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seed = np.array([1.0, 1.0])
    (a + b).backward(seed)
    _assert_no_shared_memory(a.grad, b.grad, seed)
    seed[:] = 7.0
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_gradient_is_writable_even_when_an_op_returns_a_read_only_view():
    x = leaf(np.ones((2, 3)))
    x.sum().backward()  # Sum's backward returns a read-only broadcast view
    x.grad *= 0.5  # an optimizer may scale gradients in place
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_of_a_0d_leaf_is_a_writable_ndarray(dtype):
    # NumPy returns scalars from 0-d arithmetic; an optimizer writing `out=p.grad` needs an array
    s = Tensor(dtype(2.0), requires_grad=True)
    x = Tensor(np.ones(3, dtype=dtype), requires_grad=True)
    for n_calls in (1, 2):
        ((s * s) * 3.0 + (x * s).sum()).backward()
        assert type(s.grad) is np.ndarray and s.grad.shape == () and s.grad.dtype == dtype
        assert s.grad.flags.writeable
        np.testing.assert_allclose(s.grad, n_calls * (12.0 + 3.0))
    np.multiply(s.grad, 0.5, out=s.grad)
    np.testing.assert_allclose(s.grad, 15.0)


# --- detect_anomaly ---------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_where_nan_is_born_in_forward():
    x = leaf([1.0, -1.0, 2.0])
    y = x * 2.0
    # np.log(-2) warns "invalid value"; the check under test is theta's, so silence NumPy's
    with np.errstate(invalid="ignore"), detect_anomaly():
        with pytest.raises(FloatingPointError) as info:
            y.log()
    message = str(info.value)
    assert "detect_anomaly" in message and "Log" in message and "(3,)" in message


def test_detect_anomaly_does_not_blame_ops_that_only_pass_nan_on():
    x = Tensor(np.array([np.nan, 1.0]), requires_grad=True)
    with detect_anomaly():
        y = (x * 2.0).exp()  # NaN in, NaN out: not born here
    assert np.isnan(y.data[0])


def test_detect_anomaly_names_the_op_whose_backward_makes_inf():
    x = leaf([0.0, 4.0])
    y = x.sqrt().sum()  # forward is finite; d sqrt(x)/dx at 0 is infinite
    with np.errstate(divide="ignore"), detect_anomaly():
        with pytest.raises(FloatingPointError, match="backward of Sqrt"):
            y.backward()


def test_without_detect_anomaly_nan_passes_silently():
    x = leaf([-1.0])
    with np.errstate(invalid="ignore"):
        y = x.log()
    assert np.isnan(y.data).all()


# --- in-place updates -----------------------------------------------------------------------


def test_inplace_update_under_no_grad_keeps_object_and_buffer():
    w = leaf([1.0, 2.0, 3.0], dtype=np.float32)
    (w * w).sum().backward()
    data_before = w.data
    expected = w.data - 0.1 * w.grad
    with no_grad():
        w_before = w
        w -= 0.1 * w.grad
    assert w is w_before
    assert w.data is data_before
    assert w.dtype == np.float32 and w.requires_grad
    np.testing.assert_allclose(w.data, expected)


@pytest.mark.parametrize("update", ["iadd", "isub", "imul", "itruediv"])
def test_inplace_update_of_leaf_requiring_grad_with_grad_enabled_raises(update):
    w = leaf([1.0, 2.0])
    before = w.data.copy()
    with pytest.raises(RuntimeError, match="no_grad"):
        getattr(w, f"__{update}__")(0.5)
    np.testing.assert_array_equal(w.data, before)


def test_inplace_on_a_plain_tensor_is_allowed_with_grad_enabled():
    t = Tensor(np.array([1.0, 2.0]))
    data = t.data
    t += 1.0
    assert t.data is data
    np.testing.assert_array_equal(t.data, [2.0, 3.0])


def test_inplace_on_a_non_leaf_falls_back_to_a_recorded_op():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    y += 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_a_backward_returning_the_wrong_shape_is_named():
    """A gradient that neither matches nor broadcasts to its input is an error, not a reshape."""
    from theta.autograd import Function

    class BadT(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, grad):
            return (np.ascontiguousarray(grad.T) * 2.0,)

    x = theta.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward of BadT: gradient of shape \(3, 2\)"):
        BadT.apply(x).sum().backward()


# --- freeing the graph during backward (PyTorch's default; retain_graph keeps it) ------------


def test_backward_frees_what_each_op_saved():
    x = leaf([1.0, 2.0])
    y = x * x
    ctx = y._ctx
    assert ctx.saved is not None
    y.sum().backward()
    assert ctx.saved is None and ctx.parents is None


def test_intermediate_tensors_are_released_during_backward():
    import weakref

    x = leaf([1.0, 2.0])
    h = x * 2.0
    alive = weakref.ref(h)
    loss = (h * h).sum()
    del h
    assert alive() is not None  # the graph holds it until its backward has run
    loss.backward()
    assert alive() is None  # freed while `loss` is still referenced
    np.testing.assert_allclose(x.grad, 8.0 * x.data)


def test_second_backward_through_a_freed_graph_raises_clearly():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()
    np.testing.assert_allclose(x.grad, 2.0 * x.data)  # the failed call changed nothing


def test_a_new_graph_on_a_freed_node_raises_too():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Exp node"):
        (y * 2.0).sum().backward()


def test_retain_graph_allows_another_backward_and_accumulates():
    x = leaf([1.0, -3.0])
    loss = (x * x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * 3.0 * x.data**2)
