"""A pickle reader that can only build what its caller allows: no imports, no code execution.

Python's pickle format is a small stack-machine program; its GLOBAL opcode imports any name and
REDUCE calls it, which is how a pickle "runs code" (``os.system`` via ``__reduce__``). This module
interprets the opcodes itself (it does not use the ``pickle`` module at all) and resolves every
GLOBAL through an explicit allowlist mapping ``"module.name"`` to the object to use instead, so
nothing is ever imported and the only callables a file can reach are the ones you passed in.
A name not on the list is refused with an error naming it, *before* anything is called.

Usage (a plain-data pickle needs no allowlist at all)::

    from minitorch.safe_pickle import loads, load, UnsafePickleError
    loads(data)                                   # dicts, lists, tuples, sets, str, bytes, numbers
    import collections
    loads(data, {"collections.OrderedDict": collections.OrderedDict})

    # The CIFAR-10 "python" release: NumPy arrays pickled by Python 2. NumPy's private
    # _reconstruct(cls, shape, dtype) is ndarray.__new__; allow exactly that, for ndarray only.
    import numpy as np
    def reconstruct(cls, shape, dtype):
        if cls is not np.ndarray:
            raise UnsafePickleError(f"_reconstruct of {describe(cls)}")
        return np.ndarray.__new__(np.ndarray, shape, dtype)
    allowed = {"numpy.core.multiarray._reconstruct": reconstruct,
               "numpy.ndarray": np.ndarray, "numpy.dtype": np.dtype}
    with open("data_batch_1", "rb") as f:
        batch = load(f, allowed, encoding="bytes")   # Python 2 str -> bytes (or "latin1")

    # A stand-in instead of the real thing: the allowlist value is what GLOBAL pushes.
    loads(data, {"torch._utils._rebuild_tensor_v2": my_rebuild},
          persistent_load=lambda pid: storages[pid[2]])

What the allowlist's values may do: a callable is called by REDUCE (``f(*args)``), a class by
NEWOBJ (``cls.__new__(cls, *args)``); BUILD applies a state only to instances of allowlisted
classes (``__setstate__`` when the class defines one, else attribute assignment from a
``{str: value}`` dict), or through ``build={cls: fn(obj, state) -> obj}``. Item opcodes only
touch real containers: SETITEM(S) dicts, APPEND(S) lists, ADDITEMS sets. So the allowlist is
the whole attack surface: allow constructors of data, never general-purpose callables.

Bounds: every length an opcode declares is checked against the bytes that remain before it is
read (a 4 GiB string claim in a 100-byte file fails at once), out-of-band buffers and the
extension registry are refused, and ``max_ops`` bounds the work. The result may share objects
(the memo) or even contain cycles, as real pickles do: walk it with that in mind.

Errors: :class:`UnsafePickleError` (a global or opcode that is not allowed) and
:class:`MalformedPickleError` (truncated, garbage, over a bound), both :class:`SafePickleError`,
a ``ValueError``. Messages start with ``name`` (a file or archive member) and give the byte
offset of the opcode.
"""
from __future__ import annotations

import codecs
import io
import os
import struct
from collections.abc import Callable, Mapping

__all__ = ["SafePickleError", "UnsafePickleError", "MalformedPickleError", "Unpickler",
           "load", "loads", "describe"]

HIGHEST_PROTOCOL = 5


class SafePickleError(ValueError):
    """A pickle was refused; see the two subclasses."""


class UnsafePickleError(SafePickleError):
    """The pickle needs a global (or an opcode) that the caller did not allow."""


class MalformedPickleError(SafePickleError):
    """The bytes are not a complete, well-formed pickle (or exceed a bound)."""


