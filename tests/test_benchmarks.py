"""Smoke tests of benchmarks/compare_engines.py: the same networks in every engine, and one
tiny end-to-end run (minitorch and PyTorch, 1 step of LeNet-5) with the files it writes."""
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import engines  # noqa: E402
from engines import minitorch_engine  # noqa: E402


def engine_or_skip(name: str, package: str):
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not importable (pip install -e '.[bench]')")
    return importlib.import_module(f"engines.{name}_engine")


# jax and dezero are in the bench extra only; tinygrad needs clang too, so it is left to the
# benchmark itself (compare_engines --engines ... tinygrad)
@pytest.mark.parametrize("name, package", [("torch", "torch"), ("jax", "jax"),
                                           ("dezero", "dezero")])
@pytest.mark.parametrize("model", [
    "lenet5", "simplenet",
    # building minitorch's VGG-11 and ResNet-18 takes seconds (the harness checks every row)
    pytest.param("vgg11", marks=pytest.mark.slow), pytest.param("resnet18", marks=pytest.mark.slow)])
def test_every_engine_builds_minitorchs_network(name, package, model):
    """Same parameter count as the minitorch zoo's network (the harness also checks this for
    every row it measures)."""
    engine = engine_or_skip(name, package)
    assert engine.param_count(engine.build(model)) == \
        minitorch_engine.param_count(minitorch_engine.build(model))


@pytest.mark.parametrize("name, package", [("minitorch", "minitorch"), ("torch", "torch"),
                                           ("dezero", "dezero")])
def test_measure_trains_lenet(name, package):
    """Two timed steps of LeNet-5 at batch 4: finite loss, images/s and memory measured."""
    engine = engine_or_skip(name, package)
    r = engines.measure(engine, "lenet5", 4, "adam", steps=2, warmup=1, repeats=1)
    assert r["images_per_s"] > 0 and r["peak_mem_mb"] >= 0 and r["params"] == 61706
    assert 1.0 < r["loss_first"] < 4.0, r  # about ln(10) from every engine's initialisation


def test_flops_per_image_counts_simplenet_from_its_layers():
    # conv1 20x25 MACs at 24x24, conv2 50x500 at 8x8, fc 800x256 and 256x10; x2 FLOPs, x3 passes
    macs = 20 * 25 * 24 * 24 + 50 * 500 * 8 * 8 + 800 * 256 + 256 * 10
    assert minitorch_engine.flops_per_image("simplenet") == 6 * macs


def test_one_command_writes_json_markdown_and_chart(tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not importable: the ratios need PyTorch")
    prefix = tmp_path / "bench"
    cmd = [sys.executable, str(BENCH / "compare_engines.py"), "--engines", "minitorch", "torch",
           "--models", "lenet5", "--batch-sizes", "8", "--optims", "sgd", "--threads", "1",
           "--window-images", "8", "--min-steps", "1", "--warmup", "1", "--repeats", "1",
           "--sgemm-n", "128", "--profile", "lenet5:8:sgd", "resnet18:2:sgd",
           "--profile-steps", "1",
           "--out", str(prefix)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "command: " in done.stdout and "load average" in done.stdout
    result = json.loads(prefix.with_suffix(".json").read_text())
    rows = {r["engine"]: r for r in result["rows"]}
    assert set(rows) == {"minitorch", "torch"} and result["problems"] == []
    for r in rows.values():
        assert r["images_per_s"] > 0 and r["params"] == 61706 and r["threads"] == 1
    assert result["sgemm"]["1"]["gflops"] > 0
    assert result["flops_per_image"]["lenet5"] > 0
    lenet, resnet = result["profiles"]  # direct conv (LeNet); Winograd, im2col + GEMM (ResNet)
    assert {"Conv2dDirect", "optimizer.step", "other (python, graph)"} <= {
        row["op"] for row in lenet["rows"]}
    assert {"direct conv forward", "direct conv backward", "pooling", "loss", "optimizer.step",
            "python, graph"} <= set(lenet["summary"])
    assert {"Conv2d", "Conv2dWinograd"} <= {row["op"] for row in resnet["rows"]}
    assert {"im2col", "col2im", "conv forward: GEMMs, copies", "winograd conv forward",
            "winograd conv backward", "batch norm"} <= set(resnet["summary"])
    for p in (lenet, resnet):
        assert sum(p["summary"].values()) == pytest.approx(p["ms_per_step"])
    markdown = prefix.with_suffix(".md").read_text()
    ratio = rows["minitorch"]["images_per_s"] / rows["torch"]["images_per_s"]
    assert f"| LeNet-5 | 8 | sgd | 1 | {rows['minitorch']['images_per_s']:,.0f}" in markdown
    assert f"({ratio:.2f}x)" in markdown and "Per-op profile" in markdown
    if importlib.util.find_spec("matplotlib") is not None:
        assert prefix.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_engine_is_left_out_with_its_reason(monkeypatch):
    import compare_engines
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert "not importable (pip install jax" in compare_engines.available("jax")
