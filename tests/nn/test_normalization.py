"""Batch, group and layer normalisation against NumPy, finite differences and PyTorch (float64,
1e-10).

The functions go through the op table; the layers are run next to their torch.nn twins with
the same weights for several training steps, so the running statistics, ``num_batches_tracked``
and eval mode are checked as well as every gradient. LayerNorm runs on both kernel backends
(``kernel_backend``: NumPy and the compiled kernels).
"""

import math
import re

import numpy as np
import pytest
from optable import Op, join, normal, positive, table_tests

import theta
from theta import io
from theta.nn import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from theta.nn.functional import batch_norm, group_norm, layer_norm

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = 1e-10


# --- NumPy references, straight from the definitions ---------------------------------------


def np_batch_norm(x, mean=None, var=None, weight=None, bias=None, eps=1e-5):
    """Batch statistics when ``mean`` is None; per-channel affine on axis 1."""
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if mean is None:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        out = out * weight.reshape(shape) + bias.reshape(shape)
    return out


def np_group_norm(x, groups, weight=None, bias=None, eps=1e-5):
    view = x.reshape(x.shape[0], groups, math.prod(x.shape[1:]) // groups)
    out = (view - view.mean(axis=2, keepdims=True)) / np.sqrt(view.var(axis=2, keepdims=True) + eps)
    out = out.reshape(x.shape)
    if weight is not None:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        out = out * weight.reshape(shape) + bias.reshape(shape)
    return out


RUN_MEAN = np.array([0.3, -0.2, 0.5])
RUN_VAR = np.array([0.8, 1.5, 0.6])


def bn_train(x, w=None, b=None):
    return batch_norm(x, None, None, w, b, training=True)


def bn_eval(x, w=None, b=None):
    return batch_norm(x, RUN_MEAN.copy(), RUN_VAR.copy(), w, b, training=False)


def torch_bn_train(x, w=None, b=None):
    return F.batch_norm(x, None, None, w, b, training=True)


def torch_bn_eval(x, w=None, b=None):
    mean, var = torch.tensor(RUN_MEAN), torch.tensor(RUN_VAR)
    return F.batch_norm(x.double(), mean, var, w, b, training=False).to(x.dtype)


def gn(groups):
    return lambda x, w=None, b=None: group_norm(x, groups, w, b)


def torch_gn(groups):
    return lambda x, w=None, b=None: F.group_norm(x, groups, w, b)


def np_gn(groups):
    return lambda x, w=None, b=None: np_group_norm(x, groups, w, b)


def np_bn_train(x, w=None, b=None):
    return np_batch_norm(x, None, None, w, b)


def np_bn_eval(x, w=None, b=None):
    return np_batch_norm(x, RUN_MEAN, RUN_VAR, w, b)


AFFINE = normal((3,), (3,))

ROWS = [
    Op("bn_train_NC", bn_train, np_bn_train, torch_bn_train, join(normal((4, 3)), AFFINE)),
    Op("bn_train_NCL", bn_train, np_bn_train, torch_bn_train, join(normal((2, 3, 5)), AFFINE)),
    Op("bn_train_NCHW", bn_train, np_bn_train, torch_bn_train,
       join(normal((2, 3, 2, 3)), AFFINE)),
    Op("bn_train_no_affine", bn_train, np_bn_train, torch_bn_train, normal((3, 3, 2))),
    Op("bn_train_size1_batch", bn_train, np_bn_train, torch_bn_train,
       join(normal((1, 3, 4)), AFFINE)),
    Op("bn_eval_NCL", bn_eval, np_bn_eval, torch_bn_eval, join(normal((2, 3, 4)), AFFINE)),
    Op("bn_eval_NC_size1", bn_eval, np_bn_eval, torch_bn_eval, join(normal((1, 3)), AFFINE)),
    Op("bn_eval_size0_batch", bn_eval, np_bn_eval, torch_bn_eval, join(normal((0, 3, 2)), AFFINE)),
    Op("bn_eval_no_affine", bn_eval, np_bn_eval, torch_bn_eval, normal((2, 3, 2, 2))),
    Op("gn_2_groups", gn(2), np_gn(2), torch_gn(2), join(normal((2, 4, 3)), normal((4,), (4,)))),
    Op("gn_1_group_NC", gn(1), np_gn(1), torch_gn(1), join(normal((3, 4)), normal((4,), (4,)))),
    Op("gn_instance_NCHW", gn(4), np_gn(4), torch_gn(4),
       join(normal((2, 4, 2, 3)), normal((4,), (4,)))),
    Op("gn_no_affine", gn(3), np_gn(3), torch_gn(3), normal((2, 6, 2))),
    Op("gn_size0_batch", gn(2), np_gn(2), torch_gn(2),
       join(normal((0, 4, 3)), positive((4,), (4,)))),
]  # fmt: skip

(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(ROWS)


# --- the layers next to torch.nn ---------------------------------------------------------------


def twins(kind, *args, **kwargs):
    """A theta layer and its torch twin in float64 with the same random affine weights."""
    ours = {"1d": BatchNorm1d, "2d": BatchNorm2d, "gn": GroupNorm, "ln": LayerNorm}[kind](
        *args, dtype=np.float64, **kwargs
    )
    twin = {
        "1d": torch.nn.BatchNorm1d, "2d": torch.nn.BatchNorm2d, "gn": torch.nn.GroupNorm,
        "ln": torch.nn.LayerNorm,
    }[kind](*args, **kwargs).double()  # fmt: skip
    rng = np.random.default_rng(1)
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()}, strict=True)
    return ours, twin


