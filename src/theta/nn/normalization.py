"""Batch and group normalisation: functions (``batch_norm``, ``group_norm``) and layers.

Both normalise an input of shape (N, C, *) and then scale and shift each channel; they differ
only in which elements share a mean and a variance. Batch norm pools each channel over the
batch and every spatial position; group norm pools each sample's group of ``C / G`` channels
over its positions, so it does not depend on the batch. One fused ``Function`` does both: the
composed form (mean, subtract, square, mean, add, sqrt, divide, multiply, add) makes nine
passes over memory forward and more backward, on the hot path of every convolutional network.

Dimensions: N batch, C channels, L positions (all trailing axes, flattened), G groups.

Names, defaults and numbers are PyTorch's, so ``torch.nn.BatchNorm2d``'s state dict (weight,
bias, running_mean, running_var, num_batches_tracked) loads strictly into ``BatchNorm2d``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from theta.autograd import Context, Function, Tensor, tensor
from theta.nn import init
from theta.nn.module import Module, Parameter
from theta.validation import check_scalar

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "batch_norm", "group_norm"]

Grads = tuple[np.ndarray | None, ...]


class Normalize(Function):
    """Normalise ``x`` (N, C, *) with shared statistics, then ``* weight + bias`` per channel.

    ``groups=None`` pools each channel over (N, L) (batch norm); ``groups=G`` pools each
    sample's channel groups over (C / G, L) (group norm). ``stats=(mean, var)`` normalises with
    those fixed per-channel values instead (batch norm in eval mode), so no gradient flows
    through them. ``running=(mean, var, momentum)`` updates those arrays in place with the batch
    statistics, as PyTorch's kernel does, because forward is where they are computed.
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: np.ndarray,
        *affine: np.ndarray,
        groups: int | None,
        eps: float,
        stats: tuple[np.ndarray, np.ndarray] | None = None,
        running: tuple[np.ndarray, np.ndarray, float] | None = None,
    ) -> np.ndarray:
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, math.prod(x.shape[2:]))  # (N, C, L)
        view, axes = _pooled(x3, groups)
        if stats is None:
            mean = view.mean(axis=axes, keepdims=True)
            centred = view - mean
            var = np.einsum("ngd,ngd->g" if groups is None else "ngd,ngd->ng", centred, centred)
            var = var.reshape(mean.shape) / math.prod(view.shape[a] for a in axes)
        else:
            mean, var = (s.astype(x.dtype, copy=False).reshape(1, C, 1) for s in stats)
            centred = view - mean
        rstd = 1.0 / np.sqrt(var + eps)
        if running is not None:
            _update_running(running, mean, var, math.prod(view.shape[a] for a in axes))
        ctx.save(x3, mean, rstd, *affine)
        out = centred  # not needed any more: the output takes its memory
        out *= rstd
        out = out.reshape(x3.shape)
        if affine:
            out *= affine[0].reshape(1, C, 1)
            out += affine[1].reshape(1, C, 1)
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        x3, mean, rstd, *affine = ctx.saved
        groups, fixed = ctx.kwargs["groups"], ctx.kwargs.get("stats") is not None
        g3 = grad.reshape(x3.shape)  # (N, C, L)
        view, axes = _pooled(x3, groups)
        x_hat = view - mean
        x_hat *= rstd
        x_hat = x_hat.reshape(x3.shape)
        grads: list[np.ndarray | None] = [None]
        if affine:
            grads.append(np.einsum("ncl,ncl->c", g3, x_hat) if ctx.needs_grad[1] else None)
            grads.append(g3.sum(axis=(0, 2)) if ctx.needs_grad[2] else None)
        if ctx.needs_grad[0]:
            g_hat = g3 * affine[0].reshape(1, -1, 1) if affine else g3.copy()
            g_view, _ = _pooled(g_hat, groups)
            if not fixed:
                # d(x_hat)/dx through the mean and the variance, as in layer norm
                x_view, _ = _pooled(x_hat, groups)
                mean_g = g_view.mean(axis=axes, keepdims=True)
                x_view *= (g_view * x_view).mean(axis=axes, keepdims=True)
                g_view -= mean_g
                g_view -= x_view
            g_view *= rstd
            grads[0] = g_view.reshape(grad.shape)
        return tuple(grads)


