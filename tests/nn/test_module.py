"""``Module`` and ``Parameter``: parameter discovery, tied weights, parameters as data,
modes, hyperparameters, ``summary``, ``functional_call``, initialisation and argument checks.
"""

import numpy as np
import pytest

import theta
from theta import Tensor
from theta.nn import (
    MLP,
    Dropout,
    Embedding,
    IncompatibleKeys,
    LayerNorm,
    Linear,
    Module,
    Parameter,
    ReLU,
    Sequential,
    functional_call,
)  # fmt: skip
from theta.params import registry_name

# --- test models -----------------------------------------------------------------------------


class Block(Module):
    """Parameters directly, in sub-modules, in a list and in a dict, plus two buffers."""

    def __init__(self, width: int = 4, *, rng=0):
        self.fc = Linear(3, width, rng=rng, dtype=np.float64)
        self.scale = Parameter(np.ones(width))
        self.mask = np.tril(np.ones((3, 3)))  # a buffer: not trained
        self.running = Tensor(np.zeros(width), requires_grad=True)  # a Tensor, not a Parameter
        self.heads = [Linear(width, 2, rng=1, dtype=np.float64), ReLU(),
                      Linear(width, 2, bias=False, rng=2, dtype=np.float64)]  # fmt: skip
        self.extras = {"gain": Parameter(np.array(2.0)), "proj": Linear(2, 2, rng=3)}

    def forward(self, x):
        h = self.fc(x) * self.scale
        return self.extras["proj"](self.heads[0](h) + self.heads[2](h)) * self.extras["gain"]


BLOCK_NAMES = [
    "fc.weight", "fc.bias", "scale", "heads.0.weight", "heads.0.bias", "heads.2.weight",
    "extras.gain", "extras.proj.weight", "extras.proj.bias",
]  # fmt: skip


class Outer(Module):
    def __init__(self):
        self.block = Block()
        self.norms = [LayerNorm(2), {"last": Dropout(0.5, rng=0)}]
        self.head = Linear(2, 1, rng=4)

    def forward(self, x):
        return self.head(self.norms[1]["last"](self.norms[0](self.block(x))))


class TiedLM(Module):
    """An embedding whose table is also the output head (GPT's weight tying)."""

    def __init__(self, n_vocab: int = 5, n_embd: int = 3):
        self.emb = Embedding(n_vocab, n_embd, rng=0, dtype=np.float64)
        self.ln = LayerNorm(n_embd, dtype=np.float64)
        self.head = Linear(n_embd, n_vocab, bias=False, rng=1, dtype=np.float64)
        self.head.weight = self.emb.weight

    def forward(self, idx):
        return self.head(self.ln(self.emb(idx)))


def snapshot(module: Module) -> dict[str, tuple[Parameter, np.ndarray]]:
    return {name: (p, p.data.copy()) for name, p in module.named_parameters()}


def assert_unchanged(module: Module, before: dict) -> None:
    after = dict(module.named_parameters())
    assert list(after) == list(before)
    for name, (param, values) in before.items():
        assert after[name] is param, f"{name} was replaced"
        np.testing.assert_array_equal(param.data, values, err_msg=name)


# --- Parameter -------------------------------------------------------------------------------


def test_parameter_from_python_float_gets_default_dtype_and_requires_grad():
    p = Parameter(2.5)
    assert isinstance(p, Tensor)
    assert p.dtype == np.float32 and p.shape == () and p.requires_grad and p.is_leaf
    assert Parameter([1, 2, 3]).dtype == np.float32
    assert Parameter(np.arange(3)).dtype == np.float32  # integers become the default float
    assert Parameter(np.zeros(2)).dtype == np.float64  # floating arrays keep theirs
    assert not Parameter(1.0, requires_grad=False).requires_grad


def test_parameter_follows_set_default_dtype():
    theta.set_default_dtype(np.float64)
    try:
        assert Parameter(1.0).dtype == np.float64
        assert Linear(2, 2, rng=0).weight.dtype == np.float64
    finally:
        theta.set_default_dtype(np.float32)
    assert Parameter(1.0).dtype == np.float32


