"""Recurrent layers: ``RNN``, ``GRU`` and ``LSTM``, with PyTorch's parameters, gates and outputs.

A layer runs in two parts. The input projection of every time step at once is one GEMM
(``F.linear`` on the whole sequence). The recurrence, which must go step by step, is one fused
``Function`` per layer and direction (``Recurrence``) with a hand-written backpropagation
through time. Composed from theta ops, each step would add 4 (RNN) to 15 (LSTM) graph nodes,
and at the sizes a CPU trains, Python's cost per node, not arithmetic, would set the speed;
fused, backward also turns the per-step weight gradients into one GEMM over all steps.

Parameter names (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, then
``..._reverse`` for the backward direction), their layouts and the gate order (GRU: r, z, n;
LSTM: i, f, g, o) are PyTorch's, so a ``torch.nn.LSTM`` state dict loads strictly.

Dimensions: T time steps, B batch, I input features, H hidden size, G gates (RNN 1, GRU 3,
LSTM 4), S state size (H, or 2H for the LSTM's h and c side by side), L layers, D directions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from theta.autograd import Context, Function, Tensor, concatenate, stack, tensor
from theta.nn import functional as F
from theta.nn import init
from theta.nn.module import Module, Parameter
from theta.rng import check_random_state
from theta.special import sigmoid
from theta.validation import Options, check_param, check_scalar

__all__ = ["GRU", "LSTM", "RNN"]

Grads = tuple[np.ndarray | None, ...]


class Recurrence(Function):
    """Run one recurrent layer in one direction over precomputed input projections.

    Inputs: ``xw`` (T, B, G*H), the input projection with ``bias_ih`` added; ``w_hh`` (G*H, H);
    ``b_hh`` (G*H,); ``h0`` (B, H); for the LSTM also ``c0`` (B, H). The output is every step's
    state (T, B, S) in time order; the LSTM's holds ``[h, c]`` side by side, as a Function has
    one output and ``c_n``'s gradient must flow back through it. ``cell`` is ``"tanh"``,
    ``"relu"``, ``"gru"`` or ``"lstm"``; ``reverse`` runs from the last step to the first.
    """

    @staticmethod
    def forward(
        ctx: Context,
        xw: np.ndarray,
        w_hh: np.ndarray,
        b_hh: np.ndarray,
        h0: np.ndarray,
        *c0: np.ndarray,
        cell: str,
        reverse: bool,
    ) -> np.ndarray:
        T, B, _ = xw.shape
        H = w_hh.shape[1]
        states = np.empty((T, B, 2 * H if cell == "lstm" else H), dtype=xw.dtype)
        gates = np.empty(xw.shape if cell in ("gru", "lstm") else 0, dtype=xw.dtype)
        hw_n = np.empty((T, B, H) if cell == "gru" else 0, dtype=xw.dtype)  # GRU: h @ W_hn.T
        h, c = h0, (c0[0] if c0 else None)
        w_t = w_hh.T  # (H, G*H)
        for t in range(T - 1, -1, -1) if reverse else range(T):
            hw = h @ w_t  # (B, G*H)
            hw += b_hh
            if cell == "gru":
                r_z = sigmoid(xw[t, :, : 2 * H] + hw[:, : 2 * H])  # (B, 2H)
                r, z = r_z[:, :H], r_z[:, H:]
                n = np.tanh(xw[t, :, 2 * H :] + r * hw[:, 2 * H :])
                h = n + z * (h - n)  # (1 - z) * n + z * h
                gates[t, :, : 2 * H], gates[t, :, 2 * H :] = r_z, n
                hw_n[t] = hw[:, 2 * H :]
                states[t] = h
            elif cell == "lstm":
                pre = xw[t] + hw  # (B, 4H): i, f, g, o
                gates[t] = sigmoid(pre)
                gates[t, :, 2 * H : 3 * H] = np.tanh(pre[:, 2 * H : 3 * H])
                i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
                c = f * c + i * g
                h = o * np.tanh(c)
                states[t, :, :H], states[t, :, H:] = h, c
            else:
                hw += xw[t]
                h = np.tanh(hw) if cell == "tanh" else np.maximum(hw, 0)
                states[t] = h
        ctx.save(w_hh, h0, *c0, states, gates, hw_n)
        return states

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> Grads:
        w_hh, h0, *c0, states, gates, hw_n = ctx.saved
        cell, reverse = ctx.kwargs["cell"], ctx.kwargs["reverse"]
        T, B, _ = states.shape
        H = w_hh.shape[1]
        # the state each step starts from, and for the LSTM the cell state too: (T, B, H)
        first = [h0, *c0]
        prev = [
            np.concatenate([seq[1:], start[None]] if reverse else [start[None], seq[:-1]])
            for seq, start in zip((states[..., :H], states[..., H:]), first, strict=False)
        ]
        d_pre = np.empty((T, B, w_hh.shape[0]), dtype=grad.dtype)  # gradient of xw
        d_hw = np.empty_like(d_pre) if cell == "gru" else d_pre  # gradient of h @ W.T + b_hh
        dh = np.zeros((B, H), dtype=grad.dtype)
        dc = np.zeros((B, H), dtype=grad.dtype)
        for t in range(T) if reverse else range(T - 1, -1, -1):
            dh = dh + grad[t, :, :H]
            if cell == "gru":
                r, z, n = (gates[t, :, k * H : (k + 1) * H] for k in range(3))
                da_n = dh * (1.0 - z) * (1.0 - n * n)
                d_pre[t, :, :H] = da_n * hw_n[t] * r * (1.0 - r)
                d_pre[t, :, H : 2 * H] = dh * (prev[0][t] - n) * z * (1.0 - z)
                d_pre[t, :, 2 * H :] = da_n
                d_hw[t, :, : 2 * H] = d_pre[t, :, : 2 * H]
                d_hw[t, :, 2 * H :] = da_n * r
                dh = dh * z + d_hw[t] @ w_hh
            elif cell == "lstm":
                i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
                tanh_c = np.tanh(states[t, :, H:])
                dc = dc + grad[t, :, H:] + dh * o * (1.0 - tanh_c * tanh_c)
                d_pre[t, :, :H] = dc * g * i * (1.0 - i)
                d_pre[t, :, H : 2 * H] = dc * prev[1][t] * f * (1.0 - f)
                d_pre[t, :, 2 * H : 3 * H] = dc * i * (1.0 - g * g)
                d_pre[t, :, 3 * H :] = dh * tanh_c * o * (1.0 - o)
                dc = dc * f
                dh = d_pre[t] @ w_hh
            else:
                h = states[t]
                d_pre[t] = dh * (1.0 - h * h) if cell == "tanh" else dh * (h > 0)
                dh = d_pre[t] @ w_hh
        need = ctx.needs_grad
        d2 = d_hw.reshape(T * B, -1)  # (T*B, G*H)
        grads = [
            d_pre if need[0] else None,
            d2.T @ prev[0].reshape(T * B, H) if need[1] else None,
            d2.sum(axis=0) if need[2] else None,
            dh if need[3] else None,
        ]
        return tuple(grads + ([dc if need[4] else None] if c0 else []))


class _RNNBase(Module):
    """What RNN, GRU and LSTM share: the parameters, the layer stack and the input checks."""

    _cell = ""
    _n_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        check_scalar(input_size, "input_size", int, min_val=1, caller=self)
        check_scalar(hidden_size, "hidden_size", int, min_val=1, caller=self)
        check_scalar(num_layers, "num_layers", int, min_val=1, caller=self)
        check_scalar(
            dropout, "dropout", float | int, min_val=0.0, max_val=1.0,
            include_boundaries="left", caller=self,
        )  # fmt: skip
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        rng = check_random_state(rng)
        self.rng = rng  # dropout between layers draws from it too
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch's U(-1/sqrt(H), 1/sqrt(H)) for all
        GH = self._n_gates * hidden_size
        for layer in range(num_layers):
            n_in = input_size if layer == 0 else self._n_directions * hidden_size
            for suffix in self._suffixes:
                shapes = {"weight_ih": (GH, n_in), "weight_hh": (GH, hidden_size)}
                shapes |= {"bias_ih": (GH,), "bias_hh": (GH,)}
                for kind, shape in shapes.items():
                    value = None
                    if bias or kind.startswith("weight"):
                        value = Parameter(init.uniform(shape, -bound, bound, rng=rng, dtype=dtype))
                    setattr(self, f"{kind}_l{layer}{suffix}", value)

    @property
    def _n_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def forward(self, x: Tensor, hx: Any = None) -> tuple[Tensor, Any]:
        """Run the sequence ``x`` from the initial state ``hx`` (zeros if None).

        Parameters
        ----------
        x : Tensor of shape (T, B, I), (B, T, I) if ``batch_first``, or (T, I) unbatched
        hx : Tensor of shape (L*D, B, H), or (L*D, H) unbatched; for the LSTM a tuple
            ``(h0, c0)`` of two such tensors.

        Returns
        -------
        output : Tensor of shape (T, B, D*H) (batch first or unbatched as ``x``)
            The last layer's state at every step, both directions side by side.
        h_n : Tensor of shape (L*D, B, H); for the LSTM a tuple ``(h_n, c_n)``
            Every layer's and direction's final state.
        """
        name = type(self).__name__
        x = x if isinstance(x, Tensor) else tensor(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (T, B, {self.input_size}), "
                f"(B, T, {self.input_size}) with batch_first, or unbatched "
                f"(T, {self.input_size}) (got {x.shape})."
            )
        batched = x.ndim == 3
        if not batched:
            x = x.expand_dims(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # (T, B, I)
        starts = self._initial_states(hx, x.shape[1], batched, x.dtype)  # each (L*D, B, H)
        lstm = self._cell == "lstm"
        H, GH = self.hidden_size, self._n_gates * self.hidden_size
        finals: list[list[Tensor]] = [[], []]  # h_n and c_n pieces, one per layer and direction
        out = x
        for layer in range(self.num_layers):
            if layer and self.dropout:
                out = F.dropout(out, self.dropout, rng=self.rng, training=self.training)
            outs = []
            for d, suffix in enumerate(self._suffixes):
                k = layer * self._n_directions + d
                params = [getattr(self, f"{kind}_l{layer}{suffix}") for kind in
                          ("weight_ih", "bias_ih", "weight_hh", "bias_hh")]  # fmt: skip
                b_hh = params[3] if self.bias else tensor(np.zeros(GH, dtype=x.dtype))
                xw = F.linear(out, params[0], params[1])  # (T, B, G*H): one GEMM for all steps
                states = Recurrence.apply(
                    xw, params[2], b_hh, *[s[k] for s in starts], cell=self._cell, reverse=d == 1
                )  # (T, B, S)
                last = states[0 if d == 1 else -1]  # (B, S)
                outs.append(states[..., :H] if lstm else states)
                finals[0].append(last[:, :H] if lstm else last)
                if lstm:
                    finals[1].append(last[:, H:])
            out = outs[0] if len(outs) == 1 else concatenate(outs, axis=-1)  # (T, B, D*H)
        h_n = [stack(pieces) for pieces in finals[: 1 + lstm]]  # each (L*D, B, H)
        if not batched:
            out, h_n = out.squeeze(1), [h.squeeze(1) for h in h_n]
        elif self.batch_first:
            out = out.transpose(1, 0, 2)  # (B, T, D*H)
        return out, (tuple(h_n) if lstm else h_n[0])

    def _initial_states(self, hx: Any, B: int, batched: bool, dtype: np.dtype) -> list[Tensor]:
        """``[h0]`` (and ``c0`` for the LSTM) as (L*D, B, H) tensors, zeros where not given."""
        name = type(self).__name__
        n_states = 2 if self._cell == "lstm" else 1
        shape = (self.num_layers * self._n_directions, B, self.hidden_size)
        if hx is None:
            return [tensor(np.zeros(shape, dtype=dtype))] * n_states
        if n_states == 2 and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise TypeError(f"{name}: hx must be a tuple (h0, c0) (got {type(hx).__name__}).")
        given = list(hx) if n_states == 2 else [hx]
        expected = shape if batched else (shape[0], shape[2])
        out = []
        for label, h in zip(("h0", "c0"), given, strict=False):
            h = h if isinstance(h, Tensor) else tensor(h)
            if h.shape != expected:
                raise ValueError(f"{name}: {label} must have shape {expected} (got {h.shape}).")
            out.append(h if batched else h.expand_dims(1))
        return out


class RNN(_RNNBase):
    """Elman recurrent network: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Parameters
    ----------
    input_size, hidden_size : int
        I and H.
    num_layers : int, default=1
        Stacked layers; each after the first reads the previous one's output.
    nonlinearity : {"tanh", "relu"}, default="tanh"
    bias : bool, default=True
    batch_first : bool, default=False
        Input and output are (B, T, feature) instead of (T, B, feature).
    dropout : float, default=0.0
        Dropout on each layer's output except the last, in training mode.
    bidirectional : bool, default=False
        Also run each layer from the last step to the first, concatenating both outputs.
    rng : int or numpy.random.Generator, optional
        Source of the initial weights, ``U(-1/sqrt(H), 1/sqrt(H))``, and of dropout.
    dtype : numpy dtype, optional

    Examples
    --------
    >>> import numpy as np
    >>> rnn = RNN(4, 8, 2, rng=0)
    >>> out, h_n = rnn(np.ones((5, 3, 4), dtype=np.float32))  # (T, B, I)
    >>> out.shape, h_n.shape
    ((5, 3, 8), (2, 3, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        check_param(nonlinearity, "nonlinearity", Options(("tanh", "relu")), caller=self)
        self.nonlinearity = nonlinearity
        self._cell = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
            dropout=dropout, bidirectional=bidirectional, rng=rng, dtype=dtype,
        )  # fmt: skip


class GRU(_RNNBase):
    """Gated recurrent unit, PyTorch's form and gate order (reset r, update z, new n)::

        r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr)
        z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
        h' = (1 - z) * n + z * h

    Arguments as :class:`RNN`, without ``nonlinearity``.

    Examples
    --------
    >>> import numpy as np
    >>> gru = GRU(4, 8, batch_first=True, bidirectional=True, rng=0)
    >>> out, h_n = gru(np.ones((3, 5, 4), dtype=np.float32))  # (B, T, I)
    >>> out.shape, h_n.shape
    ((3, 5, 16), (2, 3, 8))
    """

    _cell = "gru"
    _n_gates = 3


class LSTM(_RNNBase):
    """Long short-term memory, PyTorch's form and gate order (input i, forget f, cell g,
    output o)::

        i, f, o = σ(...), g = tanh(...)   each of x W_i*^T + b_i* + h W_h*^T + b_h*
        c' = f * c + i * g
        h' = o * tanh(c')

    Arguments as :class:`GRU`; ``forward(x, (h0, c0))`` returns ``(output, (h_n, c_n))``.
    PyTorch's ``proj_size`` is not supported.

    Examples
    --------
    >>> import numpy as np
    >>> lstm = LSTM(4, 8, rng=0)
    >>> out, (h_n, c_n) = lstm(np.ones((5, 4), dtype=np.float32))  # unbatched (T, I)
    >>> out.shape, h_n.shape, c_n.shape
    ((5, 8), (1, 8), (1, 8))
    """

    _cell = "lstm"
    _n_gates = 4
