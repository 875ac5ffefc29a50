"""F.interpolate and nn.Upsample against PyTorch: every mode, size and scale_factor forms,
align_corners, down- and up-sampling, 1-3 spatial dims; gradients; gradcheck; errors."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from opcheck import check_op, gradcheck_op, torch

CASES = [
    ((2, 3, 5), "nearest", dict(size=9)), ((2, 3, 5), "nearest", dict(scale_factor=2.5)),
    ((2, 3, 8), "nearest", dict(size=3)), ((1, 2, 5), "nearest-exact", dict(size=7)),
    ((2, 3, 5), "linear", dict(size=8)), ((2, 3, 5), "linear", dict(size=8, align_corners=True)),
    ((2, 2, 4, 5), "nearest", dict(scale_factor=2)), ((2, 2, 4, 5), "nearest", dict(size=(3, 7))),
    ((2, 2, 4, 5), "bilinear", dict(scale_factor=2)),
    ((2, 2, 4, 5), "bilinear", dict(size=(7, 3), align_corners=True)),
    ((2, 2, 9, 6), "bilinear", dict(size=(4, 4))),
    ((1, 2, 4, 5), "bilinear", dict(scale_factor=(1.7, 0.6))),
    ((1, 2, 4, 5), "bilinear", dict(scale_factor=1.5, recompute_scale_factor=True)),
    ((1, 1, 3, 4, 2), "trilinear", dict(size=(5, 2, 3))),
    ((1, 1, 3, 4, 2), "nearest", dict(scale_factor=2)),
    ((1, 1, 1, 4), "bilinear", dict(size=(3, 1), align_corners=True)),
    # axes longer than _DENSE_MAX_N take the gather / scatter-add path
    ((1, 2, 150, 3), "bilinear", dict(size=(301, 5))), ((1, 2, 3, 200), "nearest", dict(size=(4, 90))),
    ((1, 1, 140), "linear", dict(scale_factor=0.7, align_corners=True)),
]


@pytest.mark.parametrize("shape, mode, kw", CASES,
                         ids=[f"{m}-{s}-{k}" for s, m, k in CASES])
def test_interpolate_matches_torch(shape, mode, kw):
    check_op(lambda x: F.interpolate(x, mode=mode, **kw),
             lambda x: torch.nn.functional.interpolate(x, mode=mode, **kw), shape)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_interpolate_gradcheck(mode):
    gradcheck_op(lambda x: F.interpolate(x, size=(5, 3), mode=mode), (1, 2, 3, 4))


def test_upsample_modules():
    x = mt.tensor(np.arange(4.0).reshape(1, 1, 2, 2))
    assert nn.Upsample(scale_factor=2)(x).tolist()[0][0][0] == [0.0, 0.0, 1.0, 1.0]
    up = nn.UpsamplingBilinear2d(size=3)(x)
    assert up.tolist()[0][0][1] == [1.0, 1.5, 2.0]   # align_corners=True: exact midpoints
    assert nn.UpsamplingNearest2d(size=(1, 4))(x).shape == (1, 1, 1, 4)


def test_interpolate_errors():
    x = mt.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="mode 'linear' needs a 3-d input, got 4-d"):
        F.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match="align_corners only applies to the linear modes"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="bicubic and area are not implemented"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(ValueError, match=r"size must be a positive int or 2 positive ints"):
        F.interpolate(x, size=(3, 0))
