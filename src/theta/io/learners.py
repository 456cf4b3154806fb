"""Learner folders: an estimator or agent (any ``theta.params.Params``), fitted or not, no pickle.

A learner is its hyperparameters (the ``__init__`` arguments, ``get_params(deep=False)``) and
its fitted state (every other attribute in ``vars(learner)``: ``coef_``, ``classes_``, a kNN's
stored ``_fit_X``, ...). Both are one ``theta.treefile`` tree: ``config.json`` holds its JSON
(``"params"`` and ``"state"``) and ``state.safetensors`` its arrays, named by attribute. The
tree's own kinds of value (arrays, numbers, strings, containers, NumPy scalars and random
generators; see ``theta.treefile``) are joined by a hook for what only learners hold:

===================  =====================================================================
``module``           a theta ``Module``: ``{"folder", "weights_id"}``, a model folder inside
``learner``          a nested learner: ``{"class", "params", "state"}``, the same tree
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
from theta.treefile import TreeWriter

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
_SAVES = (
    "theta Modules, learners, NumPy dtypes and scalar types, theta's classes and functions, "
    "faiss indexes, or objects whose class defines __theta_state__ and __theta_restore__"
)


# --- saving ------------------------------------------------------------------------------------


def save_learner(learner: Params, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``learner`` to the learner folder ``path`` (see ``theta.io.save``)."""
    hook = _Saving()
    writer = TreeWriter(type(learner).__name__, hook=hook)
    tree = writer.encode(learner)  # {"type": "learner", "class", "params", "state"}
    config = {
        "format": LEARNER_FORMAT,
        "format_version": LEARNER_FORMAT_VERSION,
        "theta_version": models.theta_version(),
        **{key: tree[key] for key in ("class", "params", "state")},
        "state_id": secrets.token_hex(16),
    }
    text = json.dumps(config, indent=2, allow_nan=False) + "\n"
    metadata = {FORMATS[LEARNER_FORMAT][3]: config["state_id"]}
    with atomic_directory(
        path, overwrite=overwrite, may_replace=models.check_replaceable
    ) as staging:
        for folder, module, module_config in hook.modules:
            os.mkdir(staging / folder)
            models.write_model_files(staging / folder, module, module_config)
        write_tensors(staging / STATE_FILE, writer.tensors, metadata)
        atomic_write_text(staging / CONFIG_FILE, text)


class _Saving:
    """The ``theta.treefile`` hook that saves what a learner holds beyond a tree's values:
    learners, modules (as model folders), faiss indexes, dtypes, types, functions and objects
    with the ``__theta_state__`` hooks."""

    kinds: frozenset[str] = frozenset()  # it only encodes; see learner_loader for decoding
    saves = _SAVES

    def __init__(self) -> None:
        self.modules: list[tuple[str, Module, dict[str, Any]]] = []  # (folder, module, config)
        self._nodes: dict[int, tuple[Module, dict[str, Any]]] = {}  # a module held twice
        self._folders: set[str] = set()

    def encode(self, writer: TreeWriter, value: Any, path: str) -> dict[str, Any] | None:
        kind = type(value)
        if isinstance(value, Module):
            return self._module(value, path)
        if isinstance(value, Params):
            return self._learner(writer, value, path)
        if isinstance(value, np.dtype) and value.kind in "biufcUSO" and value.fields is None:
            return {"type": "dtype", "dtype": value.str}
        if isinstance(value, type) and named_type(registry_name(value)) is value:
            return {"type": "type", "name": registry_name(value)}
        if kind is types.FunctionType and theta_function(registry_name(value)) is value:
            return {"type": "function", "name": registry_name(value)}
        index = _serialized_faiss_index(value)
        if index is not None:
            return {"type": "faiss_index", "key": writer.store(index, path)}
        if hook_class(registry_name(kind)) is kind:
            state = value.__theta_state__()
            writer.keep(state)
            return {"type": "object", "class": registry_name(kind),
                    "state": writer.encode(state, path)}  # fmt: skip
        return None

    def _learner(self, writer: TreeWriter, learner: Params, path: str) -> dict[str, Any]:
        cls = type(learner)
        name = registry_name(cls)
        if Params.registry.get(name) is not cls:
            raise TypeError(
                f"save: {writer.where(path)} cannot be saved by name: its class "
                f"{name!r} is not the one Params.registry holds under that name (a class "
                "defined inside a function, or two classes with one name); define it at the "
                "top level of a module."
            )
        params = learner.get_params(deep=False)
        prefix = f"{path}." if path else ""
        state = {}
        for key, value in vars(learner).items():
            if key in params:
                continue
            node = writer.encode(value, prefix + key)
            problem = state_name_problem(cls, key) or callable_problem(cls, key, node)
            if problem:
                raise TypeError(
                    f"save: {writer.where(prefix + key)}: {problem}; load would refuse it, "
                    "so declare it there or do not keep it on the learner."
                )
            state[key] = node
        return {
            "type": "learner",
            "class": name,
            "params": {k: writer.encode(v, prefix + k) for k, v in params.items()},
            "state": state,
        }

    def _module(self, value: Module, path: str) -> dict[str, Any]:
        if id(value) in self._nodes:
            return self._nodes[id(value)][1]
        config = models.model_config(value)  # refuses bad hyperparameters before any write
        folder = re.sub(r"[^A-Za-z0-9_.\-]", "_", path)[:190].lstrip(".") or "module"
        name, n = folder, 1
        while name in self._folders or name in RESERVED:
            n += 1
            name = f"{folder}-{n}"
        self._folders.add(name)
        self.modules.append((name, value, config))
        node = {"type": "module", "folder": name, "weights_id": config["weights_id"]}
        self._nodes[id(value)] = (value, node)
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
