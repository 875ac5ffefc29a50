"""``python -m minitorch train|eval``: train a registered model on (Fashion-)MNIST, evaluate a
checkpoint.

    python -m minitorch train --model fc256-fc256 --optimizer adam --epochs 5 --save mlp.safetensors
    python -m minitorch eval --checkpoint mlp.safetensors

A checkpoint (``mt.save``, safetensors) holds ``model`` (state_dict), ``optimizer`` and
``scheduler`` states, and ``meta``: the model's registry name and kwargs, the dataset, the
epoch, the metrics and the command-line arguments, which is all ``eval`` needs to rebuild it.

User errors (unknown model, missing data, bad checkpoint, CUDA unavailable) print one line and
exit with status 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from . import __version__
from .autograd import no_grad
from .backend import cuda_unavailable_reason, get_array_module, to_numpy
from .data import MNIST, DataLoader, FashionMNIST, Subset, random_split
from .data.mnist import DataError
from .models import UnknownModelError, available, get_model
from .serialization import SerializationError, load, save

DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
# Defaults where the optimizers' own (PyTorch's) defaults are no good for a first run.
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2,
              "adadelta": 1.0}
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
              "adagrad": "Adagrad", "adadelta": "Adadelta"}
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "plateau")


class CLIError(Exception):
    """A problem with the user's request: reported in one line, exit status 2."""


# --------------------------------------------------------------------------- arguments
def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m minitorch",
                                     description="Train and evaluate minitorch models.")
    parser.add_argument("--version", action="version", version=f"minitorch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on MNIST or Fashion-MNIST")
    t.add_argument("--model", default="mlp", type=str.lower,
                   help=f"registered model name: {', '.join(available())} (default mlp)")
    t.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    t.add_argument("--epochs", type=_positive_int, default=10)
    t.add_argument("--batch-size", type=_positive_int, default=128)
    t.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    t.add_argument("--lr", type=float, default=None,
                   help="learning rate (default per optimizer: " +
                   ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    t.add_argument("--momentum", type=float, default=None,
                   help="sgd / rmsprop momentum (default 0.9 for sgd, 0 for rmsprop)")
    t.add_argument("--weight-decay", type=float, default=None,
                   help="L2 penalty (decoupled for adamw); default: the optimizer's own")
    t.add_argument("--scheduler", default="none", choices=SCHEDULERS,
                   help="per-epoch learning-rate schedule")
    t.add_argument("--step-size", type=_positive_int, default=None,
                   help="step: epochs between decays (default epochs // 3)")
    t.add_argument("--milestones", type=str, default=None,
                   help="multistep: comma-separated epochs (default 50%%,75%% of epochs)")
    t.add_argument("--gamma", type=float, default=None,
                   help="decay factor (step/multistep/plateau 0.1, exponential 0.9)")
    t.add_argument("--plateau-patience", type=int, default=2,
                   help="plateau: epochs without improvement before the lr drops")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    t.add_argument("--data-root", default=None,
                   help="data directory (default $MINITORCH_DATA, else ~/.cache/minitorch/data)")
    t.add_argument("--no-download", action="store_true",
                   help="fail instead of downloading missing data files")
    t.add_argument("--val-split", type=_fraction, default=0.0,
                   help="fraction of the training set held out for validation")
    t.add_argument("--early-stopping", type=_positive_int, default=None, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without a better validation accuracy; "
                   "--save then keeps the best epoch (needs --val-split)")
    t.add_argument("--save", default=None, metavar="PATH", help="checkpoint file to write")
    t.add_argument("--limit-train", type=_positive_int, default=None, metavar="N",
                   help="use only the first N training images")
    t.add_argument("--limit-test", type=_positive_int, default=None, metavar="N",
                   help="use only the first N test images")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    e = sub.add_parser("eval", help="evaluate a checkpoint on the test set")
    e.add_argument("--checkpoint", required=True, metavar="PATH")
    e.add_argument("--dataset", default=None, choices=sorted(DATASETS),
                   help="default: the dataset the checkpoint was trained on")
    e.add_argument("--batch-size", type=_positive_int, default=1000)
    e.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    e.add_argument("--data-root", default=None)
    e.add_argument("--no-download", action="store_true")
    e.add_argument("--limit-test", type=_positive_int, default=None, metavar="N")
    return parser


# --------------------------------------------------------------------------- pieces
def _check_device(device: str) -> None:
    if device == "cuda":
        reason = cuda_unavailable_reason()
        if reason is not None:
            raise CLIError(f"--device cuda: {reason}")


def _first(dataset, n: int | None):
    return dataset if n is None or n >= len(dataset) else Subset(dataset, np.arange(n))


def make_optimizer(args, params):
    from . import optim
    kw = {"lr": args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]}
    if args.momentum is not None and args.optimizer not in ("sgd", "rmsprop"):
        raise CLIError(f"--momentum applies to sgd and rmsprop, not {args.optimizer}")
    if args.optimizer == "sgd":
        kw["momentum"] = 0.9 if args.momentum is None else args.momentum
    elif args.optimizer == "rmsprop" and args.momentum is not None:
        kw["momentum"] = args.momentum
    if args.weight_decay is not None:
        kw["weight_decay"] = args.weight_decay
    return getattr(optim, OPTIMIZERS[args.optimizer])(params, **kw)


