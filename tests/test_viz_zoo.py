"""viz on the model zoo: a model summary table (layer, output shape, parameters, mult-adds)
checked against the layer formulas and PyTorch's parameter counts, and filters, feature maps
and saliency for models other than LeNet."""
import numpy as np
import pytest

import minitorch as mt
from minitorch import viz
from minitorch.vision import models

pytest.importorskip("matplotlib")


def test_summary_of_lenet5_follows_the_layer_formulas():
    s = viz.summary(mt.models.LeNet5(), (2, 1, 28, 28))
    convs = [r for r in s.rows if r["type"] == "Conv2d"]
    assert [r["output_shape"] for r in convs] == [(2, 6, 28, 28), (2, 16, 10, 10)]
    # mult-adds of a conv: every output value costs C/groups * KH * KW of them
    assert [r["macs"] for r in convs] == [2 * 6 * 28 * 28 * 25, 2 * 16 * 10 * 10 * 6 * 25]
    assert [r["params"] for r in s.rows if r["type"] == "Linear"] == [400 * 120 + 120,
                                                                      120 * 84 + 84, 850]
    assert s.total_params == s.trainable_params == 61706
    text = str(s)
    assert "input (2, 1, 28, 28): 61,706 parameters" in text and "MaxPool2d" in text


@pytest.mark.parametrize("name, expected", [("resnet18", 11181642), ("vgg11", 128807306),
                                            ("googlenet", 5610154)])
def test_summary_of_zoo_models(name, expected):
    model = getattr(models, name)(num_classes=10, **({"aux_logits": False, "init_weights": False}
                                                     if name == "googlenet" else {}))
    for p in list(model.parameters())[:2]:
        p.requires_grad = False
    s = viz.summary(model, (1, 3, 64, 64) if name != "vgg11" else (1, 3, 32, 32))
    assert s.total_params == expected           # torchvision's counts for num_classes=10
    assert s.trainable_params < expected and s.rows[-1]["output_shape"] == (1, 10)
    assert s.total_macs > 0 and all(r["macs"] == 0 for r in s.rows if r["type"] == "ReLU")


def test_summary_argument_errors():
    with pytest.raises(ValueError, match="summary: give exactly one of input_size and input"):
        viz.summary(mt.models.LeNet5())


def test_filters_feature_maps_and_saliency_on_resnet18():
    mt.manual_seed(0)
    net = models.resnet18(num_classes=10)
    image = mt.rand(3, 64, 64)
    assert viz.plot_filters(net.conv1) is not None           # 64 RGB 7x7 filters
    maps = viz.feature_maps(net, image, "layer1.0.conv1")
    assert maps.shape == (64, 16, 16)
    assert viz.plot_feature_maps(net, image, "layer2") is not None
    s = viz.saliency_map(net, image)
    assert s.shape == (64, 64) and np.isfinite(s).all() and s.max() > 0
