"""Loading a learner folder: the tree in ``config.json`` back into values, strictly.

The inverse of ``theta.io.learners`` (which documents the format). Every node is checked for
its type and exact keys, every tensor it names must exist and every tensor must be used,
class names are looked up without importing anything but theta's own modules, and any
violation raises one ``CheckpointError`` naming ``config.json`` and the place in it.
"""

from __future__ import annotations

import json
import math
import os
import re
import types
from typing import Any

import numpy as np

from theta.errors import CheckpointError
from theta.io import learners, models
from theta.io.learners import RESERVED, hook_class, learner_class, named_type, theta_function
from theta.io.models import CONFIG_FILE, STATE_FILE
from theta.nn import Module
from theta.params import Params

__all__: list[str] = []  # reached through theta.io.load

_BIT_GENERATORS = {name: getattr(np.random, name)
                   for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")}  # fmt: skip
_TEXT_DTYPE = re.compile(r"[<>|=]?[US]\d{1,7}|\|?O")
_DTYPE = re.compile(r"[<>|=]?([biufc]\d{1,2}|[US]\d{1,7}|O)")
_FOLDER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")


class TornRead(CheckpointError):
    """A learner folder's files were read from two different saves (a concurrent overwrite)."""


def build_learner(
    folder: str,
    config: dict[str, Any],
    tensors: dict[str, np.ndarray],
    *,
    strict: bool,
    check_finite: bool,
    stacklevel: int,
    checksum: bool = True,
) -> Params:
    """The learner ``config`` describes, its arrays taken from ``tensors`` (``read_folder``)."""
    state_path = os.path.join(folder, STATE_FILE)
    models.check_finite_tensors(tensors, state_path, check_finite, stacklevel + 1)
    reader = _Reader(folder, tensors, checksum, strict=strict, check_finite=check_finite)
    try:
        learner = reader.learner(config, "config")
    except RecursionError:
        raise reader.fail("config", "nested too deeply") from None
    unused = sorted(set(tensors) - reader.used)
    if unused:
        raise CheckpointError(
            f"{state_path} holds tensors that {CONFIG_FILE} does not use: {', '.join(unused)}."
        )
    return learner


class _Reader:
    """Rebuilds values from ``config.json``'s tree; every malformed part is a CheckpointError."""

    def __init__(
        self, folder: str, tensors: dict[str, np.ndarray], checksum: bool, **load_options: bool
    ):
        self.folder = folder
        self.checksum = checksum  # verify each model folder's weights (read_tensors)
        self.config_path = os.path.join(folder, CONFIG_FILE)
        self.tensors = tensors
        self.load_options = load_options
        self.used: set[str] = set()
        self._arrays: dict[str, np.ndarray] = {}  # tensors and modules held twice stay shared
        self._modules: dict[str, Module] = {}

    def fail(self, where: str, reason: str) -> CheckpointError:
        return CheckpointError(f"{self.config_path}: at {where}: {reason}.")

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
                raise self.fail(where, f"{key!r} must be {expected}, not {node.get(key)!r}")
            else:
                out.append(node[key])
        return out

    def learner(self, node: dict[str, Any], where: str) -> Params:
        name, params, state = node.get("class"), node.get("params"), node.get("state")
        if type(name) is not str or type(params) is not dict or type(state) is not dict:
            raise self.fail(
                where, "a learner needs a 'class' name and 'params' and 'state' objects"
            )
        cls = learner_class(name, self.config_path, where)
        values = {k: self.value(v, f"{where}.params.{k}") for k, v in params.items()}
        try:
            learner = cls(**values)
        except (TypeError, ValueError) as exc:
            raise self.fail(where, f"cannot rebuild {name} from its params: {exc}") from None
        for key, value in state.items():
            problem = learners.state_name_problem(cls, key)
            if problem:
                raise self.fail(f"{where}.state", problem)
            decoded = self.value(value, f"{where}.state.{key}")
            problem = learners.callable_problem(cls, key, value)
            if problem:
                raise self.fail(f"{where}.state.{key}", problem)
            vars(learner)[key] = decoded
        return learner

    def value(self, node: Any, where: str) -> Any:
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(node)]
        kind = node.get("type") if type(node) is dict else None
        decode = getattr(self, f"_decode_{kind}", None) if kind in _KINDS else None
        if decode is None:
            raise self.fail(where, f"unknown value {_short(node)}")
        return decode(node, where)

    def _decode_float(self, node: dict[str, Any], where: str) -> float:
        (text,) = self.fields(node, where, value=str)
        if text not in ("nan", "inf", "-inf"):
            raise self.fail(where, f"a 'float' value is 'nan', 'inf' or '-inf', not {text!r}")
        return float(text)

    def _decode_tuple(self, node: dict[str, Any], where: str) -> Any:
        (items,) = self.fields(node, where, items=list)
        values = [self.value(v, f"{where}[{i}]") for i, v in enumerate(items)]
        container = {"tuple": tuple, "set": set, "frozenset": frozenset}[node["type"]]
        try:
            return container(values)
        except TypeError as exc:  # unhashable set members
            raise self.fail(where, str(exc)) from None

    _decode_set = _decode_frozenset = _decode_tuple

    def _decode_dict(self, node: dict[str, Any], where: str) -> dict[Any, Any]:
        items, pairs = self.fields(node, where, items=(dict, None), pairs=(list, None))
        if (items is None) == (pairs is None):
            raise self.fail(where, "a 'dict' value has either 'items' or 'pairs'")
        if items is not None:
            return {k: self.value(v, f"{where}.{k}") for k, v in items.items()}
        out = {}
        for i, pair in enumerate(pairs):
            if type(pair) is not list or len(pair) != 2:
                raise self.fail(f"{where}.pairs[{i}]", "a pair is a [key, value] list")
            key = self.value(pair[0], f"{where}.pairs[{i}][0]")
            try:
                out[key] = self.value(pair[1], f"{where}.pairs[{i}][1]")
            except TypeError as exc:  # an unhashable key
                raise self.fail(f"{where}.pairs[{i}][0]", str(exc)) from None
        return out

    def _tensor(self, key: str, where: str) -> np.ndarray:
        if key not in self.tensors:
            raise self.fail(where, f"{STATE_FILE} has no tensor {key!r}")
        self.used.add(key)
        return self.tensors[key]

    def _decode_ndarray(self, node: dict[str, Any], where: str) -> np.ndarray:
        if "key" not in node:
            return self._text_array(node, where)
        key, order, is_complex = self.fields(node, where, key=str, order=(str, None),
                                             complex=(bool, None))  # fmt: skip
        if key in self._arrays:
            return self._arrays[key]
        array = self._tensor(key, where)
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
                array[i] = self.value(item, f"{where}.items[{i}]")
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

    def _decode_module(self, node: dict[str, Any], where: str) -> Module:
        folder, weights_id = self.fields(node, where, folder=str, weights_id=(str, None))
        if not _FOLDER.fullmatch(folder) or folder in RESERVED:
            raise self.fail(where, f"{folder!r} is not a model folder name")
        if folder in self._modules:
            return self._modules[folder]
        path = os.path.join(self.folder, folder)
        models.check_folder(path)
        config, tensors = models.read_folder(path, checksum=self.checksum)
        if config["format"] != models.FORMAT:
            raise self.fail(where, f"{path} is not a model folder")
        if weights_id is not None and config.get("weights_id") != weights_id:
            raise TornRead(
                f"{path} and {self.config_path} come from different saves (weights_id "
                f"{config.get('weights_id')!r} vs {weights_id!r}); save the learner again."
            )
        model = models.build_model(path, config, tensors, stacklevel=7, **self.load_options)
        self._modules[folder] = model
        return model

    def _decode_learner(self, node: dict[str, Any], where: str) -> Params:
        self.fields(node, where, **{"class": str, "params": dict, "state": dict})
        return self.learner(node, where)

    def _decode_generator(self, node: dict[str, Any], where: str) -> np.random.Generator:
        (state,) = self.fields(node, where, state=dict)
        state = self.value(state, f"{where}.state")
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            raise self.fail(where, f"unknown bit generator {name!r}; theta restores "
                                   f"{', '.join(_BIT_GENERATORS)}")  # fmt: skip
        bit_generator = _BIT_GENERATORS[name]()
        try:
            bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self.fail(where, f"invalid {name} state: {exc!r}") from None
        return np.random.Generator(bit_generator)

    def _decode_faiss_index(self, node: dict[str, Any], where: str) -> Any:
        (key,) = self.fields(node, where, key=str)
        data = self._tensor(key, where)
        if data.dtype != np.uint8 or data.ndim != 1:
            raise self.fail(where, f"a faiss index is stored as 1-d uint8, not {data.dtype}")
        try:
            import faiss
        except ImportError:
            raise self.fail(where, "this learner holds a faiss index; install the 'ann' extra "
                                   "(pip install theta-ml[ann]) to load it") from None  # fmt: skip
        try:
            return faiss.deserialize_index(np.ascontiguousarray(data))
        except RuntimeError as exc:
            raise self.fail(where, f"faiss cannot read the index: {exc}") from None

    def _decode_dtype(self, node: dict[str, Any], where: str) -> np.dtype:
        (text,) = self.fields(node, where, dtype=str)
        if not _DTYPE.fullmatch(text):
            raise self.fail(where, f"{text!r} is not a numeric, str, bytes or object dtype")
        try:
            return np.dtype(text)
        except TypeError as exc:  # "<f3"
            raise self.fail(where, str(exc)) from None

    def _decode_type(self, node: dict[str, Any], where: str) -> type:
        (name,) = self.fields(node, where, name=str)
        found = named_type(name)
        if found is None:
            raise self.fail(
                where, f"{name!r} is not a NumPy scalar type, builtin type or theta class"
            )
        return found

    def _decode_function(self, node: dict[str, Any], where: str) -> types.FunctionType:
        (name,) = self.fields(node, where, name=str)
        function = theta_function(name)
        if function is None:
            raise self.fail(where, f"{name!r} is not a function of theta's")
        return function

    def _decode_object(self, node: dict[str, Any], where: str) -> Any:
        name, state = self.fields(node, where, **{"class": str, "state": None})
        cls = hook_class(name)
        if cls is None:
            raise self.fail(where, f"unknown class {name!r}; a class restored by its "
                                   "__theta_restore__ hook must be importable from theta or "
                                   "already imported")  # fmt: skip
        value = self.value(state, f"{where}.state")
        try:
            return cls.__theta_restore__(value)
        except Exception as exc:  # the hook's own error, whatever it is, names the file here
            raise self.fail(where, f"{name}.__theta_restore__ failed: {exc!r}") from exc


_KINDS = {"float", "tuple", "set", "frozenset", "dict", "ndarray", "scalar", "module", "learner",
          "generator", "faiss_index", "dtype", "type", "function", "object"}  # fmt: skip


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
