"""Recurrent layers with PyTorch's parameters, names, gate order and shapes: RNN, LSTM, GRU and
their single-step cells.

One step of each, for input x_t and hidden state h (W_i* are the input weights, W_h* the
hidden ones, each with its bias):

    RNN    h' = tanh(W_ih x + b_ih + W_hh h + b_hh)                (or relu)
    LSTM   i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)       gate order i, f, g, o
           c' = sigmoid(f) * c + sigmoid(i) * tanh(g);   h' = sigmoid(o) * tanh(c')
           (with proj_size: h' = W_hr (sigmoid(o) * tanh(c')))
    GRU    r, z, n: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
           n = tanh(W_in x + b_in + r * (W_hn h + b_hn));   h' = (1 - z) * n + z * h

The layers run these steps over the sequence with the differentiable ops they are made of, so
backpropagation through time is ordinary backward through the unrolled graph, one step's
ops after another. Inputs are (L, N, H_in), (N, L, H_in) with batch_first, or unbatched
(L, H_in); h0 is (D * num_layers, N, H_out). PackedSequence inputs are not supported.
"""
from __future__ import annotations

import math

from ..creation import empty, zeros
from ..ops.activation import relu, sigmoid, tanh
from ..ops.dropout import dropout
from ..ops.linalg import linear
from ..ops.shape import cat, chunk, stack
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# --------------------------------------------------------------------------- one step
def _rnn_step(gi, h, w_hh, b_hh, nonlinearity):
    act = tanh if nonlinearity == "tanh" else relu
    return act(gi + linear(h, w_hh, b_hh))


