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

User errors (unknown model, missing data, bad checkpoint, CUDA unavailable) print one line and
exit with status 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import __version__
from .autograd import AnomalyError, detect_anomaly, no_grad
from .backend import cuda_unavailable_reason, get_array_module, to_device, to_numpy
from .checkpoint import (CheckpointDir, CheckpointError, RunLock, check_writable,
                         remove_partial_writes_of, rng_states, set_rng_states, unreadable_reason)
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


def train_one_epoch(model, loader, optimizer, progress, sums=None, after_step=None):
    """One pass over ``loader`` (or what is left of it after a resume); returns (mean loss,
    accuracy). ``sums`` = (loss sum, correct, seen) of the part of the epoch done before the
    interruption; ``after_step(sums)`` runs after every optimizer step (checkpoints). The
    running sums stay on the batches' device (no host sync per batch)."""
    from .nn import functional as F
    model.train()
    loss_sum, correct, seen = sums if sums is not None else (0, 0, 0)
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
        if after_step is not None:
            after_step((loss_sum, correct, seen))
    return float(loss_sum) / max(seen, 1), float(correct) / max(seen, 1)


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


# --------------------------------------------------------------------------- checkpoints
# The arguments that decide what a run computes: --resume refuses a command that changes one,
# since the result would silently differ from the uninterrupted run.
RUN_DEFINING = ("model", "dataset", "epochs", "batch_size", "optimizer", "lr", "momentum",
                "weight_decay", "scheduler", "step_size", "milestones", "gamma",
                "plateau_patience", "seed", "val_split", "early_stopping", "limit_train")


def _checkpoint_dirs(args, out, locks: contextlib.ExitStack):
    """(where to resume from, where to write checkpoints): CheckpointDirs or None. Each is
    locked for the rest of the run (``locks``) before anything in it is touched."""
    if args.checkpoint_every is not None and not (args.checkpoint_dir or args.resume):
        raise CLIError("--checkpoint-every needs --checkpoint-dir DIR")
    source = CheckpointDir(args.resume, args.keep_checkpoints) if args.resume else None
    target_dir = args.checkpoint_dir or args.resume  # a resumed run keeps writing where it was
    target = CheckpointDir(target_dir, args.keep_checkpoints) if target_dir else None
    if source is not None and not source.directory.is_dir():
        raise CLIError(f"--resume {args.resume}: no such directory")
    if target is not None:
        target.prepare(nbytes=0)  # create it; the size check follows once the model is built
    for d in {str(x.directory.resolve()): x for x in (source, target) if x is not None}.values():
        locks.enter_context(d.lock())
        removed = d.remove_partial_writes()
        if removed:
            print(f"removed {len(removed)} unfinished checkpoint write(s) left in {d.directory} "
                  f"by an interrupted run: {', '.join(removed)}", file=out)
    if target is not None and target.steps() and (
            source is None or target.directory.resolve() != source.directory.resolve()):
        raise CLIError(f"--checkpoint-dir {target.directory} already holds checkpoints of "
                       f"another run (step-{target.steps()[-1]:08d}.safetensors); pass --resume "
                       f"{target.directory} to continue that run, or choose an empty directory")
    return source, target


def _prepare_save(args, out, locks: contextlib.ExitStack) -> None:
    """--save PATH: its directory must exist and PATH must not be one; lock PATH for the run and
    delete the temporary files an interrupted write to it left behind."""
    path = Path(args.save)
    parent = path.parent
    if not parent.is_dir():
        raise CLIError(f"--save {args.save}: the directory {parent} does not exist"
                       + (" (it is a file)" if parent.exists() else ""))
    if path.is_dir():
        raise CLIError(f"--save {args.save}: is a directory; give a file name")
    locks.enter_context(RunLock(parent / f".{path.name}.lock", f"--save {args.save}"))
    removed = remove_partial_writes_of(path)
    if removed:
        print(f"removed {len(removed)} unfinished write(s) of {path} left by an interrupted run: "
              f"{', '.join(removed)}", file=out)


def _checkpoint_bytes(model) -> int:
    """About one checkpoint's size: the weights, and as much again twice for an optimizer's
    per-parameter state (Adam's two moments), plus the metadata."""
    return 3 * sum(int(v.data.nbytes) for v in model.state_dict().values()) + (1 << 16)


