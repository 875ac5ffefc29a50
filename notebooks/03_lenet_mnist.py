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
# # 3. LeNet-5 on MNIST
#
# LeNet-5 (LeCun et al., 1998) in its modern form: two convolution + ReLU + max-pool stages
# extract features, three fully connected layers classify them. We train it on a slice of MNIST
# (7,000 images, 2 epochs: a couple of minutes on a laptop CPU), plot the learning curves, and
# look at what it still gets wrong.

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


# %% [markdown]
# ## Data: a training slice, a validation slice, a test slice
# Images are standardised with the training set's mean and std (`normalize=True`). The validation
# images come from the end of the training split, so they are never trained on; the test set is
# touched once, at the end.

# %%
from minitorch.data import DataLoader, Subset

train_set = Subset(train_full, np.arange(0, 7000))
val_set = Subset(train_full, np.arange(55000, 56000))
test_set = Subset(test_full, np.arange(0, 2000))

fig, axes = plt.subplots(2, 8, figsize=(12, 3.4), constrained_layout=True)
for i, ax in enumerate(axes.ravel()):
    ax.imshow(train_full.data[i], cmap="gray_r"); ax.set_title(f"label {train_full.targets[i]}")
    ax.set_xticks([]); ax.set_yticks([])
fig.suptitle("the first MNIST training images (28x28 greyscale)");


# %% [markdown]
# ## The network
# Shapes for one 28×28 digit: conv 6@5×5 (pad 2) → 6×28×28 → pool → 6×14×14 → conv 16@5×5 →
# 16×10×10 → pool → 16×5×5 = 400 features → 120 → 84 → 10 class scores (logits; the
# cross-entropy loss applies the softmax).

# %%
mt.manual_seed(0)
model = mt.models.get_model("lenet5")
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))


# %% [markdown]
# ## Training
# The loop is the whole algorithm. For every batch `xb, yb` of a shuffled pass over the data:
#
# ```python
# logits = model(xb)                   # forward
# loss = F.cross_entropy(logits, yb)   # how wrong
# optimizer.zero_grad()                # forget the last batch's gradients
# loss.backward()                      # d loss / d every parameter
# optimizer.step()                     # move every parameter a little downhill
# ```
#
# It is written out once, in `minitorch.training` (`train_one_epoch` in
# minitorch/training.py); `fit` adds the bookkeeping around it: batches, an evaluation after
# every epoch, one line per epoch, optionally checkpoints and early stopping. The command line
# (`python -m minitorch train`) runs the same code. Adam with learning rate 1e-3 needs no
# tuning here.

# %%
from minitorch.training import TrainConfig, confusion_matrix, evaluate, fit, predict

config = TrainConfig(model="lenet5", epochs=2, batch_size=64, quiet=True)
optimizer = optim.Adam(model.parameters(), lr=1e-3)
step_losses = []  # fit hands every batch's loss to on_step: the per-step curve below
start = time.perf_counter()
history = fit(model, train_set, config, val_data=val_set, optimizer=optimizer, eval_loss=True,
              on_step=step_losses.append)
print(f"training took {time.perf_counter() - start:.0f} s")


# %%
fig, ax = plt.subplots(figsize=(8, 3.2), constrained_layout=True)
steps = np.arange(1, len(step_losses) + 1)
ax.plot(steps, step_losses, alpha=0.35, label="per batch")
smooth = np.convolve(step_losses, np.ones(10) / 10, mode="valid")
ax.plot(steps[9:], smooth, label="moving average (10 batches)")
ax.set_xlabel("step (batch of 64)"); ax.set_ylabel("cross-entropy loss"); ax.set_yscale("log")
ax.set_title("training loss per step"); ax.legend()
viz.plot_training_curves(history, title="LeNet-5, 7,000 MNIST images")


# %% [markdown]
# ## Test accuracy and the confusion matrix
# Entry $(i, j)$ counts test digits of class $i$ predicted as $j$; the diagonal is what is right.
# The off-diagonal cells show *which* confusions the model makes (4↔9, 3↔5, 7↔2 are typical).

# %%
test_loader = DataLoader(test_set, batch_size=500)
pred, true = predict(model, test_loader)  # eval mode, no graph
test_acc = float((pred == true).mean())
test_loss = evaluate(model, test_loader, F.cross_entropy)["loss"]
print(f"test accuracy on {len(true)} images: {100 * test_acc:.2f}%  (loss {test_loss:.4f})")
assert test_acc > 0.9, "LeNet-5 should pass 90% after 2 epochs on 7,000 images"

cm = confusion_matrix(pred, true, 10)
fig, ax = plt.subplots(figsize=(6, 5.2), constrained_layout=True)
im = ax.imshow(cm, cmap="Blues", norm=plt.matplotlib.colors.LogNorm(vmin=1, vmax=cm.max()))
for (i, j), v in np.ndenumerate(cm):
    if v:
        ax.text(j, i, v, ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 3 else "black")
ax.set_xticks(range(10)); ax.set_yticks(range(10))
ax.set_xlabel("predicted class"); ax.set_ylabel("true class")
ax.set_title(f"confusion matrix, test accuracy {100 * test_acc:.1f}%")
fig.colorbar(im, ax=ax, label="count (log scale)");


# %% [markdown]
# ## What it gets wrong
# The misclassified test digits, with the model's confidence (softmax probability of its
# prediction). Many are ambiguous even to a human; some are plain mistakes that more data and
# epochs fix.

# %%
wrong = np.flatnonzero(pred != true)
images = test_full.data[:len(true)]
with mt.no_grad():
    model.eval()
    probs = F.softmax(model(mt.tensor(test_full._images(images[wrong]))), dim=1).numpy()
n = min(len(wrong), 24)
cols = 8
fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(12, 1.8 * ((n + cols - 1) // cols) + 0.4),
                         constrained_layout=True, squeeze=False)
for ax in axes.ravel():
    ax.set_axis_off()
for k, (ax, i) in enumerate(zip(axes.ravel(), wrong[:n])):
    ax.imshow(images[i], cmap="gray_r")
    ax.set_title(f"true {true[i]}, pred {pred[i]}\n({100 * probs[k, pred[i]]:.0f}% sure)", fontsize=9)
fig.suptitle(f"{len(wrong)} of {len(true)} test digits misclassified (first {n} shown)");


# %% [markdown]
# **Takeaways.** A 62k-parameter CNN passes 90% after two passes over 7,000 images. The
# validation curve tracks the training curve (no overfitting yet); the remaining errors
# concentrate on a few visually similar pairs. Training on all 60,000 images for a few epochs
# (`python -m minitorch train --model lenet5`) reaches ~99%.
