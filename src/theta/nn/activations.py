"""Activation modules beyond the classic four of ``layers.py``, as ``torch.nn`` names them.

Each is a thin module around its function in ``theta.autograd`` (where the numerics live),
with PyTorch's constructor arguments, so ``repr``, ``theta.io.save`` and ``load`` see them as
hyperparameters. PyTorch's ``inplace=`` is left out: theta never overwrites an activation.
"""

from __future__ import annotations

from theta.autograd import (
    Tensor,
    elu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    relu6,
    selu,
    silu,
    softplus,
)  # fmt: skip
from theta.nn.module import Module

__all__ = [
    "ELU", "SELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid", "Mish",
    "ReLU6", "SiLU", "Softplus",
]  # fmt: skip


class ELU(Module):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Examples
    --------
    >>> import theta
    >>> theta.nn.ELU(alpha=0.5)
    ELU(alpha=0.5)
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return elu(x, self.alpha)


class SELU(Module):
    """Self-normalising ELU with the fixed constants of Klambauer et al. (2017).

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.SELU()(x).round(4)
    tensor([-1.1113,  0.    ,  1.0507])
    """

    def forward(self, x: Tensor) -> Tensor:
        return selu(x)


class SiLU(Module):
    """``x * sigmoid(x)`` (swish).

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.SiLU()(x).round(4)
    tensor([-0.2689,  0.    ,  0.7311])
    """

    def forward(self, x: Tensor) -> Tensor:
        return silu(x)


class Mish(Module):
    """``x * tanh(softplus(x))``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Mish()(x).round(4)
    tensor([-0.3034,  0.    ,  0.8651])
    """

    def forward(self, x: Tensor) -> Tensor:
        return mish(x)


class Hardtanh(Module):
    """``x`` limited to ``[min_val, max_val]``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Hardtanh(min_val=-0.5, max_val=0.5)(x).round(4)
    tensor([-0.5,  0. ,  0.5])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        self.min_val = min_val
        self.max_val = max_val

    def forward(self, x: Tensor) -> Tensor:
        return hardtanh(x, self.min_val, self.max_val)


class ReLU6(Module):
    """``min(max(x, 0), 6)``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.ReLU6()(x).round(4)
    tensor([0., 0., 1.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return relu6(x)


class Hardsigmoid(Module):
    """``relu6(x + 3) / 6``, a piecewise-linear sigmoid.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Hardsigmoid()(x).round(4)
    tensor([0.3333, 0.5   , 0.6667])
    """

    def forward(self, x: Tensor) -> Tensor:
        return hardsigmoid(x)


class Hardswish(Module):
    """``x * relu6(x + 3) / 6``, a piecewise-polynomial swish.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Hardswish()(x).round(4)
    tensor([-0.3333,  0.    ,  0.6667])
    """

    def forward(self, x: Tensor) -> Tensor:
        return hardswish(x)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, finite for any ``x``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.LogSigmoid()(x).round(4)
    tensor([-1.3133, -0.6931, -0.3133])
    """

    def forward(self, x: Tensor) -> Tensor:
        return logsigmoid(x)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``, and ``x`` where ``beta x > threshold``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Softplus(beta=2.0)(x).round(4)
    tensor([0.0635, 0.3466, 1.0635])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return softplus(x, self.beta, self.threshold)


class LeakyReLU(Module):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.LeakyReLU(negative_slope=0.1)(x).round(4)
    tensor([-0.1,  0. ,  1. ])
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return leaky_relu(x, self.negative_slope)
