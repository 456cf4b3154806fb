"""Learner folders: an estimator or agent (any ``theta.params.Params``), fitted or not, no pickle.

A learner is its hyperparameters (the ``__init__`` arguments, ``get_params(deep=False)``) and
its fitted state (every other attribute in ``vars(learner)``: ``coef_``, ``classes_``, a kNN's
stored ``_fit_X``, ...). Both are written as a tree of JSON values in ``config.json``, in which
everything JSON cannot hold exactly is an object tagged with its ``"type"``:

===================  =====================================================================
``tuple``, ``set``,  ``{"type": "tuple", "items": [...]}`` (lists are plain JSON lists, so a
``frozenset``        tuple comes back a tuple and ``get_params()`` compares equal)
``dict``             ``{"items": {str: value}}``, or ``{"pairs": [[key, value], ...]}`` for
                     other keys (``class_weight={0: 1.0}``)
``float``            only NaN and ±inf: ``{"type": "float", "value": "nan"}``
``ndarray``          numeric: ``{"key": name}``, the array in ``state.safetensors`` (with
                     ``"order": "F"`` for Fortran-ordered arrays, ``"complex": true`` for
                     complex128 stored as (..., 2) float64); str, bytes and object arrays
                     (``classes_`` of string labels): ``{"dtype", "shape", "items"}`` in JSON
``scalar``           a NumPy scalar: a 0-d tensor ``{"key"}``, or ``{"dtype", "value"}``
``module``           a theta ``Module``: ``{"folder", "weights_id"}``, a model folder inside
``learner``          a nested learner: ``{"class", "params", "state"}``, the same tree
``generator``        a ``numpy.random.Generator``: its bit generator's ``state``
``faiss_index``      a fitted faiss index: ``{"key"}``, ``faiss.serialize_index`` bytes
``dtype``            a NumPy dtype (``dtype=np.dtype("float32")``): ``{"dtype": "<f4"}``
``type``             a NumPy scalar type, a builtin type or a theta class
                     (``dtype=np.float64``): ``{"name": "numpy.float64"}``
``function``         one of theta's own functions (``loss=theta.losses.mse``): ``{"name"}``
``object``           ``{"class", "state"}`` for a class with the ``__theta_state__()`` /
                     ``__theta_restore__(state)`` hooks
===================  =====================================================================

Fitted state is every attribute whose name ends in ``_``, plus the private names a class lists
in a ``__theta_state_names__`` tuple (``("_fit_X",)``; bases' lists count too). A state
attribute may hold a function or a class only if the class lists its name in
``__theta_callables__``, and no state name may hide a method or property of the class, so a
crafted file cannot replace ``predict``. Functions and classes are looked up only in theta's
numerical packages (``_CALLABLE_PACKAGES``), never in ``theta.cli``, ``theta.io`` and the like.

A class of one's own joins in with two hooks: ``__theta_state__(self)`` returns a value made
of the kinds above, and the classmethod ``__theta_restore__(cls, state)`` returns a new object
from it. An array or module held twice is written once and loads as one object. Anything else
is refused with a ``TypeError`` naming the attribute and its type; nothing is ever pickled.
Loading looks classes up by ``registry_name`` (``module.QualName``) in ``Params.registry``;
the only modules it ever imports to find one are theta's own.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import re
import secrets
import sys
import types
from typing import Any

import numpy as np

from theta.errors import CheckpointError
from theta.io import models
from theta.io.models import (
    CONFIG_FILE,
    FORMATS,
    LEARNER_FORMAT,
    LEARNER_FORMAT_VERSION,
    STATE_FILE,
    WEIGHTS_FILE,
)
from theta.nn import Module
from theta.params import Params, registry_name
from theta.tensorfile import atomic_directory, atomic_write_text, write_tensors

__all__: list[str] = []  # reached through theta.io.save and theta.io.load

RESERVED = {CONFIG_FILE, STATE_FILE, WEIGHTS_FILE}  # never a sub-model folder's name
# The packages whose functions and classes a file may name as a value (loss=theta.losses.mse):
# theta's numerical code, never one that runs commands or writes files (cli, io, train, tune).
_CALLABLE_PACKAGES = ("theta.losses", "theta.metrics", "theta.pairwise", "theta.special",
                      "theta.nn", "theta.models", "theta.estimators", "theta.optim",
                      "theta.rl")  # fmt: skip
# types a hyperparameter may name (``dtype=np.float64``), by registry name ("numpy.float64")
_TYPES = {registry_name(t): t for t in {*np.sctypeDict.values(), bool, int, float, complex, str,
                                        bytes, object}}  # fmt: skip
_SUPPORTED = (
    "arrays (numeric, str, bytes or object), numbers, strings, booleans, None, lists, tuples, "
    "sets, dicts, NumPy scalars, dtypes, scalar types and Generators, theta Modules, "
    "learners, classes and functions, faiss indexes, or objects whose class defines "
    "__theta_state__ and __theta_restore__"
)


# --- saving ------------------------------------------------------------------------------------


def save_learner(learner: Params, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``learner`` to the learner folder ``path`` (see ``theta.io.save``)."""
    writer = _Writer(type(learner).__name__)
    config = {
        "format": LEARNER_FORMAT,
        "format_version": LEARNER_FORMAT_VERSION,
        "theta_version": models.theta_version(),
        **writer.learner(learner, ""),
        "state_id": secrets.token_hex(16),
    }
    text = json.dumps(config, indent=2, allow_nan=False) + "\n"
    metadata = {FORMATS[LEARNER_FORMAT][3]: config["state_id"]}
    with atomic_directory(
        path, overwrite=overwrite, may_replace=models.check_replaceable
    ) as staging:
        for folder, module, module_config in writer.modules:
            os.mkdir(staging / folder)
            models.write_model_files(staging / folder, module, module_config)
        write_tensors(staging / STATE_FILE, writer.tensors, metadata)
        atomic_write_text(staging / CONFIG_FILE, text)


