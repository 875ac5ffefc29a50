// Adam / AdamW parameter update, in place, one pass over (param, grad, exp_avg, exp_avg_sq).
//
// The unfused update is about ten array ops, each reading and writing whole arrays; fused, each
// element is read once and written once. Same arithmetic and order as PyTorch's Adam/AdamW:
//   Adam  (decoupled = 0): g = g + weight_decay * p
//   AdamW (decoupled = 1): p = p * (1 - lr * weight_decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   p = p - (lr / bc1) * m / (sqrt(v) / sqrt_bc2 + eps),  bc1 = 1 - beta1^t, sqrt_bc2 = sqrt(1 - beta2^t)
// Hyperparameters arrive as double (the caller computes the bias corrections on the host).
// All four arrays are C-contiguous with `total` elements.

extern "C" __global__ void adam_update(
    scalar_t* __restrict__ p, const scalar_t* __restrict__ g, scalar_t* __restrict__ m,
    scalar_t* __restrict__ v, int total, double lr, double beta1, double beta2, double eps,
    double weight_decay, double bc1, double sqrt_bc2, int decoupled)
{
    const scalar_t b1 = (scalar_t)beta1, b2 = (scalar_t)beta2;
    const scalar_t step_size = (scalar_t)(lr / bc1);
    const scalar_t wd = (scalar_t)weight_decay, decay = (scalar_t)(1.0 - lr * weight_decay);
    // A 64-bit counter: total fits in an int (the launcher checks), at + stride may not.
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long at = blockIdx.x * (long long)blockDim.x + threadIdx.x; at < total;
         at += stride) {
        const int i = (int)at;  // at < total <= INT_MAX
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