# --- discovery: names, order, containers, tied weights ---------------------------------------


def test_named_parameters_dotted_names_in_attribute_order():
    block = Block()
    assert [name for name, _ in block.named_parameters()] == BLOCK_NAMES
    assert all(isinstance(p, Parameter) for p in block.parameters())
    assert block.heads[0].weight is dict(block.named_parameters())["heads.0.weight"]


def test_nested_module_names_are_prefixed():
    names = [name for name, _ in Outer().named_parameters()]
    assert names == [f"block.{n}" for n in BLOCK_NAMES] + [
        "norms.0.weight", "norms.0.bias", "head.weight", "head.bias",
    ]  # fmt: skip


def test_parameters_of_a_module_in_a_list():
    block = Block()
    own = list(block.heads[0].parameters())
    assert len(own) == 2
    assert own[0] is block.heads[0].weight and own[1] is block.heads[0].bias
    ids = {id(p) for p in block.parameters()}
    assert all(id(p) in ids for p in own)
    assert list(block.heads[1].parameters()) == []  # ReLU has none


def test_buffers_and_plain_tensors_are_not_parameters():
    block = Block()
    listed = {id(p) for p in block.parameters()}
    assert id(block.running) not in listed
    assert "mask" not in block.state_dict() and "running" not in block.state_dict()


def test_tied_parameter_is_listed_counted_and_updated_once():
    model = TiedLM()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["emb.weight", "ln.weight", "ln.bias"]
    assert model.n_parameters() == 5 * 3 + 3 + 3
    assert len(list(model.parameters())) == 3
    assert list(model.state_dict()) == names
    # the gradient of the shared table holds both uses (lookup and output head)
    model(np.array([0, 2, 2])).sum().backward()
    emb_only = Embedding(5, 3, rng=0, dtype=np.float64)
    emb_only(np.array([0, 2, 2])).sum().backward()
    assert not np.allclose(model.emb.weight.grad, emb_only.weight.grad)


def test_same_parameter_assigned_twice_in_one_module():
    class Twice(Module):
        def __init__(self):
            self.a = Parameter(np.ones(3))
            self.b = self.a
            self.c = [self.a, Parameter(np.zeros(2))]

    m = Twice()
    assert [name for name, _ in m.named_parameters()] == ["a", "c.1"]
    assert m.n_parameters() == 5


def test_n_parameters_counts_every_number():
    mlp = MLP((4, 8, 3), rng=0)
    assert mlp.n_parameters() == 4 * 8 + 8 + 8 * 3 + 3
    assert Block().n_parameters() == sum(p.size for _, p in Block().named_parameters())


# --- parameters as data ----------------------------------------------------------------------


def test_state_dict_is_a_copy():
    block = Block()
    state = block.state_dict()
    assert list(state) == BLOCK_NAMES
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["fc.weight"][:] = 99.0
    assert not np.any(block.fc.weight.data == 99.0)
    block.scale.data[:] = -1.0
    assert np.all(state["scale"] == 1.0)


def test_load_state_dict_round_trip_copies_values():
    source, target = Block(rng=10), Block(rng=20)
    state = source.state_dict()
    result = target.load_state_dict(state)
    assert result == IncompatibleKeys([], [])
    for name, p in target.named_parameters():
        np.testing.assert_array_equal(p.data, state[name])
    state["scale"][:] = 123.0  # loaded values are copies, not views of the state
    assert not np.any(target.scale.data == 123.0)


def test_load_state_dict_accepts_tensors_and_keeps_parameter_dtype():
    layer = Linear(2, 3, rng=0)  # float32
    weight = layer.weight
    layer.load_state_dict({"weight": Tensor(np.ones((3, 2))), "bias": np.arange(3.0)})
    assert layer.weight is weight and layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, 1.0)
    np.testing.assert_array_equal(layer.bias.data, [0.0, 1.0, 2.0])


