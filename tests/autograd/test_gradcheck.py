"""``theta.gradcheck``: passes correct compositions and, when a gradient is wrong, names the first
op (in forward order) whose own backward disagrees with its forward.
"""

import numpy as np
import pytest

import theta
from theta import Function, Tensor, gradcheck


class Wrong(Function):
    """``sin(x)`` whose backward is off by a factor of 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return (2.0 * grad * np.cos(x),)


class WrongFirst(Function):
    """``x ** 2`` whose backward is off by a factor of 3."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved
        return (3.0 * grad * 2.0 * x,)


class WrongSecondInput(Function):
    """``a * b`` whose gradient for ``b`` has the wrong sign; ``a``'s is right."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        return (
            grad * b if ctx.needs_grad[0] else None,
            -grad * a if ctx.needs_grad[1] else None,
        )


def sample(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape)


# --- correct compositions pass ----------------------------------------------------------------


def test_passes_on_a_chain_and_lists_its_ops_in_forward_order():
    report = gradcheck(lambda x: x.exp().tanh().sum(), sample(2, 3))
    assert report.ok and bool(report)
    assert report.mismatch is None
    assert report.n_elements == 6
    assert report.ops == ("Exp", "Tanh", "Sum")
    assert report.max_abs_error < 1e-6
    text = str(report)
    assert "passed" in text and "6 elements" in text and "Exp, Tanh, Sum" in text


def test_passes_on_a_composition_of_several_inputs():
    def f(a, b, c):
        h = (a @ b + c).tanh()  # (3, 2)
        return (h * h.sigmoid()).mean(axis=0) + a.max() * (b**2).sum()

    report = gradcheck(f, sample(3, 4), sample(4, 2, seed=1), sample(2, seed=2))
    assert report.ok, str(report)
    assert report.n_elements == 12 + 8 + 2
    ops = report.ops  # a forward (topological) order, not necessarily the order of creation
    assert ops.index("MatMul") < ops.index("Tanh") < ops.index("Sigmoid")
    assert {"MatMul", "Add", "Tanh", "Sigmoid", "Mul", "Max", "PowScalar", "Sum"} <= set(report.ops)


def test_accepts_tensors_and_float32_inputs_and_checks_in_float64():
    x32 = Tensor(sample(4).astype(np.float32))
    report = gradcheck(lambda x: (x * x * x).sum(), x32)
    assert report.ok, str(report)
    assert report.max_abs_error < 1e-6  # would be ~1e-3 if differenced in float32


def test_integer_inputs_pass_through_without_being_checked():
    idx = np.array([0, 2, 2])
    report = gradcheck(lambda x, i: (x[i] ** 2).sum(), sample(4), idx)
    assert report.ok, str(report)
    assert report.n_elements == 4


def test_non_tensor_result_raises_type_error():
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor"):
        gradcheck(lambda x: 1.0, sample(2))


# --- a wrong backward is found and named ------------------------------------------------------


def test_wrong_op_in_the_middle_of_a_chain_is_named():
    x = sample(2, 3)
    report = gradcheck(lambda t: Wrong.apply(t.exp()).tanh().sum(), x)
    assert not report.ok and not bool(report)
    assert report.ops == ("Exp", "Wrong", "Tanh", "Sum")
    m = report.mismatch
    assert m.op == "Wrong"
    assert m.input_index == 0
    assert len(m.element) == 2 and all(0 <= k < n for k, n in zip(m.element, (2, 3), strict=True))
    assert m.input_shapes == ((2, 3),) and m.output_shape == (2, 3)
    assert m.got == pytest.approx(2.0 * m.expected, rel=1e-6)
    assert abs(m.expected) > 1e-3

    text = str(report)
    assert "failed" in text and "op Wrong" in text
    assert f"{m.got:.10g}" in text and f"{m.expected:.10g}" in text
    assert f"element {m.element}" in text


def test_first_of_two_wrong_ops_in_forward_order_is_reported():
    def f(t):
        return Wrong.apply(WrongFirst.apply(t).tanh()).sum()

    report = gradcheck(f, sample(5))
    assert not report.ok
    assert report.ops == ("WrongFirst", "Tanh", "Wrong", "Sum")
    assert report.mismatch.op == "WrongFirst"
    assert report.mismatch.got == pytest.approx(3.0 * report.mismatch.expected, rel=1e-6)


def test_wrong_gradient_of_the_second_input_names_that_input():
    report = gradcheck(lambda a, b: WrongSecondInput.apply(a.exp(), b).sum(), sample(3), sample(3))
    assert not report.ok
    m = report.mismatch
    assert m.op == "WrongSecondInput"
    assert m.input_index == 1
    assert m.got == pytest.approx(-m.expected, rel=1e-6)


def test_wrong_op_on_a_broadcast_input_is_checked_in_its_own_shape():
    report = gradcheck(lambda a, b: Wrong.apply(a + b).sum(), sample(3, 1), sample(4))
    assert not report.ok
    m = report.mismatch
    assert m.op == "Wrong"
    assert m.input_shapes == ((3, 4),)


def test_mismatch_with_no_faulty_op_reports_the_function():
    # x * x.detach() differentiates as x, but finite differences see x ** 2: every op is
    # right on its own, so the report blames the function, not an op.
    report = gradcheck(lambda x: (x * x.detach()).sum(), sample(3))
    assert not report.ok
    m = report.mismatch
    assert m.op is None
    assert m.input_index == 0
    assert m.got == pytest.approx(0.5 * m.expected, rel=1e-6)
    assert "every op passed on its own" in str(report)


def test_gradcheck_leaves_the_global_grad_mode_alone():
    gradcheck(lambda x: x.exp().sum(), sample(2))
    assert theta.is_grad_enabled()
