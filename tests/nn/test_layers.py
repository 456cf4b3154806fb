"""Every layer against its PyTorch twin, weights copied through ``state_dict``, in float64.

Forward values and the gradients with respect to the input and to every parameter must agree
to 1e-8. Copying weights by name also checks that theta's parameter names and layouts are
PyTorch's. Dropout draws from NumPy, so it is checked by its statistics instead.
"""

import numpy as np
import pytest

import theta
from theta.nn import (
    GELU,
    MLP,
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    LinearReLU,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    init,
)  # fmt: skip

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = 1e-8


def close(got, expected, what: str) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(np.asarray(got), expected, rtol=TOL, atol=TOL, err_msg=what)


def copy_to_torch(module: Module, twin) -> None:
    """Load theta's weights into the torch twin by name; the names must match exactly."""
    state = module.state_dict()
    assert list(state) == list(twin.state_dict()), "parameter names differ from PyTorch's"
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)


def compare(module: Module, twin, x: np.ndarray, rng: np.random.Generator) -> None:
    """Forward and backward through both with the same input and upstream gradient."""
    twin = twin.double()
    copy_to_torch(module, twin)
    differentiable = x.dtype.kind == "f"
    x_theta = theta.tensor(x, requires_grad=differentiable)
    x_torch = torch.tensor(x, requires_grad=differentiable)
    out, out_torch = module(x_theta), twin(x_torch)
    assert out.dtype == np.float64
    close(out.data, out_torch, "forward")
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    out_torch.backward(torch.from_numpy(upstream))
    if differentiable:
        close(x_theta.grad, x_torch.grad, "gradient w.r.t. the input")
    torch_params = dict(twin.named_parameters())
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        close(p.grad, torch_params[name].grad, f"gradient w.r.t. {name}")


def randomize(module: Module, rng: np.random.Generator) -> None:
    """Give every parameter random values (LayerNorm starts at ones and zeros)."""
    module.load_state_dict(
        {k: rng.standard_normal(v.shape) for k, v in module.state_dict().items()}
    )


# --- layers with parameters ------------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(4, 5), (2, 3, 5)], ids=["2d", "BTC"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_linear_matches_torch(x_shape, bias, rng):
    layer = Linear(5, 3, bias=bias, rng=0, dtype=np.float64)
    assert layer.weight.shape == (3, 5)
    assert (layer.bias is None) == (not bias)
    compare(layer, tnn.Linear(5, 3, bias=bias), rng.standard_normal(x_shape), rng)


def test_embedding_matches_torch_with_repeated_indices(rng):
    layer = Embedding(6, 4, rng=0, dtype=np.float64)
    twin = tnn.Embedding(6, 4)
    idx = np.array([[1, 3, 1, 1], [0, 5, 3, 1]])  # row 1 four times, row 3 twice
    compare(layer, twin, idx, rng)
    np.testing.assert_array_equal(layer.weight.grad[[2, 4]], 0.0)  # never looked up


def test_embedding_gradient_is_scatter_add(rng):
    layer = Embedding(4, 2, rng=0, dtype=np.float64)
    out = layer(np.array([2, 2, 2, 0]))
    out.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(layer.weight.grad, [[1, 1], [0, 0], [3, 3], [0, 0]])


@pytest.mark.parametrize(
    "normalized_shape, x_shape, eps",
    [
        (6, (4, 6), 1e-5),
        (6, (2, 3, 6), 0.1),
        ((4, 5), (2, 3, 4, 5), 1e-5),
        ((4, 5), (3, 4, 5), 0.5),
    ],
    ids=["1axis", "1axis_eps", "2axes", "2axes_eps"],
)
def test_layer_norm_matches_torch(normalized_shape, x_shape, eps, rng):
    layer = LayerNorm(normalized_shape, eps=eps, dtype=np.float64)
    randomize(layer, rng)
    twin = tnn.LayerNorm(normalized_shape, eps=eps)
    x = 0.2 * rng.standard_normal(x_shape) + 0.5  # small spread, so a wrong eps shows
    compare(layer, twin, x, rng)


# --- activations -----------------------------------------------------------------------------

