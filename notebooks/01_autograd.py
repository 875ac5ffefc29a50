# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Autograd by hand: y = σ(Wx + b)
#
# A network is a chain of small functions. Backpropagation is the chain rule applied to that chain,
# from the loss back to every weight. Here we build the smallest interesting chain,
#
# $$z = Wx + b,\qquad y = \sigma(z),\qquad L = \tfrac12\lVert y - t\rVert^2,$$
#
# look at the graph minitorch records while computing it, walk that graph in the order
# `backward()` does, and compute every gradient by hand to check `backward()` and
# `mt.gradcheck`.

# %%
# %matplotlib inline
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


# %% [markdown]
# ## The forward pass records a graph
# Every op on tensors that require grad creates a **Node** (`tensor.grad_fn`): which function ran
# (`fn`), what its backward needs (`ctx`), and for each input where its gradient goes next
# (`next`: the Node that produced it, or the leaf tensor itself). We use float64 so the
# comparisons below are exact to ~1e-15.

# %%
mt.manual_seed(0)
W = mt.randn(2, 3, dtype=mt.float64, requires_grad=True)
b = mt.randn(2, 1, dtype=mt.float64, requires_grad=True)
x = mt.randn(3, 1, dtype=mt.float64, requires_grad=True)   # an input we also want d/dx of
t = mt.tensor([[1.0], [0.0]], dtype=mt.float64)              # target: no grad needed

z = W @ x + b
y = mt.sigmoid(z)
L = ((y - t) ** 2).sum() * 0.5
print("z =", z.detach().numpy().ravel(), "\ny =", y.detach().numpy().ravel(), "\nL =", L.item())
print("L.grad_fn:", L.grad_fn, "-> next:", L.grad_fn.next)


# %% [markdown]
# ## Drawing the graph
# `viz.graph_dot` walks `grad_fn.next` from `L` and writes the graph as Graphviz DOT text:
# leaves (yellow boxes: where gradients accumulate) feed ops (the grad_fn names, with the shape
# each op produced) that feed the output. The target `t` needs no gradient, so it is not in the
# graph at all. `viz.draw_graph` renders the DOT when the `graphviz` package and program are
# installed; `viz.plot_graph` draws the same graph with matplotlib.

# %%
names = {"W": W, "b": b, "x": x, "L": L}
print(viz.graph_dot(L, names))
graph = viz.draw_graph(L, names)
if isinstance(graph, str):
    print("(graphviz not available: `pip install graphviz` and the Graphviz program render it)")
else:  # display is a builtin only inside Jupyter; import it so `python 01_autograd.py` runs too
    from IPython.display import display
    display(graph)
viz.plot_graph(L, names)


# %% [markdown]
# ## The order backward walks the graph
# `backward()` must call a node's backward only after **all** gradient contributions to its
# output have arrived (a tensor used twice gets two). A topological order of the nodes, output
# first, guarantees that. minitorch computes it iteratively (a depth-first post-order, reversed),
# so a 10,000-op chain needs no recursion.

# %%
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


# %% [markdown]
# ## The chain rule, by hand
# Going backward through the same steps, each local derivative multiplies the gradient arriving
# from above (⊙ is elementwise):
#
# | step | forward | backward |
# |---|---|---|
# | loss | $L = \frac12\sum (y-t)^2$ | $\partial L/\partial y = y - t$ |
# | sigmoid | $y = \sigma(z)$ | $\partial L/\partial z = \partial L/\partial y \odot y(1-y)$ |
# | add | $z = u + b$ | $\partial L/\partial u = \partial L/\partial b = \partial L/\partial z$ |
# | matmul | $u = Wx$ | $\partial L/\partial W = \partial L/\partial z\, x^\top$, $\ \partial L/\partial x = W^\top \partial L/\partial z$ |
#
# We compute these with plain NumPy on the tensors' `.data`, then let `backward()` do the same.

# %%
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
print("dL/dW =\n", W.grad.numpy())


# %% [markdown]
# ## Checking with finite differences: `mt.gradcheck`
# A gradient can also be *measured*: nudge one input element by ±ε and watch the output,
# $(f(x+\varepsilon e_i) - f(x-\varepsilon e_i)) / 2\varepsilon$, error $O(\varepsilon^2)$.
# `mt.gradcheck` does this for every element of every input (in float64), against a *random*
# upstream gradient (a plain sum could hide bugs), and compares with what `backward()` gives.

# %%
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


# %% [markdown]
# ## gradcheck catches a wrong backward
# Here is a sigmoid whose backward "forgets" the factor $(1-y)$, a classic slip. The forward is
# right, so training would run, just badly. gradcheck names the input and the worst element.

# %%
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
    print("gradcheck failed, as it should:\n", err)


# %% [markdown]
# **Takeaways.** The forward pass records, per op, just what its backward needs. `backward()`
# visits the nodes once each, in reverse topological order, multiplying local derivatives into
# the incoming gradient: the chain rule, mechanised. Finite differences are the independent
# judge of any hand-written backward.