def make_scheduler(args, optimizer, has_val: bool):
    from .optim import lr_scheduler as S
    name, epochs = args.scheduler, args.epochs
    if name == "none":
        return None
    if name == "step":
        return S.StepLR(optimizer, step_size=args.step_size or max(1, epochs // 3),
                        gamma=0.1 if args.gamma is None else args.gamma)
    if name == "multistep":
        if args.milestones:
            try:
                milestones = [int(m) for m in args.milestones.split(",")]
            except ValueError:
                raise CLIError(f"--milestones: expected comma-separated epochs, got "
                               f"{args.milestones!r}") from None
        else:
            milestones = sorted({max(1, epochs // 2), max(1, (3 * epochs) // 4)})
        return S.MultiStepLR(optimizer, milestones=milestones,
                             gamma=0.1 if args.gamma is None else args.gamma)
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.9 if args.gamma is None else args.gamma)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs)
    # plateau: watch validation accuracy when there is a validation set, else the train loss
    return S.ReduceLROnPlateau(optimizer, mode="max" if has_val else "min",
                               factor=0.1 if args.gamma is None else args.gamma,
                               patience=args.plateau_patience)


def predict(model, loader):
    """(predicted classes, true labels) as NumPy arrays, in eval mode without a graph."""
    model.eval()
    preds, labels = [], []
    with no_grad():
        for x, y in loader:
            preds.append(model(x).data.argmax(axis=1))
            labels.append(y.data)
    xp = get_array_module(*preds) if preds else np
    return (to_numpy(xp.concatenate(preds)).astype(np.int64),
            to_numpy(xp.concatenate(labels)).astype(np.int64))


def confusion_matrix(pred: np.ndarray, true: np.ndarray, k: int) -> np.ndarray:
    """counts[i, j] = how many images of class i were predicted as j."""
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def train_one_epoch(model, loader, optimizer, progress):
    """One pass over ``loader``; returns (mean loss, accuracy). The running sums stay on the
    batches' device (no host sync per batch)."""
    from .nn import functional as F
    model.train()
    loss_sum = correct = 0
    seen = 0
    for step, (x, y) in enumerate(loader):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = y.shape[0]
        loss_sum = loss_sum + loss.data * n
        correct = correct + (logits.data.argmax(axis=1) == y.data).sum()
        seen += n
        progress.update(1)
        if step % 20 == 0:
            progress.set_postfix(loss=f"{float(loss.data):.4f}", refresh=False)
    return float(loss_sum) / max(seen, 1), float(correct) / max(seen, 1)


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


# --------------------------------------------------------------------------- train
def _load_datasets(args, normalize=True):
    cls = DATASETS[args.dataset]
    kw = dict(root=args.data_root, download=not args.no_download, normalize=normalize)
    return cls(train=True, **kw), cls(train=False, **kw)


def run_train(args, out=None) -> int:
    from tqdm import tqdm

    from . import random as mt_random

    out = out or sys.stdout
    _check_device(args.device)
    if args.early_stopping is not None and args.val_split <= 0:
        raise CLIError("--early-stopping needs a validation set: pass --val-split FRACTION")
    mt_random.manual_seed(args.seed)  # weight init
    model = get_model(args.model)
    model.to(args.device)

    train_full, test_set = _load_datasets(args)
    train_pool = _first(train_full, args.limit_train)
    test_set = _first(test_set, args.limit_test)
    split_gen = mt_random.Generator().manual_seed(args.seed)
    val_set = None
    if args.val_split > 0:
        n_val = max(1, int(round(len(train_pool) * args.val_split)))
        train_set, val_set = random_split(train_pool, [len(train_pool) - n_val, n_val],
                                          generator=split_gen)
    else:
        train_set = train_pool
    shuffle_gen = mt_random.Generator().manual_seed(args.seed + 1)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              generator=shuffle_gen, device=args.device)
    eval_kw = dict(batch_size=1000, device=args.device)
    val_loader = DataLoader(val_set, **eval_kw) if val_set is not None else None
    test_loader = DataLoader(test_set, **eval_kw)

    optimizer = make_optimizer(args, model.parameters())
    scheduler = make_scheduler(args, optimizer, has_val=val_set is not None)
    print(f"{args.model} on {args.dataset}: {len(train_set)} train"
          + (f", {len(val_set)} val" if val_set is not None else "")
          + f", {len(test_set)} test images; {args.optimizer} lr {_lr(optimizer):g}, "
          f"batch {args.batch_size}, {args.epochs} epochs, device {args.device}", file=out)

    meta = {"model": args.model, "model_kwargs": {}, "dataset": args.dataset, "normalize": True,
            "minitorch_version": __version__, "args": vars(args)}
    best_val, since_best, history = -1.0, 0, []
    for epoch in range(1, args.epochs + 1):
        lr = _lr(optimizer)
        start = time.perf_counter()
        with tqdm(total=len(train_loader), desc=f"epoch {epoch}/{args.epochs}", unit="batch",
                  leave=False, disable=args.quiet, file=sys.stderr) as bar:
            loss, train_acc = train_one_epoch(model, train_loader, optimizer, bar)
        seconds = time.perf_counter() - start
        metrics = {"epoch": epoch, "train_loss": loss, "train_acc": train_acc, "lr": lr,
                   "seconds": seconds, "images_per_s": len(train_set) / seconds}
        if val_loader is not None:
            metrics["val_acc"] = float(np.mean(np.equal(*predict(model, val_loader))))
        metrics["test_acc"] = float(np.mean(np.equal(*predict(model, test_loader))))
        history.append(metrics)
        print(f"epoch {epoch}/{args.epochs}  loss {loss:.4f}  train {100 * train_acc:.2f}%"
              + (f"  val {100 * metrics['val_acc']:.2f}%" if val_loader is not None else "")
              + f"  test {100 * metrics['test_acc']:.2f}%  {seconds:.1f} s  "
              f"{metrics['images_per_s']:.0f} img/s  lr {lr:g}", file=out)

        improved = val_loader is not None and metrics["val_acc"] > best_val
        if improved:
            best_val, since_best = metrics["val_acc"], 0
        else:
            since_best += 1
        # Keep the best epoch when early stopping watches validation, else the latest one.
        if args.save and (args.early_stopping is None or improved):
            checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "meta": {**meta, "epoch": epoch, "metrics": metrics,
                                   "history": history}}
            if scheduler is not None:
                checkpoint["scheduler"] = scheduler.state_dict()
            save(checkpoint, args.save)
        if scheduler is not None:
            if args.scheduler == "plateau":
                scheduler.step(metrics["val_acc"] if val_loader is not None else loss)
            else:
                scheduler.step()
        if args.early_stopping is not None and since_best >= args.early_stopping:
            print(f"early stopping: no better validation accuracy for {since_best} epochs "
                  f"(best {100 * best_val:.2f}%)", file=out)
            break
    if args.save:
        print(f"saved checkpoint to {args.save}", file=out)
    return 0


