"""F.scaled_dot_product_attention and nn.MultiheadAttention against PyTorch (same weights),
forward and gradients, plus gradchecks and argument errors."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from opcheck import check_op, gradcheck_op, needs_torch, torch


@pytest.mark.parametrize("shape_q, shape_k, ev", [((5, 4), (6, 4), 3), ((2, 5, 4), (2, 6, 4), 4),
                                                  ((2, 3, 5, 8), (2, 3, 7, 8), 2)])
@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
def test_sdpa_matches_torch(shape_q, shape_k, ev, mask):
    L, S = shape_q[-2], shape_k[-2]
    rng = np.random.default_rng(0)
    kw_mt, kw_t = {}, {}
    if mask == "bool":
        m = rng.random((L, S)) > 0.3
        m[:, 0] = True  # every row keeps one position (a fully hidden row is NaN in both)
        kw_mt, kw_t = {"attn_mask": mt.tensor(m)}, {"attn_mask": torch.tensor(m)}
    elif mask == "float":
        m = rng.standard_normal((L, S))
        kw_mt, kw_t = {"attn_mask": mt.tensor(m)}, {"attn_mask": torch.tensor(m)}
    elif mask == "causal":
        kw_mt = kw_t = {"is_causal": True}
    v_shape = shape_k[:-1] + (ev,)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw_mt),
             lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, **kw_t),
             shape_q, shape_k, v_shape)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3, **kw_mt),
             lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=0.3,
                                                                             **kw_t),
             shape_q, shape_k, v_shape)


def test_sdpa_gradcheck_and_errors():
    gradcheck_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), (2, 3, 4), (2, 5, 4),
                 (2, 5, 3))
    q = mt.randn(2, 3, 4)
    with pytest.raises(ValueError, match="disagree on E or S"):
        F.scaled_dot_product_attention(q, mt.randn(2, 5, 3), mt.randn(2, 5, 2))
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mt.ones(3, 3), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\) does not broadcast"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=mt.ones(4, 4))


def _copy_weights(ours, theirs):
    state = {k: mt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    assert set(state) == set(ours.state_dict()), (set(state) ^ set(ours.state_dict()))
    ours.load_state_dict(state)


@needs_torch
@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True), dict(bias=False),
                                dict(kdim=3, vdim=5), dict(add_bias_kv=True),
                                dict(add_zero_attn=True)],
                         ids=["default", "batch_first", "no_bias", "kdim_vdim", "bias_kv",
                              "zero_attn"])
@pytest.mark.parametrize("masks", [None, "padding", "attn_bool", "attn_float3d"])
def test_multihead_attention_matches_torch(kw, masks):
    torch.manual_seed(0)
    E, H, L, S, N = 8, 2, 4, 5, 3
    ref = torch.nn.MultiheadAttention(E, H, **kw).double()
    ours = nn.MultiheadAttention(E, H, **kw).to(mt.float64)
    _copy_weights(ours, ref)
    rng = np.random.default_rng(1)
    first = (N, L) if kw.get("batch_first") else (L, N)
    src = (N, S) if kw.get("batch_first") else (S, N)
    q = rng.standard_normal(first + (E,))
    k = rng.standard_normal(src + (kw.get("kdim", E),))
    v = rng.standard_normal(src + (kw.get("vdim", E),))
    m_kw, t_kw = {}, {}
    if masks == "padding":
        pad = np.zeros((N, S), dtype=bool)
        pad[0, -2:] = True
        m_kw, t_kw = {"key_padding_mask": mt.tensor(pad)}, {"key_padding_mask": torch.tensor(pad)}
    elif masks == "attn_bool":
        am = np.triu(np.ones((L, S), dtype=bool), 1)
        m_kw, t_kw = {"attn_mask": mt.tensor(am)}, {"attn_mask": torch.tensor(am)}
    elif masks == "attn_float3d":
        am = rng.standard_normal((N * H, L, S))
        m_kw, t_kw = {"attn_mask": mt.tensor(am)}, {"attn_mask": torch.tensor(am)}
    for avg in (True, False):
        xs = [mt.tensor(a, requires_grad=True) for a in (q, k, v)]
        ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
        out, w = ours(*xs, average_attn_weights=avg, **m_kw)
        tout, tw = ref(*ts, average_attn_weights=avg, **t_kw)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), atol=1e-10)
        up = rng.standard_normal(tout.shape)
        out.backward(mt.tensor(up))
        tout.backward(torch.tensor(up))
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-10)
        for (name, p), tp in zip(ours.named_parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-10, err_msg=name)
            p.grad, tp.grad = None, None


@needs_torch
def test_multihead_attention_unbatched_and_no_weights():
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(6, 3).double()
    ours = nn.MultiheadAttention(6, 3).to(mt.float64)
    _copy_weights(ours, ref)
    x = np.random.default_rng(2).standard_normal((4, 6))
    out, w = ours(mt.tensor(x), mt.tensor(x), mt.tensor(x), need_weights=False)
    tout, _ = ref(torch.tensor(x), torch.tensor(x), torch.tensor(x), need_weights=False)
    assert w is None and out.shape == (4, 6)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-10)


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be a positive multiple of "
                                         r"num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match="expected feature sizes"):
        mha(mt.randn(4, 2, 6), mt.randn(4, 2, 6), mt.randn(4, 2, 6))
