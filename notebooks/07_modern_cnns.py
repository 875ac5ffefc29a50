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
# # 7. Modern CNNs: 1x1 convolutions, Inception, residual connections, batch norm, augmentation, transfer
#
# The lectures go LeNet -> AlexNet -> VGG -> GoogLeNet -> ResNet and make five claims:
# 1x1 convolutions cut parameters, residual connections let the gradient reach every layer of
# a deep network, batch norm speeds training up, augmentation helps generalisation, and
# transfer learning cuts the labels a new task needs. Here each claim is checked on minitorch,
# on small slices of MNIST and Fashion-MNIST so that the whole notebook runs in about a
# minute on one CPU core. The full-size numbers (whole training sets, whole test sets) are in
# the README, from `python -m minitorch train --model ...`.

# %%
# %matplotlib inline
import time
import tempfile
from pathlib import Path

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
from minitorch import models, viz
from minitorch.augment import Augment
from minitorch.data import DataLoader, Subset
from minitorch.models.small import vgg_small
from minitorch.training import TrainConfig, build_model, fit, load_datasets
from minitorch.vision.models import Inception
from minitorch.zoo_data import balanced_subset, image_stats, labels_of

notebook_start, notebook_cpu = time.perf_counter(), time.process_time()


def n_params(module):
    return sum(p.numel() for p in module.parameters())

# %% [markdown]
# ## 1. 1x1 convolutions: mixing channels, cutting parameters
#
# A 1x1 convolution looks at one pixel at a time: at every position (h, w) it maps the
# C_in-vector of channel values to a C_out-vector with the same weight matrix. So it is a
# Linear layer applied at every pixel; the cell checks that by copying the conv's weights
# into an `nn.Linear` and applying it to the channels-last tensor.

# %%
x = mt.randn(2, 256, 14, 14)
conv1x1 = nn.Conv2d(256, 64, kernel_size=1)
linear = nn.Linear(256, 64)
with mt.no_grad():
    linear.weight.copy_(conv1x1.weight.reshape(64, 256))
    linear.bias.copy_(conv1x1.bias)
    per_pixel = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # Linear on (N, H, W, C)
    same = np.allclose(conv1x1(x).numpy(), per_pixel.numpy(), atol=1e-5)
print("1x1 conv == Linear at every pixel:", same)
assert same

# %% [markdown]
# Why that matters: a 3x3 convolution costs C_in * C_out * 9 weights, and as many
# mult-adds per output pixel. Put a 1x1 convolution in front that first *reduces* the
# channels (256 -> 64), do the 3x3 work at 64 channels, and expand back with another 1x1:
# that is the "bottleneck" of GoogLeNet's branches and of ResNet-50's blocks. The output
# has the same shape; `viz.summary` counts the parameters and the mult-adds (one
# multiply-accumulate; FLOPs are about twice that).

# %%
plain = nn.Conv2d(256, 256, 3, padding=1)
bottleneck = nn.Sequential(nn.Conv2d(256, 64, 1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1),
                           nn.ReLU(), nn.Conv2d(64, 256, 1))
cost = {}
for name, m in (("3x3 conv 256 -> 256", plain),
                ("1x1 256->64, 3x3 64->64, 1x1 64->256", bottleneck)):
    s = viz.summary(m, input_size=(1, 256, 14, 14))
    cost[name] = (n_params(m), s.total_macs)
    print(f"{name:38s} {n_params(m):>9,} parameters  {s.total_macs:>12,} mult-adds (14x14)")
(p_plain, m_plain), (p_bottle, m_bottle) = cost.values()
print(f"the bottleneck needs {p_plain / p_bottle:.1f}x fewer parameters, "
      f"{m_plain / m_bottle:.1f}x fewer mult-adds")
assert p_plain > 8 * p_bottle and m_plain > 8 * m_bottle