class _Writer:
    """Turns a learner into JSON values, tensors for ``state.safetensors`` and model folders."""

    def __init__(self, root: str) -> None:
        self.root = root  # the saved learner's class name, for error messages
        self.tensors: dict[str, np.ndarray] = {}
        self.modules: list[tuple[str, Module, dict[str, Any]]] = []  # (folder, module, config)
        # id -> (object, node) for arrays and modules, so an object held twice is saved once
        # and loads as one object; holding the object keeps its id from being reused.
        self._shared: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._alive: list[Any] = []  # temporaries made while saving, kept so ids stay unique
        self._folders: set[str] = set()
        self._open: set[int] = set()  # ids of the containers being written, to refuse cycles

    def learner(self, learner: Params, path: str) -> dict[str, Any]:
        cls = type(learner)
        name = registry_name(cls)
        if Params.registry.get(name) is not cls:
            raise TypeError(
                f"save: {self._where(path) or name} cannot be saved by name: its class "
                f"{name!r} is not the one Params.registry holds under that name (a class "
                "defined inside a function, or two classes with one name); define it at the "
                "top level of a module."
            )
        params = learner.get_params(deep=False)
        prefix = f"{path}." if path else ""
        self._open.add(id(learner))
        state = {}
        for key, value in vars(learner).items():
            if key in params:
                continue
            node = self.value(value, prefix + key)
            problem = state_name_problem(cls, key) or callable_problem(cls, key, node)
            if problem:
                raise TypeError(
                    f"save: {self._where(prefix + key)}: {problem}; load would refuse it, "
                    "so declare it there or do not keep it on the learner."
                )
            state[key] = node
        return {
            "class": name,
            "params": {k: self.value(v, prefix + k) for k, v in params.items()},
            "state": state,
        }

    def value(self, value: Any, path: str) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"type": "float", "value": str(value)}
        if id(value) in self._open:
            raise TypeError(f"save: {self._where(path)} contains itself; theta.io saves trees.")
        self._open.add(id(value))
        try:
            return self._value(value, kind, path)
        finally:
            self._open.discard(id(value))

    def _value(self, value: Any, kind: type, path: str) -> Any:
        if kind is list:
            return [self.value(v, f"{path}.{i}") for i, v in enumerate(value)]
        if kind in (tuple, set, frozenset):
            items = [self.value(v, f"{path}.{i}") for i, v in enumerate(value)]
            return {"type": kind.__name__, "items": items}
        if kind is dict:
            if all(type(k) is str for k in value):
                items = {k: self.value(v, f"{path}.{k}") for k, v in value.items()}
                return {"type": "dict", "items": items}
            pairs = [[self.value(k, f"{path}.{i}.key"), self.value(v, f"{path}.{i}")]
                     for i, (k, v) in enumerate(value.items())]  # fmt: skip
            return {"type": "dict", "pairs": pairs}
        if kind in (np.ndarray, np.memmap):
            return self._array(value, path)
        if isinstance(value, np.generic):
            return self._scalar(value, path)
        if isinstance(value, Module):
            return self._module(value, path)
        if isinstance(value, Params):
            return {"type": "learner", **self.learner(value, path)}
        if kind is np.random.Generator:
            state = value.bit_generator.state
            return {"type": "generator", "state": self.value(state, f"{path}.state")}
        if isinstance(value, np.dtype) and value.kind in "biufcUSO" and value.fields is None:
            return {"type": "dtype", "dtype": value.str}
        if isinstance(value, type) and named_type(registry_name(value)) is value:
            return {"type": "type", "name": registry_name(value)}
        if kind is types.FunctionType and theta_function(registry_name(value)) is value:
            return {"type": "function", "name": registry_name(value)}
        index = _serialized_faiss_index(value)
        if index is not None:
            return {"type": "faiss_index", "key": self._store(index, path)}
        if hook_class(registry_name(kind)) is kind:
            state = value.__theta_state__()
            self._alive.append(state)
            return {"type": "object", "class": registry_name(kind),
                    "state": self.value(state, path)}  # fmt: skip
        raise TypeError(
            f"save: {self._where(path)} is a {kind.__module__}.{kind.__qualname__}, which "
            f"theta.io cannot save (it never pickles); it saves {_SUPPORTED}."
        )

    def _where(self, path: str) -> str:
        return f"{self.root}.{path}" if path else ""

    def _store(self, array: np.ndarray, path: str) -> str:
        key, n = path, 1
        while key in self.tensors:
            n += 1
            key = f"{path}#{n}"
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
                items = [self.value(item, f"{path}.{i}") for i, item in enumerate(items)]
            node = {"type": "ndarray", "dtype": dtype.str, "shape": list(value.shape),
                    "items": items}  # fmt: skip
        elif dtype == np.complex128:
            pair = np.stack([value.real, value.imag], axis=-1)
            node = {"type": "ndarray", "key": self._store(pair, path), "complex": True}
        elif (dtype.kind in "biuf" and dtype.itemsize <= 8) or dtype == np.complex64:
            node = {"type": "ndarray", "key": self._store(value, path)}
            if value.ndim > 1 and value.flags.f_contiguous and not value.flags.c_contiguous:
                node["order"] = "F"  # keep the layout: BLAS may round differently on the other
        else:
            raise TypeError(
                f"save: {self._where(path)} is an array of dtype {dtype}, which theta.io "
                "cannot save; it saves bool, int, uint, float16/32/64, complex64/128, str, "
                "bytes and object arrays."
            )
        self._shared[id(value)] = (value, node)
        return node

    def _scalar(self, value: np.generic, path: str) -> dict[str, Any]:
        if value.dtype.kind == "U":
            return {"type": "scalar", "dtype": value.dtype.str, "value": str(value)}
        if value.dtype.kind == "S":
            return {"type": "scalar", "dtype": value.dtype.str, "value": value.decode("latin-1")}
        array = np.array(value)
        self._alive.append(array)
        return {**self._array(array, path), "type": "scalar"}

    def _module(self, value: Module, path: str) -> dict[str, Any]:
        if id(value) in self._shared:
            return self._shared[id(value)][1]
        config = models.model_config(value)  # refuses bad hyperparameters before any write
        folder = re.sub(r"[^A-Za-z0-9_.\-]", "_", path)[:190].lstrip(".") or "module"
        name, n = folder, 1
        while name in self._folders or name in RESERVED:
            n += 1
            name = f"{folder}-{n}"
        self._folders.add(name)
        self.modules.append((name, value, config))
        node = {"type": "module", "folder": name, "weights_id": config["weights_id"]}
        self._shared[id(value)] = (value, node)
        return node


