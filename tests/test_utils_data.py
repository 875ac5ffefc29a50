"""minitorch.utils.data: torch.utils.data's names and behaviour (samplers, DataLoader
arguments, collation, worker processes with deterministic seeding). The older tests of the
same classes through their old path (minitorch.data) are in test_data.py."""
import collections
import os
import time

import numpy as np
import pytest

import minitorch as mt
from minitorch.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                                  IterableDataset,
                                  RandomSampler, Sampler, SequentialSampler, Subset,
                                  SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                                  default_collate, default_convert, get_worker_info,
                                  random_split)

try:
    import torch
    import torch.utils.data as tud
    TORCH_REASON = None
except Exception as exc:  # noqa: BLE001 - any import failure means: no reference here
    torch = tud = None
    TORCH_REASON = f"PyTorch is not importable ({exc!r})"
needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON or "")


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return x, np.arange(n, dtype=np.int64) * 10


class Samples(Dataset):
    """A map-style dataset without get_batch: every sample goes through __getitem__."""

    def __init__(self, n=20):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), int(i)


class Noisy(Dataset):
    """Each sample draws from minitorch's global generator (as a random transform does) and
    reports which process made it."""

    def __init__(self, n=24):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return (int(i), float(mt.rand(1).data[0]), os.getpid(),
                -1 if info is None else info.id)


# --------------------------------------------------------------------------- import paths
def test_one_implementation_under_both_paths():
    import minitorch.data as old
    import minitorch.utils.data as new
    from minitorch.data.dataloader import DataLoader as OldLoader
    from minitorch.data.dataset import TensorDataset as OldTensorDataset
    assert old.DataLoader is new.DataLoader is OldLoader
    assert old.TensorDataset is new.TensorDataset is OldTensorDataset
    assert old.random_split is new.random_split and old.Subset is new.Subset
    assert mt.utils.data.DataLoader is DataLoader


# --------------------------------------------------------------------------- samplers
def test_sequential_and_batch_sampler_match_torch():
    ds = list(range(11))
    assert list(SequentialSampler(ds)) == list(range(11))
    for drop_last in (False, True):
        ours = list(BatchSampler(SequentialSampler(ds), 4, drop_last))
        if torch is not None:
            ref = list(tud.BatchSampler(tud.SequentialSampler(ds), 4, drop_last))
            assert ours == ref
        assert ours[:2] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        assert len(BatchSampler(SequentialSampler(ds), 4, drop_last)) == len(ours)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(SequentialSampler(ds), 0, False)


def test_random_sampler_permutations_replacement_and_num_samples():
    ds = list(range(10))
    g = mt.Generator().manual_seed(0)
    a = list(RandomSampler(ds, generator=g))
    assert sorted(a) == ds and a != ds
    b = list(RandomSampler(ds, generator=mt.Generator().manual_seed(0)))
    assert a == b                                               # seeded: repeats
    long = list(RandomSampler(ds, num_samples=25, generator=g))
    assert len(long) == 25                                      # 2 whole permutations + 5
    assert sorted(long[:10]) == ds and sorted(long[10:20]) == ds and len(set(long[20:])) == 5
    rep = list(RandomSampler(ds, replacement=True, num_samples=1000, generator=g))
    assert len(rep) == 1000 and set(rep) == set(ds)             # all values, with repeats
    assert len(RandomSampler(ds, num_samples=7)) == 7
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a bool"):
        RandomSampler(ds, replacement=1)


def test_subset_random_and_weighted_samplers():
    g = mt.Generator().manual_seed(1)
    idx = [3, 7, 9, 11]
    s = list(SubsetRandomSampler(idx, generator=g))
    assert sorted(s) == idx
    w = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=40000, generator=g)
    counts = np.bincount(list(w), minlength=3)
    assert counts[0] == 0                                       # zero weight: never drawn
    assert abs(counts[2] / counts[1] - 3.0) < 0.15              # 3:1, within ~5 sigma
    no_rep = list(WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False, generator=g))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement from 2 non-zero weights"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="finite, >= 0 and not all zero"):
        WeightedRandomSampler([0, 0], 3)


def test_custom_sampler_and_batch_sampler_in_the_loader():
    x, y = _xy(10)
    ds = TensorDataset(x, y)

    class Reverse(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self):
            return self.n

    got = [b[1].data.tolist() for b in DataLoader(ds, batch_size=4, sampler=Reverse(10))]
    assert got == [[90, 80, 70, 60], [50, 40, 30, 20], [10, 0]]
    batches = [[0, 5], [9], [1, 2, 3]]
    loader = DataLoader(ds, batch_sampler=batches)
    assert len(loader) == 3
    assert [b[1].data.tolist() for b in loader] == [[0, 50], [90], [10, 20, 30]]


