"""``njit`` as numba's, but a damaged on-disk cache is recompiled instead of breaking every run.

numba's ``cache=True`` pickles each compiled kernel into ``__pycache__`` (an ``.nbi`` index and
``.nbc`` data files). A file cut short (a full disk, a process killed mid-write, two processes
racing) makes every later first call raise ``UnpicklingError`` until someone deletes it. Here
the cache's load step catches that, warns once, empties the index and returns "not cached", so
numba compiles the kernel again and writes fresh files over the damaged ones.
"""
from __future__ import annotations

import warnings

import numba
from numba.core.caching import FunctionCache


class _RecompilingCache(FunctionCache):
    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # noqa: BLE001 - any unreadable cache entry: just recompile
            warnings.warn(f"numba's cache of {self._py_func.__qualname__} is damaged "
                          f"({type(exc).__name__}: {exc}); recompiling", RuntimeWarning)
            self.flush()  # a fresh, empty index: the recompiled kernel is saved over the old
            return None


def njit(*args, **kwargs):
    """``numba.njit``; with ``cache=True`` the cache heals itself (see the module docstring)."""
    if args and callable(args[0]):  # bare @njit
        return njit(*args[1:], **kwargs)(args[0])

    def decorate(fn):
        dispatcher = numba.njit(*args, **kwargs)(fn)
        if kwargs.get("cache") and isinstance(getattr(dispatcher, "_cache", None),
                                              FunctionCache):
            dispatcher._cache = _RecompilingCache(dispatcher.py_func)
        return dispatcher
    return decorate
