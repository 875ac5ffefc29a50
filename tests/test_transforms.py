"""minitorch.vision.transforms against torchvision.transforms on the same inputs.

Deterministic functions are compared value by value on PIL images (exact: the same Pillow
calls), on float Tensors (to float32 round-off) and on uint8 Tensors (exact). Random
transforms are checked for their semantics: seeded runs repeat, parameters stay in their
ranges, and with the parameters they drew they equal torchvision's functional call. The
batched transforms equal the per-sample ones image by image.
"""
import math

import numpy as np
import pytest

import minitorch as mt
from minitorch.vision import transforms as T
from minitorch.vision.transforms import batch as TB
from minitorch.vision.transforms import functional as F

PIL = pytest.importorskip("PIL.Image", reason="Pillow is needed for the PIL-image paths")
from PIL import Image  # noqa: E402

try:
    import torch
    import torchvision.transforms as TT
    import torchvision.transforms.functional as TF
    TV_REASON = None
except Exception as exc:  # noqa: BLE001 - any failure: no reference on this machine
    torch = TT = TF = None
    TV_REASON = f"torchvision is not importable ({exc!r})"
needs_tv = pytest.mark.skipif(TF is None, reason=TV_REASON or "")

RNG = np.random.default_rng(0)
ARR = RNG.integers(0, 256, (13, 17, 3), dtype=np.uint8)         # odd sizes on purpose
GRAY = RNG.integers(0, 256, (11, 10), dtype=np.uint8)


def _pil(a=ARR):
    return Image.fromarray(a)


def _mt_float(a=ARR):
    return mt.tensor(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.float32) / 255)


def _mt_uint8(a=ARR):
    return mt.tensor(np.ascontiguousarray(a.transpose(2, 0, 1)))


def _tv(t):
    return torch.from_numpy(np.array(t.data))


def _np(x):
    if isinstance(x, mt.Tensor):
        return np.asarray(x.data)
    if torch is not None and isinstance(x, torch.Tensor):
        return x.numpy()
    return np.asarray(x)


def _close(ours, ref, exact):
    a, b = _np(ours), _np(ref)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    if exact:
        np.testing.assert_array_equal(a, b)
    else:  # float32 arithmetic in another order: a few ulps
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)


# Each case: name, our call, torchvision's call (same arguments, torchvision's enums).
NEAREST, BILINEAR = "nearest", "bilinear"
CASES = [
    ("resize_short_edge", lambda f, img: f.resize(img, 7)),
    ("resize_up_hw", lambda f, img: f.resize(img, [30, 40])),
    ("resize_nearest", lambda f, img: f.resize(img, [5, 9], _interp(f, NEAREST))),
    ("resize_max_size", lambda f, img: f.resize(img, 12, max_size=14)),
    ("center_crop", lambda f, img: f.center_crop(img, [8, 9])),
    ("center_crop_padded", lambda f, img: f.center_crop(img, [20, 18])),
    ("crop_outside", lambda f, img: f.crop(img, -2, 5, 10, 20)),
    ("pad_constant", lambda f, img: f.pad(img, [1, 2, 3, 4], fill=7 if _u8(img) else 0.25)),
    ("pad_edge", lambda f, img: f.pad(img, [2, 1], padding_mode="edge")),
    ("pad_reflect", lambda f, img: f.pad(img, 3, padding_mode="reflect")),
    ("pad_symmetric", lambda f, img: f.pad(img, [1, 2, 3, 4], padding_mode="symmetric")),
    ("hflip", lambda f, img: f.hflip(img)),
    ("vflip", lambda f, img: f.vflip(img)),
    ("rotate_30", lambda f, img: f.rotate(img, 30.0)),
    ("rotate_90", lambda f, img: f.rotate(img, 90.0)),
    ("rotate_bilinear", lambda f, img: f.rotate(img, -45.5, _interp(f, BILINEAR))),
    ("rotate_expand", lambda f, img: f.rotate(img, 33.0, expand=True)),
    ("rotate_center_fill", lambda f, img: f.rotate(img, 20.0, center=[3, 4],
                                                   fill=[10, 20, 30] if _u8(img) else
                                                   [0.1, 0.2, 0.3])),
    ("affine", lambda f, img: f.affine(img, 20.0, [2, -3], 0.8, [10.0, 5.0])),
    ("affine_bilinear", lambda f, img: f.affine(img, -12.0, [1, 2], 1.3, [4.0, -6.0],
                                                _interp(f, BILINEAR))),
    ("brightness", lambda f, img: f.adjust_brightness(img, 1.7)),
    ("brightness_dark", lambda f, img: f.adjust_brightness(img, 0.3)),
    ("contrast", lambda f, img: f.adjust_contrast(img, 1.6)),
    ("contrast_low", lambda f, img: f.adjust_contrast(img, 0.4)),
    ("saturation", lambda f, img: f.adjust_saturation(img, 0.2)),
    ("hue", lambda f, img: f.adjust_hue(img, 0.1)),
    ("hue_negative", lambda f, img: f.adjust_hue(img, -0.45)),
    ("grayscale", lambda f, img: f.rgb_to_grayscale(img)),
    ("grayscale3", lambda f, img: f.rgb_to_grayscale(img, 3)),
]
CASE_IDS = [c[0] for c in CASES]


