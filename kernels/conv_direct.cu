// Convolution without an im2col buffer: a tiled implicit GEMM, forward and weight gradient.
//
// Notation: N batch, C input channels, H x W input, OC output channels, G groups (Cg = C/G,
// OCg = OC/G), KH x KW kernel, SH/SW stride, PH/PW padding, DH/DW dilation, OH x OW output,
// Q = OH*OW output pixels per image, K = Cg*KH*KW (one row of the weight matrix).
//
// Convolution is a matrix product in disguise (see im2col.cu):
//   forward   y[n, oc, q] = b[oc] + sum_k  Wmat[oc, k] * col[k, (n, q)]
//   weight    gW[oc, k]   =          sum_(n,q) gy[n, oc, q] * col[k, (n, q)]
// im2col writes `col` (K x N*Q elements: KH*KW times the input) to memory and reads it back.
// These kernels instead gather each col tile straight from x into shared memory when the
// GEMM needs it, so the col matrix never exists. For the small LeNet layers that is the whole
// cost: the arithmetic is tiny and the col round trip is most of the memory traffic.
//
// The GEMM is tiled the classic way: a block computes a BM x BN tile of the result, stepping
// through the reduction BK at a time. Each step the block's threads (1) copy a BK x BM tile of
// the left operand and a BK x BN tile of the right one into shared memory, (2) barrier,
// (3) each thread multiplies its TM x TN sub-tile out of shared memory into registers,
// (4) barrier before the tiles are overwritten. Register tiling: thread (ty, tx) owns the
// TM x TN block of rows ty*TM .. ty*TM+TM-1 and columns tx*TN .. tx*TN+TN-1, so each step it
// reads TM + TN values from shared memory and does TM*TN multiply-adds with them. Its values
// are contiguous, and the shared tiles are arrays of `pack`s (VA or VB consecutive elements,
// aligned to their size, up to 16 bytes): a thread fetches its TM (TN) values in TM/VA (TN/VB)
// wide loads, 128-bit where the tile allows (4 floats or 2 doubles), not one load per value.
// A warp's wide loads of one row are consecutive packs (no bank conflict); tile rows are
// padded by one pack, which keeps the alignment and spreads the column-wise stores of the
// weight gradient over the banks.
//
// The (c, kh, kw) <-> k and q <-> (oh, ow) index splits are integer divisions by run-time
// values, far dearer than the multiply-adds they feed. They are done once, by the caller, into
// small int tables read through the cache:
//   ktab[k] = c*H*W + kh*DH*W + kw*DW,  ktab[K + k] = kh*DH,  ktab[2K + k] = kw*DW
//   qtab[q] = oh*SH - PH,               qtab[Q + q] = ow*SW - PW
// so pixel (h, w) of tap k for output q is h = qtab[q] + ktab[K+k], w = qtab[Q+q] + ktab[2K+k].
//
// Compile-time tile shape: CONV_BM, CONV_BN, CONV_BK, CONV_TM, CONV_TN (-D options; the
// caller picks a shape per layer and launches CONV_THREADS threads per block). `scalar_t` is
// float or double (-Dscalar_t=...). x, w, gy are C-contiguous; the caller checks that every
// flat index fits in an int.

#ifndef CONV_BM
#define CONV_BM 32
#endif
#ifndef CONV_BN
#define CONV_BN 64
#endif
#ifndef CONV_BK
#define CONV_BK 16
#endif
#ifndef CONV_TM
#define CONV_TM 4
#endif
#ifndef CONV_TN
#define CONV_TN 4
#endif
#define CONV_THREADS ((CONV_BM / CONV_TM) * (CONV_BN / CONV_TN))

static_assert(CONV_BM % CONV_TM == 0 && CONV_BN % CONV_TN == 0, "tile must split evenly");
static_assert((CONV_TM & (CONV_TM - 1)) == 0 && (CONV_TN & (CONV_TN - 1)) == 0,
              "TM and TN are powers of two (the pack widths divide them)");
