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
# # 5. Optimizers and regularisation
#
# Part 1 trains the same network from the same initial weights, on the same batches, with five
# optimizers. Part 2 makes a network overfit a small training set, then tries the standard
# remedies: dropout, weight decay, batch normalisation and early stopping. Small MLPs keep every
# run to a few seconds.

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
from minitorch.data import Subset
from minitorch.training import TrainConfig, fit

val_set = Subset(train_full, np.arange(55000, 56000))

def train(model, optimizer, train_set, epochs, early_stopping=None):
    """minitorch.training.fit, quietly: the per-epoch history (with the validation loss) and
    every step's training loss. Seed 0 for every run: the same batches in the same order.
    ``early_stopping``: stop after that many epochs without a better validation accuracy."""
    config = TrainConfig(epochs=epochs, batch_size=64, early_stopping=early_stopping, quiet=True)
    steps = []
    history = fit(model, train_set, config, val_data=val_set, optimizer=optimizer,
                  eval_loss=True, on_step=steps.append, out=None)
    if history.stopped_early:
        print(f"early stop after epoch {len(history)}: no better val accuracy for "
              f"{early_stopping} epochs")
    return history, steps


# %% [markdown]
# ## Part 1: five optimizers, one network
# With gradient $g$ and learning rate $\eta$:
# - **SGD**: $w \leftarrow w - \eta g$.
# - **Momentum**: $v \leftarrow \mu v + g,\ w \leftarrow w - \eta v$: a velocity that averages
#   gradients, faster along consistent directions, damped across oscillating ones.
# - **Nesterov**: momentum with the step taken from the look-ahead point ($w - \eta\mu v$).
# - **RMSprop**: divide by a running RMS of the gradient, a per-weight learning rate.
# - **Adam**: momentum plus RMSprop, with bias correction of both running averages.
#
# Same initial weights (a saved state_dict), same batch order, 2 epochs of 4,000 images.

# %%
train_small = Subset(train_full, np.arange(4000))
mt.manual_seed(0)
init = {k: v.numpy().copy() for k, v in mt.models.MLP(hidden=(128,)).state_dict().items()}
make = {"SGD lr 0.05": lambda p: optim.SGD(p, lr=0.05),
        "momentum 0.9": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
        "Nesterov 0.9": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        "RMSprop lr 1e-3": lambda p: optim.RMSprop(p, lr=1e-3),
        "Adam lr 1e-3": lambda p: optim.Adam(p, lr=1e-3)}
runs = {}
for name, make_opt in make.items():
    model = mt.models.MLP(hidden=(128,))
    model.load_state_dict(init)
    start = time.perf_counter()
    history, steps = train(model, make_opt(model.parameters()), train_small, epochs=2)
    runs[name] = (history, steps)
    print(f"{name:<16} val acc {100 * history[-1]['val_acc']:.1f}%  "
          f"val loss {history[-1]['val_loss']:.3f}  ({time.perf_counter() - start:.1f} s)")


# %%
fig, ax = plt.subplots(figsize=(9, 4), constrained_layout=True)
for name, (_, steps) in runs.items():
    smooth = np.convolve(steps, np.ones(10) / 10, mode="valid")
    ax.plot(np.arange(10, len(steps) + 1), smooth, label=name)
ax.set_xlabel("step (batch of 64)"); ax.set_ylabel("training loss (10-step average)")
ax.set_yscale("log"); ax.set_title("the same MLP 784-128-10, five optimizers"); ax.legend();


# %% [markdown]
# Plain SGD is clearly the slowest. Momentum and Nesterov, at the *same* learning rate, descend
# much faster: the velocity accumulates the consistent part of the gradient. RMSprop and Adam get
# to similar losses with their usual learning rate of 1e-3 and no tuning. The order among the
# fast four depends on the learning rates chosen: change them and rerun (a fair comparison tunes
# each optimizer's rate; well-tuned SGD with momentum often generalises as well as Adam).
#
# ## Part 2: overfitting, and what to do about it
# Train an MLP with 270k parameters (784-256-256-10) on only **500** images for 30 epochs: it
# can memorise them. The training loss goes to ~0 while the validation loss turns around and
# rises: the network fits the noise of its small training set.

# %%
tiny = Subset(train_full, np.arange(500))
EPOCHS = 30

