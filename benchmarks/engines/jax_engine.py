"""JAX (CPU, XLA): the networks as pure functions of a parameter tree, and the whole training
step (forward, loss, grad, optimizer update, BN running stats) in one jax.jit with donated
buffers, the way a JAX user writes it. Images are NHWC and conv weights HWIO, the layouts
XLA's CPU convolutions are fastest in (and Flax's default): the fixed NCHW batches are
transposed once, before timing. Threads: XLA_FLAGS, set before jax is imported
(compare_engines.thread_env)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import (ADAM_BETAS, ADAM_EPS, BN_EPS, BN_MOMENTUM, LENET5, LR, MOMENTUM, RESNET18,
               SIMPLENET, VGG11, VGG11_HIDDEN, init_weight)



MIN_WARMUP = 2  # the first call compiles; the second's time sizes the timed windows


def setup(threads: int) -> str:
    from importlib.metadata import version
    return f"jax {jax.__version__} (jaxlib {version('jaxlib')}, {jax.devices()[0].platform})"


# --------------------------------------------------------------------------- layers
def conv(p, x, stride=1, pad=0):
    y = lax.conv_general_dilated(x, p["w"], (stride, stride), [(pad, pad)] * 2,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + p["b"] if "b" in p else y


def linear(p, x):
    return x @ p["w"].T + p["b"]


def max_pool(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def batch_norm(p, s, x):
    """Training-mode BN over (N, H, W); returns y and the updated running stats (PyTorch's:
    momentum 0.1, unbiased variance in running_var)."""
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    n = x.size // x.shape[-1]
    new = {"mean": (1 - BN_MOMENTUM) * s["mean"] + BN_MOMENTUM * mean,
           "var": (1 - BN_MOMENTUM) * s["var"] + BN_MOMENTUM * var * n / (n - 1)}
    return (x - mean) * lax.rsqrt(var + BN_EPS) * p["w"] + p["b"], new


def dropout(key, x, p=0.5):
    return jnp.where(jax.random.bernoulli(key, 1 - p, x.shape), x / (1 - p), 0)


# --------------------------------------------------------------------------- networks
class Params:
    """Builds the parameter tree: engines.init_weight weights, zero biases."""

    def __init__(self):
        self.rng = np.random.default_rng(0)

    def conv(self, cin, cout, k, bias=True):
        p = {"w": init_weight(self.rng, (cout, cin, k, k)).transpose(2, 3, 1, 0)}  # HWIO
        return {**p, "b": np.zeros(cout, np.float32)} if bias else p

    def linear(self, fin, fout):
        return {"w": init_weight(self.rng, (fout, fin)), "b": np.zeros(fout, np.float32)}

    @staticmethod
    def bn(c):
        return ({"w": np.ones(c, np.float32), "b": np.zeros(c, np.float32)},
                {"mean": np.zeros(c, np.float32), "var": np.ones(c, np.float32)})


def lenet(spec, flat):
    P, c = Params(), 1
    params = {"convs": [], "fcs": []}
    for out, k, _ in spec["convs"]:
        params["convs"].append(P.conv(c, out, k))
        c = out
    f = flat
    for h in spec["fcs"] + [10]:
        params["fcs"].append(P.linear(f, h))
        f = h
    pads = [pad for _, _, pad in spec["convs"]]

    def apply(params, state, x, key):
        for p, pad in zip(params["convs"], pads):
            x = max_pool(jax.nn.relu(conv(p, x, pad=pad)))
        x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # flatten in NCHW order, as the others
        for p in params["fcs"][:-1]:
            x = jax.nn.relu(linear(p, x))
        return linear(params["fcs"][-1], x), state
    return params, {}, apply


def vgg11():
    P, c, convs = Params(), 3, []
    for v in VGG11:
        if v != "M":
            convs.append(P.conv(c, v, 3))
            c = v
    params = {"convs": convs, "fcs": [P.linear(c, VGG11_HIDDEN), P.linear(VGG11_HIDDEN, VGG11_HIDDEN),
                                      P.linear(VGG11_HIDDEN, 10)]}

    def apply(params, state, x, key):
        convs = iter(params["convs"])
        for v in VGG11:
            x = max_pool(x) if v == "M" else jax.nn.relu(conv(next(convs), x, pad=1))
        x = x.mean((1, 2))
        k1, k2 = jax.random.split(key)
        fc = params["fcs"]
        x = dropout(k1, jax.nn.relu(linear(fc[0], x)))
        x = dropout(k2, jax.nn.relu(linear(fc[1], x)))
        return linear(fc[2], x), state
    return params, {}, apply


def resnet18():
    P = Params()
    c0 = RESNET18[0][0]
    params, state = {"conv1": P.conv(3, c0, 3, bias=False), "blocks": []}, {"blocks": []}
    params["bn1"], state["bn1"] = P.bn(c0)
    strides, cin = [], c0
    for cout, first_stride in RESNET18:
        for stride in (first_stride, 1):
            bp, bs = {"conv1": P.conv(cin, cout, 3, False), "conv2": P.conv(cout, cout, 3, False)}, {}
            bp["bn1"], bs["bn1"] = P.bn(cout)
            bp["bn2"], bs["bn2"] = P.bn(cout)
            if stride != 1 or cin != cout:  # 1x1 projection shortcut
                bp["down"] = P.conv(cin, cout, 1, False)
                bp["down_bn"], bs["down_bn"] = P.bn(cout)
            params["blocks"].append(bp)
            state["blocks"].append(bs)
            strides.append(stride)
            cin = cout
    params["fc"] = P.linear(cin, 10)

    def block(p, s, x, stride):
        new = {}
        out, new["bn1"] = batch_norm(p["bn1"], s["bn1"], conv(p["conv1"], x, stride, 1))
        out, new["bn2"] = batch_norm(p["bn2"], s["bn2"], conv(p["conv2"], jax.nn.relu(out), 1, 1))
        if "down" in p:
            x, new["down_bn"] = batch_norm(p["down_bn"], s["down_bn"], conv(p["down"], x, stride))
        return jax.nn.relu(out + x), new

    def apply(params, state, x, key):
        x, bn1 = batch_norm(params["bn1"], state["bn1"], conv(params["conv1"], x, 1, 1))
        x, blocks = jax.nn.relu(x), []
        for p, s, stride in zip(params["blocks"], state["blocks"], strides):
            x, new = block(p, s, x, stride)
            blocks.append(new)
        return linear(params["fc"], x.mean((1, 2))), {"bn1": bn1, "blocks": blocks}
    return params, state, apply


def build(model: str):
    return {"lenet5": lambda: lenet(LENET5, 400), "simplenet": lambda: lenet(SIMPLENET, 800),
            "vgg11": vgg11, "resnet18": resnet18}[model]()


def param_count(net) -> int:
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(net[0]))


# --------------------------------------------------------------------------- training step
def _sgd(params, grads, opt):
    buf = jax.tree_util.tree_map(lambda b, g: MOMENTUM * b + g, opt["buf"], grads)
    return jax.tree_util.tree_map(lambda p, b: p - LR["sgd"] * b, params, buf), {"buf": buf}


def _adam(params, grads, opt):
    (b1, b2), t = ADAM_BETAS, opt["t"] + 1
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, opt["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, opt["v"], grads)
    c1, c2 = 1 - b1 ** t, 1 - b2 ** t
    params = jax.tree_util.tree_map(
        lambda p, m, v: p - LR["adam"] * (m / c1) / (jnp.sqrt(v / c2) + ADAM_EPS), params, m, v)
    return params, {"m": m, "v": v, "t": t}


def trainer(net, optim: str, batches):
    params, state, apply = net
    params, state = jax.device_put(params), jax.device_put(state)
    zeros = lambda: jax.tree_util.tree_map(jnp.zeros_like, params)  # noqa: E731
    opt = {"buf": zeros()} if optim == "sgd" else {"m": zeros(), "v": zeros(), "t": jnp.float32(0)}
    update = _sgd if optim == "sgd" else _adam
    key0 = jax.random.PRNGKey(0)

    def loss_fn(params, state, x, y, key):
        logits, state = apply(params, state, x, key)
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)), state

    def train_step(params, state, opt, x, y, i):
        (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, state, x, y, jax.random.fold_in(key0, i))
        params, opt = update(params, grads, opt)
        return params, state, opt, loss
    # donated: the new parameters and optimizer state reuse the old ones' buffers (in place,
    # as the eager engines update them)
    train_step = jax.jit(train_step, donate_argnums=(0, 1, 2))

    data = [(jnp.asarray(x.transpose(0, 2, 3, 1)), jnp.asarray(y.astype(np.int32)))
            for x, y in batches]
    carry = [params, state, opt, None]

    def step(i):
        x, y = data[i % len(data)]
        carry[:] = train_step(*carry[:3], x, y, i)

    return step, lambda: float(carry[3].block_until_ready())
