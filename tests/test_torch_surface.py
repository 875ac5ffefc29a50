"""The torch surface lecture code needs (issue 11, item 6): devices, NumPy bridges, view_as/eq,
inplace=, GroupNorm/LayerNorm/LocalResponseNorm, trunc_normal_, lazy layers, AdaptiveMaxPool2d."""
import numpy as np
import pytest

import minitorch as mt
from minitorch import nn
from minitorch.nn import functional as F
from tests.opcheck import check_op, gradcheck_op, needs_torch, torch


def test_device_parsing_and_equality():
    d = mt.device("cuda:0")
    assert d.type == "cuda" and d.index == 0 and d == "cuda:0" and repr(d) == \
        "device(type='cuda', index=0)"
    assert mt.device("cpu") == "cpu" and mt.device("cuda", 1) == "cuda:1"
    with pytest.raises(RuntimeError, match="gpu"):
        mt.device("gpu")
    with pytest.raises(RuntimeError, match="cuda:x"):
        mt.device("cuda:x")
    DEVICE = mt.device("cuda:0" if mt.cuda.is_available() else "cpu")
    net = nn.Linear(2, 2)
    assert net.to(DEVICE) is net and nn.CrossEntropyLoss().to(DEVICE) is not None
    assert mt.zeros(2).to(DEVICE).device == "cpu" or mt.cuda.is_available()
    assert mt.cuda.is_available() == mt.backend.is_cuda_available()


def test_from_numpy_shares_memory_and_as_tensor():
    a = np.zeros(3)
    t = mt.from_numpy(a)
    a[0] = 5
    assert t.dtype == np.float64 and t.tolist() == [5.0, 0.0, 0.0]
    t.numpy()[1] = 7
    assert a[1] == 7
    assert mt.as_tensor(a).data is a and mt.as_tensor(a, dtype=mt.float32).data is not a
    with pytest.raises(TypeError, match="from_numpy"):
        mt.from_numpy([1, 2])


def test_view_as_eq_float_accuracy_idiom():
    pred = mt.tensor([[1], [2], [3]])
    y = mt.tensor([1, 0, 3])
    correct = pred.eq(y.view_as(pred)).sum()
    assert correct.item() == 2 and abs((correct.float() / y.shape[0]).item() - 2 / 3) < 1e-7
    assert mt.randn(2).type_as(mt.zeros(1, dtype=mt.float64)).dtype == np.float64


def test_reassign_and_freeze_feature_extraction():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    for p in net.parameters():
        p.requires_grad = False
    net[2] = nn.Linear(3, 2)
    F.cross_entropy(net(mt.randn(5, 4)), mt.tensor([0, 1, 0, 1, 1])).backward()
    assert net[0].weight.grad is None and net[2].weight.grad is not None


@needs_torch
def test_inplace_relu_and_dropout():
    x = mt.randn(3, 4)
    out = F.relu(x, inplace=True)
    assert out is x and (x.numpy() >= 0).all()
    leaf = mt.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        F.relu(leaf, inplace=True)
    check_op(lambda a: nn.ReLU(inplace=True)(a * 2) * 3,
             lambda a: torch.nn.ReLU(inplace=True)(a * 2) * 3, (4, 5))
    d = nn.Dropout(0.5, inplace=True).eval()
    assert d(x) is x


@needs_torch
@pytest.mark.parametrize("case", ["layer", "group", "lrn"])
def test_norm_ops_match_torch_and_gradcheck(case):
    if case == "layer":
        mine = lambda x, w, b: F.layer_norm(x, (3, 4), w, b)
        ref = lambda x, w, b: torch.nn.functional.layer_norm(x, (3, 4), w, b)
        specs = ((2, 5, 3, 4), (3, 4), (3, 4))
    elif case == "group":
        mine = lambda x, w, b: F.group_norm(x, 2, w, b)
        ref = lambda x, w, b: torch.nn.functional.group_norm(x, 2, w, b)
        specs = ((2, 6, 3, 3), (6,), (6,))
    else:
        mine = lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=2.0)
        ref = lambda x: torch.nn.functional.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=2.0)
        specs = ((2, 5, 3, 3),)
    check_op(mine, ref, *specs)
    gradcheck_op(mine, *specs)


@needs_torch
@pytest.mark.parametrize("name, call", [
    ("layer_norm", lambda x: F.layer_norm(x, (4,))),
    ("group_norm", lambda x: F.group_norm(x, 2)),
    ("local_response_norm", lambda x: F.local_response_norm(x, 2)),
])
def test_norm_ops_refuse_non_float_and_non_tensor_inputs(name, call):
    with pytest.raises(TypeError, match=rf"{name}: expected a floating-point tensor, got dtype "
                                        r"int64 \(shape \(2, 4, 3\)\)"):
        call(mt.zeros(2, 4, 3, dtype=mt.int64))
    with pytest.raises(TypeError, match=rf"{name}\(\): argument 'input' must be a Tensor"):
        call(np.ones((2, 4, 3)))


def test_norm_modules_state_dict_like_torch():
    for m, t in ((nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)),
                 (nn.LayerNorm([3, 4]), torch.nn.LayerNorm([3, 4]))):
        assert {k: v.shape for k, v in m.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in t.state_dict().items()}
    assert isinstance(nn.GroupNorm(1, 2), (nn.BatchNorm2d, nn.GroupNorm))
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


def test_trunc_normal_and_kaiming_fan_out():
    t = mt.empty(200, 500)
    nn.init.trunc_normal_(t, mean=0.0, std=1.0, a=-2, b=2)
    v = t.numpy()
    assert v.min() >= -2 and v.max() <= 2 and abs(v.std() - 0.8796) < 0.01
    w = mt.empty(64, 32, 3, 3)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.numpy().std() / np.sqrt(2 / (64 * 9)) - 1) < 0.05


def test_lazy_layers_infer_shapes_then_train():
    net = nn.Sequential(nn.LazyConv2d(4, kernel_size=3, padding=1), nn.LazyBatchNorm2d(),
                        nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    assert isinstance(net[4], nn.Linear)
    net(mt.zeros(2, 1, 5, 5))  # dry run
    assert type(net[0]) is nn.Conv2d and net[0].weight.shape == (4, 1, 3, 3)
    assert type(net[1]) is nn.BatchNorm2d and net[1].running_var.shape == (4,)
    assert type(net[4]) is nn.Linear and net[4].in_features == 100
    bound = 1 / np.sqrt(100)
    assert np.abs(net[4].weight.detach().numpy()).max() <= bound
    opt = mt.optim.SGD(net.parameters(), lr=0.1)
    loss = F.cross_entropy(net(mt.randn(2, 1, 5, 5)), mt.tensor([0, 2]))
    loss.backward()
    opt.step()
    fresh = nn.Sequential(nn.LazyConv2d(4, kernel_size=3, padding=1), nn.LazyBatchNorm2d(),
                          nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    fresh.load_state_dict(net.state_dict())
    assert fresh[4].weight.shape == (3, 100)


@needs_torch
def test_adaptive_max_pool2d_matches_torch():
    check_op(lambda x: F.adaptive_max_pool2d(x, (3, 2)),
             lambda x: torch.nn.functional.adaptive_max_pool2d(x, (3, 2)), (2, 3, 7, 5))
    gradcheck_op(lambda x: F.adaptive_max_pool2d(x, (3, 2)), (1, 2, 7, 5))
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 5))
    _, i = nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(mt.tensor(x))
    _, ti = torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
