"""RNN, GRU and LSTM against torch.nn with copied weights (float64, 1e-10), their fused
recurrence against a step-by-step reference and finite differences; plus Flatten, Unflatten
and Identity."""

import re

import numpy as np
import pytest
from optable import Op, join, normal, np_sigmoid, table_tests

import theta
from theta import io
from theta.nn import GRU, LSTM, RNN, Flatten, Identity, Unflatten
from theta.nn.recurrent import Recurrence

torch = pytest.importorskip("torch")
TOL = 1e-10
T, B, H = 4, 2, 3


# --- the fused recurrence, one direction of one layer ----------------------------------------


def reference(lib, cell, reverse):
    """The recurrence written out step by step with ``lib`` (numpy or torch) operations."""
    sigmoid = np_sigmoid if lib is np else torch.sigmoid
    relu = (lambda a: np.maximum(a, 0.0)) if lib is np else torch.relu

    def run(xw, w_hh, b_hh, h, c=None):
        states = [None] * xw.shape[0]
        for t in range(xw.shape[0] - 1, -1, -1) if reverse else range(xw.shape[0]):
            hw = h @ w_hh.T + b_hh
            if cell == "gru":
                r = sigmoid(xw[t, :, :H] + hw[:, :H])
                z = sigmoid(xw[t, :, H : 2 * H] + hw[:, H : 2 * H])
                n = lib.tanh(xw[t, :, 2 * H :] + r * hw[:, 2 * H :])
                h = (1 - z) * n + z * h
            elif cell == "lstm":
                pre = xw[t] + hw
                i, f = sigmoid(pre[:, :H]), sigmoid(pre[:, H : 2 * H])
                g, o = lib.tanh(pre[:, 2 * H : 3 * H]), sigmoid(pre[:, 3 * H :])
                c = f * c + i * g
                h = o * lib.tanh(c)
            else:
                h = lib.tanh(xw[t] + hw) if cell == "tanh" else relu(xw[t] + hw)
            states[t] = h if cell != "lstm" else lib.concatenate([h, c], -1)
        return lib.stack(states)

    return run


def row(cell, reverse=False, steps=T):
    G = {"gru": 3, "lstm": 4}.get(cell, 1)
    shapes = [(steps, B, G * H), (G * H, H), (G * H,), (B, H)] + [(B, H)] * (cell == "lstm")

    def fn(*inputs):
        return Recurrence.apply(*inputs, cell=cell, reverse=reverse)

    name = f"{cell}{'_reverse' if reverse else ''}_T{steps}"
    return Op(name, fn, reference(np, cell, reverse), reference(torch, cell, reverse),
              join(normal(*shapes)))  # fmt: skip


ROWS = [
    row("tanh"), row("tanh", reverse=True), row("tanh", steps=1), row("relu"),
    row("gru"), row("gru", reverse=True), row("gru", steps=1),
    row("lstm"), row("lstm", reverse=True), row("lstm", steps=1),
]  # fmt: skip