def test_load_state_dict_strict_lists_every_problem_and_changes_nothing():
    block = Block()
    before = snapshot(block)
    state = {k: v + 1.0 for k, v in block.state_dict().items()}
    del state["fc.bias"], state["extras.gain"]  # missing
    state["bogus"] = np.zeros(1)  # unexpected
    state["scale"] = np.zeros(7)  # wrong shape
    with pytest.raises(ValueError) as excinfo:
        block.load_state_dict(state)
    message = str(excinfo.value)
    assert message.startswith("load_state_dict: the state does not fit Block")
    assert "missing keys: fc.bias, extras.gain" in message
    assert "unexpected keys: bogus" in message
    assert "wrong shapes or dtypes: scale: expected (4,), got (7,)" in message
    assert_unchanged(block, before)  # the well-shaped keys were not loaded either


def test_load_state_dict_wrong_shape_raises_even_when_not_strict():
    block = Block()
    before = snapshot(block)
    state = block.state_dict()
    state["fc.weight"] = np.zeros((3, 4))
    state["scale"] = state["scale"] + 5.0
    with pytest.raises(
        ValueError, match=r"wrong shapes or dtypes: fc.weight: expected \(4, 3\), got"
    ):
        block.load_state_dict(state, strict=False)
    assert_unchanged(block, before)


def test_load_state_dict_not_strict_returns_incompatible_keys():
    block = Block()
    state = {"fc.weight": np.full((4, 3), 0.5), "scale": np.full(4, 3.0), "bogus": np.zeros(2)}
    result = block.load_state_dict(state, strict=False)
    assert isinstance(result, IncompatibleKeys)
    assert result.unexpected_keys == ["bogus"]
    assert result.missing_keys == [n for n in BLOCK_NAMES if n not in ("fc.weight", "scale")]
    np.testing.assert_array_equal(block.fc.weight.data, 0.5)
    np.testing.assert_array_equal(block.scale.data, 3.0)


def test_load_state_dict_into_tied_model_updates_both_uses():
    model = TiedLM()
    state = model.state_dict()
    state["emb.weight"] = np.arange(15.0).reshape(5, 3)
    model.load_state_dict(state)
    assert model.head.weight is model.emb.weight
    np.testing.assert_array_equal(model.head.weight.data, state["emb.weight"])


# --- modes and gradients ---------------------------------------------------------------------


def test_train_and_eval_reach_every_sub_module():
    model = Outer()
    modules = [m for _, m in model.named_modules()]
    assert any(isinstance(m, Dropout) for m in modules)  # found inside a dict inside a list
    assert model.eval() is model
    assert all(m.training is False for m in modules)
    assert model.train() is model
    assert all(m.training is True for m in modules)
    model.train(False)
    assert all(m.training is False for m in modules)


def test_eval_turns_dropout_off_inside_an_mlp(rng):
    mlp = MLP((4, 16, 4), dropout=0.5, rng=0, dtype=np.float64)
    x = theta.tensor(rng.standard_normal((8, 4)))
    mlp.eval()
    np.testing.assert_array_equal(mlp(x).data, mlp(x).data)
    mlp.train()
    assert not np.array_equal(mlp(x).data, mlp(x).data)


def test_named_modules_names():
    names = [name for name, _ in Outer().named_modules()]
    assert names == [
        "", "block", "block.fc", "block.heads.0", "block.heads.1", "block.heads.2",
        "block.extras.proj", "norms.0", "norms.1.last", "head",
    ]  # fmt: skip


