"""The training loop as a library: a config, ``fit``, ``train_one_epoch``, ``evaluate``, with
crash-safe checkpoints, resume and early stopping. ``python -m minitorch train`` only turns
its flags into a ``TrainConfig`` and calls this; notebooks and scripts call it directly::

    from minitorch.training import TrainConfig, build_model, fit, load_datasets
    config = TrainConfig(model="lenet5", epochs=2, limit_train=5000, val_split=0.1)
    train_set, test_set = load_datasets(config)
    history = fit(build_model(config), train_set, config, test_data=test_set)
    history[-1]["val_acc"], history.column("train_loss"), history.plot()

``fit`` also takes your own model, datasets, optimizer, scheduler and loss function; the config
then supplies the rest (epochs, batch size, seed of the data split and the shuffling,
checkpointing, early stopping). Same config and seed, same result, bit for bit, including
after a crash and ``resume`` (see minitorch/checkpoint.py for what a checkpoint holds).

The seeds: ``build_model`` seeds minitorch's default generator (weight init, dropout) and
NumPy's legacy global one with ``config.seed``; ``fit`` draws the validation split from a
generator seeded with ``seed`` and the epoch order from one seeded with ``seed + 1``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .autograd import detect_anomaly, no_grad
from .backend import cuda_unavailable_reason, get_array_module, to_device, to_numpy
from .checkpoint import (CheckpointDir, CheckpointError, RunLock, check_writable,
                         remove_partial_writes_of, rng_states, set_rng_states)
from .data import MNIST, DataLoader, FashionMNIST, Subset, random_split
from .models import get_model
from .serialization import save
from .threads import set_num_threads
from .zoo_data import CIFAR10Data, balanced_subset, image_stats

DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "cifar10": CIFAR10Data}
# Defaults where the optimizers' own (PyTorch's) defaults are no good for a first run.
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2,
              "adadelta": 1.0}
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
              "adagrad": "Adagrad", "adadelta": "Adadelta"}
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "plateau")


class ConfigError(ValueError):
    """A configuration that can't run as asked (the CLI reports it in one line, status 2)."""