ACTIVATIONS = [
    ("relu", ReLU, tnn.ReLU),
    ("gelu", GELU, tnn.GELU),
    ("gelu_tanh", lambda: GELU("tanh"), lambda: tnn.GELU(approximate="tanh")),
    ("tanh", Tanh, tnn.Tanh),
    ("sigmoid", Sigmoid, tnn.Sigmoid),
    ("softmax", Softmax, lambda: tnn.Softmax(dim=-1)),
    ("softmax_axis1", lambda: Softmax(axis=1), lambda: tnn.Softmax(dim=1)),
]


@pytest.mark.parametrize("name, make, make_twin", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, make, make_twin, rng):
    x = 3.0 * rng.standard_normal((2, 3, 5))
    compare(make(), make_twin(), x, rng)


# --- containers ------------------------------------------------------------------------------


def test_sequential_matches_torch(rng):
    net = Sequential(
        Linear(5, 8, rng=0, dtype=np.float64),
        GELU("tanh"),
        LayerNorm(8, dtype=np.float64),
        Linear(8, 3, bias=False, rng=1, dtype=np.float64),
        Softmax(),
    )
    randomize(net, rng)
    twin = tnn.Sequential(
        tnn.Linear(5, 8), tnn.GELU(approximate="tanh"), tnn.LayerNorm(8),
        tnn.Linear(8, 3, bias=False), tnn.Softmax(dim=-1),
    )  # fmt: skip
    compare(net, twin, rng.standard_normal((2, 4, 5)), rng)
    assert len(net) == 5 and isinstance(net[2], LayerNorm)


@pytest.mark.parametrize(
    "activation, twin_act", [("relu", tnn.ReLU), ("tanh", tnn.Tanh), ("gelu", tnn.GELU),
                             ("sigmoid", tnn.Sigmoid)],
)  # fmt: skip
@pytest.mark.parametrize("x_shape", [(6, 5), (2, 3, 5)], ids=["2d", "BTC"])
def test_mlp_matches_torch(activation, twin_act, x_shape, rng):
    mlp = MLP((5, 8, 7, 3), activation=activation, rng=0, dtype=np.float64)
    twin = tnn.Sequential(
        tnn.Linear(5, 8), twin_act(), tnn.Linear(8, 7), twin_act(), tnn.Linear(7, 3)
    )
    names = [name for name, _ in mlp.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert names == list(twin.state_dict())
    compare(mlp, twin, rng.standard_normal(x_shape), rng)


def test_mlp_with_dropout_has_torchs_layout_and_matches_in_eval(rng):
    mlp = MLP((4, 6, 6, 2), dropout=0.25, rng=0, dtype=np.float64).eval()
    twin = tnn.Sequential(
        tnn.Linear(4, 6), tnn.ReLU(), tnn.Dropout(0.25),
        tnn.Linear(6, 6), tnn.ReLU(), tnn.Dropout(0.25),
        tnn.Linear(6, 2),
    ).eval()  # fmt: skip
    # the ReLUs are fused into the Linear before them, each keeping the index it has in torch's
    assert [type(m).__name__ for m in mlp.layers] == [
        "LinearReLU", "Dropout", "LinearReLU", "Dropout", "Linear"
    ]  # fmt: skip
    assert list(mlp.state_dict()) == list(twin.state_dict())  # 0, 3, 6
    assert [name for name, _ in mlp.named_modules()][1:] == ["0", "2", "3", "5", "6"]
    compare(mlp, twin, rng.standard_normal((5, 4)), rng)


def test_mlp_loads_a_torch_state_dict(rng):
    twin = tnn.Sequential(tnn.Linear(3, 4), tnn.ReLU(), tnn.Linear(4, 2)).double()
    mlp = MLP((3, 4, 2), rng=0, dtype=np.float64)
    mlp.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()}, strict=True)
    x = rng.standard_normal((5, 3))
    close(mlp(theta.tensor(x)).data, twin(torch.from_numpy(x)), "forward after loading")


