"""DistributedSampler: each rank visits its own share of the dataset (torch's name and rules).

Every rank draws the same permutation (seeded by ``seed + epoch``: call ``set_epoch(e)`` at the
start of each epoch so the order changes between epochs), pads it by wrapping around (or cuts
it, with ``drop_last=True``) to a multiple of the number of ranks, and takes every
``num_replicas``-th index starting at its rank. So the shards are disjoint, equally long, and
together cover the dataset once per epoch (plus the few wrapped-around indices of the padding).
"""
from __future__ import annotations

import math

import numpy as np

from .sampler import Sampler


class DistributedSampler(Sampler):
    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got "
                             f"{num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got "
                             f"{rank!r}")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def order(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.total_size > n:  # pad by wrapping around, as many times as needed
            indices = np.resize(indices, self.total_size)
        indices = indices[:self.total_size].astype(np.int64)
        return indices[self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.order().tolist())
