"""Write the teaching notebooks from the cells below (run: python notebooks/build_notebooks.py).

The .ipynb files are generated, committed without outputs, and reviewed here as plain Python:
edit this file, not the notebooks. tests/test_notebooks.py executes every notebook.
Each notebook trains on a slice of real MNIST (``mt.data.MNIST(root=None)`` reads
$MINITORCH_DATA, else ~/.cache/minitorch/data) and runs on a 2-core CPU in about two minutes.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
%matplotlib inline
import time
import numpy as np
import matplotlib.pyplot as plt
try:
    import minitorch as mt
except ImportError:  # running from a clone without `pip install -e .`: use the repository
    import sys
    sys.path.insert(0, "..")
    import minitorch as mt
import minitorch.nn as nn
import minitorch.nn.functional as F
from minitorch import optim, viz
'''

LOAD_MNIST = '''\
# root=None: $MINITORCH_DATA, else ~/.cache/minitorch/data; download only fetches missing files.
train_full = mt.data.MNIST(root=None, train=True, download=True, normalize=True)
test_full = mt.data.MNIST(root=None, train=False, download=True, normalize=True)
print(train_full, test_full, sep="\\n")
'''

# ---------------------------------------------------------------------------------------------
NB01 = [
("md", """\
# 1. Autograd by hand: y = σ(Wx + b)

A network is a chain of small functions. Backpropagation is the chain rule applied to that chain,
from the loss back to every weight. Here we build the smallest interesting chain,

$$z = Wx + b,\\qquad y = \\sigma(z),\\qquad L = \\tfrac12\\lVert y - t\\rVert^2,$$

look at the graph minitorch records while computing it, walk that graph in the order
`backward()` does, and compute every gradient by hand to check `backward()` and
`mt.gradcheck`."""),
("code", SETUP),
("md", """\
## The forward pass records a graph
Every op on tensors that require grad creates a **Node** (`tensor.grad_fn`): which function ran
(`fn`), what its backward needs (`ctx`), and for each input where its gradient goes next
(`next`: the Node that produced it, or the leaf tensor itself). We use float64 so the
comparisons below are exact to ~1e-15."""),
("code", '''\
mt.manual_seed(0)
W = mt.randn(2, 3, dtype=mt.float64, requires_grad=True)
b = mt.randn(2, 1, dtype=mt.float64, requires_grad=True)
x = mt.randn(3, 1, dtype=mt.float64, requires_grad=True)   # an input we also want d/dx of
t = mt.tensor([[1.0], [0.0]], dtype=mt.float64)              # target: no grad needed

z = W @ x + b
y = mt.sigmoid(z)
L = ((y - t) ** 2).sum() * 0.5
print("z =", z.detach().numpy().ravel(), "\\ny =", y.detach().numpy().ravel(), "\\nL =", L.item())
print("L.grad_fn:", L.grad_fn, "-> next:", L.grad_fn.next)
'''),
("md", """\
## Drawing the graph
`viz.graph_dot` walks `grad_fn.next` from `L` and writes the graph as Graphviz DOT text:
leaves (yellow boxes: where gradients accumulate) feed ops (the grad_fn names, with the shape
each op produced) that feed the output. The target `t` needs no gradient, so it is not in the
graph at all. `viz.draw_graph` renders the DOT when the `graphviz` package and program are
installed; `viz.plot_graph` draws the same graph with matplotlib."""),
("code", '''\
names = {"W": W, "b": b, "x": x, "L": L}
print(viz.graph_dot(L, names))
graph = viz.draw_graph(L, names)
if isinstance(graph, str):
    print("(graphviz not available: `pip install graphviz` and the Graphviz program render it)")
else:
    display(graph)
viz.plot_graph(L, names)
'''),
("md", """\
## The order backward walks the graph
`backward()` must call a node's backward only after **all** gradient contributions to its
output have arrived (a tensor used twice gets two). A topological order of the nodes, output
first, guarantees that. minitorch computes it iteratively (a depth-first post-order, reversed),
so a 10,000-op chain needs no recursion."""),
("code", '''\
from minitorch.autograd import _topological_order   # the function backward() itself uses

def describe(target):
    if target is None:
        return "nowhere (needs no grad)"
    if isinstance(target, mt.Tensor):
        return "leaf " + next(k for k, v in names.items() if v is target)
    return repr(target)

for step, node in enumerate(_topological_order(L.grad_fn)):
    shapes = [tuple(shape) for shape, _ in node.input_meta]
    print(f"{step}: {node!r:<22} inputs {str(shapes):<20} grads go to "
          f"{', '.join(describe(n) for n in node.next)}")
'''),
("md", """\
## The chain rule, by hand
Going backward through the same steps, each local derivative multiplies the gradient arriving
from above (⊙ is elementwise):

| step | forward | backward |
|---|---|---|
| loss | $L = \\frac12\\sum (y-t)^2$ | $\\partial L/\\partial y = y - t$ |
| sigmoid | $y = \\sigma(z)$ | $\\partial L/\\partial z = \\partial L/\\partial y \\odot y(1-y)$ |
| add | $z = u + b$ | $\\partial L/\\partial u = \\partial L/\\partial b = \\partial L/\\partial z$ |
| matmul | $u = Wx$ | $\\partial L/\\partial W = \\partial L/\\partial z\\, x^\\top$, $\\ \\partial L/\\partial x = W^\\top \\partial L/\\partial z$ |

