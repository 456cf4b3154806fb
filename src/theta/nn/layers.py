"""Layers: modules with parameters (Linear, Embedding, LayerNorm) and without (activations).

Parameter names and layouts match ``torch.nn`` (``weight`` is ``(out_features,
in_features)``; a ``Sequential``'s children are ``0``, ``1``, ...), so a PyTorch state dict
of the equivalent model loads as it is, and theta's loads into PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from theta.autograd import Tensor, gelu, relu, sigmoid, softmax, tanh
from theta.nn import functional as F
from theta.nn import init
from theta.nn.activations import (
    ELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    Mish,
    ReLU6,
    SiLU,
    Softplus,
)  # fmt: skip
from theta.nn.module import Module, Parameter
from theta.rng import check_random_state
from theta.validation import check_scalar

__all__ = [
    "GELU", "MLP", "Dropout", "Embedding", "LayerNorm", "Linear", "LinearReLU", "ReLU",
    "Sequential", "Sigmoid", "Softmax", "Tanh", "get_activation",
]  # fmt: skip


class Linear(Module):
    """``y = x @ weight.T + bias``: the straight line of the chapter, in many dimensions.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the last axis of the input and of the output.
    bias : bool, default=True
        Learn an additive bias.
    rng : int or numpy.random.Generator, optional
        Source of the initial weights, ``U(-1/sqrt(in), 1/sqrt(in))`` as in PyTorch.
    dtype : numpy dtype, optional
        Parameter dtype (default: theta's default dtype).

    Examples
    --------
    >>> import theta
    >>> layer = Linear(3, 2, rng=0)
    >>> layer(theta.tensor([[1.0, 2.0, 3.0]])).shape
    (1, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        check_scalar(in_features, "in_features", int, min_val=1)
        check_scalar(out_features, "out_features", int, min_val=1)
        rng = check_random_state(rng)
        shape = (out_features, in_features)
        self.weight = Parameter(init.kaiming_uniform(shape, in_features, rng=rng, dtype=dtype))
        self.bias = (
            Parameter(init.kaiming_uniform((out_features,), in_features, rng=rng, dtype=dtype))
            if bias
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


class LinearReLU(Linear):
    """``relu(x @ weight.T + bias)`` as one fused op (``F.linear_relu``): an MLP's hidden layer.

    A ``Linear`` (same parameters, names and initial weights) whose output goes through a
    ReLU without a second graph node or a pass over the output; ``MLP`` builds its hidden
    layers from it. Its PyTorch twin is ``torch.nn.Sequential(Linear, ReLU)``, whose weights
    are its own under ``0.``.

    Examples
    --------
    >>> import theta
    >>> layer = LinearReLU(2, 1, bias=False, rng=0)
    >>> _ = layer.load_state_dict({"weight": theta.tensor([[1.0, -1.0]]).numpy()})
    >>> layer(theta.tensor([[1.0, 2.0], [3.0, 1.0]])).tolist()
    [[0.0], [2.0]]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.linear_relu(x, self.weight, self.bias)


class Embedding(Module):
    """A lookup table: integer ids of any shape → rows of ``weight`` (``N(0, 1)`` initially).

    Examples
    --------
    >>> import numpy as np
    >>> Embedding(10, 4, rng=0)(np.array([[1, 2, 3]])).shape
    (1, 3, 4)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, *, rng: Any = None, dtype: Any = None
    ) -> None:
        check_scalar(num_embeddings, "num_embeddings", int, min_val=1)
        check_scalar(embedding_dim, "embedding_dim", int, min_val=1)
        shape = (num_embeddings, embedding_dim)
        self.weight = Parameter(init.normal(shape, rng=check_random_state(rng), dtype=dtype))

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight)


class LayerNorm(Module):
    """Normalise the trailing axes to zero mean and unit variance, then scale and shift.

    Examples
    --------
    >>> import theta
    >>> LayerNorm(3)(theta.tensor([[1.0, 2.0, 3.0]])).tolist()[0][0] < 0
    True
    """

    def __init__(
        self, normalized_shape: int | Sequence[int], *, eps: float = 1e-5, dtype: Any = None
    ) -> None:
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.eps = eps
        self.weight = Parameter(init.ones(shape, dtype=dtype))
        self.bias = Parameter(init.zeros(shape, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.weight, self.bias, self.eps)


class Dropout(Module):
    """Zero activations with probability ``p`` while training; identity in ``eval()`` mode.

    Examples
    --------
    >>> import theta
    >>> drop = theta.nn.Dropout(p=0.5, rng=0)
    >>> drop(theta.ones(2, 4))
    tensor([[2., 0., 0., 0.],
            [2., 2., 2., 2.]])
    >>> drop.eval()(theta.ones(2, 4)).tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """

    def __init__(self, p: float = 0.5, *, rng: Any = None) -> None:
        check_scalar(p, "p", float | int, min_val=0.0, max_val=1.0, include_boundaries="left")
        self.p = float(p)
        self.rng = check_random_state(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, rng=self.rng, training=self.training)


class ReLU(Module):
    """``max(x, 0)``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.ReLU()(x).round(4)
    tensor([0., 0., 1.])
    """

    def forward(self, x: Tensor) -> Tensor:
        return relu(x)


class GELU(Module):
    """Gaussian error linear unit; ``approximate="tanh"`` for the GPT-2 form.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.GELU(approximate="tanh")(x).round(4)
    tensor([-0.1588,  0.    ,  0.8412])
    """

    def __init__(self, approximate: str = "none") -> None:
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x, self.approximate)


class Tanh(Module):
    """``tanh(x)``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Tanh()(x).round(4)
    tensor([-0.7616,  0.    ,  0.7616])
    """

    def forward(self, x: Tensor) -> Tensor:
        return tanh(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``.

    Examples
    --------
    >>> import theta
    >>> x = theta.tensor([-1.0, 0.0, 1.0])
    >>> theta.nn.Sigmoid()(x).round(4)
    tensor([0.2689, 0.5   , 0.7311])
    """

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(x)


class Softmax(Module):
    """Normalised exponentials along ``axis``.

    Examples
    --------
    >>> import theta
    >>> theta.nn.Softmax(axis=-1)(theta.tensor([[0.0, 0.0], [0.0, 3.0]])).round(4)
    tensor([[0.5   , 0.5   ],
            [0.0474, 0.9526]])
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return softmax(x, self.axis)


_ACTIVATIONS = {"relu": ReLU, "gelu": GELU, "tanh": Tanh, "sigmoid": Sigmoid,
                "elu": ELU, "selu": SELU, "silu": SiLU, "mish": Mish, "hardtanh": Hardtanh,
                "hardswish": Hardswish, "hardsigmoid": Hardsigmoid, "logsigmoid": LogSigmoid,
                "softplus": Softplus, "relu6": ReLU6, "leaky_relu": LeakyReLU}  # fmt: skip


def get_activation(name: str) -> Module:
    """The activation module called ``name`` (relu, gelu, tanh, sigmoid).

    Examples
    --------
    >>> import theta
    >>> act = theta.nn.get_activation("relu")
    >>> act
    ReLU()
    >>> act(theta.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"get_activation: unknown activation {name!r}; choose one of {', '.join(_ACTIVATIONS)}."
        )
    return _ACTIVATIONS[name]()


class Sequential(Module):
    """Apply modules one after another, each as it is given.

    The ``i``-th module is the child named ``"i"``, so parameter names are PyTorch's
    (``0.weight``, ``2.bias``, ...) and a state dict moves between this and the same
    ``torch.nn.Sequential`` in either direction. No layers are fused behind the scenes: for
    a Linear followed by a ReLU in one op, give a :class:`LinearReLU`.

    Examples
    --------
    >>> import theta
    >>> net = Sequential(Linear(2, 3, rng=0), ReLU(), Linear(3, 1, rng=1))
    >>> net(theta.tensor([[1.0, 2.0]])).shape
    (1, 1)
    >>> list(net.state_dict())
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *layers: Module) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: argument {i} is a {type(layer).__name__}, not a Module."
                )
        _hold(self, [(str(i), layer) for i, layer in enumerate(layers)])

    @property
    def layers(self) -> list[Module]:
        """The modules, in the order ``forward`` runs them."""
        return [getattr(self, name) for name in self._names]

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self._names)