# %% [markdown]
# The saving is not free: the bottleneck squeezes the 256 channels through 64, so it can
# represent less than the full 3x3 conv. The bet of GoogLeNet and ResNet is that spending the
# saved budget on more layers buys more than it costs, and their results say it does.
#
# ## 2. An Inception block: four branches side by side
#
# GoogLeNet's `inception3a` (192 input channels) runs four branches on the same input and
# concatenates their outputs along the channels:
# - `branch1`: a 1x1 conv (64 channels), the pixel-wise features;
# - `branch2`: 1x1 down to 96, then 3x3 to 128, the mid-sized patterns;
# - `branch3`: 1x1 down to 16, then a larger receptive field to 32 channels. The paper has a
#   5x5 conv here; torchvision's (and so minitorch's) model has a 3x3, a known quirk kept
#   for weight compatibility;
# - `branch4`: 3x3 max-pool (stride 1, so the size stays), then a 1x1 to 32 channels.
#
# Every branch keeps the 8x8 spatial size (padding), which is what makes the concatenation
# possible: 64 + 128 + 32 + 32 = 256 channels.

# %%
block = Inception(192, 64, 96, 128, 16, 32, 32)
block.eval()
x = mt.randn(1, 192, 8, 8)
with mt.no_grad():
    widths = []
    for name in ("branch1", "branch2", "branch3", "branch4"):
        out = getattr(block, name)(x)
        widths.append(out.shape[1])
        print(f"{name}: {str(tuple(out.shape)):16s} {n_params(getattr(block, name)):>8,} parameters")
    print("concatenated:", tuple(block(x).shape))
assert tuple(block(x).shape) == (1, sum(widths), 8, 8) == (1, 256, 8, 8)
naive = nn.Conv2d(192, 256, 5, padding=2)
print(f"the whole block: {n_params(block):,} parameters; "
      f"a single 5x5 conv 192 -> 256 instead: {n_params(naive):,}")

# %% [markdown]
# The 1x1 reductions in front of the 3x3 branches (192 -> 96 and 192 -> 16) are where the
# block saves: with four kinds of receptive field it costs about an eighth of one plain 5x5
# convolution of the same output width.
#
# ## 3. Gradients in a deep plain net vs a ResNet
#
# He et al.'s CIFAR family, adapted to 1-channel 28x28 input: `plain56` and `resnet56` have
# the same 55 3x3 convolutions with batch norm, and the ResNet also adds each block's input
# to its output (`relu(bn2(conv2(...)) + x)`). After one backward pass at initialisation, on
# the same 16 Fashion-MNIST images, we look at the gradient norm of every convolution's
# weights, from the input side to the output side. The slope of that curve tells whether
# every layer gets a learning signal of a similar size.

# %%
train_set, test_set = load_datasets(TrainConfig(dataset="fashion-mnist"))
xb, yb = next(iter(DataLoader(train_set, batch_size=16, shuffle=True,
                              generator=mt.Generator().manual_seed(0))))


def conv_grad_norms(name):
    mt.manual_seed(0)
    model = models.get_model(name)
    F.cross_entropy(model(xb), yb).backward()
    return np.array([float(np.linalg.norm(m.weight.grad.numpy())) for m in model.modules()
                     if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)])


norms = {name: conv_grad_norms(name) for name in ("plain56", "resnet56")}
fig, ax = plt.subplots(figsize=(7, 3.2))
for name, g in norms.items():
    ax.semilogy(range(1, len(g) + 1), g, label=name)
ax.set_xlabel("3x3 conv layer (1 = next to the input)")
ax.set_ylabel("||dL/dW|| (log scale)")
ax.legend()
ax.set_title("Gradient norm per layer at initialisation")
plt.show()
spread = {name: g.max() / g.min() for name, g in norms.items()}
for name, g in norms.items():
    print(f"{name}: first layer {g[0]:.3g}, last {g[-1]:.3g}, largest/smallest {spread[name]:.3g}")
assert spread["plain56"] > 20 * spread["resnet56"]

