"""nn.Module mechanics, layers vs PyTorch, default init statistics, nn.init, grad clipping."""
import math
from collections import OrderedDict

import numpy as np
import pytest

import minitorch as mt
from minitorch import nn
from minitorch.nn import init
from minitorch.nn.utils import clip_grad_norm_, clip_grad_value_
from tests.opcheck import DEVICES, needs_torch, torch


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3, bias=False)])
        self.head = nn.Sequential(OrderedDict(out=nn.Linear(3, 2)))
        self.register_buffer("running", mt.Tensor(np.zeros(3, dtype=np.float32)))
        self.register_buffer("scratch", mt.Tensor(np.ones(2, dtype=np.float32)),
                             persistent=False)
        self.register_buffer("count", mt.Tensor(np.array(0, dtype=np.int64)))
        self.scale = 2.0  # a plain attribute: not state

    def forward(self, x):
        x = self.act(self.fc1(x))
        for block in self.blocks:
            x = self.act(block(x))
        return self.head(x) * self.scale


PARAM_NAMES = ["fc1.weight", "fc1.bias", "blocks.0.weight", "blocks.0.bias",
               "blocks.1.weight", "head.out.weight", "head.out.bias"]


# --------------------------------------------------------------------------- registration
def test_registration_and_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == PARAM_NAMES
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
               for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["running", "scratch", "count"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "blocks", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "blocks", "blocks.0",
                                                    "blocks.1", "head", "head.out"]
    assert len(list(net.parameters(recurse=False))) == 0
    assert net.blocks[1].bias is None and "bias" not in dict(net.blocks[1].named_parameters())
    assert net.scale == 2.0 and "scale" not in net.state_dict()
    assert net.fc1 is net._modules["fc1"]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        net.fc1.weight = mt.Tensor(np.zeros((3, 4)))
    del net.fc1
    assert "fc1.weight" not in dict(net.named_parameters())


def test_shared_parameter_counted_once_and_assignment_before_init():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]

    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_parameter_repr_and_defaults():
    p = nn.Parameter(mt.Tensor(np.ones(2)))
    assert p.requires_grad and p.grad_fn is None
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    t = mt.Tensor(np.ones(3))
    assert nn.Parameter(t).data is t.data  # shares memory, like PyTorch


def test_repr_matches_pytorch_layout():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Flatten(), nn.Identity()))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Identity()\n"
        "  )\n"
        ")")
    if torch is not None:
        ref = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(),
                                  torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity()))
        assert repr(model) == repr(ref)


def test_train_eval_propagate_and_zero_grad():
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.head.eval()
    assert net.training and not net.head.out.training

    net(mt.Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_missing_forward_and_hooks():
    with pytest.raises(TypeError, match="Module has no forward"):
        nn.Module()(1)
    lin = nn.Linear(2, 2)
    seen = []
    handle = lin.register_forward_hook(lambda m, inp, out: seen.append(out.shape))
    lin(mt.Tensor(np.ones((5, 2), dtype=np.float32)))
    handle.remove()
    lin(mt.Tensor(np.ones((1, 2), dtype=np.float32)))
    assert seen == [(5, 2)]


# --------------------------------------------------------------------------- state_dict
def test_state_dict_round_trip():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == ["running", "count"] + PARAM_NAMES  # own state first, then children
    assert all(not t.requires_grad and type(t) is mt.Tensor for t in sd.values())
    a.running.data[...] = 5
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=name)
    np.testing.assert_array_equal(b.running.data, 5)  # the state_dict shares memory
    x = mt.Tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_strict_errors_and_non_strict():
    net = nn.Linear(4, 3)
    sd = net.state_dict()
    del sd["bias"]
    sd["extra"] = mt.Tensor(np.zeros(1))
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias"\.(.|\n)*'
                                           r'Unexpected key\(s\) in state_dict: "extra"\.'):
        net.load_state_dict(sd)
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["bias"] and unexpected == ["extra"]


