"""nn.Embedding, nn.RNN / LSTM / GRU and their cells against PyTorch with the same weights:
state_dict names and shapes, outputs, final states, and the gradients of inputs, initial
states and every parameter; gradchecks; argument errors."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from opcheck import gradcheck_op, needs_torch, torch


def _same_weights(ours, theirs):
    theirs_state = theirs.state_dict()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs_state.items()}
    ours.load_state_dict({k: mt.tensor(v.detach().numpy()) for k, v in theirs_state.items()})


def _compare_grads(ours, theirs, pairs):
    for x, t in pairs:
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-9, rtol=1e-7)
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-9, rtol=1e-7,
                                   err_msg=name)


# --------------------------------------------------------------------------- embedding
@needs_torch
@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1},
                                {"scale_grad_by_freq": True}, {"max_norm": 1.0}])
def test_embedding_matches_torch(kw):
    torch.manual_seed(0)
    ref = torch.nn.Embedding(7, 3, **kw).double()
    ours = nn.Embedding(7, 3, **kw).to(mt.float64)
    _same_weights(ours, ref)
    idx = np.array([[0, 2, 2, 6], [1, 2, 5, 6]])
    out, tout = ours(mt.tensor(idx)), ref(torch.tensor(idx))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy())
    np.testing.assert_allclose(ours.weight.detach().numpy(), ref.weight.detach().numpy())
    up = np.random.default_rng(0).standard_normal(tout.shape)
    out.backward(mt.tensor(up))
    tout.backward(torch.tensor(up))
    np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), atol=1e-12)


def test_embedding_init_from_pretrained_and_errors():
    mt.manual_seed(0)
    emb = nn.Embedding(5, 4, padding_idx=0)
    rows = emb.weight.detach().numpy()
    assert not rows[0].any() and rows[1:].std() > 0.5     # N(0, 1) except the padding row
    table = mt.arange(12, dtype=mt.float64).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen(mt.tensor([3, 0])).tolist() == [[9.0, 10.0, 11.0], [0.0, 1.0, 2.0]]
    with pytest.raises(IndexError, match="embedding: index 5 is out of range for a table of 5"):
        emb(mt.tensor([5]))
    with pytest.raises(TypeError, match="embedding: indices must be an integer tensor"):
        emb(mt.tensor([1.0]))
    gradcheck_op(lambda w: F.embedding(mt.tensor([[1, 1], [4, 0]]), w), (6, 2))


# --------------------------------------------------------------------------- recurrent layers
LAYERS = [
    ("RNN", dict()), ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("LSTM", dict()), ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2)), ("LSTM", dict(batch_first=True, bias=False)),
    ("GRU", dict()), ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
]


@needs_torch
@pytest.mark.parametrize("name, kw", LAYERS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}"
                              for n, kw in LAYERS])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_match_torch(name, kw, with_state):
    torch.manual_seed(0)
    ref = getattr(torch.nn, name)(3, 4, **kw).double()
    ours = getattr(nn, name)(3, 4, **kw).to(mt.float64)
    _same_weights(ours, ref)
    rng = np.random.default_rng(1)
    L, N = 5, 2
    x = rng.standard_normal((N, L, 3) if kw.get("batch_first") else (L, N, 3))
    xs, ts = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pairs = [(xs, ts)]
    args_m, args_t = (xs,), (ts,)
    if with_state:
        D = 2 if kw.get("bidirectional") else 1
        layers = kw.get("num_layers", 1)
        h = rng.standard_normal((D * layers, N, kw.get("proj_size") or 4))
        hm, ht = mt.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
        pairs.append((hm, ht))
        if name == "LSTM":
            c = rng.standard_normal((D * layers, N, 4))
            cm, ct = mt.tensor(c, requires_grad=True), torch.tensor(c, requires_grad=True)
            pairs.append((cm, ct))
            args_m, args_t = (xs, (hm, cm)), (ts, (ht, ct))
        else:
            args_m, args_t = (xs, hm), (ts, ht)
    out, hidden = ours(*args_m)
    tout, thidden = ref(*args_t)
    hidden = hidden if isinstance(hidden, tuple) else (hidden,)
    thidden = thidden if isinstance(thidden, tuple) else (thidden,)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-10)
    for h, th in zip(hidden, thidden):
        np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), atol=1e-10)
    loss = (out * mt.tensor(np.cos(np.arange(out.numel())).reshape(out.shape))).sum() + \
        sum((h * h).sum() for h in hidden)
    tloss = (tout * torch.tensor(np.cos(np.arange(tout.numel())).reshape(tout.shape))).sum() + \
        sum((h * h).sum() for h in thidden)
    loss.backward()
    tloss.backward()
    _compare_grads(ours, ref, pairs)


@needs_torch
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_sequences_match_torch(name):
    torch.manual_seed(0)
    ref, ours = getattr(torch.nn, name)(3, 2).double(), getattr(nn, name)(3, 2).to(mt.float64)
    _same_weights(ours, ref)
    x = np.random.default_rng(2).standard_normal((4, 3))
    out, tout = ours(mt.tensor(x))[0], ref(torch.tensor(x))[0]
    assert out.shape == (4, 2)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, batched):
    torch.manual_seed(0)
    ref, ours = getattr(torch.nn, name)(3, 4).double(), getattr(nn, name)(3, 4).to(mt.float64)
    _same_weights(ours, ref)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3) if batched else (3,))
    h = rng.standard_normal((2, 4) if batched else (4,))
    xm, xt = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hm, ht = mt.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    if name == "LSTMCell":
        cm, ct = mt.tensor(h * 0.5, requires_grad=True), torch.tensor(h * 0.5, requires_grad=True)
        out, tout = ours(xm, (hm, cm)), ref(xt, (ht, ct))
        loss = (out[0] * 2 + out[1] ** 2).sum()
        tloss = (tout[0] * 2 + tout[1] ** 2).sum()
        out, tout = out[0], tout[0]
    else:
        out, tout = ours(xm, hm), ref(xt, ht)
        loss, tloss = (out ** 3).sum(), (tout ** 3).sum()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    loss.backward()
    tloss.backward()
    _compare_grads(ours, ref, [(xm, xt), (hm, ht)])


def test_lstm_gradcheck_through_time():
    mt.manual_seed(0)
    lstm = nn.LSTM(2, 3).to(mt.float64)
    gradcheck_op(lambda x: lstm(x)[0], (4, 2, 2))


def test_recurrent_errors_name_the_layer():
    with pytest.raises(ValueError, match="LSTM: input has 5 features, expected input_size=3"):
        nn.LSTM(3, 4)(mt.randn(2, 1, 5))
    with pytest.raises(ValueError, match=r"GRU: h_0 must have shape \(1, 1, 4\), got \(2, 1, 4\)"):
        nn.GRU(3, 4)(mt.randn(2, 1, 3), mt.zeros(2, 1, 4))
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="proj_size must be 0, or"):
        nn.LSTM(3, 4, proj_size=4)
