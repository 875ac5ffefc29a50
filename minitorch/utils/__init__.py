"""``torch.utils`` for minitorch: ``minitorch.utils.data`` (datasets, samplers, DataLoader)."""
from . import data

__all__ = ["data"]