def test_load_state_dict_shape_mismatch_and_dtype_cast():
    net = nn.Linear(4, 3)
    sd = {"weight": mt.Tensor(np.zeros((4, 3))), "bias": mt.Tensor(np.zeros(3))}
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with "
                                           r"shape \(4, 3\) from checkpoint, the shape in "
                                           r"current model is \(3, 4\)"):
        net.load_state_dict(sd, strict=False)
    w = np.arange(12.0).reshape(3, 4)  # float64 numpy arrays are accepted and cast
    weight = net.weight
    net.load_state_dict({"weight": w, "bias": np.ones(3)})
    assert net.weight is weight and net.weight.dtype == np.float32
    np.testing.assert_array_equal(net.weight.data, w.astype(np.float32))


def test_to_dtype_keeps_parameter_identity_and_optimizer():
    net = Net()
    params = list(net.parameters())
    opt = mt.optim.SGD(net.parameters(), lr=0.1)
    net(mt.Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    assert net.to(mt.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert net.running.dtype == np.float64 and net.count.dtype == np.int64  # ints untouched
    before = params[0].data.copy()
    opt.step()  # the optimizer built before .to() still updates the same parameters
    np.testing.assert_allclose(params[0].data, before - 0.1 * params[0].grad.data)
    net.float()
    assert all(p.dtype == np.float32 for p in params)
    with pytest.raises(TypeError, match="dtype must be floating point"):
        net.to(mt.int64)


@pytest.mark.cuda
def test_to_cuda_moves_params_grads_and_buffers():
    net = Net()
    net(mt.Tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    params = list(net.parameters())
    net.to("cuda")
    assert all(p.device == "cuda" and p.grad.device == "cuda" for p in params)
    assert all(b.device == "cuda" for b in net.buffers())
    assert net(mt.Tensor(np.ones((2, 4), dtype=np.float32), device="cuda")).device == "cuda"


def test_apply_and_requires_grad():
    net = Net()
    visited = []

    def zero_linear_weights(m):
        visited.append(type(m).__name__)
        if isinstance(m, nn.Linear):
            init.zeros_(m.weight)

    assert net.apply(zero_linear_weights) is net
    assert visited == ["Linear", "ReLU", "Linear", "Linear", "ModuleList", "Linear",
                       "Sequential", "Net"]  # children first, self last
    assert not any(p.data.any() for n, p in net.named_parameters() if n.endswith("weight"))
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


# --------------------------------------------------------------------------- containers
def test_sequential_modulelist_moduledict():
    layers = [nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers and seq[-1] is layers[2]
    assert isinstance(seq[:2], nn.Sequential) and list(seq[:2]) == layers[:2]
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    with pytest.raises(IndexError, match="index 5 is out of range for 3 modules"):
        seq[5]
    with pytest.raises(TypeError, match="int is not an nn.Module"):
        nn.Sequential(nn.ReLU(), 3)

    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2))
    ml += [nn.Linear(2, 2)]
    ml.insert(0, nn.ReLU())
    assert len(ml) == 4 and isinstance(ml[0], nn.ReLU) and ml[-1].out_features == 2
    assert [n for n, _ in ml.named_parameters()][:2] == ["1.weight", "1.bias"]

    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    md["act"] = nn.ReLU()
    assert list(md) == ["enc", "dec", "act"] and "dec" in md and len(md) == 3
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                     "dec.bias"]
    assert isinstance(md.pop("act"), nn.ReLU) and len(md) == 2
    with pytest.raises(KeyError, match="ModuleDict has no key 'nope'"):
        md["nope"]


# --------------------------------------------------------------------------- layers vs torch
@needs_torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("make", [
    lambda nn_: nn_.ReLU(), lambda nn_: nn_.Sigmoid(), lambda nn_: nn_.Tanh(),
    lambda nn_: nn_.LeakyReLU(0.2), lambda nn_: nn_.ELU(0.7), lambda nn_: nn_.Softplus(2.0, 1.0),
    lambda nn_: nn_.Softmax(dim=1), lambda nn_: nn_.LogSoftmax(dim=-1), lambda nn_: nn_.Identity(),
    lambda nn_: nn_.Flatten(), lambda nn_: nn_.Flatten(0, 1)])
def test_layers_match_torch(device, make):
    x = np.random.default_rng(0).standard_normal((2, 3, 4)) * 3
    a, t = mt.Tensor(x, requires_grad=True, device=device), torch.tensor(x, requires_grad=True)
    out, ref = make(nn)(a), make(torch.nn)(t)
    np.testing.assert_allclose(mt.backend.to_numpy(out.data), ref.detach().numpy(), atol=1e-12)
    up = np.random.default_rng(1).standard_normal(ref.shape)
    out.backward(up)
    ref.backward(torch.tensor(up))
    np.testing.assert_allclose(mt.backend.to_numpy(a.grad.data), t.grad.numpy(), atol=1e-12)
    assert repr(make(nn)) == repr(make(torch.nn))


@needs_torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(device, bias):
    lin = nn.Linear(5, 3, bias=bias, device=device, dtype=mt.float64)
    ref = torch.nn.Linear(5, 3, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(mt.backend.to_numpy(lin.weight.data)))
        if bias:
            ref.bias.copy_(torch.tensor(mt.backend.to_numpy(lin.bias.data)))
    x = np.random.default_rng(0).standard_normal((4, 5))
    out, expected = lin(mt.Tensor(x, device=device)), ref(torch.tensor(x))
    np.testing.assert_allclose(mt.backend.to_numpy(out.data), expected.detach().numpy(),
                               atol=1e-12)
    up = np.random.default_rng(1).standard_normal((4, 3))
    out.backward(up)
    expected.backward(torch.tensor(up))
    np.testing.assert_allclose(mt.backend.to_numpy(lin.weight.grad.data), ref.weight.grad.numpy(),
                               atol=1e-12)
    assert lin.weight.device == device and lin.weight.dtype == np.float64
    assert repr(lin) == repr(ref)


# --------------------------------------------------------------------------- init
def test_linear_default_init_statistics():
    mt.manual_seed(0)
    fan_in = 400
    lin = nn.Linear(fan_in, 500)
    bound = 1 / math.sqrt(fan_in)
    w, b = lin.weight.data, lin.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # fills the interval, not a narrower one
    # U(-bound, bound) has std bound / sqrt(3); 200k draws pin it to ~0.2%.
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.01)
    np.testing.assert_allclose(w.mean(), 0, atol=0.01 * bound)
    assert lin.weight.dtype == np.float32


