"""``torch.backends`` for code that sets cuDNN's flags::

    torch.backends.cudnn.benchmark = True        # lecture boilerplate before GPU training
    torch.backends.cudnn.deterministic = True

minitorch has no cuDNN (its GPU convolutions are its own kernels, and deterministic without
asking: col2im gathers instead of adding atomically), so the flags are kept for code that
reads them back and change nothing. Not to be confused with ``backend.py``, minitorch's
NumPy/CuPy switch.
"""
from types import SimpleNamespace

cudnn = SimpleNamespace(enabled=True, benchmark=False, deterministic=False,
                        is_available=lambda: False, version=lambda: None)