def _restore(args, source, model, optimizer, scheduler, loader, generators) -> tuple:
    """Load the newest checkpoint in ``source`` into the freshly built objects; returns
    (its path, the training loop's counters)."""
    path, state = source.load_latest(device=args.device)
    stored = state["meta"].get("args", {})
    changed = [f"--{k.replace('_', '-')} {stored.get(k)!r} -> {getattr(args, k)!r}"
               for k in RUN_DEFINING if stored.get(k) != getattr(args, k)]
    if changed:
        raise CLIError(f"--resume {args.resume}: {path.name} was written by a run with other "
                       f"arguments ({'; '.join(changed)}); repeat the interrupted command's "
                       "arguments")
    try:
        if state["loader"]["position"] > len(loader):
            raise ValueError(f"the loader position {state['loader']['position']} is beyond the "
                             f"{len(loader)} batches of an epoch")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        loader.load_state_dict(state["loader"])
        set_rng_states(state["rng"], generators)
        loop = dict(state["loop"])
    # hand-edited or foreign: check_state vetted the entries' types, the objects check the rest
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"--resume: {path} does not fit this run: "
                              + " ".join(str(exc).split())) from None
    if loop["sums"] is not None:  # partial-epoch sums back on the batches' device
        loss_sum, correct, seen = loop["sums"]
        loop["sums"] = (to_device(loss_sum, args.device), to_device(correct, args.device),
                        int(seen))
    return path, loop