class _Source:
    """Exact reads from a file object, never past ``limit`` bytes (checked *before* reading,
    so a declared size can't make us allocate it)."""

    def __init__(self, file, limit: int):
        self.file, self.left, self.consumed = file, limit, 0

    def read(self, n: int, what: str, at: int) -> bytes:
        if n < 0 or n > self.left:
            raise MalformedPickleError(f"{what} declares {n} bytes at offset {at}, but only "
                                       f"{self.left} remain (truncated or not a pickle)")
        data = self.file.read(n)
        if len(data) != n:
            raise MalformedPickleError(f"truncated: {what} at offset {at} needs {n} bytes, "
                                       f"got {len(data)}")
        self.left -= n
        self.consumed += n
        return data

    def readline(self, what: str, at: int, cap: int = 1 << 16) -> bytes:
        data = self.file.readline(min(cap, self.left) + 1)
        if not data.endswith(b"\n"):
            raise MalformedPickleError(f"{what} at offset {at}: no end of line within "
                                       f"{min(cap, self.left)} bytes")
        self.left -= len(data)
        self.consumed += len(data)
        return data[:-1]


def _remaining(file) -> int:
    """Bytes left in ``file`` from its position (seekable files); else effectively unbounded."""
    try:
        pos = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(pos)
        return end - pos
    except (OSError, AttributeError, ValueError):
        return 1 << 62


