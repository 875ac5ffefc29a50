// Fused bias + ReLU: y = max(x + b[c], 0), and its backward mask.
//
// A conv or linear layer followed by ReLU would otherwise make three passes over memory
// (add bias, write; read, relu, write; and a saved copy for backward). Fused, the forward reads
// x once and writes y once, and the backward needs only y: ReLU's derivative is (y > 0), and
// y > 0 exactly where x + b > 0.
//
// Layout: x is C-contiguous with the channel as the second-slowest index, i.e. (N, C, S) where
// S = H*W for a conv output (N, C, H, W) and S = 1 for a linear output (N, C). Element i has
// channel (i / S) % C. `scalar_t` is float or double (-Dscalar_t=...). Memory-bound: a
// grid-stride loop with consecutive threads on consecutive elements (coalesced).

extern "C" __global__ void bias_relu_forward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ b, scalar_t* __restrict__ y,
    int total, int C, int S)
{
    // A 64-bit counter: total fits in an int (the launcher checks), at + stride may not.
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
        const scalar_t v = x[i] + b[(i / S) % C];
        y[i] = v < (scalar_t)0 ? (scalar_t)0 : v;  // NaN < 0 is false: NaN propagates, as in PyTorch
    }
}

// gx = gy * (y > 0). The bias gradient is gx summed over N and S, done by the caller with a
// (deterministic) reduction.
extern "C" __global__ void relu_backward_from_output(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ y, scalar_t* __restrict__ gx,
    int total)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
        gx[i] = y[i] > (scalar_t)0 ? gy[i] : (scalar_t)0;
    }
}