def test_init_is_seeded_by_manual_seed():
    mt.manual_seed(3)
    a = nn.Linear(3, 3).weight.data.copy()
    mt.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(3, 3).weight.data, a)


@needs_torch
@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("conv2d", None),
                                                ("sigmoid", None), ("tanh", None), ("relu", None),
                                                ("leaky_relu", None), ("leaky_relu", 0.3),
                                                ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_calculate_gain_and_fan_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(mt.Tensor(np.zeros(5)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(mt.Tensor(np.zeros((2, 2))), mode="fan")


# (init function, expected std from fan_in/fan_out, expected bound or None) on a conv-shaped
# weight (out=64, in=32, 3, 3): fan_in = 32*9 = 288, fan_out = 64*9 = 576.
FAN_IN, FAN_OUT = 288, 576
INIT_CASES = [
    (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(2 / (FAN_IN + FAN_OUT)), True),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / (FAN_IN + FAN_OUT)), False),
    (lambda t: init.kaiming_uniform_(t, a=0.1), math.sqrt(2 / 1.01) / math.sqrt(FAN_IN), True),
    (lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
     math.sqrt(2) / math.sqrt(FAN_OUT), True),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / FAN_IN), False),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
     (5 / 3) / math.sqrt(FAN_OUT), False),
    (lambda t: init.normal_(t, 0.0, 0.02), 0.02, False),
    (lambda t: init.uniform_(t, -0.5, 0.5), 1 / math.sqrt(12), True),
]