(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(ROWS)


# --- the layers next to torch.nn -----------------------------------------------------------------

CLASSES = {"rnn": (RNN, torch.nn.RNN), "gru": (GRU, torch.nn.GRU), "lstm": (LSTM, torch.nn.LSTM)}
OPTIONS = [
    {},
    {"num_layers": 2},
    {"num_layers": 2, "bidirectional": True},
    {"bias": False, "batch_first": True},
    {"bidirectional": True, "batch_first": True},
]


def twins(kind, **kwargs):
    """A theta layer (float64) and its torch twin, theta's weights loaded from torch's."""
    ours_cls, torch_cls = CLASSES[kind]
    twin = torch_cls(3, H, **kwargs).double()
    ours = ours_cls(3, H, **kwargs, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    return ours, twin


def initial_state(layer, rng, batched=True):
    n = layer.num_layers * (2 if layer.bidirectional else 1)
    shape = (n, B, H) if batched else (n, H)
    return [rng.standard_normal(shape) for _ in range(2 if isinstance(layer, LSTM) else 1)]


def run_both(ours, twin, x, hx, rng):
    """Forward and backward through both with one upstream gradient on every output."""
    ours_in = [theta.tensor(a, requires_grad=True) for a in [x, *hx]]
    torch_in = [torch.tensor(a, requires_grad=True) for a in [x, *hx]]

    def call(layer, inputs):
        state = None if not hx else (tuple(inputs[1:]) if len(hx) == 2 else inputs[1])
        out, h_n = layer(inputs[0], state)
        return [out, *(h_n if isinstance(h_n, tuple) else (h_n,))]

    ours_out, torch_out = call(ours, ours_in), call(twin, torch_in)
    seeds = [rng.standard_normal(o.shape) for o in ours_out]
    sum(((o * s).sum() for o, s in zip(ours_out, seeds, strict=True)), start=0.0).backward()
    sum((o * torch.tensor(s)).sum() for o, s in zip(torch_out, seeds, strict=True)).backward()
    for i, (o, r) in enumerate(zip(ours_out, torch_out, strict=True)):
        np.testing.assert_allclose(
            o.data, r.detach().numpy(), rtol=TOL, atol=TOL, err_msg=f"output {i}"
        )
    for i, (a, b) in enumerate(zip(ours_in, torch_in, strict=True)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=TOL, atol=TOL, err_msg=f"in {i}")
    theirs = dict(twin.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), rtol=TOL, atol=TOL,
                                   err_msg=name)  # fmt: skip


@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("kind", CLASSES)
def test_layers_match_torch(kind, options, rng):
    ours, twin = twins(kind, **options)
    x = rng.standard_normal((B, T, 3) if options.get("batch_first") else (T, B, 3))
    run_both(ours, twin, x, initial_state(ours, rng), rng)
    run_both(ours, twin, x, [], rng)  # zeros as the initial state


@pytest.mark.parametrize("kind", CLASSES)
def test_unbatched_input_matches_torch(kind, rng):
    ours, twin = twins(kind, num_layers=2, bidirectional=True)
    run_both(ours, twin, rng.standard_normal((T, 3)), initial_state(ours, rng, False), rng)


def test_relu_rnn_matches_torch(rng):
    twin = torch.nn.RNN(3, H, nonlinearity="relu", num_layers=2).double()
    ours = RNN(3, H, 2, nonlinearity="relu", dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    run_both(ours, twin, rng.standard_normal((T, B, 3)), initial_state(ours, rng), rng)


@pytest.mark.parametrize("kind", CLASSES)
def test_names_and_shapes_are_torchs_and_load_both_ways(kind):
    ours, twin = twins(kind, num_layers=2, bidirectional=True)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in twin.state_dict().items()
    }
    assert list(ours.state_dict()) == list(twin.state_dict())
    back = CLASSES[kind][1](3, H, num_layers=2, bidirectional=True).double()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[name])


def test_initial_weights_are_uniform_within_one_over_sqrt_hidden():
    weights = np.concatenate([v.ravel() for v in LSTM(5, 16, 2, rng=0).state_dict().values()])
    assert np.abs(weights).max() <= 0.25 and np.abs(weights).max() > 0.24
    a, b = GRU(2, 4, rng=1).state_dict(), GRU(2, 4, rng=1).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_dropout_acts_between_layers_only_in_training(rng):
    x = theta.tensor(rng.standard_normal((T, B, 3)))
    with_dropout = GRU(3, H, 2, dropout=0.5, rng=0)
    without = GRU(3, H, 2, rng=0)
    assert not np.allclose(with_dropout(x)[0].data, without(x)[0].data)
    np.testing.assert_array_equal(with_dropout.eval()(x)[0].data, without(x)[0].data)
    single = GRU(3, H, 1, dropout=0.5, rng=0)  # one layer: nothing between layers to drop
    np.testing.assert_array_equal(single(x)[0].data, GRU(3, H, 1, rng=0)(x)[0].data)


def test_io_round_trip(tmp_path, rng):
    lstm = LSTM(3, H, 2, bidirectional=True, batch_first=True, dropout=0.1, rng=0)
    io.save(lstm, tmp_path / "lstm")
    again = io.load(tmp_path / "lstm")
    assert type(again) is LSTM and again.hyperparameters() == lstm.hyperparameters()
    x = rng.standard_normal((B, T, 3)).astype(np.float32)
    out, (h_n, c_n) = again.eval()(x)
    expected = lstm.eval()(x)
    np.testing.assert_array_equal(out.data, expected[0].data)
    np.testing.assert_array_equal(c_n.data, expected[1][1].data)


