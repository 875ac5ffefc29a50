// col2im: fold a col matrix back onto the image, summing overlapping patches (the adjoint of
// im2col, used for the input gradient of convolution: gx = col2im(W^T @ gy)).
//
// Notation as in im2col.cu: N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW.
//
//   x[n, c, h, w] = sum over (kh, kw, oh, ow) with oh*SH - PH + kh*DH == h
//                                              and ow*SW - PW + kw*DW == w  of col[n, c, kh, kw, oh, ow]
//
// Gather form: one thread per INPUT pixel walks the (kh, kw) taps that can land on it and adds
// the matching col entries in a fixed order. No two threads write the same address, so there is
// no atomicAdd and the result is bit-for-bit the same on every run (scatter-with-atomics is
// not). The col strides are arguments, exactly as in im2col.cu; the output x is C-contiguous
// (N, C_total, H, W) and only channels c0 .. c0+C-1 are written (groups, via the caller).

extern "C" __global__ void col2im(
    const scalar_t* __restrict__ col, scalar_t* __restrict__ x,
    int N, int C_total, int c0, int C, int H, int W,
    int KH, int KW, int OH, int OW,
    int SH, int SW, int PH, int PW, int DH, int DW,
    int s_n, int s_c, int s_kh, int s_kw, int s_oh, int s_ow)
{
    const int total = N * C * H * W;
    // A 64-bit counter: total fits in an int (the launcher checks), at + stride may not.
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
        int r = i;
        const int w = r % W; r /= W;
        const int h = r % H; r /= H;
        const int c = r % C;
        const int n = r / C;
        const scalar_t* base = col + n * s_n + c * s_c;
        scalar_t acc = 0;
        for (int kh = 0; kh < KH; ++kh) {
            // Tap kh reads row h from output row oh = (h + PH - kh*DH) / SH, if that divides
            // exactly and lands inside [0, OH).
            const int hp = h + PH - kh * DH;
            if (hp < 0 || hp % SH != 0) continue;
            const int oh = hp / SH;
            if (oh >= OH) continue;
            for (int kw = 0; kw < KW; ++kw) {
                const int wp = w + PW - kw * DW;
                if (wp < 0 || wp % SW != 0) continue;
                const int ow = wp / SW;
                if (ow >= OW) continue;
                acc += base[kh * s_kh + kw * s_kw + oh * s_oh + ow * s_ow];
            }
        }
        x[((n * C_total + c0 + c) * H + h) * W + w] = acc;
    }
}
