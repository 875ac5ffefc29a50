// Batch normalization over (N, C, S) with statistics per channel c (S = H*W, or 1 for (N, C)).
//
// Training forward:   mean_c = mean of x[:, c, :],  var_c = mean of (x - mean_c)^2  (biased:
//                     two passes, never E[x^2] - E[x]^2, which cancels catastrophically),
//                     invstd_c = 1 / sqrt(var_c + eps),  y = (x - mean_c) * invstd_c * g_c + b_c
// Backward (xhat = (x - mean) * invstd, M = N*S values per channel):
//                     gb_c = sum gy,  gg_c = sum gy * xhat,
//                     gx = g_c * invstd_c * (gy - gb_c / M - xhat * gg_c / M)
// gamma/beta may be NULL (affine=False): g = 1, b = 0.
//
// The per-channel reductions fill the GPU even with few channels: one block per channel
// would be C blocks (6 to 64 for these models) on a GPU with 132 SMs. So each channel's M
// values are cut into `splits` fixed chunks of `chunk` values, one block each (grid
// (splits, C): bn_partial_stats, bn_backward_partial), and a second tiny kernel combines a
// channel's chunks in chunk order (bn_finalize_stats, bn_backward_finalize). A block sums
// with a fixed-shape tree in shared memory, and the split count comes from the shape alone
// (minitorch/cuda/fused.py: splits = min(ceil(528 / C), ceil(M / 1024)), about four blocks
// per SM of a 132-SM H100/H200 and at least 1024 values a block), so the result is the same
// on every run and every GPU. Sums accumulate in double (cheap here, and float32 sums of
// 10^5 values would lose digits). A chunk's mean and M2 = sum (x - mean)^2 come from two
// passes over the chunk; chunks combine with Chan et al.'s pairwise rule
//   n = na + nb,  d = mb - ma,  mean = ma + d * nb / n,  M2 = M2a + M2b + d^2 * na * nb / n,
// which never forms E[x^2] - E[x]^2.

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

// ------------------------------------------------------------------------ reductions
// Grid (splits, C), BN_THREADS each. part[(c * splits + s) * 3 + {0, 1, 2}] = the count, mean
// and M2 of chunk s of channel c: values j in [s*chunk, min(M, (s+1)*chunk)), j = n*S + q.
extern "C" __global__ void __launch_bounds__(BN_THREADS) bn_partial_stats(
    const scalar_t* __restrict__ x, double* __restrict__ part, int N, int C, int S, int chunk)
{
    __shared__ acc_t red[BN_THREADS];
    const int s = blockIdx.x, c = blockIdx.y, splits = gridDim.x;
    const long long M = (long long)N * S;
    const long long begin = (long long)s * chunk;
    const long long end = begin + chunk < M ? begin + chunk : M;
    const long long n = end > begin ? end - begin : 0;
    // 64-bit counters (j + BN_THREADS may pass INT_MAX), 32-bit index arithmetic: j < M <=
    // INT_MAX (x.size, checked by the launcher).
    acc_t sum = 0;
    for (long long j = begin + threadIdx.x; j < end; j += BN_THREADS) {
        const int i = (int)j;
        sum += x[((i / S) * C + c) * S + i % S];
    }
    const acc_t total = bn_block_sum(red, sum);
    const acc_t mu = n ? total / n : 0;
    acc_t q = 0;
    for (long long j = begin + threadIdx.x; j < end; j += BN_THREADS) {
        const int i = (int)j;
        const acc_t d = x[((i / S) * C + c) * S + i % S] - mu;
        q += d * d;
    }
    q = bn_block_sum(red, q);
    if (threadIdx.x == 0) {
        double* out = part + ((long long)c * splits + s) * 3;
        out[0] = (double)n;
        out[1] = mu;
        out[2] = q;
    }
}

// One thread per channel: combine its `splits` chunks in order; write mean, biased var, invstd.
extern "C" __global__ void bn_finalize_stats(
    const double* __restrict__ part, scalar_t* __restrict__ mean, scalar_t* __restrict__ var,
    scalar_t* __restrict__ invstd, int C, int splits, double eps)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double* p = part + (long long)c * splits * 3;
    double n = 0, mu = 0, m2 = 0;
    for (int s = 0; s < splits; ++s, p += 3) {
        const double nb = p[0];
        if (nb == 0) continue;
        const double total = n + nb, d = p[1] - mu;
        mu += d * nb / total;
        m2 += p[2] + d * d * n * nb / total;
        n = total;
    }
    const double v = m2 / n;
    mean[c] = (scalar_t)mu;
    var[c] = (scalar_t)v;
    invstd[c] = (scalar_t)(1.0 / sqrt(v + eps));
}

// Grid (splits, C). part[(c * splits + s) * 2 + {0, 1}] = sum gy, sum gy * xhat over chunk s.
extern "C" __global__ void __launch_bounds__(BN_THREADS) bn_backward_partial(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ x,
    const scalar_t* __restrict__ mean, const scalar_t* __restrict__ invstd,
    double* __restrict__ part, int N, int C, int S, int chunk)
{
    __shared__ acc_t red[BN_THREADS];
    const int s = blockIdx.x, c = blockIdx.y, splits = gridDim.x;
    const long long M = (long long)N * S;
    const long long begin = (long long)s * chunk;
    const long long end = begin + chunk < M ? begin + chunk : M;
    const acc_t mu = mean[c], is = invstd[c];
    acc_t a = 0, b = 0;
    for (long long j = begin + threadIdx.x; j < end; j += BN_THREADS) {
        const int i = (int)j;   // as in bn_partial_stats
        const int at = ((i / S) * C + c) * S + i % S;
        a += gy[at];
        b += gy[at] * ((x[at] - mu) * is);
    }
    a = bn_block_sum(red, a);
    b = bn_block_sum(red, b);
    if (threadIdx.x == 0) {
        double* out = part + ((long long)c * splits + s) * 2;
        out[0] = a;
        out[1] = b;
    }
}

// One thread per channel: sum its chunks' partial sums in order.
extern "C" __global__ void bn_backward_finalize(
    const double* __restrict__ part, scalar_t* __restrict__ sum_gy,
    scalar_t* __restrict__ sum_gy_xhat, int C, int splits)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double* p = part + (long long)c * splits * 2;
    double a = 0, b = 0;
    for (int s = 0; s < splits; ++s, p += 2) {
        a += p[0];
        b += p[1];
    }
    sum_gy[c] = (scalar_t)a;
    sum_gy_xhat[c] = (scalar_t)b;
}
