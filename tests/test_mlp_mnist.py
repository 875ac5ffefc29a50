"""Accuracy test: an MLP trained on a slice of real MNIST must learn.

Setup: the 784-64-10 MLP ("fc64"), the first 20,000 training images (normalised), 2 epochs of
Adam (lr 1e-3, batch 64, seeded), scored on the first 2,000 test images.

Threshold 90%, justified by measurements on exactly this budget (not by this test's own output):
* a linear softmax classifier (no hidden layer) trained the same way in PyTorch reaches
  88.0-89.1% (3 seeds x 2 learning rates), so passing needs a working hidden layer: ReLU,
  backprop through two Linear layers, Adam, cross-entropy;
* the same MLP in PyTorch reaches 91.9-92.2% (3 seeds), and minitorch 90.6-92.7% over 12 seeds,
  so 90% leaves room for seed-to-seed spread without admitting a broken engine.
The first 2,000 test images are harder than the average (full-data MLPs score ~96-98% overall).
"""
import os
import time
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn.functional as F
from minitorch.data import MNIST, DataLoader, Subset

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (Path(os.environ.get("MINITORCH_DATA", "")) / "mnist").is_dir(),
    reason="real MNIST not found under MINITORCH_DATA")]


def test_mlp_learns_mnist():
    train = Subset(MNIST(train=True, normalize=True), np.arange(20000))
    test = Subset(MNIST(train=False, normalize=True), np.arange(2000))
    mt.manual_seed(0)
    model = mt.models.get_model("fc64")
    opt = mt.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train, batch_size=64, shuffle=True, generator=mt.Generator().manual_seed(0))

    start = time.perf_counter()
    epoch_losses = []
    for _ in range(2):
        model.train()
        losses = []
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        epoch_losses.append(np.mean(losses))
    seconds = time.perf_counter() - start

    model.eval()
    x, y = test.get_batch(np.arange(len(test)))
    with mt.no_grad():
        pred = model(mt.Tensor(x)).data.argmax(axis=1)
    accuracy = float(np.mean(pred == y))
    print(f"fc64, 2 epochs on 20k images: {seconds:.1f} s, test accuracy {100 * accuracy:.2f}%")
    assert epoch_losses[1] < epoch_losses[0] < np.log(10)  # below chance level, and falling
    assert accuracy >= 0.90, f"accuracy {accuracy:.4f} < 0.90 after 2 epochs (see docstring)"
