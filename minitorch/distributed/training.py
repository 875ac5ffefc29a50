"""Data-parallel training with the same flags, and the same result, as one process.

``--batch-size`` stays the global batch. Every rank draws the same epoch order (the loader's
seeded generator) and takes its contiguous share of each global batch: rank r of W gets rows
[r*n/W, (r+1)*n/W). DistributedDataParallel averages the gradients with the weights
n_local * W / n, so each optimizer step sees the gradient of the whole batch's mean loss, as
one process would (up to float rounding: the sums are grouped differently). The training
metrics (loss sum, correct, seen) are summed over the ranks after every step, so every rank
knows the global figures and the epoch lines, checkpoints and early stopping agree.
"""
from __future__ import annotations

import numpy as np

from . import ReduceOp, all_reduce, get_rank, get_world_size
from ..tensor import Tensor


def shard_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [lo, hi) of an n-row global batch that ``rank`` trains on (sizes differ by <= 1)."""
    return rank * n // world, (rank + 1) * n // world


class RankShard:
    """A DataLoader of global batches, seen by one rank as its share of each batch. Its
    state_dict / load_state_dict and len are the global loader's (checkpoints stay the
    same as one process's)."""

    def __init__(self, loader, ddp):
        self.loader, self.ddp = loader, ddp
        self.rank, self.world = get_rank(), get_world_size()

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            n = y.shape[0]
            lo, hi = shard_bounds(n, self.rank, self.world)
            self.ddp.grad_weight = (hi - lo) * self.world / n if n else 1.0
            yield x[lo:hi], y[lo:hi]

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def global_sums(sums, device) -> tuple:
    """(loss sum, correct, seen) of this rank's part -> summed over all ranks (one collective
    of three numbers)."""
    loss_sum, correct, seen = sums
    t = Tensor(np.array([float(loss_sum), float(correct), float(seen)]), device=device)
    total = all_reduce(t, ReduceOp.SUM).tolist()
    return total[0], total[1], int(round(total[2]))
