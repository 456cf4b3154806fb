"""Convolutions against a loop over kernel offsets in NumPy and against torch.nn.functional.

The op table checks forward values, finite-difference gradients, PyTorch's gradients and
float32; a product of stride, padding, dilation, groups and bias checks every gradient
against PyTorch; Hypothesis compares conv2d with a plain Python loop over output pixels;
the layers are checked against torch.nn with copied weights and through save/load.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optable import Op, join, normal, table_tests

import theta
from theta import io
from theta.errors import InvalidParameterError
from theta.nn import Conv1d, Conv2d, ConvTranspose2d
from theta.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation as a sum over kernel offsets of strided slices (NumPy only)."""
    s = (stride, stride) if isinstance(stride, int) else stride
    d = (dilation, dilation) if isinstance(dilation, int) else dilation
    kh, kw = w.shape[2:]
    if padding == "same":
        pads = [(t // 2, t - t // 2) for t in (d[0] * (kh - 1), d[1] * (kw - 1))]
    else:
        p = (0, 0) if padding == "valid" else padding
        p = (p, p) if isinstance(p, int) else p
        pads = [(p[0], p[0]), (p[1], p[1])]
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    oh = (xp.shape[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (xp.shape[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for g in range(groups):
        xg, wg = xp[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * d[0] : i * d[0] + s[0] * (oh - 1) + 1 : s[0],
                           j * d[1] : j * d[1] + s[1] * (ow - 1) + 1 : s[1]]  # fmt: skip
                out[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    return out if b is None else out + b[:, None, None]


def np_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    pad = padding if isinstance(padding, str) else (0, padding)
    out = np_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), pad, (1, dilation), groups)
    return out[:, :, 0]


def np_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                        dilation=1):  # fmt: skip
    """Scatter each input pixel times the kernel into the full output, then crop."""
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    cg, og = c // groups, w.shape[1]
    full = np.zeros((n, og * groups, (h - 1) * stride + dilation * (kh - 1) + 1 + output_padding,
                     (wd - 1) * stride + dilation * (kw - 1) + 1 + output_padding))  # fmt: skip
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("nchw,co->nohw", x[:, g * cg : (g + 1) * cg],
                                    w[g * cg : (g + 1) * cg, :, i, j])  # fmt: skip
                rows = slice(i * dilation, i * dilation + stride * (h - 1) + 1, stride)
                cols = slice(j * dilation, j * dilation + stride * (wd - 1) + 1, stride)
                full[:, g * og : (g + 1) * og, rows, cols] += contrib
    out = full[:, :, padding : full.shape[2] - padding, padding : full.shape[3] - padding]
    return out if b is None else out + b[:, None, None]


def conv2d_row(name, x, w, bias=False, **kw):
    """A table row for conv2d with keywords ``kw``, optionally with a bias."""
    shapes = [x, w] + ([(w[0],)] if bias else [])
    return Op(
        name,
        lambda *a: F.conv2d(*a[:2], a[2] if bias else None, **kw),
        lambda *a: np_conv2d(*a[:2], a[2] if bias else None, **kw),
        lambda *a: TF.conv2d(*a[:2], a[2] if bias else None, **kw),
        normal(*shapes),
    )


ROWS = [
    conv2d_row("conv2d", (2, 3, 5, 4), (4, 3, 3, 2)),
    conv2d_row("conv2d_bias_stride_pad", (2, 2, 6, 5), (3, 2, 3, 3), True, stride=2, padding=1),
    conv2d_row("conv2d_same_dilation", (1, 2, 5, 6), (2, 2, 2, 3), True, padding="same",
               dilation=2),  # fmt: skip
    conv2d_row("conv2d_groups", (2, 4, 4, 4), (6, 2, 2, 2), True, groups=2, stride=(1, 2)),
    conv2d_row("conv2d_depthwise_valid", (1, 3, 4, 4), (3, 1, 3, 3), padding="valid", groups=3),
    conv2d_row("conv2d_1x1", (2, 3, 3, 3), (2, 3, 1, 1)),
    conv2d_row("conv2d_batch_of_one_kernel_fills_input", (1, 1, 3, 3), (1, 1, 3, 3), True),
    conv2d_row("conv2d_size0_batch", (0, 2, 4, 4), (3, 2, 3, 3), True, padding=1),
    # 32 channels per group and stride 1: the shifted-slice kernel instead of im2col
    conv2d_row("conv2d_shifted", (2, 32, 4, 5), (3, 32, 3, 2), True, padding=1),
    conv2d_row("conv2d_shifted_same_dilation_groups", (1, 64, 4, 4), (4, 32, 2, 2),
               padding="same", dilation=2, groups=2),  # fmt: skip
    Op(
        "conv1d",
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
        lambda x, w, b: np_conv1d(x, w, b, stride=2, padding=1, dilation=2),
        lambda x, w, b: TF.conv1d(x, w, b, stride=2, padding=1, dilation=2),
        normal((2, 4, 9), (3, 4, 3), (3,)),
    ),
    Op(
        "conv1d_same_groups",
        lambda x, w: F.conv1d(x, w, padding="same", groups=2),
        lambda x, w: np_conv1d(x, w, padding="same", groups=2),
        lambda x, w: TF.conv1d(x, w, padding="same", groups=2),
        normal((2, 4, 7), (2, 2, 3)),
    ),
    Op(
        "conv1d_shifted",
        lambda x, w: F.conv1d(x, w, padding=2),
        lambda x, w: np_conv1d(x, w, padding=2),
        lambda x, w: TF.conv1d(x, w, padding=2),
        normal((2, 32, 5), (2, 32, 3)),
    ),
    Op(
        "conv_transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: np_conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        normal((2, 3, 3, 4), (3, 2, 3, 3), (2,)),
    ),
    Op(
        "conv_transpose2d_groups_dilation",
        lambda x, w: F.conv_transpose2d(x, w, groups=2, dilation=2),
        lambda x, w: np_conv_transpose2d(x, w, groups=2, dilation=2),
        lambda x, w: TF.conv_transpose2d(x, w, groups=2, dilation=2),
        join(normal((1, 4, 3, 2)), normal((4, 3, 2, 2))),
    ),
]

(
    test_forward_matches_numpy,
    test_gradients_match_finite_differences,
    test_matches_torch,
    test_float32_stays_float32,
) = table_tests(ROWS)


def _compare(ours, theirs, arrays, rng):
    """Forward and every gradient of ``ours`` equal ``theirs`` (torch) in float64."""
    ts = [theta.tensor(a, requires_grad=True) for a in arrays]
    qs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*ts), theirs(*qs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    seed = rng.standard_normal(out.shape)
    out.backward(seed)
    ref.backward(torch.from_numpy(seed))
    for i, (t, q) in enumerate(zip(ts, qs, strict=True)):
        np.testing.assert_allclose(t.grad, q.grad.numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=f"gradient of input {i}")  # fmt: skip


# PyTorch refuses "same" for strided convolutions (tested below), so those combinations are out
PRODUCT = [
    case
    for case in itertools.product([1, 2], [0, 1, (2, 0), "same", "valid"], [1, 2], [1, 2], [0, 1])
    if not (case[1] == "same" and case[0] > 1)
]


@pytest.mark.parametrize("stride, padding, dilation, groups, bias", PRODUCT)
@pytest.mark.parametrize("channels", [4, 64])  # 64: stride 1 takes the shifted-slice kernel
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_conv1d_and_conv2d_match_torch_over_all_keywords(
    stride, padding, dilation, groups, bias, channels, rng
):
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    b = [rng.standard_normal(4)] if bias else []
    w = rng.standard_normal((4, channels // groups, 3, 2))
    arrays = [rng.standard_normal((2, channels, 7, 6)), w, *b]
    _compare(lambda *a: F.conv2d(*a[:2], *a[2:], **kw),
             lambda *a: TF.conv2d(*a[:2], *a[2:], **kw), arrays, rng)  # fmt: skip
    if isinstance(padding, tuple):
        return
    arrays = [rng.standard_normal((2, channels, 9)), w[..., 0], *b]
    _compare(lambda *a: F.conv1d(*a[:2], *a[2:], **kw),
             lambda *a: TF.conv1d(*a[:2], *a[2:], **kw), arrays, rng)  # fmt: skip


@pytest.mark.parametrize(
    "stride, padding, dilation, groups, bias",
    [p for p in PRODUCT if not isinstance(p[1], str)],
)
def test_conv_transpose2d_matches_torch_over_all_keywords(
    stride, padding, dilation, groups, bias, rng
):
    for output_padding in range(max(stride, dilation)):
        kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)  # fmt: skip
        b = [rng.standard_normal(6)] if bias else []
        w = rng.standard_normal((4, 6 // groups, 3, 2))
        arrays = [rng.standard_normal((2, 4, 4, 3)), w, *b]
        _compare(lambda *a, kw=kw: F.conv_transpose2d(*a, **kw),
                 lambda *a, kw=kw: TF.conv_transpose2d(*a, **kw), arrays, rng)  # fmt: skip


def test_only_the_gradients_asked_for_are_computed(rng):
    x = theta.tensor(rng.standard_normal((1, 2, 4, 4)))
    w = theta.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 2, 3, 3)
    x.requires_grad, w.requires_grad = True, False
    w.grad = None
    F.conv_transpose2d(x, theta.tensor(rng.standard_normal((2, 3, 2, 2)))).sum().backward()
    assert x.grad.shape == x.shape and w.grad is None


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(1, 6),
    w=st.integers(1, 6), k=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_conv2d_equals_a_loop_over_output_pixels(n, c, o, h, w, k, stride, pad, seed):
    if k > min(h, w) + 2 * pad:
        return
    rng = np.random.default_rng(seed)
    x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k))
    got = F.conv2d(theta.tensor(x), theta.tensor(wt), stride=stride, padding=pad).data
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    want = np.zeros((n, o, oh, ow))
    for b, out_c, i, j in itertools.product(range(n), range(o), range(oh), range(ow)):
        window = xp[b, :, i * stride : i * stride + k, j * stride : j * stride + k]
        want[b, out_c, i, j] = (window * wt[out_c]).sum()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


# --- layers ---------------------------------------------------------------------------------

LAYERS = [
    (lambda: Conv2d(3, 4, 3, stride=2, padding=1, rng=0, dtype=np.float64),
     lambda: torch.nn.Conv2d(3, 4, 3, 2, 1),
     (2, 3, 7, 6)),
    (lambda: Conv2d(4, 6, (2, 3), padding="same", groups=2, bias=False, dilation=2, rng=0,
                    dtype=np.float64),
     lambda: torch.nn.Conv2d(4, 6, (2, 3), padding="same", groups=2, bias=False, dilation=2),
     (1, 4, 5, 5)),
    (lambda: Conv1d(2, 3, 3, stride=2, rng=0, dtype=np.float64),
     lambda: torch.nn.Conv1d(2, 3, 3, stride=2), (2, 2, 8)),
    (lambda: ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2, rng=0,
                             dtype=np.float64),
     lambda: torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
     (2, 4, 3, 3)),
]  # fmt: skip


@pytest.mark.parametrize("make, make_torch, shape", LAYERS)
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
def test_layer_matches_torch_with_copied_weights(make, make_torch, shape, rng):
    layer, twin = make(), make_torch().double()
    assert list(layer.state_dict()) == list(twin.state_dict())
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x = rng.standard_normal(shape)
    ours, theirs = layer(theta.tensor(x)), twin(torch.from_numpy(x))
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)
    seed = rng.standard_normal(ours.shape)
    ours.backward(seed)
    theirs.backward(torch.from_numpy(seed))
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, dict(twin.named_parameters())[name].grad.numpy(),
                                   rtol=1e-10, atol=1e-10, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("make, make_torch, shape", LAYERS)
def test_torch_state_dict_loads_strictly_and_back(make, make_torch, shape, tmp_path):
    layer, twin = make(), make_torch().double()
    assert layer.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()}) == ([], [])
    for k, v in twin.state_dict().items():
        np.testing.assert_array_equal(layer.state_dict()[k], v.numpy())
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in make().state_dict().items()},
                         strict=True)  # fmt: skip
    # the default initialisation has PyTorch's bound 1 / sqrt(fan_in)
    fan_in = twin.weight.shape[1] * np.prod(twin.weight.shape[2:])
    assert np.abs(make().weight.data).max() <= 1 / np.sqrt(fan_in)


