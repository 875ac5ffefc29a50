// Batch normalization over (N, C, S) with statistics per channel c (S = H*W, or 1 for (N, C)).
//
// Training forward:   mean_c = mean of x[:, c, :],  var_c = mean of (x - mean_c)^2  (biased:
//                     two passes, never E[x^2] - E[x]^2, which cancels catastrophically),
//                     invstd_c = 1 / sqrt(var_c + eps),  y = (x - mean_c) * invstd_c * g_c + b_c
// Backward (xhat = (x - mean) * invstd, M = N*S values per channel):
//                     gb_c = sum gy,  gg_c = sum gy * xhat,
//                     gx = g_c * invstd_c * (gy - gb_c / M - xhat * gg_c / M)
// The per-channel sums use one block per channel and a fixed-shape tree in shared memory, so
// they are deterministic; they accumulate in double (cheap here, and float32 sums of 10^5
// values would lose digits). gamma/beta may be NULL (affine=False): g = 1, b = 0.

#define BN_THREADS 256
typedef double acc_t;

__device__ __forceinline__ acc_t bn_block_sum(acc_t* red, acc_t v)
{
    const int t = threadIdx.x;
    red[t] = v;
    __syncthreads();
    for (int half = BN_THREADS / 2; half > 0; half /= 2) {
        if (t < half) red[t] += red[t + half];
        __syncthreads();
    }
    const acc_t result = red[0];
    __syncthreads();
    return result;
}

// Grid: C blocks of BN_THREADS. Writes mean, biased var and invstd per channel.
extern "C" __global__ void __launch_bounds__(BN_THREADS) bn_stats(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ mean, scalar_t* __restrict__ var,
    scalar_t* __restrict__ invstd, int N, int C, int S, double eps)
{
    __shared__ acc_t red[BN_THREADS];
    const int c = blockIdx.x;
    const int M = N * S;
    acc_t s = 0;
    // 64-bit counters: M fits in an int (the launcher checks), j + BN_THREADS may not.
    for (long long j = threadIdx.x; j < M; j += BN_THREADS) {
        const int i = (int)j;
        s += x[((i / S) * C + c) * S + i % S];
    }
    const acc_t mu = bn_block_sum(red, s) / M;
    acc_t q = 0;
    for (long long j = threadIdx.x; j < M; j += BN_THREADS) {
        const int i = (int)j;
        const acc_t d = x[((i / S) * C + c) * S + i % S] - mu;
        q += d * d;
    }
    const acc_t v = bn_block_sum(red, q) / M;
    if (threadIdx.x == 0) {
        mean[c] = (scalar_t)mu;
        var[c] = (scalar_t)v;
        invstd[c] = (scalar_t)(1.0 / sqrt(v + eps));
    }
}

// y = (x - mean) * invstd * gamma + beta, elementwise (also the eval-mode forward, with the
// running statistics passed as mean / invstd).
extern "C" __global__ void bn_apply(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ mean,
    const scalar_t* __restrict__ invstd, const scalar_t* __restrict__ gamma,
    const scalar_t* __restrict__ beta, scalar_t* __restrict__ y, int total, int C, int S)
{
    // A 64-bit counter: total fits in an int (the launcher checks), at + stride may not.
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
        const int c = (i / S) % C;
        const scalar_t g = gamma ? gamma[c] : (scalar_t)1, b = beta ? beta[c] : (scalar_t)0;
        y[i] = (x[i] - mean[c]) * invstd[c] * g + b;
    }
}

// Grid: C blocks. sum_gy[c] = sum gy, sum_gy_xhat[c] = sum gy * xhat over channel c.
extern "C" __global__ void __launch_bounds__(BN_THREADS) bn_backward_reduce(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ x,
    const scalar_t* __restrict__ mean, const scalar_t* __restrict__ invstd,
    scalar_t* __restrict__ sum_gy, scalar_t* __restrict__ sum_gy_xhat, int N, int C, int S)
{
    __shared__ acc_t red[BN_THREADS];
    const int c = blockIdx.x;
    const int M = N * S;
    const acc_t mu = mean[c], is = invstd[c];
    acc_t a = 0, b = 0;
    for (long long j = threadIdx.x; j < M; j += BN_THREADS) {  // 64-bit: see bn_stats
        const int i = (int)j;
        const int at = ((i / S) * C + c) * S + i % S;
        a += gy[at];
        b += gy[at] * ((x[at] - mu) * is);
    }
    a = bn_block_sum(red, a);
    b = bn_block_sum(red, b);
    if (threadIdx.x == 0) {
        sum_gy[c] = (scalar_t)a;
        sum_gy_xhat[c] = (scalar_t)b;
    }
}

// gx = gamma * invstd * (gy - sum_gy / M - xhat * sum_gy_xhat / M), elementwise.
extern "C" __global__ void bn_backward_apply(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ x,
    const scalar_t* __restrict__ mean, const scalar_t* __restrict__ invstd,
    const scalar_t* __restrict__ gamma, const scalar_t* __restrict__ sum_gy,
    const scalar_t* __restrict__ sum_gy_xhat, scalar_t* __restrict__ gx,
    int total, int C, int S, int M)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
        const int c = (i / S) % C;
        const scalar_t is = invstd[c], g = gamma ? gamma[c] : (scalar_t)1;
        const scalar_t xhat = (x[i] - mean[c]) * is;
        gx[i] = g * is * (gy[i] - sum_gy[c] / M - xhat * sum_gy_xhat[c] / M);
    }
}