def _serialized_faiss_index(value: Any) -> np.ndarray | None:
    """``faiss.serialize_index(value)`` (uint8) if ``value`` is a faiss index, else None."""
    if not type(value).__module__.startswith("faiss"):
        return None  # faiss is imported only when a learner holds something of its own
    import faiss

    return faiss.serialize_index(value) if isinstance(value, faiss.Index) else None


# --- finding classes by name -------------------------------------------------------------------


def learner_class(name: str, config_path: str, where: str) -> type:
    """The ``Params`` class registered as ``name``, importing its module only if it is theta's."""
    cls = Params.registry.get(name)
    failure = None
    if cls is None:
        failure = _import_theta_module(name)
        cls = Params.registry.get(name)
    if cls is None:
        known = ", ".join(sorted(Params.registry)) or "none"
        why = f" ({failure})" if failure else ""
        raise CheckpointError(
            f"{config_path}: unknown learner class {name!r} at {where}{why}; the known ones "
            f"are: {known}. If it is your own class, import the module that defines it "
            "before calling load (theta.io never imports a module a file names, except "
            "theta's own)."
        )
    return cls


def _import_theta_module(name: str) -> str | None:
    """Import the theta module that defines ``name`` ("theta.pkg.module.Class"), if it is not
    yet imported. Only theta's own modules, never ``__main__``; returns why an import failed."""
    parts = name.split(".")
    if parts[0] != "theta" or not all(p.isidentifier() and not p.startswith("__") for p in parts):
        return None
    for end in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:end])
        if module in sys.modules:
            return None
        try:
            if importlib.util.find_spec(module) is None:
                continue
            importlib.import_module(module)
        except ImportError as exc:
            return f"importing {module} failed: {exc}"
        return None
    return None


