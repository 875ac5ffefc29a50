"""The CPU thread setting (minitorch/threads.py): set/get, the environment variable, the
default, the pool's contract, and results that do not depend on the number of threads."""
import os
import threading
import time

import numpy as np
import pytest

import minitorch as mt
import minitorch.nn.functional as F
import minitorch.ops.conv as conv
import minitorch.threads as threads
from minitorch.cli import build_parser, config_from_args
from minitorch.cpu import HAVE_NUMBA
from minitorch.cpu.table import NUMBA, REFERENCE
from minitorch.kernel_table import use_kernels
from minitorch.models import get_model


@pytest.fixture(autouse=True)
def restore_threads():
    before = mt.get_num_threads()
    yield
    mt.set_num_threads(before)


def test_set_and_get_num_threads():
    mt.set_num_threads(2)
    assert mt.get_num_threads() == 2
    mt.set_num_threads(1)
    assert mt.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, None])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match="set_num_threads: the number of threads must be a "
                                         "positive int"):
        mt.set_num_threads(bad)


def test_environment_variables_set_the_default(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    monkeypatch.setenv("MINITORCH_NUM_THREADS", "3")
    assert threads.default_num_threads() == 3    # minitorch's own variable first
    monkeypatch.delenv("MINITORCH_NUM_THREADS")
    assert threads.default_num_threads() == 5    # then PyTorch's
    for bad in ("zero", "0", "-2"):
        monkeypatch.setenv("MINITORCH_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="MINITORCH_NUM_THREADS=.*positive integer"):
            threads.default_num_threads()


def test_default_leaves_cores_that_a_busy_machine_uses(monkeypatch):
    monkeypatch.delenv("MINITORCH_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_cores", lambda: 4)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (0.3, 0.0, 0.0))
    assert threads.default_num_threads() == 4    # idle machine: every core
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (2.5, 0.0, 0.0))
    assert threads.default_num_threads() == 3    # two cores busy elsewhere (one is our own)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (40.0, 0.0, 0.0))
    assert threads.default_num_threads() == 1    # overloaded: one thread, never zero


@pytest.mark.parametrize("n", [1, 2, 3])
def test_parallel_for_runs_every_chunk_once(n):
    mt.set_num_threads(n)
    seen = []
    lock = threading.Lock()

    def fn(i):
        with lock:
            seen.append(i)

    threads.parallel_for(fn, 37)
    assert sorted(seen) == list(range(37))


def test_parallel_for_nested_runs_serially_and_errors_propagate():
    mt.set_num_threads(2)
    out = np.zeros((4, 5))

    def inner(i):
        threads.parallel_for(lambda j: out.__setitem__((i, j), i * 10 + j), 5)

    threads.parallel_for(inner, 4)
    assert np.array_equal(out, np.add.outer(np.arange(4) * 10, np.arange(5)))

    def boom(i):
        if i == 3:
            raise KeyError("chunk 3")

    with pytest.raises(KeyError, match="chunk 3"):
        threads.parallel_for(boom, 8)


def test_parallel_for_returns_only_when_no_chunk_is_running_even_after_an_error():
    """The caller waits for every worker still inside a chunk (they write into its output),
    also when a chunk raised; a worker's error reaches the caller."""
    mt.set_num_threads(2)
    running, lock = [0], threading.Lock()

    def slow(i, fail):
        with lock:
            running[0] += 1
        try:
            time.sleep(0.02)
            if i == fail:
                raise ValueError(f"chunk {i}")
        finally:
            with lock:
                running[0] -= 1

    for fail in (0, 5):   # early (likely the caller's chunk), late (either thread's)
        with pytest.raises(ValueError, match=f"chunk {fail}"):
            threads.parallel_for(lambda i: slow(i, fail), 6)
        assert running[0] == 0


def test_parallel_for_from_two_threads_at_once():
    """Two callers share the workers; each gets every one of its own chunks, once."""
    mt.set_num_threads(2)
    results, errors = {}, []

    def caller(name):
        try:
            for rep in range(30):
                out = np.zeros(9)
                threads.parallel_for(lambda i: out.__setitem__(i, out[i] + i + 1), 9)
                assert np.array_equal(out, np.arange(1, 10)), (name, rep, out)
            results[name] = True
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    callers = [threading.Thread(target=caller, args=(n,)) for n in "ab"]
    for t in callers:
        t.start()
    for t in callers:
        t.join(30)
    assert not errors and results == {"a": True, "b": True}


