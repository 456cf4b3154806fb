"""The Tensor object: dtype rules, array attributes, truthiness, comparisons, reflected
operators, and shape errors that name the op and both shapes (STYLE rule 4).
"""

import numpy as np
import pytest

import theta
from theta import Tensor


@pytest.fixture
def float64_default():
    previous = theta.get_default_dtype()
    theta.set_default_dtype(np.float64)
    try:
        yield
    finally:
        theta.set_default_dtype(previous)


# --- dtype rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floating_ndarray_keeps_its_dtype_and_memory(dtype):
    data = np.arange(3, dtype=dtype)
    t = Tensor(data)
    assert t.dtype == dtype
    assert t.data is data


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_scalar_keeps_its_dtype(dtype):
    assert Tensor(dtype(1.5)).dtype == dtype


@pytest.mark.parametrize("data", [1.5, [1.0, 2.0], [[1, 2.5], [3, 4]], (0.5,)])
def test_python_floats_take_the_default_dtype(data):
    assert Tensor(data).dtype == np.float32
    assert theta.tensor(data).dtype == np.float32


def test_set_default_dtype_changes_python_scalars_and_lists(float64_default):
    assert theta.get_default_dtype() == np.float64
    assert theta.tensor(1.5).dtype == np.float64
    assert theta.tensor([1.0, 2.0]).dtype == np.float64
    assert Tensor(np.zeros(2, dtype=np.float32)).dtype == np.float32  # arrays still keep theirs


@pytest.mark.parametrize("bad", [int, "float16", np.complex128, bool])
def test_set_default_dtype_rejects_non_float32_64(bad):
    before = theta.get_default_dtype()
    with pytest.raises(ValueError, match="set_default_dtype: expected float32 or float64"):
        theta.set_default_dtype(bad)
    assert theta.get_default_dtype() == before


def test_explicit_dtype_argument():
    t = theta.tensor([1, 2], dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad


SCALAR_OPS = {
    "x*2.0": lambda x: x * 2.0,
    "2.0*x": lambda x: 2.0 * x,
    "x+1": lambda x: x + 1,
    "2.0-x": lambda x: 2.0 - x,
    "x-2.0": lambda x: x - 2.0,
    "x**2": lambda x: x**2,
    "x**2.5": lambda x: x**2.5,
    "x**-1": lambda x: x**-1,
    "2.0**x": lambda x: 2.0**x,
    "x/3": lambda x: x / 3,
    "3.0/x": lambda x: 3.0 / x,
    "maximum": lambda x: x.maximum(0.5),
    "where": lambda x: theta.where(x.data > 1.5, x, 0.0),
    "clip": lambda x: x.clip(0.0, 1.5),
}


@pytest.mark.parametrize("fn", SCALAR_OPS.values(), ids=SCALAR_OPS.keys())
def test_python_scalar_never_upcasts_float32(fn):
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_data_is_allowed_but_cannot_require_grad():
    t = Tensor([1, 2, 3])
    assert t.dtype.kind == "i" and not t.requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        t.requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.array([True]), requires_grad=True)


def test_object_data_is_rejected():
    with pytest.raises(TypeError, match="tensor: cannot make a tensor"):
        Tensor([object()])


GRAD_OPS = {
    "mul_bcast": (lambda a, b: a * b, (3, 1), (4,)),
    "div": (lambda a, b: a / b, (2, 3), (2, 3)),
    "matmul": (lambda a, b: a @ b, (2, 3), (3, 4)),
    "matmul_vec": (lambda a, b: a @ b, (3,), (3, 2)),
    "pow": (lambda a, b: a**b, (3,), ()),
    "exp_tanh": (lambda a, b: a.exp() + b.tanh().sum(), (2, 2), (5,)),
    "reduce": (lambda a, b: a.mean(axis=0) * b.max(), (4, 3), (3,)),
    "movement": (lambda a, b: a.T.reshape(-1)[:2] * b[1:3], (2, 2), (4,)),
    "concat": (lambda a, b: theta.concatenate([a, b.reshape(1, 3)]), (2, 3), (3,)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn, shape_a, shape_b", GRAD_OPS.values(), ids=GRAD_OPS.keys())
def test_every_gradient_has_its_tensors_dtype_and_shape(fn, shape_a, shape_b, dtype):
    rng = np.random.default_rng(0)
    a = Tensor(rng.uniform(0.5, 1.5, shape_a).astype(dtype), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 1.5, shape_b).astype(dtype), requires_grad=True)
    out = fn(a, b)
    assert out.dtype == dtype
    out.sum().backward()
    assert a.grad.dtype == dtype and a.grad.shape == shape_a
    assert b.grad.dtype == dtype and b.grad.shape == shape_b


@pytest.mark.parametrize("fn, shape_a, shape_b", GRAD_OPS.values(), ids=GRAD_OPS.keys())
def test_mixed_float32_float64_gradients_keep_each_inputs_dtype(fn, shape_a, shape_b):
    rng = np.random.default_rng(1)
    a = Tensor(rng.uniform(0.5, 1.5, shape_a).astype(np.float32), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 1.5, shape_b), requires_grad=True)  # float64
    out = fn(a, b)
    out.sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.shape == shape_a
    assert b.grad.dtype == np.float64 and b.grad.shape == shape_b


