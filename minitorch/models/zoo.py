"""The vision zoo in the model registry, for ``python -m minitorch train --model NAME``.

torchvision's architectures (``minitorch.vision.models``) under their own names, built for
this project's data: ``num_classes`` 10 and ``in_channels`` 1 (MNIST-like) or 3 (CIFAR-10),
the first convolution replaced when it is not 3 (same module name, so the other state_dict
keys and shapes stay torchvision's). Their stems expect large images, so these forms first
resize a smaller input up to the least size the network takes (``min_input_size``: AlexNet
needs 63x63, VGG 32x32), bilinearly, inside ``forward``: nothing else about the network
changes. For networks built for small images see small.py (``resnet18-cifar``,
``vgg11-small``, ``resnet20``...).

``head_names(model)`` says which modules are the classification head: ``--pretrained`` loads
everything else, ``--freeze`` trains only them.
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from ..vision import models as tv


def resize_to_min(x, size: int):
    """``x`` (N, C, H, W) resized bilinearly so that H, W >= ``size`` (unchanged if already)."""
    h, w = x.shape[-2:]
    if h >= size and w >= size:
        return x
    return F.interpolate(x, size=(max(h, size), max(w, size)), mode="bilinear",
                         align_corners=False)


class _MinInput:
    """Mixin: resize small inputs to ``min_input_size`` before the network's own forward."""
    min_input_size = 1

    def forward(self, x):
        return super().forward(resize_to_min(x, self.min_input_size))


def _with_min_input(model, size: int):
    """The same object, its class a subclass adding the input resize (no new state: the
    state_dict is unchanged)."""
    cls = type(model)
    sub = type(cls.__name__, (_MinInput, cls), {"min_input_size": size,
                                                "__module__": cls.__module__})
    model.__class__ = sub
    return model


def _new_conv(old: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, stride=old.stride,
                     padding=old.padding, bias=old.bias is not None)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.constant_(conv.bias, 0)
    return conv


def _alexnet(in_channels: int = 1, num_classes: int = 10, **kw):
    model = tv.alexnet(num_classes=num_classes, **kw)
    if in_channels != 3:
        model.features[0] = _new_conv(model.features[0], in_channels)
    return _with_min_input(model, 63)


def _vgg(builder):
    def build(in_channels: int = 1, num_classes: int = 10, **kw):
        model = builder(num_classes=num_classes, **kw)
        if in_channels != 3:
            model.features[0] = _new_conv(model.features[0], in_channels)
        return _with_min_input(model, 32)
    build.__name__ = builder.__name__
    return build


def _googlenet(in_channels: int = 1, num_classes: int = 10, aux_logits: bool = True, **kw):
    model = tv.googlenet(num_classes=num_classes, aux_logits=aux_logits, init_weights=True,
                         **kw)
    if in_channels != 3:
        model.conv1.conv = _new_conv(model.conv1.conv, in_channels)
    return model


def _resnet(builder):
    def build(in_channels: int = 1, num_classes: int = 10, **kw):
        model = builder(num_classes=num_classes, **kw)
        if in_channels != 3:
            model.conv1 = _new_conv(model.conv1, in_channels)
        return model
    build.__name__ = builder.__name__
    return build


TORCHVISION_LAYOUT = {
    "alexnet": _alexnet,
    **{name: _vgg(getattr(tv, name)) for name in
       ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")},
    "googlenet": _googlenet,
    **{name: _resnet(getattr(tv, name)) for name in ("resnet18", "resnet34", "resnet50")},
}


def head_names(model) -> list[str]:
    """The modules that map features to class scores, which a new task replaces: the last
    Linear in registration order (``fc``, ``classifier.6``, LeNet's output layer), plus
    GoogLeNet's auxiliary heads ``aux1`` / ``aux2`` when it has them."""
    linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer to act as its head")
    aux = [n for n in ("aux1", "aux2") if getattr(model, n, None) is not None]
    return [linears[-1]] + [n for n in aux if not linears[-1].startswith(n + ".")]