def mlp(dropout=0.0, batch_norm=False):
    mt.manual_seed(0)
    if not batch_norm:
        return mt.models.MLP(hidden=(256, 256), dropout=dropout)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(),
                         nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))

def sgd(model, weight_decay=0.0):
    return optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=weight_decay)

results = {}
start = time.perf_counter()
model = mlp()
results["baseline"] = train(model, sgd(model), tiny, EPOCHS)[0]
print(f"baseline: {time.perf_counter() - start:.1f} s")
viz.plot_training_curves(results["baseline"], title="784-256-256-10 on 500 images: overfitting")


# %% [markdown]
# Three remedies, each a one-line change:
# - **Dropout** ($p=0.5$ after each hidden layer): every step trains a random half-network, so no
#   unit can rely on a specific other one; at test time all units are used (inverted dropout
#   already scaled the training activations by $1/(1-p)$).
# - **Weight decay** (L2, $\lambda = 5\cdot 10^{-3}$): adds $\lambda w$ to every gradient,
#   pulling weights toward 0: smaller weights, smoother functions.
# - **Batch normalisation**: standardises each hidden unit over the batch, then rescales it with
#   learned $\gamma, \beta$. It mainly makes optimisation easier; its batch-dependent noise is a
#   mild regulariser.
# - **Early stopping**: stop when the validation accuracy has not improved for a while (here: 5
#   epochs); the weights to keep are the best epoch's (`fit` with `save=PATH` writes that
#   epoch's checkpoint, not the last one).

# %%
start = time.perf_counter()
model = mlp(dropout=0.5)
results["dropout 0.5"] = train(model, sgd(model), tiny, EPOCHS)[0]
model = mlp()
results["weight decay 5e-3"] = train(model, sgd(model, weight_decay=5e-3), tiny, EPOCHS)[0]
model = mlp(batch_norm=True)
results["batch norm"] = train(model, sgd(model), tiny, EPOCHS)[0]
model = mlp()
results["early stopping"] = train(model, sgd(model), tiny, EPOCHS, early_stopping=5)[0]
print(f"four more runs: {time.perf_counter() - start:.1f} s")


# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
for name, history in results.items():
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h["train_loss"] for h in history], label=name)
    axes[1].plot(epochs, [h["val_loss"] for h in history], label=name)
    axes[2].plot(epochs, [100 * h["val_acc"] for h in history], label=name)
stopped = results["early stopping"]
best_epoch = stopped.best("val_acc")["epoch"]
lowest = min(h["val_loss"] for history in results.values() for h in history)
axes[1].set_ylim(0.8 * lowest, 2.0 * lowest)   # zoom in on where the curves part ways
for ax in axes[1:]:
    ax.axvline(best_epoch, color="0.5", ls="--", lw=1)
axes[1].text(best_epoch, axes[1].get_ylim()[1], " early stopping keeps\n this epoch",
             va="top", fontsize=8)
axes[0].set_yscale("log"); axes[0].set_ylabel("training loss (log scale)")
axes[0].set_title("training loss: how well it fits the 500 images")
axes[1].set_ylabel("validation loss"); axes[1].set_title("validation loss: how well it generalises")
axes[2].set_ylabel("validation accuracy (%)"); axes[2].set_title("validation accuracy")
for ax in axes:
    ax.set_xlabel("epoch"); ax.legend(fontsize=8); ax.grid(alpha=0.3)

print(f"{'run':<20}{'epochs':>7}{'final train loss':>18}{'final val loss':>16}{'best val acc':>14}")
for name, history in results.items():
    print(f"{name:<20}{len(history):>7}{history[-1]['train_loss']:>18.4f}"
          f"{history[-1]['val_loss']:>16.3f}{100 * max(h['val_acc'] for h in history):>13.1f}%")


# %% [markdown]
# Read the plots together. The baseline drives its training loss toward zero while its
# validation loss bottoms out after a few epochs and then creeps up: it is memorising. Dropout and
# weight decay keep the training loss well above zero (they make fitting harder on purpose);
# compare their validation curves and the table with the baseline's. On 500 images the gains
# are small, a percent or a few hundredths of loss, and not every remedy wins on every metric.
# Batch normalisation mostly speeds training up. Early stopping ends the run five epochs after
# the dashed epoch, its best validation accuracy, and keeps that epoch's weights (with `save=`),
# whatever happens later. More data remains the best regulariser.