def test_astype_gradient_is_cast_back():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


# --- attributes -------------------------------------------------------------------------------


def test_array_facts():
    data = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(data)
    assert t.shape == (2, 3, 4)
    assert t.dtype == np.float64
    assert t.ndim == 3
    assert t.size == 24
    assert len(t) == 2
    assert t.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(t.T.data, data.T)


def test_transpose_property_is_differentiable():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = np.arange(6.0).reshape(3, 2)
    (x.T * Tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad, w.T)


def test_item():
    assert Tensor(np.array([[2.5]])).item() == 2.5
    assert isinstance(Tensor(np.float32(1.0)).item(), float)
    with pytest.raises(ValueError, match=r"item: .*\(2, 2\)"):
        Tensor(np.ones((2, 2))).item()


def test_numpy_shares_memory():
    t = Tensor(np.ones(3))
    arr = t.numpy()
    assert np.shares_memory(arr, t.data)
    arr[0] = 5.0
    assert t.data[0] == 5.0


def test_detach_shares_data_and_carries_no_gradient():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d._ctx is None
    assert np.shares_memory(d.data, y.data)
    w = Tensor(np.ones(3), requires_grad=True)
    (d * w).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, y.data)


def test_requires_grad_():
    t = Tensor(np.ones(2))
    assert t.requires_grad_() is t
    assert t.requires_grad
    assert t.requires_grad_(False) is t
    assert not t.requires_grad


def test_requires_grad_cannot_be_switched_off_on_an_op_output():
    y = Tensor(np.ones(2), requires_grad=True) * 2.0
    assert not y.is_leaf
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_len_of_0d_raises():
    with pytest.raises(TypeError):
        len(Tensor(1.0))


def test_iteration_yields_rows_and_is_differentiable():
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    rows = list(x)
    assert len(rows) == 3
    assert all(isinstance(r, Tensor) and r.shape == (2,) for r in rows)
    np.testing.assert_array_equal(rows[1].data, [2.0, 3.0])
    (rows[0] * 1.0 + rows[2] * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]])


def test_repr():
    assert "requires_grad=True" in repr(Tensor(np.ones(2, np.float32), requires_grad=True))
    assert "requires_grad" not in repr(Tensor(np.ones(2, np.float32)))
    assert "dtype=float64" in repr(Tensor(np.ones(2)))
    assert repr(theta.tensor([1.0, 2.0])).startswith("tensor(")


def test_float_and_int_conversions():
    assert float(Tensor(2.5)) == 2.5
    assert int(Tensor(np.array([3]))) == 3


# --- truthiness -------------------------------------------------------------------------------


def test_truth_value_of_many_elements_is_ambiguous():
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="ambiguous"):
        if t:
            pass


@pytest.mark.parametrize("value, expected", [(2.0, True), (0.0, False), ([[1.0]], True)])
def test_truth_value_of_one_element(value, expected):
    assert bool(Tensor(value)) is expected


def test_the_fix_the_truthiness_error_suggests_works():
    t = Tensor([1.0, 2.0, -1.0])
    assert (t > -2.0).all().item() is True
    assert (t > 0).all().item() is False
    assert (t > 0).any().item() is True
    assert (t > 5).any().item() is False
    np.testing.assert_array_equal(Tensor(np.eye(2)).all(axis=1).data, [False, False])
    if (t > -2.0).all():
        pass


