"""Save and load models without pickle: parameters as safetensors, hyperparameters as JSON.

The chapter's split, on disk. ``save(model, path)`` writes a *model folder*::

    path/
      model.safetensors   the parameters θ: model.state_dict(), one tensor per dotted name
      config.json         how to rebuild f: {"format": "theta.model", "format_version": 1,
                          "theta_version": ..., "class": "MLP", "hyperparameters": {...}}

and ``load(path)`` rebuilds the module from ``theta.nn.Module.registry`` by class name with the
recorded constructor arguments (nested modules, such as a ``Sequential``'s layers, are stored
as ``{"class": ..., "hyperparameters": ...}`` and rebuilt recursively; tuples come back as
lists), then copies the parameters in. Nothing in either file is ever executed or unpickled:
a file can only name a ``Module`` class that the running program has already imported.

Guarantees:

- A folder is written beside ``path`` under a hidden name and renamed into place in one atomic
  step (``theta.tensorfile.atomic_directory``), so after a crash ``path`` is the complete old
  model or the complete new one, and two processes saving to one path never mix their files.
  ``config.json`` also records a random ``weights_id`` that ``model.safetensors`` carries in its
  metadata, so a folder whose two files come from different saves is refused, not loaded
  (a hand-written ``config.json`` without ``weights_id`` is accepted as it is).
- An existing ``path`` is refused unless ``overwrite=True``, and even then only a theta model
  folder (one holding nothing but ``model.safetensors`` and ``config.json``) is replaced.
- The tensor file is validated completely before use (see ``theta.tensorfile``); pickles and
  PyTorch ``.pt`` files are refused by name. A model is built and filled only once every name,
  shape and dtype fits, so a bad file never leaves a half-loaded model behind.
- NaN or infinite parameter values load with a warning, or raise with ``check_finite=True``.
- A folder from a newer format version is refused, naming both versions.

PyTorch interop: theta's parameter names and layouts equal torch.nn's for the equivalent layers
(Linear, Embedding, LayerNorm; a Sequential's/MLP's children live under ``layers.N``, like a
torch ModuleList named ``layers``), so a state dict saved by
``safetensors.torch.save_file(torch_model.state_dict())`` loads with ``load_state_dict_file`` +
``model.load_state_dict``, and the reverse: ``save_state_dict(model.state_dict(), path)`` then
``torch_model.load_state_dict(safetensors.torch.load_file(path))``. ``save`` writes an ordinary
safetensors file too, so ``path/model.safetensors`` opens in PyTorch as it is.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import re
import secrets
import stat
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from theta.autograd import Tensor
from theta.errors import CheckpointError
from theta.nn import Module, registry_name
from theta.tensorfile import (
    atomic_directory,
    atomic_write_text,
    open_regular_file,
    read_tensors,
    refuse_pickle,
    write_tensors,
)

__all__ = ["FORMAT_VERSION", "load", "load_state_dict_file", "save", "save_state_dict"]

FORMAT = "theta.model"
FORMAT_VERSION = 1  # raise when a reader of the old version could misread the new folders
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
_WEIGHTS_ID = "theta.weights_id"  # the metadata key in model.safetensors
_MAX_CONFIG_BYTES = 64 * 2**20  # a config is a few KB; never read an arbitrarily large one


def _theta_version() -> str:
    from theta import __version__  # at call time: theta/__init__ may import this module

    return __version__


# --- saving ------------------------------------------------------------------------------------


def save(model: Module, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``model`` to the model folder ``path`` (parameters and hyperparameters).

    Parameters
    ----------
    model : Module
        Any module whose class is in ``Module.registry`` (every ``Module`` subclass is) and
        whose recorded hyperparameters are numbers, strings, booleans, None, lists, tuples,
        dicts with string keys, or modules of the same kind.
    path : str or path-like
        The folder to create. Its parent must exist.
    overwrite : bool, default=False
        Replace an existing model folder at ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or if it is not a theta model folder
        (a file, or a folder holding other files), which ``save`` never replaces.
    TypeError
        Naming a hyperparameter that JSON cannot hold, or a module class whose name is
        registered to another class.
    OSError
        Naming ``path`` if it cannot be written; an existing folder is left as it was.

    Examples
    --------
    >>> import os, tempfile
    >>> from theta.nn import MLP
    >>> model = MLP((2, 4, 1), rng=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save(model, os.path.join(d, "mlp"))
    ...     sorted(os.listdir(os.path.join(d, "mlp")))
    ['config.json', 'model.safetensors']
    """
    if not isinstance(model, Module):
        raise TypeError(f"save: model must be a theta.nn.Module, not {type(model).__name__}.")
    weights_id = secrets.token_hex(16)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "theta_version": _theta_version(),
        "class": _registered_name(model),
        "hyperparameters": _encode(model.hyperparameters(), type(model).__name__),
        "weights_id": weights_id,
    }
    text = json.dumps(config, indent=2) + "\n"
    # The live arrays, not state_dict()'s copies: writing only reads them, and a model may be
    # most of the memory there is.
    state = {name: p.data for name, p in model.named_parameters()}
    with atomic_directory(path, overwrite=overwrite, may_replace=_check_replaceable) as staging:
        write_tensors(staging / WEIGHTS_FILE, state, {_WEIGHTS_ID: weights_id})
        atomic_write_text(staging / CONFIG_FILE, text)


