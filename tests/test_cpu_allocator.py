"""minitorch/cpu/allocator.py: freed array memory stays in the process for the next step.

Measured as page faults in a fresh process: a step-like pattern (allocate a working set of
large arrays, free it, again) faults its pages in every round with glibc's defaults, and not
after the first round once minitorch is imported.
"""
import platform
import subprocess
import sys

import pytest

from minitorch.cpu import allocator

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's; elsewhere keep_freed_memory does nothing")

_ROUNDS = """
import resource, sys
import numpy as np
if sys.argv[1] == "minitorch":
    import minitorch  # noqa: F401
def round_():                      # 16 arrays of 4 MB, written, then all freed
    arrays = [np.empty(1 << 20, np.float32) for _ in range(16)]
    for a in arrays:
        a[:] = 1
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _ROUNDS, mode], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip())


def test_freed_memory_is_reused_without_page_faults_after_import():
    plain, tuned = _faults("numpy"), _faults("minitorch")
    # 5 rounds x 64 MB = 16,000 pages faulted in again by glibc's defaults
    assert plain > 10_000, f"the pattern should fault with glibc's defaults, got {plain}"
    assert tuned < 200, f"with minitorch imported the rounds should reuse memory, got {tuned}"


def test_keep_freed_memory_applies_once():
    assert allocator.keep_freed_memory() is True   # already applied at import
    assert allocator._applied