def test_zero_grad_clears_every_gradient(rng):
    model = TiedLM()
    model(np.array([[1, 2], [3, 3]])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.head.weight.grad is None


def test_forward_must_be_implemented():
    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty must implement forward"):
        Empty()(1.0)


# --- hyperparameters and summary -------------------------------------------------------------


def test_hyperparameters_record_constructor_args_with_defaults():
    assert Linear(3, 2, rng=0, dtype=np.float64).hyperparameters() == {
        "in_features": 3, "out_features": 2, "bias": True,
    }  # fmt: skip
    assert MLP([3, 4, 2], rng=0).hyperparameters() == {
        "sizes": [3, 4, 2], "activation": "relu", "dropout": 0.0,
    }  # fmt: skip
    assert Dropout(0.2, rng=0).hyperparameters() == {"p": 0.2}
    assert LayerNorm(4, eps=1e-3).hyperparameters() == {"normalized_shape": 4, "eps": 1e-3}
    assert ReLU().hyperparameters() == {}


def test_hyperparameters_come_from_the_most_derived_class():
    class Square(Linear):
        def __init__(self, n: int, *, scale: float = 2.0, rng=None, dtype=None):
            super().__init__(n, n, bias=False, rng=rng, dtype=dtype)
            self.scale = scale

    class Alias(Linear):  # no __init__ of its own: Linear's arguments
        pass

    assert Square(3, rng=0).hyperparameters() == {"n": 3, "scale": 2.0}
    assert Alias(2, 5, rng=0).hyperparameters() == {
        "in_features": 2, "out_features": 5, "bias": True,
    }  # fmt: skip


def test_hyperparameters_returns_a_copy():
    layer = Linear(3, 2, rng=0)
    layer.hyperparameters()["in_features"] = 100
    assert layer.hyperparameters()["in_features"] == 3


def test_summary_lists_parameters_totals_and_hyperparameters_apart():
    text = MLP((100, 20, 3), rng=0).summary()
    lines = text.splitlines()
    assert lines[0] == "MLP"
    assert lines[1].split() == ["parameter", "shape", "count"]
    rows = {line.split()[0]: line for line in lines[2:7]}
    assert rows["0.weight"].split() == ["0.weight", "(20,", "100)", "2,000"]
    assert rows["0.bias"].split() == ["0.bias", "(20,)", "20"]
    assert rows["2.weight"].split() == ["2.weight", "(3,", "20)", "60"]
    assert rows["2.bias"].split() == ["2.bias", "(3,)", "3"]
    assert rows["total"].split() == ["total", "2,083"]
    split = lines.index(next(line for line in lines if line.startswith("hyperparameter")))
    assert split == 7  # the hyperparameter table follows the parameter table
    hyper = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[split + 1 :]}
    assert hyper["sizes"] == "(100, 20, 3)"
    assert hyper["activation"] == "'relu'"
    assert hyper["dropout"] == "0.0"
    assert hyper["0.in_features"] == "100"
    assert hyper["2.out_features"] == "3"
    assert list(hyper) == [
        "sizes", "activation", "dropout", "0.in_features", "0.out_features",
        "0.bias", "2.in_features", "2.out_features", "2.bias",
    ]  # fmt: skip
    assert hyper["0.bias"] == "True"  # the argument, not the parameter of that name


def test_summary_counts_tied_parameters_once():
    text = TiedLM().summary()
    assert "head.weight" not in text
    assert text.count("emb.weight") == 1
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert total.split() == ["total", "21"]


# --- functional_call -------------------------------------------------------------------------