def hook_class(name: str) -> type | None:
    """The class ``name`` if it defines both theta.io hooks (see ``_find``)."""
    found = _find(name)
    has_hooks = all(callable(getattr(found, hook, None))
                    for hook in ("__theta_state__", "__theta_restore__"))  # fmt: skip
    return found if isinstance(found, type) and has_hooks else None


def named_type(name: str) -> type | None:
    """The type ``name``: a NumPy scalar type, a builtin number/str type or a class from one
    of theta's modelling packages (``_CALLABLE_PACKAGES``)."""
    if name in _TYPES:
        return _TYPES[name]
    found = _find(name) if _in_callable_package(name) else None
    return found if isinstance(found, type) else None


def theta_function(name: str) -> types.FunctionType | None:
    """The function ``name`` if it is in one of theta's modelling packages (see ``_find``)."""
    found = _find(name) if _in_callable_package(name) else None
    return found if isinstance(found, types.FunctionType) else None


def _in_callable_package(name: str) -> bool:
    return any(name.startswith(package + ".") for package in _CALLABLE_PACKAGES)


def declared(cls: type, attribute: str) -> frozenset[str]:
    """The names ``cls`` and its bases list in the class attribute ``attribute``
    (``__theta_state_names__`` or ``__theta_callables__``)."""
    names = (vars(c).get(attribute, ()) for c in cls.__mro__)
    return frozenset(name for group in names for name in group if isinstance(name, str))


def state_name_problem(cls: type, key: str) -> str | None:
    """Why ``key`` may not be saved or restored as fitted state of a ``cls``; None if it may.

    Fitted state is what ``vars(learner)`` holds besides the hyperparameters: names that end
    in ``_``, plus those the class lists in ``__theta_state_names__``; never a name the
    class itself defines (a method or property, which the attribute would hide).
    """
    if not key.isidentifier() or key.startswith("__") or key in cls._get_param_names():
        return f"{key!r} is not a fitted attribute name"
    if not (key.endswith("_") or key in declared(cls, "__theta_state_names__")):
        return (
            f"{key!r} is not fitted state of {cls.__qualname__}: fitted attributes end in '_' "
            f"or are listed in {cls.__qualname__}.__theta_state_names__"
        )
    if hasattr(cls, key):
        return f"{key!r} would hide {cls.__qualname__}.{key}, which the class defines"
    return None


def callable_problem(cls: type, key: str, node: Any) -> str | None:
    """Why the encoded state value ``node`` of attribute ``key`` may not be restored: it
    holds a function or class (other than a NumPy or builtin type) and ``cls`` does not list
    ``key`` in ``__theta_callables__``."""
    found = _held_callable(node)
    if found is None or key in declared(cls, "__theta_callables__"):
        return None
    return (
        f"{key!r} holds {found!r}, but a function or class may be fitted state only where "
        f"{cls.__qualname__}.__theta_callables__ lists the attribute"
    )


def _held_callable(node: Any) -> str | None:
    """The name of the first function or non-builtin type in a JSON value tree, skipping
    nested learners (whose own class rules their state)."""
    if isinstance(node, list):
        return next(filter(None, map(_held_callable, node)), None)
    if not isinstance(node, dict) or node.get("type") == "learner":
        return None
    kind, name = node.get("type"), node.get("name")
    if kind == "function" or (kind == "type" and name not in _TYPES):
        return str(name)
    return next(filter(None, map(_held_callable, node.values())), None)


def _find(name: str) -> Any:
    """The class or function ``name`` ("module.QualName") if its module is theta's (imported
    here if need be) or already imported, found without running any attribute hooks."""
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        return None  # e.g. defined inside a function ("<locals>")
    _import_theta_module(name)
    for end in range(len(parts) - 1, 0, -1):
        found: Any = sys.modules.get(".".join(parts[:end]))
        if found is None:
            continue
        for part in parts[end:]:
            found = vars(found).get(part) if hasattr(found, "__dict__") else None
        ok = isinstance(found, type | types.FunctionType) and registry_name(found) == name
        return found if ok else None
    return None