We compute these with plain NumPy on the tensors' `.data`, then let `backward()` do the same."""),
("code", '''\
Wd, bd, xd, td, yd = W.data, b.data, x.data, t.data, y.data
dL_dy = yd - td
dL_dz = dL_dy * yd * (1 - yd)
dL_dW = dL_dz @ xd.T
dL_db = dL_dz
dL_dx = Wd.T @ dL_dz

L.backward()
for name, by_hand, tensor in [("W", dL_dW, W), ("b", dL_db, b), ("x", dL_dx, x)]:
    diff = np.abs(by_hand - tensor.grad.numpy()).max()
    print(f"dL/d{name}: by hand vs backward(), max |difference| = {diff:.1e}")
    assert diff < 1e-12
print("dL/dW =\\n", W.grad.numpy())
'''),
("md", """\
## Checking with finite differences: `mt.gradcheck`
A gradient can also be *measured*: nudge one input element by ±ε and watch the output,
$(f(x+\\varepsilon e_i) - f(x-\\varepsilon e_i)) / 2\\varepsilon$, error $O(\\varepsilon^2)$.
`mt.gradcheck` does this for every element of every input (in float64), against a *random*
upstream gradient (a plain sum could hide bugs), and compares with what `backward()` gives."""),
("code", '''\
# One element by hand first: dL/dW[0, 1] measured vs what backward() computed.
eps = 1e-6
def loss_at(Wv):
    yv = 1 / (1 + np.exp(-(Wv @ xd + bd)))
    return 0.5 * ((yv - td) ** 2).sum()
E = np.zeros_like(Wd); E[0, 1] = eps
measured = (loss_at(Wd + E) - loss_at(Wd - E)) / (2 * eps)
print(f"dL/dW[0,1]: measured {measured:.10f}, backward {W.grad.numpy()[0, 1]:.10f}")
assert abs(measured - W.grad.numpy()[0, 1]) < 1e-8

# Then every element of every input (gradcheck runs its own backward: it overwrites .grad).
def f(W, x, b):
    return mt.sigmoid(W @ x + b)

print("gradcheck:", mt.gradcheck(f, [W, x, b]))
'''),
("md", """\
## gradcheck catches a wrong backward
Here is a sigmoid whose backward "forgets" the factor $(1-y)$, a classic slip. The forward is
right, so training would run, just badly. gradcheck names the input and the worst element."""),
("code", '''\
from minitorch.autograd import Function
from minitorch.gradcheck import GradcheckError

class BadSigmoid(Function):
    @staticmethod
    def forward(ctx, z):
        y = 1 / (1 + np.exp(-z))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y            # wrong: should be g * y * (1 - y)

try:
    mt.gradcheck(lambda z: BadSigmoid.apply(z), [mt.randn(4, dtype=mt.float64, requires_grad=True)])
    raise AssertionError("gradcheck should have failed")
except GradcheckError as err:
    print("gradcheck failed, as it should:\\n", err)
'''),
("md", """\
**Takeaways.** The forward pass records, per op, just what its backward needs. `backward()`
visits the nodes once each, in reverse topological order, multiplying local derivatives into
the incoming gradient: the chain rule, mechanised. Finite differences are the independent
judge of any hand-written backward."""),
]