def _registered_name(module: Module) -> str:
    """The registry name that rebuilds ``type(module)``, checked to lead back to that class."""
    cls = type(module)
    name = registry_name(cls)
    registered = Module.registry.get(name)
    if registered is not cls:
        other = f"{registered.__module__}.{registered.__qualname__}" if registered else "nothing"
        raise TypeError(
            f"save: {cls.__module__}.{name} cannot be saved by name, because "
            f"Module.registry[{name!r}] is {other} (two Module classes share the name "
            f"{name!r}); rename one of them."
        )
    return name


def _encode(value: Any, where: str) -> Any:
    """A JSON value for one hyperparameter; modules become {"class", "hyperparameters"}."""
    if isinstance(value, Module):
        hyper = value.hyperparameters()
        return {"class": _registered_name(value), "hyperparameters": _encode(hyper, where)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, list | tuple):
        return [_encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"save: hyperparameter {where} is a dict with non-string keys; "
                            "config.json (JSON) can only hold string keys.")  # fmt: skip
        if set(value) == {"class", "hyperparameters"}:
            raise TypeError(
                f"save: hyperparameter {where} is a dict with exactly the keys "
                "'class' and 'hyperparameters', which load would read as a module."
            )
        return {key: _encode(item, f"{where}.{key}") for key, item in value.items()}
    raise TypeError(
        f"save: hyperparameter {where} is a {type(value).__name__}, which config.json cannot "
        "hold; hyperparameters must be numbers, strings, booleans, None, lists, tuples, dicts "
        "or Modules."
    )


def _check_replaceable(path: str) -> None:
    """Refuse to replace anything but a folder holding only the files ``save`` writes."""
    if not os.path.isdir(path):
        raise FileExistsError(
            errno.EEXIST, "Exists and is not a model folder, so save will not replace it", path
        )
    others = sorted(set(os.listdir(path)) - {WEIGHTS_FILE, CONFIG_FILE})
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise FileExistsError(
            errno.EEXIST,
            f"Exists and holds files save did not write ({shown}); overwrite replaces a model "
            "folder as a whole, so move them or choose another path",
            path,
        )


# --- loading -----------------------------------------------------------------------------------


