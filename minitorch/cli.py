"""``python -m minitorch train|eval``: train a registered model on (Fashion-)MNIST, evaluate a
checkpoint.

    python -m minitorch train --model fc256-fc256 --optimizer adam --epochs 5 --save mlp.safetensors
    python -m minitorch eval --checkpoint mlp.safetensors

A checkpoint (``mt.save``, safetensors) holds ``model`` (state_dict), ``optimizer`` and
``scheduler`` states, and ``meta``: the model's registry name and kwargs, the dataset, the
epoch, the metrics and the command-line arguments, which is all ``eval`` needs to rebuild it.

Crash-safe training: ``--checkpoint-dir DIR [--checkpoint-every N]`` writes a resumable
checkpoint (minitorch/checkpoint.py) at every epoch end and every N optimizer steps; after a
crash, the same command plus ``--resume DIR`` continues from the newest one and ends with
weights bit-identical to an uninterrupted run. ``--detect-anomaly`` stops at the first op that
produces NaN/Inf.

The training itself is minitorch/training.py (a library: ``TrainConfig``, ``fit``...); this
file only parses flags into a ``TrainConfig`` (one field per ``train`` flag) and prints.

User errors (unknown model, missing data, bad checkpoint, CUDA unavailable) print one line and
exit with status 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__
from .autograd import AnomalyError
from .backend import cuda_unavailable_reason
from .checkpoint import CheckpointDir, CheckpointError, unreadable_reason
from .data import DataLoader
from .data.mnist import DataError
from .models import UnknownModelError, available
from .serialization import SerializationError, load
from .training import (DATASETS, DEFAULT_LR, OPTIMIZERS, SCHEDULERS, ConfigError, TrainConfig,
                       build_model, confusion_matrix, first, fit, load_datasets,
                       model_from_checkpoint, predict)

__all__ = ["main", "build_parser", "config_from_args", "confusion_matrix"]


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

    t = sub.add_parser("train", help="train a model on MNIST, Fashion-MNIST or CIFAR-10")
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
    t.add_argument("--plot", action="store_true",
                   help="also write the training curves (loss and accuracy per epoch) as a PNG "
                   "next to the --save checkpoint: PATH without its suffix + _curves.png "
                   "(needs matplotlib: pip install minitorch[viz])")
    t.add_argument("--limit-train", type=_positive_int, default=None, metavar="N",
                   help="use only the first N training images")
    t.add_argument("--limit-test", type=_positive_int, default=None, metavar="N",
                   help="use only the first N test images")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                   help="write resumable checkpoints (model, optimizer, scheduler, data order, "
                   "random states) into DIR at the end of every epoch")
    t.add_argument("--checkpoint-every", type=_positive_int, default=None, metavar="N",
                   help="also checkpoint every N optimizer steps (needs --checkpoint-dir)")
    t.add_argument("--keep-checkpoints", type=_positive_int, default=2, metavar="K",
                   help="keep the K newest checkpoints in DIR (default 2: latest and previous)")
    t.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the run whose checkpoints are in DIR (same arguments as the "
                   "interrupted command); the result is bit-identical to an uninterrupted run")
    t.add_argument("--detect-anomaly", action="store_true",
                   help="stop at the first op whose forward or backward gives NaN/Inf, naming "
                   "it and its shapes (slower)")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training over MPI ranks (automatic under mpirun -n N); "
                   "--batch-size stays the global batch, so the result matches one process")
    t.add_argument("--augment", default=None, metavar="SPEC",
                   help="augment each training batch on the device, transforms in order, e.g. "
                   "'crop:4,flip,rotate:10,noise:0.05' (also vflip[:P], translate:F, "
                   "scale:LO:HI, brightness:B, contrast:C; see minitorch/augment.py)")
    t.add_argument("--pretrained", default=None, metavar="PATH",
                   help="start from the weights in PATH (a --save checkpoint or a torchvision "
                   ".pth state_dict), all but the classification head, which starts fresh")
    t.add_argument("--freeze", action="store_true",
                   help="feature extraction: train only the new head; the pretrained layers "
                   "(and their BatchNorm statistics) stay fixed (needs --pretrained)")
    t.add_argument("--backbone-lr", type=float, default=None, metavar="LR",
                   help="fine-tuning: learning rate of the pretrained layers (default: --lr)")
    t.add_argument("--labels-per-class", type=_positive_int, default=None, metavar="K",
                   help="train on K labelled images per class (a balanced subset drawn with "
                   "--seed)")
    t.add_argument("--aux-weight", type=float, default=0.3,
                   help="GoogLeNet: weight of each auxiliary classifier's loss (default 0.3, "
                   "the paper's)")
    t.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="CPU threads for minitorch's ops and BLAS (default: the idle cores; "
                   "also MINITORCH_NUM_THREADS); results do not depend on it")

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


# --------------------------------------------------------------------------- train
def config_from_args(args) -> TrainConfig:
    """The ``train`` command's flags as the training library's config (one field per flag)."""
    return TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})


def run_train(args, out=None) -> int:
    out = out or sys.stdout
    config = config_from_args(args)
    config.check()
    if config.plot:
        _check_plot(config)  # before training, not after it
    model = build_model(config, out=out)
    train_set, test_set = load_datasets(config)
    history = fit(model, train_set, config, test_data=test_set, out=out)
    from . import distributed
    if config.plot and (not distributed.is_initialized() or distributed.get_rank() == 0):
        path = os.path.splitext(config.save)[0] + "_curves.png"
        history.plot(title=f"{config.model} on {config.dataset}").savefig(path, dpi=110)
        print(f"saved training curves to {path}", file=out)
    return 0


def _check_plot(config) -> None:
    if not config.save:
        raise CLIError("--plot writes the curves next to the checkpoint: pass --save PATH")
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install minitorch[viz]") from None


# --------------------------------------------------------------------------- eval
def run_eval(args, out=None) -> int:
    out = out or sys.stdout
    if args.device == "cuda" and cuda_unavailable_reason() is not None:
        raise CLIError(f"--device cuda: {cuda_unavailable_reason()}")
    path = Path(args.checkpoint)
    if path.is_dir() and CheckpointDir(path).steps():  # a --checkpoint-dir: its newest one
        path, checkpoint = CheckpointDir(path).load_latest()
        print(f"evaluating {path}", file=out)
    else:
        reason = unreadable_reason(path) if path.exists() or path.is_symlink() else None
        if reason is not None:  # a FIFO would block the read, a directory is no checkpoint
            raise CLIError(f"--checkpoint {path} {reason}")
        checkpoint = load(path)
    model, meta = model_from_checkpoint(checkpoint, args.checkpoint, device=args.device)
    dataset = args.dataset or meta["dataset"]
    cls = DATASETS[dataset]
    test_set = first(cls(root=args.data_root, train=False, download=not args.no_download,
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
    except (CLIError, ConfigError, DataError, SerializationError, UnknownModelError,
            CheckpointError, AnomalyError, FileNotFoundError) as exc:
        print(f"minitorch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left; exit quietly (Python docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
