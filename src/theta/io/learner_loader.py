"""Loading a learner folder: the tree in ``config.json`` back into values, strictly.

The inverse of ``theta.io.learners`` (which documents the format): ``theta.treefile.decode``
with a hook for the kinds of value only learners hold. Every node is checked for its type and
exact keys, every tensor it names must exist and every tensor must be used, class names are
looked up without importing anything but theta's own modules, and any violation raises one
``CheckpointError`` naming ``config.json`` and the place in it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from theta.errors import CheckpointError
from theta.io import learners, models
from theta.io.learners import RESERVED, hook_class, learner_class, named_type, theta_function
from theta.io.models import CONFIG_FILE, STATE_FILE
from theta.nn import Module
from theta.params import Params
from theta.treefile import TreeReader, decode

__all__: list[str] = []  # reached through theta.io.load

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
    hook = _Loading(folder, checksum, strict=strict, check_finite=check_finite)
    node = {"type": "learner", **{key: config[key] for key in ("class", "params", "state")}}
    return decode(node, tensors, source=hook.config_path, root="config", hook=hook,
                  tensor_source=state_path)  # fmt: skip


class _Loading:
    """The ``theta.treefile`` hook that rebuilds learners, model folders, faiss indexes, dtypes
    and theta's types, functions and ``__theta_restore__`` objects, strictly."""

    kinds = frozenset({"module", "learner", "faiss_index", "dtype", "type", "function", "object"})
    saves = ""  # it only decodes

    def __init__(self, folder: str, checksum: bool, **load_options: bool) -> None:
        self.folder = folder
        self.checksum = checksum  # verify each model folder's weights (read_tensors)
        self.config_path = os.path.join(folder, CONFIG_FILE)
        self.load_options = load_options
        self._modules: dict[str, Module] = {}  # a module held twice loads as one

    def decode(self, reader: TreeReader, node: dict[str, Any], where: str) -> Any:
        return getattr(self, f"_{node['type']}")(reader, node, where)

    def _learner(self, reader: TreeReader, node: dict[str, Any], where: str) -> Params:
        name, params, state = reader.fields(node, where, **{"class": str, "params": dict,
                                                            "state": dict})  # fmt: skip
        cls = learner_class(name, self.config_path, where)
        values = {k: reader.decode(v, f"{where}.params.{k}") for k, v in params.items()}
        try:
            learner = cls(**values)
        except (TypeError, ValueError) as exc:
            raise reader.fail(where, f"cannot rebuild {name} from its params: {exc}") from None
        for key, value in state.items():
            problem = learners.state_name_problem(cls, key)
            if problem:
                raise reader.fail(f"{where}.state", problem)
            decoded = reader.decode(value, f"{where}.state.{key}")
            problem = learners.callable_problem(cls, key, value)
            if problem:
                raise reader.fail(f"{where}.state.{key}", problem)
            vars(learner)[key] = decoded
        return learner

    def _module(self, reader: TreeReader, node: dict[str, Any], where: str) -> Module:
        folder, weights_id = reader.fields(node, where, folder=str, weights_id=(str, None))
        if not _FOLDER.fullmatch(folder) or folder in RESERVED:
            raise reader.fail(where, f"{folder!r} is not a model folder name")
        if folder in self._modules:
            return self._modules[folder]
        path = os.path.join(self.folder, folder)
        models.check_folder(path)
        config, tensors = models.read_folder(path, checksum=self.checksum)
        if config["format"] != models.FORMAT:
            raise reader.fail(where, f"{path} is not a model folder")
        if weights_id is not None and config.get("weights_id") != weights_id:
            raise TornRead(
                f"{path} and {self.config_path} come from different saves (weights_id "
                f"{config.get('weights_id')!r} vs {weights_id!r}); save the learner again."
            )
        model = models.build_model(path, config, tensors, stacklevel=11, **self.load_options)
        self._modules[folder] = model
        return model

    def _faiss_index(self, reader: TreeReader, node: dict[str, Any], where: str) -> Any:
        (key,) = reader.fields(node, where, key=str)
        data = reader.tensor(key, where)
        if data.dtype != np.uint8 or data.ndim != 1:
            raise reader.fail(where, f"a faiss index is stored as 1-d uint8, not {data.dtype}")
        try:
            import faiss
        except ImportError:
            raise reader.fail(
                where,
                "this learner holds a faiss index; install the 'ann' extra "
                "(pip install theta-ml[ann]) to load it",
            ) from None
        try:
            return faiss.deserialize_index(np.ascontiguousarray(data))
        except RuntimeError as exc:
            raise reader.fail(where, f"faiss cannot read the index: {exc}") from None

    def _dtype(self, reader: TreeReader, node: dict[str, Any], where: str) -> np.dtype:
        (text,) = reader.fields(node, where, dtype=str)
        if not _DTYPE.fullmatch(text):
            raise reader.fail(where, f"{text!r} is not a numeric, str, bytes or object dtype")
        try:
            return np.dtype(text)
        except TypeError as exc:  # "<f3"
            raise reader.fail(where, str(exc)) from None

    def _type(self, reader: TreeReader, node: dict[str, Any], where: str) -> type:
        (name,) = reader.fields(node, where, name=str)
        found = named_type(name)
        if found is None:
            raise reader.fail(
                where, f"{name!r} is not a NumPy scalar type, builtin type or theta class"
            )
        return found

    def _function(self, reader: TreeReader, node: dict[str, Any], where: str) -> Any:
        (name,) = reader.fields(node, where, name=str)
        function = theta_function(name)
        if function is None:
            raise reader.fail(where, f"{name!r} is not a function of theta's")
        return function

    def _object(self, reader: TreeReader, node: dict[str, Any], where: str) -> Any:
        name, state = reader.fields(node, where, **{"class": str, "state": None})
        cls = hook_class(name)
        if cls is None:
            raise reader.fail(where, f"unknown class {name!r}; a class restored by its "
                                     "__theta_restore__ hook must be importable from theta or "
                                     "already imported")  # fmt: skip
        value = reader.decode(state, f"{where}.state")
        try:
            return cls.__theta_restore__(value)
        except Exception as exc:  # the hook's own error, whatever it is, names the file here
            raise reader.fail(where, f"{name}.__theta_restore__ failed: {exc!r}") from exc
