"""minitorch.distributed on MPI with 2 real ranks (mpirun from the mpich wheel), the
DistributedSampler, and DistributedDataParallel: 2 ranks x half the batch must train LeNet-5 to
the same weights as 1 process on the whole batch."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minitorch as mt
from minitorch.utils.data import DistributedSampler

REPO = Path(__file__).resolve().parents[1]


def _mpirun():
    beside_python = Path(sys.executable).parent / "mpirun"
    return str(beside_python) if beside_python.exists() else shutil.which("mpirun")


def _mpi_missing():
    try:
        import mpi4py  # noqa: F401
    except ImportError as exc:
        return f"mpi4py is not importable ({exc}); pip install -e '.[distributed]'"
    if _mpirun() is None:
        return "no mpirun found beside python or on PATH; pip install -e '.[distributed]'"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def run_ranks(code: str, tmp_path, n: int = 2, timeout: float = 240, env=None):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    full_env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1",
                    OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([_mpirun(), "-n", str(n), sys.executable, str(script)],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          env=full_env)


# --------------------------------------------------------------------------- sampler
@pytest.mark.parametrize("n, world, drop_last", [(12, 2, False), (12, 3, True), (10, 4, False),
                                                 (10, 4, True), (1, 2, False)])
def test_distributed_sampler_shards(n, world, drop_last):
    dataset = list(range(n))
    shards = [list(DistributedSampler(dataset, world, r, shuffle=True, seed=3,
                                      drop_last=drop_last)) for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    visited = [i for s in shards for i in s]
    if n % world == 0:
        assert sorted(visited) == dataset                         # exactly once
    elif drop_last:
        assert len(visited) == n - n % world and len(set(visited)) == len(visited)
    else:
        assert set(visited) == set(dataset)                       # all, a few twice (padding)
        assert len(visited) == -(-n // world) * world


def test_distributed_sampler_epochs_reshuffle_and_agree_across_ranks():
    ds = list(range(20))
    a, b = DistributedSampler(ds, 2, 0, seed=1), DistributedSampler(ds, 2, 1, seed=1)
    first = list(a) + list(b)
    a.set_epoch(1), b.set_epoch(1)
    second = list(a) + list(b)
    assert sorted(first) == sorted(second) == ds and first != second
    assert list(DistributedSampler(ds, 2, 0, shuffle=False)) == list(range(0, 20, 2))
    with pytest.raises(ValueError, match=r"DistributedSampler: rank must be in \[0, 2\), got 2"):
        DistributedSampler(ds, 2, 2)


def test_collectives_need_a_process_group():
    import minitorch.distributed as dist
    with pytest.raises(dist.DistributedError, match="call init_process_group"):
        dist.all_reduce(mt.ones(2))
    with pytest.raises(ValueError, match="backend must be 'mpi' or 'nccl'"):
        dist.init_process_group("gloo")


# --------------------------------------------------------------------------- collectives
@needs_mpi
def test_collectives_on_two_ranks(tmp_path):
    out = run_ranks("""
        import numpy as np, minitorch as mt, minitorch.distributed as dist
        dist.init_process_group("mpi")
        r, w = dist.get_rank(), dist.get_world_size()
        t = mt.tensor([1.0, 2.0]) * (r + 1)
        assert dist.all_reduce(t.clone(), dist.ReduceOp.SUM).tolist() == [3.0, 6.0]
        assert dist.all_reduce(t.clone(), dist.ReduceOp.MEAN).tolist() == [1.5, 3.0]
        assert dist.all_reduce(t.clone(), dist.ReduceOp.MAX).tolist() == [2.0, 4.0]
        assert dist.all_reduce(t.clone(), dist.ReduceOp.MIN).tolist() == [1.0, 2.0]
        b = mt.arange(4) * (r + 10)
        assert dist.broadcast(b, src=1).tolist() == [0, 11, 22, 33]
        got = [mt.zeros(2) for _ in range(w)]
        dist.all_gather(got, t)
        assert [g.tolist() for g in got] == [[1.0, 2.0], [2.0, 4.0]]
        dist.barrier()
        print(f"rank {r} of {w} ok", flush=True)
    """, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rank 0 of 2 ok" in out.stdout and "rank 1 of 2 ok" in out.stdout


@needs_mpi
def test_a_rank_that_never_joins_is_an_error_not_a_hang(tmp_path):
    out = run_ranks("""
        import datetime, sys, minitorch as mt, minitorch.distributed as dist
        dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
        if dist.get_rank() == 0:
            try:
                dist.all_reduce(mt.ones(3))
            except dist.DistributedError as exc:
                print("ERROR:", exc, flush=True)
                sys.exit(3)
        else:
            import time; time.sleep(6)   # takes a different path: never joins
    """, tmp_path, timeout=120)
    assert out.returncode != 0
    assert "all_reduce: rank 0 of 2 waited 2 s and the other ranks did not join" in out.stdout


@needs_mpi
def test_a_killed_rank_stops_the_others_with_a_clear_report(tmp_path):
    out = run_ranks("""
        import os, signal, minitorch as mt, minitorch.distributed as dist
        dist.init_process_group("mpi")
        for step in range(1000):
            if dist.get_rank() == 1 and step == 5:
                os.kill(os.getpid(), signal.SIGKILL)
            dist.all_reduce(mt.ones(10))
        print("finished all steps")
    """, tmp_path, timeout=120)
    assert out.returncode != 0
    assert "finished all steps" not in out.stdout
    assert "BAD TERMINATION" in out.stdout + out.stderr and "Killed" in out.stdout + out.stderr


@needs_mpi
def test_ddp_refuses_ranks_with_different_models(tmp_path):
    out = run_ranks("""
        import minitorch.nn as nn, minitorch.distributed as dist
        from minitorch.nn.parallel import DistributedDataParallel
        dist.init_process_group("mpi")
        width = 8 if dist.get_rank() == 0 else 9
        try:
            DistributedDataParallel(nn.Sequential(nn.Linear(4, width), nn.Linear(width, 2)))
        except dist.DistributedError as exc:
            print(f"ERROR: {exc}", flush=True)
    """, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("the ranks wrap different models (rank 0 has ('0.weight', (8, 4), "
                            "'float32'), rank 1 has ('0.weight', (9, 4), 'float32'))") == 2


# --------------------------------------------------------------------------- DDP = 1 process
DDP_TRAINING = """
    import sys, numpy as np, minitorch as mt, minitorch.nn.functional as F
    from minitorch.models import LeNet5
    from minitorch.data.mnist import MNIST
    STEPS, BATCH = 50, 32
    data = MNIST(root=None, train=True)
    x = mt.tensor(data.data[:STEPS * BATCH, None].astype(np.float32) / 255.0)
    y = mt.tensor(data.targets[:STEPS * BATCH])

    def train(model, rank=0, world=1):
        opt = mt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for step in range(STEPS):
            lo = step * BATCH
            share = BATCH // world
            xb = x[lo + rank * share: lo + (rank + 1) * share]
            yb = y[lo + rank * share: lo + (rank + 1) * share]
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        return model
"""


@needs_mpi
@pytest.mark.slow
def test_two_ranks_train_lenet_to_the_weights_of_one_process(tmp_path):
    out = run_ranks(DDP_TRAINING + """
    import minitorch.distributed as dist
    from minitorch.nn.parallel import DistributedDataParallel
    dist.init_process_group("mpi")
    mt.manual_seed(0 if dist.get_rank() == 0 else 123)  # rank 0's init is broadcast
    ddp = DistributedDataParallel(LeNet5(), bucket_cap_mb=0.05)   # several buckets
    train(ddp, dist.get_rank(), dist.get_world_size())
    mt.save(ddp.module.state_dict(), f"rank{dist.get_rank()}.safetensors")
    """, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    namespace = {}
    exec(textwrap.dedent(DDP_TRAINING), namespace)
    mt.manual_seed(0)
    single = namespace["train"](namespace["LeNet5"]()).state_dict()
    ranks = [mt.load(tmp_path / f"rank{r}.safetensors") for r in range(2)]
    for name, ref in single.items():
        a, b = ranks[0][name].numpy(), ranks[1][name].numpy()
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: the ranks disagree")
        scale = np.abs(ref.numpy()).max()
        assert np.abs(a - ref.numpy()).max() <= 1e-5 * scale, name


# --------------------------------------------------------------------------- the CLI
CLI_FLAGS = ["--model", "lenet5", "--limit-train", "1000", "--limit-test", "300",
             "--batch-size", "50", "--optimizer", "sgd", "--quiet", "--seed", "3"]


def _train(tmp_path, extra, ranks=None):
    cmd = [sys.executable, "-m", "minitorch", "train"] + CLI_FLAGS + extra
    if ranks:
        cmd = [_mpirun(), "-n", str(ranks)] + cmd
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=400, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _close(a, b):
    for name in a["model"]:
        x, y = a["model"][name].numpy(), b["model"][name].numpy()
        assert np.abs(x - y).max() <= 1e-5 * max(np.abs(y).max(), 1e-12), name


@needs_mpi
@pytest.mark.slow
def test_mpirun_cli_trains_like_one_process_and_resumes(tmp_path):
    one = _train(tmp_path, ["--epochs", "2", "--save", "one.safetensors"])
    two = _train(tmp_path, ["--epochs", "2", "--save", "two.safetensors",
                            "--checkpoint-dir", "ck"], ranks=2)
    # one voice: rank 0 alone prints and writes; the epoch lines (global metrics) match
    assert two.count("saved checkpoint to") == 1 and two.count("epoch 2/2") == 1
    strip = lambda text: [line.split("  ")[:4] for line in text.splitlines()  # noqa: E731
                          if line.startswith("epoch")]
    assert strip(one) == strip(two)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "step-00000020.safetensors", "step-00000040.safetensors"]
    a, b = mt.load(tmp_path / "two.safetensors"), mt.load(tmp_path / "one.safetensors")
    _close(a, b)
    assert a["meta"]["metrics"]["test_acc"] == b["meta"]["metrics"]["test_acc"]
    # an interrupted 2-rank run (1 of 2 epochs) resumed under mpirun ends where it would have
    _train(tmp_path, ["--epochs", "2", "--checkpoint-dir", "ck1", "--checkpoint-every", "7"],
           ranks=2)
    (tmp_path / "ck1" / "step-00000040.safetensors").unlink()    # as if killed after step 35
    resumed = _train(tmp_path, ["--epochs", "2", "--resume", "ck1", "--save", "r.safetensors"],
                     ranks=2)
    assert "resumed from" in resumed and resumed.count("resumed from") == 1
    _close(mt.load(tmp_path / "r.safetensors"), b)


@needs_mpi
@pytest.mark.cuda
def test_nccl_collectives_on_one_gpu(tmp_path):
    """A single GPU still runs 1-rank NCCL collectives: the path without a host copy."""
    out = run_ranks("""
        import cupy, minitorch as mt, minitorch.distributed as dist
        dist.init_process_group("nccl")
        t = mt.tensor([1.0, 2.0], device="cuda")
        assert isinstance(dist.all_reduce(t, dist.ReduceOp.MEAN).data, cupy.ndarray)
        assert t.tolist() == [1.0, 2.0]
        dist.broadcast(t, 0)
        got = [mt.zeros(2, device="cuda")]
        dist.all_gather(got, t)
        assert got[0].tolist() == [1.0, 2.0]
        dist.barrier()
        print("nccl ok", flush=True)
    """, tmp_path, n=1)
    assert out.returncode == 0 and "nccl ok" in out.stdout, out.stdout + out.stderr
