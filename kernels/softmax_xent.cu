// Softmax cross-entropy, forward and backward in one pass over the logits.
//
// Notation: N rows (samples), C classes, logits z (N, C) C-contiguous, targets y (N,) int64.
// For each row i with y_i != ignore_index:
//   lse_i  = m_i + log sum_c exp(z_ic - m_i),  m_i = max_c z_ic    (never exp of a large z)
//   loss_i = lse_i - z_{i, y_i}
//   grad_ic = exp(z_ic - lse_i) - [c == y_i]       (softmax - onehot: d loss_i / d z_ic)
// and loss_i = 0, grad_i = 0 for ignored rows. The caller scales (mean over the valid rows,
// upstream gradient). A target outside [0, C) that is not ignore_index gives loss_i = NaN and
// a NaN gradient row, never an out-of-bounds read: the kernel checks, not the host, so the
// launch needs no device-to-host copy (minitorch/ops/loss.py raises the clear IndexError
// eagerly; inside a CUDA-graph capture, where no host check can run, the NaN shows it).
//
// One block per row; its XENT_THREADS threads stride over the classes and combine their
// partial max / sum in shared memory (a tree with a fixed shape: deterministic). The class
// counters are 64-bit: C fits in an int, c + XENT_THREADS may not.

#define XENT_THREADS 128

// Tree reduction over the block: red[0] ends up holding op over all red[t]. Every thread of
// the block must call it (it contains barriers).
template <bool IS_MAX>
__device__ __forceinline__ scalar_t block_reduce(scalar_t* red, scalar_t v)
{
    const int t = threadIdx.x;
    red[t] = v;
    __syncthreads();
    for (int half = XENT_THREADS / 2; half > 0; half /= 2) {
        if (t < half) {
            const scalar_t o = red[t + half];
            red[t] = IS_MAX ? (o > red[t] ? o : red[t]) : red[t] + o;
        }
        __syncthreads();
    }
    const scalar_t result = red[0];
    __syncthreads();  // everyone has read red[0] before red is reused
    return result;
}

extern "C" __global__ void __launch_bounds__(XENT_THREADS) softmax_xent_forward_backward(
    const scalar_t* __restrict__ z, const long long* __restrict__ y,
    scalar_t* __restrict__ loss, scalar_t* __restrict__ grad,
    int N, int C, long long ignore_index)
{
    __shared__ scalar_t red[XENT_THREADS];
    const int row = blockIdx.x;
    if (row >= N) return;                       // uniform over the block: no barrier skipped
    const scalar_t* zr = z + (long long)row * C;
    scalar_t* gr = grad + (long long)row * C;
    const long long target = y[row];
    if (target == ignore_index || target < 0 || target >= C) {   // uniform over the block
        const scalar_t fill = target == ignore_index ? (scalar_t)0 : (scalar_t)nan("");
        for (long long c = threadIdx.x; c < C; c += XENT_THREADS) gr[c] = fill;
        if (threadIdx.x == 0) loss[row] = fill;
        return;
    }
    scalar_t m = zr[0];
    for (long long c = threadIdx.x; c < C; c += XENT_THREADS) m = zr[c] > m ? zr[c] : m;
    m = block_reduce<true>(red, m);
    scalar_t s = 0;
    for (long long c = threadIdx.x; c < C; c += XENT_THREADS) s += exp(zr[c] - m);
    s = block_reduce<false>(red, s);
    const scalar_t lse = m + log(s);
    for (long long c = threadIdx.x; c < C; c += XENT_THREADS)
        gr[c] = exp(zr[c] - lse) - (c == target ? (scalar_t)1 : (scalar_t)0);
    if (threadIdx.x == 0) loss[row] = lse - zr[target];
}
