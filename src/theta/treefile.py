"""Nested state without pickle: arrays to safetensors, everything else to one JSON tree.

theta's one way to save nested state (training checkpoints, learners, optimizer and RL agent
state). ``TreeWriter.encode`` turns a tree of allowed values into a JSON value and a ``{name:
ndarray}`` dict; ``decode`` turns them back, strictly; ``save_tree``/``load_tree`` keep both in one
safetensors file (the JSON in the file's metadata). The allow-list:

=====================  =======================================================================
``None``, ``bool``,    themselves (exact types only: a subclass, such as ``np.float64``, is
``int``, ``str``,      encoded as what it is); NaN and ±inf: ``{"type": "float", "value":
``float``              "nan"}``
``list``               a JSON list
``tuple``, ``set``,    ``{"type": "tuple", "items": [...]}`` (and ``"set"``, ``"frozenset"``),
``frozenset``          so each comes back as itself
``dict``               ``{"type": "dict", "items": {str: value}}``, or ``{"pairs": [[key,
                       value], ...]}`` when a key is not a string (``{0: 1.0}``)
``ndarray``            numeric: ``{"key": name}``, the array in the tensors (with ``"order":
                       "F"`` for Fortran-ordered arrays, ``"complex": true`` for complex128
                       stored as (..., 2) float64); str, bytes and object arrays: ``{"dtype",
                       "shape", "items"}`` in the JSON
``masked_array``       a ``numpy.ma.MaskedArray``: ``{"data", "mask", "fill_value"}``, the
                       data an ``ndarray`` node (dtype kept), the mask a bool ``ndarray`` node
                       of the same shape (None: ``numpy.ma.nomask``), the fill value a value
                       (None: the dtype's default)
``scalar``             a NumPy scalar with its dtype: a 0-d tensor ``{"key"}``, or ``{"dtype",
                       "value"}`` for str and bytes
``generator``,         a ``numpy.random.Generator`` or bit generator (PCG64, PCG64DXSM,
``bit_generator``      MT19937, Philox, SFC64) by its ``state``
=====================  =======================================================================

A tensor is named by its place in the tree: dict keys and list indices joined by dots
(``model.0.weight``, ``optimizer.state.0.exp_avg``), ``#2``, ``#3``, ... added where two
places would share a name. An array held twice is stored once and loads as one array.

Anything else is refused with a ``TypeError`` naming its place and type, unless the caller
passes a ``hook`` (a ``Hook``) that encodes it as a node of a kind of its own and decodes that
kind; ``theta.io``'s hook adds modules, learners, faiss indexes, dtypes and theta's own
classes and functions. This module never looks a name up: nothing in a file can name code.

Decoding is strict: every node must be one of the kinds above (or the hook's), with exactly its
fields and their types; a tree may nest at most ``MAX_DEPTH`` levels; every tensor a node names
must exist and every tensor must be used. Each violation is one ``CheckpointError`` naming the
file and the place in the tree.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from theta.errors import CheckpointError
from theta.tensorfile import DuplicateKeyError, no_duplicate_keys, read_tensors, write_tensors

__all__ = ["MAX_DEPTH", "Hook", "TreeReader", "TreeWriter", "decode", "decode_text", "load_tree",
           "parse_json", "save_tree"]  # fmt: skip

MAX_DEPTH = 32  # a trainer's state nests about 8 deep; a deeper tree is damaged or hostile
BIT_GENERATORS = {name: getattr(np.random, name)
                  for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")}  # fmt: skip
_CONTAINERS = {"tuple": tuple, "set": set, "frozenset": frozenset}
_KINDS = {"float", *_CONTAINERS, "dict", "ndarray", "masked_array", "scalar", "generator",
          "bit_generator"}  # fmt: skip
_TEXT_DTYPE = re.compile(r"[<>|=]?[US]\d{1,7}|\|?O")
_SUPPORTED = (
    "arrays (numeric, str, bytes or object; masked too), numbers, strings, booleans, None, "
    "lists, tuples, sets, dicts, NumPy scalars and NumPy random generators"
)


class Hook(Protocol):
    """Extra kinds of value for a tree: how ``theta.io`` saves modules, learners and more.

    Attributes
    ----------
    kinds : set of str
        The node ``"type"`` names ``decode`` handles (never one of the tree's own).
    saves : str
        What it adds, for the error that lists what can be saved.
    """

    kinds: frozenset[str]
    saves: str

    def encode(self, writer: TreeWriter, value: Any, path: str) -> dict[str, Any] | None:
        """A node ``{"type": <one of kinds>, ...}`` for ``value``, or None if not its kind.

        Nested values go through ``writer.encode``, arrays through ``writer.store``.
        """

    def decode(self, reader: TreeReader, node: dict[str, Any], where: str) -> Any:
        """The value of a node of one of ``kinds`` (``reader.fields`` checks its fields;
        ``reader.decode`` decodes nested values; errors are ``reader.fail``)."""


# --- encoding ----------------------------------------------------------------------------------


class TreeWriter:
    """Encodes values into JSON nodes, collecting the arrays in ``tensors``.

    Parameters
    ----------
    root : str
        What the tree is, for error messages (``"Holder"`` gives ``Holder.coef_``).
    hook : Hook, optional
        Encodes the values the tree itself does not hold.
    caller : str, default="save"
        The function named by error messages.
    """

    def __init__(self, root: str, *, hook: Hook | None = None, caller: str = "save") -> None:
        self.root, self.hook, self.caller = root, hook, caller
        self.tensors: dict[str, np.ndarray] = {}
        # id -> (array, node), so an array held twice is saved once and loads as one array;
        # holding the array (and every temporary: ``keep``) keeps its id from being reused.
        self._shared: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._kept: list[Any] = []
        self._open: set[int] = set()  # ids of the containers being written, to refuse cycles

    def where(self, path: str) -> str:
        """The place ``path`` in the tree, as errors name it."""
        return f"{self.root}.{path}" if path else self.root

    def keep(self, value: Any) -> None:
        """Hold a temporary made while encoding until the writer is done (its id stays unique)."""
        self._kept.append(value)

    def encode(self, value: Any, path: str = "") -> Any:
        """The JSON node of ``value`` at ``path`` (dotted: ``"model.0.weight"``)."""
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"type": "float", "value": str(value)}
        if id(value) in self._open:
            raise TypeError(f"{self.caller}: {self.where(path)} contains itself; a tree is saved, "
                            "not a graph with cycles.")  # fmt: skip
        self._open.add(id(value))
        try:
            return self._encode(value, kind, path)
        finally:
            self._open.discard(id(value))

    def _encode(self, value: Any, kind: type, path: str) -> Any:
        dot = f"{path}." if path else ""
        if kind is list:
            return [self.encode(v, f"{dot}{i}") for i, v in enumerate(value)]
        if kind in (tuple, set, frozenset):
            items = [self.encode(v, f"{dot}{i}") for i, v in enumerate(value)]
            return {"type": kind.__name__, "items": items}
        if kind is dict:
            if all(type(k) is str for k in value):
                return {"type": "dict", "items": {k: self.encode(v, dot + k)
                                                  for k, v in value.items()}}  # fmt: skip
            pairs = [[self.encode(k, f"{dot}{i}.key"), self.encode(v, f"{dot}{k}")]
                     for i, (k, v) in enumerate(value.items())]  # fmt: skip
            return {"type": "dict", "pairs": pairs}
        if kind in (np.ndarray, np.memmap):
            return self._array(value, path)
        if kind is np.ma.MaskedArray:
            return self._masked(value, path)
        if isinstance(value, np.generic):
            return self._scalar(value, path)
        if kind is np.random.Generator:
            return {"type": "generator", "state": self.encode(value.bit_generator.state, path)}
        if kind in BIT_GENERATORS.values():
            return {"type": "bit_generator", "state": self.encode(value.state, path)}
        node = None if self.hook is None else self.hook.encode(self, value, path)
        if node is not None:
            return node
        extra = "" if self.hook is None else f", {self.hook.saves}"
        raise TypeError(
            f"{self.caller}: {self.where(path)} is a {kind.__module__}.{kind.__qualname__}, "
            f"which cannot be saved without pickle, and theta never pickles; it saves "
            f"{_SUPPORTED}{extra}."
        )

    def store(self, array: np.ndarray, path: str) -> str:
        """Put ``array`` in ``tensors`` under the name of ``path`` (made unique); the name."""
        key, n = path or self.root, 1
        while key in self.tensors:
            n += 1
            key = f"{path or self.root}#{n}"
        self.tensors[key] = array
        return key

    def _array(self, value: np.ndarray, path: str) -> dict[str, Any]:
        if id(value) in self._shared:
            return self._shared[id(value)][1]
        dtype = value.dtype
        if dtype.kind in "USO":
            items = value.ravel().tolist()
            if dtype.kind == "S":
                items = [item.decode("latin-1") for item in items]
            elif dtype.kind == "O":
                dot = f"{path}." if path else ""
                items = [self.encode(item, f"{dot}{i}") for i, item in enumerate(items)]
            node = {"type": "ndarray", "dtype": dtype.str, "shape": list(value.shape),
                    "items": items}  # fmt: skip
        elif dtype == np.complex128:
            pair = np.stack([value.real, value.imag], axis=-1)
            node = {"type": "ndarray", "key": self.store(pair, path), "complex": True}
        elif (dtype.kind in "biuf" and dtype.itemsize <= 8) or dtype == np.complex64:
            node = {"type": "ndarray", "key": self.store(value, path)}
            if value.ndim > 1 and value.flags.f_contiguous and not value.flags.c_contiguous:
                node["order"] = "F"  # keep the layout: BLAS may round differently on the other
        else:
            raise TypeError(
                f"{self.caller}: {self.where(path)} is an array of dtype {dtype}, which cannot "
                "be saved; bool, int, uint, float16/32/64, complex64/128, str, bytes and object "
                "arrays can."
            )
        self._shared[id(value)] = (value, node)
        return node

    def _masked(self, value: np.ma.MaskedArray, path: str) -> dict[str, Any]:
        dot = f"{path}." if path else ""
        data, mask = value.data, value.mask
        self.keep(data)  # a view made here: its id must stay unique while encoding
        return {
            "type": "masked_array",
            "data": self._array(data, path),
            "mask": None if mask is np.ma.nomask else self._array(mask, f"{dot}mask"),
            "fill_value": None if _default_fill(value) else self.encode(value.fill_value,
                                                                        f"{dot}fill_value"),
        }  # fmt: skip

    def _scalar(self, value: np.generic, path: str) -> dict[str, Any]:
        if value.dtype.kind == "U":
            return {"type": "scalar", "dtype": value.dtype.str, "value": str(value)}
        if value.dtype.kind == "S":
            return {"type": "scalar", "dtype": value.dtype.str, "value": value.decode("latin-1")}
        array = np.array(value)
        self.keep(array)
        return {**self._array(array, path), "type": "scalar"}


def _default_fill(value: np.ma.MaskedArray) -> bool:
    """True if ``value``'s fill value is its dtype's default, which is not stored: NumPy gives
    an int16 array the int64 999999 that setting it explicitly would truncate."""
    same = value.fill_value == np.ma.default_fill_value(value.dtype)
    return type(same) in (bool, np.bool_) and bool(same)


# --- decoding ----------------------------------------------------------------------------------


class TreeReader:
    """Decodes JSON nodes back into values, taking arrays from ``tensors``; strict.

    Parameters
    ----------
    tensors : dict of str to ndarray
    source : str
        Where the tree comes from; every error starts with it.
    hook : Hook, optional
        Decodes the node kinds it lists.
    tensor_source : str, optional
        The file ``tensors`` come from, if not ``source``.
    """

    def __init__(
        self,
        tensors: Mapping[str, np.ndarray],
        source: str,
        *,
        hook: Hook | None = None,
        tensor_source: str | None = None,
    ) -> None:
        self.tensors, self.source, self.hook = tensors, source, hook
        self.tensor_source = tensor_source or source
        self.used: set[str] = set()
        self._arrays: dict[str, np.ndarray] = {}  # an array held twice loads as one
        self._depth = 0

    def fail(self, where: str, reason: str) -> CheckpointError:
        """The error for a malformed node at ``where``."""
        return CheckpointError(f"{self.source}: at {where}: {reason}.")

    def fields(self, node: dict[str, Any], where: str, **spec: Any) -> list[Any]:
        """``node``'s values for the keys in ``spec``: ``key=type`` (None: any), ``(type, None)``
        if it may be absent; keys ``spec`` does not name are refused."""
        unknown = sorted(set(node) - set(spec) - {"type"})
        if unknown:
            raise self.fail(where, f"unexpected keys {unknown} in a {node['type']!r} value")
        out = []
        for key, kind in spec.items():
            optional = isinstance(kind, tuple)
            kind = kind[0] if optional else kind
            if key not in node and optional:
                out.append(None)
            elif key not in node or (kind is not None and type(node[key]) is not kind):
                expected = "present" if kind is None else f"a {kind.__name__}"
                expected += " (or absent)" if optional else ""
                raise self.fail(where, f"{key!r} must be {expected}, not {_short(node.get(key))}")
            else:
                out.append(node[key])
        return out

    def tensor(self, key: str, where: str) -> np.ndarray:
        """The tensor ``key``, which must exist; it counts as used."""
        if key not in self.tensors:
            file = os.path.basename(self.tensor_source)
            raise self.fail(where, f"{file} has no tensor {key!r}")
        self.used.add(key)
        return self.tensors[key]

    def decode(self, node: Any, where: str) -> Any:
        """The value of ``node``, found at ``where`` (for errors)."""
        if node is None or type(node) in (bool, int, float, str):
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self.fail(where, f"the tree is nested too deeply (it nests deeper than "
                                       f"{MAX_DEPTH} levels)")  # fmt: skip
            if type(node) is list:
                return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
            kind = node.get("type") if type(node) is dict else None
            if kind in _KINDS:
                return getattr(self, f"_decode_{kind}")(node, where)
            if self.hook is not None and kind in self.hook.kinds:
                return self.hook.decode(self, node, where)
            raise self.fail(where, f"unknown value {_short(node)}")
        finally:
            self._depth -= 1

    def _decode_float(self, node: dict[str, Any], where: str) -> float:
        (text,) = self.fields(node, where, value=str)
        if text not in ("nan", "inf", "-inf"):
            raise self.fail(where, f"a 'float' value is 'nan', 'inf' or '-inf', not {text!r}")
        return float(text)

    def _decode_tuple(self, node: dict[str, Any], where: str) -> Any:
        (items,) = self.fields(node, where, items=list)
        values = [self.decode(v, f"{where}[{i}]") for i, v in enumerate(items)]
        try:
            return _CONTAINERS[node["type"]](values)
        except TypeError as exc:  # unhashable set members
            raise self.fail(where, str(exc)) from None

    _decode_set = _decode_frozenset = _decode_tuple

    def _decode_dict(self, node: dict[str, Any], where: str) -> dict[Any, Any]:
        items, pairs = self.fields(node, where, items=(dict, None), pairs=(list, None))
        if (items is None) == (pairs is None):
            raise self.fail(where, "a 'dict' value has either 'items' or 'pairs'")
        if items is not None:
            return {k: self.decode(v, f"{where}.{k}") for k, v in items.items()}
        out = {}
        for i, pair in enumerate(pairs):
            if type(pair) is not list or len(pair) != 2:
                raise self.fail(f"{where}.pairs[{i}]", "a pair is a [key, value] list")
            key = self.decode(pair[0], f"{where}.pairs[{i}][0]")
            try:
                out[key] = self.decode(pair[1], f"{where}.pairs[{i}][1]")
            except TypeError as exc:  # an unhashable key
                raise self.fail(f"{where}.pairs[{i}][0]", str(exc)) from None
        return out

    def _decode_ndarray(self, node: dict[str, Any], where: str) -> np.ndarray:
        if "key" not in node:
            return self._text_array(node, where)
        key, order, is_complex = self.fields(node, where, key=str, order=(str, None),
                                             complex=(bool, None))  # fmt: skip
        if key in self._arrays:
            return self._arrays[key]
        array = self.tensor(key, where)
        if is_complex:
            if array.dtype != np.float64 or array.ndim == 0 or array.shape[-1] != 2:
                raise self.fail(where, f"a complex array is stored as (..., 2) float64, not "
                                       f"{array.shape} {array.dtype}")  # fmt: skip
            pair, array = array, np.empty(array.shape[:-1], np.complex128)
            array.real, array.imag = pair[..., 0], pair[..., 1]
        if order not in (None, "F"):
            raise self.fail(where, f"'order' is 'F' or absent, not {order!r}")
        self._arrays[key] = np.asfortranarray(array) if order == "F" else array
        return self._arrays[key]

    def _decode_masked_array(self, node: dict[str, Any], where: str) -> np.ma.MaskedArray:
        data, mask, fill = self.fields(node, where, data=dict, mask=None, fill_value=None)
        data = self.decode(data, f"{where}.data")
        if type(data) is not np.ndarray:
            raise self.fail(where, f"a masked array's data is an array, not {type(data).__name__}")
        if mask is not None:
            mask = self.decode(mask, f"{where}.mask")
            if type(mask) is not np.ndarray or mask.dtype != np.bool_ or mask.shape != data.shape:
                got = f"{mask.shape} {mask.dtype}" if type(mask) is np.ndarray else _short(mask)
                raise self.fail(where, f"a masked array's mask is a bool array of its data's "
                                       f"shape {data.shape}, or null, not {got}")  # fmt: skip
        fill = self.decode(fill, f"{where}.fill_value")
        array = np.ma.MaskedArray(data, mask=np.ma.nomask if mask is None else mask)
        try:
            if fill is not None:
                array.fill_value = fill
        except (TypeError, ValueError, OverflowError) as exc:
            raise self.fail(where, f"fill value {fill!r} does not fit dtype {data.dtype}: "
                                   f"{exc}") from None  # fmt: skip
        return array

    def _text_array(self, node: dict[str, Any], where: str) -> np.ndarray:
        dtype_text, shape, items = self.fields(node, where, dtype=str, shape=list, items=list)
        dtype = self._text_dtype(dtype_text, where)
        if len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
            raise self.fail(where, f"'shape' must be at most 32 sizes >= 0, not {_short(shape)}")
        if math.prod(shape) != len(items):
            raise self.fail(
                where, f"shape {shape} needs {math.prod(shape)} items, not {len(items)}"
            )
        if dtype.kind == "O":
            array = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                array[i] = self.decode(item, f"{where}.items[{i}]")
            return array.reshape(shape)
        if not all(type(item) is str for item in items):
            raise self.fail(where, f"the items of a {dtype} array must be strings")
        # allocate what the file's own items need, not what a width field claims
        longest = max(map(len, items), default=0)
        if dtype.itemsize // (4 if dtype.kind == "U" else 1) > 8 * longest + 64:
            raise self.fail(where, f"dtype {dtype} is far wider than its longest item")
        if dtype.kind == "S":
            try:
                items = [item.encode("latin-1") for item in items]
            except UnicodeEncodeError:
                raise self.fail(where, "bytes items must be latin-1 characters") from None
        return np.array(items, dtype=dtype).reshape(shape)

    def _text_dtype(self, text: str, where: str) -> np.dtype:
        if not _TEXT_DTYPE.fullmatch(text):
            raise self.fail(where, f"dtype {text!r} is not a str, bytes or object dtype")
        return np.dtype(text)

    def _decode_scalar(self, node: dict[str, Any], where: str) -> np.generic:
        if "key" in node:
            array = self._decode_ndarray(node, where)
            if array.ndim != 0:
                raise self.fail(where, f"a scalar's tensor must be 0-d, not {array.shape}")
            return array[()]
        dtype_text, value = self.fields(node, where, dtype=str, value=str)
        dtype = self._text_dtype(dtype_text, where)
        if dtype.kind == "O":
            raise self.fail(where, "an object scalar is not a NumPy scalar")
        if dtype.kind == "U":
            return np.str_(value)
        try:
            return np.bytes_(value.encode("latin-1"))
        except UnicodeEncodeError:
            raise self.fail(where, "a bytes scalar holds latin-1 characters only") from None

    def _decode_bit_generator(self, node: dict[str, Any], where: str) -> np.random.BitGenerator:
        (state,) = self.fields(node, where, state=dict)
        state = self.decode(state, f"{where}.state")
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in BIT_GENERATORS:
            raise self.fail(where, f"unknown bit generator {_short(name)}; theta restores "
                                   f"{', '.join(BIT_GENERATORS)}")  # fmt: skip
        bit_generator = BIT_GENERATORS[name]()
        try:
            bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self.fail(where, f"invalid {name} state: {exc!r}") from None
        return bit_generator

    def _decode_generator(self, node: dict[str, Any], where: str) -> np.random.Generator:
        return np.random.Generator(self._decode_bit_generator(node, where))


def decode(
    node: Any,
    tensors: Mapping[str, np.ndarray],
    *,
    source: str,
    root: str = "tree",
    hook: Hook | None = None,
    tensor_source: str | None = None,
) -> Any:
    """The tree ``encode`` gave as ``node`` and ``tensors``, checked strictly.

    Parameters
    ----------
    node : JSON value
    tensors : mapping of str to ndarray
    source : str
        Where ``node`` comes from (a file); every error starts with it.
    root : str, default="tree"
        The name of the tree's root in error messages (``"config"``: ``config.state.coef_``).
    hook : Hook, optional
        Decodes the node kinds it lists.
    tensor_source : str, optional
        Where ``tensors`` come from, if not ``source``.

    Returns
    -------
    The tree.

    Raises
    ------
    CheckpointError
        Naming ``source`` and the place of the first node that is malformed, of an unknown
        kind, nested deeper than ``MAX_DEPTH`` or naming a missing tensor; or naming
        ``tensor_source`` and the tensors no node uses.

    Examples
    --------
    >>> writer = TreeWriter("tree")
    >>> node = writer.encode({"w": np.zeros(2), "steps": (1, 2)})
    >>> node["items"]["steps"], writer.tensors
    ({'type': 'tuple', 'items': [1, 2]}, {'w': array([0., 0.])})
    >>> tensors = writer.tensors
    >>> decode(node, tensors, source="example")
    {'w': array([0., 0.]), 'steps': (1, 2)}
    >>> decode({"type": "ndarray", "key": "v"}, tensors, source="example")
    Traceback (most recent call last):
    ...
    theta.errors.CheckpointError: example: at tree: example has no tensor 'v'.
    """
    reader = TreeReader(tensors, source, hook=hook, tensor_source=tensor_source)
    try:
        tree = reader.decode(node, root)
    except RecursionError:
        raise reader.fail(root, "the tree is nested too deeply") from None
    unused = sorted(set(tensors) - reader.used)
    if unused:
        raise CheckpointError(
            f"{reader.tensor_source} holds tensors that the tree {root!r} does not use: "
            f"{', '.join(unused)}."
        )
    return tree


def parse_json(text: str | bytes, name: str, *, allow_nan: bool = False) -> Any:
    """``text`` as strict JSON: UTF-8, no key twice, and (unless ``allow_nan``) no ``NaN`` or
    ``Infinity`` literals (a tree writes those as values).

    The object hook is ``theta.tensorfile``'s, which checks safetensors headers the same way.

    Raises
    ------
    CheckpointError
        Naming ``name``, if ``text`` is not such JSON or nests too deeply to parse.

    Examples
    --------
    >>> parse_json('{"a": 1, "a": 2}', "example")
    Traceback (most recent call last):
    ...
    theta.errors.CheckpointError: example is not valid UTF-8 JSON: the key 'a' appears twice.
    """
    constant = {} if allow_nan else {"parse_constant": _no_constant}
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=no_duplicate_keys, **constant)
    except RecursionError:
        reason = "it nests too deeply"
    except DuplicateKeyError as exc:
        reason = f"the key {exc.args[0]!r} appears twice"
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = str(exc)
    raise CheckpointError(f"{name} is not valid UTF-8 JSON: {reason}.")


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not a JSON value (a tree writes NaN and infinity as strings)")


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- one file ----------------------------------------------------------------------------------


def save_tree(
    path: str | os.PathLike,
    tree: Any,
    *,
    key: str = "tree",
    metadata: Mapping[str, str] | None = None,
    hook: Hook | None = None,
    caller: str = "save_tree",
) -> None:
    """Write ``tree`` to one safetensors file, atomically: its arrays as the file's tensors,
    the rest as JSON in the metadata entry ``key``.

    Parameters
    ----------
    path : str or path-like
        The file; replaced if it exists (``theta.tensorfile.write_tensors``).
    tree : any allowed value
    key : str, default="tree"
        The metadata entry that holds the JSON.
    metadata : mapping of str to str, optional
        More metadata (a format name and version).
    hook : Hook, optional
        Encodes values of other kinds.
    caller : str, default="save_tree"
        The function named by error messages.

    Raises
    ------
    TypeError
        Naming the place and type of a value that cannot be saved; nothing is written.
    OSError
        Naming ``path``; the previous file, if any, is unchanged.

    Examples
    --------
    >>> import os, tempfile
    >>> state = {"step": 3, "w": np.arange(3.0), "rng": np.random.default_rng(0)}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_tree(os.path.join(d, "state.safetensors"), state)
    ...     again, _ = load_tree(os.path.join(d, "state.safetensors"))
    >>> again["step"], again["w"], again["rng"].random() == state["rng"].random()
    (3, array([0., 1., 2.]), True)
    """
    writer = TreeWriter(key, hook=hook, caller=caller)
    text = json.dumps(writer.encode(tree), allow_nan=False, separators=(",", ":"))
    write_tensors(path, writer.tensors, {**(metadata or {}), key: text})


def load_tree(
    path: str | os.PathLike, *, key: str = "tree", hook: Hook | None = None
) -> tuple[Any, dict[str, str]]:
    """Read a tree written by ``save_tree``, and the file's other metadata.

    Parameters
    ----------
    path : str or path-like
    key : str, default="tree"
        The metadata entry that holds the JSON.
    hook : Hook, optional
        Decodes the node kinds it lists.

    Returns
    -------
    tree : the saved value
    metadata : dict of str to str
        The file's metadata without ``key``.

    Raises
    ------
    CheckpointError
        If the file is not a valid safetensors file (see ``theta.tensorfile.read_tensors``),
        holds no tree under ``key``, or the tree is malformed (see ``decode``).
    FileNotFoundError, IsADirectoryError, PermissionError
        Naming ``path``.
    """
    name = os.fspath(path)
    tensors, metadata = read_tensors(name)
    tree = decode_text(metadata.pop(key, None), tensors, source=name, root=key, hook=hook)
    return tree, metadata


def decode_text(
    text: str | None, tensors: Mapping[str, np.ndarray], *, source: str, root: str,
    hook: Hook | None = None, tensor_source: str | None = None,
) -> Any:  # fmt: skip
    """``decode`` the JSON ``text`` (a file's metadata entry ``root``; None if it has none)."""
    if text is None:
        raise CheckpointError(f"{source}: the metadata entry {root!r} that holds the tree is "
                              "missing.")  # fmt: skip
    node = parse_json(text, f"{source}: its {root!r} entry")
    return decode(node, tensors, source=source, root=root, hook=hook, tensor_source=tensor_source)
