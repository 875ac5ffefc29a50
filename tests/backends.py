"""Every kernel backend as a test parameter: an op test that takes the ``backend`` fixture runs
each of its cases on every path, with no monkeypatching:

    numba       the CPU kernel table (minitorch/cpu/table.py NUMBA), NumPy arrays
    reference   the plain array-code table (REFERENCE), NumPy arrays
    emulated    the CUDA table on NumPy arrays, kernels/*.cu run by the CPU emulator
                (tests/emulator.py): the GPU's whole dispatch, fused Functions included
    cuda        the CUDA table on a real GPU (marked ``cuda``: skipped without one)

Inside the test the backend's table is active (``use_kernels``), and fresh kernel outputs of
the CUDA paths are poisoned. ``backend.tensor(array)`` puts an input on the backend's device,
``backend.numpy(t)`` brings a result back.

    def test_something(backend):
        y = F.max_pool2d(backend.tensor(x), 2)
        np.testing.assert_array_equal(backend.numpy(y), expected)
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minitorch as mt
from minitorch.backend import get_array_module, to_device, to_numpy
from minitorch.cpu import HAVE_NUMBA
from minitorch.cpu.table import NUMBA, REFERENCE
from minitorch.cpu.winograd import winograd_fits
from minitorch.cuda import launch
from minitorch.cuda.table import CUDA
from minitorch.kernel_table import KernelTable, use_kernels

from emulator import GXX, emulated_launches
from opcheck import make_inputs


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    device: str            # where the test's tensors live: "cpu" or "cuda"
    table: KernelTable

    @property
    def is_cuda_path(self) -> bool:
        """True for the paths that run the CUDA table (emulated or real)."""
        return self.table is CUDA

    def tensor(self, array, requires_grad: bool = False) -> mt.Tensor:
        """A leaf Tensor of array's values on this backend's device; a non-contiguous NumPy
        array stays non-contiguous there (a strided view of a bigger device array)."""
        array = np.asarray(array)
        data = to_device(array, self.device)
        if not array.flags.c_contiguous and data.flags.c_contiguous and array.ndim:
            xp = get_array_module(data)
            big = xp.zeros(array.shape + (2,), dtype=array.dtype)
            big[..., 0] = data
            data = big[..., 0]
        return mt.Tensor(data, requires_grad=requires_grad)

    def numpy(self, t):
        """A Tensor's (or raw array's) values as a NumPy array."""
        data = t.detach().data if isinstance(t, mt.Tensor) else t
        return to_numpy(data)

    def gradcheck(self, fn, *specs, seed=0, positive=False, **kw):
        """opcheck.gradcheck_op on this backend: float64 inputs from specs, on its device."""
        xs = [self.tensor(a, requires_grad=True) for a in make_inputs(specs, seed, positive)]
        assert mt.gradcheck(fn, xs, **kw)

    @contextlib.contextmanager
    def active(self):
        with contextlib.ExitStack() as stack:
            if self.name == "emulated":
                stack.enter_context(emulated_launches())
            elif self.name == "cuda":
                stack.enter_context(launch.poisoned_outputs())
            stack.enter_context(use_kernels(self.table))
            yield self


BACKENDS = {
    "numba": Backend("numba", "cpu", NUMBA),
    # the numba table with its direct and Winograd convolutions switched off: im2col + GEMM
    # on every layer
    "numba-im2col": Backend("numba-im2col", "cpu", dataclasses.replace(
        NUMBA, name="numba-im2col", conv2d_direct_pays=lambda *args: False,
        conv2d_winograd_pays=lambda *args: False)),
    # ...and with Winograd on every layer it fits (3x3, stride 1), however few its channels
    "numba-winograd": Backend("numba-winograd", "cpu", dataclasses.replace(
        NUMBA, name="numba-winograd", conv2d_direct_pays=lambda *args: False,
        conv2d_winograd_pays=lambda x_shape, w_shape, g, groups: winograd_fits(w_shape, g,
                                                                               groups))),
    "reference": Backend("reference", "cpu", REFERENCE),
    "emulated": Backend("emulated", "cpu", CUDA),
    "cuda": Backend("cuda", "cuda", CUDA),
}
PARAMS = ["numba", "reference", "emulated", pytest.param("cuda", marks=pytest.mark.cuda)]
CPU_TABLES = ["numba", "reference"]   # for cases only the CPU tables share (see each test)

# @given tests that take ``backend`` (function-scoped: the same table for every example).
given_settings = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


# Convolution tests also run the numba table with only im2col + GEMM, and with Winograd wherever
# it fits, so that each of its conv algorithms (Conv2dDirect for few-channel layers,
# Conv2dWinograd for 3x3 stride-1 ones, Conv2d's im2col + GEMM) sees every case it can run.
CONV_PARAMS = ["numba", "numba-im2col", "numba-winograd"] + PARAMS[1:]


@pytest.fixture(params=PARAMS)
def backend(request):
    yield from active_backend(request.param)


def active_backend(name: str):
    """The body of the ``backend`` fixture (and of a test module's own variant of it)."""
    b = BACKENDS[name]
    if b.name.startswith("numba") and not HAVE_NUMBA:
        pytest.skip("numba not importable: the numba table is the plain-Python stand-in")
    if b.name == "emulated" and GXX is None:
        pytest.skip("g++ not found: kernel emulation skipped")
    with b.active():
        yield b