static_assert((CONV_BM * CONV_BK) % CONV_THREADS == 0, "A tile must split evenly over threads");
static_assert((CONV_BK * CONV_BN) % CONV_THREADS == 0, "B tile must split evenly over threads");
static_assert(CONV_THREADS % CONV_BN == 0, "forward: each thread loads one fixed pixel column");
static_assert(CONV_THREADS % CONV_BK == 0, "weight grad: each thread loads one fixed q row");

// V consecutive elements, aligned to their size: one wide shared-memory load.
template <int V>
struct alignas(V * sizeof(scalar_t)) pack {
    scalar_t v[V];
};
constexpr int PACK_MAX = 16 / sizeof(scalar_t);            // 128 bits
constexpr int VA = CONV_TM < PACK_MAX ? CONV_TM : PACK_MAX;  // A tile (rows) pack width
constexpr int VB = CONV_TN < PACK_MAX ? CONV_TN : PACK_MAX;  // B tile (columns) pack width
constexpr int A_PACKS = CONV_BM / VA + 1;                   // per tile row, + 1 pack of padding
constexpr int B_PACKS = CONV_BN / VB + 1;
typedef pack<VA> a_tile[CONV_BK][A_PACKS];
typedef pack<VB> b_tile[CONV_BK][B_PACKS];

__device__ __forceinline__ void put_a(a_tile& As, int kk, int m, scalar_t v)
{
    As[kk][m / VA].v[m % VA] = v;
}
__device__ __forceinline__ void put_b(b_tile& Bs, int kk, int n, scalar_t v)
{
    Bs[kk][n / VB].v[n % VB] = v;
}

// Step (3): acc[i][j] += sum_kk As[kk][ty*TM + i] * Bs[kk][tx*TN + j] for this thread's block.
__device__ __forceinline__ void tile_multiply(const a_tile& As, const b_tile& Bs, int ty, int tx,
                                              scalar_t (&acc)[CONV_TM][CONV_TN])
{
#pragma unroll
    for (int kk = 0; kk < CONV_BK; ++kk) {
        scalar_t a[CONV_TM], b[CONV_TN];
#pragma unroll
        for (int i = 0; i < CONV_TM / VA; ++i) {
            const pack<VA> w = As[kk][ty * (CONV_TM / VA) + i];
#pragma unroll
            for (int e = 0; e < VA; ++e) a[i * VA + e] = w.v[e];
        }
#pragma unroll
        for (int j = 0; j < CONV_TN / VB; ++j) {
            const pack<VB> w = Bs[kk][tx * (CONV_TN / VB) + j];
#pragma unroll
            for (int e = 0; e < VB; ++e) b[j * VB + e] = w.v[e];
        }
#pragma unroll
        for (int i = 0; i < CONV_TM; ++i)
#pragma unroll
            for (int j = 0; j < CONV_TN; ++j)
                acc[i][j] += a[i] * b[j];
    }
}