class MLP(Module):
    """A multilayer perceptron: Linear layers with an activation (and dropout) between them.

    Its state dict is that of ``torch.nn.Sequential(Linear, act, [Dropout], Linear, ...)``:
    ``0.weight, 0.bias, 2.weight, ...``. With ReLU, each hidden Linear and its ReLU are one
    :class:`LinearReLU` (one fused op), named by the Linear's index in that ``Sequential``;
    the index after it, the ReLU's there, holds no module of its own.

    Parameters
    ----------
    sizes : sequence of int
        Input size, hidden sizes, output size, e.g. ``(784, 512, 512, 10)``.
    activation : {"relu", "gelu", "tanh", "sigmoid"}, default="relu"
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    rng : int or numpy.random.Generator, optional

    Examples
    --------
    >>> import theta
    >>> mlp = MLP((4, 8, 3), rng=0)
    >>> mlp(theta.tensor([[1.0] * 4] * 2)).shape
    (2, 3)
    >>> list(mlp.state_dict()), [type(layer).__name__ for layer in mlp.layers]
    (['0.weight', '0.bias', '2.weight', '2.bias'], ['LinearReLU', 'Linear'])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs an input and an output size (got {sizes}).")
        # checked here too, as with no hidden layer the loop below never looks at them
        get_activation(activation)
        check_scalar(
            dropout, "dropout", float | int, min_val=0.0, max_val=1.0, include_boundaries="left"
        )
        rng = check_random_state(rng)
        layers: list[tuple[str, Module]] = []
        index = 0  # the position in the equivalent torch.nn.Sequential
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            hidden = i < len(sizes) - 2
            fused = hidden and activation == "relu"
            layer = (LinearReLU if fused else Linear)(n_in, n_out, rng=rng, dtype=dtype)
            layers.append((str(index), layer))
            if hidden and not fused:
                layers.append((str(index + 1), get_activation(activation)))
            index += 2 if hidden else 1  # a fused ReLU keeps its index, so names stay torch's
            if hidden and dropout > 0:
                layers.append((str(index), Dropout(dropout, rng=rng)))
                index += 1
        _hold(self, layers)

    layers = Sequential.layers  # the modules in the order forward runs them, as Sequential
    forward = Sequential.forward


def _hold(module: Module, layers: list[tuple[str, Module]]) -> None:
    """Keep each layer as the child of that name (``"0"``, ...), and their order."""
    for name, layer in layers:
        setattr(module, name, layer)
    module._names = tuple(name for name, _ in layers)


class Flatten(Module):
    """Merge axes ``start_axis..end_axis`` into one: PyTorch's ``Flatten(start_dim, end_dim)``.

    The keywords are NumPy's names, as in :func:`theta.flatten`; the default keeps the batch
    axis, as PyTorch's does, so (N, C, H, W) becomes (N, C*H*W).

    Examples
    --------
    >>> import numpy as np
    >>> Flatten()(np.ones((2, 3, 4, 5))).shape
    (2, 60)
    """

    def __init__(self, start_axis: int = 1, end_axis: int = -1) -> None:
        self.start_axis = start_axis
        self.end_axis = end_axis

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        return x.flatten(self.start_axis, self.end_axis)


class Unflatten(Module):
    """Split ``axis`` into ``sizes`` (one may be -1); PyTorch's ``Unflatten(dim, unflattened_size)``
    with NumPy's names.

    Examples
    --------
    >>> import numpy as np
    >>> Unflatten(1, (3, -1))(np.ones((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, axis: int, sizes: Sequence[int]) -> None:
        self.axis = axis
        self.sizes = tuple(sizes)

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not -x.ndim <= self.axis < x.ndim:
            raise IndexError(
                f"Unflatten: axis {self.axis} is out of bounds for the input of shape {x.shape}."
            )
        axis = self.axis % x.ndim
        try:
            return x.reshape(x.shape[:axis] + self.sizes + x.shape[axis + 1 :])
        except ValueError:
            raise ValueError(
                f"Unflatten: sizes {self.sizes} do not multiply to {x.shape[axis]}, the size of "
                f"axis {axis} of the input of shape {x.shape}."
            ) from None


class Identity(Module):
    """Return the input unchanged: a placeholder, e.g. for a layer switched off by a flag.

    Examples
    --------
    >>> import theta
    >>> theta.nn.Identity()(theta.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """

    def forward(self, x: Any) -> Any:
        return x