# %% [markdown]
# Without shortcuts the backward pass multiplies the gradient by one layer's Jacobian after
# another, so its size drifts geometrically with depth. The textbook picture is *vanishing*
# gradients (sigmoids, no normalisation); with batch norm in every layer, as here, the plain
# net's gradient instead *grows* towards the input (a known effect of batch norm at
# initialisation, Yang et al. 2019), by about three orders of magnitude over 55 layers.
# Either way one learning rate cannot suit all layers. In the ResNet every block's output is
# `x + f(x)`, so the backward pass always has the identity path `dL/dx = dL/dout + ...`:
# the gradient's size stays within a factor of about 30 across the 55 layers instead of
# 3,000, every layer gets a usable signal, and the 56-layer ResNet trains where
# the 56-layer plain net (in He et al.'s Figure 1) trains worse than a 20-layer one.
#
# ## 4. Batch norm on and off
#
# The same small VGG (`vgg_small`: VGG-11's eight convolutions at an eighth of their width,
# 8 to 64 channels, no dropout so only one thing differs) with and without a BatchNorm after
# each convolution; same seed, same batches (`fit` draws them from `config.seed`), Adam at
# lr 3e-3, two epochs on 1,000 images. `on_step` collects each batch's training loss.

# %%
def bn_run(batch_norm):
    config = TrainConfig(dataset="fashion-mnist", epochs=2, batch_size=32, optimizer="adam",
                         lr=3e-3, limit_train=1000, limit_test=500, quiet=True)
    train, test = load_datasets(config)
    mt.manual_seed(0)
    model = vgg_small("A", batch_norm=batch_norm, width=0.125, hidden=64, dropout=0.0)
    losses = []
    history = fit(model, train, config, test_data=test, on_step=losses.append, out=None)
    return np.array(losses), history[-1]["test_acc"]


bn_runs = {bn: bn_run(bn) for bn in (False, True)}
fig, ax = plt.subplots(figsize=(7, 3.2))
for bn, (losses, acc) in bn_runs.items():
    label = f"{'with' if bn else 'without'} batch norm (test {100 * acc:.1f}%)"
    ax.plot(np.convolve(losses, np.ones(8) / 8, mode="valid"), label=label)
ax.set_xlabel("step"); ax.set_ylabel("training loss (8-step mean)"); ax.legend()
ax.set_title("VGG-11 layout, 1/8 width, on 1,000 Fashion-MNIST images")
plt.show()
late = {bn: losses[-20:].mean() for bn, (losses, _) in bn_runs.items()}
print(f"mean loss over the last 20 steps: without BN {late[False]:.3f}, with BN {late[True]:.3f}")
assert late[True] < late[False]

# %% [markdown]
# Batch norm re-centres and re-scales every channel over the batch, so each layer sees inputs
# of a stable scale however the layers before it move; the network can take larger steps
# without the activations drifting, and the loss falls sooner and more steadily (the run
# without it climbs back up for a while). After 64 steps both are far from trained; the
# test accuracies in the legend only say which one is ahead.
#
# ## 5. Augmentation, drawn
#
# `--augment` (`minitorch/augment.py`) names batched transforms that run on the training
# device, in order; each image of the batch gets its own random parameters from a seeded
# generator, so a resumed run draws the same ones. Augmentation shows the network a new
# variant of each training image every epoch: variations that do not change the label
# (a shirt moved by two pixels is still a shirt), so it learns to ignore them instead of
# memorising the exact pixels. Rows: the originals, then one spec each; `Augment` works on
# normalised batches and is told the dataset's mean and std so that padding is black.

# %%
images = mt.tensor(np.stack([train_set[i][0].numpy() for i in range(8)]))
specs = ["crop:4", "flip:1", "rotate:20", "scale:0.7:1.2", "noise:0.15",
         "crop:2,flip,rotate:10,noise:0.05"]
rows = [("original", images)] + [
    (s, Augment(s, *image_stats(train_set), mt.Generator().manual_seed(0))(images))
    for s in specs]
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 1.25 * len(rows)))
for r, (title, batch) in enumerate(rows):
    for c in range(8):
        axes[r, c].imshow(batch.numpy()[c, 0], cmap="gray")
        axes[r, c].axis("off")
    axes[r, 0].set_title(title, fontsize=8, loc="left")