def _u8(img):
    if isinstance(img, (Image.Image,)):
        return True
    return np.dtype(_np(img).dtype) == np.uint8


def _interp(f, name):
    enum = f.InterpolationMode if hasattr(f, "InterpolationMode") else TT.InterpolationMode
    return getattr(enum, name.upper())


@needs_tv
@pytest.mark.parametrize("name,call", CASES, ids=CASE_IDS)
def test_functional_matches_torchvision_on_pil(name, call):
    _close(call(F, _pil()), np.asarray(call(TF, _pil())), exact=True)


@needs_tv
@pytest.mark.parametrize("name,call", CASES, ids=CASE_IDS)
def test_functional_matches_torchvision_on_float_tensors(name, call):
    _close(call(F, _mt_float()), call(TF, _tv(_mt_float())), exact=False)


@needs_tv
@pytest.mark.parametrize("name,call", CASES, ids=CASE_IDS)
def test_functional_matches_torchvision_on_uint8_tensors(name, call):
    if name.startswith("resize") and "nearest" not in name:
        # torch resizes uint8 with its own fixed-point kernel; ours rounds the float result
        # (the same as torch's float path), which can differ from it by 1 grey level.
        ours, ref = _np(call(F, _mt_uint8())), _np(call(TF, _tv(_mt_uint8())))
        assert ours.dtype == ref.dtype == np.uint8 and ours.shape == ref.shape
        assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1
        return
    _close(call(F, _mt_uint8()), call(TF, _tv(_mt_uint8())), exact=True)


@pytest.mark.parametrize("name,call", CASES, ids=CASE_IDS)
def test_ndarray_images_keep_their_kind_and_agree_with_tensors(name, call):
    """An HWC uint8 array (what datasets give without Pillow) is transformed like the uint8
    Tensor of the same pixels, and comes back as an HWC array."""
    out = call(F, ARR)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.ndim == 3
    ref = _np(call(F, _mt_uint8()))
    np.testing.assert_array_equal(out, ref.transpose(1, 2, 0))


@needs_tv
def test_grayscale_pil_and_hue_on_gray_images():
    g = Image.fromarray(GRAY)
    _close(F.adjust_hue(g, 0.3), np.asarray(TF.adjust_hue(g, 0.3)), exact=True)
    _close(F.rgb_to_grayscale(g, 3), np.asarray(TF.rgb_to_grayscale(g, 3)), exact=True)
    _close(F.to_tensor(g), TF.to_tensor(g), exact=True)


@needs_tv
@pytest.mark.parametrize("pic", [_pil(), ARR, GRAY, Image.fromarray(GRAY),
                                 np.arange(12, dtype=np.float32).reshape(2, 3, 2)],
                         ids=["pil_rgb", "array_rgb", "array_gray", "pil_gray", "float_array"])
def test_to_tensor_and_back(pic):
    _close(T.ToTensor()(pic), TT.ToTensor()(pic), exact=True)
    t = T.ToTensor()(pic)
    if _np(t).dtype == np.float32 and not isinstance(pic, np.ndarray) or \
            (isinstance(pic, np.ndarray) and pic.dtype == np.uint8):
        _close(np.asarray(T.ToPILImage()(t)), np.asarray(TT.ToPILImage()(_tv(t))), exact=True)


@needs_tv
def test_compose_to_tensor_normalize_matches_torchvision():
    ours = T.Compose([T.ToTensor(), T.Normalize((0.1, 0.2, 0.3), (0.5, 0.6, 0.7))])
    ref = TT.Compose([TT.ToTensor(), TT.Normalize((0.1, 0.2, 0.3), (0.5, 0.6, 0.7))])
    _close(ours(_pil()), ref(_pil()), exact=True)
    _close(ours(ARR), ref(ARR), exact=True)


