"""Pictures for teaching: learned filters, feature maps, saliency, training curves, autograd graphs.

    fig = viz.plot_filters(model[0])                     # conv1's kernels, red > 0 > blue
    fig = viz.plot_feature_maps(model, image, "3")       # what conv2 (module "3") responds to
    s = viz.saliency_map(model, image)                   # |d score / d pixel|, shape (H, W)
    fig = viz.plot_saliency(image, s)
    fig = viz.plot_training_curves(checkpoint["meta"]["history"])
    print(viz.graph_dot(loss))                           # the autograd graph as DOT text
    fig = viz.plot_graph(loss)                           # ... or drawn with matplotlib

Every plot returns a ``matplotlib.figure.Figure`` built without pyplot: nothing global is
opened or shown. A notebook displays the returned figure; a script saves it with
``fig.savefig("filters.png")``. matplotlib (and graphviz, for rendering graphs) are optional:
``pip install minitorch[viz]``.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .autograd import Node, no_grad
from .backend import to_numpy
from .tensor import Tensor

_INSTALL = "pip install minitorch[viz]"


# --------------------------------------------------------------------------- helpers
def _figure(figsize):
    """A fresh Figure, not registered with pyplot (no global state, no 'too many figures')."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"minitorch.viz needs matplotlib for plotting: {_INSTALL} "
                          "(or pip install matplotlib)") from exc
    return Figure(figsize=figsize, layout="constrained")


def _array(x) -> np.ndarray:
    """Tensor / NumPy / CuPy -> NumPy float array (detached)."""
    if isinstance(x, Tensor):
        x = x.data
    return np.asarray(to_numpy(x) if not isinstance(x, np.ndarray) else x, dtype=np.float64)


def _grid(n: int, max_cols: int = 8) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def _image_2d(image: np.ndarray) -> np.ndarray:
    """(H, W), (1, H, W), (3, H, W) or (1, C, H, W) -> something imshow draws."""
    img = np.asarray(image)
    while img.ndim > 3 or (img.ndim == 3 and img.shape[0] == 1):
        if img.shape[0] != 1:
            raise ValueError(f"viz: expected one image, got an array of shape {image.shape}")
        img = img[0]
    if img.ndim == 3:  # (C, H, W) colour -> (H, W, C), rescaled to [0, 1] for imshow
        img = np.moveaxis(img, 0, -1)
        img = (img - img.min()) / max(img.max() - img.min(), 1e-12)
    return img


def _as_batch(image, model=None) -> Tensor:
    """One image (H, W), (C, H, W) or (1, C, H, W) -> a float Tensor of shape (1, C, H, W),
    on the device of ``model``'s parameters when it has any."""
    if isinstance(image, Tensor):
        data = image.detach().data
    else:
        data = np.asarray(image, dtype=np.float32)
    if data.ndim == 2:
        data = data[None, None]
    elif data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or data.shape[0] != 1:
        raise ValueError(f"viz: expected one image of shape (H, W), (C, H, W) or (1, C, H, W), "
                         f"got shape {tuple(data.shape)}")
    if data.dtype.kind != "f":
        data = data.astype(np.float32)
    x = Tensor._make(data, requires_grad=False, grad_fn=None)
    param = next(iter(model.parameters()), None) if model is not None else None
    return x.to(param.device) if param is not None else x