@pytest.mark.parametrize("fn,std,uniform", INIT_CASES)
def test_init_distributions(fn, std, uniform):
    mt.manual_seed(1)
    w = nn.Parameter(np.empty((64, 32, 3, 3)))
    assert fn(w) is w and w.requires_grad and w.grad_fn is None
    np.testing.assert_allclose(w.data.std(), std, rtol=0.02)  # 18k draws: ~0.5% noise
    np.testing.assert_allclose(w.data.mean(), 0, atol=0.03 * std)
    if uniform:  # U(-a, a) with a = sqrt(3) * std
        assert np.abs(w.data).max() <= math.sqrt(3) * std * (1 + 1e-12)
        assert np.abs(w.data).max() > 0.99 * math.sqrt(3) * std


@needs_torch
def test_init_bounds_match_torch_formulas():
    # Same bound as PyTorch: torch fills U(-b, b), so its max |w| is just under b; ours too.
    for make in (lambda m: m.kaiming_uniform_, lambda m: m.xavier_uniform_):
        ours, theirs = nn.Parameter(np.empty((50, 40))), torch.empty(50, 40, dtype=torch.float64)
        make(init)(ours)
        make(torch.nn.init)(theirs)
        assert np.abs(ours.data).max() == pytest.approx(theirs.abs().max().item(), rel=0.02)


def test_constant_zeros_ones_in_place():
    p = nn.Parameter(np.empty((2, 3), dtype=np.float32))
    array = p.data
    init.constant_(p, 0.5)
    assert p.data is array and (p.data == 0.5).all()
    init.ones_(p)
    assert (p.data == 1).all()
    init.zeros_(p)
    assert not p.data.any()


# --------------------------------------------------------------------------- grad clipping
def _params_with_grads(seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (2, 2)]
    ps = [nn.Parameter(rng.standard_normal(s)) for s in shapes]
    for p in ps:
        p.grad = mt.Tensor(rng.standard_normal(p.shape) * 3)
    return ps


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1000.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ps = _params_with_grads()
    tps = [torch.tensor(p.data, requires_grad=True) for p in ps]
    for p, t in zip(ps, tps):
        t.grad = torch.tensor(p.grad.data)
    total = clip_grad_norm_(ps, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-12)
    for p, t in zip(ps, tps):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)


@needs_torch
def test_clip_grad_value_matches_torch_and_skips_missing_grads():
    ps = _params_with_grads()
    tps = [torch.tensor(p.grad.data) for p in ps]
    extra = nn.Parameter(np.ones(2))  # no grad: ignored
    clip_grad_value_(ps + [extra], 1.5)
    for p, t in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.data, t.clamp(-1.5, 1.5).numpy())
    assert extra.grad is None
    single = _params_with_grads()[0]
    clip_grad_value_(single, 0.1)  # a single tensor is accepted too
    assert np.abs(single.grad.data).max() <= 0.1


def test_clip_grad_norm_nonfinite_error():
    ps = _params_with_grads()
    ps[0].grad.data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


# --------------------------------------------------------------------------- reassignment order
def test_reassigning_a_child_keeps_its_place():
    """PyTorch keeps a replaced child where it was: ``model.conv1 = nn.Conv2d(...)`` must not
    move conv1 to the end (then ``Sequential(*list(children())[:-1])`` drops the wrong layer)."""
    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3)
            self.relu = nn.ReLU()
            self.fc = nn.Linear(4, 2)

    m = Small()
    m.conv1 = nn.Conv2d(1, 4, 3)
    assert [name for name, _ in m.named_children()] == ["conv1", "relu", "fc"]
    assert list(m.state_dict()) == ["conv1.weight", "conv1.bias", "fc.weight", "fc.bias"]
    trunk = nn.Sequential(*list(m.children())[:-1])
    assert isinstance(trunk[0], nn.Conv2d) and trunk[0].in_channels == 1
    assert isinstance(trunk[-1], nn.ReLU) and len(trunk) == 2


def test_reassigning_a_parameter_keeps_its_place():
    lin = nn.Linear(3, 2)
    lin.weight = nn.Parameter(mt.zeros(2, 3))
    assert list(lin.state_dict()) == ["weight", "bias"]
    lin.bias = nn.Parameter(mt.zeros(2))
    assert list(lin.state_dict()) == ["weight", "bias"]