def test_batch_size_none_yields_converted_samples():
    x, y = _xy(3)
    loader = DataLoader(Samples(3), batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and len(items) == 3
    feats, label = items[2]
    assert isinstance(feats, mt.Tensor) and feats.shape == (2,) and label == 2


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs,message", [
    (dict(num_workers=-1), "num_workers option should be a non-negative integer"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in "
                              "multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(batch_size=True), "batch_size must be a positive integer"),
])
def test_argument_errors_as_pytorch(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(TensorDataset(*_xy(4)), **kwargs)
    if torch is not None:  # PyTorch refuses the same combinations
        with pytest.raises((ValueError, TypeError)):
            tud.DataLoader(tud.TensorDataset(torch.zeros(4)), **kwargs)


def test_accepted_pytorch_arguments():
    loader = DataLoader(TensorDataset(*_xy(8)), batch_size=4, pin_memory=True,
                        pin_memory_device="", timeout=0, worker_init_fn=None,
                        multiprocessing_context=None)
    assert loader.pin_memory and loader.prefetch_factor is None
    assert [b[1].data.tolist() for b in loader] == [[0, 10, 20, 30], [40, 50, 60, 70]]


# --------------------------------------------------------------------------- collation
def _torch_to_numpy(obj):
    if isinstance(obj, torch.Tensor):
        return obj.numpy()
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_torch_to_numpy(o) for o in obj))
    if isinstance(obj, (list, tuple)):
        return [_torch_to_numpy(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _torch_to_numpy(v) for k, v in obj.items()}
    return obj


def _ours_to_numpy(obj):
    if isinstance(obj, mt.Tensor):
        return obj.data
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_ours_to_numpy(o) for o in obj))
    if isinstance(obj, (list, tuple)):
        return [_ours_to_numpy(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _ours_to_numpy(v) for k, v in obj.items()}
    return obj


def _assert_same(a, b, where="batch"):
    assert type(a) is type(b) or (isinstance(a, list) and isinstance(b, list)), \
        f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs " \
                                                          f"{b.dtype}{b.shape}"
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for i, (p, q) in enumerate(zip(a, b)):
            _assert_same(p, q, f"{where}[{i}]")
    else:
        assert a == b, where


Point = collections.namedtuple("Point", "x y")


@needs_torch
@pytest.mark.parametrize("samples", [
    [(np.ones((2, 3), np.float32) * k, k) for k in range(3)],              # (array, int)
    [(np.arange(4, dtype=np.uint8), 0.5 * k, bool(k % 2)) for k in range(3)],
    [{"img": np.full(2, k, np.int16), "meta": {"id": k, "name": f"s{k}"}} for k in range(2)],
    [((np.float64(k), [k, k + 1]), np.int32(k)) for k in range(3)],        # nested, scalars
    [Point(np.ones(2) * k, k) for k in range(2)],                          # namedtuple kept
])
def test_default_collate_matches_torch(samples):
    ours = _ours_to_numpy(default_collate(samples))
    ref = _torch_to_numpy(tud.default_collate(samples))
    _assert_same(ours, ref)


@needs_torch
def test_default_convert_matches_torch():
    sample = (np.ones(3, np.float32), {"k": np.int64(4)}, "s", 2)
    _assert_same(_ours_to_numpy(default_convert(sample)),
                 _torch_to_numpy(tud.default_convert(sample)))


def test_default_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="don't know how to batch samples of type object"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty list"):
        default_collate([])


# --------------------------------------------------------------------------- workers
@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_workers_give_the_same_batches_in_order(num_workers):
    ds = Samples(23)
    ref = [(b[0].data, b[1].data) for b in DataLoader(ds, batch_size=4, shuffle=True,
                                                      generator=mt.Generator().manual_seed(5))]
    got = [(b[0].data, b[1].data) for b in DataLoader(ds, batch_size=4, shuffle=True,
                                                      num_workers=num_workers,
                                                      generator=mt.Generator().manual_seed(5))]
    assert len(got) == len(ref) == 6
    for (a, b), (c, d) in zip(got, ref):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def _noisy_epoch(num_workers, seed, persistent=False, epochs=1):
    mt.manual_seed(seed)
    loader = DataLoader(Noisy(24), batch_size=4, num_workers=num_workers,
                        persistent_workers=persistent)
    out = []
    for _ in range(epochs):
        out.append([tuple(t.data.tolist() if isinstance(t, mt.Tensor) else t for t in b)
                    for b in loader])
    return out


def test_worker_seeding_is_deterministic_and_per_worker():
    a = _noisy_epoch(2, seed=11)[0]
    b = _noisy_epoch(2, seed=11)[0]
    c = _noisy_epoch(2, seed=12)[0]
    def values(epoch):  # all but the pids, which differ between runs
        return [(batch[0], batch[1], batch[3]) for batch in epoch]
    assert values(a) == values(b)                   # a seeded run repeats exactly
    rand_a = [r for batch in a for r in batch[1]]
    assert rand_a != [r for batch in c for r in batch[1]]      # another seed, other numbers
    # batch k is made by worker k % 2, in two different processes with different streams
    assert [batch[3][0] for batch in a] == [k % 2 for k in range(6)]
    assert len({batch[2][0] for batch in a}) == 2 and os.getpid() not in {b[2][0] for b in a}
    first0, first1 = a[0][1], a[1][1]
    assert first0 != first1
    # in the main process, samples draw from the global generator instead
    main = _noisy_epoch(0, seed=11)[0]
    assert [batch[3][0] for batch in main] == [-1] * 6


def test_worker_info_and_init_fn(tmp_path):
    marker = tmp_path / "init"

    def init(worker_id):
        info = get_worker_info()
        assert info is not None and info.id == worker_id and info.num_workers == 2
        (tmp_path / f"init{worker_id}").write_text(str(info.seed))

    list(DataLoader(Samples(8), batch_size=2, num_workers=2, worker_init_fn=init))
    seeds = sorted(int((tmp_path / f"init{k}").read_text()) for k in range(2))
    assert seeds[1] - seeds[0] == 1                 # base_seed + worker id, as PyTorch
    assert get_worker_info() is None and not marker.exists()


def test_persistent_workers_keep_their_processes():
    mt.manual_seed(3)
    loader = DataLoader(Noisy(8), batch_size=2, num_workers=2, persistent_workers=True)
    pids = [{int(b[2].data[0]) for b in loader} for _ in range(2)]
    assert pids[0] == pids[1] and len(pids[0]) == 2
    loader = DataLoader(Noisy(8), batch_size=2, num_workers=2)
    fresh = [{int(b[2].data[0]) for b in loader} for _ in range(2)]
    assert not fresh[0] & fresh[1]                  # non-persistent: new processes per epoch


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is broken")
        return np.zeros(1), i


class Dying(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            os._exit(3)   # a crash in native code, an out-of-memory kill...
        return np.zeros(1), i


def test_worker_exception_is_raised_with_its_traceback():
    with pytest.raises(KeyError, match=r"(?s)Caught KeyError in DataLoader worker process 0.*"
                                       r"sample 5 is broken"):
        list(DataLoader(Failing(), batch_size=2, num_workers=2))


def test_dead_worker_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+, exit code 3\) "
                                           r"exited unexpectedly"):
        list(DataLoader(Dying(), batch_size=2, num_workers=2))
    assert time.monotonic() - start < 30


