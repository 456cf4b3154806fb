"""Neural-network building blocks: ``Module`` and ``Parameter``, layers, init and functions."""

from theta.nn import functional, init
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
from theta.nn.attention import (
    MultiHeadAttention,
    TransformerBlock,
    attention_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from theta.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from theta.nn.layers import (
    GELU,
    MLP,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    LinearReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    Unflatten,
    get_activation,
)  # fmt: skip
from theta.nn.module import IncompatibleKeys, Module, Parameter, functional_call
from theta.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from theta.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, Upsample
from theta.nn.recurrent import GRU, LSTM, RNN

__all__ = [
    "GELU", "MLP", "Dropout", "Embedding", "IncompatibleKeys", "LayerNorm", "Linear", "LinearReLU",
    "Module",
    "MultiHeadAttention", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
    "TransformerBlock", "attention_mask", "functional", "functional_call", "get_activation", "init",
    "scaled_dot_product_attention", "sinusoidal_positions",
    "BatchNorm1d", "BatchNorm2d", "GroupNorm",
    "GRU", "LSTM", "RNN",
    "Flatten", "Identity", "Unflatten",
    "Conv1d", "Conv2d", "ConvTranspose2d",
    "AdaptiveAvgPool2d", "AvgPool2d", "MaxPool2d", "Upsample",
    "ELU", "SELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid", "Mish",
    "ReLU6", "SiLU", "Softplus",
]  # fmt: skip
