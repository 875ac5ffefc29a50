"""Every notebook in notebooks/ executes top to bottom without an error (nbclient, a python3
kernel, the repository importable, MNIST from $MINITORCH_DATA). The notebooks assert their own
teaching claims (the 5x5 example gives 5, the max-pool gives 7 4 / 6 5, backward matches the
chain rule, LeNet-5 passes 90%...), so a red cell is a broken lesson, not a cosmetic issue.

Slow (tens of seconds to two minutes per notebook on a 2-core CPU); CI runs them.
"""
import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds for one cell: generous for a loaded CI machine


def test_the_notebooks_are_there_and_generated_without_outputs():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_autograd.ipynb", "02_convolution.ipynb", "03_lenet_mnist.ipynb",
                     "04_what_cnns_learn.ipynb", "05_optimizers_and_regularisation.ipynb",
                     "06_gpu.ipynb"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, \
                    f"{path.name}: commit notebooks without outputs (rebuild them)"


def test_the_notebooks_match_their_generator():
    """notebooks/build_notebooks.py is the source; the .ipynb files must be its output."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  REPO / "notebooks" / "build_notebooks.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, cells in build.NOTEBOOKS.items():
        expected = [c.source for c in build.build(cells).cells]
        actual = [c.source for c in nbformat.read(REPO / "notebooks" / name, as_version=4).cells]
        assert actual == expected, f"{name} is stale: run python notebooks/build_notebooks.py"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    # The kernel is a child process: it inherits the environment, so make the checkout
    # importable and keep the data root (tests/conftest.py sets MINITORCH_DATA).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised:\n{exc}", pytrace=False)
    print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s")