def test_abandoned_epoch_does_not_leak_into_the_next():
    loader = DataLoader(Samples(40), batch_size=4, num_workers=2, persistent_workers=True)
    it = iter(loader)
    next(it)
    del it                                          # batches 1.. still in flight
    got = [b[1].data.tolist() for b in loader]
    assert got == [list(range(k, k + 4)) for k in range(0, 40, 4)]


# --------------------------------------------------------------------------- resume
def test_resume_with_custom_batch_sampler(tmp_path):
    ds = TensorDataset(*_xy(10))
    batches = [[9, 8], [0], [1, 2, 3], [4, 5, 6, 7]]
    loader = DataLoader(ds, batch_sampler=batches)
    it = iter(loader)
    next(it)
    next(it)
    mt.save({"loader": loader.state_dict()}, tmp_path / "s.safetensors")
    rest = [b[1].data.tolist() for b in it]
    fresh = DataLoader(ds, batch_sampler=[[0]])
    fresh.load_state_dict(mt.load(tmp_path / "s.safetensors")["loader"])
    assert [b[1].data.tolist() for b in fresh] == rest == [[10, 20, 30], [40, 50, 60, 70]]


def test_resume_through_workers_gives_the_same_remaining_batches():
    ds = Samples(30)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=mt.Generator().manual_seed(2))
    it = iter(loader)
    [next(it) for _ in range(3)]
    state = loader.state_dict()
    rest = [b[1].data.tolist() for b in it]
    fresh = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
    fresh.load_state_dict(state)
    assert [b[1].data.tolist() for b in fresh] == rest