# --------------------------------------------------------------------------- configuration
@dataclass
class TrainConfig:
    """Everything a training run depends on; one field per ``python -m minitorch train`` flag
    (``batch_size`` is ``--batch-size``). Field order is the flags' order: a checkpoint stores
    ``as_args()``, and ``resume`` compares the ``RUN_DEFINING`` fields with it. A new flag is a
    new field here plus its ``add_argument`` in cli.py (a test checks that they match)."""
    model: str = "mlp"                  # registered name (minitorch.models.available())
    dataset: str = "mnist"              # a key of DATASETS
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"             # a key of OPTIMIZERS
    lr: float | None = None             # None: DEFAULT_LR[optimizer]
    momentum: float | None = None       # sgd (default 0.9) and rmsprop (default 0)
    weight_decay: float | None = None   # None: the optimizer's own default
    scheduler: str = "none"             # one of SCHEDULERS, stepped once per epoch
    step_size: int | None = None        # step: epochs between decays (default epochs // 3)
    milestones: str | None = None       # multistep: "5,8" (default 50%, 75% of epochs)
    gamma: float | None = None          # decay factor (step/multistep/plateau 0.1, exp 0.9)
    plateau_patience: int = 2
    seed: int = 0
    device: str = "cpu"
    data_root: str | None = None        # None: $MINITORCH_DATA, else ~/.cache/minitorch/data
    no_download: bool = False
    val_split: float = 0.0              # fraction of the training data held out
    early_stopping: int | None = None   # patience in epochs on val_acc (needs a val set)
    save: str | None = None             # file for the latest (or best, with early stopping)
    plot: bool = False                  # CLI: write the curves next to ``save``
    limit_train: int | None = None      # use only the first N training images
    limit_test: int | None = None
    quiet: bool = False                 # no progress bars
    checkpoint_dir: str | None = None   # resumable checkpoints, every epoch end...
    checkpoint_every: int | None = None  # ...and every N optimizer steps
    keep_checkpoints: int = 2
    resume: str | None = None           # continue the run whose checkpoints are there
    detect_anomaly: bool = False        # stop at the first op giving NaN/Inf
    distributed: bool = False           # data-parallel over the MPI ranks (automatic under
                                        # mpirun); batch_size stays the global batch
    augment: str | None = None          # batched augmentation: "crop:4,flip" (augment.py)
    pretrained: str | None = None       # start from these weights, except the head (transfer.py)
    freeze: bool = False                # feature extraction: only the new head trains
    backbone_lr: float | None = None    # fine-tuning: the pretrained layers' lr (None: lr)
    labels_per_class: int | None = None  # few labels: a seeded, balanced subset of K per class
    aux_weight: float = 0.3             # GoogLeNet: weight of each auxiliary classifier's loss
    threads: int | None = None          # CPU threads (minitorch/threads.py); None: default

    def as_args(self) -> dict:
        """The configuration as the ``train`` command's arguments (what checkpoints store)."""
        return {"command": "train", **dataclasses.asdict(self)}

    def check(self, has_val_data: bool = False) -> None:
        """The checks that need no data or model: fail before any work is done.
        ``has_val_data``: the caller passes its own validation set (``fit(val_data=...)``)."""
        if self.device == "cuda":
            reason = cuda_unavailable_reason()
            if reason is not None:
                raise ConfigError(f"--device cuda: {reason}")
        if self.early_stopping is not None and self.val_split <= 0 and not has_val_data:
            raise ConfigError("--early-stopping needs a validation set: pass --val-split "
                              "FRACTION")
        if self.checkpoint_every is not None and not (self.checkpoint_dir or self.resume):
            raise ConfigError("--checkpoint-every needs --checkpoint-dir DIR")
        if self.momentum is not None and self.optimizer not in ("sgd", "rmsprop"):
            raise ConfigError(f"--momentum applies to sgd and rmsprop, not {self.optimizer}")
        if (self.freeze or self.backbone_lr is not None) and not self.pretrained:
            raise ConfigError("--freeze and --backbone-lr apply to a pretrained backbone: pass "
                              "--pretrained PATH")
        if self.freeze and self.backbone_lr is not None:
            raise ConfigError("--backbone-lr: a frozen backbone (--freeze) does not train")
        if self.augment is not None:
            from .augment import AugmentSpecError, parse
            try:
                parse(self.augment)
            except AugmentSpecError as exc:
                raise ConfigError(str(exc)) from None


# The fields that decide what a run computes: resume refuses a config that changes one, since
# the result would silently differ from the uninterrupted run.
RUN_DEFINING = ("model", "dataset", "epochs", "batch_size", "optimizer", "lr", "momentum",
                "weight_decay", "scheduler", "step_size", "milestones", "gamma",
                "plateau_patience", "seed", "val_split", "early_stopping", "limit_train",
                "augment", "pretrained", "freeze", "backbone_lr", "labels_per_class",
                "aux_weight")


class History(list):
    """The per-epoch metrics of a run (the dicts a checkpoint stores as ``meta['history']``:
    epoch, train_loss, train_acc, lr, seconds, images_per_s, val_acc, test_acc...)."""

    resumed_from: Path | None = None  # the checkpoint a resumed run started from
    stopped_early: bool = False

    def column(self, key: str) -> list:
        return [h.get(key) for h in self]

    def best(self, key: str = "val_acc") -> dict:
        """The first epoch with the highest ``key``."""
        return max(self, key=lambda h: h[key])

    def plot(self, title: str | None = None):
        """Loss and accuracy curves (needs matplotlib); returns the Figure."""
        from .viz import plot_training_curves
        return plot_training_curves(list(self), title=title)


# --------------------------------------------------------------------------- building blocks
def seed_everything(seed: int) -> None:
    """Seed minitorch's default generator (weight init, dropout) and NumPy's legacy global one
    (minitorch never draws from it, a user's model may)."""
    from . import random as mt_random
    mt_random.manual_seed(seed)
    np.random.seed(seed)