def test_normalize_errors():
    with pytest.raises(TypeError, match="expected a Tensor"):
        T.Normalize((0.5,), (0.5,))(ARR)
    with pytest.raises(TypeError, match="should be a float tensor, got uint8"):
        T.Normalize((0.5,), (0.5,))(_mt_uint8())
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))(_mt_float())
    with pytest.raises(ValueError, match="2 means and 1 stds for an image of 3 channels"):
        T.Normalize((0.5, 0.5), (0.5,))(_mt_float())


def test_bad_inputs_name_the_transform_and_the_input():
    with pytest.raises(TypeError, match=r"resize: expected a PIL image.*got list"):
        F.resize([1, 2], 3)
    with pytest.raises(ValueError, match="interpolation 'bicubic' is supported for PIL images "
                                         "only"):
        F.resize(_mt_float(), 5, T.InterpolationMode.BICUBIC)
    with pytest.raises(ValueError, match="pad: padding must be an int or a 1, 2, or 4"):
        F.pad(ARR, [1, 2, 3])
    with pytest.raises(ValueError, match=r"number of elements in 'fill' \(2\) does not match "
                                         r"the number of channels of the image \(3\)"):
        F.rotate(_mt_float(), 10.0, fill=[1, 2])
    with pytest.raises(ValueError, match=r"required crop size \(20, 20\) is larger than the "
                                         r"input image size \(13, 17\)"):
        T.RandomCrop(20)(ARR)
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(ARR, 0.7)
    with pytest.raises(ValueError, match="expected to be in float dtype, got dtype=uint8"):
        T.GaussianNoise()(_mt_uint8())
    with pytest.raises(TypeError, match="put ToTensor\\(\\) before GaussianNoise"):
        T.GaussianNoise()(_pil())


# --------------------------------------------------------------------------- random
RANDOM = [
    T.RandomCrop(9, padding=2),
    T.RandomCrop(15, pad_if_needed=True, padding_mode="reflect"),
    T.RandomHorizontalFlip(),
    T.RandomVerticalFlip(),
    T.RandomRotation(30),
    T.RandomAffine(15, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -3, 3)),
    T.ColorJitter(0.4, 0.4, 0.4, 0.1),
    T.RandomResizedCrop(8),
    T.RandomApply([T.ColorJitter(0.5)], p=0.5),
    T.RandomGrayscale(0.5),
]


@pytest.mark.parametrize("t", RANDOM, ids=[type(t).__name__ for t in RANDOM])
@pytest.mark.parametrize("kind", ["pil", "array", "tensor"])
def test_random_transforms_repeat_under_a_seed(t, kind):
    img = {"pil": _pil(), "array": ARR, "tensor": _mt_float()}[kind]

    def run(seed):
        mt.manual_seed(seed)
        return [_np(t(img)) for _ in range(6)]
    a, b, c = run(0), run(0), run(1)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)
    assert any(p.shape != q.shape or not np.array_equal(p, q) for p, q in zip(a, c)), \
        f"{t}: seeds 0 and 1 gave the same 6 outputs"
    out = t(img)
    assert type(out) is type(img) or (kind == "pil" and isinstance(out, Image.Image))


def test_random_crop_visits_every_offset_uniformly():
    mt.manual_seed(0)
    img = np.zeros((6, 7, 1), np.uint8)
    counts = np.zeros((3, 4), int)
    for _ in range(2400):
        i, j, h, w = T.RandomCrop.get_params(img, (4, 4))
        counts[i, j] += 1
        assert (h, w) == (4, 4)
    assert counts.min() > 140 and counts.max() < 260          # 200 expected per offset


@needs_tv
@pytest.mark.parametrize("padding_mode", ["constant", "edge", "reflect", "symmetric"])
def test_random_crop_with_padding_equals_torchvision_at_the_drawn_offset(padding_mode):
    t = T.RandomCrop((10, 12), padding=(3, 2), fill=5, padding_mode=padding_mode)
    for seed in range(5):
        mt.manual_seed(seed)
        out = t(_pil())
        mt.manual_seed(seed)
        padded = TF.pad(_pil(), [3, 2], fill=5, padding_mode=padding_mode)
        i, j, h, w = T.RandomCrop.get_params(padded, (10, 12))
        _close(out, np.asarray(TF.crop(padded, i, j, h, w)), exact=True)


