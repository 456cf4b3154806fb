"""Model folders: a ``Module``'s parameters as safetensors, its hyperparameters as JSON.

Also the parts every theta folder shares (``config.json`` reading, the version rules, the
"only replace what save wrote" rule, reading a folder's files from one and the same save),
and bare state-dict files. ``theta.io`` documents the formats; ``theta.io.learners`` uses the
shared parts for learner folders.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import math
import os
import re
import secrets
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from theta.autograd import Tensor
from theta.errors import CheckpointError
from theta.nn import MLP, IncompatibleKeys, Module, MultiHeadAttention, Sequential
from theta.nn.init import ParameterBudgetError, parameter_budget, skip_init
from theta.params import registry_name
from theta.tensorfile import (
    atomic_directory,
    atomic_write_text,
    open_regular_file,
    read_tensors,
    refuse_pickle,
    write_tensors,
)
from theta.treefile import TreeReader, TreeWriter, parse_json

__all__ = ["FORMAT_VERSION", "load_state_dict", "save_state_dict", "version1_name"]

FORMAT = "theta.model"
# Raise when a reader of the old version could misread the new folders.
# 2: PyTorch's parameter names (Sequential, MLP, MultiHeadAttention); see version1_name.
# 3: theta's classes by their qualified registry_name, as everyone else's; see _class_named.
# 4: hyperparameters as theta.treefile nodes (one nested-state format; tuples stay tuples);
#    versions 1-3 are read through _legacy_node.
FORMAT_VERSION = 4
"""The model folder format that ``save`` writes; ``load`` reads it and every older one."""
LEARNER_FORMAT = "theta.learner"
LEARNER_FORMAT_VERSION = 1
WEIGHTS_FILE, CONFIG_FILE, STATE_FILE = "model.safetensors", "config.json", "state.safetensors"
# format -> (newest version read, tensor file, config key of the save's id, its metadata key)
FORMATS = {
    FORMAT: (FORMAT_VERSION, WEIGHTS_FILE, "weights_id", "theta.weights_id"),
    LEARNER_FORMAT: (LEARNER_FORMAT_VERSION, STATE_FILE, "state_id", "theta.state_id"),
}
_MAX_CONFIG_BYTES = 64 * 2**20  # a config is a few KB; never read an arbitrarily large one


def theta_version() -> str:
    from theta import __version__  # at call time: theta/__init__ imports this module

    return __version__


# --- saving ------------------------------------------------------------------------------------


def save_model(model: Module, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``model`` to the model folder ``path`` (see ``theta.io.save``)."""
    config = model_config(model)
    with atomic_directory(path, overwrite=overwrite, may_replace=check_replaceable) as staging:
        write_model_files(staging, model, config)


def model_config(model: Module) -> dict[str, Any]:
    """``config.json``'s content for ``model``, with a fresh ``weights_id``; checks everything
    that could make writing fail half-way (class name, hyperparameters) before anything is
    written."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "theta_version": theta_version(),
        "class": _registered_name(model),
        "hyperparameters": _hyperparameter_nodes(model),
        "weights_id": secrets.token_hex(16),
    }


def write_model_files(folder: Path, model: Module, config: dict[str, Any]) -> None:
    """Write ``model.safetensors`` and ``config.json`` into the existing (staging) ``folder``."""
    text = json.dumps(config, indent=2) + "\n"
    # The live arrays, not state_dict()'s copies: writing only reads them, and a model may be
    # most of the memory there is. Buffers (running statistics) are saved as PyTorch does.
    state = {name: p.data for name, p in model.named_parameters()}
    state |= {name: b.data for name, b in model.named_buffers()}
    write_tensors(folder / WEIGHTS_FILE, state, {FORMATS[FORMAT][3]: config["weights_id"]})
    atomic_write_text(folder / CONFIG_FILE, text)


def _registered_name(module: Module) -> str:
    """The registry name that rebuilds ``type(module)``, checked to lead back to that class."""
    cls = type(module)
    name = registry_name(cls)
    registered = Module.registry.get(name)
    if registered is not cls:
        other = f"another class, {registered!r}" if registered else "nothing"
        raise TypeError(
            f"save: {name} cannot be saved by name; Module.registry[{name!r}] must be the "
            f"class of the model (got {other}: two Module classes share the name); rename "
            "one of them."
        )
    return name


class _ModuleNodes:
    """``config.json``'s one kind of node beyond the tree's own: a module held by a model (an
    MLP in a Sequential), ``{"type": "module", "class", "hyperparameters"}``, rebuilt by its
    registered class from its hyperparameters. ``source`` (the config's path and format
    version) is needed only to read."""

    kinds = frozenset({"module"})
    saves = "theta Modules"

    def __init__(self, source: tuple[str, int] = ("config.json", FORMAT_VERSION)) -> None:
        self.source = source

    def encode(self, writer: TreeWriter, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, Module):
            return None
        dot = f"{path}." if path else ""
        hyper = _plain_scalars(value.hyperparameters())
        nodes = {key: writer.encode(item, dot + key) for key, item in hyper.items()}
        return {"type": "module", "class": _registered_name(value), "hyperparameters": nodes}

    def decode(self, reader: TreeReader, node: dict[str, Any], where: str) -> Module:
        name, nodes = reader.fields(node, where, **{"class": str, "hyperparameters": dict})
        cls = _module_class(name, self.source, where)
        values = {k: reader.decode(v, f"{where}.hyperparameters.{k}") for k, v in nodes.items()}
        return _build(cls, values, self.source[0], where)


def _hyperparameter_nodes(model: Module) -> dict[str, Any]:
    """``config.json``'s ``hyperparameters``: one tree node per constructor argument."""
    writer = TreeWriter(f"hyperparameter {type(model).__name__}", hook=_ModuleNodes())
    nodes = writer.encode(model, "")["hyperparameters"]
    if writer.tensors:
        raise TypeError(
            f"save: {writer.where(next(iter(writer.tensors)))} is an array, which "
            "config.json does not hold; pass it as a list, or make it a parameter or a buffer."
        )
    return nodes