def model_kwargs(config: TrainConfig) -> dict:
    """The registry kwargs ``config.model`` needs for ``config.dataset``: ``in_channels`` (3 for
    CIFAR-10) where the constructor takes it and its default differs (checkpoints store them)."""
    import inspect

    from .models import _REGISTRY, _canonical
    build = _REGISTRY.get(_canonical(config.model))
    channels = getattr(DATASETS[config.dataset], "image_size", (1, 28, 28))[0]
    try:
        default = inspect.signature(build).parameters["in_channels"].default
    except (KeyError, TypeError, ValueError):
        return {}
    return {} if default == channels else {"in_channels": channels}


def build_model(config: TrainConfig, out=None):
    """The registered model ``config.model``, initialised from ``config.seed``, on its device;
    with ``config.pretrained`` its backbone loaded from there (and frozen with ``freeze``)."""
    seed_everything(config.seed)
    model = get_model(config.model, **model_kwargs(config))
    if config.pretrained:
        from .transfer import PretrainedError, freeze_backbone, load_backbone
        try:
            heads = load_backbone(model, config.pretrained)
        except PretrainedError as exc:
            raise ConfigError(str(exc)) from None
        if config.freeze:
            freeze_backbone(model)
        if out is not None:
            print(f"backbone from {config.pretrained}"
                  + (" (frozen)" if config.freeze else "") + f"; new head: {', '.join(heads)}",
                  file=out)
    return model.to(config.device)


def first(dataset, n: int | None):
    """The first ``n`` items of ``dataset`` (all of them for None)."""
    return dataset if n is None or n >= len(dataset) else Subset(dataset, np.arange(n))


def load_datasets(config: TrainConfig, normalize: bool = True):
    """(train, test) of ``config.dataset``, cut to ``limit_train`` / ``limit_test``."""
    cls = DATASETS[config.dataset]
    kw = dict(root=config.data_root, download=not config.no_download, normalize=normalize)
    train = first(cls(train=True, **kw), config.limit_train)
    if config.labels_per_class is not None:
        try:
            train = balanced_subset(train, config.labels_per_class, config.seed)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return train, first(cls(train=False, **kw), config.limit_test)


def make_optimizer(config: TrainConfig, params):
    from . import optim
    kw = {"lr": config.lr if config.lr is not None else DEFAULT_LR[config.optimizer]}
    if config.momentum is not None and config.optimizer not in ("sgd", "rmsprop"):
        raise ConfigError(f"--momentum applies to sgd and rmsprop, not {config.optimizer}")
    if config.optimizer == "sgd":
        kw["momentum"] = 0.9 if config.momentum is None else config.momentum
    elif config.optimizer == "rmsprop" and config.momentum is not None:
        kw["momentum"] = config.momentum
    if config.weight_decay is not None:
        kw["weight_decay"] = config.weight_decay
    return getattr(optim, OPTIMIZERS[config.optimizer])(params, **kw)