def _lstm_step(gi, state, w_hh, b_hh, w_hr=None):
    h, c = state
    i, f, g, o = chunk(gi + linear(h, w_hh, b_hh), 4, -1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
    if w_hr is not None:
        h = linear(h, w_hr)
    return h, c


def _gru_step(gi, h, w_hh, b_hh):
    i_r, i_z, i_n = chunk(gi, 3, -1)
    h_r, h_z, h_n = chunk(linear(h, w_hh, b_hh), 3, -1)
    r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
    n = tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


# --------------------------------------------------------------------------- the layers
class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if hidden_size <= 0 or num_layers <= 0 or input_size <= 0:
            raise ValueError(f"{name}: input_size, hidden_size and num_layers must be positive, "
                             f"got {input_size}, {hidden_size}, {num_layers}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if proj_size < 0 or (proj_size and (mode != "LSTM" or proj_size >= hidden_size)):
            raise ValueError(f"{name}: proj_size must be 0, or (LSTM only) 0 < proj_size < "
                             f"hidden_size={hidden_size}, got {proj_size}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gates = _GATES[mode] * hidden_size
        out = proj_size or hidden_size
        kw = dict(device=device, dtype=dtype)
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[: 2 if bidirectional else 1]:
                width = input_size if layer == 0 else out * (2 if bidirectional else 1)
                tag = f"_l{layer}{suffix}"
                setattr(self, "weight_ih" + tag, Parameter(empty(gates, width, **kw)))
                setattr(self, "weight_hh" + tag, Parameter(empty(gates, out, **kw)))
                if bias:
                    setattr(self, "bias_ih" + tag, Parameter(empty(gates, **kw)))
                    setattr(self, "bias_hh" + tag, Parameter(empty(gates, **kw)))
                if proj_size:
                    setattr(self, "weight_hr" + tag, Parameter(empty(proj_size, hidden_size, **kw)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight and bias (PyTorch)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer: int, reverse: bool):
        tag = f"_l{layer}{'_reverse' if reverse else ''}"
        get = lambda n: getattr(self, n + tag, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def _direction(self, xs: list, state, layer: int, reverse: bool):
        """Run one direction of one layer over the steps xs (each (N, H)); returns the list of
        its outputs (each (N, H_out)) and the final state. Each step projects its own input:
        slicing one (L, N, 4H) projection per step would make backward add L full-size
        zero-padded gradients into it (O(L^2) memory traffic)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, reverse)
        steps = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
        outputs = [None] * len(xs)
        for t in steps:
            gi = linear(xs[t], w_ih, b_ih)
            if self.mode == "LSTM":
                state = _lstm_step(gi, state, w_hh, b_hh, w_hr)
                outputs[t] = state[0]
            elif self.mode == "GRU":
                state = outputs[t] = _gru_step(gi, state, w_hh, b_hh)
            else:
                state = outputs[t] = _rnn_step(gi, state, w_hh, b_hh, self.nonlinearity)
        return outputs, state

    def _check_input(self, input: Tensor, hx):
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (2, 3):
            shape = input.shape if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: input must be (L, N, H_in), (N, L, H_in) with "
                             f"batch_first, or unbatched (L, H_in); got {shape}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input has {input.shape[-1]} features, expected "
                             f"input_size={self.input_size} (input shape {input.shape})")

    def _initial(self, hx, batch: int, like: Tensor, width: int, what: str):
        D = 2 if self.bidirectional else 1
        shape = (D * self.num_layers, batch, width)
        if hx is None:
            return zeros(*shape, dtype=like.dtype, device=like.device)
        if tuple(hx.shape) != shape:
            raise ValueError(f"{type(self).__name__}: {what} must have shape {shape}, got "
                             f"{tuple(hx.shape)}")
        return hx

    def forward(self, input: Tensor, hx=None):  # noqa: A002
        self._check_input(input, hx)
        unbatched = input.ndim == 2
        if unbatched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if self.mode == "LSTM" else hx.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        batch = input.shape[1]
        out_width = self.proj_size or self.hidden_size
        if self.mode == "LSTM":
            h0, c0 = hx if hx is not None else (None, None)
            h0 = self._initial(h0, batch, input, out_width, "h_0")
            c0 = self._initial(c0, batch, input, self.hidden_size, "c_0")
        else:
            h0 = self._initial(hx, batch, input, out_width, "h_0")
        D = 2 if self.bidirectional else 1
        xs, h_n, c_n = [input[t] for t in range(input.shape[0])], [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                state = (h0[k], c0[k]) if self.mode == "LSTM" else h0[k]
                out, state = self._direction(xs, state, layer, reverse=d == 1)
                outs.append(out)
                if self.mode == "LSTM":
                    h_n.append(state[0])
                    c_n.append(state[1])
                else:
                    h_n.append(state)
            xs = outs[0] if D == 1 else [cat(pair, -1) for pair in zip(*outs)]
            if self.dropout and self.training and layer < self.num_layers - 1:
                xs = [dropout(x, self.dropout, True) for x in xs]
        x = stack(xs, 0)
        h_n = stack(h_n, 0)
        hidden = (h_n, stack(c_n, 0)) if self.mode == "LSTM" else h_n
        if unbatched:
            x = x.squeeze(1)
            hidden = tuple(h.squeeze(1) for h in hidden) if self.mode == "LSTM" \
                else hidden.squeeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, hidden

    def extra_repr(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)}" for k in ("num_layers", "batch_first",
                                                               "dropout", "bidirectional",
                                                               "proj_size")
                        if getattr(self, k) not in (1, False, 0.0, 0))
        return f"{self.input_size}, {self.hidden_size}{extra}"


class RNN(RNNBase):
    """Elman RNN; ``nonlinearity`` 'tanh' (default) or 'relu'."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# --------------------------------------------------------------------------- cells
class _CellBase(Module):
    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gates = _GATES[self._mode] * hidden_size
        kw = dict(device=device, dtype=dtype)
        self.weight_ih = Parameter(empty(gates, input_size, **kw))
        self.weight_hh = Parameter(empty(gates, hidden_size, **kw))
        self.bias_ih = Parameter(empty(gates, **kw)) if bias else None
        self.bias_hh = Parameter(empty(gates, **kw)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input: Tensor, hx):
        name = type(self).__name__
        if not isinstance(input, Tensor) or input.ndim not in (1, 2) \
                or input.shape[-1] != self.input_size:
            shape = input.shape if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{name}: input must be (N, {self.input_size}) or "
                             f"({self.input_size},), got {shape}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        shape = (x.shape[0], self.hidden_size)

        def state(h):
            if h is None:
                return zeros(*shape, dtype=x.dtype, device=x.device)
            h = h.unsqueeze(0) if unbatched else h
            if tuple(h.shape) != shape:
                raise ValueError(f"{name}: hidden state must have shape {shape}, got "
                                 f"{tuple(h.shape)}")
            return h
        return x, unbatched, state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_CellBase):
    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx=None) -> Tensor:  # noqa: A002
        x, unbatched, state = self._prepare(input, hx)
        h = _rnn_step(linear(x, self.weight_ih, self.bias_ih), state(hx), self.weight_hh,
                      self.bias_hh, self.nonlinearity)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    _mode = "LSTM"

    def forward(self, input: Tensor, hx=None):  # noqa: A002
        x, unbatched, state = self._prepare(input, hx)
        h0, c0 = hx if hx is not None else (None, None)
        h, c = _lstm_step(linear(x, self.weight_ih, self.bias_ih), (state(h0), state(c0)),
                          self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    _mode = "GRU"

    def forward(self, input: Tensor, hx=None) -> Tensor:  # noqa: A002
        x, unbatched, state = self._prepare(input, hx)
        h = _gru_step(linear(x, self.weight_ih, self.bias_ih), state(hx), self.weight_hh,
                      self.bias_hh)
        return h.squeeze(0) if unbatched else h