# ---------------------------------------------------------------------------------------------
NB02 = [
("md", """\
# 2. Convolution, by hand and fast

A convolutional layer slides a small kernel over the image and takes a dot product at every
position. We compute one output by hand, apply classic edge kernels to a digit, work out the
output size for padding, stride and dilation, turn the convolution into one matrix product
(im2col), time the direct loops against it, and finish with max pooling."""),
("code", SETUP),
("md", """\
## A worked 5×5 example
Output pixel $(i, j)$ is $\\sum_{u,v} X[i+u, j+v]\\,K[u, v]$: the kernel laid on the window whose
top-left corner is $(i, j)$. Strictly this is **cross-correlation**; mathematical convolution
flips the kernel first. Deep learning (PyTorch, minitorch) uses cross-correlation and still
calls it convolution: the kernel is learned, so the flip makes no difference."""),
("code", '''\
X = np.array([[0, 2, 1, 0, 1],
              [0, 1, 2, 1, 0],
              [1, 0, 2, 0, 0],
              [1, 0, 0, 1, 1],
              [0, 1, 1, 2, 2]], dtype=np.float64)
K = np.array([[0, 1, -4],
              [0, 2, 0],
              [-1, 4, 3]], dtype=np.float64)

window = X[0:3, 0:3]
print("top-left window:\\n", window)
print("window * K:\\n", window * K)
top_left = (window * K).sum()
print("sum =", top_left)
assert top_left == 5

by_loop = np.array([[(X[i:i + 3, j:j + 3] * K).sum() for j in range(3)] for i in range(3)])
y = F.conv2d(mt.tensor(X[None, None]), mt.tensor(K[None, None]))   # (N, C, H, W) and (OC, C, KH, KW)
print("by loop:\\n", by_loop, "\\nF.conv2d:\\n", y.numpy()[0, 0])
assert y.numpy()[0, 0, 0, 0] == 5 and np.array_equal(y.numpy()[0, 0], by_loop)
print("true convolution (kernel flipped) gives", (window * K[::-1, ::-1]).sum(), "at the top-left")
'''),
("md", """\
## Edge detectors on a real digit
The Sobel kernels respond to horizontal and vertical intensity changes. These are the kind of
filters a CNN's first layer learns by itself (notebook 4)."""),
("code", LOAD_MNIST),
("code", '''\
digit = mt.tensor(train_full.data[0:1, None].astype(np.float32) / 255)       # (1, 1, 28, 28)
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
sobel = mt.tensor(np.stack([sobel_x, sobel_x.T])[:, None])                  # (2, 1, 3, 3)
edges = F.conv2d(digit, sobel, padding=1).numpy()[0]
magnitude = np.sqrt(edges[0] ** 2 + edges[1] ** 2)

fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), constrained_layout=True)
panels = [(digit.numpy()[0, 0], "digit", "gray"), (edges[0], "Sobel x: vertical edges", "RdBu_r"),
          (edges[1], "Sobel y: horizontal edges", "RdBu_r"), (magnitude, "edge magnitude", "magma")]
for ax, (img, title, cmap) in zip(axes, panels):
    lim = np.abs(img).max()
    im = ax.imshow(img, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim)
    ax.set_title(title); ax.set_xlabel("x (px)"); ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=ax, shrink=0.8)
'''),
("md", """\
## Padding, stride, dilation and the output size
- **padding** $P$ adds $P$ zero rows/columns on each side (keeps the border, keeps the size);
- **stride** $S$ moves the window $S$ pixels at a time (downsamples);
- **dilation** $D$ spaces the kernel taps $D$ apart (a $K$-tap kernel spans $D(K-1)+1$ pixels).

The number of window positions along one axis is
$$O = \\left\\lfloor \\frac{H + 2P - D(K-1) - 1}{S} \\right\\rfloor + 1 .$$
We check it against `F.conv2d` for a few settings on the 28×28 digit with a 3×3 kernel."""),
("code", '''\
def out_size(H, K, P=0, S=1, D=1):
    return (H + 2 * P - D * (K - 1) - 1) // S + 1

print(f"{'padding':>8}{'stride':>8}{'dilation':>10}{'formula':>10}{'F.conv2d':>10}")
results = {}
for P, S, D in [(0, 1, 1), (1, 1, 1), (0, 2, 1), (1, 2, 1), (0, 1, 2), (2, 3, 2)]:
    out = F.conv2d(digit, sobel[:1], padding=P, stride=S, dilation=D)
    predicted = out_size(28, 3, P, S, D)
    print(f"{P:>8}{S:>8}{D:>10}{predicted:>10}{str(out.shape[2:]):>10}")
    assert out.shape[2:] == (predicted, predicted)
    results[(P, S, D)] = out.numpy()[0, 0]

fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), constrained_layout=True)
for ax, key in zip(axes, [(0, 1, 1), (1, 1, 1), (1, 2, 1), (0, 1, 2)]):
    img = results[key]
    ax.imshow(img, cmap="RdBu_r", vmin=-np.abs(img).max(), vmax=np.abs(img).max())
    ax.set_title(f"P={key[0]} S={key[1]} D={key[2]}: {img.shape[0]}x{img.shape[1]}")
    ax.set_xlabel("x"); ax.set_ylabel("y")
'''),
("md", """\
## im2col: convolution as one matrix product
Copy every window into a column: for a $C\\times K_H\\times K_W$ kernel and $O_H O_W$ positions,
`col` is a $(C K_H K_W) \\times (O_H O_W)$ matrix (per image; minitorch puts the whole batch
side by side). Then the convolution is `W.reshape(OC, -1) @ col`: one GEMM, which BLAS (or
cuBLAS) runs at near peak speed. The price is memory: each pixel is copied up to $K_H K_W$ times.
Here is the 5×5 example's `col`: 9 rows (kernel taps), 9 columns (windows)."""),
("code", '''\
from minitorch.ops.conv import im2col     # the kernel F.conv2d uses: (C*KH*KW, N*OH*OW)

col = im2col(X[None, None], 3, 3, 1, 1, 0, 0, 1, 1, 3, 3)    # KH KW, SH SW, PH PW, DH DW, OH OW
print("col shape:", col.shape)
fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [9, 1.4]},
                             constrained_layout=True)
a0.imshow(col, cmap="Blues")
for (r, c), v in np.ndenumerate(col):
    a0.text(c, r, f"{v:g}", ha="center", va="center")
a0.set_xlabel("window (output position i*3 + j)"); a0.set_ylabel("kernel tap (u*3 + v)")
a0.set_title("im2col(X): each column is one 3x3 window, flattened")
a1.imshow(K.reshape(-1, 1), cmap="RdBu_r", vmin=-4, vmax=4)
for r, v in enumerate(K.ravel()):
    a1.text(0, r, f"{v:g}", ha="center", va="center")
a1.set_title("K flattened"); a1.set_xticks([]); a1.set_ylabel("kernel tap")

as_gemm = (K.reshape(1, -1) @ col).reshape(3, 3)
print("K (1x9) @ col (9x9) reshaped to 3x3:\\n", as_gemm)
assert np.array_equal(as_gemm, by_loop)
'''),
("md", """\
## Direct loops vs im2col + GEMM
`F.conv2d_reference` is the definition: a Python loop over output positions, each a small
tensordot over (channels, taps). `F.conv2d` is im2col + one GEMM. Both give the same numbers;
we time forward + backward on LeNet's two convolution shapes, batch 64 (best of 3, after a
warm-up call that compiles the numba kernels)."""),
("code", '''\
def best_time(fn, repeats=3):
    fn()  # warm-up (numba compilation on the first call)
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return min(times)

mt.manual_seed(0)
cases = {"conv1 64x1x28x28, 6@5x5 pad 2": (mt.randn(64, 1, 28, 28), mt.randn(6, 1, 5, 5), 2),
         "conv2 64x6x14x14, 16@5x5": (mt.randn(64, 6, 14, 14), mt.randn(16, 6, 5, 5), 0)}
print(f"{'case':<32}{'direct loop':>13}{'im2col+GEMM':>13}{'speed-up':>10}")
for name, (xc, wc, pad) in cases.items():
    wc.requires_grad = True
    def run(conv):
        out = conv(xc, wc, padding=pad)
        out.sum().backward()
        return out
    assert np.allclose(run(F.conv2d_reference).detach().numpy(),
                       run(F.conv2d).detach().numpy(), atol=1e-4)   # same numbers
    t_ref = best_time(lambda: run(F.conv2d_reference))
    t_fast = best_time(lambda: run(F.conv2d))
    print(f"{name:<32}{1e3 * t_ref:>10.1f} ms{1e3 * t_fast:>10.1f} ms{t_ref / t_fast:>9.1f}x")
'''),
("md", """\
The reference loop is not naive: it vectorises over the batch and channels and loops only over
the $O_H O_W$ positions, so the gap is smaller than for a pure-Python loop. The GEMM wins more
as channels grow (more work per call, fewer Python steps), and on the GPU, where one large
matrix product keeps thousands of cores busy."""),
("md", """\
## Max pooling
A 2×2 max pool with stride 2 keeps the largest value of each non-overlapping 2×2 block:
it halves the resolution and makes the response tolerant to small shifts. Its gradient flows
only to the position that won each max (on ties: the first in window order)."""),
("code", '''\
P = mt.tensor(np.array([[1, 4, 3, 3],
                        [2, 7, 1, 4],
                        [3, 6, 5, 1],
                        [2, 1, 4, 3]], dtype=np.float64)[None, None], requires_grad=True)
pooled = F.max_pool2d(P, kernel_size=2, stride=2)
print("pooled:\\n", pooled.detach().numpy()[0, 0])
assert np.array_equal(pooled.detach().numpy()[0, 0], [[7, 4], [6, 5]])

pooled.sum().backward()
print("gradient of sum(pooled) w.r.t. the input (1 where a max won):\\n", P.grad.numpy()[0, 0])
assert P.grad.numpy().sum() == 4
'''),
("md", """\
**Takeaways.** A conv layer is many dot products with one shared kernel; padding, stride and
dilation only change which windows are taken, and the output size follows from the floor
formula. im2col turns all windows into one matrix so the heavy lifting is a single GEMM.
Pooling is a fixed, parameter-free downsampling whose gradient is a routing mask."""),
]