# --------------------------------------------------------------------------- eval
def run_eval(args, out=None) -> int:
    out = out or sys.stdout
    _check_device(args.device)
    checkpoint = load(args.checkpoint)
    if not isinstance(checkpoint, dict) or "meta" not in checkpoint or "model" not in checkpoint:
        raise CLIError(f"{args.checkpoint} is a safetensors file but not a minitorch training "
                       "checkpoint (no 'model' and 'meta' entries)")
    meta = checkpoint["meta"]
    model = get_model(meta["model"], **meta.get("model_kwargs", {}))
    model.load_state_dict(checkpoint["model"])
    model.to(args.device)
    dataset = args.dataset or meta["dataset"]
    cls = DATASETS[dataset]
    test_set = _first(cls(root=args.data_root, train=False, download=not args.no_download,
                          normalize=meta.get("normalize", True)), args.limit_test)
    pred, true = predict(model, DataLoader(test_set, batch_size=args.batch_size,
                                           device=args.device))
    k = len(cls.classes)
    cm = confusion_matrix(pred, true, k)
    print(f"{meta['model']} (epoch {meta.get('epoch')}) on {dataset}: {len(true)} test "
          f"images, accuracy {100 * np.mean(pred == true):.2f}%", file=out)
    print("per-class accuracy:", file=out)
    for c in range(k):
        total = cm[c].sum()
        acc = f"{100 * cm[c, c] / total:6.2f}%" if total else "    n/a"
        print(f"  {c}  {cls.classes[c]:<12} {acc}  ({cm[c, c]}/{total})", file=out)
    print("confusion matrix (rows: true class, columns: predicted):", file=out)
    width = max(5, len(str(cm.max())) + 1)
    print("     " + "".join(f"{c:>{width}}" for c in range(k)), file=out)
    for c in range(k):
        print(f"  {c:>2} " + "".join(f"{v:>{width}}" for v in cm[c]), file=out)
    return 0


# --------------------------------------------------------------------------- entry point
def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage + the error (or --help)
        return int(exc.code or 0)
    try:
        return run_train(args) if args.command == "train" else run_eval(args)
    except (CLIError, DataError, SerializationError, UnknownModelError,
            FileNotFoundError) as exc:
        print(f"minitorch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left; exit quietly (Python docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
