"""minitorch.viz: every plot returns a labelled Figure showing the right numbers; saliency is
the input gradient; graph_dot names the ops and leaves of the graph."""
import sys

import numpy as np
import pytest

import minitorch as mt
from minitorch import nn, viz

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402


def tiny_cnn():
    mt.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 3 * 3, 4))


def image(seed=0, shape=(1, 8, 8)):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def assert_labelled(fig):
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() or all(ax.get_title() for ax in fig.axes if ax.has_data())
    for ax in fig.axes:
        if ax.has_data() and ax.get_label() != "<colorbar>":
            assert ax.get_title() or ax.get_ylabel() or ax.get_xlabel()


# --------------------------------------------------------------------------- filters
def test_plot_filters_one_input_channel_one_tile_per_kernel():
    conv = tiny_cnn()[0]
    fig = viz.plot_filters(conv)
    assert_labelled(fig)
    tiles = image_axes(fig)
    assert len(tiles) == 3
    w = conv.weight.detach().numpy()
    lim = np.abs(w).max()
    for i, ax in enumerate(tiles):
        np.testing.assert_allclose(ax.images[0].get_array(), w[i, 0])
        assert ax.images[0].get_clim() == pytest.approx((-lim, lim))  # centred at 0
        assert ax.get_title() == f"filter {i}"
    assert fig._supxlabel.get_text() and fig._supylabel.get_text()


def test_plot_filters_grid_out_by_in_and_limits():
    w = mt.randn(5, 4, 3, 3)
    fig = viz.plot_filters(w, max_out=2, max_in=3)
    tiles = image_axes(fig)
    assert len(tiles) == 2 * 3
    np.testing.assert_allclose(tiles[1 * 3 + 2].images[0].get_array(), w.numpy()[1, 2])
    assert "first 2 of 5" in fig.get_suptitle()
    with pytest.raises(ValueError, match="plot_filters"):
        viz.plot_filters(mt.randn(3, 3))


# --------------------------------------------------------------------------- feature maps
@pytest.mark.parametrize("by_name", [True, False])
def test_feature_maps_are_the_layer_output(by_name):
    model = tiny_cnn()
    x = image()
    layer = "1" if by_name else model[1]
    fig = viz.plot_feature_maps(model, x, layer)
    assert_labelled(fig)
    with mt.no_grad():
        expected = model[1](model[0](mt.tensor(x[None]))).numpy()[0]
    tiles = image_axes(fig)
    assert len(tiles) == 3
    for c, ax in enumerate(tiles):
        np.testing.assert_allclose(ax.images[0].get_array(), expected[c], rtol=1e-6)
        assert ax.get_title() == f"channel {c}"
    assert "'1'" in fig.get_suptitle()


def test_feature_maps_restore_train_mode_and_handle_flat_layers():
    model = tiny_cnn().train()
    fig = viz.plot_feature_maps(model, image(), "4")  # the Linear: a bar chart
    assert fig.axes[0].get_xlabel() == "unit" and fig.axes[0].get_ylabel() == "activation"
    assert len(fig.axes[0].patches) == 4
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="no submodule 'conv9'"):
        viz.plot_feature_maps(model, image(), "conv9")


# --------------------------------------------------------------------------- saliency
def test_saliency_of_a_linear_model_is_its_weight_row():
    # score_k = W[k] . flatten(x) + b[k], so d score_k / dx = W[k]: max |.| over channels.
    mt.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 5 * 6, 3))
    x = image(2, (2, 5, 6))
    w = model[1].weight.detach().numpy().reshape(3, 2, 5, 6)
    for target in range(3):
        s = viz.saliency_map(model, x, target=target)
        assert s.shape == (5, 6)
        np.testing.assert_allclose(s, np.abs(w[target]).max(axis=0), rtol=1e-6)
    with mt.no_grad():
        predicted = int(model(mt.tensor(x[None])).numpy().argmax())
    np.testing.assert_allclose(viz.saliency_map(model, x), np.abs(w[predicted]).max(axis=0),
                               rtol=1e-6)


def test_saliency_cnn_shape_nonnegative_and_leaves_model_alone():
    model = tiny_cnn().train()
    s = viz.saliency_map(model, mt.tensor(image()))
    assert isinstance(s, np.ndarray) and s.shape == (8, 8)
    assert (s >= 0).all() and s.max() > 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="target 7"):
        viz.saliency_map(model, image(), target=7)


def test_plot_saliency_single_and_batch():
    img, s = image(), np.abs(image(1, (8, 8)))
    fig = viz.plot_saliency(img, s, titles=["label 3"])
    assert_labelled(fig)
    assert len(image_axes(fig)) == 3
    assert fig.axes[0].get_title() == "label 3"
    np.testing.assert_allclose(image_axes(fig)[1].images[0].get_array(), s)
    for ax in image_axes(fig):
        assert ax.get_xlabel() == "x (px)" and ax.get_ylabel() == "y (px)"
    batch = viz.plot_saliency(image(0, (2, 1, 8, 8)), np.stack([s, s]))
    assert len(image_axes(batch)) == 6
    with pytest.raises(ValueError, match="differ in size"):
        viz.plot_saliency(img, np.ones((7, 8)))