# ---------------------------------------------------------------------------------------------
TRAIN_HELPERS = '''\
def evaluate(model, loader):
    """(mean loss, accuracy, predictions, labels) without recording a graph, in eval mode."""
    model.eval()
    losses, preds, labels = [], [], []
    with mt.no_grad():
        for xb, yb in loader:
            logits = model(xb)
            losses.append(F.cross_entropy(logits, yb).item() * len(yb))
            preds.append(logits.numpy().argmax(axis=1)); labels.append(yb.numpy())
    preds, labels = np.concatenate(preds), np.concatenate(labels)
    return sum(losses) / len(labels), float((preds == labels).mean()), preds, labels


def train(model, optimizer, train_loader, val_loader, epochs):
    """The training loop, written out. Returns the per-epoch history (the CLI's keys) and the
    loss of every step."""
    history, step_losses = [], []
    for epoch in range(1, epochs + 1):
        model.train()
        start, correct, seen, total = time.perf_counter(), 0, 0, 0.0
        for xb, yb in train_loader:
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step_losses.append(loss.item())
            total += step_losses[-1] * len(yb)
            correct += int((logits.detach().numpy().argmax(axis=1) == yb.numpy()).sum()); seen += len(yb)
        seconds = time.perf_counter() - start
        val_loss, val_acc, _, _ = evaluate(model, val_loader)
        history.append({"epoch": epoch, "train_loss": total / seen, "train_acc": correct / seen,
                        "val_loss": val_loss, "val_acc": val_acc, "seconds": seconds})
        print(f"epoch {epoch}: train loss {total / seen:.4f} acc {100 * correct / seen:.1f}%  "
              f"val loss {val_loss:.4f} acc {100 * val_acc:.1f}%  ({seconds:.1f} s, "
              f"{seen / seconds:.0f} img/s)")
    return history, step_losses
'''

