"""Shared test setup: devices, the PyTorch reference, and the data root."""
import os
from pathlib import Path

import pytest
from hypothesis import settings

from minitorch.backend import cuda_unavailable_reason

# Tests read the real datasets from ../shared/data unless MINITORCH_DATA says otherwise.
_SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "MINITORCH_DATA" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["MINITORCH_DATA"] = str(_SHARED_DATA)

_CUDA_REASON = cuda_unavailable_reason()

# Hypothesis: no per-example deadline (first calls compile numba kernels); CI derandomizes so a
# red run can be reproduced.
settings.register_profile("default", deadline=None, max_examples=30)
settings.register_profile("ci", deadline=None, max_examples=30, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_collection_modifyitems(config, items):
    if _CUDA_REASON is None:
        return
    skip = pytest.mark.skip(reason=f"no GPU: {_CUDA_REASON}")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
