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


# --- torch.cuda's helpers that lecture code calls around GPU training and timing
def _cupy_or_raise(what: str):
    from ..backend import cuda_unavailable_reason, cupy_module
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"cuda.{what}: no usable CUDA device: {reason}")
    return cupy_module()


def synchronize(device=None) -> None:
    """Wait until every kernel queued on the current device has finished (time GPU code
    between two synchronize() calls: launches return before the work is done)."""
    _cupy_or_raise("synchronize").cuda.Device().synchronize()


def get_device_name(device=None) -> str:
    """The GPU's name ("NVIDIA H200" ...); ``device`` is an index, "cuda:N" or a device."""
    cp = _cupy_or_raise("get_device_name")
    if device is None or isinstance(device, int):
        index = cp.cuda.Device().id if device is None else device
    else:
        from ..devices import device as parse
        index = parse(device).index
        index = cp.cuda.Device().id if index is None else index
    name = cp.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def empty_cache() -> None:
    """Give the blocks CuPy's memory pools hold but no array uses back to the driver (what
    nvidia-smi shows drops; live arrays are untouched). Nothing to do without a GPU."""
    if is_available():
        cp = _cupy_or_raise("empty_cache")
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()
