"""Probability distributions over theta Tensors: what a stochastic policy samples and scores.

A policy network outputs the *parameters* of a distribution (a categorical's logits, a
Gaussian's mean and scale); the distribution turns them into actions (``sample``) and into
the differentiable quantities a policy-gradient loss needs (``log_prob``, ``entropy``).
Each class follows ``torch.distributions``: the same names, the same batch shapes (the
parameters' broadcast shape), the same formulas and the same argument checks, so a loss
written against PyTorch's reads the same here. Sampling draws from a NumPy ``Generator``
the caller passes (``rng=``); ``rsample`` (Normal) is the reparameterised draw
``loc + scale * eps`` through which gradients flow, as SAC needs.

Examples
--------
>>> import numpy as np
>>> from theta import tensor
>>> pi = Categorical(logits=tensor([[0.0, 0.0], [0.0, 10.0]]))
>>> pi.batch_shape, pi.sample(rng=0).shape
((2,), (2,))
>>> np.round(pi.log_prob(np.array([0, 1])).numpy(), 4)
array([-0.6931, -0.    ], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from theta.autograd import Tensor, broadcast_to, log_softmax, logsigmoid, no_grad, tensor
from theta.rng import check_random_state

__all__ = ["Bernoulli", "Categorical", "Distribution", "Normal", "TanhNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
Shape = tuple[int, ...]


def _as_float_tensor(value: Any) -> Tensor:
    """A Tensor of ``value``; integer input becomes the default float dtype (torch's rule)."""
    if isinstance(value, Tensor):
        return value if value.dtype.kind == "f" else value.astype(np.float32)
    array = np.asarray(value)
    return tensor(array.tolist()) if array.dtype.kind != "f" else Tensor(array)


def _shape(shape: Any) -> Shape:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(n) for n in shape)


class Distribution:
    """Base class: ``batch_shape``, ``sample``, ``log_prob``, ``entropy``, ``mean``, ``mode``.

    Subclasses set ``batch_shape`` and implement ``_draw(shape, rng)`` (raw samples as an
    array, no gradient), ``log_prob`` and ``entropy``.

    Examples
    --------
    >>> import numpy as np
    >>> from theta.distributions import Categorical, Distribution
    >>> dist = Categorical(logits=np.zeros((2, 3), dtype=np.float32))
    >>> isinstance(dist, Distribution), dist.batch_shape
    (True, (2,))
    >>> dist.entropy().round(4)
    tensor([1.0986, 1.0986])
    """

    batch_shape: Shape = ()
    has_rsample = False

    def sample(self, shape: Any = (), *, rng: Any = None) -> Tensor:
        """Draw samples of shape ``shape + batch_shape``, with no gradient.

        ``rng`` is an int or a ``numpy.random.Generator`` (a fresh one if None).
        """
        with no_grad():
            return Tensor(self._draw(_shape(shape), check_random_state(rng)))

    def rsample(self, shape: Any = (), *, rng: Any = None) -> Tensor:
        """A reparameterised sample (gradients flow into the parameters); Normal only."""
        raise NotImplementedError(
            f"{type(self).__name__} has no reparameterised sample (rsample); use sample, whose "
            "draws carry no gradient, with the score-function estimator (log_prob)."
        )

    def _draw(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def log_prob(self, value: Any) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def _check_value(self, value: Any, ok: np.ndarray, support: str) -> None:
        if not bool(np.all(ok)):
            raise ValueError(
                f"{type(self).__name__}.log_prob: the value argument must be within the "
                f"support of the distribution ({support}); got {value!r}."
            )

    def _broadcast_value(self, value: np.ndarray) -> Shape:
        try:
            return np.broadcast_shapes(value.shape, self.batch_shape)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}.log_prob: value of shape {value.shape} does not "
                f"broadcast with the batch shape {self.batch_shape}."
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self.batch_shape})"


def _one_of(owner: str, probs: Any, logits: Any) -> None:
    if (probs is None) == (logits is None):
        raise ValueError(
            f"{owner}: give either probs or logits, not both and not neither (got "
            f"probs={'None' if probs is None else '...'}, logits="
            f"{'None' if logits is None else '...'})."
        )