def test_functional_call_uses_given_params_and_grads_flow_to_them(rng):
    layer = Linear(3, 2, rng=0, dtype=np.float64)
    before = snapshot(layer)
    w = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    x = rng.standard_normal((4, 3))
    out = functional_call(layer, {"weight": w, "bias": b}, theta.tensor(x))
    np.testing.assert_allclose(out.data, x @ w.data.T + b.data, rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(w.grad, np.ones((4, 2)).T @ x, rtol=1e-12)
    np.testing.assert_allclose(b.grad, [4.0, 4.0])
    assert layer.weight.grad is None and layer.bias.grad is None
    assert_unchanged(layer, before)


def test_functional_call_partial_params_and_nested_names(rng):
    mlp = MLP((3, 4, 2), rng=0, dtype=np.float64)
    before = snapshot(mlp)
    x = theta.tensor(rng.standard_normal((5, 3)))
    zero_last = {"2.weight": np.zeros((2, 4)), "2.bias": np.ones(2)}
    np.testing.assert_array_equal(functional_call(mlp, zero_last, x).data, 1.0)
    same = functional_call(mlp, {"0.bias": mlp.layers[0].bias.data.copy()}, x)
    np.testing.assert_allclose(same.data, mlp(x).data, rtol=1e-14)
    assert_unchanged(mlp, before)


def test_functional_call_params_in_lists_and_dicts(rng):
    block = Block()
    before = snapshot(block)
    x = theta.tensor(rng.standard_normal((2, 3)))
    expected = block(x).data * 3.0 / 2.0  # gain is 2.0
    got = functional_call(block, {"extras.gain": np.array(3.0)}, x)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12)
    zeroed = {"heads.0.weight": np.zeros((2, 4)), "heads.0.bias": np.zeros(2),
              "heads.2.weight": np.zeros((2, 4))}  # fmt: skip
    out = functional_call(block, zeroed, x)
    np.testing.assert_allclose(
        out.data, np.broadcast_to(block.extras["proj"].bias.data * 2, (2, 2))
    )
    assert_unchanged(block, before)


def test_functional_call_restores_params_when_forward_raises():
    class Fails(Module):
        def __init__(self):
            self.lin = Linear(2, 2, rng=0)
            self.items = [Parameter(np.ones(2))]

        def forward(self, x):
            self.lin(x)
            raise RuntimeError("boom")

    model = Fails()
    before = snapshot(model)
    new = {"lin.weight": np.zeros((2, 2)), "items.0": np.zeros(2)}
    with pytest.raises(RuntimeError, match="boom"):
        functional_call(model, new, theta.tensor([[1.0, 2.0]]))
    assert_unchanged(model, before)


def test_functional_call_unknown_names_raise_and_name_them():
    layer = Linear(2, 2, rng=0)
    before = snapshot(layer)
    with pytest.raises(ValueError) as excinfo:
        functional_call(layer, {"weight": np.zeros((2, 2)), "wieght": 0, "b": 1}, np.ones((1, 2)))
    message = str(excinfo.value)
    assert "functional_call: Linear has no parameters named wieght, b" in message
    assert "it has weight, bias" in message
    assert_unchanged(layer, before)


def test_functional_call_wrong_shape_raises_and_changes_nothing():
    layer = Linear(2, 3, rng=0)
    before = snapshot(layer)
    bad = {"weight": np.zeros((3, 2)), "bias": np.zeros(5)}  # a good key before the bad one
    with pytest.raises(ValueError, match=r"functional_call: bias must have shape \(3,\) \(got"):
        functional_call(layer, bad, theta.tensor([[1.0, 2.0]]))
    assert_unchanged(layer, before)


def test_functional_call_replaces_every_use_of_a_tied_parameter(rng):
    model = TiedLM()
    before = snapshot(model)
    table = 2.0 * rng.standard_normal((5, 3)) + 1.0  # unlike the model's own table
    idx = np.array([0, 4, 4, 1])
    out = functional_call(model, {"emb.weight": table}, idx)
    reference = TiedLM()
    reference.load_state_dict({**model.state_dict(), "emb.weight": table})
    np.testing.assert_allclose(out.data, reference(idx).data, rtol=1e-12)
    assert_unchanged(model, before)
    assert model.head.weight is model.emb.weight


def test_functional_call_rejects_a_tuple_without_changing_the_module():
    class Pair(Module):
        def __init__(self):
            self.a = Parameter(np.ones(2))
            self.pair = (Parameter(np.ones(2)), Parameter(np.ones(2)))

        def forward(self, x):
            return x * self.a + self.pair[0]

    model = Pair()
    before = snapshot(model)
    with pytest.raises(TypeError, match="functional_call: pair.0 .*tuple.*list"):
        functional_call(model, {"a": np.zeros(2), "pair.0": np.zeros(2)}, np.ones(2))
    assert_unchanged(model, before)


# --- initialisation and constructor checks ---------------------------------------------------