NB03 = [
("md", """\
# 3. LeNet-5 on MNIST

LeNet-5 (LeCun et al., 1998) in its modern form: two convolution + ReLU + max-pool stages
extract features, three fully connected layers classify them. We train it on a slice of MNIST
(7,000 images, 2 epochs: a couple of minutes on a laptop CPU), plot the learning curves, and
look at what it still gets wrong."""),
("code", SETUP),
("code", LOAD_MNIST),
("md", """\
## Data: a training slice, a validation slice, a test slice
Images are standardised with the training set's mean and std (`normalize=True`). The validation
images come from the end of the training split, so they are never trained on; the test set is
touched once, at the end."""),
("code", '''\
from minitorch.data import DataLoader, Subset

train_set = Subset(train_full, np.arange(0, 7000))
val_set = Subset(train_full, np.arange(55000, 56000))
test_set = Subset(test_full, np.arange(0, 2000))
shuffle = mt.Generator().manual_seed(0)
train_loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=shuffle)
val_loader = DataLoader(val_set, batch_size=500)
test_loader = DataLoader(test_set, batch_size=500)

fig, axes = plt.subplots(2, 8, figsize=(12, 3.4), constrained_layout=True)
for i, ax in enumerate(axes.ravel()):
    ax.imshow(train_full.data[i], cmap="gray_r"); ax.set_title(f"label {train_full.targets[i]}")
    ax.set_xticks([]); ax.set_yticks([])
fig.suptitle("the first MNIST training images (28x28 greyscale)");
'''),
("md", """\
## The network
Shapes for one 28×28 digit: conv 6@5×5 (pad 2) → 6×28×28 → pool → 6×14×14 → conv 16@5×5 →
16×10×10 → pool → 16×5×5 = 400 features → 120 → 84 → 10 class scores (logits; the
cross-entropy loss applies the softmax)."""),
("code", '''\
mt.manual_seed(0)
model = mt.models.get_model("lenet5")
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))
'''),
("md", """\
## Training
The loop is the whole algorithm: forward, loss, `zero_grad`, `backward`, `step`. Adam with
learning rate 1e-3 needs no tuning here."""),
("code", TRAIN_HELPERS),
("code", '''\
optimizer = optim.Adam(model.parameters(), lr=1e-3)
start = time.perf_counter()
history, step_losses = train(model, optimizer, train_loader, val_loader, epochs=2)
print(f"training took {time.perf_counter() - start:.0f} s")
'''),
("code", '''\
fig, ax = plt.subplots(figsize=(8, 3.2), constrained_layout=True)
steps = np.arange(1, len(step_losses) + 1)
ax.plot(steps, step_losses, alpha=0.35, label="per batch")
smooth = np.convolve(step_losses, np.ones(10) / 10, mode="valid")
ax.plot(steps[9:], smooth, label="moving average (10 batches)")
ax.set_xlabel("step (batch of 64)"); ax.set_ylabel("cross-entropy loss"); ax.set_yscale("log")
ax.set_title("training loss per step"); ax.legend()
viz.plot_training_curves(history, title="LeNet-5, 7,000 MNIST images")
'''),
("md", """\
## Test accuracy and the confusion matrix
Entry $(i, j)$ counts test digits of class $i$ predicted as $j$; the diagonal is what is right.
The off-diagonal cells show *which* confusions the model makes (4↔9, 3↔5, 7↔2 are typical)."""),
("code", '''\
test_loss, test_acc, pred, true = evaluate(model, test_loader)
print(f"test accuracy on {len(true)} images: {100 * test_acc:.2f}%  (loss {test_loss:.4f})")
assert test_acc > 0.9, "LeNet-5 should pass 90% after 2 epochs on 7,000 images"

cm = np.bincount(true * 10 + pred, minlength=100).reshape(10, 10)
fig, ax = plt.subplots(figsize=(6, 5.2), constrained_layout=True)
im = ax.imshow(cm, cmap="Blues", norm=plt.matplotlib.colors.LogNorm(vmin=1, vmax=cm.max()))
for (i, j), v in np.ndenumerate(cm):
    if v:
        ax.text(j, i, v, ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 3 else "black")
ax.set_xticks(range(10)); ax.set_yticks(range(10))
ax.set_xlabel("predicted class"); ax.set_ylabel("true class")
ax.set_title(f"confusion matrix, test accuracy {100 * test_acc:.1f}%")
fig.colorbar(im, ax=ax, label="count (log scale)");
'''),
("md", """\
## What it gets wrong
The misclassified test digits, with the model's confidence (softmax probability of its
prediction). Many are ambiguous even to a human; some are plain mistakes that more data and
epochs fix."""),
("code", '''\
wrong = np.flatnonzero(pred != true)
images = test_full.data[:len(true)]
with mt.no_grad():
    model.eval()
    probs = F.softmax(model(mt.tensor(test_full._images(images[wrong]))), dim=1).numpy()
n = min(len(wrong), 24)
cols = 8
fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(12, 1.8 * ((n + cols - 1) // cols) + 0.4),
                         constrained_layout=True, squeeze=False)
for ax in axes.ravel():
    ax.set_axis_off()
for k, (ax, i) in enumerate(zip(axes.ravel(), wrong[:n])):
    ax.imshow(images[i], cmap="gray_r")
    ax.set_title(f"true {true[i]}, pred {pred[i]}\\n({100 * probs[k, pred[i]]:.0f}% sure)", fontsize=9)
fig.suptitle(f"{len(wrong)} of {len(true)} test digits misclassified (first {n} shown)");
'''),
("md", """\
**Takeaways.** A 62k-parameter CNN passes 90% after two passes over 7,000 images. The
validation curve tracks the training curve (no overfitting yet); the remaining errors
concentrate on a few visually similar pairs. Training on all 60,000 images for a few epochs
(`python -m minitorch train --model lenet5`) reaches ~99%."""),
]

# ---------------------------------------------------------------------------------------------
NB04 = [
("md", """\
# 4. What CNNs learn

A trained network is not a black box: its first-layer kernels are small images, its feature
maps show what each channel responds to, and the gradient of a class score with respect to the
input (a *saliency map*) shows which pixels the decision depends on. We train LeNet-5 briefly
(the notebook must work from a fresh clone, so no checkpoint is assumed) and look inside."""),
("code", SETUP),
("code", LOAD_MNIST),
("code", '''\
from minitorch.data import DataLoader, Subset

mt.manual_seed(0)
model = mt.models.get_model("lenet5")
initial_conv1 = model[0].weight.detach().numpy().copy()     # to compare with after training
optimizer = optim.Adam(model.parameters(), lr=2e-3)
loader = DataLoader(Subset(train_full, np.arange(5000)), batch_size=64, shuffle=True,
                    generator=mt.Generator().manual_seed(0))
start = time.perf_counter()
model.train()
for xb, yb in loader:
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
print(f"1 epoch on 5,000 images: {time.perf_counter() - start:.0f} s, last batch loss {loss.item():.3f}")

test_x, test_y = test_full.get_batch(np.arange(1000))
with mt.no_grad():
    model.eval()
    test_pred = model(mt.tensor(test_x)).numpy().argmax(axis=1)
print(f"test accuracy on 1,000 images: {100 * (test_pred == test_y).mean():.1f}%")
'''),
("md", """\
## First-layer filters
conv1 has six 5×5 kernels looking at the raw pixels. Red weights add the pixel, blue ones
subtract it; a red band next to a blue band is an **edge detector** at that orientation, the
same idea as the Sobel kernels of notebook 2, but learned. Before training they are noise."""),
("code", '''\
viz.plot_filters(initial_conv1, title="conv1 kernels at initialisation (random)")
'''),
("code", '''\
viz.plot_filters(model[0], title="conv1 kernels after one epoch")
'''),
("md", """\
## Feature maps
The output of a layer for one image: one map per channel. conv1's maps (module `"0"`) are the
digit filtered by each kernel: each highlights edges of one orientation (red: the kernel
matches, blue: the opposite contrast, which the ReLU then discards). conv2's maps (module
`"3"`) are 10×10 and combine conv1's channels into stroke parts and corners."""),
("code", '''\
image, label = test_x[0], int(test_y[0])
fig, ax = plt.subplots(figsize=(2.5, 2.5), constrained_layout=True)
ax.imshow(test_full.data[0], cmap="gray_r"); ax.set_title(f"input: a {label}")
ax.set_xlabel("x (px)"); ax.set_ylabel("y (px)")
viz.plot_feature_maps(model, image, "0")
'''),
("code", '''\
viz.plot_feature_maps(model, image, "3")
'''),
("code", '''\
viz.plot_feature_maps(model, image, model[-1], title="the 10 class scores (logits) for this digit")
'''),
("md", """\
## Saliency maps
$S_{hw} = \\max_c\\, \\lvert \\partial\\, \\text{score}_k / \\partial x_{chw} \\rvert$ (Simonyan et al.,
2014): how strongly a small change of each pixel would move the score of class $k$ (the
predicted one). One backward pass gives it. The bright pixels sit on and right next to the
strokes that distinguish the digit, e.g. the gap that makes a 4 not a 9."""),
("code", '''\
picks = [0, 1, 2, 3, 4]
sal = np.stack([viz.saliency_map(model, test_x[i]) for i in picks])
titles = [f"label {test_y[i]}, predicted {test_pred[i]}" for i in picks]
assert sal.shape == (len(picks), 28, 28) and (sal >= 0).all()
viz.plot_saliency(test_full.data[picks][:, None] / 255.0, sal, titles=titles)
'''),
("md", """\
The saliency depends on the class asked about. For the same digit, the gradient of *another*
class's score shows which pixels would have to change to make the network say that class."""),
("code", '''\
i = 0
others = [int(test_pred[i]), (int(test_pred[i]) + 1) % 10, (int(test_pred[i]) + 5) % 10]
maps = np.stack([viz.saliency_map(model, test_x[i], target=k) for k in others])
viz.plot_saliency(np.repeat(test_full.data[i:i + 1, None] / 255.0, 3, axis=0), maps,
                  titles=[f"score of class {k}" for k in others],
                  title="one digit, three target classes")
'''),
("md", """\
**Takeaways.** Learned first-layer kernels are oriented edge detectors; deeper maps respond to
combinations of edges; the saliency map localises the evidence for a class. All three come
straight from the tensors: the weights, a forward hook, one backward pass."""),
]

