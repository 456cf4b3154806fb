"""Activation modules: the same numbers as ``torch.nn``'s in float64, PyTorch's constructor
arguments and ``repr``, and a save/load round trip through ``theta.io``."""

from __future__ import annotations

import numpy as np
import pytest

import theta
from theta import nn

torch = pytest.importorskip("torch")

MODULES = [
    # theta module, torch module, repr
    (lambda: nn.ELU(), lambda: torch.nn.ELU(), "ELU(alpha=1.0)"),
    (lambda: nn.ELU(alpha=0.3), lambda: torch.nn.ELU(alpha=0.3), "ELU(alpha=0.3)"),
    (lambda: nn.SELU(), lambda: torch.nn.SELU(), "SELU()"),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU(), "SiLU()"),
    (lambda: nn.Mish(), lambda: torch.nn.Mish(), "Mish()"),
    (lambda: nn.Hardtanh(), lambda: torch.nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    (lambda: nn.Hardtanh(-2.0, 0.5), lambda: torch.nn.Hardtanh(-2.0, 0.5),
     "Hardtanh(min_val=-2.0, max_val=0.5)"),
    (lambda: nn.Hardswish(), lambda: torch.nn.Hardswish(), "Hardswish()"),
    (lambda: nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid(), "Hardsigmoid()"),
    (lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid(), "LogSigmoid()"),
    (lambda: nn.Softplus(), lambda: torch.nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(2.0, 3.0),
     "Softplus(beta=2.0, threshold=3.0)"),
    (lambda: nn.ReLU6(), lambda: torch.nn.ReLU6(), "ReLU6()"),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
]  # fmt: skip
IDS = [r for _, _, r in MODULES]


@pytest.mark.parametrize("make, make_torch, text", MODULES, ids=IDS)
def test_module_matches_torch_in_float64(make, make_torch, text) -> None:
    # wide inputs reach every piece (thresholds, +-3, +-6), but none sits on a kink
    x = np.linspace(-25.0, 25.0, 64).reshape(4, 16) + 0.013
    ours = theta.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, want = make()(ours), make_torch()(theirs)
    seed = np.random.default_rng(0).standard_normal(x.shape)
    out.backward(seed)
    want.backward(torch.tensor(seed))
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-10, atol=1e-10)
    # Hardsigmoid's PyTorch kernel uses float32's 1/6 in its float64 gradient (3e-8 off)
    rtol = 1e-7 if text == "Hardsigmoid()" else 1e-10
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=rtol, atol=1e-10)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch_in_float32(approximate, kernel_backend) -> None:
    # large enough for the compiled kernels; torch's float64 as the reference
    x = (3 * np.random.default_rng(0).standard_normal((40, 256))).astype(np.float32)
    seed = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    ours = theta.tensor(x, requires_grad=True)
    theirs = torch.tensor(x.astype(np.float64), requires_grad=True)
    out = nn.GELU(approximate)(ours)
    want = torch.nn.GELU(approximate)(theirs)
    out.backward(seed)
    want.backward(torch.tensor(seed.astype(np.float64)))
    assert out.dtype == ours.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-6, atol=5e-7)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-5, atol=3e-6)


@pytest.mark.parametrize("make, make_torch, text", MODULES, ids=IDS)
def test_repr_matches_torch(make, make_torch, text) -> None:
    assert repr(make()) == text == repr(make_torch())


def test_float32_stays_float32() -> None:
    x = theta.tensor(np.linspace(-5, 5, 11, dtype=np.float32))
    for make, _, _ in MODULES:
        assert make()(x).dtype == np.float32


def test_hyperparameters_are_recorded() -> None:
    assert nn.ELU(alpha=0.5).hyperparameters() == {"alpha": 0.5}
    assert nn.Softplus(2.0).hyperparameters() == {"beta": 2.0, "threshold": 20.0}
    assert nn.SiLU().hyperparameters() == {}


def test_get_activation_knows_the_new_names() -> None:
    for name, cls in [("elu", nn.ELU), ("silu", nn.SiLU), ("mish", nn.Mish), ("relu6", nn.ReLU6),
                      ("leaky_relu", nn.LeakyReLU), ("softplus", nn.Softplus)]:  # fmt: skip
        assert type(nn.get_activation(name)) is cls


def test_sequential_of_activations_saves_and_loads(tmp_path) -> None:
    model = nn.Sequential(
        nn.Linear(3, 4, rng=0), nn.ELU(alpha=0.7), nn.Hardtanh(-0.5, 2.0), nn.Softplus(2.0, 5.0),
        nn.LeakyReLU(0.1), nn.SELU(), nn.Mish(), nn.Linear(4, 2, rng=1), nn.Hardswish(),
    )  # fmt: skip
    theta.io.save(model, tmp_path / "model")
    loaded = theta.io.load(tmp_path / "model")
    assert repr(loaded) == repr(model)
    x = theta.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).data, model(x).data)


def test_hardtanh_refuses_crossed_bounds() -> None:
    with pytest.raises(ValueError, match="hardtanh: min_val must not exceed max_val"):
        nn.Hardtanh(1.0, -1.0)(theta.tensor([0.0]))
