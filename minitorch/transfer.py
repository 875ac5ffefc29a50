"""Transfer learning for the training CLI: ``--pretrained PATH`` starts from another run's
weights (or a torchvision ``.pth``), ``--freeze`` trains only the new head (feature
extraction), ``--backbone-lr`` gives the pretrained layers their own learning rate when
fine-tuning.

The head is what ``minitorch.models.head_names`` names (the last Linear, plus GoogLeNet's
auxiliary heads): it is always left at its fresh initialisation, since the new task's classes
are not the old one's. Every other tensor must be in the file with the same shape; what is
missing, extra or of another shape is named, never skipped silently.

Feature extraction keeps the backbone exactly as pretrained: its parameters get
``requires_grad = False`` and stay out of the optimizer, and its BatchNorm layers stay in eval
mode (their running statistics are the pretrained ones and don't move), so the features the
head learns from are fixed. (With only ``requires_grad = False``, as in the usual PyTorch
recipe, BatchNorm would keep updating its statistics in train mode.)
"""
from __future__ import annotations

from .models import head_names
from .nn.normalization import _BatchNorm
from .serialization import load


class PretrainedError(ValueError):
    """A ``--pretrained`` file that does not fit the model (message names the tensors)."""


def _is_head(key: str, heads) -> bool:
    return any(key == h or key.startswith(h + ".") for h in heads)


def weights_in(obj, where) -> dict:
    """The state_dict in what ``mt.load`` read: a training checkpoint's ``model``, a
    ``{"state_dict": ...}`` wrapper, or a bare state_dict (a torchvision ``.pth``)."""
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        return obj["model"]
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        return obj["state_dict"]
    if isinstance(obj, dict) and obj and all(hasattr(v, "shape") for v in obj.values()):
        return obj
    raise PretrainedError(f"--pretrained {where}: not a state_dict or a minitorch training "
                          "checkpoint")


def load_backbone(model, path, device: str = "cpu") -> list[str]:
    """Load every tensor of ``path`` except the head into ``model``; returns the head's
    module names (which keep their fresh weights)."""
    heads = head_names(model)
    weights = {k: v for k, v in weights_in(load(path, device=device), path).items()
               if not _is_head(k, heads)}
    own = {k: v for k, v in model.state_dict().items() if not _is_head(k, heads)}
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    shapes = [f"{k} {tuple(weights[k].shape)} in the file, {tuple(own[k].shape)} in the model"
              for k in own if k in weights and tuple(weights[k].shape) != tuple(own[k].shape)]
    if missing or extra or shapes:
        parts = ([f"missing {', '.join(missing[:8])}" + (" ..." if len(missing) > 8 else "")]
                 if missing else []) + \
                ([f"unexpected {', '.join(extra[:8])}" + (" ..." if len(extra) > 8 else "")]
                 if extra else []) + \
                ([f"shape mismatch: {'; '.join(shapes[:4])}"] if shapes else [])
        raise PretrainedError(f"--pretrained {path}: its weights don't fit the model's "
                              f"backbone (head {', '.join(heads)} excluded): "
                              + "; ".join(parts))
    model.load_state_dict(weights, strict=False)
    return heads


class _FrozenBatchNorm:
    """Mixin for a BatchNorm layer of a frozen backbone: always in eval mode. ``training`` is a
    data descriptor, so ``Module.train()`` (which sets it on every module) can't turn the
    layer's statistics updates back on."""

    @property
    def training(self) -> bool:
        return False

    @training.setter
    def training(self, mode) -> None:
        pass


def freeze_backbone(model) -> list[str]:
    """Feature extraction: every parameter outside the head stops requiring gradients and every
    BatchNorm outside it stays in eval mode. Returns the head's module names."""
    heads = head_names(model)
    for name, p in model.named_parameters():
        if not _is_head(name, heads):
            p.requires_grad = False
    for name, m in model.named_modules():
        if isinstance(m, _BatchNorm) and not _is_head(name, heads) \
                and not isinstance(m, _FrozenBatchNorm):
            cls = type(m)
            m.__class__ = type(cls.__name__, (_FrozenBatchNorm, cls),
                               {"__module__": cls.__module__})
            m.__dict__.pop("training", None)
    return heads


def param_groups(model, lr: float, backbone_lr: float | None):
    """The optimizer's parameters: only those requiring gradients; with ``backbone_lr``, two
    groups, the head at ``lr`` and the rest at ``backbone_lr``."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if backbone_lr is None:
        return [p for _, p in trainable]
    heads = head_names(model)
    head = [p for n, p in trainable if _is_head(n, heads)]
    body = [p for n, p in trainable if not _is_head(n, heads)]
    return [g for g in ({"params": head, "lr": lr}, {"params": body, "lr": backbone_lr})
            if g["params"]]


__all__ = ["load_backbone", "freeze_backbone", "param_groups", "weights_in", "PretrainedError"]