# ---------------------------------------------------------------------------------------------
NB05 = [
("md", """\
# 5. Optimizers and regularisation

Part 1 trains the same network from the same initial weights, on the same batches, with five
optimizers. Part 2 makes a network overfit a small training set, then tries the standard
remedies: dropout, weight decay, batch normalisation and early stopping. Small MLPs keep every
run to a few seconds."""),
("code", SETUP),
("code", LOAD_MNIST),
("code", '''\
from minitorch.data import DataLoader, Subset

val_loader = DataLoader(Subset(train_full, np.arange(55000, 56000)), batch_size=1000)

def evaluate(model, loader):
    model.eval()
    losses, correct, n = 0.0, 0, 0
    with mt.no_grad():
        for xb, yb in loader:
            logits = model(xb)
            losses += F.cross_entropy(logits, yb).item() * len(yb)
            correct += int((logits.detach().numpy().argmax(axis=1) == yb.numpy()).sum()); n += len(yb)
    return losses / n, correct / n

def fit(model, optimizer, train_set, epochs, batch_size=64, patience=None, quiet=True):
    """Train; return the per-epoch history and the per-step losses. With ``patience``, stop
    after that many epochs without a better validation loss and restore the best weights."""
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                        generator=mt.Generator().manual_seed(1))   # the same batches every run
    history, steps, best, best_state, since = [], [], np.inf, None, 0
    for epoch in range(1, epochs + 1):
        model.train()
        total = correct = n = 0
        for xb, yb in loader:
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(); loss.backward(); optimizer.step()
            steps.append(loss.item()); total += steps[-1] * len(yb); n += len(yb)
            correct += int((logits.detach().numpy().argmax(axis=1) == yb.numpy()).sum())
        val_loss, val_acc = evaluate(model, val_loader)
        history.append({"epoch": epoch, "train_loss": total / n, "train_acc": correct / n,
                        "val_loss": val_loss, "val_acc": val_acc})
        if val_loss < best:
            best, since = val_loss, 0
            best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        else:
            since += 1
        if patience is not None and since >= patience:
            print(f"early stop after epoch {epoch}: no better val loss for {patience} epochs")
            model.load_state_dict(best_state)
            break
    return history, steps
'''),
("md", """\
## Part 1: five optimizers, one network
With gradient $g$ and learning rate $\\eta$:
- **SGD**: $w \\leftarrow w - \\eta g$.
- **Momentum**: $v \\leftarrow \\mu v + g,\\ w \\leftarrow w - \\eta v$: a velocity that averages
  gradients, faster along consistent directions, damped across oscillating ones.
- **Nesterov**: momentum with the step taken from the look-ahead point ($w - \\eta\\mu v$).
- **RMSprop**: divide by a running RMS of the gradient, a per-weight learning rate.
- **Adam**: momentum plus RMSprop, with bias correction of both running averages.

Same initial weights (a saved state_dict), same batch order, 2 epochs of 4,000 images."""),
("code", '''\
train_small = Subset(train_full, np.arange(4000))
mt.manual_seed(0)
init = {k: v.numpy().copy() for k, v in mt.models.MLP(hidden=(128,)).state_dict().items()}
make = {"SGD lr 0.05": lambda p: optim.SGD(p, lr=0.05),
        "momentum 0.9": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
        "Nesterov 0.9": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        "RMSprop lr 1e-3": lambda p: optim.RMSprop(p, lr=1e-3),
        "Adam lr 1e-3": lambda p: optim.Adam(p, lr=1e-3)}
runs = {}
for name, make_opt in make.items():
    model = mt.models.MLP(hidden=(128,))
    model.load_state_dict(init)
    start = time.perf_counter()
    history, steps = fit(model, make_opt(model.parameters()), train_small, epochs=2)
    runs[name] = (history, steps)
    print(f"{name:<16} val acc {100 * history[-1]['val_acc']:.1f}%  "
          f"val loss {history[-1]['val_loss']:.3f}  ({time.perf_counter() - start:.1f} s)")
'''),
("code", '''\
fig, ax = plt.subplots(figsize=(9, 4), constrained_layout=True)
for name, (_, steps) in runs.items():
    smooth = np.convolve(steps, np.ones(10) / 10, mode="valid")
    ax.plot(np.arange(10, len(steps) + 1), smooth, label=name)
ax.set_xlabel("step (batch of 64)"); ax.set_ylabel("training loss (10-step average)")
ax.set_yscale("log"); ax.set_title("the same MLP 784-128-10, five optimizers"); ax.legend();
'''),
("md", """\
Plain SGD is clearly the slowest. Momentum and Nesterov, at the *same* learning rate, descend
much faster: the velocity accumulates the consistent part of the gradient. RMSprop and Adam get
to similar losses with their usual learning rate of 1e-3 and no tuning. The order among the
fast four depends on the learning rates chosen: change them and rerun (a fair comparison tunes
each optimizer's rate; well-tuned SGD with momentum often generalises as well as Adam).

## Part 2: overfitting, and what to do about it
Train an MLP with 270k parameters (784-256-256-10) on only **500** images for 30 epochs: it
can memorise them. The training loss goes to ~0 while the validation loss turns around and
rises: the network fits the noise of its small training set."""),
("code", '''\
tiny = Subset(train_full, np.arange(500))
EPOCHS = 30

def mlp(dropout=0.0, batch_norm=False):
    mt.manual_seed(0)
    if not batch_norm:
        return mt.models.MLP(hidden=(256, 256), dropout=dropout)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(),
                         nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))

def sgd(model, weight_decay=0.0):
    return optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=weight_decay)

results = {}
start = time.perf_counter()
model = mlp()
results["baseline"] = fit(model, sgd(model), tiny, EPOCHS)[0]
print(f"baseline: {time.perf_counter() - start:.1f} s")
viz.plot_training_curves(results["baseline"], title="784-256-256-10 on 500 images: overfitting")
'''),
("md", """\
Three remedies, each a one-line change:
- **Dropout** ($p=0.5$ after each hidden layer): every step trains a random half-network, so no
  unit can rely on a specific other one; at test time all units are used (inverted dropout
  already scaled the training activations by $1/(1-p)$).
- **Weight decay** (L2, $\\lambda = 5\\cdot 10^{-3}$): adds $\\lambda w$ to every gradient,
  pulling weights toward 0: smaller weights, smoother functions.
- **Batch normalisation**: standardises each hidden unit over the batch, then rescales it with
  learned $\\gamma, \\beta$. It mainly makes optimisation easier; its batch-dependent noise is a
  mild regulariser.
- **Early stopping**: keep the weights of the epoch with the best validation loss and stop when
  it has not improved for a while (here: 5 epochs)."""),
("code", '''\
start = time.perf_counter()
model = mlp(dropout=0.5)
results["dropout 0.5"] = fit(model, sgd(model), tiny, EPOCHS)[0]
model = mlp()
results["weight decay 5e-3"] = fit(model, sgd(model, weight_decay=5e-3), tiny, EPOCHS)[0]
model = mlp(batch_norm=True)
results["batch norm"] = fit(model, sgd(model), tiny, EPOCHS)[0]
model = mlp()
results["early stopping"] = fit(model, sgd(model), tiny, EPOCHS, patience=5)[0]
print(f"four more runs: {time.perf_counter() - start:.1f} s")
'''),
("code", '''\
fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
for name, history in results.items():
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h["train_loss"] for h in history], label=name)
    axes[1].plot(epochs, [h["val_loss"] for h in history], label=name)
    axes[2].plot(epochs, [100 * h["val_acc"] for h in history], label=name)
stopped = results["early stopping"]
best_epoch = min(stopped, key=lambda h: h["val_loss"])["epoch"]
lowest = min(h["val_loss"] for history in results.values() for h in history)
axes[1].set_ylim(0.8 * lowest, 2.0 * lowest)   # zoom in on where the curves part ways
for ax in axes[1:]:
    ax.axvline(best_epoch, color="0.5", ls="--", lw=1)
axes[1].text(best_epoch, axes[1].get_ylim()[1], " early stopping keeps\\n this epoch",
             va="top", fontsize=8)
axes[0].set_yscale("log"); axes[0].set_ylabel("training loss (log scale)")
axes[0].set_title("training loss: how well it fits the 500 images")
axes[1].set_ylabel("validation loss"); axes[1].set_title("validation loss: how well it generalises")
axes[2].set_ylabel("validation accuracy (%)"); axes[2].set_title("validation accuracy")
for ax in axes:
    ax.set_xlabel("epoch"); ax.legend(fontsize=8); ax.grid(alpha=0.3)

print(f"{'run':<20}{'epochs':>7}{'final train loss':>18}{'final val loss':>16}{'best val acc':>14}")
for name, history in results.items():
    print(f"{name:<20}{len(history):>7}{history[-1]['train_loss']:>18.4f}"
          f"{history[-1]['val_loss']:>16.3f}{100 * max(h['val_acc'] for h in history):>13.1f}%")
'''),
("md", """\
Read the plots together. The baseline drives its training loss toward zero while its
validation loss bottoms out after a few epochs and then creeps up: it is memorising. Dropout and
weight decay keep the training loss well above zero (they make fitting harder on purpose);
compare their validation curves and the table with the baseline's. On 500 images the gains
are small, a percent or a few hundredths of loss, and not every remedy wins on every metric.
Batch normalisation mostly speeds training up. Early stopping keeps the weights of the dashed
epoch, whatever happens later. More data remains the best regulariser."""),
]