@needs_tv
def test_random_affine_and_rotation_equal_torchvision_with_their_params():
    ra = T.RandomAffine(25, translate=(0.2, 0.1), scale=(0.7, 1.3), shear=(-8, 8, -4, 4),
                        interpolation=T.InterpolationMode.BILINEAR, fill=0)
    rr = T.RandomRotation((-40, 10), fill=0)
    for seed in range(4):
        for img, ref_img in ((_pil(), _pil()), (_mt_float(), _tv(_mt_float()))):
            mt.manual_seed(seed)
            out = ra(img)
            mt.manual_seed(seed)
            angle, tr, sc, sh = T.RandomAffine.get_params(ra.degrees, ra.translate, ra.scale,
                                                          ra.shear, [17, 13])
            assert -25 <= angle <= 25 and abs(tr[0]) <= 3.4 and abs(tr[1]) <= 1.3
            assert 0.7 <= sc <= 1.3 and -8 <= sh[0] <= 8 and -4 <= sh[1] <= 4
            ref = TF.affine(ref_img, angle, list(tr), sc, list(sh),
                            TT.InterpolationMode.BILINEAR, fill=[0.0] * 3)
            _close(out, np.asarray(ref) if isinstance(img, Image.Image) else ref,
                   exact=isinstance(img, Image.Image))
            mt.manual_seed(seed)
            out = rr(img)
            mt.manual_seed(seed)
            angle = T.RandomRotation.get_params(rr.degrees)
            assert -40 <= angle <= 10
            ref = TF.rotate(ref_img, angle, fill=[0.0] * 3)
            _close(out, np.asarray(ref) if isinstance(img, Image.Image) else ref,
                   exact=isinstance(img, Image.Image))


def test_color_jitter_ranges_and_order():
    cj = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.3), saturation=0, hue=0.2)
    assert cj.brightness == (0.5, 1.5) and cj.contrast == (0.2, 0.3)
    assert cj.saturation is None and cj.hue == (-0.2, 0.2)
    mt.manual_seed(0)
    orders = set()
    for _ in range(200):
        order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation,
                                                     cj.hue)
        orders.add(tuple(order))
        assert 0.5 <= b <= 1.5 and 0.2 <= c <= 0.3 and s is None and -0.2 <= h <= 0.2
    assert len(orders) == 24                                   # every order of the four
    with pytest.raises(ValueError, match="hue: values should be between -0.5 and 0.5"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="must be non negative"):
        T.ColorJitter(brightness=-1)


def test_flip_probabilities():
    mt.manual_seed(0)
    img = _mt_float()
    assert all(np.array_equal(_np(T.RandomHorizontalFlip(p=1.0)(img)), _np(F.hflip(img)))
               for _ in range(5))
    assert all(T.RandomVerticalFlip(p=0.0)(img) is img for _ in range(5))
    flips = sum(not np.array_equal(_np(T.RandomHorizontalFlip(0.3)(img)), _np(img))
                for _ in range(2000))
    assert 520 < flips < 680                                   # 600 expected


def test_gaussian_noise_statistics_and_clip():
    mt.manual_seed(0)
    x = mt.tensor(np.full((3, 100, 100), 0.5, np.float32))
    noisy = _np(T.GaussianNoise(mean=0.05, sigma=0.1)(x))
    d = noisy - 0.5
    assert abs(d.mean() - 0.05) < 0.005 and abs(d.std() - 0.1) < 0.005
    wide = _np(T.GaussianNoise(sigma=2.0)(x))
    assert wide.min() == 0.0 and wide.max() == 1.0             # clipped to [0, 1]
    unclipped = _np(T.GaussianNoise(sigma=2.0, clip=False)(x))
    assert unclipped.min() < 0 and unclipped.max() > 1
    if TT is not None and hasattr(TT, "v2"):
        import torchvision.transforms.v2 as v2
        ref = v2.GaussianNoise(mean=0.05, sigma=0.1)(torch.full((3, 100, 100), 0.5))
        r = ref.numpy() - 0.5
        assert abs(r.mean() - d.mean()) < 0.005 and abs(r.std() - d.std()) < 0.005


def test_lambda_pad_grayscale_classes():
    assert T.Lambda(lambda im: 3)(ARR) == 3
    np.testing.assert_array_equal(T.Pad(1, fill=9)(ARR), F.pad(ARR, 1, fill=9))
    np.testing.assert_array_equal(np.asarray(T.Grayscale(3)(_pil())),
                                  np.asarray(F.rgb_to_grayscale(_pil(), 3)))
    with pytest.raises(TypeError, match="Lambda: argument should be callable"):
        T.Lambda(3)


# --------------------------------------------------------------------------- batched
def _batch(n=5):
    imgs = RNG.random((n, 3, 13, 17)).astype(np.float32)
    return mt.tensor(imgs), imgs