// ----------------------------------------------------------------------------------- forward
// Grid: (ceil(N*Q / BN), ceil(OCg / BM), G). Block: CONV_THREADS. GEMM rows = output channels
// of the group, columns = output pixels p = n*Q + q of the whole batch, reduction over k.
extern "C" __global__ void __launch_bounds__(CONV_THREADS) conv2d_forward_igemm(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ w,
    const scalar_t* __restrict__ b, scalar_t* __restrict__ y,
    const int* __restrict__ ktab, const int* __restrict__ qtab,
    int N, int C, int H, int W, int OC, int OH, int OW, int G, int K, int has_bias)
{
    __shared__ a_tile As;   // weights:   As[kk][m]  = Wmat[m0+m, k0+kk]
    __shared__ b_tile Bs;   // col tile:  Bs[kk][pp] = col[k0+kk, p0+pp]

    const int t = threadIdx.x;
    const int tx = t % (CONV_BN / CONV_TN), ty = t / (CONV_BN / CONV_TN);
    const int Q = OH * OW, P = N * Q;
    const int Cg = C / G, OCg = OC / G, g = blockIdx.z;
    const int m0 = blockIdx.y * CONV_BM, p0 = blockIdx.x * CONV_BN;

    // The pixel column this thread loads into Bs is the same at every step: split it once.
    const int pp = t % CONV_BN;
    const int p = p0 + pp;
    const bool p_ok = p < P;
    const int n = p_ok ? p / Q : 0, q = p_ok ? p % Q : 0;
    const int h0 = qtab[q], w0 = qtab[Q + q];
    const scalar_t* xg = x + (n * C + g * Cg) * H * W + h0 * W + w0;  // tap offsets add to this

    scalar_t acc[CONV_TM][CONV_TN];
#pragma unroll
    for (int i = 0; i < CONV_TM; ++i)
#pragma unroll
        for (int j = 0; j < CONV_TN; ++j) acc[i][j] = 0;

    for (int k0 = 0; k0 < K; k0 += CONV_BK) {
        // (1a) weight tile; consecutive threads take consecutive m (conflict-free stores).
#pragma unroll
        for (int r = 0; r < CONV_BM * CONV_BK / CONV_THREADS; ++r) {
            const int e = t + r * CONV_THREADS;
            const int kk = e / CONV_BM, m = e % CONV_BM;
            const int oc = m0 + m, k = k0 + kk;
            put_a(As, kk, m, (oc < OCg && k < K) ? w[(g * OCg + oc) * K + k] : (scalar_t)0);
        }
        // (1b) col tile gathered from x; consecutive threads take consecutive pixels.
#pragma unroll
        for (int r = 0; r < CONV_BK * CONV_BN / CONV_THREADS; ++r) {
            const int kk = t / CONV_BN + r * (CONV_THREADS / CONV_BN);
            const int k = k0 + kk;
            scalar_t v = 0;
            if (p_ok && k < K) {
                const int h = h0 + ktab[K + k], ww = w0 + ktab[2 * K + k];
                if ((unsigned)h < (unsigned)H && (unsigned)ww < (unsigned)W) v = xg[ktab[k]];
            }
            put_b(Bs, kk, pp, v);
        }
        __syncthreads();                            // (2) tiles complete
        tile_multiply(As, Bs, ty, tx, acc);         // (3)
        __syncthreads();                            // (4) done reading before the next copy
    }

    // Epilogue: bias, then write y[n, g*OCg + oc, q]; a thread's TN pixels are consecutive.
#pragma unroll
    for (int j = 0; j < CONV_TN; ++j) {
        const int pj = p0 + tx * CONV_TN + j;
        if (pj >= P) continue;
        const int nj = pj / Q, qj = pj % Q;
#pragma unroll
        for (int i = 0; i < CONV_TM; ++i) {
            const int oc = m0 + ty * CONV_TM + i;
            if (oc >= OCg) continue;
            const int c_out = g * OCg + oc;
            y[(nj * OC + c_out) * Q + qj] = acc[i][j] + (has_bias ? b[c_out] : (scalar_t)0);
        }
    }
}

