"""Every notebook in notebooks/ executes top to bottom without an error (nbclient, a python3
kernel, the repository importable, MNIST from $MINITORCH_DATA). The notebooks assert their own
teaching claims (the 5x5 example gives 5, the max-pool gives 7 4 / 6 5, backward matches the
chain rule, LeNet-5 passes 90%...), so a red cell is a broken lesson, not a cosmetic issue.

The notebooks are plain jupytext percent-format scripts (``notebooks/NN_name.py``): readable and
diffable as Python, opened as notebooks by Jupyter with jupytext, and runnable with ``python``.
Slow (tens of seconds to two minutes per notebook on a 2-core CPU); CI runs them.
"""
import os
import time
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
CELL_TIMEOUT = 600  # seconds for one cell: generous for a loaded CI machine


def test_the_notebooks_are_there_as_percent_scripts():
    assert [p.name for p in NOTEBOOKS] == [
        "01_autograd.py", "02_convolution.py", "03_lenet_mnist.py", "04_what_cnns_learn.py",
        "05_optimizers_and_regularisation.py", "06_gpu.py", "07_modern_cnns.py"]
    assert not list((REPO / "notebooks").glob("*.ipynb")), \
        "the .py files are the notebooks' source: don't commit generated .ipynb copies"
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "format_name: percent" in text or "formats: py:percent" in text, path.name
        nb = jupytext.read(path)
        nbformat.validate(nb)
        kinds = [c.cell_type for c in nb.cells]
        assert kinds[0] == "markdown" and "code" in kinds, f"{path.name}: {kinds}"
        compile(text, str(path), "exec")  # plain Python too (magics are comments)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    # The kernel is a child process: it inherits the environment, so make the checkout
    # importable and keep the data root (tests/conftest.py sets MINITORCH_DATA).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    nb = jupytext.read(path)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised:\n{exc}", pytrace=False)
    print(f"{path.name}: executed in {time.perf_counter() - start:.1f} s")