def test_blas_is_held_at_one_thread():
    """minitorch's pool is the one parallelism: BLAS stays on one thread, in and out of it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return {lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                if lib["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    threadpoolctl.threadpool_limits(2, user_api="blas")
    mt.set_num_threads(2)
    assert blas_threads() == {1}
    inside = []
    threads.parallel_for(lambda i: inside.append(blas_threads()), 4)
    assert inside == [{1}] * 4 and blas_threads() == {1}


def _train(n, name, shape, steps=2):
    mt.set_num_threads(n)
    mt.manual_seed(0)
    model = get_model(name)
    opt = mt.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = mt.tensor(rng.standard_normal(shape).astype(np.float32))
        y = mt.tensor(rng.integers(0, 10, shape[0]))
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("name, shape", [("simplenet", (12, 1, 28, 28)),
                                         ("resnet20", (4, 1, 12, 12))])
def test_training_is_bit_identical_for_any_thread_count(monkeypatch, name, shape):
    # Tiny chunks, so every convolution splits its batch and sums partial weight gradients.
    monkeypatch.setattr(conv, "_MIN_CHUNK_BYTES", 1)
    one, two, three = (_train(n, name, shape) for n in (1, 2, 3))
    for a, b, c in zip(one, two, three):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_batch_chunks_depend_on_shapes_only():
    chunks = conv.batch_chunks(np, 256, 128_000, 100_000)
    assert chunks[0][0] == 0 and chunks[-1][1] == 256
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert len(chunks) <= conv._MAX_CHUNKS
    # a weight larger than the whole col matrix still leaves work for several threads
    assert len(conv.batch_chunks(np, 64, 300_000, 9_400_000)) == conv._MIN_CHUNKS
    assert conv.batch_chunks(np, 0, 128_000, 100_000) == [(0, 0)]


def test_cli_threads_flag():
    config = config_from_args(build_parser().parse_args(["train", "--threads", "2"]))
    assert config.threads == 2
    assert config_from_args(build_parser().parse_args(["train"])).threads is None
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--threads", "0"])


@pytest.mark.parametrize("n", [1, 2])
def test_relu_in_blocks_matches_numpy(n):
    """Large enough for several map_blocks blocks (and a ragged last one); a transposed
    (non-contiguous) input takes the one-call path. NaN passes through max(a, 0)."""
    mt.set_num_threads(n)
    rng = np.random.default_rng(3)
    for a in (rng.standard_normal((5, 70001)).astype(np.float32),
              rng.standard_normal((700, 300)).T):
        a = a.copy() if a.flags.c_contiguous else a
        a[0, :3] = (np.nan, 0.0, -0.0)
        g = rng.standard_normal(a.shape).astype(a.dtype)
        t = mt.tensor(a, requires_grad=True)
        y = mt.relu(t)
        y.backward(mt.tensor(g))
        np.testing.assert_array_equal(y.detach().numpy(), np.maximum(a, 0))
        np.testing.assert_array_equal(t.grad.numpy(), g * (np.maximum(a, 0) > 0))
    assert threads._BLOCK_ELEMENTS < 70001 * 5 // 2


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba not importable")
@pytest.mark.parametrize("shape", [(6, 70, 5, 5), (300, 40)])
def test_numba_batch_norm_matches_the_generic_one_for_any_thread_count(monkeypatch, shape):
    """Many channel blocks (a small block size); the same bits for 1 and 2 threads, and the
    generic BatchNorm's values (reference table) for the output, all grads and running stats."""
    import minitorch.cpu.batchnorm as cpu_bn
    monkeypatch.setattr(cpu_bn, "_CHANNEL_BLOCK_BYTES", 1)
    rng = np.random.default_rng(4)
    x0 = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    w0, b0 = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    g0 = rng.standard_normal(shape).astype(np.float32)

    def run(table, n):
        mt.set_num_threads(n)
        with use_kernels(table):
            x, w, b = (mt.tensor(a, requires_grad=True) for a in (x0, w0, b0))
            rm, rv = mt.zeros(shape[1]), mt.ones(shape[1])
            y = F.batch_norm(x, rm, rv, w, b, training=True)
            y.backward(mt.tensor(g0))
            assert y.grad_fn.name() == ("BatchNormFused" if table is NUMBA else "BatchNorm")
        return [y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy(),
                rm.numpy(), rv.numpy()]

    one, two, generic = run(NUMBA, 1), run(NUMBA, 2), run(REFERENCE, 1)
    for a, b, ref in zip(one, two, generic):
        assert np.array_equal(a, b)
        np.testing.assert_allclose(a, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not hasattr(threads.os, "fork"), reason="needs os.fork")
def test_parallel_for_works_in_a_forked_child():
    """A forked child (DataLoader workers) gets a pool of its own: the parent's threads do not
    exist there. Two chunks that wait for each other need two live threads."""
    mt.set_num_threads(2)

    def two_threads_meet():
        barrier = threading.Barrier(2, timeout=10)
        threads.parallel_for(lambda i: barrier.wait(), 2)

    two_threads_meet()                                # the parent's pool exists now
    pid = threads.os.fork()
    if pid == 0:  # child: exit without running pytest's teardown
        try:
            two_threads_meet()
            code = 0
        except BaseException:  # noqa: BLE001 - the barrier broke: no second thread
            code = 1
        threads.os._exit(code)
    _, status = threads.os.waitpid(pid, 0)
    assert threads.os.waitstatus_to_exitcode(status) == 0


def test_blas_is_held_at_one_thread_from_the_import_on():
    """OpenBLAS's 2-thread sgemm differs in the last bits from its 1-thread one: if BLAS ran
    multi-threaded until the pool's first use, a run (and a run resumed from a checkpoint)
    would depend on when that came. Checked in a fresh process with no thread variables."""
    import subprocess
    import sys
    pytest.importorskip("threadpoolctl")
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                        "MINITORCH_NUM_THREADS")}
    code = ("import minitorch\nfrom threadpoolctl import threadpool_info\n"
            "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[1]", out


@pytest.mark.parametrize("shape", [(256, 800, 256), (100, 64, 40), (70, 3000, 10)])
def test_linear_gemms_in_row_blocks_match_numpy_for_any_thread_count(shape):
    """Linear's three products split into row blocks (minitorch.ops.linalg): each equals the
    plain product, and the bits are the same for 1, 2 and 3 threads."""
    n, k, m = shape
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((n, k), dtype=np.float32), rng.standard_normal((m, k), dtype=np.float32)
    g = rng.standard_normal((n, m), dtype=np.float32)
    results = []
    for threads_ in (1, 2, 3):
        mt.set_num_threads(threads_)
        t, W = mt.tensor(x, requires_grad=True), mt.tensor(w, requires_grad=True)
        y = F.linear(t, W)
        y.backward(mt.tensor(g))
        results.append([y.detach().numpy(), t.grad.numpy(), W.grad.numpy()])
    for got, want in zip(results[0], [x @ w.T, g @ w, g.T @ x]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))