# ---------------------------------------------------------------------------------------------
NB06 = [
("md", """\
# 6. The same training on the GPU

minitorch runs the same code on a GPU through CuPy: every op calls `xp = get_array_module(x)`
and gets NumPy or CuPy, and the hot spots (im2col, col2im, pooling) have CUDA kernels. Moving a
model is `model.to("cuda")`; the DataLoader puts batches on the device. This notebook trains
LeNet-5 on the CPU and, when a GPU is present, on the GPU, and compares the times. Without a
GPU it says so and shows the CPU numbers."""),
("code", SETUP),
("code", '''\
from minitorch.backend import cuda_unavailable_reason

HAS_GPU = mt.is_cuda_available()
devices = ["cpu", "cuda"] if HAS_GPU else ["cpu"]
print("GPU available:", HAS_GPU)
if not HAS_GPU:
    print("No GPU here:", cuda_unavailable_reason())
    print("Only the CPU numbers are shown; on a machine with an NVIDIA GPU and CuPy "
          "(pip install minitorch[cuda]) this notebook also times device='cuda'.")
'''),
("code", LOAD_MNIST),
("md", """\
## One epoch of LeNet-5 per device
Same seed, same images, same batches. The first call on a device includes one-time costs (numba
compiles the CPU kernels, NVRTC compiles the CUDA ones, CuPy allocates its memory pool), so each
device gets a short warm-up first. GPU work is asynchronous: `loss.item()` at the end waits for
it, so the wall-clock time is honest."""),
("code", '''\
from minitorch.data import DataLoader, Subset

N_TRAIN, BATCH = 3000, 64
train_set, test_set = Subset(train_full, np.arange(N_TRAIN)), Subset(test_full, np.arange(2000))

def run_epoch(device):
    mt.manual_seed(0)
    model = mt.models.get_model("lenet5").to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(train_set, batch_size=BATCH, shuffle=True,
                        generator=mt.Generator().manual_seed(0), device=device)
    warm = DataLoader(Subset(train_full, np.arange(2 * BATCH)), batch_size=BATCH, device=device)
    for xb, yb in warm:                   # warm-up: compile kernels, fill memory pools
        F.cross_entropy(model(xb), yb).backward()
    model.zero_grad()
    model.train()
    start = time.perf_counter()
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
    last = loss.item()                    # waits for the device
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with mt.no_grad():
        for xb, yb in DataLoader(test_set, batch_size=1000, device=device):
            correct += int((model(xb).cpu().numpy().argmax(axis=1) == yb.cpu().numpy()).sum())
    return {"device": device, "seconds": seconds, "img_per_s": N_TRAIN / seconds,
            "last_loss": last, "test_acc": correct / len(test_set)}

rows = [run_epoch(d) for d in devices]
print(f"{'device':<8}{'epoch (s)':>11}{'images/s':>11}{'last loss':>11}{'test acc':>10}")
for r in rows:
    print(f"{r['device']:<8}{r['seconds']:>11.2f}{r['img_per_s']:>11.0f}{r['last_loss']:>11.4f}"
          f"{100 * r['test_acc']:>9.1f}%")
if HAS_GPU:
    print(f"GPU speed-up for this epoch: {rows[0]['seconds'] / rows[1]['seconds']:.1f}x")
'''),
("md", """\
## Forward + backward time per batch size
A GPU needs a lot of parallel work to be busy: at small batches the time is dominated by kernel
launches and Python overhead, and the speed-up grows with the batch."""),
("code", '''\
def step_time(device, batch, repeats=3):
    mt.manual_seed(0)
    model = mt.models.get_model("lenet5").to(device)
    x = mt.randn(batch, 1, 28, 28, device=device)
    y = mt.randint(0, 10, (batch,), device=device)
    times = []
    for i in range(repeats + 1):          # the first one is a warm-up
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        loss.item()
        if i:
            times.append(time.perf_counter() - start)
        model.zero_grad()
    return min(times)

batches = [16, 64, 256]
table = {d: [step_time(d, b) for b in batches] for d in devices}
print(f"{'batch':>6}" + "".join(f"{d + ' (ms)':>13}" for d in devices)
      + (f"{'speed-up':>10}" if HAS_GPU else ""))
for j, b in enumerate(batches):
    line = f"{b:>6}" + "".join(f"{1e3 * table[d][j]:>13.1f}" for d in devices)
    if HAS_GPU:
        line += f"{table['cpu'][j] / table['cuda'][j]:>9.1f}x"
    print(line)

fig, ax = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
for d in devices:
    ax.plot(batches, [b / t for b, t in zip(batches, table[d])], marker="o", label=d)
ax.set_xscale("log", base=2); ax.set_xlabel("batch size"); ax.set_ylabel("images / s (fwd+bwd)")
ax.set_title("LeNet-5 training-step throughput"); ax.legend(); ax.grid(alpha=0.3);
'''),
("md", """\
**Takeaways.** The code is identical on both devices; only where the arrays live changes. On a
GPU the throughput keeps rising with the batch size, while a CPU is saturated early. For the
command line: `python -m minitorch train --model lenet5 --device cuda`."""),
]

NOTEBOOKS = {
    "01_autograd.ipynb": NB01,
    "02_convolution.ipynb": NB02,
    "03_lenet_mnist.ipynb": NB03,
    "04_what_cnns_learn.ipynb": NB04,
    "05_optimizers_and_regularisation.ipynb": NB05,
    "06_gpu.ipynb": NB06,
}


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                for kind, src in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives identical files
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = build(cells)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote notebooks/{name} ({len(cells)} cells)")


if __name__ == "__main__":
    main()
