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
# # 6. The same training on the GPU
#
# minitorch runs the same code on a GPU through CuPy: every op calls `xp = get_array_module(x)`
# and gets NumPy or CuPy, and the hot spots (im2col, col2im, pooling) have CUDA kernels. Moving a
# model is `model.to("cuda")`; the DataLoader puts batches on the device. This notebook trains
# LeNet-5 on the CPU and, when a GPU is present, on the GPU, and compares the times. Without a
# GPU it says so and shows the CPU numbers.

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


# %%
from minitorch.backend import cuda_unavailable_reason

HAS_GPU = mt.is_cuda_available()
devices = ["cpu", "cuda"] if HAS_GPU else ["cpu"]
print("GPU available:", HAS_GPU)
if not HAS_GPU:
    print("No GPU here:", cuda_unavailable_reason())
    print("Only the CPU numbers are shown; on a machine with an NVIDIA GPU and CuPy "
          "(pip install minitorch[cuda]) this notebook also times device='cuda'.")


# %%
# root=None: $MINITORCH_DATA, else ~/.cache/minitorch/data; download only fetches missing files.
train_full = mt.data.MNIST(root=None, train=True, download=True, normalize=True)
test_full = mt.data.MNIST(root=None, train=False, download=True, normalize=True)
print(train_full, test_full, sep="\n")


# %% [markdown]
# ## One epoch of LeNet-5 per device
# Same seed, same images, same batches. The first call on a device includes one-time costs (numba
# compiles the CPU kernels, NVRTC compiles the CUDA ones, CuPy allocates its memory pool), so each
# device gets a short warm-up first. GPU work is asynchronous: `train_one_epoch` returns the
# epoch's mean loss as a Python float, which waits for it, so the wall-clock time is honest.

# %%
from minitorch.data import DataLoader, Subset
from minitorch.training import evaluate, train_one_epoch

N_TRAIN, BATCH = 3000, 64
train_set, test_set = Subset(train_full, np.arange(N_TRAIN)), Subset(test_full, np.arange(2000))

def run_epoch(device):
    mt.manual_seed(0)
    model = mt.models.get_model("lenet5").to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train_set, batch_size=BATCH, shuffle=True,
                        generator=mt.Generator().manual_seed(0), device=device)
    warm = DataLoader(Subset(train_full, np.arange(2 * BATCH)), batch_size=BATCH, device=device)
    for xb, yb in warm:                   # warm-up: compile kernels, fill memory pools
        F.cross_entropy(model(xb), yb).backward()
    model.zero_grad()
    start = time.perf_counter()
    # notebook 3's loop (minitorch.training); its float results wait for the device
    loss, _ = train_one_epoch(model, loader, optimizer)
    seconds = time.perf_counter() - start
    test_acc = evaluate(model, DataLoader(test_set, batch_size=1000, device=device))["acc"]
    return {"device": device, "seconds": seconds, "img_per_s": N_TRAIN / seconds,
            "loss": loss, "test_acc": test_acc}

rows = [run_epoch(d) for d in devices]
print(f"{'device':<8}{'epoch (s)':>11}{'images/s':>11}{'mean loss':>11}{'test acc':>10}")
for r in rows:
    print(f"{r['device']:<8}{r['seconds']:>11.2f}{r['img_per_s']:>11.0f}{r['loss']:>11.4f}"
          f"{100 * r['test_acc']:>9.1f}%")
if HAS_GPU:
    print(f"GPU speed-up for this epoch: {rows[0]['seconds'] / rows[1]['seconds']:.1f}x")


# %% [markdown]
# ## Forward + backward time per batch size
# A GPU needs a lot of parallel work to be busy: at small batches the time is dominated by kernel
# launches and Python overhead, and the speed-up grows with the batch.

# %%
def step_time(device, batch, repeats=3):
    mt.manual_seed(0)
    model = mt.models.get_model("lenet5").to(device)
    x = mt.randn(batch, 1, 28, 28, device=device)
    y = mt.randint(0, 10, (batch,), device=device)
    times = []
    for i in range(repeats + 1):          # the first one is a warm-up
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        loss.item()
        if i:
            times.append(time.perf_counter() - start)
        model.zero_grad()
    return min(times)

batches = [16, 64, 256]
table = {d: [step_time(d, b) for b in batches] for d in devices}
print(f"{'batch':>6}" + "".join(f"{d + ' (ms)':>13}" for d in devices)
      + (f"{'speed-up':>10}" if HAS_GPU else ""))
for j, b in enumerate(batches):
    line = f"{b:>6}" + "".join(f"{1e3 * table[d][j]:>13.1f}" for d in devices)
    if HAS_GPU:
        line += f"{table['cpu'][j] / table['cuda'][j]:>9.1f}x"
    print(line)

fig, ax = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
for d in devices:
    ax.plot(batches, [b / t for b, t in zip(batches, table[d])], marker="o", label=d)
ax.set_xscale("log", base=2); ax.set_xlabel("batch size"); ax.set_ylabel("images / s (fwd+bwd)")
ax.set_title("LeNet-5 training-step throughput"); ax.legend(); ax.grid(alpha=0.3);


# %% [markdown]
# **Takeaways.** The code is identical on both devices; only where the arrays live changes. On a
# GPU the throughput keeps rising with the batch size, while a CPU is saturated early. For the
# command line: `python -m minitorch train --model lenet5 --device cuda`.