def _plain_scalars(value: Any) -> Any:
    """``value`` with NumPy numbers as Python ones (``n_in=x.shape[1]`` is an ``np.int64``)."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if type(value) in (list, tuple):
        return type(value)(_plain_scalars(item) for item in value)
    if type(value) is dict:
        return {key: _plain_scalars(item) for key, item in value.items()}
    return value


def check_replaceable(path: str) -> None:
    """Refuse to replace anything but what ``save`` wrote at ``path``.

    That is an empty folder, or one whose ``config.json`` carries theta's ``format`` stamp and
    which holds nothing but that format's files: a model folder's ``model.safetensors``, or a
    learner folder's ``state.safetensors`` and exactly the model folders its config lists
    (each a model folder itself). Anything else is someone else's, and named.
    """
    if os.path.islink(path) or not os.path.isdir(path):
        raise FileExistsError(
            errno.EEXIST, "Exists and is not a model folder, so save will not replace it", path
        )
    foreign = _foreign_entry(path)
    if foreign is not None:
        name, why = foreign
        raise FileExistsError(
            errno.EEXIST,
            f"Exists and holds {name!r}, which save did not write ({why}); overwrite replaces "
            "only a folder that save wrote, so move it or choose another path",
            path,
        )


def _foreign_entry(folder: str, expected: str | None = None) -> tuple[str, str] | None:
    """The first entry of ``folder`` that ``save`` did not write, and why; None if none.

    ``expected`` is the format a learner's sub-model folder must have.
    """
    names = sorted(os.listdir(folder))
    if not names:
        return None if expected is None else ("", "an empty folder")
    config_path = os.path.join(folder, CONFIG_FILE)
    config = _stamped_config(config_path)
    if config is None:
        name = CONFIG_FILE if CONFIG_FILE in names else names[0]
        return name, f"{CONFIG_FILE} with theta's format field is missing"
    if expected is not None and config["format"] != expected:
        return CONFIG_FILE, f"its format is {config['format']!r}, not {expected!r}"
    tensor_file = FORMATS[config["format"]][1]
    try:
        folders = set() if config["format"] == FORMAT else _listed_folders(config)
    except RecursionError:
        return CONFIG_FILE, "nested too deeply"
    for name in names:
        path = os.path.join(folder, name)
        if name in (CONFIG_FILE, tensor_file):
            if os.path.islink(path) or not os.path.isfile(path):
                return name, "not a regular file"
        elif name not in folders:
            return name, f"{CONFIG_FILE} does not list it"
        elif os.path.islink(path) or not os.path.isdir(path):
            return name, "not a folder"
        else:
            inner = _foreign_entry(path, FORMAT)
            if inner is not None:
                return os.path.join(name, inner[0]), inner[1]
    return None


def _stamped_config(path: str) -> dict[str, Any] | None:
    """``path`` parsed as a JSON object whose ``format`` is one of theta's, else None."""
    try:
        with open_regular_file(path) as f:
            raw = f.read(_MAX_CONFIG_BYTES + 1)
        config = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError, CheckpointError):
        return None
    ok = isinstance(config, dict) and isinstance(config.get("format"), str)
    return config if ok and config["format"] in FORMATS else None