def _snapshot(model, optimizer, scheduler, loader, generators, loop, meta) -> dict:
    """Everything the next training step depends on (see minitorch/checkpoint.py)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "loader": loader.state_dict(), "rng": rng_states(generators),
             "loop": {**loop, "sums": None if loop["sums"] is None else
                      (to_numpy(loop["sums"][0]), to_numpy(loop["sums"][1]),
                       int(loop["sums"][2]))},
             "meta": {**meta, "epoch": loop["epoch"], "step": loop["step"],
                      "history": loop["history"]}}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    return state


# --------------------------------------------------------------------------- train
def _load_datasets(args, normalize=True):
    cls = DATASETS[args.dataset]
    kw = dict(root=args.data_root, download=not args.no_download, normalize=normalize)
    return cls(train=True, **kw), cls(train=False, **kw)


def run_train(args, out=None) -> int:
    out = out or sys.stdout
    _check_device(args.device)
    if args.early_stopping is not None and args.val_split <= 0:
        raise CLIError("--early-stopping needs a validation set: pass --val-split FRACTION")
    if args.plot:
        _check_plot(args)  # before training, not after it
    with contextlib.ExitStack() as locks:
        return _run_train(args, out, locks)


def _run_train(args, out, locks) -> int:
    from . import random as mt_random

    source, target = _checkpoint_dirs(args, out, locks)
    if args.save:
        _prepare_save(args, out, locks)
    mt_random.manual_seed(args.seed)  # weight init
    np.random.seed(args.seed)  # NumPy's legacy global generator: a user's model may draw from it
    model = get_model(args.model)
    model.to(args.device)
    # A read-only place or a full disk fails now, not after the first epoch's training time.
    for where, flag in ((target.directory if target else None, "--checkpoint-dir"),
                        (Path(args.save).parent if args.save else None, "--save")):
        if where is not None:
            check_writable(where, _checkpoint_bytes(model), f"{flag} {where}")

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
    generators = {"shuffle": shuffle_gen}
    # The training loop's own state. "epoch": epochs completed (evaluated, scheduler stepped);
    # "step": optimizer steps taken; "sums": (loss sum, correct, seen) of the epoch in progress.
    loop = {"epoch": 0, "step": 0, "sums": None, "best_val": -1.0, "since_best": 0,
            "history": [], "stopped": False}
    if source is not None:
        path, loop = _restore(args, source, model, optimizer, scheduler, train_loader,
                              generators)
        where = (f", {loop['sums'][2]}/{len(train_set)} images into epoch {loop['epoch'] + 1}"
                 if loop["sums"] is not None else "")
        print(f"resumed from {path}: {loop['epoch']} epochs, {loop['step']} steps done{where}",
              file=out)
        if loop["stopped"] or loop["epoch"] >= args.epochs:
            print(f"the run in {source.directory} had already finished; nothing to do", file=out)
            return 0

    def checkpoint() -> None:
        target.save(_snapshot(model, optimizer, scheduler, train_loader, generators, loop, meta),
                    loop["step"])

    def after_step(sums) -> None:
        loop["step"] += 1
        # A step that ends the epoch is skipped: the end-of-epoch checkpoint follows at once.
        if (target is not None and args.checkpoint_every is not None
                and loop["step"] % args.checkpoint_every == 0 and sums[2] < len(train_set)):
            loop["sums"] = sums
            checkpoint()
            loop["sums"] = None

    run = SimpleNamespace(model=model, optimizer=optimizer, scheduler=scheduler, meta=meta,
                          train_loader=train_loader, val_loader=val_loader,
                          test_loader=test_loader)
    anomaly = detect_anomaly() if args.detect_anomaly else contextlib.nullcontext()
    with anomaly:
        for epoch in range(loop["epoch"] + 1, args.epochs + 1):
            _train_and_evaluate(args, epoch, run, loop, after_step, out)
            loop["epoch"] = epoch
            if target is not None:
                checkpoint()
            if loop["stopped"]:
                break
    if args.save:
        print(f"saved checkpoint to {args.save}", file=out)
    if args.plot:
        _write_plot(args, loop["history"], out)
    return 0


def _plot_path(save: str) -> str:
    return os.path.splitext(save)[0] + "_curves.png"


def _check_plot(args) -> None:
    if not args.save:
        raise CLIError("--plot writes the curves next to the checkpoint: pass --save PATH")
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install minitorch[viz]") from None


def _write_plot(args, history, out) -> None:
    """The per-epoch history (the checkpoint's meta['history']) as loss/accuracy curves."""
    from .viz import plot_training_curves
    path = _plot_path(args.save)
    plot_training_curves(history, title=f"{args.model} on {args.dataset}").savefig(path, dpi=110)
    print(f"saved training curves to {path}", file=out)


def _train_and_evaluate(args, epoch, run, loop, after_step, out) -> None:
    """One epoch: train, evaluate, print, --save, step the scheduler, early stopping."""
    from tqdm import tqdm

    model, optimizer, scheduler = run.model, run.optimizer, run.scheduler
    train_loader, val_loader, test_loader = run.train_loader, run.val_loader, run.test_loader

    lr = _lr(optimizer)
    sums, loop["sums"] = loop["sums"], None
    seen_before = sums[2] if sums is not None else 0
    start = time.perf_counter()
    with tqdm(total=len(train_loader), initial=-(-seen_before // args.batch_size),
              desc=f"epoch {epoch}/{args.epochs}", unit="batch", leave=False,
              disable=args.quiet, file=sys.stderr) as bar:
        loss, train_acc = train_one_epoch(model, train_loader, optimizer, bar, sums, after_step)
    seconds = time.perf_counter() - start
    n_train = len(train_loader.dataset)
    metrics = {"epoch": epoch, "train_loss": loss, "train_acc": train_acc, "lr": lr,
               "seconds": seconds, "images_per_s": (n_train - seen_before) / seconds}
    if val_loader is not None:
        metrics["val_acc"] = float(np.mean(np.equal(*predict(model, val_loader))))
    metrics["test_acc"] = float(np.mean(np.equal(*predict(model, test_loader))))
    loop["history"].append(metrics)
    print(f"epoch {epoch}/{args.epochs}  loss {loss:.4f}  train {100 * train_acc:.2f}%"
          + (f"  val {100 * metrics['val_acc']:.2f}%" if val_loader is not None else "")
          + f"  test {100 * metrics['test_acc']:.2f}%  {seconds:.1f} s  "
          f"{metrics['images_per_s']:.0f} img/s  lr {lr:g}", file=out)
    if not np.isfinite(loss):
        print(f"warning: the training loss is {loss}; rerun with --detect-anomaly to stop at "
              "the first op that produces NaN/Inf", file=out)

    improved = val_loader is not None and metrics["val_acc"] > loop["best_val"]
    if improved:
        loop["best_val"], loop["since_best"] = metrics["val_acc"], 0
    else:
        loop["since_best"] += 1
    # Keep the best epoch when early stopping watches validation, else the latest one.
    if args.save and (args.early_stopping is None or improved):
        checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                      "meta": {**run.meta, "epoch": epoch, "metrics": metrics,
                               "history": loop["history"]}}
        if scheduler is not None:
            checkpoint["scheduler"] = scheduler.state_dict()
        try:
            save(checkpoint, args.save)
        except OSError as exc:
            raise CLIError(f"--save {args.save}: can't write the checkpoint: "
                           f"{exc.strerror or exc}") from None
    if scheduler is not None:
        if args.scheduler == "plateau":
            scheduler.step(metrics["val_acc"] if val_loader is not None else loss)
        else:
            scheduler.step()
    if args.early_stopping is not None and loop["since_best"] >= args.early_stopping:
        print(f"early stopping: no better validation accuracy for {loop['since_best']} epochs "
              f"(best {100 * loop['best_val']:.2f}%)", file=out)
        loop["stopped"] = True


# --------------------------------------------------------------------------- eval
def run_eval(args, out=None) -> int:
    out = out or sys.stdout
    _check_device(args.device)
    path = Path(args.checkpoint)
    if path.is_dir() and CheckpointDir(path).steps():  # a --checkpoint-dir: its newest one
        path, checkpoint = CheckpointDir(path).load_latest()
        print(f"evaluating {path}", file=out)
    else:
        reason = unreadable_reason(path) if path.exists() or path.is_symlink() else None
        if reason is not None:  # a FIFO would block the read, a directory is no checkpoint
            raise CLIError(f"--checkpoint {path} {reason}")
        checkpoint = load(path)
    if not isinstance(checkpoint, dict) or "meta" not in checkpoint or "model" not in checkpoint:
        raise CLIError(f"{args.checkpoint} is a safetensors file but not a minitorch training "
                       "checkpoint (no 'model' and 'meta' entries)")
    meta = checkpoint["meta"]
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), str) \
            or meta.get("dataset") not in DATASETS or not isinstance(checkpoint["model"], dict):
        raise CLIError(f"{args.checkpoint}: damaged checkpoint: 'meta' must name the model and "
                       f"a dataset in {sorted(DATASETS)}, and 'model' must be a state_dict")
    kwargs = meta.get("model_kwargs", {})
    _check_model_kwargs(args.checkpoint, meta["model"], kwargs, checkpoint["model"])
    try:
        model = get_model(meta["model"], **kwargs)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{args.checkpoint}: its model_kwargs {kwargs!r} don't build the model "
                       f"{meta['model']!r}: {exc}") from None
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CLIError(f"{args.checkpoint}: its weights don't fit the model {meta['model']!r}: "
                       + " ".join(str(exc).split())) from None
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