# --- comparisons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op", ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"], ids=lambda s: s[2:4]
)
def test_comparisons_return_bool_tensors_outside_the_graph(op):
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    other = Tensor(np.array([2.0, 2.0, 2.0]), requires_grad=True)
    for rhs in (other, 2.0, np.array([2.0, 2.0, 2.0])):
        out = getattr(x, op)(rhs)
        assert isinstance(out, Tensor)
        assert out.dtype == np.bool_
        assert not out.requires_grad and out._ctx is None
        rhs_data = rhs.data if isinstance(rhs, Tensor) else rhs
        np.testing.assert_array_equal(out.data, getattr(x.data, op)(rhs_data))


def test_tensors_stay_hashable_by_identity():
    a, b = Tensor([1.0]), Tensor([1.0])
    assert len({a, b}) == 2


# --- reflected operators with ndarrays ---------------------------------------------------------

REFLECTED = {
    "add": lambda arr, t: arr + t,
    "sub": lambda arr, t: arr - t,
    "mul": lambda arr, t: arr * t,
    "div": lambda arr, t: arr / t,
    "matmul": lambda arr, t: arr @ t,
}


@pytest.mark.parametrize("fn", REFLECTED.values(), ids=REFLECTED.keys())
def test_ndarray_on_the_left_returns_a_tensor_in_the_graph(fn):
    arr = np.arange(1.0, 10.0).reshape(3, 3)
    t = Tensor(np.full((3, 3), 2.0), requires_grad=True)
    out = fn(arr, t)
    assert isinstance(out, Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, fn(arr, t.data))
    out.sum().backward()
    assert t.grad.shape == (3, 3)


def test_ndarray_matmul_tensor_gradient():
    arr = np.arange(6.0).reshape(2, 3)
    t = Tensor(np.ones((3, 4)), requires_grad=True)
    (arr @ t).sum().backward()
    np.testing.assert_allclose(t.grad, arr.T @ np.ones((2, 4)))


# --- shape errors name the op and both shapes, at the op call ----------------------------------

SHAPE_ERRORS = {
    "add": (lambda a, b: a + b, (3, 4), (5,), ["add", "(3, 4)", "(5,)", "axis -1"]),
    "sub": (lambda a, b: a - b, (3, 4), (5,), ["sub", "(3, 4)", "(5,)"]),
    "mul": (lambda a, b: a * b, (2, 3), (3, 2), ["mul", "(2, 3)", "(3, 2)"]),
    "div": (lambda a, b: a / b, (2, 3), (4,), ["div", "(2, 3)", "(4,)"]),
    "matmul": (lambda a, b: a @ b, (32, 64), (32, 10), ["matmul", "(32, 64)", "(32, 10)"]),
    "matmul_batch": (
        lambda a, b: a @ b,
        (2, 3, 4),
        (5, 4, 2),
        ["matmul", "(2, 3, 4)", "(5, 4, 2)"],
    ),
    "matmul_0d": (lambda a, b: a @ b, (), (3,), ["matmul", "()", "(3,)"]),
    "reshape": (lambda a, b: a.reshape(4, 2), (2, 3), (1,), ["reshape", "(2, 3)", "(4, 2)"]),
    "concatenate": (
        lambda a, b: theta.concatenate([a, b]),
        (2, 3),
        (2, 4),
        ["concatenate", "(2, 3)", "(2, 4)"],
    ),
    "stack": (lambda a, b: theta.stack([a, b]), (2, 3), (3, 2), ["stack", "(2, 3)", "(3, 2)"]),
    "broadcast_to": (
        lambda a, b: a.broadcast_to((4,)),
        (3,),
        (1,),
        ["broadcast_to", "(3,)", "(4,)"],
    ),
    "maximum": (lambda a, b: a.maximum(b), (3,), (4,), ["maximum", "(3,)", "(4,)"]),
    "where": (lambda a, b: theta.where(a.data > 0, a, b), (3,), (4,), ["where", "(3,)", "(4,)"]),
}