def test_linear_init_is_deterministic_and_bounded():
    a, b = Linear(16, 500, rng=7), Linear(16, 500, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, Linear(16, 500, rng=8).weight.data)
    bound = 1 / np.sqrt(16)
    for p in (a.weight.data, a.bias.data):
        assert np.all(np.abs(p) <= bound)
        assert np.abs(p).max() > 0.95 * bound  # spread over the whole interval
        assert abs(p.mean()) < 0.15 * bound  # centred; U(-a, a) has standard deviation a/sqrt(3)
        assert abs(p.std() - bound / np.sqrt(3)) < 0.1 * bound
    assert a.weight.dtype == np.float32


def test_shared_generator_gives_different_layers():
    gen = np.random.default_rng(0)
    first, second = Linear(4, 4, rng=gen), Linear(4, 4, rng=gen)
    assert not np.array_equal(first.weight.data, second.weight.data)


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda: Linear(0, 3), ValueError, r"'in_features' parameter.* must be an int in the range \[1, inf\)\. Got 0 instead"),  # noqa: E501
        (lambda: Linear(3, 0), ValueError, r"'out_features' parameter.* must be an int in the range \[1, inf\)\. Got 0 instead"),  # noqa: E501
        (lambda: Linear(2.5, 3), TypeError, r"'in_features' parameter.* must be an int in the range \[1, inf\)\. Got 2\.5 instead"),  # noqa: E501
        (lambda: Embedding(0, 3), ValueError, r"'num_embeddings' parameter.*Got 0 instead"),
        (lambda: Dropout(1.5), ValueError, r"'p' parameter.* must be a float in the range \[0\.0, 1\.0\)\. Got 1\.5 instead"),  # noqa: E501
        (lambda: Dropout(1.0), ValueError, r"'p' parameter.* \[0\.0, 1\.0\)\. Got 1\.0 instead"),
        (lambda: Dropout(-0.1), ValueError, r"'p' parameter.* \[0\.0, 1\.0\)\. Got -0\.1 instead"),
        (lambda: MLP((3, 4, 2), activation="swish"), ValueError, r"'swish'.*relu, gelu"),
        (lambda: MLP((3, 2), activation="swish"), ValueError, r"'swish'.*relu, gelu"),
        (lambda: MLP((3, 4, 2), dropout=-0.5), ValueError, r"'dropout' parameter.* \[0\.0, 1\.0\)\. Got -0\.5 instead"),  # noqa: E501
        (lambda: MLP((3, 4, 2), dropout=1.0), ValueError, r"'dropout' parameter.* \[0\.0, 1\.0\)\. Got 1\.0 instead"),  # noqa: E501
        (lambda: MLP((3, 2), dropout=-0.5), ValueError, r"'dropout' parameter.* \[0\.0, 1\.0\)\. Got -0\.5 instead"),  # noqa: E501
        (lambda: MLP((3,)), ValueError, r"MLP: sizes needs an input and an output size"),
        (lambda: Sequential(Linear(2, 2), 3), TypeError, r"Sequential: argument 1 is a int"),
    ],
    ids=[
        "linear_in_0", "linear_out_0", "linear_float", "embedding_0", "dropout_1.5",
        "dropout_1", "dropout_neg", "mlp_activation", "mlp_activation_no_hidden",
        "mlp_dropout_neg", "mlp_dropout_1", "mlp_dropout_no_hidden", "mlp_one_size",
        "sequential_non_module",
    ],
)  # fmt: skip
def test_bad_constructor_args_raise_and_name_the_argument(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_load_state_dict_refuses_integer_arrays_before_changing_anything():
    layer = Linear(2, 1, rng=0)
    before = layer.state_dict()
    with pytest.raises(ValueError, match="weight: expected floating values, got dtype int64"):
        layer.load_state_dict({"weight": np.array([[1, 2]]), "bias": np.array([5.0])})
    np.testing.assert_array_equal(layer.bias.data, before["bias"])


def test_hyperparameters_are_a_snapshot_of_the_arguments():
    sizes = [2, 3]
    model = MLP(sizes, rng=0)
    sizes.append(4)
    assert model.hyperparameters()["sizes"] == [2, 3]


def test_user_class_with_a_theta_name_does_not_shadow_it_in_the_registry():
    theirs = theta.nn.Linear

    class Linear(Module):  # noqa: F811 - deliberately the same name as theta's
        def forward(self, x):
            return x

    assert Module.registry["theta.nn.layers.Linear"] is theirs
    assert Module.registry[registry_name(Linear)] is Linear


def test_modules_and_learners_are_registered_by_one_rule():
    from theta.estimators.linear import LinearRegression
    from theta.models import GPT

    for cls in (Linear, GPT, LinearRegression):  # theta's own are qualified too
        assert registry_name(cls) == f"{cls.__module__}.{cls.__qualname__}"
    assert Module.registry[registry_name(GPT)] is GPT
    assert not hasattr(theta.nn, "registry_name")  # one copy: theta.params.registry_name


# --- PyTorch's structure API: children, modules, apply, buffers, modes, repr (issue #14) ---


class _Pair(Module):
    """Two levels of attribute-held sub-modules and a buffer at each level: the structure
    theta and torch.nn spell the same way (no lists, which torch would wrap in a ModuleList)."""

    def __init__(self):
        self.fc = Linear(3, 4, rng=0, dtype=np.float64)
        self.inner = _Inner()
        self.drop = Dropout(0.5, rng=0)
        self.register_buffer("steps", np.zeros(1))

    def forward(self, x):
        return self.drop(self.inner(self.fc(x)))


class _Inner(Module):
    def __init__(self):
        self.norm = LayerNorm(4, dtype=np.float64)
        self.act = ReLU()
        self.register_buffer("mask", np.tril(np.ones((4, 4))))

    def forward(self, x):
        return self.act(self.norm(x))


def _torch_pair():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm, self.act = nn.LayerNorm(4), nn.ReLU()
            self.register_buffer("mask", torch.tril(torch.ones(4, 4)))

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.inner, self.drop = nn.Linear(3, 4), Inner(), nn.Dropout(0.5)
            self.register_buffer("steps", torch.zeros(1))

    return Pair()


def test_named_modules_children_and_modules_in_torchs_order():
    ours, theirs = _Pair(), _torch_pair()
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.children()] == ["Linear", "_Inner", "Dropout"]
    assert list(ours.modules()) == [m for _, m in ours.named_modules()]