def describe(obj, limit: int = 60) -> str:
    """A short, safe description of an untrusted value for an error message: never ``repr``
    of a container (a shared-reference "billion laughs" structure would take forever to print,
    a deeply nested one would overflow the stack), never a huge int's digits."""
    if obj is None or isinstance(obj, (bool, float)):
        return repr(obj)
    if isinstance(obj, int):
        return repr(obj) if obj.bit_length() <= 128 else f"an int of {obj.bit_length()} bits"
    if isinstance(obj, (str, bytes, bytearray)):
        return repr(obj[:limit]) + ("..." if len(obj) > limit else "")
    if isinstance(obj, tuple) and len(obj) <= 6 and all(
            o is None or isinstance(o, (bool, int, float, str, bytes)) for o in obj):
        return "(" + ", ".join(describe(o, 20) for o in obj) + ("," if len(obj) == 1 else "") + ")"
    if isinstance(obj, (tuple, list, dict, set, frozenset)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    if isinstance(obj, type) or callable(obj):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"


def _check_shape(root, max_depth: int, max_expanded: int) -> str | None:
    """What is wrong with the built object's container graph, or None: nesting deeper than
    ``max_depth``, a cycle, or shared containers that would expand (printing it, walking it
    as a tree) into more than ``max_expanded`` items. One iterative post-order pass over the
    distinct containers, so it is linear in the object however it is shaped."""
    kinds = (list, tuple, dict, set, frozenset)

    def children(node):
        items = list(node.items()) if isinstance(node, dict) else list(node)
        flat = [x for kv in items for x in kv] if isinstance(node, dict) else items
        flat += list(getattr(node, "__dict__", {}).values())
        return [c for c in flat if isinstance(c, kinds)], len(flat)

    height, expanded, on_path = {}, {}, set()
    stack = [(root, False)] if isinstance(root, kinds) else []
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids, count = children(node)
        if done:
            on_path.discard(key)
            height[key] = 1 + max((height[id(c)] for c in kids), default=0)
            expanded[key] = count + sum(expanded[id(c)] for c in kids)
            if height[key] > max_depth:
                return f"containers nested more than {max_depth} levels deep"
            if expanded[key] > max_expanded:
                return (f"shared containers that expand to more than {max_expanded} items (a "
                        "'billion laughs' bomb)")
            continue
        if key in height:
            continue
        on_path.add(key)
        stack.append((node, True))
        for c in kids:
            if id(c) in on_path:
                return "a container that contains itself (a cycle)"
            if id(c) not in height:
                stack.append((c, False))
    return None


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it to store ``bytes``: latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(f"_codecs.encode with encoding {describe(encoding)} (only latin1, "
                                "which is how pickle stores bytes)")
    return text.encode("latin1")


def _plain_data_globals() -> dict:
    """What protocols 0-3 need to spell plain data (bytes, bytearray, set, frozenset), under
    their Python 3 and Python 2 module names; allowed in every Unpickler."""
    out = {"_codecs.encode": _latin1_encode}
    for cls in (bytes, bytearray, set, frozenset):
        out[f"builtins.{cls.__name__}"] = out[f"__builtin__.{cls.__name__}"] = cls
    return out


class Unpickler:
    """Interpret one pickle from ``file`` (a binary file object; see the module docstring).

    ``allowed``: ``{"module.name": object}``, what each permitted GLOBAL stands for (on top
    of the few plain-data globals old protocols need: bytes, bytearray, set, frozenset).
    ``persistent_load``: called with each persistent id (PERSID/BINPERSID); None refuses them.
    ``encoding``/``errors``: how Python 2 ``str`` (STRING opcodes) decode; ``"bytes"`` keeps bytes.
    ``build``: ``{class: fn(obj, state) -> obj}`` overriding BUILD for those classes.
    ``limit``: the most bytes this pickle may span (default: what remains in ``file``).
    ``max_ops``: the most opcodes it may execute.
    ``max_depth`` / ``max_expanded``: the result may nest containers at most this deep and,
    expanded as a tree (shared containers counted each time), hold at most this many items;
    no cycles. Checked once the object is built, before it is returned.
    """

    def __init__(self, file, allowed: Mapping[str, object] | None = None, *,
                 persistent_load: Callable | None = None, encoding: str = "ASCII",
                 errors: str = "strict", build: Mapping[type, Callable] | None = None,
                 name: str = "<pickle>", limit: int | None = None, max_ops: int = 50_000_000,
                 max_depth: int = 100, max_expanded: int = 10_000_000):
        self.allowed = {**_plain_data_globals(), **(allowed or {})}
        self._allowed_ids = {id(v) for v in self.allowed.values()}
        self._allowed_classes = {v for v in self.allowed.values() if isinstance(v, type)}
        self.persistent_load = persistent_load
        self.encoding, self.errors = encoding, errors
        self.build = dict(build or {})
        self.name, self.max_ops = name, max_ops
        self.max_depth, self.max_expanded = max_depth, max_expanded
        self._src = _Source(file, _remaining(file) if limit is None else limit)

    # ----------------------------------------------------------------- driver
    def load(self):
        """Run the pickle up to its STOP opcode and return the object it built."""
        self.stack: list = []
        self.metastack: list = []
        self.memo: dict = {}
        self._depths: dict = {}  # id -> (tuple or frozenset, nesting depth)
        ops = 0
        while True:
            at = self._src.consumed
            code = self._src.read(1, "an opcode", at)[0] if self._src.left else None
            if code is None:
                raise self._malformed(at, "truncated: the pickle ends without its STOP opcode")
            handler = _DISPATCH.get(code)
            if handler is None:
                raise self._malformed(at, f"unknown opcode 0x{code:02x} (garbage, or not a "
                                          "pickle)")
            ops += 1
            if ops > self.max_ops:
                raise self._malformed(at, f"more than {self.max_ops} opcodes")
            self._at = at
            try:
                if handler(self) is _STOP:
                    if len(self.stack) != 1 or self.metastack:
                        raise self._malformed(at, "STOP with an unbalanced stack")
                    result = self.stack.pop()
                    problem = _check_shape(result, self.max_depth, self.max_expanded)
                    if problem:
                        raise self._malformed(at, f"the object has {problem}")
                    return result
            except SafePickleError as exc:
                if str(exc).startswith(self.name + ":"):
                    raise
                raise type(exc)(f"{self.name}: {exc}") from None
            except (IndexError, KeyError, TypeError, ValueError, AttributeError, OverflowError,
                    UnicodeDecodeError, RecursionError, MemoryError) as exc:
                raise self._malformed(at, f"opcode 0x{code:02x} failed: "
                                          f"{type(exc).__name__}: {exc}") from None

    # ----------------------------------------------------------------- helpers
    def _malformed(self, at: int, what: str) -> MalformedPickleError:
        return MalformedPickleError(f"{self.name}: not a valid pickle: {what} (offset {at})")

    def _unsafe(self, what: str) -> UnsafePickleError:
        return UnsafePickleError(f"{self.name}: refused {what} (offset {self._at}); only "
                                 "tensor data and plain containers are loaded, never code")

    def _read(self, n: int, what: str) -> bytes:
        return self._src.read(n, what, self._at)

    def _unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self._read(struct.calcsize(fmt), what))[0]

    def _pop_mark(self) -> list:
        items = self.stack
        if not self.metastack:
            raise self._malformed(self._at, "a MARK-consuming opcode without a MARK")
        self.stack = self.metastack.pop()
        return items

    def _pop(self):
        if not self.stack:
            raise self._malformed(self._at, "pop from an empty stack")
        return self.stack.pop()

    def _top(self):
        if not self.stack:
            raise self._malformed(self._at, "an opcode needs a value on the stack")
        return self.stack[-1]

    def _global(self, module: str, qualname: str):
        key = f"{module}.{qualname}"
        if key not in self.allowed:
            # torch.save(model) pickles the module objects, a common slip in lecture code
            hint = (", as torch.save(model) writes: save and load model.state_dict() instead"
                    if module.startswith(("torch.nn.modules.", "torchvision.models.")) else "")
            raise self._unsafe(f"global {key!r} (not on the allowlist{hint})")
        return self.allowed[key]

    def _call(self, func, args, what: str):
        if id(func) not in self._allowed_ids or not callable(func):
            raise self._unsafe(f"{what} of {describe(func)}: only allowlisted globals may be "
                               "called")
        if not isinstance(args, tuple):
            raise self._malformed(self._at, f"{what} arguments are a {type(args).__name__}, "
                                            "not a tuple")
        return func(*args)

    def _decode_py2(self, data: bytes):
        if self.encoding == "bytes":
            return data
        return data.decode(self.encoding, self.errors)

    def _decode_text(self, data: bytes) -> str:
        return data.decode("utf-8", "surrogatepass")

    # ----------------------------------------------------------------- opcodes
    def op_proto(self):
        proto = self._read(1, "PROTO")[0]
        if proto > HIGHEST_PROTOCOL:
            raise self._malformed(self._at, f"unsupported pickle protocol {proto}")

    def op_frame(self):
        size = self._unpack("<Q", "FRAME")
        if size > self._src.left:
            raise self._malformed(self._at, f"a FRAME of {size} bytes, but only "
                                            f"{self._src.left} remain (truncated)")

    def op_stop(self):
        return _STOP

    def op_mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    def op_pop(self):
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark()

    def op_pop_mark(self):
        self._pop_mark()

    def op_dup(self):
        self.stack.append(self._top())

    # numbers, strings
    def op_none(self):
        self.stack.append(None)

    def op_newtrue(self):
        self.stack.append(True)

    def op_newfalse(self):
        self.stack.append(False)

    def op_int(self):
        line = self._src.readline("INT", self._at)
        self.stack.append({b"00": False, b"01": True}.get(line) if line in (b"00", b"01")
                          else int(line))

    def op_binint(self):
        self.stack.append(self._unpack("<i", "BININT"))

    def op_binint1(self):
        self.stack.append(self._read(1, "BININT1")[0])

    def op_binint2(self):
        self.stack.append(self._unpack("<H", "BININT2"))

    def op_long(self):
        line = self._src.readline("LONG", self._at)
        self.stack.append(int(line[:-1] if line.endswith(b"L") else line))

    def op_long1(self):
        n = self._read(1, "LONG1")[0]
        self.stack.append(int.from_bytes(self._read(n, "LONG1"), "little", signed=True))

    def op_long4(self):
        n = self._unpack("<i", "LONG4")
        self.stack.append(int.from_bytes(self._read(n, "LONG4"), "little", signed=True))

    def op_float(self):
        self.stack.append(float(self._src.readline("FLOAT", self._at)))

    def op_binfloat(self):
        self.stack.append(self._unpack(">d", "BINFLOAT"))

    def op_string(self):
        line = self._src.readline("STRING", self._at, cap=self._src.left)
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise self._malformed(self._at, "STRING is not quoted")
        self.stack.append(self._decode_py2(codecs.escape_decode(line[1:-1])[0]))

    def op_binstring(self):
        n = self._unpack("<i", "BINSTRING")
        self.stack.append(self._decode_py2(self._read(n, "BINSTRING")))

    def op_short_binstring(self):
        n = self._read(1, "SHORT_BINSTRING")[0]
        self.stack.append(self._decode_py2(self._read(n, "SHORT_BINSTRING")))

    def op_binbytes(self):
        self.stack.append(self._read(self._unpack("<I", "BINBYTES"), "BINBYTES"))

    def op_short_binbytes(self):
        self.stack.append(self._read(self._read(1, "SHORT_BINBYTES")[0], "SHORT_BINBYTES"))

    def op_binbytes8(self):
        self.stack.append(self._read(self._unpack("<Q", "BINBYTES8"), "BINBYTES8"))

    def op_bytearray8(self):
        self.stack.append(bytearray(self._read(self._unpack("<Q", "BYTEARRAY8"), "BYTEARRAY8")))

    def op_unicode(self):
        line = self._src.readline("UNICODE", self._at, cap=self._src.left)
        self.stack.append(line.decode("raw-unicode-escape"))

    def op_binunicode(self):
        self.stack.append(self._decode_text(self._read(self._unpack("<I", "BINUNICODE"),
                                                       "BINUNICODE")))

    def op_short_binunicode(self):
        self.stack.append(self._decode_text(self._read(self._read(1, "SHORT_BINUNICODE")[0],
                                                       "SHORT_BINUNICODE")))

    def op_binunicode8(self):
        self.stack.append(self._decode_text(self._read(self._unpack("<Q", "BINUNICODE8"),
                                                       "BINUNICODE8")))

    # containers
    def _immutable(self, value):
        """Push a tuple / frozenset, refusing one nested deeper than ``max_depth``: hashing
        and comparing them recurses in C, so a million-deep dict key would crash the
        interpreter before any check on the finished object could run."""
        depth = 1 + max((self._depths[id(v)][1] for v in value if id(v) in self._depths),
                        default=0)
        if depth > self.max_depth:
            raise self._malformed(self._at, f"a tuple nested more than {self.max_depth} levels "
                                            "deep")
        if depth > 1 or value:
            self._depths[id(value)] = (value, depth)  # holding value keeps its id unique
        self.stack.append(value)

    def op_empty_tuple(self):
        self.stack.append(())

    def op_tuple(self):
        items = tuple(self._pop_mark())  # before naming self.stack: _pop_mark replaces it
        self._immutable(items)

    def op_tuple1(self):
        self._immutable((self._pop(),))

    def op_tuple2(self):
        b, a = self._pop(), self._pop()
        self._immutable((a, b))

    def op_tuple3(self):
        c, b, a = self._pop(), self._pop(), self._pop()
        self._immutable((a, b, c))

    def op_empty_list(self):
        self.stack.append([])

    def op_list(self):
        items = self._pop_mark()
        self.stack.append(items)

    def op_empty_dict(self):
        self.stack.append({})

    def op_dict(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise self._malformed(self._at, "DICT with an odd number of items")
        self.stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})

    def op_empty_set(self):
        self.stack.append(set())

    def op_frozenset(self):
        items = frozenset(self._pop_mark())
        self._immutable(items)

    def _target(self, kind: type, opname: str):
        target = self._top()
        if not isinstance(target, kind):
            raise self._unsafe(f"{opname} on a {type(target).__name__} (only on a "
                               f"{kind.__name__}: no user-defined item methods run)")
        if type(target) not in (kind,) and type(target) not in self._allowed_classes:
            raise self._unsafe(f"{opname} on a {type(target).__name__}")
        return target

    def op_append(self):
        value = self._pop()
        self._target(list, "APPEND").append(value)

    def op_appends(self):
        items = self._pop_mark()
        self._target(list, "APPENDS").extend(items)

    def op_setitem(self):
        value, key = self._pop(), self._pop()
        self._target(dict, "SETITEM")[key] = value

    def op_setitems(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise self._malformed(self._at, "SETITEMS with an odd number of items")
        target = self._target(dict, "SETITEMS")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def op_additems(self):
        items = self._pop_mark()
        self._target(set, "ADDITEMS").update(items)

    # memo
    def _put(self, index):
        self.memo[index] = self._top()

    def _get(self, index):
        if index not in self.memo:
            raise self._malformed(self._at, f"memo entry {index} used before it was stored")
        self.stack.append(self.memo[index])

    def op_put(self):
        self._put(int(self._src.readline("PUT", self._at)))

    def op_binput(self):
        self._put(self._read(1, "BINPUT")[0])

    def op_long_binput(self):
        self._put(self._unpack("<I", "LONG_BINPUT"))

    def op_memoize(self):
        self._put(len(self.memo))

    def op_get(self):
        self._get(int(self._src.readline("GET", self._at)))

    def op_binget(self):
        self._get(self._read(1, "BINGET")[0])

    def op_long_binget(self):
        self._get(self._unpack("<I", "LONG_BINGET"))

    # globals and calls: the allowlist is consulted here, before anything is called
    def op_global(self):
        module = self._src.readline("GLOBAL", self._at).decode("utf-8")
        name = self._src.readline("GLOBAL", self._at).decode("utf-8")
        self.stack.append(self._global(module, name))

    def op_stack_global(self):
        name, module = self._pop(), self._pop()
        if not isinstance(module, str) or not isinstance(name, str):
            raise self._malformed(self._at, "STACK_GLOBAL needs two strings")
        self.stack.append(self._global(module, name))

    def op_reduce(self):
        args, func = self._pop(), self._pop()
        self.stack.append(self._call(func, args, "REDUCE (a call)"))

    def op_newobj(self):
        args, cls = self._pop(), self._pop()
        self.stack.append(self._new(cls, args, {}))

    def op_newobj_ex(self):
        kwargs, args, cls = self._pop(), self._pop(), self._pop()
        if not isinstance(kwargs, dict):
            raise self._malformed(self._at, "NEWOBJ_EX keyword arguments are not a dict")
        self.stack.append(self._new(cls, args, kwargs))

    def _new(self, cls, args, kwargs):
        if not isinstance(cls, type) or cls not in self._allowed_classes:
            raise self._unsafe(f"NEWOBJ of {describe(cls)}: only allowlisted classes")
        if not isinstance(args, tuple):
            raise self._malformed(self._at, "NEWOBJ arguments are not a tuple")
        return cls.__new__(cls, *args, **kwargs)

    def op_inst(self):
        module = self._src.readline("INST", self._at).decode("utf-8")
        name = self._src.readline("INST", self._at).decode("utf-8")
        cls = self._global(module, name)
        args = tuple(self._pop_mark())
        self.stack.append(self._call(cls, args, "INST (a call)"))

    def op_obj(self):
        items = self._pop_mark()
        if not items:
            raise self._malformed(self._at, "OBJ without a class")
        self.stack.append(self._call(items[0], tuple(items[1:]), "OBJ (a call)"))

    def op_build(self):
        state = self._pop()
        obj = self._top()
        cls = type(obj)
        if cls in self.build:
            self.stack[-1] = self.build[cls](obj, state)
            return
        if not isinstance(obj, tuple(self._allowed_classes)):
            raise self._unsafe(f"BUILD (setting the state) of a {cls.__name__}: only "
                               "instances of allowlisted classes")
        setstate = getattr(cls, "__setstate__", None)
        if setstate is not None and setstate is not getattr(object, "__setstate__", None):
            setstate(obj, state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        for part in (state, slotstate):
            if part is None:
                continue
            if not isinstance(part, dict) or not all(isinstance(k, str) for k in part):
                raise self._malformed(self._at, f"BUILD state for a {cls.__name__} is not a "
                                                "{str: value} dict")
            for k, v in part.items():
                setattr(obj, k, v)

    def op_persid(self):
        pid = self._src.readline("PERSID", self._at).decode("ascii")
        self.stack.append(self._persistent(pid))

    def op_binpersid(self):
        self.stack.append(self._persistent(self._pop()))

    def _persistent(self, pid):
        if self.persistent_load is None:
            raise self._unsafe("a persistent id (this pickle refers to external objects)")
        return self.persistent_load(pid)

    def op_refused(self):
        raise self._unsafe("an extension-registry or out-of-band-buffer opcode")


_STOP = object()
_DISPATCH: dict[int, Callable] = {}
for _code, _name in [
        (b"(", "mark"), (b".", "stop"), (b"0", "pop"), (b"1", "pop_mark"), (b"2", "dup"),
        (b"F", "float"), (b"I", "int"), (b"J", "binint"), (b"K", "binint1"), (b"L", "long"),
        (b"M", "binint2"), (b"N", "none"), (b"P", "persid"), (b"Q", "binpersid"),
        (b"R", "reduce"), (b"S", "string"), (b"T", "binstring"), (b"U", "short_binstring"),
        (b"V", "unicode"), (b"X", "binunicode"), (b"a", "append"), (b"b", "build"),
        (b"c", "global"), (b"d", "dict"), (b"}", "empty_dict"), (b"e", "appends"),
        (b"g", "get"), (b"h", "binget"), (b"i", "inst"), (b"j", "long_binget"), (b"l", "list"),
        (b"]", "empty_list"), (b"o", "obj"), (b"p", "put"), (b"q", "binput"),
        (b"r", "long_binput"), (b"s", "setitem"), (b"t", "tuple"), (b")", "empty_tuple"),
        (b"u", "setitems"), (b"G", "binfloat"),
        (b"\x80", "proto"), (b"\x81", "newobj"), (b"\x82", "refused"), (b"\x83", "refused"),
        (b"\x84", "refused"), (b"\x85", "tuple1"), (b"\x86", "tuple2"), (b"\x87", "tuple3"),
        (b"\x88", "newtrue"), (b"\x89", "newfalse"), (b"\x8a", "long1"), (b"\x8b", "long4"),
        (b"B", "binbytes"), (b"C", "short_binbytes"),
        (b"\x8c", "short_binunicode"), (b"\x8d", "binunicode8"), (b"\x8e", "binbytes8"),
        (b"\x8f", "empty_set"), (b"\x90", "additems"), (b"\x91", "frozenset"),
        (b"\x92", "newobj_ex"), (b"\x93", "stack_global"), (b"\x94", "memoize"),
        (b"\x95", "frame"), (b"\x96", "bytearray8"), (b"\x97", "refused"), (b"\x98", "refused")]:
    _DISPATCH[_code[0]] = getattr(Unpickler, "op_" + _name)


def load(file, allowed: Mapping[str, object] | None = None, **kwargs):
    """Read one pickle from the binary file object ``file``; see :class:`Unpickler`."""
    return Unpickler(file, allowed, **kwargs).load()


def loads(data: bytes, allowed: Mapping[str, object] | None = None, **kwargs):
    """Read one pickle from ``data``; see :class:`Unpickler`."""
    return Unpickler(io.BytesIO(data), allowed, **kwargs).load()
