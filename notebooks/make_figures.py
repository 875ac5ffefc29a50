"""Make the README pictures from a real (short) training run of LeNet-5 on MNIST.

    MINITORCH_DATA=/path/to/data python notebooks/make_figures.py [--out docs/img] [--train 12000]

Writes training_curves.png, filters.png, feature_maps.png, saliency.png and autograd_graph.png.
About a minute on a laptop CPU; every number in the pictures comes from this run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
try:
    import minitorch as mt
except ImportError:  # a clone without `pip install -e .`
    sys.path.insert(0, str(ROOT))
    import minitorch as mt
from minitorch import viz
from minitorch.data import Subset
from minitorch.training import TrainConfig, build_model, fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    parser.add_argument("--train", type=int, default=12000, help="training images")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_full = mt.data.MNIST(root=None, train=True, download=True, normalize=True)
    test_full = mt.data.MNIST(root=None, train=False, download=True, normalize=True)
    # The library's loop (minitorch/training.py, what `python -m minitorch train` runs: Adam
    # 1e-3 by default) on a training slice, validated on the end of the training split.
    config = TrainConfig(model="lenet5", epochs=args.epochs, batch_size=64, quiet=True)
    model = build_model(config)
    history = fit(model, Subset(train_full, np.arange(args.train)), config,
                  val_data=Subset(train_full, np.arange(55000, 57000)),
                  test_data=Subset(test_full, np.arange(5000)), eval_loss=True)

    def save(fig, name):
        fig.savefig(out / name, dpi=args.dpi)
        print(f"wrote {out / name}")

    save(viz.plot_training_curves(
        history, title=f"LeNet-5 on {args.train:,} MNIST images (Adam 1e-3, batch 64)"),
        "training_curves.png")
    save(viz.plot_filters(model[0], title="LeNet-5 conv1: the six learned 5x5 kernels"),
         "filters.png")

    test_x, test_y = test_full.get_batch(np.arange(16))
    with mt.no_grad():
        model.eval()
        pred = model(mt.tensor(test_x)).numpy().argmax(axis=1)
    save(viz.plot_feature_maps(model, test_x[0], "0",
                               title=f"conv1 feature maps of a test digit (label {test_y[0]})"),
         "feature_maps.png")
    picks = [0, 1, 2, 4]  # a 7, a 2, a 1 and a 4
    sal = np.stack([viz.saliency_map(model, test_x[i]) for i in picks])
    save(viz.plot_saliency(test_full.data[picks][:, None] / 255.0, sal,
                           titles=[f"label {test_y[i]}, predicted {pred[i]}" for i in picks],
                           title="saliency: |d class score / d pixel| of LeNet-5"),
         "saliency.png")

    W = mt.randn(2, 3, requires_grad=True)
    b = mt.randn(2, 1, requires_grad=True)
    x = mt.randn(3, 1)
    loss = ((mt.sigmoid(W @ x + b) - mt.tensor([[1.0], [0.0]])) ** 2).sum()
    save(viz.plot_graph(loss, {"W": W, "b": b, "L": loss},
                        title="autograd graph of L = sum((sigmoid(Wx + b) - t)^2)"),
         "autograd_graph.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