# --------------------------------------------------------------------------- training curves
def test_plot_training_curves_from_cli_history():
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5 + 0.1 * e, "lr": 0.01,
                "seconds": 1.0, "images_per_s": 10.0, "val_acc": 0.55 + 0.1 * e,
                "test_acc": 0.6 + 0.05 * e} for e in (1, 2, 3)]
    fig = viz.plot_training_curves(history)
    assert_labelled(fig)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "epoch"
    assert "loss" in loss_ax.get_ylabel() and "%" in acc_ax.get_ylabel()
    assert [ln.get_label() for ln in loss_ax.lines] == ["train"]
    lines = {ln.get_label(): ln for ln in acc_ax.lines}
    assert sorted(lines) == ["test", "train", "val"]
    np.testing.assert_allclose(lines["val"].get_ydata(), [65, 75, 85])
    np.testing.assert_allclose(lines["val"].get_xdata(), [1, 2, 3])


def test_plot_training_curves_dict_of_lists_and_bad_input():
    fig = viz.plot_training_curves({"train_loss": [3, 2, 1], "val_loss": [3, 2.5, 2.4]})
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [3, 2.5, 2.4])
    np.testing.assert_allclose(fig.axes[0].lines[1].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="train_loss"):
        viz.plot_training_curves([{"epoch": 1, "lr": 0.1}])


# --------------------------------------------------------------------------- graph
def small_graph():
    W = mt.randn(3, 4, requires_grad=True)
    b = mt.randn(3, 1, requires_grad=True)
    x = mt.randn(4, 2)
    y = mt.sigmoid(W @ x + b)
    return y.sum(), W, b


def test_graph_dot_names_ops_leaves_and_shapes():
    loss, W, b = small_graph()
    dot = viz.graph_dot(loss, {"W": W, "b": b})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for op, shape in [("SumBackward", "()"), ("SigmoidBackward", "(3, 2)"),
                      ("AddBackward", "(3, 2)"), ("MatMulBackward", "(3, 2)")]:
        assert f'"{op}\\n{shape}"' in dot
    assert '"W\\n(3, 4) float32"' in dot and '"b\\n(3, 1) float32"' in dot
    # 4 ops + 2 leaves + the output; 4 op->op/out edges + 2 leaf edges + 1 into out... exactly:
    assert dot.count("->") == 6  # W->MatMul, b->Add, MatMul->Add, Add->Sigmoid, ->Sum, ->out
    assert dot.count("label=") == 4 + 2 + 1 + 2  # nodes + the Add's two numbered inputs


def test_graph_dot_walks_named_parameters_and_shared_leaves():
    model = tiny_cnn()
    out = model(mt.tensor(image()[None]))
    dot = viz.graph_dot(out, model.named_parameters())
    for name in ("0.weight", "0.bias", "4.weight", "4.bias", "MaxPool2dBackward",
                 "ReLUBackward"):
        assert name in dot
    assert out.grad_fn is not None and "Conv2d" in dot  # Conv2dDirectBackward on numba
    a = mt.randn(2, requires_grad=True)
    twice = viz.graph_dot(a * a, {"a": a})
    assert twice.count('"a\\n') == 1 and twice.count("-> n0") == 2  # one leaf, two edges


def test_plot_graph_draws_every_node_left_to_right():
    loss, W, b = small_graph()
    fig = viz.plot_graph(loss, {"W": W, "b": b})
    assert_labelled(fig)
    ax = fig.axes[0]
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    texts = {t.get_text().split("\n")[0]: t.get_position() for t in ax.texts
             if t not in arrows}
    assert set(texts) == {"output", "SumBackward", "SigmoidBackward", "AddBackward",
                          "MatMulBackward", "W", "b"}
    order = ["W", "MatMulBackward", "AddBackward", "SigmoidBackward", "SumBackward", "output"]
    xs = [texts[name][0] for name in order]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # every edge points right
    assert texts["b"][0] < texts["AddBackward"][0]
    assert len(arrows) == 6  # W->MatMul, MatMul->Add, b->Add, Add->Sigmoid, ->Sum, ->out
    assert len(ax.texts) - len(arrows) == 7


def test_draw_graph_without_and_with_graphviz(monkeypatch):
    loss, W, b = small_graph()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    assert viz.draw_graph(loss) == viz.graph_dot(loss)
    monkeypatch.undo()
    graphviz = pytest.importorskip("graphviz")
    src = viz.draw_graph(loss, {"W": W})
    try:
        graphviz.version()
    except Exception:  # the package without the `dot` program cannot render: DOT text
        assert src == viz.graph_dot(loss, {"W": W})
    else:
        assert isinstance(src, graphviz.Source) and "MatMulBackward" in src.source


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install minitorch\[viz\]"):
        viz.plot_filters(mt.randn(2, 1, 3, 3))


# --------------------------------------------------------------------------- CLI --plot
def test_cli_plot_writes_the_curves_next_to_the_checkpoint(tmp_path, capsys):
    from minitorch import cli
    ckpt = tmp_path / "fc64.safetensors"
    code = cli.main(["train", "--model", "fc64", "--epochs", "2", "--limit-train", "256",
                     "--limit-test", "100", "--batch-size", "64", "--quiet", "--no-download",
                     "--save", str(ckpt), "--plot"])
    assert code == 0
    png = tmp_path / "fc64_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"saved training curves to {png}" in capsys.readouterr().out
    # The picture's data is the checkpoint's history.
    history = mt.load(str(ckpt))["meta"]["history"]
    fig = viz.plot_training_curves(history)
    assert len(fig.axes[0].lines[0].get_ydata()) == 2


def test_cli_plot_needs_save(capsys):
    from minitorch import cli
    assert cli.main(["train", "--model", "fc64", "--epochs", "1", "--plot", "--quiet"]) == 2
    assert "--plot" in capsys.readouterr().err