@pytest.mark.parametrize("grad_mode", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize(
    "fn, shape_a, shape_b, fragments", SHAPE_ERRORS.values(), ids=SHAPE_ERRORS.keys()
)
def test_shape_mismatch_raises_value_error_naming_op_and_shapes(
    fn, shape_a, shape_b, fragments, grad_mode
):
    a = Tensor(np.ones(shape_a), requires_grad=True)
    b = Tensor(np.ones(shape_b), requires_grad=True)
    with theta.enable_grad() if grad_mode else theta.no_grad():
        with pytest.raises(ValueError) as info:
            fn(a, b)  # raised while the graph is built, not later in backward
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"


def test_matmul_message_matches_the_style_guide():
    a, b = Tensor(np.ones((32, 64))), Tensor(np.ones((32, 10)))
    with pytest.raises(ValueError) as info:
        a @ b
    assert str(info.value) == (
        "matmul: cannot multiply shapes (32, 64) and (32, 10); the last axis of the left "
        "operand has size 64 but the contracted axis of the right operand has size 32."
    )


def test_broadcast_message_matches_the_style_guide():
    with pytest.raises(ValueError) as info:
        Tensor(np.ones((3, 4))) + Tensor(np.ones(5))
    assert str(info.value) == (
        "add: shapes (3, 4) and (5,) cannot be broadcast together; axis -1 has sizes 4 and 5."
    )


def test_ndarray_with_mismatched_shape_also_names_the_op():
    with pytest.raises(ValueError, match=r"add: shapes \(5,\) and \(3, 4\)"):
        np.ones(5) + Tensor(np.ones((3, 4)))


def test_transpose_refuses_an_axis_out_of_range_instead_of_wrapping_it():
    x = theta.tensor(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"axes \(2, 3, 1\) are not a permutation of the 3 axes"):
        x.transpose(2, 3, 1)  # was: taken as (2, 0, 1), a wrong tensor of shape (4, 2, 3)
    with pytest.raises(ValueError, match=r"axes \(0,\) are not a permutation of the 0 axes"):
        theta.tensor(1.0).transpose(0)
    assert x.transpose(-1, 0, 1).shape == (4, 2, 3)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_name_themselves_for_an_axis_out_of_range(name):
    x = theta.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=f"{name}: axis 2 is out of bounds"):
        getattr(x, name)(axis=2)


# --- methods are written in the class (issue #14) ---------------------------------------------


def test_every_method_is_defined_in_the_class_body_where_type_checkers_see_it():
    # Bound with setattr from a table after the class, IDEs and type checkers saw no `exp`.
    import ast
    import inspect

    from theta.autograd import _tensor

    tree = ast.parse(inspect.getsource(_tensor))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor"]
    defined = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    defined |= {t.id for n in cls.body if isinstance(n, ast.Assign) for t in n.targets}
    ops = ["exp", "log", "sum", "mean", "max", "softmax", "matmul", "flatten", "split", "clip"]
    dunders = ["__add__", "__rsub__", "__mul__", "__pow__", "__matmul__", "__getitem__"]
    assert not [m for m in ops + dunders + ["__eq__", "__abs__"] if m not in defined]
    setattrs = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "setattr"]
    assert not setattrs, "Tensor's methods are bound with setattr"


@pytest.mark.parametrize(
    ("method", "args"),
    [("sum", (1, True)), ("mean", (0,)), ("var", (1, 1, True)), ("max", (None, True)),
     ("logsumexp", (1,)), ("softmax", (0,)), ("flatten", ()), ("clip", (0.1, 0.5)),
     ("leaky_relu", (0.2,)), ("gelu", ("tanh",)), ("split", (2, 1)), ("swapaxes", (0, 1))],
)  # fmt: skip
def test_each_method_is_its_op_with_the_same_positional_arguments(method, args):
    x = theta.tensor(np.linspace(0.0, 1.0, 8).reshape(2, 4))
    got, want = getattr(x, method)(*args), getattr(theta, method)(x, *args)
    if method == "split":
        got, want = theta.stack(got), theta.stack(want)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("expr", [
    lambda t, m: t * 2.5, lambda t, m: 2.5 - t, lambda t, m: t / 2, lambda t, m: t / t,
    lambda t, m: t + 1, lambda t, m: t * True, lambda t, m: m.exp(t), lambda t, m: m.sqrt(t),
    lambda t, m: m.sigmoid(t), lambda t, m: m.abs(-t), lambda t, m: -t, lambda t, m: t ** 2,
    lambda t, m: (t > 1) * 0.5,
])  # fmt: skip
def test_integer_tensors_promote_as_in_pytorch(expr, dtype):
    """Integer and bool tensors meeting a Python float, true division, or a floating function
    give the default dtype (PyTorch's rule; NumPy's would be float64), else stay integers."""
    import torch

    previous = theta.get_default_dtype()
    theta.set_default_dtype(dtype)
    torch_previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32 if dtype == np.float32 else torch.float64)
    try:
        got = expr(theta.tensor([1, 2, 3]), theta)
        want = expr(torch.tensor([1, 2, 3]), torch)
    finally:
        theta.set_default_dtype(previous)
        torch.set_default_dtype(torch_previous)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
