"""A small convolutional network for images: LeNet's shape, sized for the 8×8 digits.

Convolutions find local strokes wherever they are in the picture; pooling halves the
picture so the next convolution sees a wider patch; a small MLP reads the result. Batch
normalization after each convolution (a modern addition to LeNet) lets a high learning rate
train it in a few epochs. Every
layer is a plain :mod:`theta.nn` module, held as PyTorch (and torchvision's LeNet/VGG) hold
them: ``features`` then ``classifier``, so the state dict reads ``features.0.weight``, ...

Dimensions: N batch, C channels, H height, W width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from theta.autograd import Tensor
from theta.nn import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    Sequential,
    get_activation,
)
from theta.rng import check_random_state

__all__ = ["CNN"]


class CNN(Module):
    """Convolution blocks (3×3 conv, batch norm, ReLU, 2×2 max-pool), then an MLP classifier.

    Parameters
    ----------
    in_shape : (int, int, int), default=(1, 8, 8)
        ``(C, H, W)`` of one image; it sizes the first Linear layer.
    n_classes : int, default=10
        Number of logits per image.
    channels : sequence of int, default=(16, 32)
        Output channels of each convolution block; each block halves H and W (rounding down).
    hidden : int or sequence of int, default=(64,)
        Hidden layer sizes of the classifier (an int: one hidden layer).
    kernel_size : int, default=3
        Odd size of every convolution's square kernel; padding keeps H and W ("same").
    batch_norm : bool, default=True
        Normalize each convolution's output (then the convolution has no bias, as it would
        be cancelled).
    activation : {"relu", "gelu", "tanh", "sigmoid"}, default="relu"
    dropout : float, default=0.0
        Dropout probability after each hidden layer of the classifier.
    rng, dtype :
        Random source and float dtype of the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> net = CNN((1, 8, 8), 10, rng=0)
    >>> net(np.zeros((2, 1, 8, 8), dtype=np.float32)).shape
    (2, 10)
    >>> net(np.zeros((2, 64), dtype=np.float32)).shape  # rows of C*H*W pixels are images too
    (2, 10)
    >>> list(net.state_dict())[:2]
    ['features.0.weight', 'features.1.weight']
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 8, 8),
        n_classes: int = 10,
        *,
        channels: Sequence[int] = (16, 32),
        hidden: int | Sequence[int] = (64,),
        kernel_size: int = 3,
        batch_norm: bool = True,
        activation: str = "relu",
        dropout: float = 0.0,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        in_shape, channels = tuple(in_shape), tuple(channels)
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        if len(in_shape) != 3 or not all(isinstance(n, int) and n > 0 for n in in_shape):
            raise ValueError(
                f"CNN: in_shape must be three positive ints (C, H, W) (got {in_shape})."
            )
        if kernel_size % 2 == 0:
            raise ValueError(f"CNN: kernel_size must be odd, so 'same' padding is symmetric "
                             f"(got {kernel_size}).")  # fmt: skip
        c, h, w = in_shape
        if h >> len(channels) == 0 or w >> len(channels) == 0:
            raise ValueError(
                f"CNN: {len(channels)} blocks halve an image of {h}x{w} to nothing; use at most "
                f"{int(math.log2(min(h, w)))} channels entries (got {channels})."
            )
        self.in_shape = in_shape
        rng = check_random_state(rng)
        blocks: list[Module] = []
        for c_out in channels:
            blocks.append(Conv2d(c, c_out, kernel_size, padding="same", bias=not batch_norm,
                                 rng=rng, dtype=dtype))  # fmt: skip
            if batch_norm:
                blocks.append(BatchNorm2d(c_out, dtype=dtype))
            blocks += [get_activation(activation), MaxPool2d(2)]
            c, h, w = c_out, h // 2, w // 2
        self.features = Sequential(*blocks)  # (N, C, H, W) -> (N, c, h, w)
        head: list[Module] = [Flatten()]
        sizes = (c * h * w, *hidden)
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            head += [Linear(n_in, n_out, rng=rng, dtype=dtype), get_activation(activation)]
            if dropout > 0:
                head.append(Dropout(dropout, rng=rng))
        head.append(Linear(sizes[-1], n_classes, rng=rng, dtype=dtype))
        self.classifier = Sequential(*head)  # (N, c, h, w) -> (N, n_classes)

    def forward(self, x: Any) -> Tensor:
        """Logits of shape (N, n_classes) for images (N, C, H, W) or flat rows (N, C*H*W)."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 2 and x.shape[1] == math.prod(self.in_shape):
            x = x.reshape((x.shape[0], *self.in_shape))  # (N, C*H*W) -> (N, C, H, W)
        if x.shape[1:] != self.in_shape:
            c, h, w = self.in_shape
            raise ValueError(
                f"CNN: expected images of shape (N, {c}, {h}, {w}) or rows of {c * h * w} "
                f"pixels (got shape {x.shape})."
            )
        return self.classifier(self.features(x))