def load(path: str | os.PathLike, *, strict: bool = True, check_finite: bool = False) -> Module:
    """Rebuild the model saved in the model folder ``path``.

    Parameters
    ----------
    path : str or path-like
        A folder written by ``save``.
    strict : bool, default=True
        Require the file's tensor names to match the rebuilt model's parameters exactly.
        With False, missing and unexpected names are reported in a warning and skipped
        (missing parameters keep their fresh initial values); wrong shapes are always errors.
    check_finite : bool, default=False
        Raise on NaN or infinite values instead of warning.

    Returns
    -------
    Module
        A new module of the saved class, with the saved parameters (and their dtypes).

    Raises
    ------
    CheckpointError
        If a file is malformed or not safetensors (pickles are refused unread), the format
        version is newer than this theta reads, the class is unknown, the hyperparameters do
        not rebuild it, or names, shapes or dtypes do not fit (all listed).
    FileNotFoundError, NotADirectoryError, PermissionError
        Naming the path, if it is missing, is a file, or cannot be read.

    Examples
    --------
    >>> import os, tempfile
    >>> import theta
    >>> from theta.nn import MLP
    >>> model = MLP((2, 4, 1), rng=0)
    >>> x = theta.tensor([[1.0, 2.0]])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save(model, os.path.join(d, "mlp"))
    ...     again = load(os.path.join(d, "mlp"))
    >>> again
    MLP(sizes=[2, 4, 1], activation='relu', dropout=0.0)
    >>> bool((again(x).numpy() == model(x).numpy()).all())
    True
    """
    folder = os.fspath(path)
    mode = os.stat(folder).st_mode  # FileNotFoundError / PermissionError name the path
    if not stat.S_ISDIR(mode):
        if stat.S_ISREG(mode):
            refuse_pickle(folder)
        raise NotADirectoryError(
            errno.ENOTDIR,
            "Not a model folder (save writes a folder holding model.safetensors and "
            "config.json); for a bare safetensors file use theta.io.load_state_dict_file",
            folder,
        )
    config_path = os.path.join(folder, CONFIG_FILE)
    weights_path = os.path.join(folder, WEIGHTS_FILE)
    config, tensors = _read_folder(folder, config_path, weights_path)
    model = _build(config["class"], config["hyperparameters"], config_path, "config")
    params = dict(model.named_parameters())
    not_float = [
        f"{k} ({tensors[k].dtype})" for k in params if k in tensors and tensors[k].dtype.kind != "f"
    ]
    if not_float:
        raise CheckpointError(
            f"{weights_path}: parameters must be floating point, but these tensors are not: "
            f"{', '.join(not_float)}."
        )
    _check_finite(tensors, weights_path, check_finite)
    for name, param in params.items():
        # Constructors record no dtype, so the model was built in the default dtype; it takes
        # the saved one instead (casting first would round, or overflow, float64 values).
        if name in tensors and tensors[name].dtype != param.dtype:
            param.data = param.data.astype(tensors[name].dtype)
    try:
        result = model.load_state_dict(tensors, strict=strict)
    except ValueError as exc:
        raise CheckpointError(f"{weights_path}: {exc}") from None
    if result.missing_keys or result.unexpected_keys:
        warnings.warn(
            f"load: {weights_path} does not match {config['class']} exactly (strict=False); "
            f"missing keys (left at their initial values): {result.missing_keys}; unexpected "
            f"keys (ignored): {result.unexpected_keys}.",
            stacklevel=2,
        )
    return model