@pytest.mark.parametrize("make, make_torch, shape", LAYERS)
def test_save_load_round_trip(make, make_torch, shape, tmp_path, rng):
    layer = make()
    io.save(layer, tmp_path / "m")
    loaded = io.load(tmp_path / "m")
    assert type(loaded) is type(layer) and repr(loaded) == repr(layer)
    x = theta.tensor(rng.standard_normal(shape))
    np.testing.assert_array_equal(loaded(x).data, layer(x).data)


def test_repr_is_pytorchs():
    assert repr(Conv2d(1, 8, 3)) == repr(torch.nn.Conv2d(1, 8, 3))
    cases = [(Conv2d(4, 8, (3, 1), 2, 1, 2, groups=2, bias=False),
              torch.nn.Conv2d(4, 8, (3, 1), 2, 1, 2, groups=2, bias=False)),
             (Conv1d(2, 2, 3, padding="same"), torch.nn.Conv1d(2, 2, 3, padding="same")),
             (ConvTranspose2d(2, 3, 2, 2, output_padding=1),
              torch.nn.ConvTranspose2d(2, 3, 2, 2, output_padding=1))]  # fmt: skip
    for ours, theirs in cases:
        assert repr(ours) == repr(theirs)


def test_plain_arrays_take_the_weights_dtype_but_tensors_must_match():
    layer = Conv2d(1, 2, 3, rng=0, dtype=np.float32)
    assert layer(np.zeros((1, 1, 4, 4))).dtype == np.float32
    with pytest.raises(TypeError, match="share one floating dtype"):
        layer(theta.tensor(np.zeros((1, 1, 4, 4))))


