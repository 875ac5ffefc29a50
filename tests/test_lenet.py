"""LeNet5 and SimpLeNet: shapes, parameter counts and state_dict layout equal to the same
torch.nn.Sequential stacks; with PyTorch's weights, the same logits, loss, gradients and
SGD step; a short float32 run that fits a fixed batch; the model registry."""
import numpy as np
import pytest

import minitorch as mt
import minitorch.nn.functional as F
from minitorch.models import LeNet5, SimpLeNet, SimpLeNetCaffe, get_model
from opcheck import needs_torch, torch


def torch_equivalent(name, activation="relu", pool="max"):
    tnn = torch.nn
    if name == "lenet5":
        act = {"relu": tnn.ReLU, "tanh": tnn.Tanh}[activation]
        p = {"max": tnn.MaxPool2d, "avg": tnn.AvgPool2d}[pool]
        return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), act(), p(2),
                              tnn.Conv2d(6, 16, 5), act(), p(2), tnn.Flatten(),
                              tnn.Linear(400, 120), act(), tnn.Linear(120, 84), act(),
                              tnn.Linear(84, 10))
    if name == "simplenet":  # the lectures' layout: ReLU after each convolution
        return tnn.Sequential(tnn.Conv2d(1, 20, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(20, 50, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(800, 256), tnn.ReLU(), tnn.Linear(256, 10))
    return tnn.Sequential(tnn.Conv2d(1, 20, 5), tnn.MaxPool2d(2), tnn.Conv2d(20, 50, 5),
                          tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(800, 256), tnn.ReLU(),
                          tnn.Linear(256, 10))


VARIANTS = [("lenet5", {}), ("lenet5", dict(activation="tanh", pool="avg")), ("simplenet", {}),
            ("simplenet-caffe", {})]


@pytest.mark.parametrize("name, kw", VARIANTS)
def test_shapes_and_parameter_count(name, kw):
    model = get_model(name, **kw)
    assert model(mt.randn(3, 1, 28, 28)).shape == (3, 10)
    expected = {"lenet5": 61706, "simplenet": 233196, "simplenet-caffe": 233196}[name]  # sum of the layer formulas
    assert sum(p.numel() for p in model.parameters()) == expected
    if torch is not None:
        assert sum(p.numel() for p in torch_equivalent(name, **kw).parameters()) == expected


def test_feature_map_shapes():
    x = mt.randn(2, 1, 28, 28)
    shapes = []
    for layer in LeNet5():
        x = layer(x)
        shapes.append(x.shape[1:])
    assert shapes[:7] == [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10),
                          (16, 5, 5), (400,)]


@needs_torch
@pytest.mark.parametrize("name, kw", VARIANTS)
def test_same_weights_same_logits_grads_and_sgd_step_as_torch(name, kw):
    model, ref = get_model(name, **kw).to(mt.float64), torch_equivalent(name, **kw).double()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    for k, v in ref.state_dict().items():                   # PyTorch's init -> minitorch
        model.state_dict()[k].data[...] = v.numpy()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 1, 28, 28)), rng.integers(0, 10, 4)
    opt = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(model(mt.tensor(x)), mt.tensor(y))
        tloss = torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        for (n, p), tp in zip(model.named_parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-7, atol=1e-10,
                                       err_msg=n)
        opt.step()
        topt.step()
        losses.append(loss.item())
    for p, tp in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-7,
                                   atol=1e-10)
    assert losses[1] < losses[0]


def test_simplenet_is_the_lectures_layout():
    """pool(relu(conv1)), pool(relu(conv2)), relu(fc1), output: a ReLU after every conv."""
    kinds = [type(m).__name__ for m in SimpLeNet()]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten",
                     "Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in SimpLeNetCaffe()].count("ReLU") == 1


@pytest.mark.parametrize("cls", [LeNet5, SimpLeNet])
def test_float32_training_learns_a_small_problem(cls):
    """10 random 'digit' templates plus noise: a few Adam steps must cut the loss a lot."""
    mt.manual_seed(0)
    model = cls()
    rng = np.random.default_rng(1)
    templates = rng.standard_normal((10, 1, 28, 28))
    labels = rng.integers(0, 10, 16)
    x = mt.tensor((templates[labels] + 0.5 * rng.standard_normal((16, 1, 28, 28)))
                  .astype(np.float32))
    y = mt.tensor(labels)
    opt = mt.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(12):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert losses[-1] < 0.7 * losses[0], losses


def test_registry_and_config():
    m = get_model("LeNet5", activation="tanh")
    assert isinstance(m, LeNet5) and m.config["activation"] == "tanh"
    assert isinstance(get_model("simplenet"), SimpLeNet)
    assert isinstance(get_model("simplenet-caffe"), SimpLeNetCaffe)
    assert {"lenet5", "simplenet", "simplenet-caffe"} <= set(mt.models.available())
    with pytest.raises(ValueError, match=r"LeNet5: activation must be one of \['relu', 'tanh'\]"):
        LeNet5(activation="gelu")