def test_apply_visits_children_before_parents_as_torch():
    ours, theirs = _Pair(), _torch_pair()
    seen, seen_torch = [], []
    assert ours.apply(seen.append) is ours
    theirs.apply(seen_torch.append)
    names = {id(m): n for n, m in ours.named_modules()}
    names_torch = {id(m): n for n, m in theirs.named_modules()}
    assert [names[id(m)] for m in seen] == [names_torch[id(m)] for m in seen_torch]
    assert [names[id(m)] for m in seen][-1] == ""  # the root last


def test_buffers_are_in_state_dict_but_not_in_parameters_as_torch():
    ours, theirs = _Pair(), _torch_pair()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert sorted(n for n, _ in ours.named_parameters()) == sorted(
        n for n, _ in theirs.named_parameters()
    )
    assert not {id(b) for b in ours.buffers()} & {id(p) for p in ours.parameters()}
    assert ours.inner.mask.shape == (4, 4) and not isinstance(ours.inner.mask, Parameter)


def test_load_state_dict_restores_buffers_and_names_a_missing_one():
    source, target = _Pair(), _Pair()
    source.inner.mask[0, 3] = 7.0
    target.load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target.inner.mask.numpy(), source.inner.mask.numpy())
    state = source.state_dict()
    del state["inner.mask"]
    with pytest.raises(ValueError, match=r"missing keys: inner\.mask"):
        target.load_state_dict(state)
    assert target.load_state_dict(state, strict=False).missing_keys == ["inner.mask"]