def _check_model_kwargs(where, name: str, kwargs, weights: dict) -> None:
    """Refuse ``model_kwargs`` that can't describe the stored weights, *before* building the
    model: plain values only, and no size larger than the weights the file holds. Every layer
    size of a network shows up as a dimension of its weights, and every list entry (a hidden
    layer) as at least one tensor, so a genuine checkpoint always passes, while a small hand-made
    file can't make ``eval`` allocate gigabytes (then fail the state_dict check anyway)."""
    def bad(why: str) -> CLIError:
        return CLIError(f"{where}: damaged checkpoint: model_kwargs {why}")

    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise bad(f"must be a dict of keyword arguments, got {type(kwargs).__name__}")
    shapes = [tuple(t.shape) for t in weights.values() if hasattr(t, "shape")]
    largest = max((d for s in shapes if 0 not in s for d in s), default=0)
    for key, value in kwargs.items():
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if len(values) > len(shapes):
            raise bad(f"{key}={value!r} lists more layers than the file has tensors "
                      f"({len(shapes)})")
        for v in values:
            if not isinstance(v, (bool, int, float, str)) and v is not None:
                raise bad(f"{key}={value!r}: only numbers, strings, bools and lists of them")
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > largest:
                raise bad(f"{key}={value!r} asks for a size {v}, larger than any dimension of "
                          f"the stored weights (at most {largest}): these weights can't be "
                          f"that model's")


# --------------------------------------------------------------------------- entry point
def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage + the error (or --help)
        return int(exc.code or 0)
    try:
        return run_train(args) if args.command == "train" else run_eval(args)
    except (CLIError, DataError, SerializationError, UnknownModelError, CheckpointError,
            AnomalyError, FileNotFoundError) as exc:
        print(f"minitorch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left; exit quietly (Python docs' recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
