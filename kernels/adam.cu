// Adam / AdamW parameter update, in place, for many tensors in ONE launch (multi-tensor).
//
// The unfused update is about ten array ops, each reading and writing whole arrays; fused, each
// element is read once and written once. And an optimizer step over a model's T parameter
// tensors is one launch, not T: at small batches each launch costs more host time than its
// work (a SimpLeNet step has 8 parameter tensors). Same arithmetic and order as PyTorch's
// Adam/AdamW:
//   Adam  (decoupled = 0): g = g + weight_decay * p
//   AdamW (decoupled = 1): p = p * (1 - lr * weight_decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / bc1) * m / (sqrt(v) / sqrt_bc2 + eps),  bc1 = 1 - beta1^t, sqrt_bc2 = sqrt(1 - beta2^t)
// Hyperparameters arrive as double (the caller computes the bias corrections on the host, for
// tensors that share the step count t).
//
// table holds 5T + 1 int64 values: the addresses of the T params, then of the T grads, the T
// exp_avg and the T exp_avg_sq arrays (each C-contiguous, as their param), then the offsets
// off[0] = 0 <= off[1] <= ... <= off[T] = total: tensor t owns elements [off[t], off[t+1]) of
// the one index range the grid strides over. All indices are 64-bit: total may pass INT_MAX.

extern "C" __global__ void adam_multi(
    const long long* __restrict__ table, int T, long long total, double lr, double beta1,
    double beta2, double eps, double weight_decay, double bc1, double sqrt_bc2, int decoupled)
{
    const scalar_t b1 = (scalar_t)beta1, b2 = (scalar_t)beta2;
    const scalar_t step_size = (scalar_t)(lr / bc1);
    const scalar_t wd = (scalar_t)weight_decay, decay = (scalar_t)(1.0 - lr * weight_decay);
    const long long* off = table + 4 * T;
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        int lo = 0, hi = T - 1;          // the tensor t with off[t] <= at < off[t + 1]
        while (lo < hi) {
            const int mid = (lo + hi + 1) / 2;
            if (off[mid] <= at) lo = mid;
            else hi = mid - 1;
        }
        const long long i = at - off[lo];
        scalar_t* p = (scalar_t*)table[lo];
        const scalar_t* g = (const scalar_t*)table[T + lo];
        scalar_t* m = (scalar_t*)table[2 * T + lo];
        scalar_t* v = (scalar_t*)table[3 * T + lo];
        scalar_t pi = p[i], gi = g[i];
        if (decoupled) pi *= decay;
        else gi += wd * pi;
        const scalar_t mi = b1 * m[i] + (1 - b1) * gi;
        const scalar_t vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * mi / (sqrt(vi) / (scalar_t)sqrt_bc2 + (scalar_t)eps);
    }
}
