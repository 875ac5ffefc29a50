"""The GPU backend's own kernels: CUDA C in kernels/*.cu, loaded and launched from here.

    loader.py   reads kernels/*.cu, compiles each once per device and dtype (cupy.RawModule)
    launch.py   dtype/contiguity/int32 checks and grid sizes shared by every launch
    ops.py      the kernels as array functions (CuPy in, CuPy out), with the CPU kernels'
                signatures: im2col, col2im, pooling, implicit-GEMM convolution
    fused.py    fused elementwise/reduction steps: softmax-cross-entropy, batch norm, dropout
                masks drawn on the device, Adam(W) in one multi-tensor launch
    graph.py    CUDA graphs: capture a training step once, replay it (torch.cuda.graph's names)
    prefetch.py batches copied to the GPU one step ahead through pinned memory (DataLoader)

Importing this package needs no GPU and no CuPy; only launching a kernel does. The ops in
minitorch/ops dispatch here for CuPy arrays.
"""


def is_available() -> bool:
    """``torch.cuda.is_available()``: CuPy importable and a CUDA device visible. The check is
    backend.py's (the one place that touches CuPy); importing this package imports no CuPy."""
    from ..backend import is_cuda_available
    return is_cuda_available()


def device_count() -> int:
    """Number of visible CUDA devices (0 without CuPy or a GPU)."""
    if not is_available():
        return 0
    from ..backend import cupy_module
    return int(cupy_module().cuda.runtime.getDeviceCount())


def manual_seed(seed: int) -> None:
    """``torch.cuda.manual_seed``: nothing of its own to seed. Every random number in
    minitorch, on every device, comes from the default generator (random.py), which
    ``minitorch.manual_seed`` seeds; this checks the seed and leaves that generator alone."""
    from ..random import _as_seed
    _as_seed(seed)


manual_seed_all = manual_seed  # torch.cuda.manual_seed_all: one generator for all devices