def test_state_dict_of_another_dataset_size_is_refused():
    loader = DataLoader(TensorDataset(*_xy(10)), batch_size=3, shuffle=True)
    next(iter(loader))
    with pytest.raises(ValueError, match=r"stored permutation has shape \(10,\), but the "
                                         r"dataset has 12 samples per epoch"):
        DataLoader(TensorDataset(*_xy(12)), batch_size=3).load_state_dict(loader.state_dict())


# --------------------------------------------------------------------------- datasets
@needs_torch
def test_random_split_sizes_match_torch():
    for lengths in ([0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [0.1] * 10):
        ours = [len(s) for s in random_split(list(range(101)), lengths)]
        ref = [len(s) for s in tud.random_split(list(range(101)), lengths)]
        assert ours == ref


def test_concat_and_subset_compose():
    a, b = TensorDataset(*_xy(3)), Samples(2)
    cat = ConcatDataset([a, b])
    assert len(cat) == 5 and cat[3][1] == 0 and cat[-1][1] == 1
    sub = Subset(cat, [4, 0])
    assert sub[0][1] == 1 and sub[1][1].item() == 0
    with pytest.raises(IndexError, match="index 5 is out of range"):
        cat[5]


def test_spawned_workers_need_only_picklable_parts():
    """multiprocessing "spawn" (macOS and Windows' default) pickles the dataset and the
    batching function into each worker: a Subset of a TensorDataset goes through intact."""
    ds = Subset(TensorDataset(*_xy(12)), list(range(11, -1, -1)))
    loader = DataLoader(ds, batch_size=5, num_workers=1, multiprocessing_context="spawn")
    assert [b[1].data.tolist() for b in loader] == [[110, 100, 90, 80, 70], [60, 50, 40, 30, 20],
                                                    [10, 0]]


# --------------------------------------------------------------------------- iterable
class Stream(IterableDataset):
    """range(n), split between workers as PyTorch's documentation shows."""

    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


if torch is not None:
    class TorchStream(tud.IterableDataset):
        def __init__(self, n, shard=True):
            self.n, self.shard = n, shard

        def __iter__(self):
            info = tud.get_worker_info()
            if info is None or not self.shard:
                return iter(range(self.n))
            return iter(range(info.id, self.n, info.num_workers))

        def __len__(self):
            return self.n


@pytest.mark.filterwarnings("ignore:This DataLoader will create")  # torch: 3 workers, 2 cores
@pytest.mark.parametrize("num_workers", [0, 2, 3])
@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (None, False)])
def test_iterable_dataset_batches_in_pytorchs_order(num_workers, batch_size, drop_last):
    ours = DataLoader(Stream(11), batch_size=batch_size, drop_last=drop_last,
                      num_workers=num_workers)
    got = [b.data.tolist() if isinstance(b, mt.Tensor) else b for b in ours]
    assert len(ours) == {None: 11, 3: 3 if drop_last else 4}[batch_size]
    flat = sorted(v for b in got for v in (b if isinstance(b, list) else [b]))
    if not drop_last:
        assert flat == list(range(11))
    if torch is not None:
        ref = tud.DataLoader(TorchStream(11), batch_size=batch_size, drop_last=drop_last,
                             num_workers=num_workers)
        assert got == [b.tolist() if isinstance(b, torch.Tensor) else b for b in ref]


def test_iterable_dataset_rules():
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified sampler"):
        DataLoader(Stream(3), sampler=[0, 1])
    with pytest.raises(TypeError, match="ConcatDataset does not support IterableDataset"):
        ConcatDataset([Stream(2)])
    chained = Stream(2) + Stream(3)
    assert isinstance(chained, ChainDataset) and len(chained) == 5
    assert [b.data.tolist() for b in DataLoader(chained, batch_size=2)] == \
        [[0, 1], [0, 1], [2]]
    # without sharding, every worker yields the whole stream (PyTorch's behaviour)
    got = [b.data.tolist() for b in DataLoader(Stream(4, shard=False), batch_size=4,
                                               num_workers=2)]
    assert got == [[0, 1, 2, 3], [0, 1, 2, 3]]
    loader = DataLoader(Stream(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert [b.data.tolist() for b in loader] == [b.data.tolist() for b in loader]


class Sleepy(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(30)
        return i


def test_worker_timeout_raises():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 1 seconds"):
        list(DataLoader(Sleepy(), batch_size=2, num_workers=1, timeout=1))
    assert time.monotonic() - start < 20              # the sleeping worker was stopped