def _pooled(x3: np.ndarray, groups: int | None) -> tuple[np.ndarray, tuple[int, ...]]:
    """The view of ``x3`` (N, C, L) whose ``axes`` hold the elements that share statistics."""
    if groups is None:
        return x3, (0, 2)
    N, C, L = x3.shape
    return x3.reshape(N, groups, C // groups * L), (2,)  # (N, G, C/G * L)


def _update_running(
    running: tuple[np.ndarray, np.ndarray, float], mean: np.ndarray, var: np.ndarray, n: int
) -> None:
    """``running = (1 - momentum) * running + momentum * batch``; the variance unbiased."""
    running_mean, running_var, momentum = running
    running_mean *= 1.0 - momentum
    running_mean += momentum * mean.reshape(-1)
    running_var *= 1.0 - momentum
    running_var += (momentum * n / (n - 1)) * var.reshape(-1)


def _data(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _check_affine(name: str, x: Tensor, weight: Any, bias: Any) -> tuple[Tensor, ...]:
    """``(weight, bias)`` as tensors of shape (C,), or ``()`` when both are None."""
    if (weight is None) != (bias is None):
        raise ValueError(f"{name}: give both weight and bias, or neither (affine=False).")
    if weight is None:
        return ()
    affine = tuple(p if isinstance(p, Tensor) else tensor(p) for p in (weight, bias))
    for label, p in zip(("weight", "bias"), affine, strict=True):
        if p.shape != x.shape[1:2]:
            raise ValueError(
                f"{name}: {label} must have shape ({x.shape[1]},), one value per channel of the "
                f"input of shape {x.shape} (got {p.shape})."
            )
    return affine


def _check_input(name: str, x: Any) -> Tensor:
    x = x if isinstance(x, Tensor) else tensor(x)
    if x.ndim < 2:
        raise ValueError(f"{name}: input must have shape (N, C, *) (got {x.shape}).")
    return x


def batch_norm(
    x: Tensor,
    running_mean: Tensor | np.ndarray | None,
    running_var: Tensor | np.ndarray | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation: each channel to zero mean and unit variance, then scale and shift.

    With ``training`` the statistics are the batch's (the biased variance normalises) and the
    running ones, if given, move towards them in place by ``momentum`` (with the unbiased
    variance), as PyTorch's ``F.batch_norm``; without, the running statistics normalise.

    Parameters
    ----------
    x : Tensor of shape (N, C, *)
    running_mean, running_var : Tensor or ndarray of shape (C,), or None
        Required unless ``training``.
    weight, bias : Tensor of shape (C,), optional
    training : bool, default=False
    momentum : float, default=0.1
    eps : float, default=1e-5
        Added to the variance, so a constant channel gives zeros rather than NaN.

    Returns
    -------
    Tensor of the shape and dtype of ``x``

    Examples
    --------
    >>> import numpy as np, theta
    >>> mean, var = np.zeros(1), np.ones(1)
    >>> out = batch_norm(theta.tensor([[1.0], [3.0]]), mean, var, training=True)
    >>> np.round(out.numpy(), 4).tolist(), np.round(mean, 4).tolist(), np.round(var, 4).tolist()
    ([[-1.0], [1.0]], [0.2], [1.1])
    """
    x = _check_input("batch_norm", x)
    affine = _check_affine("batch_norm", x, weight, bias)
    C = x.shape[1]
    given = [s for s in (running_mean, running_var) if s is not None]
    if len(given) == 1 or any(np.shape(_data(s)) != (C,) for s in given):
        raise ValueError(
            f"batch_norm: running_mean and running_var must both be None or both have shape "
            f"({C},) for the input of shape {x.shape} (got "
            f"{[None if s is None else np.shape(_data(s)) for s in (running_mean, running_var)]})."
        )
    if not training:
        if not given:
            raise ValueError(
                "batch_norm: eval mode (training=False) normalises with running_mean and "
                "running_var, but they are None; pass them or training=True."
            )
        stats = (_data(running_mean), _data(running_var))
        return Normalize.apply(x, *affine, groups=None, eps=float(eps), stats=stats)
    if x.size <= C:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training (got input of "
            f"shape {x.shape})."
        )
    running = None
    if given:
        running = (_data(running_mean), _data(running_var), float(momentum))
        for s in (running_mean, running_var):
            if isinstance(s, Tensor):
                s._version += 1
    return Normalize.apply(x, *affine, groups=None, eps=float(eps), running=running)


def group_norm(
    x: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalisation: each sample's groups of channels to zero mean and unit variance.

    The C channels split into ``num_groups`` consecutive groups; each (sample, group) is
    normalised over its channels and positions, then each channel scaled and shifted.

    Parameters
    ----------
    x : Tensor of shape (N, C, *)
    num_groups : int
        Must divide C.
    weight, bias : Tensor of shape (C,), optional
    eps : float, default=1e-5

    Returns
    -------
    Tensor of the shape and dtype of ``x``

    Examples
    --------
    >>> import theta
    >>> import numpy as np
    >>> np.round(group_norm(theta.tensor([[1.0, 3.0, 5.0, 5.0]]), 2).numpy(), 4).tolist()
    [[-1.0, 1.0, 0.0, 0.0]]
    """
    x = _check_input("group_norm", x)
    affine = _check_affine("group_norm", x, weight, bias)
    if not isinstance(num_groups, int) or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: num_groups must be a positive divisor of the {x.shape[1]} channels of "
            f"the input of shape {x.shape} (got {num_groups!r})."
        )
    return Normalize.apply(x, *affine, groups=num_groups, eps=float(eps))


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input ranks they take."""

    _ranks: tuple[int, ...] = ()
    _layouts = ""

    def __init__(
        self,
        num_features: int,
        *,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        check_scalar(num_features, "num_features", int, min_val=1, caller=self)
        check_scalar(eps, "eps", float | int, min_val=0.0, caller=self)
        if momentum is not None:
            check_scalar(momentum, "momentum", float | int, min_val=0.0, max_val=1.0, caller=self)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        shape = (num_features,)
        self.weight = Parameter(init.ones(shape, dtype=dtype)) if affine else None
        self.bias = Parameter(init.zeros(shape, dtype=dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", init.zeros(shape, dtype=dtype))
            self.register_buffer("running_var", init.ones(shape, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else tensor(x)
        name = type(self).__name__
        if x.ndim not in self._ranks:
            raise ValueError(f"{name}: expected input of shape {self._layouts} (got {x.shape}).")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: input of shape {x.shape} has {x.shape[1]} channels on axis 1; "
                f"expected num_features={self.num_features}."
            )
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            self.num_batches_tracked._version += 1
            if momentum is None:  # a cumulative average of every batch so far
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # without running statistics, eval mode normalises with the batch's too, as in PyTorch
        training = self.training or self.running_mean is None
        return batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training,
            0.0 if momentum is None else momentum,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C.

    Training mode normalises with the batch's statistics and keeps running averages of them
    (``running_mean``, ``running_var``: buffers, saved but not trained); eval mode normalises
    with those. ``momentum=None`` averages every batch equally.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default=1e-5
    momentum : float or None, default=0.1
    affine : bool, default=True
        Learn a scale ``weight`` (ones) and shift ``bias`` (zeros) per channel.
    track_running_stats : bool, default=True
        Without running statistics, eval mode also uses the batch's.
    dtype : numpy dtype, optional

    Examples
    --------
    >>> import numpy as np, theta
    >>> bn = BatchNorm1d(2)
    >>> np.round(bn(theta.tensor([[0.0, 1.0], [2.0, 5.0]])).numpy(), 4).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> bn.running_mean, bn.num_batches_tracked
    (tensor([0.1, 0.3]), tensor(1))
    """

    _ranks = (2, 3)
    _layouts = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C; see :class:`BatchNorm1d`.

    Examples
    --------
    >>> import numpy as np, theta
    >>> bn = BatchNorm2d(3).eval()  # running statistics: mean 0, variance 1
    >>> bn(theta.tensor(np.ones((1, 3, 2, 2)))).shape
    (1, 3, 2, 2)
    """

    _ranks = (4,)
    _layouts = "(N, C, H, W)"


class GroupNorm(Module):
    """Group normalisation: each sample's ``num_groups`` groups of channels normalised apart.

    Independent of the batch, so training and eval mode compute the same thing.

    Parameters
    ----------
    num_groups : int
        Must divide ``num_channels``.
    num_channels : int
    eps : float, default=1e-5
    affine : bool, default=True
        Learn a scale ``weight`` (ones) and shift ``bias`` (zeros) per channel.
    dtype : numpy dtype, optional

    Examples
    --------
    >>> import numpy as np, theta
    >>> GroupNorm(2, 4)(theta.tensor(np.ones((3, 4, 5)))).shape
    (3, 4, 5)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        *,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
    ) -> None:
        check_scalar(num_groups, "num_groups", int, min_val=1, caller=self)
        check_scalar(num_channels, "num_channels", int, min_val=1, caller=self)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels must be divisible by num_groups (got {num_channels} "
                f"and {num_groups})."
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        shape = (num_channels,)
        self.weight = Parameter(init.ones(shape, dtype=dtype)) if affine else None
        self.bias = Parameter(init.zeros(shape, dtype=dtype)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        x = _check_input("GroupNorm", x)
        if x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: input of shape {x.shape} has {x.shape[1]} channels on axis 1; "
                f"expected num_channels={self.num_channels}."
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