class Categorical(Distribution):
    """A choice among ``K`` categories, from ``probs`` or ``logits`` of shape ``(..., K)``.

    ``probs`` need not sum to 1 (they are normalised, as torch does); ``logits`` are
    normalised to log-probabilities. ``batch_shape`` is the shape without the last axis.

    Raises
    ------
    ValueError
        For both or neither of ``probs`` and ``logits``, a 0-d argument, negative or NaN
        probabilities, probabilities that sum to 0, or NaN logits.

    Examples
    --------
    >>> from theta import tensor
    >>> d = Categorical(probs=tensor([0.25, 0.75]))
    >>> round(float(d.entropy().item()), 4), int(d.mode.item())
    (0.5623, 1)
    """

    def __init__(self, probs: Any = None, logits: Any = None) -> None:
        _one_of("Categorical", probs, logits)
        given = _as_float_tensor(probs if logits is None else logits)
        name = "probs" if logits is None else "logits"
        if given.ndim < 1:
            raise ValueError(f"Categorical: {name} needs at least one axis (the categories).")
        data = given.data
        if logits is None:
            if np.isnan(data).any() or (data < 0).any() or (data.sum(axis=-1) <= 0).any():
                raise ValueError(
                    "Categorical: probs must be non-negative and sum to more than 0 along the "
                    f"last axis; got {data!r}."
                )
            self.probs = given / given.sum(axis=-1, keepdims=True)
            tiny = np.finfo(data.dtype).eps
            self.logits = self.probs.clip(tiny, 1 - tiny).log()
        else:
            if np.isnan(data).any():
                raise ValueError(f"Categorical: logits must not be NaN; got {data!r}.")
            self.logits = log_softmax(given, axis=-1)
            self.probs = self.logits.exp()
        self.n_categories = given.shape[-1]
        self.batch_shape = given.shape[:-1]

    def _draw(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        cdf = np.cumsum(self.probs.data.astype(np.float64), axis=-1)  # (*batch, K)
        u = rng.random(shape + self.batch_shape)[..., None] * cdf[..., -1:]
        return np.minimum((u >= cdf).sum(axis=-1), self.n_categories - 1).astype(np.int64)

    def log_prob(self, value: Any) -> Tensor:
        """``log p(value)``, shape ``broadcast(value.shape, batch_shape)``."""
        value = np.asarray(value.data if isinstance(value, Tensor) else value)
        ok = (value == np.round(value)) & (value >= 0) & (value < self.n_categories)
        self._check_value(value, ok, f"integers in [0, {self.n_categories - 1}]")
        shape = self._broadcast_value(value)
        index = np.broadcast_to(value.astype(np.int64), shape)[..., None]  # (*shape, 1)
        logits = self.logits
        if shape != self.batch_shape:
            logits = broadcast_to(logits, (*shape, self.n_categories))
        return logits.gather(-1, index).reshape(shape)

    def entropy(self) -> Tensor:
        """``-sum(p * log p)`` over the categories, shape ``batch_shape``."""
        finite = self.logits.clip(np.finfo(self.logits.dtype).min, None)  # 0 * -inf is NaN
        return -(finite * self.probs).sum(axis=-1)

    @property
    def mode(self) -> Tensor:
        """The most likely category, shape ``batch_shape``."""
        return self.probs.argmax(axis=-1)


class Normal(Distribution):
    """The Gaussian ``N(loc, scale**2)``, element by element; ``batch_shape`` is the
    broadcast shape of ``loc`` and ``scale``.

    Raises
    ------
    ValueError
        If ``loc`` holds NaN, or ``scale`` is not positive.

    Examples
    --------
    >>> from theta import tensor
    >>> d = Normal(tensor([0.0, 1.0]), tensor(2.0))
    >>> d.batch_shape, [round(v, 4) for v in d.log_prob(tensor([0.0, 1.0])).tolist()]
    ((2,), [-1.6121, -1.6121])
    """

    has_rsample = True

    def __init__(self, loc: Any, scale: Any) -> None:
        loc, scale = _as_float_tensor(loc), _as_float_tensor(scale)
        if np.isnan(loc.data).any():
            raise ValueError(f"Normal: loc must be a real number, not NaN; got {loc.data!r}.")
        if not (scale.data > 0).all():
            raise ValueError(f"Normal: scale must be positive (> 0); got {scale.data!r}.")
        try:
            shape = np.broadcast_shapes(loc.shape, scale.shape)
        except ValueError:
            raise ValueError(
                f"Normal: loc of shape {loc.shape} and scale of shape {scale.shape} do not "
                "broadcast together."
            ) from None
        self.loc = loc if loc.shape == shape else broadcast_to(loc, shape)
        self.scale = scale if scale.shape == shape else broadcast_to(scale, shape)
        self.batch_shape = shape

    def _draw(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        eps = rng.standard_normal(shape + self.batch_shape).astype(self.loc.dtype)
        return self.loc.data + self.scale.data * eps

    def rsample(self, shape: Any = (), *, rng: Any = None) -> Tensor:
        """``loc + scale * eps`` with ``eps ~ N(0, 1)`` from ``rng``: differentiable in ``loc``
        and ``scale`` (the reparameterisation trick)."""
        eps = check_random_state(rng).standard_normal(_shape(shape) + self.batch_shape)
        return self.loc + self.scale * eps.astype(self.loc.dtype)

    def log_prob(self, value: Any) -> Tensor:
        """``-(value - loc)**2 / (2 scale**2) - log(scale) - log(sqrt(2 pi))``."""
        value = value if isinstance(value, Tensor) else Tensor(np.asarray(value, self.loc.dtype))
        self._check_value(value.data, ~np.isnan(value.data), "real numbers")
        self._broadcast_value(value.data)
        return -((value - self.loc) ** 2) / (2 * self.scale**2) - self.scale.log() - _HALF_LOG_2PI

    def entropy(self) -> Tensor:
        """``0.5 + 0.5 log(2 pi) + log(scale)``, shape ``batch_shape``."""
        return self.scale.log() + (0.5 + _HALF_LOG_2PI)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale**2


class Bernoulli(Distribution):
    """A coin that shows 1 with probability ``probs`` (or ``sigmoid(logits)``).

    Raises
    ------
    ValueError
        For both or neither of ``probs`` and ``logits``, ``probs`` outside ``[0, 1]``, or NaN.

    Examples
    --------
    >>> from theta import tensor
    >>> d = Bernoulli(logits=tensor([0.0]))
    >>> round(float(d.log_prob(tensor([1.0])).item()), 4), round(float(d.entropy().item()), 4)
    (-0.6931, 0.6931)
    """

    def __init__(self, probs: Any = None, logits: Any = None) -> None:
        _one_of("Bernoulli", probs, logits)
        if logits is None:
            p = _as_float_tensor(probs)
            if not ((p.data >= 0) & (p.data <= 1)).all():
                raise ValueError(f"Bernoulli: probs must lie in [0, 1]; got {p.data!r}.")
            self.probs = p
            tiny = np.finfo(p.dtype).eps
            clipped = p.clip(tiny, 1 - tiny)
            self.logits = clipped.log() - (1 - clipped).log()
        else:
            self.logits = _as_float_tensor(logits)
            if np.isnan(self.logits.data).any():
                raise ValueError(f"Bernoulli: logits must not be NaN; got {self.logits.data!r}.")
            self.probs = self.logits.sigmoid()
        self.batch_shape = self.logits.shape

    def _draw(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(shape + self.batch_shape)
        return (u < self.probs.data).astype(self.probs.dtype)

    def log_prob(self, value: Any) -> Tensor:
        """``value * log p + (1 - value) * log(1 - p)``, stable for any logits."""
        data = np.asarray(value.data if isinstance(value, Tensor) else value)
        self._check_value(data, (data == 0) | (data == 1), "0 or 1")
        self._broadcast_value(data)
        v = data.astype(self.logits.dtype)
        return logsigmoid(self.logits) * v + logsigmoid(-self.logits) * (1 - v)

    def entropy(self) -> Tensor:
        """``-(p log p + (1 - p) log(1 - p))``, shape ``batch_shape``."""
        p = self.probs
        return -(logsigmoid(self.logits) * p + logsigmoid(-self.logits) * (1 - p))

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where ``p > 0.5``, 0 where ``p < 0.5``, NaN at exactly 0.5 (torch's rule)."""
        p = self.probs.data
        return Tensor(np.where(p == 0.5, np.nan, (p > 0.5)).astype(p.dtype))


class TanhNormal(Distribution):
    """``tanh(u)`` with ``u ~ Normal(loc, scale)``: actions in ``(-1, 1)``, as SAC squashes them.

    ``log_prob`` of an action ``a = tanh(u)`` is ``Normal.log_prob(u) - log(1 - a**2 + eps)``
    (the change of variables, with Stable-Baselines3's ``eps = 1e-6`` keeping the log finite
    where ``tanh`` saturates), per element: sum over the action axis for a joint density.
    The closed-form entropy does not exist; SAC estimates it with ``-log_prob``.

    Examples
    --------
    >>> from theta import tensor
    >>> d = TanhNormal(tensor([0.0]), tensor([1.0]))
    >>> a, logp = d.rsample_and_log_prob(rng=0)
    >>> bool(abs(a.item()) < 1), logp.shape
    (True, (1,))
    """

    has_rsample = True
    eps = 1e-6

    def __init__(self, loc: Any, scale: Any) -> None:
        self.base = Normal(loc, scale)
        self.batch_shape = self.base.batch_shape

    def _draw(self, shape: Shape, rng: np.random.Generator) -> np.ndarray:
        return np.tanh(self.base._draw(shape, rng))

    def rsample(self, shape: Any = (), *, rng: Any = None) -> Tensor:
        return self.base.rsample(shape, rng=rng).tanh()

    def rsample_and_log_prob(self, shape: Any = (), *, rng: Any = None) -> tuple[Tensor, Tensor]:
        """A reparameterised action and its log-density, from the same draw ``u`` (no
        ``atanh`` round trip, which loses precision near the bounds)."""
        u = self.base.rsample(shape, rng=rng)
        action = u.tanh()
        return action, self.base.log_prob(u) - (1 - action**2 + self.eps).log()

    def log_prob(self, value: Any) -> Tensor:
        """The log-density of actions ``value`` in ``(-1, 1)`` (clipped just inside)."""
        data = np.asarray(value.data if isinstance(value, Tensor) else value, self.base.loc.dtype)
        a = np.clip(data, -1 + np.finfo(data.dtype).eps, 1 - np.finfo(data.dtype).eps)
        u = Tensor(0.5 * (np.log1p(a) - np.log1p(-a)))  # atanh
        return self.base.log_prob(u) - np.log(1 - a**2 + self.eps)

    @property
    def mode(self) -> Tensor:
        return self.base.loc.tanh()
