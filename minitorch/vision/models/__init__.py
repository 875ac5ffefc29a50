"""The model zoo: torchvision's architectures with torchvision's names, so its code and its
weights carry over (``from minitorch.vision import models``).

    alexnet                                   AlexNet            alexnet.py
    vgg11 vgg13 vgg16 vgg19 (+ _bn)           VGG                vgg.py
    googlenet                                 GoogLeNet          googlenet.py
    resnet18 resnet34 resnet50                ResNet             resnet.py
    lenet5 simplenet                          LeNet5, SimpLeNet  lenet.py (MNIST)

Every constructor takes ``weights=`` (None, "DEFAULT", a set's name, its enum member, or a
file path) and the old ``pretrained=True``; _weights.py says where the files are looked for.
Module attribute paths, parameter and buffer names and shapes equal torchvision's.
"""
from ._weights import Weights, WeightsEnum
from .alexnet import AlexNet, AlexNet_Weights, alexnet
from .googlenet import (BasicConv2d, GoogLeNet, GoogLeNet_Weights, GoogLeNetOutputs, Inception,
                        InceptionAux, googlenet, googlenet_loss)
from .lenet import LeNet5, SimpLeNet, lenet5, simplenet
from .resnet import (BasicBlock, Bottleneck, ResNet, ResNet18_Weights, ResNet34_Weights,
                     ResNet50_Weights, resnet18, resnet34, resnet50)
from .vgg import (VGG, VGG11_BN_Weights, VGG11_Weights, VGG13_BN_Weights, VGG13_Weights,
                  VGG16_BN_Weights, VGG16_Weights, VGG19_BN_Weights, VGG19_Weights, vgg11,
                  vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn)

__all__ = [
    "Weights", "WeightsEnum",
    "AlexNet", "AlexNet_Weights", "alexnet",
    "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights",
    "VGG16_Weights", "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights",
    "GoogLeNet", "GoogLeNetOutputs", "GoogLeNet_Weights", "BasicConv2d", "Inception",
    "InceptionAux", "googlenet", "googlenet_loss",
    "ResNet", "BasicBlock", "Bottleneck", "ResNet18_Weights", "ResNet34_Weights",
    "ResNet50_Weights", "resnet18", "resnet34", "resnet50",
    "LeNet5", "SimpLeNet", "lenet5", "simplenet",
]
