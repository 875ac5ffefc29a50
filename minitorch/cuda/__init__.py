"""The GPU backend's own kernels: CUDA C in kernels/*.cu, loaded and launched from here.

    loader.py   reads kernels/*.cu, compiles each once per device and dtype (cupy.RawModule)
    launch.py   dtype/contiguity/int32 checks and grid sizes shared by every launch
    ops.py      the kernels as array functions (CuPy in, CuPy out), with the CPU kernels'
                signatures: im2col, col2im, pooling, bias+ReLU, implicit-GEMM convolution
    fused.py    fused elementwise/reduction steps: softmax-cross-entropy, batch norm, Adam(W)

Importing this package needs no GPU and no CuPy; only launching a kernel does. The ops in
minitorch/ops dispatch here for CuPy arrays.
"""