// ----------------------------------------------------------------------------- weight grad
// Grid: (ceil(K / BN), ceil(OCg / BM), G * S). Block: CONV_THREADS. GEMM rows = output
// channels of the group, columns = k, reduction over the pixels (n, q) of images
// [s*images_per_split, (s+1)*images_per_split) for split s = blockIdx.z / G.
//
// Deterministic by construction: each block writes its own slice partial[s, oc, k] (no
// atomics), summing its pixels in a fixed order; the caller then sums partial over s in a
// fixed order. S depends only on the shape, so the result is the same on every run and GPU.
extern "C" __global__ void __launch_bounds__(CONV_THREADS) conv2d_wgrad_igemm(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ gy,
    scalar_t* __restrict__ partial,
    const int* __restrict__ ktab, const int* __restrict__ qtab,
    int N, int C, int H, int W, int OC, int OH, int OW, int G, int K, int images_per_split)
{
    __shared__ a_tile As;   // As[qq][m]  = gy[n, m0+m, q0+qq]
    __shared__ b_tile Bs;   // Bs[qq][kk] = col[k0+kk, (n, q0+qq)]

    const int t = threadIdx.x;
    const int tx = t % (CONV_BN / CONV_TN), ty = t / (CONV_BN / CONV_TN);
    const int Q = OH * OW;
    const int Cg = C / G, OCg = OC / G;
    const int g = blockIdx.z % G, s = blockIdx.z / G;
    const int m0 = blockIdx.y * CONV_BM, k0 = blockIdx.x * CONV_BN;
    const int n_begin = s * images_per_split;
    const int n_end = min(N, n_begin + images_per_split);

    // This thread's Bs loads: one fixed q row (qq) and fixed k columns, so the k -> tap
    // lookups happen once, here, not once per step.
    constexpr int RB = CONV_BK * CONV_BN / CONV_THREADS;
    const int qq = t % CONV_BK;
    int tap_off[RB], tap_dh[RB], tap_dw[RB];
#pragma unroll
    for (int r = 0; r < RB; ++r) {
        const int k = k0 + t / CONV_BK + r * (CONV_THREADS / CONV_BK);
        const bool ok = k < K;
        tap_off[r] = ok ? ktab[k] : 0;
        tap_dh[r] = ok ? ktab[K + k] : -(1 << 29);  // pushes h out of range: loads 0
        tap_dw[r] = ok ? ktab[2 * K + k] : 0;
    }

    scalar_t acc[CONV_TM][CONV_TN];
#pragma unroll
    for (int i = 0; i < CONV_TM; ++i)
#pragma unroll
        for (int j = 0; j < CONV_TN; ++j) acc[i][j] = 0;

    for (int n = n_begin; n < n_end; ++n) {
        const scalar_t* xn = x + (n * C + g * Cg) * H * W;
        const scalar_t* gyn = gy + (n * OC + g * OCg) * Q;
        for (int q0 = 0; q0 < Q; q0 += CONV_BK) {
            // (1a) gy tile; consecutive threads take consecutive q (coalesced reads).
#pragma unroll
            for (int r = 0; r < CONV_BM * CONV_BK / CONV_THREADS; ++r) {
                const int e = t + r * CONV_THREADS;
                const int m = e / CONV_BK, qe = e % CONV_BK;
                const int oc = m0 + m, q = q0 + qe;
                put_a(As, qe, m, (oc < OCg && q < Q) ? gyn[oc * Q + q] : (scalar_t)0);
            }
            // (1b) col tile gathered from x for this thread's q row.
            const int q = q0 + qq;
            const bool q_ok = q < Q;
            const int h0 = q_ok ? qtab[q] : -(1 << 29), w0 = q_ok ? qtab[Q + q] : 0;
#pragma unroll
            for (int r = 0; r < RB; ++r) {
                const int kk = t / CONV_BK + r * (CONV_THREADS / CONV_BK);
                const int h = h0 + tap_dh[r], ww = w0 + tap_dw[r];
                put_b(Bs, qq, kk, ((unsigned)h < (unsigned)H && (unsigned)ww < (unsigned)W)
                                      ? xn[h0 * W + w0 + tap_off[r]] : (scalar_t)0);
            }
            __syncthreads();
            tile_multiply(As, Bs, ty, tx, acc);
            __syncthreads();
        }
    }

    // partial[s, g*OCg + oc, k]: a thread's TN values of k are consecutive.
#pragma unroll
    for (int i = 0; i < CONV_TM; ++i) {
        const int oc = m0 + ty * CONV_TM + i;
        if (oc >= OCg) continue;
#pragma unroll
        for (int j = 0; j < CONV_TN; ++j) {
            const int k = k0 + tx * CONV_TN + j;
            if (k < K) partial[(s * OC + g * OCg + oc) * K + k] = acc[i][j];
        }
    }
}