def step(ours, twin, x, rng):
    """One forward and backward through both; outputs and every gradient agree."""
    x_ours, x_torch = theta.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(x_ours), twin(x_torch)
    assert out.dtype == x.dtype
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=TOL, atol=TOL)
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    ref.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(x_ours.grad, x_torch.grad.numpy(), rtol=TOL, atol=TOL)
    theirs = dict(twin.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), rtol=TOL, atol=TOL)
        p.grad, theirs[name].grad = None, None


def same_state(ours, twin):
    theirs = twin.state_dict()
    assert list(ours.state_dict()) == list(theirs)
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, theirs[name].numpy(), rtol=TOL, atol=TOL, err_msg=name)


LAYERS = [
    ("1d", (3,), {}, (4, 3)),
    ("1d", (3,), {}, (2, 3, 5)),
    ("2d", (3,), {}, (2, 3, 2, 3)),
    ("1d", (3,), {"momentum": None}, (4, 3, 2)),
    ("2d", (3,), {"momentum": 0.5, "eps": 1e-3}, (3, 3, 2, 2)),
    ("1d", (3,), {"affine": False}, (4, 3)),
    ("2d", (3,), {"track_running_stats": False}, (2, 3, 2, 2)),
    ("gn", (2, 4), {}, (2, 4, 3)),
    ("gn", (3, 6), {"affine": False, "eps": 1e-3}, (2, 6, 2, 2)),
]


@pytest.mark.parametrize(("kind", "args", "kwargs", "shape"), LAYERS, ids=str)
def test_layers_match_torch_in_training_then_eval(kind, args, kwargs, shape, rng):
    ours, twin = twins(kind, *args, **kwargs)
    for _ in range(3):  # the running statistics follow torch's over several batches
        step(ours, twin, rng.standard_normal(shape) * 2 + 1, rng)
        same_state(ours, twin)
    ours.eval(), twin.eval()
    step(ours, twin, rng.standard_normal(shape), rng)
    same_state(ours, twin)


LAYER_NORMS = [
    ((6,), {}, (4, 6)),
    ((128,), {}, (2, 3, 128)),
    (((4, 5),), {"eps": 1e-3}, (3, 4, 5)),
    ((384,), {"eps": 1e-12}, (5, 384)),
]


@pytest.mark.parametrize(("args", "kwargs", "shape"), LAYER_NORMS, ids=str)
def test_layer_norm_matches_torch(args, kwargs, shape, kernel_backend, rng):
    ours, twin = twins("ln", *args, **kwargs)
    for _ in range(2):
        step(ours, twin, rng.standard_normal(shape) * 2 + 1, rng)


@pytest.mark.parametrize(("args", "kwargs", "shape"), LAYER_NORMS, ids=str)
def test_float32_layer_norm_matches_torch(args, kwargs, shape, kernel_backend, rng):
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    ours, twin = LayerNorm(*args, **kwargs), torch.nn.LayerNorm(*args, **kwargs)
    x_ours, x_torch = theta.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(x_ours), twin(x_torch)
    seed = rng.standard_normal(shape).astype(np.float32)
    out.backward(seed)
    ref.backward(torch.from_numpy(seed))
    got = (out.data, x_ours.grad, ours.weight.grad, ours.bias.grad)
    want = (ref, x_torch.grad, twin.weight.grad, twin.bias.grad)
    for a, r in zip(got, want, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, r.detach().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("shape", "norm_shape"), [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5))])