def _read_folder(
    folder: str, config_path: str, weights_path: str
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read ``config.json`` and ``model.safetensors`` of one and the same save."""
    # A concurrent save(overwrite=True) swaps a complete new folder into place, then deletes
    # the old one. Opening both files through one descriptor of the folder reads them from
    # the same save; if that save is deleted under us, the next attempt reads the new one.
    for attempt in range(5):
        dir_fd = _open_folder(folder)
        try:
            config = _read_config(config_path, dir_fd)
            tensors, metadata = read_tensors(weights_path, dir_fd=dir_fd)
        except FileNotFoundError:
            if attempt == 4:
                raise
            continue
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        expected = config.get("weights_id")
        if expected is None or metadata.get(_WEIGHTS_ID) == expected:
            return config, tensors
        if dir_fd is None and attempt < 4:
            continue  # without folder descriptors, a concurrent save looks like this
        raise CheckpointError(
            f"{weights_path} and {config_path} come from different saves (weights_id "
            f"{metadata.get(_WEIGHTS_ID)!r} vs {expected!r}); save the model again."
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


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice")
        out[key] = value
    return out


def _read_config(path: str, dir_fd: int | None) -> dict[str, Any]:
    """Read and check ``config.json``: its format, version, class and hyperparameters."""
    try:
        f = open_regular_file(path, dir_fd=dir_fd)
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT,
            "No such file: not a theta model folder (save writes model.safetensors and "
            "config.json)",
            path,
        ) from None
    with f:
        raw = f.read(_MAX_CONFIG_BYTES + 1)
    if len(raw) > _MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path} is larger than {_MAX_CONFIG_BYTES} bytes; not a config.")
    try:
        config = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise CheckpointError(f"{path} is not valid UTF-8 JSON: {exc}.") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(
            f"{path} is not a theta model config: its format is {found!r}, not {FORMAT!r}."
        )
    version, written_by = config.get("format_version"), config.get("theta_version", "unknown")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(
            f"{path}: format_version must be a positive integer, not {version!r}."
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {version} (written by theta {written_by}), but this "
            f"theta ({_theta_version()}) reads format version {FORMAT_VERSION} at most; upgrade "
            "theta to load it."
        )
    if _version_key(written_by) > _version_key(_theta_version()):
        warnings.warn(
            f"{path} was written by theta {written_by}, newer than this theta "
            f"({_theta_version()}); its format version {version} is supported, so it loads.",
            stacklevel=3,
        )
    if not isinstance(config.get("class"), str):
        raise CheckpointError(f"{path}: 'class' must be a class name, not {config.get('class')!r}.")
    if not isinstance(config.get("hyperparameters"), dict):
        raise CheckpointError(f"{path}: 'hyperparameters' must be an object.")
    return config


def _version_key(version: Any) -> tuple[int, ...]:
    """``"0.10.2rc1"`` → ``(0, 10, 2)``; () for anything unreadable, which never compares newer."""
    match = re.match(r"\d+(\.\d+)*", version) if isinstance(version, str) else None
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def _build(name: Any, hyperparameters: Any, config_path: str, where: str) -> Module:
    """Instantiate registry class ``name`` with decoded ``hyperparameters`` (JSON values)."""
    cls = Module.registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CheckpointError(
            f"{config_path}: unknown module class {name!r} at {where}; theta knows "
            f"{', '.join(sorted(Module.registry))}. If it is your own Module subclass, import "
            "the code that defines it before calling load."
        )
    if not isinstance(hyperparameters, dict):
        raise CheckpointError(f"{config_path}: {where}.hyperparameters must be an object.")
    values = {
        k: _decode(v, config_path, f"{where}.hyperparameters.{k}")
        for k, v in hyperparameters.items()
    }
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    positional = True  # recorded arguments go back positionally until one was not recorded
    for param in inspect.signature(cls).parameters.values():
        if param.name not in values:
            positional = positional and param.kind is param.VAR_POSITIONAL
            continue
        value = values.pop(param.name)
        if param.kind is param.VAR_POSITIONAL and isinstance(value, list) and positional:
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
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{config_path}: cannot rebuild {name} (at {where}) from its hyperparameters "
            f"{hyperparameters}: {exc}"
        ) from None


def _decode(value: Any, config_path: str, where: str) -> Any:
    """JSON value → hyperparameter; {"class", "hyperparameters"} objects become modules."""
    if isinstance(value, dict):
        if set(value) == {"class", "hyperparameters"}:
            return _build(value["class"], value["hyperparameters"], config_path, where)
        return {k: _decode(v, config_path, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, config_path, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _check_finite(tensors: Mapping[str, np.ndarray], path: str, error: bool) -> None:
    """Warn (or raise, if ``error``) naming every tensor that holds NaN or infinity."""
    bad = [k for k, v in tensors.items() if v.dtype.kind in "fc" and not np.isfinite(v).all()]
    if not bad:
        return
    message = f"{path}: these tensors hold NaN or infinite values: {', '.join(bad)}."
    if error:
        raise CheckpointError(message)
    warnings.warn(message + " Pass check_finite=True to refuse such files.", stacklevel=3)


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
    ...     state = load_state_dict_file(os.path.join(d, "linear.safetensors"))
    >>> sorted(state), state["weight"].shape
    (['bias', 'weight'], (1, 2))
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"save_state_dict: state must be a dict, not {type(state).__name__}.")
    arrays = {k: v.data if isinstance(v, Tensor) else v for k, v in state.items()}
    write_tensors(path, arrays, metadata, overwrite=overwrite)


def load_state_dict_file(
    path: str | os.PathLike, *, check_finite: bool = False
) -> dict[str, np.ndarray]:
    """Read a flat ``{name: array}`` state dict from one safetensors file.

    Feed the result to ``model.load_state_dict``. Any safetensors file works, including one
    written by ``safetensors.torch.save_file(torch_model.state_dict(), path)``.

    Parameters
    ----------
    path : str or path-like
        The file.
    check_finite : bool, default=False
        Raise on NaN or infinite values instead of warning.

    Returns
    -------
    dict of str to ndarray
        Writable arrays owned by the caller.

    Raises
    ------
    CheckpointError
        If the file is malformed, is not safetensors (pickles are refused unread), or holds
        non-finite values with ``check_finite``.
    FileNotFoundError, IsADirectoryError, PermissionError
        Naming the path.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_state_dict({"w": np.zeros(2)}, os.path.join(d, "w.safetensors"))
    ...     load_state_dict_file(os.path.join(d, "w.safetensors"))
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
    tensors, _ = read_tensors(name)
    _check_finite(tensors, name, check_finite)
    return tensors