def make_scheduler(config: TrainConfig, optimizer, has_val: bool):
    from .optim import lr_scheduler as S
    name, epochs, gamma = config.scheduler, config.epochs, config.gamma
    if name == "none":
        return None
    if name == "step":
        return S.StepLR(optimizer, step_size=config.step_size or max(1, epochs // 3),
                        gamma=0.1 if gamma is None else gamma)
    if name == "multistep":
        if config.milestones:
            try:
                milestones = [int(m) for m in config.milestones.split(",")]
            except ValueError:
                raise ConfigError(f"--milestones: expected comma-separated epochs, got "
                                  f"{config.milestones!r}") from None
        else:
            milestones = sorted({max(1, epochs // 2), max(1, (3 * epochs) // 4)})
        return S.MultiStepLR(optimizer, milestones=milestones,
                             gamma=0.1 if gamma is None else gamma)
    if name == "exponential":
        return S.ExponentialLR(optimizer, gamma=0.9 if gamma is None else gamma)
    if name == "cosine":
        return S.CosineAnnealingLR(optimizer, T_max=epochs)
    # plateau: watch validation accuracy when there is a validation set, else the train loss
    return S.ReduceLROnPlateau(optimizer, mode="max" if has_val else "min",
                               factor=0.1 if gamma is None else gamma,
                               patience=config.plateau_patience)


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


def evaluate(model, loader, loss_fn=None) -> dict:
    """{"acc": accuracy} over ``loader`` (eval mode, no graph), plus {"loss": mean loss} when a
    ``loss_fn(logits, target)`` is given."""
    if loss_fn is None:
        return {"acc": float(np.mean(np.equal(*predict(model, loader))))}
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    with no_grad():
        for x, y in loader:
            logits = model(x)
            loss_sum += float(loss_fn(logits, y).data) * y.shape[0]
            correct += int((logits.data.argmax(axis=1) == y.data).sum())
            seen += y.shape[0]
    return {"acc": correct / max(seen, 1), "loss": loss_sum / max(seen, 1)}


def confusion_matrix(pred: np.ndarray, true: np.ndarray, k: int) -> np.ndarray:
    """counts[i, j] = how many images of class i were predicted as j."""
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def _cross_entropy(logits, target):
    from .nn import functional as F
    return F.cross_entropy(logits, target)


def train_one_epoch(model, loader, optimizer, loss_fn=None, progress=None, sums=None,
                    after_step=None, on_step=None):
    """One pass over ``loader`` (or what is left of it after a resume); returns (mean loss,
    accuracy). ``loss_fn`` defaults to cross-entropy; ``progress`` is a tqdm bar (or None);
    ``sums`` = (loss sum, correct, seen) of the part of the epoch done before an interruption;
    ``after_step(sums)`` runs after every optimizer step (checkpoints); ``on_step(loss)`` gets
    each batch's loss as a float (that costs a host sync per batch, so it is opt-in: the
    running sums otherwise stay on the batches' device)."""
    loss_fn = loss_fn or _cross_entropy
    model.train()
    loss_sum, correct, seen = sums if sums is not None else (0, 0, 0)
    for step, (x, y) in enumerate(loader):
        out = model(x)
        loss = loss_fn(out, y)
        logits = getattr(out, "logits", out)  # GoogLeNet's (logits, aux2, aux1) in training
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = y.shape[0]
        loss_sum = loss_sum + loss.data * n
        correct = correct + (logits.data.argmax(axis=1) == y.data).sum()
        seen += n
        if on_step is not None:
            on_step(float(loss.data))
        if progress is not None:
            progress.update(1)
            if step % 20 == 0:
                progress.set_postfix(loss=f"{float(loss.data):.4f}", refresh=False)
        if after_step is not None:
            after_step((loss_sum, correct, seen))
    return float(loss_sum) / max(seen, 1), float(correct) / max(seen, 1)


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


# --------------------------------------------------------------------------- checkpoints
def _open_checkpoint_dirs(config, log, locks: contextlib.ExitStack):
    """(where to resume from, where to write checkpoints): CheckpointDirs or None. Each is
    locked for the rest of the run (``locks``) before anything in it is touched."""
    source = CheckpointDir(config.resume, config.keep_checkpoints) if config.resume else None
    target_dir = config.checkpoint_dir or config.resume  # a resumed run keeps writing there
    target = CheckpointDir(target_dir, config.keep_checkpoints) if target_dir else None
    if source is not None and not source.directory.is_dir():
        raise ConfigError(f"--resume {config.resume}: no such directory")
    if target is not None:
        target.prepare(nbytes=0)  # create it; the size check follows (_check_room)
    for d in {str(x.directory.resolve()): x for x in (source, target) if x is not None}.values():
        locks.enter_context(d.lock())
        removed = d.remove_partial_writes()
        if removed:
            log(f"removed {len(removed)} unfinished checkpoint write(s) left in {d.directory} "
                f"by an interrupted run: {', '.join(removed)}")
    if target is not None and target.steps() and (
            source is None or target.directory.resolve() != source.directory.resolve()):
        raise ConfigError(f"--checkpoint-dir {target.directory} already holds checkpoints of "
                          f"another run (step-{target.steps()[-1]:08d}.safetensors); pass "
                          f"--resume {target.directory} to continue that run, or choose an "
                          "empty directory")
    return source, target


def _prepare_save(config, log, locks: contextlib.ExitStack) -> None:
    """``save``: its directory must exist and it must not be one; lock it for the run and
    delete the temporary files an interrupted write to it left behind."""
    path = Path(config.save)
    if not path.parent.is_dir():
        raise ConfigError(f"--save {config.save}: the directory {path.parent} does not exist"
                          + (" (it is a file)" if path.parent.exists() else ""))
    if path.is_dir():
        raise ConfigError(f"--save {config.save}: is a directory; give a file name")
    locks.enter_context(RunLock(path.parent / f".{path.name}.lock", f"--save {config.save}"))
    removed = remove_partial_writes_of(path)
    if removed:
        log(f"removed {len(removed)} unfinished write(s) of {path} left by an interrupted run: "
            f"{', '.join(removed)}")


def _check_room(config, target, model) -> None:
    """A read-only place or a full disk fails now, not after the first epoch's training."""
    # about one checkpoint: the weights, twice as much again for per-parameter optimizer
    # state (Adam's two moments), and the metadata
    nbytes = 3 * sum(int(v.data.nbytes) for v in model.state_dict().values()) + (1 << 16)
    if target is not None:
        check_writable(target.directory, nbytes, f"--checkpoint-dir {target.directory}")
    if config.save:
        check_writable(Path(config.save).parent, nbytes, f"--save {config.save}")


def _restore(config, source, model, optimizer, scheduler, loader, generators) -> tuple:
    """Load the newest checkpoint in ``source`` into the freshly built objects; returns
    (its path, the training loop's counters)."""
    path, state = source.load_latest(device=config.device)
    stored = state["meta"].get("args", {})
    changed = [f"--{k.replace('_', '-')} {stored.get(k)!r} -> {getattr(config, k)!r}"
               for k in RUN_DEFINING if stored.get(k) != getattr(config, k)]
    if changed:
        raise ConfigError(f"--resume {config.resume}: {path.name} was written by a run with "
                          f"other arguments ({'; '.join(changed)}); repeat the interrupted "
                          "command's arguments")
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
        loop["sums"] = (to_device(loss_sum, config.device), to_device(correct, config.device),
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


def _save_file(obj, path) -> None:
    try:
        save(obj, path)
    except OSError as exc:
        raise ConfigError(f"--save {path}: can't write the checkpoint: "
                          f"{exc.strerror or exc}") from None


# --------------------------------------------------------------------------- the loop
def fit(model, train_data, config: TrainConfig, *, val_data=None, test_data=None,
        optimizer=None, scheduler=None, loss_fn=None, eval_loss: bool = False,
        on_step=None, out=sys.stdout) -> History:
    """Train ``model`` on the dataset ``train_data`` as ``config`` says; returns the History.

    Each epoch: train, evaluate on ``val_data`` (or a ``config.val_split`` of ``train_data``)
    and ``test_data``, print one line on ``out`` (None: silent), write ``config.save`` and a
    checkpoint into ``config.checkpoint_dir``, step the scheduler, maybe stop early.
    ``optimizer`` / ``scheduler`` default to the config's; ``loss_fn(logits, target)`` to
    cross-entropy; ``eval_loss`` also records val_loss / test_loss; ``on_step(loss)`` is
    called with every batch's training loss (a float: per-step curves).
    With ``config.resume`` it continues the run checkpointed there, bit-identically."""
    log = (lambda line: print(line, file=out)) if out is not None else (lambda line: None)
    config.check(has_val_data=val_data is not None)
    if config.threads is not None:
        set_num_threads(config.threads)
    rank, world = _join_ranks(config)
    if rank != 0:  # one voice: rank 0 prints, checkpoints and saves
        log = (lambda line: None)
    with contextlib.ExitStack() as locks:
        source = target = None
        problem = None
        if rank == 0:
            try:
                source, target = _open_checkpoint_dirs(config, log, locks)
                if config.save:
                    _prepare_save(config, log, locks)
                _check_room(config, target, model)
            except (ConfigError, CheckpointError) as exc:
                problem = exc
        if world > 1:  # the others learn whether rank 0's checks passed, then read from DIR
            from .distributed import group
            failed = group().all_gather_object(None if problem is None else str(problem))[0]
            if failed is not None:
                raise problem if problem is not None else ConfigError(f"rank 0: {failed}")
            if rank != 0 and config.resume:
                source = CheckpointDir(config.resume, config.keep_checkpoints)
        elif problem is not None:
            raise problem
        return _fit(model, train_data, config, val_data, test_data, optimizer, scheduler,
                    loss_fn, eval_loss, on_step, source, target, log, rank, world)


def _join_ranks(config) -> tuple[int, int]:
    """(rank, world size): (0, 1) for one process; under mpirun (or with distributed=True)
    the MPI process group, started here if the caller did not."""
    from . import distributed as dist
    if not (config.distributed or dist.launched_by_mpi()):
        return 0, 1
    if not dist.is_initialized():
        try:
            dist.init_process_group("nccl" if config.device == "cuda" else "mpi")
        except dist.DistributedError as exc:
            raise ConfigError(f"--distributed: {exc}") from None
    return dist.get_rank(), dist.get_world_size()


def _fit(model, train_data, config, val_set, test_set, optimizer, scheduler, loss_fn,
         eval_loss, on_step, source, target, log, rank=0, world=1) -> History:
    from tqdm import tqdm

    from . import random as mt_random

    # ---- data: the validation split and the epoch order come from their own seeded streams
    split_gen = mt_random.Generator().manual_seed(config.seed)
    if val_set is None and config.val_split > 0:
        n_val = max(1, int(round(len(train_data) * config.val_split)))
        train_set, val_set = random_split(train_data, [len(train_data) - n_val, n_val],
                                          generator=split_gen)
    else:
        train_set = train_data
    shuffle_gen = mt_random.Generator().manual_seed(config.seed + 1)
    train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True,
                              generator=shuffle_gen, device=config.device)
    eval_kw = dict(batch_size=1000, device=config.device)
    val_loader = DataLoader(val_set, **eval_kw) if val_set is not None else None
    test_loader = DataLoader(test_set, **eval_kw) if test_set is not None else None

    if optimizer is None:
        from .transfer import param_groups
        lr = config.lr if config.lr is not None else DEFAULT_LR[config.optimizer]
        optimizer = make_optimizer(config, param_groups(model, lr, config.backbone_lr))
    if loss_fn is None and getattr(model, "aux_logits", False):
        from functools import partial

        from .vision.models import googlenet_loss
        loss_fn = partial(googlenet_loss, aux_weight=config.aux_weight)
    if scheduler is None:
        scheduler = make_scheduler(config, optimizer, has_val=val_loader is not None)
    log(f"{config.model} on {config.dataset}: {len(train_set)} train"
        + (f", {len(val_set)} val" if val_set is not None else "")
        + (f", {len(test_set)} test" if test_set is not None else "")
        + f" images; {config.optimizer} lr {_lr(optimizer):g}, batch {config.batch_size}, "
        f"{config.epochs} epochs, device {config.device}")

    # ---- the run's state. "epoch": epochs completed (evaluated, scheduler stepped); "step":
    # optimizer steps taken; "sums": (loss sum, correct, seen) of the epoch in progress.
    meta = {"model": config.model, "model_kwargs": model_kwargs(config),
            "dataset": config.dataset,
            "normalize": True, "minitorch_version": __version__, "args": config.as_args()}
    generators = {"shuffle": shuffle_gen}
    if config.augment:  # its own stream, so augmenting doesn't change the data order
        generators["augment"] = mt_random.Generator().manual_seed(config.seed + 2)
    loop = {"epoch": 0, "step": 0, "sums": None, "best_val": -1.0, "since_best": 0,
            "history": [], "stopped": False}
    history = History()
    if source is not None:
        history.resumed_from, loop = _restore(config, source, model, optimizer, scheduler,
                                              train_loader, generators)
        if rank != 0 and loop["sums"] is not None:  # the epoch's sums so far count once
            loop["sums"] = (0.0, 0, 0)
        where = (f", {loop['sums'][2]}/{len(train_set)} images into epoch {loop['epoch'] + 1}"
                 if loop["sums"] is not None else "")
        log(f"resumed from {history.resumed_from}: {loop['epoch']} epochs, {loop['step']} "
            f"steps done{where}")
        if loop["stopped"] or loop["epoch"] >= config.epochs:
            log(f"the run in {source.directory} had already finished; nothing to do")
            history[:] = loop["history"]
            history.stopped_early = loop["stopped"]
            return history

    # ---- data parallel: each rank trains on its share of every global batch (see
    # minitorch/distributed/training.py); the weights, the metrics and the decisions agree.
    train_model, train_batches, last_sums = model, train_loader, [None]
    if world > 1:
        from .distributed.training import RankShard, global_sums
        from .nn.parallel import DistributedDataParallel
        train_model = DistributedDataParallel(model)
        train_batches = RankShard(train_loader, train_model)
    if config.augment:
        from .augment import Augment, AugmentedBatches
        mean, std = image_stats(train_set)
        train_batches = AugmentedBatches(train_batches, Augment(config.augment, mean, std,
                                                                generators["augment"]))

    def checkpoint() -> None:
        target.save(_snapshot(model, optimizer, scheduler, train_loader, generators, loop,
                              meta), loop["step"])

    def after_step(sums) -> None:
        if world > 1:
            sums = last_sums[0] = global_sums(sums, config.device)
        loop["step"] += 1
        # A step that ends the epoch is skipped: the end-of-epoch checkpoint follows at once.
        if (target is not None and config.checkpoint_every is not None
                and loop["step"] % config.checkpoint_every == 0 and sums[2] < len(train_set)):
            loop["sums"] = sums
            checkpoint()
            loop["sums"] = None

    # ---- the loop
    anomaly = detect_anomaly() if config.detect_anomaly else contextlib.nullcontext()
    with anomaly:
        for epoch in range(loop["epoch"] + 1, config.epochs + 1):
            lr = _lr(optimizer)
            sums, loop["sums"] = loop["sums"], None
            seen_before = sums[2] if sums is not None else 0
            start = time.perf_counter()
            with tqdm(total=len(train_loader), initial=-(-seen_before // config.batch_size),
                      desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False,
                      disable=config.quiet or rank != 0, file=sys.stderr) as bar:
                loss, train_acc = train_one_epoch(train_model, train_batches, optimizer, loss_fn,
                                                  bar, sums, after_step=after_step,
                                                  on_step=on_step)
            if world > 1 and last_sums[0] is not None:  # every rank's batches, not this one's
                loss_sum, correct, seen = last_sums[0]
                loss, train_acc = loss_sum / max(seen, 1), correct / max(seen, 1)
            seconds = time.perf_counter() - start
            metrics = {"epoch": epoch, "train_loss": loss, "train_acc": train_acc, "lr": lr,
                       "seconds": seconds,
                       "images_per_s": (len(train_set) - seen_before) / seconds}
            for name, loader in (("val", val_loader), ("test", test_loader)):
                if loader is not None:
                    result = evaluate(model, loader,
                                      (loss_fn or _cross_entropy) if eval_loss else None)
                    metrics[f"{name}_acc"] = result["acc"]
                    if eval_loss:
                        metrics[f"{name}_loss"] = result["loss"]
            loop["history"].append(metrics)
            log(_epoch_line(config, metrics))
            if not np.isfinite(loss):
                log(f"warning: the training loss is {loss}; rerun with --detect-anomaly to "
                    "stop at the first op that produces NaN/Inf")

            # early stopping watches validation accuracy; --save then keeps the best epoch
            improved = val_loader is not None and metrics["val_acc"] > loop["best_val"]
            if improved:
                loop["best_val"], loop["since_best"] = metrics["val_acc"], 0
            else:
                loop["since_best"] += 1
            if config.save and rank == 0 and (config.early_stopping is None or improved):
                _save_file(_save_entry(model, optimizer, scheduler, meta, epoch, metrics,
                                       loop["history"]), config.save)
            if scheduler is not None:
                if config.scheduler == "plateau":
                    scheduler.step(metrics["val_acc"] if val_loader is not None else loss)
                else:
                    scheduler.step()
            if config.early_stopping is not None and loop["since_best"] >= config.early_stopping:
                log(f"early stopping: no better validation accuracy for {loop['since_best']} "
                    f"epochs (best {100 * loop['best_val']:.2f}%)")
                loop["stopped"] = True

            loop["epoch"] = epoch
            if target is not None:
                checkpoint()
            if loop["stopped"]:
                break
    if config.save and rank == 0:
        log(f"saved checkpoint to {config.save}")
    history[:] = loop["history"]
    history.stopped_early = loop["stopped"]
    return history


def _epoch_line(config, m: dict) -> str:
    return (f"epoch {m['epoch']}/{config.epochs}  loss {m['train_loss']:.4f}  "
            f"train {100 * m['train_acc']:.2f}%"
            + (f"  val {100 * m['val_acc']:.2f}%" if "val_acc" in m else "")
            + (f"  test {100 * m['test_acc']:.2f}%" if "test_acc" in m else "")
            + f"  {m['seconds']:.1f} s  {m['images_per_s']:.0f} img/s  lr {m['lr']:g}")


def _save_entry(model, optimizer, scheduler, meta, epoch, metrics, history) -> dict:
    """What ``config.save`` holds: enough for ``eval`` (and to fine-tune from), not a resume."""
    entry = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "meta": {**meta, "epoch": epoch, "metrics": metrics, "history": history}}
    if scheduler is not None:
        entry["scheduler"] = scheduler.state_dict()
    return entry


# --------------------------------------------------------------------------- a saved model back
def check_model_kwargs(where, name: str, kwargs, weights: dict) -> None:
    """Refuse ``model_kwargs`` that can't describe the stored weights, *before* building the
    model: plain values only, and no size larger than the weights the file holds. Every layer
    size of a network shows up as a dimension of its weights, and every list entry (a hidden
    layer) as at least one tensor, so a genuine checkpoint always passes, while a small hand-made
    file can't make ``eval`` allocate gigabytes (then fail the state_dict check anyway)."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{where}: damaged checkpoint: model_kwargs {why}")

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


def model_from_checkpoint(checkpoint, where, device: str = "cpu"):
    """Rebuild the model a training checkpoint (``config.save`` or a checkpoint-dir file)
    describes and load its weights; returns (model, meta). Bad files raise CheckpointError."""
    if not isinstance(checkpoint, dict) or "meta" not in checkpoint or "model" not in checkpoint:
        raise CheckpointError(f"{where} is a safetensors file but not a minitorch training "
                              "checkpoint (no 'model' and 'meta' entries)")
    meta = checkpoint["meta"]
    if not isinstance(meta, dict) or not isinstance(meta.get("model"), str) \
            or meta.get("dataset") not in DATASETS or not isinstance(checkpoint["model"], dict):
        raise CheckpointError(f"{where}: damaged checkpoint: 'meta' must name the model and a "
                              f"dataset in {sorted(DATASETS)}, and 'model' must be a state_dict")
    kwargs = meta.get("model_kwargs", {})
    check_model_kwargs(where, meta["model"], kwargs, checkpoint["model"])
    try:
        model = get_model(meta["model"], **kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: its model_kwargs {kwargs!r} don't build the model "
                              f"{meta['model']!r}: {exc}") from None
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{where}: its weights don't fit the model {meta['model']!r}: "
                              + " ".join(str(exc).split())) from None
    return model.to(device), meta


__all__ = ["TrainConfig", "History", "ConfigError", "fit", "train_one_epoch", "evaluate",
           "predict", "confusion_matrix", "build_model", "load_datasets", "make_optimizer",
           "make_scheduler", "seed_everything", "model_from_checkpoint", "DATASETS",
           "RUN_DEFINING"]
