// Dropout keep-masks drawn on the GPU: mask[i] = scale if u_i >= p else 0, u_i uniform in
// [0, 1), scale = 1/(1-p) (inverted dropout; 0 when p = 1).
//
// Drawn on the host, a mask is a host-to-device copy every forward, as large as the
// activation. Here each element's u_i is a pure function of (seed, i): a counter-based
// generator, SplitMix64's finaliser of seed + (i + 1) * golden (a bijective mix of 64 bits),
// whose top 24 bits give u_i = k / 2^24 (exact in float and double). No state, no order:
// every thread computes its own elements, and the same seed gives the same mask on every GPU
// and launch shape. The caller draws the 64-bit seed from minitorch's global generator per
// call, so mt.manual_seed makes the masks reproducible. tests/test_gpu_review.py computes
// the same formula with NumPy.

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long x)
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

extern "C" __global__ void dropout_mask(scalar_t* __restrict__ mask, long long total,
                                        unsigned long long seed, double p, double scale)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += stride) {
        const unsigned long long z =
            splitmix64(seed + (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL);
        const double u = (double)(z >> 40) * (1.0 / 16777216.0);   // 24 bits: k / 2^24
        mask[i] = u >= p ? (scalar_t)scale : (scalar_t)0;
    }
}
