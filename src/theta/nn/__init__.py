"""Neural-network building blocks: ``Module`` and ``Parameter``, layers, init and functions."""

from theta.nn import functional, init
from theta.nn.attention import (
    MultiHeadAttention,
    TransformerBlock,
    attention_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
)
from theta.nn.layers import (
    GELU,
    MLP,
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    LinearReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    get_activation,
)  # fmt: skip
from theta.nn.module import IncompatibleKeys, Module, Parameter, functional_call

__all__ = [
    "GELU", "MLP", "Dropout", "Embedding", "IncompatibleKeys", "LayerNorm", "Linear", "LinearReLU",
    "Module",
    "MultiHeadAttention", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
    "TransformerBlock", "attention_mask", "functional", "functional_call", "get_activation", "init",
    "scaled_dot_product_attention", "sinusoidal_positions",
]  # fmt: skip