plt.tight_layout()
plt.show()
assert not np.allclose(rows[1][1].numpy(), images.numpy())

# %% [markdown]
# Which transforms fit depends on the data: a horizontal flip keeps a shoe a shoe, but a
# vertical one would put it upside down, which never happens in Fashion-MNIST's test set;
# and on MNIST a flip turns some digits into others, so there `crop` and small rotations
# are the safe choices. The README's Fashion-MNIST rows use `--augment crop:2,flip`.
#
# ## 6. Transfer learning, both ways: feature extraction and fine-tuning
#
# The task: digits 5-9 from only 10 labelled images of each. The source: the lectures'
# SimpLeNet (conv 20, conv 50, fc 256, fc 10) trained on digits 0-4 (6,000 images, one
# epoch). Three ways to learn the new task, each the CLI's
# `--pretrained PATH [--freeze | --backbone-lr LR] --labels-per-class K`
# (`TrainConfig(pretrained=..., freeze=..., backbone_lr=...)` here):
# - **from scratch**: random weights, all 233,196 of them learnt from 50 images;
# - **feature extraction** (`freeze=True`): the pretrained layers stay exactly as they are and
#   only a new classification head (the last Linear, 2,570 weights) learns from their
#   256 features;
# - **fine-tuning** (`backbone_lr`): everything trains, starting from the pretrained weights,
#   the backbone at a tenth of the head's learning rate so that the few labels adjust the
#   features without wiping them out.
#
# The pretrained file's head is never loaded: the new task's classes are not the old one's.
# All three see the same 50 images in the same order and are tested on the same 500 digits.

# %%
mnist_train, mnist_test = load_datasets(TrainConfig(dataset="mnist"))
train_labels, test_labels = labels_of(mnist_train), labels_of(mnist_test)
source = Subset(mnist_train, np.flatnonzero(train_labels < 5)[:6000])
source_test = Subset(mnist_test, np.flatnonzero(test_labels < 5)[:1000])
few = balanced_subset(Subset(mnist_train, np.flatnonzero(train_labels >= 5)), 10, seed=0)
target_test = Subset(mnist_test, np.flatnonzero(test_labels >= 5)[:500])

workdir = Path(tempfile.mkdtemp())
pre_config = TrainConfig(model="simplenet", dataset="mnist", epochs=1, batch_size=64,
                         optimizer="adam", quiet=True,
                         save=str(workdir / "simplenet_0to4.safetensors"))
mt.manual_seed(0)
pre = fit(build_model(pre_config), source, pre_config, test_data=source_test, out=None)
print(f"source model: digits 0-4, test {100 * pre[-1]['test_acc']:.1f}%")

results = {}
for how, extra in (("from scratch", {}),
                   ("feature extraction", {"pretrained": pre_config.save, "freeze": True}),
                   ("fine-tuning", {"pretrained": pre_config.save, "backbone_lr": 1e-3})):
    config = TrainConfig(model="simplenet", dataset="mnist", epochs=12, batch_size=10,
                         optimizer="adam", lr=1e-2, quiet=True, **extra)
    mt.manual_seed(0)
    model = build_model(config)
    start_weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    history = fit(model, few, config, test_data=target_test, out=None)
    moved = [k for k, v in model.state_dict().items() if not np.array_equal(v.numpy(), start_weights[k])]
    results[how] = (np.array(history.column("test_acc")), trainable, moved)
for how, (acc, trainable, moved) in results.items():
    print(f"{how:20s} test {100 * acc[-1]:5.1f}% on 500 digits 5-9   "
          f"{trainable:>7,} trainable parameters; changed: "
          + (", ".join(moved) if len(moved) <= 2 else f"all {len(moved)} tensors"))
fig, ax = plt.subplots(figsize=(7, 3.2))
for how, (acc, _, _) in results.items():
    ax.plot(range(1, len(acc) + 1), 100 * acc, marker=".", label=how)
