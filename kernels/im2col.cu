// im2col: unfold image patches into the columns of a matrix, so convolution becomes one GEMM.
//
// Notation: N batch, C channels, H x W input, KH x KW kernel, SH/SW stride, PH/PW padding,
// DH/DW dilation, OH x OW output, OH = (H + 2*PH - DH*(KH-1) - 1) / SH + 1 (same for OW).
//
//   col[n, c, kh, kw, oh, ow] = x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]   (0 off the image)
//
// The six col strides are arguments (in elements), so the caller picks the memory layout of the
// col matrix (minitorch/cuda/ops.py passes the layout of the CPU path, minitorch/ops/conv.py)
// without a second kernel. Groups are the caller's business: it passes a channel range through
// `c0` (first input channel read) and C (how many).
//
// Gather form: one thread per col element, each written exactly once (no races, no atomics).
// Threads are numbered with ow fastest, so neighbouring threads read neighbouring pixels of x.
// `scalar_t` is float or double: the loader compiles this file once per dtype with
// -Dscalar_t=...; x must be C-contiguous (N, C_total, H, W).

extern "C" __global__ void im2col(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ col,
    int N, int C_total, int c0, int C, int H, int W,
    int KH, int KW, int OH, int OW,
    int SH, int SW, int PH, int PW, int DH, int DW,
    int s_n, int s_c, int s_kh, int s_kw, int s_oh, int s_ow)
{
    const int total = N * C * KH * KW * OH * OW;  // the launcher checks this fits in an int
    // A 64-bit counter: total fits in an int (the launcher checks), at + stride may not.
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
        int r = i;
        const int ow = r % OW; r /= OW;
        const int oh = r % OH; r /= OH;
        const int kw = r % KW; r /= KW;
        const int kh = r % KH; r /= KH;
        const int c = r % C;
        const int n = r / C;
        const int h = oh * SH - PH + kh * DH;
        const int w = ow * SW - PW + kw * DW;
        scalar_t v = 0;
        if (h >= 0 && h < H && w >= 0 && w < W)
            v = x[((n * C_total + c0 + c) * H + h) * W + w];
        col[n * s_n + c * s_c + kh * s_kh + kw * s_kw + oh * s_oh + ow * s_ow] = v;
    }
}
