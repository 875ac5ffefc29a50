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
# # 4. What CNNs learn
#
# A trained network is not a black box: its first-layer kernels are small images, its feature
# maps show what each channel responds to, and the gradient of a class score with respect to the
# input (a *saliency map*) shows which pixels the decision depends on. We train LeNet-5 briefly
# (the notebook must work from a fresh clone, so no checkpoint is assumed) and look inside.

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
# root=None: $MINITORCH_DATA, else ~/.cache/minitorch/data; download only fetches missing files.
train_full = mt.data.MNIST(root=None, train=True, download=True, normalize=True)
test_full = mt.data.MNIST(root=None, train=False, download=True, normalize=True)
print(train_full, test_full, sep="\n")


# %%
from minitorch.data import DataLoader, Subset
from minitorch.training import train_one_epoch

mt.manual_seed(0)
model = mt.models.get_model("lenet5")
initial_conv1 = model[0].weight.detach().numpy().copy()     # to compare with after training
optimizer = optim.Adam(model.parameters(), lr=2e-3)
loader = DataLoader(Subset(train_full, np.arange(5000)), batch_size=64, shuffle=True,
                    generator=mt.Generator().manual_seed(0))
start = time.perf_counter()
loss, acc = train_one_epoch(model, loader, optimizer)  # the loop of notebook 3 (cross-entropy)
print(f"1 epoch on 5,000 images: {time.perf_counter() - start:.0f} s, mean training loss "
      f"{loss:.3f}, training accuracy {100 * acc:.1f}%")

test_x, test_y = test_full.get_batch(np.arange(1000))
with mt.no_grad():
    model.eval()
    test_pred = model(mt.tensor(test_x)).numpy().argmax(axis=1)
print(f"test accuracy on 1,000 images: {100 * (test_pred == test_y).mean():.1f}%")


# %% [markdown]
# ## First-layer filters
# conv1 has six 5×5 kernels looking at the raw pixels. Red weights add the pixel, blue ones
# subtract it; a red band next to a blue band is an **edge detector** at that orientation, the
# same idea as the Sobel kernels of notebook 2, but learned. Before training they are noise.

# %%
viz.plot_filters(initial_conv1, title="conv1 kernels at initialisation (random)")


# %%
viz.plot_filters(model[0], title="conv1 kernels after one epoch")


# %% [markdown]
# ## Feature maps
# The output of a layer for one image: one map per channel. conv1's maps (module `"0"`) are the
# digit filtered by each kernel: each highlights edges of one orientation (red: the kernel
# matches, blue: the opposite contrast, which the ReLU then discards). conv2's maps (module
# `"3"`) are 10×10 and combine conv1's channels into stroke parts and corners.

# %%
image, label = test_x[0], int(test_y[0])
fig, ax = plt.subplots(figsize=(2.5, 2.5), constrained_layout=True)
ax.imshow(test_full.data[0], cmap="gray_r"); ax.set_title(f"input: a {label}")
ax.set_xlabel("x (px)"); ax.set_ylabel("y (px)")
viz.plot_feature_maps(model, image, "0")


# %%
viz.plot_feature_maps(model, image, "3")


# %%
viz.plot_feature_maps(model, image, model[-1], title="the 10 class scores (logits) for this digit")


# %% [markdown]
# ## Saliency maps
# $S_{hw} = \max_c\, \lvert \partial\, \text{score}_k / \partial x_{chw} \rvert$ (Simonyan et al.,
# 2014): how strongly a small change of each pixel would move the score of class $k$ (the
# predicted one). One backward pass gives it. The bright pixels sit on and right next to the
# strokes that distinguish the digit, e.g. the gap that makes a 4 not a 9.

# %%
picks = [0, 1, 2, 3, 4]
sal = np.stack([viz.saliency_map(model, test_x[i]) for i in picks])
titles = [f"label {test_y[i]}, predicted {test_pred[i]}" for i in picks]
assert sal.shape == (len(picks), 28, 28) and (sal >= 0).all()
viz.plot_saliency(test_full.data[picks][:, None] / 255.0, sal, titles=titles)


# %% [markdown]
# The saliency depends on the class asked about. For the same digit, the gradient of *another*
# class's score shows which pixels would have to change to make the network say that class.

# %%
i = 0
others = [int(test_pred[i]), (int(test_pred[i]) + 1) % 10, (int(test_pred[i]) + 5) % 10]
maps = np.stack([viz.saliency_map(model, test_x[i], target=k) for k in others])
viz.plot_saliency(np.repeat(test_full.data[i:i + 1, None] / 255.0, 3, axis=0), maps,
                  titles=[f"score of class {k}" for k in others],
                  title="one digit, three target classes")


# %% [markdown]
# **Takeaways.** Learned first-layer kernels are oriented edge detectors; deeper maps respond to
# combinations of edges; the saliency map localises the evidence for a class. All three come
# straight from the tensors: the weights, a forward hook, one backward pass.