ax.set_xlabel("epoch (5 steps of 10 images)"); ax.set_ylabel("test accuracy, digits 5-9 (%)")
ax.legend(); ax.set_title("SimpLeNet, 10 labels per class")
plt.show()
# feature extraction really leaves the backbone alone: only the head's two tensors move
head = models.head_names(model)[0]
assert sorted(results["feature extraction"][2]) == [f"{head}.bias", f"{head}.weight"]
assert results["fine-tuning"][0][-1] > results["from scratch"][0][-1]

# %% [markdown]
# Fine-tuning wins: with 50 labels, the network trained from scratch has to find stroke
# detectors from almost nothing, while the pretrained one already has them from digits 0-4,
# which are written with the same strokes, and only has to adjust them. That is the whole
# argument for transfer learning: features learnt on a task with many labels are reused
# where labels are scarce.
#
# Feature extraction does no better than training from scratch here, and the reason is worth
# knowing: the frozen backbone includes the fully connected layer `fc 256`, whose features
# were trained for one thing only, telling 0-4 apart. The further a layer is from the input,
# the more specific to its task it gets (Yosinski et al. 2014, "How transferable are features
# in deep neural networks?"), so freezing *everything* but the head keeps features that a
# 5-9 classifier cannot use well. Feature extraction shines when the source task is large and
# varied (ImageNet's 1,000 classes) and the backbone ends in general features (a ResNet's
# pooled convolutions); it is also the cheap option: 2,570 trainable weights instead of
# 233,196. The README's transfer rows do the harder case, MNIST -> Fashion-MNIST (digits ->
# clothes, 100 labels per class) at full size over three seeds.
#
# ## 7. The zoo side by side
#
# Parameters and mult-adds per 28x28 image (`viz.summary`, one forward pass) for the zoo's
# small-input variants and two of the ImageNet layouts. `resnet18-cifar` is ResNet-18 with a
# CIFAR-style stem (a 3x3 stride-1 conv, no max-pool), so it keeps the full 28x28 resolution
# in its first stage: the same parameters as `resnet18`, 14x its compute.

# %%
zoo = ["lenet5", "vgg11-bn-mini", "resnet8", "plain20", "resnet20", "resnet18-cifar",
       "resnet18", "googlenet"]
sizes = {}
print(f"{'model':16s} {'parameters':>12s} {'mult-adds':>14s}")
for name in zoo:
    mt.manual_seed(0)
    s = viz.summary(models.get_model(name), input_size=(1, 1, 28, 28))
    sizes[name] = (s.total_params, s.total_macs)
    print(f"{name:16s} {s.total_params:>12,} {s.total_macs:>14,}")

# %% [markdown]
# Then accuracy and training speed of the three smallest, one epoch on the same 1,000
# Fashion-MNIST images and tested on 300 test images. On a slice this small the ranking
# says more about how fast each model starts learning than about where it ends; the README's
# full-size runs have the accuracies that matter (LeNet-5, VGG and ResNet, with and without
# augmentation). Note how the training speed follows the mult-adds, not the parameters:
# `resnet8` has an eighth of `vgg11-bn-mini`'s weights but 1.5x its compute, all of it in the
# 16-channel convolutions at full 28x28 resolution.

# %%
rows = []
for name in ("lenet5", "vgg11-bn-mini", "resnet8"):
    config = TrainConfig(model=name, dataset="fashion-mnist", epochs=1, batch_size=32,
                         optimizer="adam", limit_train=1000, limit_test=300, quiet=True)
    train, test = load_datasets(config)
    mt.manual_seed(0)
    history = fit(build_model(config), train, config, test_data=test, out=None)
    rows.append((name, history[-1]["test_acc"], history[-1]["images_per_s"],
                 history[-1]["seconds"]))
print(f"{'model':16s} {'parameters':>11s} {'mult-adds':>11s} {'test':>7s} {'img/s':>7s}")
for name, acc, speed, seconds in rows:
    params, macs = sizes[name]
    print(f"{name:16s} {params:>11,} {macs:>11,} {100 * acc:6.1f}% {speed:7.0f}")
print(f"notebook: {time.perf_counter() - notebook_start:.0f} s wall, "
      f"{time.process_time() - notebook_cpu:.0f} s CPU")