def test_float32_layers_stay_float32(rng):
    for layer in (RNN(3, H, rng=0), GRU(3, H, rng=0), LSTM(3, H, rng=0)):
        x = theta.tensor(rng.standard_normal((T, B, 3)).astype(np.float32), requires_grad=True)
        out, _ = layer(x)
        out.sum().backward()
        assert out.dtype == x.grad.dtype == layer.weight_hh_l0.grad.dtype == np.float32


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: LSTM(3, H)(np.ones((T, B, 4))), ValueError,
         "LSTM: expected input of shape (T, B, 3)"),
        (lambda: GRU(3, H)(np.ones((T, B, 3)), np.ones((2, B, H))), ValueError,
         "GRU: h0 must have shape (1, 2, 3) (got (2, 2, 3))"),
        (lambda: LSTM(3, H)(np.ones((T, B, 3)), np.ones((1, B, H))), TypeError,
         "LSTM: hx must be a tuple (h0, c0)"),
        (lambda: LSTM(3, H)(np.ones((T, B, 3)), (np.ones((1, B, H)), np.ones((1, H)))),
         ValueError, "LSTM: c0 must have shape (1, 2, 3)"),
        (lambda: RNN(3, H, nonlinearity="sigmoid"), ValueError,
         "The 'nonlinearity' parameter of RNN must be a str among"),
        (lambda: RNN(3, 0), ValueError, "hidden_size"),
        (lambda: GRU(3, H, dropout=1.0), ValueError, "dropout"),
    ],
    ids=["input_size", "h0_shape", "hx_not_tuple", "c0_shape", "nonlinearity", "hidden", "p"],
)  # fmt: skip
def test_errors_name_the_layer_and_shapes(call, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        call()


# --- Flatten, Unflatten, Identity -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "twin", "shape"),
    [
        (Flatten(), torch.nn.Flatten(), (2, 3, 4, 5)),
        (Flatten(0, 1), torch.nn.Flatten(0, 1), (2, 3, 4)),
        (Flatten(-2), torch.nn.Flatten(-2), (2, 3, 4)),
        (Unflatten(1, (3, 4)), torch.nn.Unflatten(1, (3, 4)), (2, 12, 5)),
        (Unflatten(-1, (2, -1)), torch.nn.Unflatten(-1, (2, -1)), (3, 8)),
        (Identity(), torch.nn.Identity(), (2, 3)),
    ],
    ids=["default", "0_1", "neg", "unflatten", "unflatten_minus1", "identity"],
)
def test_shape_layers_match_torch(ours, twin, shape, rng):
    x = rng.standard_normal(shape)
    x_ours, x_torch = theta.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(x_ours), twin(x_torch)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    ref.backward(torch.from_numpy(seed))
    np.testing.assert_array_equal(x_ours.grad, x_torch.grad.numpy())


def test_shape_layers_save_and_load(tmp_path):
    for i, layer in enumerate([Flatten(0, 2), Unflatten(-1, (2, 3)), Identity()]):
        io.save(layer, tmp_path / str(i))
        again = io.load(tmp_path / str(i))
        assert type(again) is type(layer)
        lists = [
            {k: list(v) if isinstance(v, tuple | list) else v for k, v in hyper.items()}
            for hyper in (again.hyperparameters(), layer.hyperparameters())
        ]
        assert lists[0] == lists[1]
        x = np.arange(24.0).reshape(2, 2, 6)
        np.testing.assert_array_equal(again(x).data, layer(x).data)


def test_unflatten_errors():
    with pytest.raises(ValueError, match=r"sizes \(5, -1\) do not multiply to 12"):
        Unflatten(1, (5, -1))(np.ones((2, 12)))
    with pytest.raises(IndexError, match="axis 2 is out of bounds"):
        Unflatten(2, (3, 4))(np.ones((2, 12)))
