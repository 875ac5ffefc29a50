"""Pretrained weights: torchvision's published files, found on disk and read without PyTorch.

``weights=`` takes what torchvision takes and one thing more:

    models.vgg11(weights=None)                       random init (the default)
    models.vgg11(weights="DEFAULT")                  torchvision's recommended ImageNet weights
    models.vgg11(weights="IMAGENET1K_V1")            a named set
    models.vgg11(weights=models.VGG11_Weights.DEFAULT)
    models.vgg11(pretrained=True)                    the old spelling: IMAGENET1K_V1
    models.vgg11(weights="path/to/file.pth")         any state_dict file mt.load reads

minitorch does not download: a named set is looked up, under torchvision's own file name (e.g.
``vgg11-8a719046.pth``), in ``$MINITORCH_WEIGHTS``, then ``~/.cache/minitorch/weights``, then
torch hub's cache (``$TORCH_HOME/hub/checkpoints``, where torchvision puts what it downloads).
When it is in none of them, the error says which file to fetch from where, and where to put it.
"""
from __future__ import annotations

import enum
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class Weights:
    """One published set of weights: where torchvision publishes it and what it was trained for."""
    url: str
    num_classes: int = IMAGENET_CLASSES

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


class WeightsEnum(enum.Enum):
    """The weights published for one architecture (``VGG11_Weights.IMAGENET1K_V1`` ...).

    ``DEFAULT`` is an alias of the recommended member, as in torchvision."""

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def filename(self) -> str:
        return self.value.filename

    @property
    def num_classes(self) -> int:
        return self.value.num_classes

    @classmethod
    def verify(cls, weights):
        """None, a member, or a member's name ("DEFAULT", "IMAGENET1K_V1") -> a member or None."""
        if weights is None or isinstance(weights, cls):
            return weights
        if isinstance(weights, str):
            name = weights.split(".")[-1]  # "VGG11_Weights.IMAGENET1K_V1" also works
            if name in cls.__members__:
                return cls.__members__[name]
        raise ValueError(f"{cls.__name__}: unknown weights {weights!r}; expected None, a file "
                         f"path, or one of {list(cls.__members__)}")


def search_dirs() -> list[Path]:
    """Where named weights are looked for, in order."""
    dirs = []
    if os.environ.get("MINITORCH_WEIGHTS"):
        dirs.append(Path(os.environ["MINITORCH_WEIGHTS"]).expanduser())
    dirs.append(Path("~/.cache/minitorch/weights").expanduser())
    torch_home = os.environ.get("TORCH_HOME", "~/.cache/torch")
    dirs.append(Path(torch_home).expanduser() / "hub" / "checkpoints")
    return dirs


def find_weights_file(arch: str, weights: WeightsEnum) -> Path:
    for d in search_dirs():
        candidate = d / weights.filename
        if candidate.is_file():
            return candidate
    first = search_dirs()[0]
    raise FileNotFoundError(
        f"{arch}: pretrained weights {type(weights).__name__}.{weights.name} are not on this "
        f"machine (minitorch does not download them). Download\n    {weights.url}\nand put "
        f"{weights.filename!r} in {first} (or set MINITORCH_WEIGHTS to the folder that holds "
        f"it). Looked in: {', '.join(str(d) for d in search_dirs())}")


def resolve(arch: str, enum_cls: type[WeightsEnum], weights, pretrained, kwargs: dict):
    """Turn the ``weights=`` / ``pretrained=`` arguments into ``(file path, named set)``:
    ``(None, None)`` for random init, ``(path, None)`` for a file given by path.

    A named set also fixes ``num_classes`` to the set's (1000 for ImageNet), as torchvision
    does; asking for another number with it is an error (replace the head after loading)."""
    if pretrained is not None:
        if weights is not None:
            raise ValueError(f"{arch}: pass weights= or the deprecated pretrained=, not both")
        warnings.warn(f"{arch}: 'pretrained' is deprecated (as in torchvision); use "
                      f"weights={enum_cls.__name__}.IMAGENET1K_V1 or weights='DEFAULT'",
                      UserWarning, stacklevel=3)
        weights = enum_cls.IMAGENET1K_V1 if pretrained else None
    if weights is None:
        return None, None
    if isinstance(weights, (str, os.PathLike)) and not (
            isinstance(weights, str) and weights.split(".")[-1] in enum_cls.__members__):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{arch}: weights file {str(path)!r} does not exist (named "
                                    f"sets: {list(enum_cls.__members__)})")
        return path, None
    member = enum_cls.verify(weights)
    requested = kwargs.get("num_classes", member.num_classes)
    if requested != member.num_classes:
        raise ValueError(f"{arch}: weights {member.name} have num_classes={member.num_classes}, "
                         f"got num_classes={requested}; load them, then replace the last layer")
    kwargs["num_classes"] = member.num_classes
    return find_weights_file(arch, member), member


def load_weights(model, path: Path):
    """Read ``path`` with ``mt.load`` (safetensors, or a PyTorch .pth through the allowlisting
    unpickler) and copy it in with ``load_state_dict(strict=True)``: a missing, unexpected or
    mis-shaped tensor is an error naming it, never a silently half-loaded model."""
    from ...serialization import load
    state = load(path)
    if not isinstance(state, dict):
        raise TypeError(f"{type(model).__name__}: {str(path)!r} holds a {type(state).__name__}, "
                        "not a state_dict (a dict of name -> tensor)")
    model.load_state_dict(state, strict=True)
    return model