def test_float32_layer_stays_float32():
    layer = Conv2d(2, 3, 3, dtype=np.float32, rng=0)
    x = theta.tensor(np.ones((1, 2, 4, 4), dtype=np.float32), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


def test_gradcheck_each_op(rng):
    x, w = rng.standard_normal((1, 2, 4, 3)), rng.standard_normal((2, 2, 2, 2))
    b = rng.standard_normal(2)
    assert theta.gradcheck(lambda *a: F.conv2d(*a, stride=2, padding=1), x, w, b).ok
    assert theta.gradcheck(lambda *a: F.conv1d(*a, dilation=2), x[:, :, 0], w[:, :, 0], b).ok
    assert theta.gradcheck(lambda *a: F.conv_transpose2d(*a, stride=2), x, w, b).ok


# --- errors -----------------------------------------------------------------------------------


def test_wrong_channel_count_names_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Conv2d: expected input with 3 channels \(shape \(N, 3, "
                       r"H, W\)\), got shape \(8, 1, 28, 28\)"):  # fmt: skip
        Conv2d(3, 8, 3)(np.zeros((8, 1, 28, 28)))
    with pytest.raises(ValueError, match="conv2d: input of shape"):
        F.conv2d(theta.tensor(np.zeros((1, 4, 5, 5))), theta.tensor(np.zeros((2, 3, 3, 3))))


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda x, w: F.conv2d(x, theta.tensor(np.zeros((2, 2, 6, 6)))), ValueError,
         "larger than the padded input"),
        (lambda x, w: F.conv2d(x, w, stride=0), InvalidParameterError,
         "'stride' parameter of conv2d"),
        (lambda x, w: F.conv2d(x, w, padding=-1), InvalidParameterError, "'padding'"),
        (lambda x, w: F.conv2d(x, w, padding="full"), InvalidParameterError, "'padding'"),
        (lambda x, w: F.conv2d(x, w, stride=2, padding="same"), ValueError, "strided"),
        (lambda x, w: F.conv2d(x, w, stride=(1, 2, 3)), ValueError, "tuple of 2 ints"),
        (lambda x, w: F.conv2d(x, w, groups=2), ValueError, "groups=2"),
        (lambda x, w: F.conv2d(x[0], w), ValueError, "expected a 4-D input"),
        (lambda x, w: F.conv2d(x.astype(np.float32), w), TypeError, "share one floating dtype"),
        (lambda x, w: F.conv2d(x, w, theta.tensor(np.zeros(3))), ValueError, "bias must have"),
        (lambda x, w: F.conv_transpose2d(x, w[:, :, :2], stride=2, output_padding=2), ValueError,
         "output_padding must be smaller"),
    ],
)  # fmt: skip
def test_bad_arguments_raise(call, error, fragment):
    x = theta.tensor(np.zeros((1, 2, 5, 5)))
    w = theta.tensor(np.zeros((2, 2, 3, 3)))
    with pytest.raises(error, match=fragment):
        call(x, w)


def test_bad_layer_hyperparameters_raise():
    with pytest.raises(InvalidParameterError, match="'stride' parameter of Conv2d"):
        Conv2d(1, 2, 3, stride=0)
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(InvalidParameterError, match="'kernel_size' parameter of Conv1d"):
        Conv1d(1, 2, 0)
    with pytest.raises(InvalidParameterError, match="'padding' parameter of ConvTranspose2d"):
        ConvTranspose2d(1, 2, 3, padding="same")