class _EvalMode:
    """Put a model in eval mode for a while, then restore each module's own flag."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        for m, flag in self.flags:
            object.__setattr__(m, "training", flag)
        return False


# --------------------------------------------------------------------------- filters
def plot_filters(conv_layer, max_out: int = 64, max_in: int = 16, title: str | None = None):
    """The kernels of a conv layer as an image grid on one diverging colour scale.

    ``conv_layer``: an ``nn.Conv2d`` or its weight (OC, C, KH, KW). With one input channel
    there is one tile per output channel; otherwise a row per output channel and a column per
    input channel. Red is positive, blue negative, white zero, the same scale for every tile
    (so a faint tile *is* a small kernel): a learned edge detector shows as a red stripe next
    to a blue one.
    """
    w = _array(getattr(conv_layer, "weight", conv_layer))
    if w.ndim != 4:
        raise ValueError(f"plot_filters: expected a Conv2d or a weight of shape (OC, C, KH, KW), "
                         f"got shape {w.shape}")
    OC, C, KH, KW = w.shape
    w = w[:max_out, :max_in]
    lim = float(np.abs(w).max()) or 1.0
    style = dict(cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    if C == 1:
        rows, cols = _grid(w.shape[0])
        fig = _figure((1.3 * cols + 1.0, 1.45 * rows + 0.8))
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
        for i, ax in enumerate(axes):
            if i < w.shape[0]:
                im = ax.imshow(w[i, 0], **style)
                ax.set_title(f"filter {i}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= w.shape[0]:
                ax.set_axis_off()
    else:
        rows, cols = w.shape[0], w.shape[1]
        fig = _figure((0.7 * cols + 1.6, 0.7 * rows + 0.9))
        axes = fig.subplots(rows, cols, squeeze=False)
        for o in range(rows):
            for c in range(cols):
                ax = axes[o, c]
                im = ax.imshow(w[o, c], **style)
                ax.set_xticks([])
                ax.set_yticks([])
                if o == 0:
                    ax.set_title(f"in {c}", fontsize=8)
                if c == 0:
                    ax.set_ylabel(f"out {o}", fontsize=8)
        axes = axes.ravel()
    shown = f" (first {w.shape[0]} of {OC} out, {w.shape[1]} of {C} in)" \
        if (w.shape[0], w.shape[1]) != (OC, C) else ""
    fig.suptitle(title or f"{OC} kernels of {KH}x{KW}, {C} input channel"
                 f"{'s' if C > 1 else ''}{shown}")
    fig.supxlabel(f"kernel column (0..{KW - 1})", fontsize=9)
    fig.supylabel(f"kernel row (0..{KH - 1})", fontsize=9)
    fig.colorbar(im, ax=list(axes), shrink=max(0.3, min(0.8, 4.0 / rows)), label="weight")
    return fig


# --------------------------------------------------------------------------- feature maps
def _find_layer(model, layer):
    if isinstance(layer, str):
        names = dict(model.named_modules())
        if layer not in names:
            listing = ", ".join(repr(n) for n in names if n)
            raise ValueError(f"plot_feature_maps: the model has no submodule {layer!r}; "
                             f"its submodules are {listing}")
        return layer, names[layer]
    for name, m in model.named_modules():
        if m is layer:
            return name or type(model).__name__, m
    raise ValueError(f"plot_feature_maps: {type(layer).__name__} is not a submodule of the model")


def feature_maps(model, image, layer) -> np.ndarray:
    """The output of ``layer`` (a submodule, or its name in ``model.named_modules()``) for one
    image, as a NumPy array without the batch axis, e.g. (C, H, W) for a conv layer.

    A forward hook catches the output on its way through, so any model works, not only
    Sequential ones. Runs in eval mode without recording a graph."""
    _, module = _find_layer(model, layer)
    caught = []
    handle = module.register_forward_hook(lambda m, inputs, out: caught.append(out))
    try:
        with no_grad(), _EvalMode(model):
            model(_as_batch(image, model))
    finally:
        handle.remove()
    if not caught:
        raise RuntimeError(f"feature_maps: {layer!r} was not called by the model's forward")
    return _array(caught[0])[0]


def plot_feature_maps(model, image, layer, max_maps: int = 32, title: str | None = None):
    """One tile per channel of ``layer``'s output for ``image`` (see ``feature_maps``).

    Every tile shares one colour scale so weak and dead channels show as such: a diverging one
    (blue < 0 < red) when the maps have negative values (a conv before its ReLU), else
    0 (dark) .. max (bright). A layer with a flat output (Linear) is drawn as a bar chart.
    """
    name, _ = _find_layer(model, layer)
    maps = feature_maps(model, image, layer)
    if maps.ndim == 1:
        fig = _figure((8, 3))
        ax = fig.subplots()
        ax.bar(np.arange(maps.size), maps, color="tab:blue")
        ax.set_xlabel("unit")
        ax.set_ylabel("activation")
        ax.set_title(title or f"layer {name!r}: {maps.size} activations")
        return fig
    if maps.ndim != 3:
        raise ValueError(f"plot_feature_maps: layer {name!r} gives output of shape {maps.shape} "
                         "per image; expected (C, H, W) or (F,)")
    C = maps.shape[0]
    maps = maps[:max_maps]
    if maps.min() < 0:
        lim = float(np.abs(maps).max()) or 1.0
        style = dict(cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        style = dict(cmap="magma", vmin=0.0, vmax=float(maps.max()) or 1.0)
    rows, cols = _grid(maps.shape[0])
    fig = _figure((1.5 * cols + 1.0, 1.6 * rows + 0.9))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i < maps.shape[0]:
            im = ax.imshow(maps[i], interpolation="nearest", **style)
            ax.set_title(f"channel {i}", fontsize=9)
        else:
            ax.set_axis_off()
    shown = f", first {maps.shape[0]} shown" if maps.shape[0] < C else ""
    fig.suptitle(title or f"feature maps of layer {name!r}: {C} channels of "
                 f"{maps.shape[1]}x{maps.shape[2]}{shown}")
    fig.supxlabel("x (pixels of the map)", fontsize=9)
    fig.supylabel("y", fontsize=9)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="activation")
    return fig


# --------------------------------------------------------------------------- saliency
def saliency_map(model, image, target: int | None = None) -> np.ndarray:
    """Simonyan et al. (2014): how much each pixel moves the class score.

    S[h, w] = max over channels c of |d score_target / d image[c, h, w]|, with the score the
    logit before the softmax and ``target`` the predicted class when None. One forward and one
    backward in eval mode; the parameters are excluded from the graph for the duration (their
    ``.grad`` stays untouched). Returns a NumPy array of the image's spatial shape (H, W).
    """
    x = _as_batch(image, model)
    x = Tensor._make(x.data.copy(), requires_grad=True, grad_fn=None)
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad = False
        with _EvalMode(model):
            scores = model(x)
            if scores.ndim != 2 or scores.shape[0] != 1:
                raise ValueError(f"saliency_map: the model must return class scores of shape "
                                 f"(1, classes), got {scores.shape}")
            k = int(np.argmax(_array(scores)[0])) if target is None else int(target)
            if not 0 <= k < scores.shape[1]:
                raise ValueError(f"saliency_map: target {k} is not a class index in "
                                 f"[0, {scores.shape[1]})")
            scores[0, k].backward()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad = flag
    return np.abs(_array(x.grad)[0]).max(axis=0)


def plot_saliency(image, saliency, titles: Iterable[str] | None = None, alpha: float = 0.9,
                  title: str | None = None):
    """Image | saliency | saliency over the image, one row per image.

    ``image``: one image ((H, W), (C, H, W), (1, C, H, W)) or a batch (N, C, H, W);
    ``saliency``: (H, W) or (N, H, W) from ``saliency_map``. ``titles``: one per row (e.g.
    "label 7, predicted 7"); ``alpha``: the overlay's opacity where the saliency peaks.
    """
    sal = _array(saliency)
    imgs = _array(image)
    if sal.ndim == 2:
        sal, imgs = sal[None], [imgs]
    elif imgs.ndim == 3 and imgs.shape[0] == sal.shape[0] and imgs.shape[0] != 1:
        imgs = imgs[:, None]  # (N, H, W) greyscale batch
    if len(imgs) != len(sal):
        raise ValueError(f"plot_saliency: {len(imgs)} images but {len(sal)} saliency maps")
    titles = list(titles) if titles is not None else [None] * len(sal)
    fig = _figure((8.5, 2.7 * len(sal) + 0.5))
    axes = fig.subplots(len(sal), 3, squeeze=False)
    for row, (img, s, t) in enumerate(zip(imgs, sal, titles)):
        img = _image_2d(img)
        if img.shape[:2] != s.shape:
            raise ValueError(f"plot_saliency: image {img.shape[:2]} and saliency {s.shape} "
                             "differ in size")
        a0, a1, a2 = axes[row]
        a0.imshow(img, cmap="gray")
        a0.set_title(t or "input")
        im = a1.imshow(s, cmap="hot", vmin=0)
        a1.set_title("saliency |d score / d pixel|")
        fig.colorbar(im, ax=a1, shrink=0.8)
        # The image dimmed (its brightest pixel mid-grey) so the heat stays visible on strokes.
        lo, hi = float(img.min()), float(img.max())
        a2.imshow(img, cmap="gray", vmin=lo, vmax=lo + 2.5 * max(hi - lo, 1e-12))
        a2.imshow(s, cmap="hot", alpha=alpha * np.sqrt(s / max(float(s.max()), 1e-12)))
        a2.set_title("saliency over the image")
        for ax in (a0, a1, a2):
            ax.set_xlabel("x (px)")
            ax.set_ylabel("y (px)")
    fig.suptitle(title or "saliency: the pixels whose change moves the class score most")
    return fig


# --------------------------------------------------------------------------- training curves
def _columns(history) -> dict[str, np.ndarray]:
    """A list of per-epoch dicts (the CLI's checkpoint meta['history']) or a dict of lists."""
    if isinstance(history, dict):
        cols = {k: list(v) for k, v in history.items()}
    else:
        history = list(history)
        keys = [k for k in history[0]] if history else []
        cols = {k: [h.get(k, np.nan) for h in history] for k in keys}
    if not cols or not any(k.endswith(("_loss", "_acc")) for k in cols):
        raise ValueError("plot_training_curves: expected per-epoch records with keys like "
                         "'train_loss', 'train_acc', 'val_acc' (the CLI checkpoint's "
                         f"meta['history']), got keys {sorted(cols)}")
    n = max(len(v) for v in cols.values())
    cols.setdefault("epoch", list(range(1, n + 1)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()
            if all(isinstance(x, (int, float, np.number)) for x in v)}


_STYLE = {"train": dict(color="tab:blue", marker="o"), "val": dict(color="tab:orange", marker="s"),
          "test": dict(color="tab:green", marker="^")}


def plot_training_curves(history, title: str | None = None):
    """Loss (left) and accuracy in % (right) per epoch for every split recorded.

    ``history``: the list of per-epoch dicts the CLI keeps in its checkpoint
    (``mt.load(path)["meta"]["history"]``: epoch, train_loss, train_acc, val_acc, test_acc...)
    or a dict of lists with the same keys. Any ``<split>_loss`` / ``<split>_acc`` is drawn.
    """
    cols = _columns(history)
    epoch = cols["epoch"]
    fig = _figure((10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, suffix, scale in ((ax_loss, "_loss", 1.0), (ax_acc, "_acc", 100.0)):
        order = {"train": 0, "val": 1, "test": 2}
        for key in sorted((k for k in cols if k.endswith(suffix)),
                          key=lambda k: (order.get(k[:-len(suffix)], 3), k)):
            split = key[:-len(suffix)]
            ax.plot(epoch, scale * cols[key], label=split, **_STYLE.get(split, {}))
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
        ax.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("loss")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.set_title("accuracy")
    if epoch.size and epoch.max() - epoch.min() < 20:
        for ax in (ax_loss, ax_acc):
            ax.set_xticks(epoch)
    fig.suptitle(title or "training curves")
    return fig


# --------------------------------------------------------------------------- autograd graph
def _name_map(names) -> dict[int, str]:
    if names is None:
        return {}
    items = names.items() if isinstance(names, dict) else names
    return {id(t): str(n) for n, t in items}


def _shape(shape) -> str:
    return str(tuple(int(s) for s in shape))


def _walk_graph(tensor: Tensor, names=None):
    """(nodes, edges) of the graph behind ``tensor``: nodes maps an id ("out", "n0".., "l0"..)
    to (kind, two-line label) with kind "out" / "op" / "leaf"; edges are (src, dst, input index) in
    the forward direction. Iterative walk of ``grad_fn.next``; each op's output shape is what
    its consumer recorded in ``input_meta``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph_dot: expected a Tensor, got {type(tensor).__name__}")
    label_of = _name_map(names)
    nodes = {"out": ("out", f"{label_of.get(id(tensor), 'output')}\n{_shape(tensor.shape)}")}
    edges: list[tuple[str, str, int]] = []
    root = tensor.grad_fn
    if root is None:
        return nodes, edges
    ids = {id(root): "n0"}
    out_shape = {id(root): tensor.shape}
    leaves: dict[int, str] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        nodes[ids[id(node)]] = ("op", f"{node.name()}Backward\n{_shape(out_shape[id(node)])}")
        for i, (child, (shape, _dtype)) in enumerate(zip(node.next, node.input_meta)):
            if child is None:  # an input that needs no gradient (data, constants)
                continue
            if isinstance(child, Node):
                if id(child) not in ids:
                    ids[id(child)] = f"n{len(ids)}"
                    out_shape[id(child)] = shape
                    stack.append(child)
                src = ids[id(child)]
            else:  # a leaf Tensor: where the gradient accumulates
                if id(child) not in leaves:
                    leaves[id(child)] = f"l{len(leaves)}"
                    nodes[leaves[id(child)]] = (
                        "leaf", f"{label_of.get(id(child), 'leaf')}\n{_shape(child.shape)} "
                        f"{child.dtype.name}")
                src = leaves[id(child)]
            edges.append((src, ids[id(node)], i))
    edges.append(("n0", "out", 0))
    return nodes, edges


_DOT_STYLE = {"out": 'shape=box, style="bold,filled", fillcolor="#d9ead3"',
              "op": 'shape=ellipse, style=filled, fillcolor="#cfe2f3"',
              "leaf": 'shape=box, style=filled, fillcolor="#fff2cc"'}


def graph_dot(tensor: Tensor, names=None) -> str:
    """The autograd graph behind ``tensor`` as Graphviz DOT text, drawn in the forward
    direction: leaves (boxes, named when ``names`` knows them) -> ops (ellipses, the grad_fn
    names, with the shape each one produced) -> the output (bold). Inputs that need no
    gradient (data, constants) are not part of the graph and do not appear.

    ``names``: a dict name -> Tensor or pairs such as ``model.named_parameters()``. The graph
    is walked from ``tensor.grad_fn`` through each Node's ``next`` (what produced each input);
    the shapes come from ``input_meta`` (what each op received).
    """
    nodes, edges = _walk_graph(tensor, names)
    lines = ["digraph autograd {", '  rankdir="LR";',
             '  node [fontname="Helvetica", fontsize=11];']
    for key, (kind, label) in nodes.items():
        text = label.replace("\n", "\\n")  # DOT writes a line break as backslash-n
        lines.append(f'  {key} [label="{text}", {_DOT_STYLE[kind]}];')
    multi = {dst for _, dst, i in edges if i > 0}  # number the inputs of multi-input ops
    for src, dst, i in reversed(edges):
        attr = f' [label="{i}", fontsize=9]' if dst in multi else ""
        lines.append(f"  {src} -> {dst}{attr};")
    lines.append("}")
    return "\n".join(lines)


def draw_graph(tensor: Tensor, names=None):
    """``graph_dot(tensor, names)`` as a ``graphviz.Source`` (it renders itself in a notebook;
    ``.render(...)`` writes an image; ``.source`` is the DOT text) when the ``graphviz``
    package and its ``dot`` program are available, else the DOT text itself (paste it into
    any Graphviz viewer, or use ``plot_graph`` for a matplotlib drawing)."""
    dot = graph_dot(tensor, names)
    try:
        import graphviz
        graphviz.version()  # the package alone cannot render: it runs the `dot` program
    except (ImportError, RuntimeError, OSError, ValueError):
        return dot
    except Exception:  # subprocess.CalledProcessError from a broken installation
        return dot
    return graphviz.Source(dot)


def plot_graph(tensor: Tensor, names=None, title: str | None = None):
    """The same graph as ``graph_dot`` drawn with matplotlib (no Graphviz needed): columns
    by distance from the output, leaves on the left, the output on the right."""
    nodes, edges = _walk_graph(tensor, names)
    # Column = longest path to the output, so every edge points right. Edges run src -> dst.
    consumers: dict[str, list[str]] = {k: [] for k in nodes}
    for src, dst, _ in edges:
        consumers[src].append(dst)
    depth: dict[str, int] = {}
    for key in nodes:  # iterative longest-path by repeated relaxation (graphs here are small)
        depth[key] = 0
    changed = True
    while changed:
        changed = False
        for src, dst, _ in edges:
            if depth[src] < depth[dst] + 1:
                depth[src] = depth[dst] + 1
                changed = True
    for key, (kind, _) in nodes.items():  # leaves in the leftmost column
        if kind == "leaf":
            depth[key] = max(depth.values())
    n_cols = max(depth.values()) + 1
    columns: dict[int, list[str]] = {}
    for key in nodes:
        columns.setdefault(depth[key], []).append(key)
    pos = {}
    for d, keys in columns.items():
        for j, key in enumerate(keys):
            pos[key] = (n_cols - 1 - d, (len(keys) - 1) / 2 - j)
    height = max(len(k) for k in columns.values())
    fig = _figure((max(6.0, 1.9 * n_cols), 0.9 * height + 1.3))
    ax = fig.subplots()
    colours = {"out": "#d9ead3", "op": "#cfe2f3", "leaf": "#fff2cc"}
    boxes = {key: ax.text(*pos[key], label, ha="center", va="center", fontsize=9,
                          bbox=dict(boxstyle="round" if kind == "op" else "square",
                                    fc=colours[kind], ec="0.3"))
             for key, (kind, label) in nodes.items()}
    for src, dst, _ in edges:  # from the right edge of one box to the left edge of the next
        ax.annotate("", xy=(0, 0.5), xycoords=boxes[dst], xytext=(1, 0.5),
                    textcoords=boxes[src],
                    arrowprops=dict(arrowstyle="-|>", color="0.35", shrinkA=4, shrinkB=4))
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-height / 2, height / 2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("forward: leaves -> ops -> output;  backward() walks the arrows right to left")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or "autograd graph (yellow: leaves, blue: grad_fn nodes, green: output)")
    return fig


# --------------------------------------------------------------------------- model summary
class ModelSummary:
    """What ``summary`` returns: ``rows`` (dicts: layer, type, output_shape, params, macs),
    the totals, and ``str()`` as the table users print in PyTorch."""

    def __init__(self, rows: list, input_shape: tuple, total_params: int, trainable: int):
        self.rows, self.input_shape = rows, input_shape
        self.total_params, self.trainable_params = total_params, trainable
        self.total_macs = sum(r["macs"] for r in rows)

    def __str__(self) -> str:
        head = ("layer", "type", "output shape", "params", "mult-adds")
        body = [(r["layer"], r["type"], str(tuple(r["output_shape"])), f"{r['params']:,}",
                 f"{r['macs']:,}") for r in self.rows]
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        line = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                       for i, (c, w) in enumerate(zip(cells, widths)))
        rule = "-" * len(line(head))
        return "\n".join([line(head), rule] + [line(b) for b in body] + [
            rule, f"input {self.input_shape}: {self.total_params:,} parameters "
            f"({self.trainable_params:,} trainable), {self.total_macs:,} mult-adds per batch"])

    __repr__ = __str__


def _macs(module, inputs, output) -> int:
    """Multiply-adds of one call of a conv / linear layer (the ones that dominate); 0 else."""
    kind = type(module).__name__
    if kind in ("Conv1d", "Conv2d") and hasattr(module, "weight"):
        per_output = int(np.prod(module.weight.shape[1:]))       # C/groups * kernel
        return int(np.prod(output.shape)) * per_output
    if kind in ("ConvTranspose1d", "ConvTranspose2d"):
        return int(np.prod(inputs[0].shape)) * int(np.prod(module.weight.shape[1:]))
    if kind == "Linear":
        return int(np.prod(output.shape)) * int(module.weight.shape[1])
    return 0


def summary(model, input_size=None, input=None, device: str = "cpu") -> ModelSummary:  # noqa: A002
    """Run one forward (eval mode, no graph) on ``input`` or on zeros of ``input_size`` (with
    the batch dim, e.g. (1, 3, 32, 32)) and tabulate every leaf layer: its name, type, output
    shape, parameters and mult-adds (conv and linear layers)."""
    if (input is None) == (input_size is None):
        raise ValueError("summary: give exactly one of input_size and input")
    if input is None:
        dtype = next((p.dtype for p in model.parameters()), np.float32)
        from .creation import zeros
        input = zeros(*input_size, dtype=dtype, device=device)
    rows, handles = [], []
    for name, module in model.named_modules():
        if next(iter(module.children()), None) is not None:
            continue  # containers: their leaves are listed

        def record(mod, args, out, name=name):
            first = out[0] if isinstance(out, (tuple, list)) else out
            rows.append({"layer": name or type(mod).__name__, "type": type(mod).__name__,
                         "output_shape": tuple(getattr(first, "shape", ())),
                         "params": sum(p.numel() for p in mod.parameters(recurse=False)),
                         "macs": _macs(mod, args, first)})
        handles.append(module.register_forward_hook(record))
    try:
        with _EvalMode(model), no_grad():
            model(input)
    finally:
        for h in handles:
            h.remove()
    params = list(model.parameters())
    return ModelSummary(rows, tuple(input.shape), sum(p.numel() for p in params),
                        sum(p.numel() for p in params if p.requires_grad))
