"""Tensors with reverse-mode automatic differentiation: the "gradient" step of the chapter."""

# _tensor.py binds the ops to Tensor after defining it, so it must load before them
from theta.autograd._tensor import Tensor, get_default_dtype, set_default_dtype, tensor

# isort: split
from theta.autograd._gradcheck import GradcheckReport, Mismatch, gradcheck
from theta.autograd.engine import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from theta.autograd.function import Context, Function
from theta.autograd.ops.elementwise import (
    abs,
    add,
    clip,
    cos,
    div,
    exp,
    gelu,
    leaky_relu,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    power,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    sub,
    tanh,
    where,
)  # fmt: skip
from theta.autograd.ops.linalg import matmul
from theta.autograd.ops.movement import (
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    pad,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
)  # fmt: skip
from theta.autograd.ops.reduce import (
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    std,
    sum,
    var,
)  # fmt: skip

__all__ = [
    "Context", "Function", "GradcheckReport", "Mismatch", "Tensor",
    "abs", "add", "argmax", "argmin", "broadcast_to", "clip", "concatenate", "cos",
    "detect_anomaly", "div", "enable_grad", "exp", "expand_dims", "flatten", "gelu",
    "get_default_dtype", "gradcheck", "is_grad_enabled", "leaky_relu", "log", "log1p",
    "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum", "mul",
    "neg", "no_grad", "pad", "power", "relu", "reshape", "set_default_dtype", "sigmoid", "sin",
    "softmax", "softplus", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum",
    "swapaxes", "tanh", "tensor", "transpose", "var", "where",
]  # fmt: skip