def _listed_folders(node: Any) -> set[str]:
    """The ``folder`` of every ``{"type": "module"}`` value in a learner config's tree."""
    if isinstance(node, list):
        return set().union(*map(_listed_folders, node))
    if not isinstance(node, dict):
        return set()
    if node.get("type") == "module" and isinstance(node.get("folder"), str):
        return {node["folder"]}
    return set().union(*map(_listed_folders, node.values()))


# --- loading -----------------------------------------------------------------------------------


def check_folder(folder: str) -> None:
    """Raise the right ``OSError`` (or refuse a pickle) unless ``folder`` is a folder."""
    mode = os.stat(folder).st_mode  # FileNotFoundError / PermissionError name the path
    if not stat.S_ISDIR(mode):
        if stat.S_ISREG(mode):
            refuse_pickle(folder)
        raise NotADirectoryError(
            errno.ENOTDIR,
            "Not a model folder (save writes a folder holding config.json and "
            "model.safetensors or state.safetensors); for a bare safetensors file use "
            "theta.io.load_state_dict",
            folder,
        )


def build_model(
    folder: str,
    config: dict[str, Any],
    tensors: dict[str, np.ndarray],
    *,
    strict: bool,
    check_finite: bool,
    stacklevel: int,
) -> Module:
    """The module ``config`` describes, filled with ``tensors`` (read by ``read_folder``)."""
    config_path = os.path.join(folder, CONFIG_FILE)
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    # Every weight comes from the file (strict), so none is drawn: the arrays are only
    # allocated, lazily, and a config that implies more parameters than the file holds stops
    # at the first one over (twice the file's count: a model may tie weights by replacing a
    # parameter it made), before the rest is built.
    budget = 2 * sum(array.size for array in tensors.values())
    source = (config_path, config["format_version"])
    with (skip_init() if strict else contextlib.nullcontext(),
          parameter_budget(budget) if strict else contextlib.nullcontext()):  # fmt: skip
        try:
            model = _decode_model(config, source)
        except ParameterBudgetError:
            raise CheckpointError(
                f"{config_path}: the model it describes needs more parameters than "
                f"{weights_path} holds ({budget // 2:,} elements); the config does not belong "
                "to these weights."
            ) from None
        except MemoryError:
            size = sum(array.nbytes for array in tensors.values())
            raise CheckpointError(
                f"{config_path}: the model it describes does not fit in memory, so it cannot "
                f"match {weights_path}, which holds {len(tensors)} tensors of {size} bytes; "
                "the config does not belong to these weights."
            ) from None
    params = dict(model.named_parameters())
    if config["format_version"] == 1:
        renamed = {version1_name(model, name): name for name in params}
        tensors = {renamed.get(k, k): v for k, v in tensors.items()}
    if any(name in tensors and tensors[name].shape != p.shape for name, p in params.items()):
        _load_into(model, tensors, strict, weights_path)  # raises, listing every mismatch
    not_float = [
        f"{k} ({tensors[k].dtype})" for k in params if k in tensors and tensors[k].dtype.kind != "f"
    ]
    if not_float:
        raise CheckpointError(
            f"{weights_path}: parameters must be floating point, but these tensors are not: "
            f"{', '.join(not_float)}."
        )
    check_finite_tensors(tensors, weights_path, check_finite, stacklevel + 1)
    floats = params | {k: b for k, b in model.named_buffers() if b.dtype.kind == "f"}
    for name, array in floats.items():
        # Constructors record no dtype, so the model was built in the default dtype; it takes
        # the saved one instead (casting first would round, or overflow, float64 values). The
        # values are the file's next, so the new array is only allocated.
        saved = tensors[name].dtype if name in tensors else array.dtype
        if saved != array.dtype and saved.kind == "f":
            array.data = np.empty(array.shape, saved)
    result = _load_into(model, tensors, strict, weights_path)
    if result.missing_keys or result.unexpected_keys:
        warnings.warn(
            f"load: {weights_path} does not match {config['class']} exactly (strict=False); "
            f"missing keys (left at their initial values): {result.missing_keys}; unexpected "
            f"keys (ignored): {result.unexpected_keys}.",
            stacklevel=stacklevel,
        )
    return model


