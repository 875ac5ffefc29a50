"""conv_transpose2d, conv1d, conv_transpose1d (functional and nn) and max_unpool2d against
PyTorch: forward, input/weight/bias gradients, on every backend (tests/backends.py: numba, the
NumPy reference, the CUDA im2col/col2im kernels emulated and on a GPU); gradchecks; errors."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from backends import backend  # noqa: F401  (the fixture)
from opcheck import check_op, needs_torch, torch

T2D = [  # x shape, weight shape, kwargs
    ((2, 3, 5, 4), (3, 2, 3, 3), {}),
    ((2, 4, 5, 4), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 3, 3), (4, 1, 3, 3), dict(groups=2, dilation=2)),
    ((2, 6, 4, 5), (6, 2, 2, 3), dict(stride=(2, 3), padding=(0, 1), groups=3)),
    ((3, 4, 4), (3, 2, 2, 2), dict(stride=2)),                      # unbatched
    ((0, 3, 4, 4), (3, 2, 3, 3), {}),                               # empty batch
]


@pytest.mark.parametrize("xs, ws, kw", T2D, ids=[str(c[2]) or "default" for c in T2D])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_matches_torch(backend, xs, ws, kw, bias):
    shapes = (xs, ws) + (((ws[1] * kw.get("groups", 1),),) if bias else ())
    check_op(lambda x, w, *b: F.conv_transpose2d(x, w, *b, **kw),
             lambda x, w, *b: torch.nn.functional.conv_transpose2d(x, w, *b, **kw), *shapes,
             device=backend.device)


C1D = [((2, 4, 9), (6, 4, 3), {}), ((2, 4, 9), (4, 2, 3), dict(stride=2, padding=1, groups=2)),
       ((4, 10), (3, 4, 2), dict(dilation=3)), ((2, 3, 7), (3, 3, 3), dict(padding="same"))]


@pytest.mark.parametrize("xs, ws, kw", C1D, ids=[str(c[2]) or "default" for c in C1D])
def test_conv1d_matches_torch(backend, xs, ws, kw):
    check_op(lambda x, w, b: F.conv1d(x, w, b, **kw),
             lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw), xs, ws, (ws[0],),
             device=backend.device)


def test_conv_transpose1d_matches_torch(backend):
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    check_op(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
             lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kw),
             (2, 4, 6), (4, 3, 3), (6,), device=backend.device)


def test_gradchecks(backend):
    backend.gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                         output_padding=1), (1, 2, 3, 3),
                      (2, 3, 3, 3), (3,))
    backend.gradcheck(lambda x, w: F.conv1d(x, w, stride=2), (2, 3, 7), (2, 3, 3))


@needs_torch
@pytest.mark.parametrize("name, args, kw", [
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("ConvTranspose2d", (3, 2, (2, 3)), dict(bias=False, dilation=2)),
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1)),
    ("ConvTranspose1d", (4, 2, 3), dict(stride=3)),
])
def test_modules_match_torch(name, args, kw):
    torch.manual_seed(0)
    ref = getattr(torch.nn, name)(*args, **kw).double()
    ours = getattr(nn, name)(*args, **kw).to(mt.float64)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    ours.load_state_dict({k: mt.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, args[0], 5, 5) if "2d" in name
                                                 else (2, args[0], 7))
    np.testing.assert_allclose(ours(mt.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), atol=1e-10)
    fan = ours.weight.shape[1] * int(np.prod(ours.weight.shape[2:]))
    bound = 1 / np.sqrt(fan)  # PyTorch's default init bound, computed from weight.shape[1]
    assert np.abs(getattr(nn, name)(*args, **kw).weight.detach().numpy()).max() <= bound


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_unpool2d_inverts_max_pool(backend, kw):
    rng = np.random.default_rng(1)
    x = backend.tensor(rng.standard_normal((2, 3, 6, 5)))
    pooled, idx = F.max_pool2d(x, return_indices=True, **kw)
    _, tidx = torch.nn.functional.max_pool2d(torch.tensor(backend.numpy(x)), return_indices=True,
                                             **kw)
    np.testing.assert_array_equal(backend.numpy(idx), tidx.numpy())
    check_op(lambda p: F.max_unpool2d(p, idx, output_size=(6, 5), **kw),
             lambda p: torch.nn.functional.max_unpool2d(p, tidx, output_size=(6, 5), **kw),
             tuple(idx.shape), device=backend.device)
    assert nn.MaxUnpool2d(**kw)(pooled, idx, output_size=x.shape[-2:]).shape == x.shape


def test_errors_name_the_op():
    x = mt.randn(1, 4, 3, 3)
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding \(2, 2\) must be "
                                         r"smaller than stride \(2, 2\)"):
        F.conv_transpose2d(x, mt.randn(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv_transpose2d: weight .* expects 3 input channels"):
        F.conv_transpose2d(x, mt.randn(3, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv1d: expected a 2-D \(C, L\) or 3-D"):
        F.conv1d(x, mt.randn(2, 4, 3))
    with pytest.raises(ValueError, match="max_unpool2d: indices shape"):
        F.max_unpool2d(mt.randn(1, 1, 2, 2), mt.zeros(1, 1, 3, 2, dtype=mt.int64), 2)