def test_linear_relu_is_relu_of_linear_with_linears_parameters(rng):
    fused = LinearReLU(5, 3, rng=0, dtype=np.float64)
    plain = Linear(5, 3, rng=0, dtype=np.float64)  # the same draws: the same initial weights
    assert list(fused.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(fused.weight.data, plain.weight.data)
    x = rng.standard_normal((4, 5))
    twin = tnn.Sequential(tnn.Linear(5, 3), tnn.ReLU()).double()
    twin.load_state_dict({f"0.{k}": torch.from_numpy(v) for k, v in fused.state_dict().items()})
    close(fused(theta.tensor(x)).data, twin(torch.from_numpy(x)), "forward")


def count_fused_calls(monkeypatch) -> list:
    """Record every call of the fused ``F.linear_relu`` (the layers call it through ``F``)."""
    from theta.nn import functional

    calls, fused = [], functional.linear_relu

    def counted(*args):
        calls.append(args)
        return fused(*args)

    monkeypatch.setattr(functional, "linear_relu", counted)
    return calls


def test_mlp_runs_each_hidden_relu_layer_as_the_fused_op(monkeypatch, rng):
    calls = count_fused_calls(monkeypatch)
    mlp = MLP((4, 6, 6, 2), rng=0)
    mlp(rng.standard_normal((3, 4)).astype(np.float32))
    assert len(calls) == 2
    assert type(MLP((4, 6, 2), activation="tanh", rng=0).layers[0]) is Linear


def test_sequential_runs_the_modules_it_was_given_unfused(monkeypatch, rng):
    calls = count_fused_calls(monkeypatch)
    net = Sequential(Linear(4, 6, rng=0), ReLU(), Linear(6, 2, rng=1))
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out = net(x)
    assert calls == []
    np.testing.assert_array_equal(out.data, net[2](net[0](x).relu()).data)
    Sequential(LinearReLU(4, 6, rng=0), Linear(6, 2, rng=1))(x)
    assert len(calls) == 1


def test_sequential_names_children_by_position_as_torch():
    net = Sequential(Linear(2, 3, rng=0), ReLU(), LayerNorm(3), Linear(3, 1, rng=1))
    twin = tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU(), tnn.LayerNorm(3), tnn.Linear(3, 1))
    assert list(net.state_dict()) == list(twin.state_dict())
    assert [name for name, _ in net.named_modules()] == [name for name, _ in twin.named_modules()]
    assert len(net) == 4 and net[-1] is net.layers[3] and isinstance(net[1], ReLU)


# --- dropout ---------------------------------------------------------------------------------


def test_dropout_training_zeroes_about_p_and_scales_survivors():
    p = 0.3
    layer = Dropout(p, rng=0)
    x = theta.tensor(np.ones((200, 500)), requires_grad=True)
    out = layer(x)
    zeroed = out.data == 0
    assert abs(zeroed.mean() - p) < 0.01
    np.testing.assert_allclose(out.data[~zeroed], 1 / (1 - p), rtol=1e-15)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # zero where dropped, 1/(1-p) elsewhere


def test_dropout_eval_is_identity(rng):
    layer = Dropout(0.5, rng=0).eval()
    x = theta.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    out = layer(x)
    np.testing.assert_array_equal(out.data, x.data)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, 1.0)


def test_dropout_same_seed_same_mask(rng):
    x = theta.tensor(rng.standard_normal((10, 10)))
    a, b = Dropout(0.5, rng=7), Dropout(0.5, rng=7)
    first_a, first_b = a(x).data, b(x).data
    np.testing.assert_array_equal(first_a, first_b)
    np.testing.assert_array_equal(a(x).data, b(x).data)  # and the streams stay in step
    assert not np.array_equal(first_a, a(x).data)  # a new mask on every call


def test_dropout_zero_p_is_identity(rng):
    x = theta.tensor(rng.standard_normal((3, 3)))
    np.testing.assert_array_equal(Dropout(0.0, rng=0)(x).data, x.data)


def test_layers_accept_plain_arrays():
    x = np.array([[10.0, 1.0]], dtype=np.float32)
    assert Linear(2, 1, rng=0)(x).shape == (1, 1)
    assert LayerNorm(2)(x).shape == (1, 2)


def test_skip_init_draws_nothing_and_ends_with_the_block():
    rng = np.random.default_rng(0)
    with init.skip_init():
        Linear(4, 3, rng=rng)
        Embedding(5, 2, rng=rng)
        norm = LayerNorm(3)
    assert rng.random() == np.random.default_rng(0).random()  # the generator was not used
    assert norm.weight.data.tolist() == [1.0, 1.0, 1.0]  # constant inits are kept
    after = Linear(4, 3, rng=0)
    np.testing.assert_array_equal(after.weight.data, Linear(4, 3, rng=0).weight.data)