def test_layer_norm_gradcheck(shape, norm_shape, kernel_backend, rng):
    x, w, b = (rng.standard_normal(s) for s in (shape, norm_shape, norm_shape))
    report = theta.gradcheck(lambda x, w, b: layer_norm(x, w, b, eps=1e-5), x, w, b)
    assert report.ok, str(report)
    assert report.ops == ("LayerNorm",)


def test_buffers_are_saved_but_not_trained():
    bn = BatchNorm2d(4)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                  "num_batches_tracked"]  # fmt: skip
    assert list(bn.state_dict()) == list(torch.nn.BatchNorm2d(4).state_dict())
    assert bn.state_dict()["num_batches_tracked"].dtype == np.int64
    assert list(BatchNorm1d(2, track_running_stats=False, affine=False).state_dict()) == []


def test_a_torch_state_dict_loads_strictly_and_back(rng):
    twin = torch.nn.BatchNorm1d(3).double()
    twin(torch.tensor(rng.standard_normal((5, 3))))  # running statistics away from 0 and 1
    ours = BatchNorm1d(3, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()}, strict=True)
    same_state(ours, twin)
    back = torch.nn.BatchNorm1d(3).double()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    same_state(ours, back)


@pytest.mark.parametrize(
    "layer",
    [
        BatchNorm2d(3, momentum=0.3),
        GroupNorm(2, 4, eps=1e-3),
    ],
    ids=["BatchNorm2d", "GroupNorm"],
)
def test_io_round_trip_keeps_buffers_and_hyperparameters(layer, tmp_path, rng):
    channels = layer.state_dict()["weight"].shape[0]
    x = rng.standard_normal((2, channels, 2, 2)).astype(np.float32)
    layer.train()(theta.tensor(x))
    io.save(layer, tmp_path / "norm")
    again = io.load(tmp_path / "norm")
    assert type(again) is type(layer) and again.hyperparameters() == layer.hyperparameters()
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[name], value, err_msg=name, strict=True)
    np.testing.assert_array_equal(again.eval()(x).data, layer.eval()(x).data)


def test_float32_layers_stay_float32(rng):
    for layer, shape in [(BatchNorm1d(3), (4, 3)), (GroupNorm(1, 3), (2, 3, 2))]:
        x = theta.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        layer(x).sum().backward()
        assert x.grad.dtype == np.float32 and layer.weight.grad.dtype == np.float32
        assert layer.eval()(x).dtype == np.float32


def test_momentum_none_is_a_cumulative_average(rng):
    bn = BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rng.standard_normal((4, 2)) for _ in range(3)]
    for x in batches:
        bn(theta.tensor(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in batches], 0))
    np.testing.assert_allclose(bn.running_var.data, np.mean([x.var(0, ddof=1) for x in batches], 0))


def test_eval_mode_does_not_touch_the_running_statistics(rng):
    bn = BatchNorm2d(2).eval()
    before = bn.state_dict()
    bn(theta.tensor(rng.standard_normal((2, 2, 3, 3))))
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "shape", "fragment"),
    [
        (BatchNorm1d(3), (2, 4), "BatchNorm1d: input of shape (2, 4) has 4 channels"),
        (BatchNorm1d(3), (2, 3, 4, 5), "BatchNorm1d: expected input of shape (N, C) or (N, C, L)"),
        (BatchNorm2d(3), (2, 3, 4), "BatchNorm2d: expected input of shape (N, C, H, W)"),
        (BatchNorm2d(3), (2, 5, 4, 4), "expected num_features=3"),
        (GroupNorm(2, 4), (2, 6, 3), "GroupNorm: input of shape (2, 6, 3) has 6 channels"),
        (GroupNorm(2, 4), (4,), "GroupNorm: input must have shape (N, C, *)"),
        (BatchNorm1d(3), (1, 3), "expected more than 1 value per channel when training"),
    ],
)
def test_wrong_inputs_name_the_layer_and_shapes(layer, shape, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        layer(theta.tensor(np.ones(shape)))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        GroupNorm(3, 4)
    with pytest.raises(ValueError, match="num_groups must be a positive divisor"):
        group_norm(theta.tensor(np.ones((2, 4))), 3)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        batch_norm(theta.tensor(np.ones((2, 3))), None, None, np.ones(2), np.ones(2), True)
    with pytest.raises(ValueError, match="give both weight and bias"):
        group_norm(theta.tensor(np.ones((2, 4))), 2, np.ones(4))
    with pytest.raises(ValueError, match="running_var, but they are None"):
        batch_norm(theta.tensor(np.ones((2, 3))), None, None)
    with pytest.raises(ValueError, match=r"both have shape \(3,\)"):
        batch_norm(theta.tensor(np.ones((2, 3))), np.zeros(2), np.ones(2))