def test_train_and_eval_set_every_submodule_flag_as_torch():
    ours, theirs = _Pair(), _torch_pair()
    for switch in ("eval", "train"):
        getattr(ours, switch)(), getattr(theirs, switch)()
        assert [m.training for m in ours.modules()] == [m.training for m in theirs.modules()]
    with pytest.raises(TypeError, match="train: mode must be True or False"):
        ours.train("no")


def test_repr_shows_the_tree_of_submodules():
    text = repr(_Pair())
    assert text.splitlines()[0] == "_Pair("
    assert "  (fc): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "  (inner): _Inner(\n    (norm): LayerNorm(" in text
    assert "    (act): ReLU()\n  )\n  (drop): Dropout(p=0.5)\n)" in text
    assert repr(Linear(2, 1, rng=0)) == "Linear(in_features=2, out_features=1, bias=True)"


@pytest.mark.parametrize(
    "value", [np.zeros((1, 2)), Tensor(np.zeros((1, 2))), Tensor(np.zeros((1, 2)), True)]
)
def test_assigning_an_array_where_a_parameter_was_raises_with_the_fix(value):
    layer = Linear(2, 1, rng=0)
    with pytest.raises(TypeError, match=r"Linear\.weight: cannot replace a Parameter .*Parameter"
                       r"\(value\).*register_buffer"):  # fmt: skip
        layer.weight = value
    assert isinstance(layer.weight, Parameter) and layer.n_parameters() == 3
    layer.weight = Parameter(np.ones((1, 2)))  # the fix: a new Parameter is fine
    layer.bias = None  # as in PyTorch, a parameter may be dropped
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_register_buffer_refuses_a_parameters_name_and_a_non_tensor_value():
    layer = Linear(2, 1, rng=0)
    with pytest.raises(KeyError, match="weight already holds a Parameter"):
        layer.register_buffer("weight", np.zeros((1, 2)))
    layer.register_buffer("count", np.zeros(()))
    with pytest.raises(TypeError, match="a buffer must be a Tensor"):
        layer.count = 3
    layer.count = Tensor(np.ones(()))
    assert layer.state_dict()["count"] == 1.0


# --- parameter_budget (crafted configs, issue #13 item 18) -------------------------------------


def test_parameter_budget_allows_a_model_of_exactly_the_budget():
    from theta.nn.init import parameter_budget

    with parameter_budget(MLP((3, 4, 2), rng=0).n_parameters()):
        model = MLP((3, 4, 2), rng=0)
    assert model.n_parameters() == 26


def test_parameter_budget_stops_the_build_at_the_first_parameter_over_it():
    from theta.nn.init import ParameterBudgetError, parameter_budget, skip_init

    created = []

    class Deep(Module):
        def __init__(self, n_layer: int):
            self.layers = []
            for _ in range(n_layer):
                self.layers.append(Linear(4, 4, rng=0))
                created.append(1)

    with pytest.raises(ParameterBudgetError, match="needs more than 40 parameter elements"):
        with skip_init(), parameter_budget(40):
            Deep(100_000)
    assert len(created) == 2  # the third layer's weight (16 more than 40) is refused
    assert issubclass(ParameterBudgetError, ValueError)
    with pytest.raises(ParameterBudgetError):  # a Parameter made by hand counts too
        with parameter_budget(1):
            Parameter(np.zeros(2))
    Parameter(np.zeros(10**3))  # outside the block there is no limit


def test_parameter_budget_refuses_an_allocation_over_it_before_making_it():
    from theta.nn.init import ParameterBudgetError, normal, parameter_budget

    with pytest.raises(ParameterBudgetError, match="brings the total to 1,000,000,000,000"):
        with parameter_budget(10):
            normal((10**6, 10**6), rng=np.random.default_rng(0))


@pytest.mark.parametrize("bad", [-1, 2.5, True, "10"])
def test_parameter_budget_rejects_a_bad_size(bad):
    from theta.nn.init import parameter_budget

    with pytest.raises(ValueError, match="n_elements must be an int >= 0"):
        with parameter_budget(bad):
            pass
