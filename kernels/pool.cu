// 2-D pooling, forward and backward, max and average (PyTorch semantics).
//
// Notation: P = N*C planes of H x W input, OH x OW output, KH x KW window, SH/SW stride,
// PH/PW padding, DH/DW dilation (max pool only); the rules of minitorch/ops/pool.py. The
// caller computes OH/OW, ceil_mode included, so these kernels only need the window rule:
//   window (oh, ow) covers rows oh*SH - PH + kh*DH (kh < KH) and cols ow*SW - PW + kw*DW.
// All arrays are C-contiguous; `scalar_t` is float or double (-Dscalar_t=... at compile time).
//
// Every kernel is in gather form: one thread per value it writes, so no atomics and the same
// result on every run. Backward kernels run one thread per INPUT pixel and sum, in a fixed
// order, the gradients of the windows that contain it.

// Calls f(i) for every i in [0, total) across the grid (a grid-stride loop). The counter is
// 64-bit: total fits in an int (the launcher checks), the counter plus the grid's stride may
// not. Every kernel below is one such loop over the values it writes.
template <typename F>
__device__ __forceinline__ void for_each_index(int total, F f)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride)
        f((int)at);
}

// Plane p and position (r, c) of flat index i into P planes of R x C values (C fastest).
__device__ __forceinline__ void split_index(int i, int R, int C, int& p, int& r, int& c)
{
    c = i % C;
    r = (i / C) % R;
    p = i / (C * R);
}

// The output positions [lo, hi] whose window can reach input position x along one axis:
// window o spans o*S - P .. o*S - P + (K-1)*D, so o lies in
// [ceil((x + P - (K-1)*D) / S), floor((x + P) / S)], clipped to [0, O). C division truncates
// toward zero; for a negative numerator the bound is <= 0 either way and max(0, .) fixes it,
// so the first expression is that ceil() wherever it matters. With dilation the range can
// hold windows whose taps step over x; the max-pool backward's argmax test skips those.
__device__ __forceinline__ void windows_over(int x, int K, int S, int P, int D, int O,
                                             int& lo, int& hi)
{
    lo = max(0, (x + P - (K - 1) * D + S - 1) / S);
    hi = min(O - 1, (x + P) / S);
}

// ---------------------------------------------------------------------------------- max pool
// Forward: value and argmax. The argmax is the flat index h*W + w inside the input plane
// (PyTorch's convention, so `indices` match max_pool2d(..., return_indices=True)). Ties go to
// the first maximum in window scan order (kh outer, kw inner): only a strictly greater value
// replaces it. A NaN always replaces it, so NaN propagates (PyTorch's rule, and the CPU
// kernel's in minitorch/cpu/pool.py).
extern "C" __global__ void max_pool2d_forward(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ y, long long* __restrict__ argmax,
    int P, int H, int W, int OH, int OW,
    int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW)
{
    for_each_index(P * OH * OW, [&](int i) {
        int p, oh, ow;
        split_index(i, OH, OW, p, oh, ow);
        const scalar_t* plane = x + (long long)p * H * W;
        const int h0 = oh * SH - PH, w0 = ow * SW - PW;
        // A window wholly in the padding keeps -inf and index -1 (the CPU kernel's answer,
        // and PyTorch's value). 1.0/0.0 is IEEE +inf, folded at compile time: NVRTC has no
        // <cmath> for INFINITY.
        scalar_t best = -(scalar_t)(1.0 / 0.0);
        int best_at = -1;
        for (int kh = 0; kh < KH; ++kh) {
            const int h = h0 + kh * DH;
            if (h < 0 || h >= H) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int w = w0 + kw * DW;
                if (w < 0 || w >= W) continue;
                const scalar_t v = plane[h * W + w];
                // The first in-bounds tap is taken unconditionally, so an all -inf window
                // still points at a real pixel (as PyTorch does); later taps must be greater.
                if (best_at < 0 || v > best || v != v) {  // v != v: v is NaN
                    best = v;
                    best_at = h * W + w;
                }
            }
        }
        y[i] = best;
        argmax[i] = best_at;
    });
}

// Backward: gx[p, h, w] = sum of gy[p, oh, ow] over the windows whose argmax is (h, w).
// Only the windows that can reach (h, w) are visited (windows_over).
extern "C" __global__ void max_pool2d_backward(
    const scalar_t* __restrict__ gy, const long long* __restrict__ argmax,
    scalar_t* __restrict__ gx,
    int P, int H, int W, int OH, int OW,
    int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW)
{
    for_each_index(P * H * W, [&](int i) {
        int p, h, w, oh_lo, oh_hi, ow_lo, ow_hi;
        split_index(i, H, W, p, h, w);
        windows_over(h, KH, SH, PH, DH, OH, oh_lo, oh_hi);
        windows_over(w, KW, SW, PW, DW, OW, ow_lo, ow_hi);
        const long long plane = (long long)p * OH * OW;
        const int me = h * W + w;
        scalar_t acc = 0;
        for (int oh = oh_lo; oh <= oh_hi; ++oh)
            for (int ow = ow_lo; ow <= ow_hi; ++ow) {
                const long long o = plane + oh * OW + ow;
                if (argmax[o] == me) acc += gy[o];
            }
        gx[i] = acc;
    });
}

// ---------------------------------------------------------------------------------- avg pool
// What each window's sum is divided by comes in as a table div[oh*OW + ow], computed by the
// caller with PyTorch's rule (count_include_pad, ceil_mode clipping, divisor_override): see
// _avg_divisor in minitorch/ops/pool.py. One rule in one place, for every backend.
extern "C" __global__ void avg_pool2d_forward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ div, scalar_t* __restrict__ y,
    int P, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW)
{
    for_each_index(P * OH * OW, [&](int i) {
        int p, oh, ow;
        split_index(i, OH, OW, p, oh, ow);
        const scalar_t* plane = x + (long long)p * H * W;
        // The window clipped to the image: padding adds zeros, so it adds nothing to the sum.
        const int h0 = max(oh * SH - PH, 0), h1 = min(oh * SH - PH + KH, H);
        const int w0 = max(ow * SW - PW, 0), w1 = min(ow * SW - PW + KW, W);
        scalar_t acc = 0;
        for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w)
                acc += plane[h * W + w];
        y[i] = acc / div[oh * OW + ow];
    });
}

// Backward: gx[p, h, w] = sum over the windows containing (h, w) of gy[p, oh, ow] / div[oh, ow].
extern "C" __global__ void avg_pool2d_backward(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ div, scalar_t* __restrict__ gx,
    int P, int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW)
{
    for_each_index(P * H * W, [&](int i) {
        // No dilation here: the windows over (h, w) are exactly the ones containing it.
        int p, h, w, oh_lo, oh_hi, ow_lo, ow_hi;
        split_index(i, H, W, p, h, w);
        windows_over(h, KH, SH, PH, 1, OH, oh_lo, oh_hi);
        windows_over(w, KW, SW, PW, 1, OW, ow_lo, ow_hi);
        const scalar_t* g = gy + (long long)p * OH * OW;
        scalar_t acc = 0;
        for (int oh = oh_lo; oh <= oh_hi; ++oh)
            for (int ow = ow_lo; ow <= ow_hi; ++ow)
                acc += g[oh * OW + ow] / div[oh * OW + ow];
        gx[i] = acc;
    });
}