def _same_draws(seed):
    return mt.Generator().manual_seed(seed)


def test_batch_random_crop_equals_per_image_crops():
    x, imgs = _batch()
    out = _np(TB.RandomCrop((9, 10), padding=2, fill=0.5, generator=_same_draws(3))(x))
    rng = _same_draws(3).rng
    tops, lefts = rng.integers(0, 17 - 9 + 1, size=5), rng.integers(0, 21 - 10 + 1, size=5)
    for k in range(5):
        padded = F.pad(mt.tensor(imgs[k]), 2, fill=0.5)
        np.testing.assert_array_equal(out[k], _np(F.crop(padded, tops[k], lefts[k], 9, 10)))
    assert len({(int(a), int(b)) for a, b in zip(tops, lefts)}) > 1


def test_batch_flips_equal_per_image_flips():
    x, imgs = _batch(40)
    out = _np(TB.RandomHorizontalFlip(generator=_same_draws(1))(x))
    flip = _same_draws(1).rng.random(40) < 0.5
    assert 0 < flip.sum() < 40
    for k in range(40):
        np.testing.assert_array_equal(out[k], imgs[k, :, :, ::-1] if flip[k] else imgs[k])
    out = _np(TB.RandomVerticalFlip(p=1.0)(x))
    np.testing.assert_array_equal(out, imgs[:, :, ::-1])


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_batch_affine_and_rotation_equal_per_image(interpolation):
    x, imgs = _batch()
    t = TB.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-5, 5, -2, 2),
                        interpolation=interpolation, fill=0.25, generator=_same_draws(4))
    out = _np(t(x))
    rng = _same_draws(4).rng
    angles = rng.uniform(-20, 20, 5)
    tx, ty = np.round(rng.uniform(-1.7, 1.7, 5)), np.round(rng.uniform(-1.3, 1.3, 5))
    sc, shx, shy = rng.uniform(0.9, 1.1, 5), rng.uniform(-5, 5, 5), rng.uniform(-2, 2, 5)
    for k in range(5):
        ref = F.affine(mt.tensor(imgs[k]), float(angles[k]), [float(tx[k]), float(ty[k])],
                       float(sc[k]), [float(shx[k]), float(shy[k])], interpolation,
                       fill=[0.25] * 3)
        np.testing.assert_array_equal(out[k], _np(ref))
    out = _np(TB.RandomRotation(30, interpolation, generator=_same_draws(5))(x))
    angles = _same_draws(5).rng.uniform(-30, 30, 5)
    for k in range(5):
        ref = F.rotate(mt.tensor(imgs[k]), float(angles[k]), interpolation, fill=[0.0] * 3)
        np.testing.assert_array_equal(out[k], _np(ref))


def test_batch_color_jitter_equals_per_image_adjustments():
    x, imgs = _batch()
    out = _np(TB.ColorJitter(0.5, 0.5, 0.5, 0.2, generator=_same_draws(6))(x))
    rng = _same_draws(6).rng
    order = rng.permutation(4)
    ranges = [(0.5, 1.5), (0.5, 1.5), (0.5, 1.5), (-0.2, 0.2)]
    fns = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
    factors = {int(k): rng.uniform(*ranges[k], size=5) for k in order}
    for i in range(5):
        img = mt.tensor(imgs[i])
        for k in order:
            img = fns[k](img, float(factors[int(k)][i]))
        np.testing.assert_allclose(out[i], _np(img), rtol=0, atol=1e-6)


def test_batch_transforms_need_a_batch():
    with pytest.raises(ValueError, match=r"batch.RandomCrop: expected a \(N, C, H, W\) "
                                         r"Tensor, got Tensor of shape \(3, 13, 17\)"):
        TB.RandomCrop(4)(_mt_float())


def test_deterministic_functions_take_batches():
    x, imgs = _batch(3)
    out = _np(F.resize(x, [6, 8]))
    for k in range(3):
        np.testing.assert_array_equal(out[k], _np(F.resize(mt.tensor(imgs[k]), [6, 8])))
    assert F.normalize(x, [0.5] * 3, [0.2] * 3).shape == (3, 3, 13, 17)


def test_interpolation_mode_names_are_torchvision_strings():
    assert [m.value for m in T.InterpolationMode] == \
        ["nearest", "nearest-exact", "bilinear", "bicubic", "box", "hamming", "lanczos"]
    if TT is not None:
        assert {m.value for m in T.InterpolationMode} <= {m.value for m in TT.InterpolationMode}
    assert math.isclose(T.RandomRotation(10).degrees[1], 10.0)