def _load_into(
    model: Module, tensors: dict[str, np.ndarray], strict: bool, weights_path: str
) -> IncompatibleKeys:
    try:
        return model.load_state_dict(tensors, strict=strict)
    except ValueError as exc:
        raise CheckpointError(f"{weights_path}: {exc}") from None


def read_folder(
    folder: str, *, checksum: bool = True
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read ``config.json`` and the tensor file of its format, both of one and the same save
    (``checksum``: see ``theta.tensorfile.read_tensors``)."""
    config_path = os.path.join(folder, CONFIG_FILE)
    # A concurrent save(overwrite=True) swaps a complete new folder into place, then deletes
    # the old one. Opening both files through one descriptor of the folder reads them from
    # the same save; if that save is deleted under us, the next attempt reads the new one.
    for attempt in range(5):
        dir_fd = _open_folder(folder)
        try:
            config = _read_config(config_path, dir_fd)
            _, tensor_file, id_key, metadata_key = FORMATS[config["format"]]
            tensor_path = os.path.join(folder, tensor_file)
            tensors, metadata = read_tensors(tensor_path, dir_fd=dir_fd, checksum=checksum)
        except FileNotFoundError:
            if attempt == 4:
                raise
            continue
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        expected = config.get(id_key)
        if expected is None or metadata.get(metadata_key) == expected:
            return config, tensors
        if dir_fd is None and attempt < 4:
            continue  # without folder descriptors, a concurrent save looks like this
        raise CheckpointError(
            f"{tensor_path} and {config_path} come from different saves ({id_key} "
            f"{metadata.get(metadata_key)!r} vs {expected!r}); save the model again."
        )
    raise AssertionError("unreachable")


def _open_folder(folder: str) -> int | None:
    """A descriptor of ``folder`` to open files relative to, or None where that is unsupported."""
    if os.open not in os.supports_dir_fd:
        return None
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, folder) from None


def _read_config(path: str, dir_fd: int | None) -> dict[str, Any]:
    """Read and check ``config.json``: its format, version, class and the fields it needs."""
    try:
        f = open_regular_file(path, dir_fd=dir_fd)
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            "No such file: not a theta model folder (save writes config.json and "
            "model.safetensors or state.safetensors)",
            path,
        ) from None
    with f:
        raw = f.read(_MAX_CONFIG_BYTES + 1)
    if len(raw) > _MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path} is larger than {_MAX_CONFIG_BYTES} bytes; not a config.")
    # NaN and infinity may be literals: model configs are written with json's defaults
    config = parse_json(raw, path, allow_nan=True)
    found = config.get("format") if isinstance(config, dict) else type(config).__name__
    if not isinstance(found, str) or found not in FORMATS:
        raise CheckpointError(
            f"{path} is not a theta model config: its format is {found!r}, not "
            f"{FORMAT!r} or {LEARNER_FORMAT!r}."
        )
    newest = FORMATS[found][0]
    version, written_by = config.get("format_version"), config.get("theta_version", "unknown")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(
            f"{path}: format_version must be a positive integer, not {version!r}."
        )
    if version > newest:
        raise CheckpointError(
            f"{path} has format version {version} (written by theta {written_by}), but this "
            f"theta ({theta_version()}) reads format version {newest} of {found!r} at most; "
            "upgrade theta to load it."
        )
    if _version_key(written_by) > _version_key(theta_version()):
        warnings.warn(
            f"{path} was written by theta {written_by}, newer than this theta "
            f"({theta_version()}); its format version {version} is supported, so it loads.",
            stacklevel=4,
        )
    if not isinstance(config.get("class"), str):
        raise CheckpointError(f"{path}: 'class' must be a class name, not {config.get('class')!r}.")
    for field in ("hyperparameters",) if found == FORMAT else ("params", "state"):
        if not isinstance(config.get(field), dict):
            raise CheckpointError(f"{path}: {field!r} must be an object.")
    return config


def _version_key(version: Any) -> tuple[int, ...]:
    """``"0.10.2rc1"`` → ``(0, 10, 2)``; () for anything unreadable, which never compares newer."""
    match = re.match(r"\d+(\.\d+)*", version) if isinstance(version, str) else None
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def _class_named(name: Any, format_version: int) -> type[Module] | None:
    """The registered ``Module`` class a config names, or None.

    Before format version 3, theta's own classes were saved under their bare ``__qualname__``
    (``"MLP"``, not ``"theta.nn.layers.MLP"``): such a name finds the one theta class of that
    name that is registered. Nothing is imported either way: a class must be registered (its
    module imported) before ``load``.
    """
    if not isinstance(name, str):
        return None
    cls = Module.registry.get(name)
    if cls is None and format_version < 3:
        theirs = [
            c
            for k, c in Module.registry.items()
            if k.startswith("theta.") and c.__qualname__ == name
        ]
        cls = theirs[0] if len(theirs) == 1 else None
    return cls


def _decode_model(config: dict[str, Any], source: tuple[str, int]) -> Module:
    """The module of ``config`` (read by ``_read_config``), built from its hyperparameters."""
    node = {"type": "module", "class": config["class"],
            "hyperparameters": config["hyperparameters"]}  # fmt: skip
    if source[1] < 4:
        node = _legacy_node(node)
    reader = TreeReader({}, source[0], hook=_ModuleNodes(source))
    try:
        return reader.decode(node, "config")
    except RecursionError:
        raise reader.fail("config", "the hyperparameters nest too deeply") from None


def _legacy_node(value: Any) -> Any:
    """A format 1-3 hyperparameter as a tree node: objects with exactly the keys ``class`` and
    ``hyperparameters`` were modules, other objects dicts, lists lists (tuples were saved as
    lists); NaN and infinity were JSON literals."""
    if isinstance(value, dict):
        if set(value) - {"type"} == {"class", "hyperparameters"}:
            hyper = value["hyperparameters"]
            if isinstance(hyper, dict):
                hyper = {k: _legacy_node(v) for k, v in hyper.items()}
            return {"type": "module", "class": value["class"], "hyperparameters": hyper}
        return {"type": "dict", "items": {k: _legacy_node(v) for k, v in value.items()}}
    if isinstance(value, list):
        return [_legacy_node(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"type": "float", "value": str(value)}
    return value


def _module_class(name: str, source: tuple[str, int], where: str) -> type[Module]:
    """The registered class a config names at ``where``; ``source``: its path and version."""
    cls = _class_named(name, source[1])
    if cls is None:
        raise CheckpointError(
            f"{source[0]}: unknown module class {name!r} at {where}; theta knows "
            f"{', '.join(sorted(Module.registry))}. If it is your own Module subclass, import "
            "the code that defines it before calling load."
        )
    return cls


def _build(cls: type[Module], values: dict[str, Any], config_path: str, where: str) -> Module:
    """Instantiate ``cls`` with its decoded hyperparameters ``values``, as it recorded them."""
    recorded = dict(values)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional = True  # recorded arguments go back positionally until one was not recorded
    for param in inspect.signature(cls).parameters.values():
        if param.name not in values:
            positional = positional and param.kind is param.VAR_POSITIONAL
            continue
        value = values.pop(param.name)
        if param.kind is param.VAR_POSITIONAL and isinstance(value, list | tuple) and positional:
            args.extend(value)
        elif param.kind is param.VAR_KEYWORD and isinstance(value, dict):
            kwargs.update(value)
        elif positional and param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            args.append(value)
        else:
            positional = False
            kwargs[param.name] = value
    kwargs.update(values)  # names the signature lacks: let the constructor report them
    try:
        return cls(*args, **kwargs)
    except ParameterBudgetError:
        raise  # build_model names the config and the weights it outgrew
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{config_path}: cannot rebuild {registry_name(cls)} (at {where}) from its "
            f"hyperparameters "
            f"{recorded}: {exc}"
        ) from None


# MultiHeadAttention's names that format version 1 spelt as its own Linear layers did
_ATTENTION_VERSION1 = {"in_proj_weight": "qkv.weight", "in_proj_bias": "qkv.bias",
                       "out_proj": "proj"}  # fmt: skip


def version1_name(model: Module, name: str) -> str:
    """The dotted ``name`` in ``model`` as theta spelt it before PyTorch's names (format 1).

    A ``Sequential``'s or ``MLP``'s children were under ``layers.N`` (now ``N``), and
    ``MultiHeadAttention``'s ``in_proj_weight``, ``in_proj_bias`` and ``out_proj`` were
    ``qkv.weight``, ``qkv.bias`` and ``proj``. Works for any path (parameters, modules).

    Examples
    --------
    >>> from theta.nn import MLP
    >>> version1_name(MLP((2, 3, 1)), "2.bias")
    'layers.2.bias'
    """
    owner: Any = model
    old = []
    for part in name.split("."):
        if isinstance(owner, Sequential | MLP) and part.isdigit():
            old.append(f"layers.{part}")
        elif isinstance(owner, MultiHeadAttention):
            old.append(_ATTENTION_VERSION1.get(part, part))
        else:
            old.append(part)
        if isinstance(owner, list | tuple):
            owner = owner[int(part)] if part.isdigit() and int(part) < len(owner) else None
        else:
            owner = owner.get(part) if isinstance(owner, dict) else getattr(owner, part, None)
    return ".".join(old)


def check_finite_tensors(
    tensors: Mapping[str, np.ndarray], path: str, error: bool, stacklevel: int
) -> None:
    """Warn (or raise, if ``error``) naming every tensor that holds NaN or infinity."""
    bad = [k for k, v in tensors.items() if v.dtype.kind in "fc" and not np.isfinite(v).all()]
    if not bad:
        return
    message = f"{path}: these tensors hold NaN or infinite values: {', '.join(bad)}."
    if error:
        raise CheckpointError(message)
    warnings.warn(message + " Pass check_finite=True to refuse such files.", stacklevel=stacklevel)


# --- bare state dicts --------------------------------------------------------------------------


def save_state_dict(
    state: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write a flat ``{name: array}`` state dict to one safetensors file, atomically.

    The file is what ``safetensors.torch.save_file`` writes, so PyTorch reads it with
    ``safetensors.torch.load_file``.

    Parameters
    ----------
    state : mapping of str to ndarray or Tensor
        For example ``model.state_dict()``.
    path : str or path-like
        The file to write.
    overwrite : bool, default=False
        Replace an existing file.
    metadata : mapping of str to str, optional
        Stored in the file's ``__metadata__``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    TypeError
        Naming a value that is not an array safetensors can store.
    OSError
        Naming ``path`` if it cannot be written; an existing file is left as it was.

    Examples
    --------
    >>> import os, tempfile
    >>> from theta.nn import Linear
    >>> layer = Linear(2, 1, rng=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_state_dict(layer.state_dict(), os.path.join(d, "linear.safetensors"))
    ...     state = load_state_dict(os.path.join(d, "linear.safetensors"))
    >>> sorted(state), state["weight"].shape
    (['bias', 'weight'], (1, 2))
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"save_state_dict: state must be a dict, not {type(state).__name__}.")
    arrays = {k: v.data if isinstance(v, Tensor) else v for k, v in state.items()}
    write_tensors(path, arrays, metadata, overwrite=overwrite)


def load_state_dict(
    path: str | os.PathLike, *, check_finite: bool = False, checksum: bool = True
) -> dict[str, np.ndarray]:
    """Read a flat ``{name: array}`` state dict from one safetensors file.

    Feed the result to ``model.load_state_dict`` (strict by default). Any safetensors file
    works, including one written by ``safetensors.torch.save_file(torch_model.state_dict(),
    path)``: theta's parameter names are PyTorch's for the equivalent modules (Linear,
    Embedding, LayerNorm, Sequential, MLP as ``Sequential(Linear, act, ...)``,
    MultiHeadAttention as ``MultiheadAttention``), so such a file loads strictly.

    Parameters
    ----------
    path : str or path-like
        The file.
    check_finite : bool, default=False
        Raise on NaN or infinite values instead of warning.
    checksum : bool, default=True
        Verify the data against the SHA-256 that theta records when it writes a file (a
        file without one, such as PyTorch's, is read as it is); False skips it.

    Returns
    -------
    dict of str to ndarray
        Writable arrays owned by the caller.

    Raises
    ------
    CheckpointError
        If the file is malformed, is not safetensors (pickles are refused unread), fails its
        checksum, or holds non-finite values with ``check_finite``.
    FileNotFoundError, IsADirectoryError, PermissionError
        Naming the path.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_state_dict({"w": np.zeros(2)}, os.path.join(d, "w.safetensors"))
    ...     load_state_dict(os.path.join(d, "w.safetensors"))
    {'w': array([0., 0.])}
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise IsADirectoryError(
            errno.EISDIR,
            "Is a directory; for a model folder use theta.io.load, or pass the "
            "model.safetensors inside it",
            name,
        )
    tensors, _ = read_tensors(name, checksum=checksum)
    check_finite_tensors(tensors, name, check_finite, 3)
    return tensors
