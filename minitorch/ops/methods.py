"""The Tensor methods of the math, bitwise, scan and index ops (``x.cumsum(0)``, ``x // 2``).

tensor.py defines the core methods; these are the rest of PyTorch's, each one line mapping a
method to its op, attached to Tensor when this module is imported (at the end of tensor.py).
A name tensor.py already defines is left alone: the class body wins.
"""
from __future__ import annotations

from ..tensor import Tensor
from . import activation as A
from . import bitwise as B
from . import cumulative as C
from . import elementwise as E
from . import counting as K
from . import indexing as X
from . import matrix as M
from . import reduce as R
from . import sorting as S
from . import unary as U

METHODS = {
    # arithmetic and rounded division
    "add": E.add, "sub": E.sub, "mul": E.mul, "pow": E.pow, "neg": E.neg,
    "div": E.div, "divide": E.div, "true_divide": E.div,
    "floor_divide": E.floor_divide, "remainder": E.remainder, "fmod": E.fmod,
    "__floordiv__": E.floor_divide, "__rfloordiv__": lambda x, o: E.floor_divide(o, x),
    "__mod__": E.remainder, "__rmod__": lambda x, o: E.remainder(o, x),
    "maximum": E.maximum, "minimum": E.minimum, "atan2": E.atan2, "arctan2": E.atan2,
    "copysign": E.copysign, "isclose": E.isclose, "allclose": E.allclose,
    "where": lambda x, condition, other: E.where(condition, x, other),
    # pointwise math
    "sin": U.sin, "cos": U.cos, "tan": U.tan, "asin": U.asin, "acos": U.acos, "atan": U.atan,
    "arcsin": U.asin, "arccos": U.acos, "arctan": U.atan,
    "sinh": U.sinh, "cosh": U.cosh, "asinh": U.asinh, "acosh": U.acosh, "atanh": U.atanh,
    "arcsinh": U.asinh, "arccosh": U.acosh, "arctanh": U.atanh,
    "erf": U.erf, "erfc": U.erfc, "log2": U.log2, "log10": U.log10, "log1p": U.log1p,
    "expm1": U.expm1, "exp2": U.exp2, "reciprocal": U.reciprocal, "rsqrt": U.rsqrt,
    "square": U.square, "sign": U.sign, "floor": U.floor, "ceil": U.ceil, "trunc": U.trunc,
    "fix": U.trunc, "round": U.round,
    # bitwise
    "bitwise_and": B.bitwise_and, "bitwise_or": B.bitwise_or, "bitwise_xor": B.bitwise_xor,
    "bitwise_not": B.bitwise_not, "bitwise_left_shift": B.bitwise_left_shift,
    "bitwise_right_shift": B.bitwise_right_shift,
    "logical_and": E.logical_and, "logical_or": E.logical_or, "logical_not": E.logical_not,
    # reductions and scans
    "all": R.all, "any": R.any, "prod": R.prod, "logsumexp": R.logsumexp,
    "cumsum": C.cumsum, "cumprod": C.cumprod, "cummax": C.cummax, "cummin": C.cummin,
    "logcumsumexp": C.logcumsumexp,
    # indexing
    "gather": X.gather, "scatter": X.scatter, "scatter_add": X.scatter_add,
    "scatter_reduce": X.scatter_reduce, "index_select": X.index_select,
    "masked_fill": X.masked_fill, "masked_select": X.masked_select, "nonzero": X.nonzero,
    "flip": X.flip, "roll": X.roll, "repeat": X.repeat, "tile": X.tile,
    "fliplr": lambda x: X.flip(x, (1,)), "flipud": lambda x: X.flip(x, (0,)),
    "clamp_min": E.clamp_min, "clamp_max": E.clamp_max, "argwhere": X.nonzero,
    "logaddexp": E.logaddexp, "hypot": E.hypot, "lerp": E.lerp, "nan_to_num": E.nan_to_num,
    "amax": R.amax, "amin": R.amin, "count_nonzero": R.count_nonzero,
    "take_along_dim": X.take_along_dim, "repeat_interleave": X.repeat_interleave,
    "tril": M.tril, "triu": M.triu, "diagonal": M.diagonal, "diag": M.diag, "trace": M.trace,
    "diff": M.diff, "cross": M.cross, "dot": M.dot, "outer": M.outer, "mv": M.mv, "mm": M.mm, "bmm": M.bmm,
    "bincount": K.bincount, "unique": K.unique,
    "frac": U.frac, "deg2rad": U.deg2rad, "rad2deg": U.rad2deg, "sinc": U.sinc,
    "logit": U.logit, "xlogy": E.xlogy, "nansum": R.nansum, "nanmean": R.nanmean,
    "aminmax": R.aminmax, "norm": R.norm,
    # ordering
    "sort": S.sort, "argsort": S.argsort, "topk": S.topk, "kthvalue": S.kthvalue,
    "median": S.median,
}



def inplace_method(op):
    """``x.op_(*args, **kw)``: op's result written into x's memory (Tensor._inplace: views,
    version counters and the graph handled there); PyTorch's error when the result's dtype
    can't be stored in x (``x_int.sin_()``)."""
    def method(self, *args, **kwargs):
        fn = op
        if kwargs:
            def fn(t, *a):
                return op(t, *a, **kwargs)
            fn.__name__ = op.__name__
        return self._inplace(fn, *args)
    method.__name__ = op.__name__.strip("_") + "_"
    return method


INPLACE = {  # x.name_(...) -> the op above, in place
    name: METHODS[name] for name in (
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
        "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
        "erf", "erfc", "log2", "log10", "log1p", "expm1", "exp2", "reciprocal", "rsqrt", "square",
        "sign", "floor", "ceil", "trunc", "fix", "round", "floor_divide", "remainder", "fmod",
        "atan2", "arctan2", "copysign", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
        "bitwise_left_shift", "bitwise_right_shift", "logical_and", "logical_or", "logical_not",
        "cumsum", "cumprod", "gather", "scatter", "scatter_add", "scatter_reduce", "masked_fill",
        "pow", "neg", "logaddexp", "hypot", "lerp", "nan_to_num", "tril", "triu", "frac",
        "deg2rad", "rad2deg", "sinc", "logit", "xlogy", "clamp_min", "clamp_max")}
INPLACE.update({"exp": E.exp, "log": E.log, "sqrt": E.sqrt, "abs": E.abs, "clamp": E.clamp,
                "clip": E.clamp, "sigmoid": A.sigmoid, "tanh": A.tanh, "relu": A.relu})
del INPLACE["gather"]  # not an in-place op in PyTorch (the result has index's shape)
DUNDER_INPLACE = {"__iand__": "bitwise_and", "__ior__": "bitwise_or", "__ixor__": "bitwise_xor",
                  "__ilshift__": "bitwise_left_shift", "__irshift__": "bitwise_right_shift",
                  "__ifloordiv__": "floor_divide", "__imod__": "remainder", "__ipow__": "pow"}

for _name, _fn in METHODS.items():
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, _fn)
for _name, _fn in INPLACE.items():
    if _name + "_" not in Tensor.__dict__:
        setattr(Tensor, _name + "_", inplace_method(_fn))
for _name, _target in DUNDER_INPLACE.items():
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, getattr(Tensor, _target + "_"))
