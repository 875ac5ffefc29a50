# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Convolution, by hand and fast
#
# A convolutional layer slides a small kernel over the image and takes a dot product at every
# position. We compute one output by hand, apply classic edge kernels to a digit, work out the
# output size for padding, stride and dilation, turn the convolution into one matrix product
# (im2col), time the direct loops against it, and finish with max pooling.

# %%
# %matplotlib inline
import time
import numpy as np
import matplotlib.pyplot as plt
try:
    import minitorch as mt
except ImportError:  # running from a clone without `pip install -e .`: use the repository
    import sys
    sys.path.insert(0, "..")
    import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from minitorch import optim, viz


# %% [markdown]
# ## A worked 5×5 example
# Output pixel $(i, j)$ is $\sum_{u,v} X[i+u, j+v]\,K[u, v]$: the kernel laid on the window whose
# top-left corner is $(i, j)$. Strictly this is **cross-correlation**; mathematical convolution
# flips the kernel first. Deep learning (PyTorch, minitorch) uses cross-correlation and still
# calls it convolution: the kernel is learned, so the flip makes no difference.

# %%
X = np.array([[0, 2, 1, 0, 1],
              [0, 1, 2, 1, 0],
              [1, 0, 2, 0, 0],
              [1, 0, 0, 1, 1],
              [0, 1, 1, 2, 2]], dtype=np.float64)
K = np.array([[0, 1, -4],
              [0, 2, 0],
              [-1, 4, 3]], dtype=np.float64)

window = X[0:3, 0:3]
print("top-left window:\n", window)
print("window * K:\n", window * K)
top_left = (window * K).sum()
print("sum =", top_left)
assert top_left == 5

by_loop = np.array([[(X[i:i + 3, j:j + 3] * K).sum() for j in range(3)] for i in range(3)])
y = F.conv2d(mt.tensor(X[None, None]), mt.tensor(K[None, None]))   # (N, C, H, W) and (OC, C, KH, KW)
print("by loop:\n", by_loop, "\nF.conv2d:\n", y.numpy()[0, 0])
assert y.numpy()[0, 0, 0, 0] == 5 and np.array_equal(y.numpy()[0, 0], by_loop)
print("true convolution (kernel flipped) gives", (window * K[::-1, ::-1]).sum(), "at the top-left")


# %% [markdown]
# ## Edge detectors on a real digit
# The Sobel kernels respond to horizontal and vertical intensity changes. These are the kind of
# filters a CNN's first layer learns by itself (notebook 4).

# %%
# root=None: $MINITORCH_DATA, else ~/.cache/minitorch/data; download only fetches missing files.
train_full = mt.data.MNIST(root=None, train=True, download=True, normalize=True)
test_full = mt.data.MNIST(root=None, train=False, download=True, normalize=True)
print(train_full, test_full, sep="\n")


# %%
digit = mt.tensor(train_full.data[0:1, None].astype(np.float32) / 255)       # (1, 1, 28, 28)
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
sobel = mt.tensor(np.stack([sobel_x, sobel_x.T])[:, None])                  # (2, 1, 3, 3)
edges = F.conv2d(digit, sobel, padding=1).numpy()[0]
magnitude = np.sqrt(edges[0] ** 2 + edges[1] ** 2)

fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), constrained_layout=True)
panels = [(digit.numpy()[0, 0], "digit", "gray"), (edges[0], "Sobel x: vertical edges", "RdBu_r"),
          (edges[1], "Sobel y: horizontal edges", "RdBu_r"), (magnitude, "edge magnitude", "magma")]
for ax, (img, title, cmap) in zip(axes, panels):
    lim = np.abs(img).max()
    im = ax.imshow(img, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim)
    ax.set_title(title); ax.set_xlabel("x (px)"); ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=ax, shrink=0.8)


# %% [markdown]
# ## Padding, stride, dilation and the output size
# - **padding** $P$ adds $P$ zero rows/columns on each side (keeps the border, keeps the size);
# - **stride** $S$ moves the window $S$ pixels at a time (downsamples);
# - **dilation** $D$ spaces the kernel taps $D$ apart (a $K$-tap kernel spans $D(K-1)+1$ pixels).
#
# The number of window positions along one axis is
# $$O = \left\lfloor \frac{H + 2P - D(K-1) - 1}{S} \right\rfloor + 1 .$$
# We check it against `F.conv2d` for a few settings on the 28×28 digit with a 3×3 kernel.

# %%
def out_size(H, K, P=0, S=1, D=1):
    return (H + 2 * P - D * (K - 1) - 1) // S + 1

print(f"{'padding':>8}{'stride':>8}{'dilation':>10}{'formula':>10}{'F.conv2d':>10}")
results = {}
for P, S, D in [(0, 1, 1), (1, 1, 1), (0, 2, 1), (1, 2, 1), (0, 1, 2), (2, 3, 2)]:
    out = F.conv2d(digit, sobel[:1], padding=P, stride=S, dilation=D)
    predicted = out_size(28, 3, P, S, D)
    print(f"{P:>8}{S:>8}{D:>10}{predicted:>10}{str(out.shape[2:]):>10}")
    assert out.shape[2:] == (predicted, predicted)
    results[(P, S, D)] = out.numpy()[0, 0]

fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), constrained_layout=True)
for ax, key in zip(axes, [(0, 1, 1), (1, 1, 1), (1, 2, 1), (0, 1, 2)]):
    img = results[key]
    ax.imshow(img, cmap="RdBu_r", vmin=-np.abs(img).max(), vmax=np.abs(img).max())
    ax.set_title(f"P={key[0]} S={key[1]} D={key[2]}: {img.shape[0]}x{img.shape[1]}")
    ax.set_xlabel("x"); ax.set_ylabel("y")


# %% [markdown]
# ## im2col: convolution as one matrix product
# Copy every window into a column: for a $C\times K_H\times K_W$ kernel and $O_H O_W$ positions,
# `col` is a $(C K_H K_W) \times (O_H O_W)$ matrix (per image; minitorch puts the whole batch
# side by side). Then the convolution is `W.reshape(OC, -1) @ col`: one GEMM, which BLAS (or
# cuBLAS) runs at near peak speed. The price is memory: each pixel is copied up to $K_H K_W$ times.
# Here is the 5×5 example's `col`: 9 rows (kernel taps), 9 columns (windows).

# %%
from minitorch.kernel_table import kernels_for   # the kernel F.conv2d uses: (C*KH*KW, N*OH*OW)
from minitorch.ops.geometry import Geometry2d

geom = Geometry2d(KH=3, KW=3, SH=1, SW=1, PH=0, PW=0, DH=1, DW=1, OH=3, OW=3)
col = kernels_for(X).im2col(X[None, None], geom)
print("col shape:", col.shape)
fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [9, 1.4]},
                             constrained_layout=True)
a0.imshow(col, cmap="Blues")
for (r, c), v in np.ndenumerate(col):
    a0.text(c, r, f"{v:g}", ha="center", va="center")
a0.set_xlabel("window (output position i*3 + j)"); a0.set_ylabel("kernel tap (u*3 + v)")
a0.set_title("im2col(X): each column is one 3x3 window, flattened")
a1.imshow(K.reshape(-1, 1), cmap="RdBu_r", vmin=-4, vmax=4)
for r, v in enumerate(K.ravel()):
    a1.text(0, r, f"{v:g}", ha="center", va="center")
a1.set_title("K flattened"); a1.set_xticks([]); a1.set_ylabel("kernel tap")

as_gemm = (K.reshape(1, -1) @ col).reshape(3, 3)
print("K (1x9) @ col (9x9) reshaped to 3x3:\n", as_gemm)
assert np.array_equal(as_gemm, by_loop)


# %% [markdown]
# ## Direct loops vs im2col + GEMM
# `F.conv2d_reference` is the definition: a Python loop over output positions, each a small
# tensordot over (channels, taps). `F.conv2d` is im2col + one GEMM. Both give the same numbers;
# we time forward + backward on LeNet's two convolution shapes, batch 64 (best of 3, after a
# warm-up call that compiles the numba kernels).

# %%
def best_time(fn, repeats=3):
    fn()  # warm-up (numba compilation on the first call)
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times)

mt.manual_seed(0)
cases = {"conv1 64x1x28x28, 6@5x5 pad 2": (mt.randn(64, 1, 28, 28), mt.randn(6, 1, 5, 5), 2),
         "conv2 64x6x14x14, 16@5x5": (mt.randn(64, 6, 14, 14), mt.randn(16, 6, 5, 5), 0)}
print(f"{'case':<32}{'direct loop':>13}{'im2col+GEMM':>13}{'speed-up':>10}")
for name, (xc, wc, pad) in cases.items():
    wc.requires_grad = True
    def run(conv):
        out = conv(xc, wc, padding=pad)
        out.sum().backward()
        return out
    assert np.allclose(run(F.conv2d_reference).detach().numpy(),
                       run(F.conv2d).detach().numpy(), atol=1e-4)   # same numbers
    t_ref = best_time(lambda: run(F.conv2d_reference))
    t_fast = best_time(lambda: run(F.conv2d))
    print(f"{name:<32}{1e3 * t_ref:>10.1f} ms{1e3 * t_fast:>10.1f} ms{t_ref / t_fast:>9.1f}x")


# %% [markdown]
# The reference loop is not naive: it vectorises over the batch and channels and loops only over
# the $O_H O_W$ positions, so the gap is smaller than for a pure-Python loop. The GEMM wins more
# as channels grow (more work per call, fewer Python steps), and on the GPU, where one large
# matrix product keeps thousands of cores busy.

# %% [markdown]
# ## Max pooling
# A 2×2 max pool with stride 2 keeps the largest value of each non-overlapping 2×2 block:
# it halves the resolution and makes the response tolerant to small shifts. Its gradient flows
# only to the position that won each max (on ties: the first in window order).

# %%
P = mt.tensor(np.array([[1, 4, 3, 3],
                        [2, 7, 1, 4],
                        [3, 6, 5, 1],
                        [2, 1, 4, 3]], dtype=np.float64)[None, None], requires_grad=True)
pooled = F.max_pool2d(P, kernel_size=2, stride=2)
print("pooled:\n", pooled.detach().numpy()[0, 0])
assert np.array_equal(pooled.detach().numpy()[0, 0], [[7, 4], [6, 5]])

pooled.sum().backward()
print("gradient of sum(pooled) w.r.t. the input (1 where a max won):\n", P.grad.numpy()[0, 0])
assert P.grad.numpy().sum() == 4


# %% [markdown]
# **Takeaways.** A conv layer is many dot products with one shared kernel; padding, stride and
# dilation only change which windows are taken, and the output size follows from the floor
# formula. im2col turns all windows into one matrix so the heavy lifting is a single GEMM.
# Pooling is a fixed, parameter-free downsampling whose gradient is a routing mask.
