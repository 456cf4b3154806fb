"""Resumable training checkpoints: one safetensors file holding the whole training state.

A trainer's state is a nested structure of dicts, lists, numbers, strings and ndarrays
(model parameters, optimizer moments, step and epoch, batch order and RNG states, history,
callback state). ``save`` moves every ndarray into the file's tensors under a path-like key
and keeps the rest as JSON in the file's metadata, so one atomic write captures everything
and ``load`` rebuilds the identical structure. Never pickle.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from theta import tensorfile
from theta.errors import CheckpointError

__all__ = ["load", "save"]

FORMAT = "theta.checkpoint"
FORMAT_VERSION = 1


def _split(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Replace each ndarray in ``value`` by a reference to its key in ``arrays``."""
    if isinstance(value, np.ndarray):
        arrays[path] = np.asarray(value, order="C")  # not ascontiguousarray: it makes 0-d 1-d
        return {"__array__": path}
    if isinstance(value, dict):
        for key in value:
            # int keys (an optimizer's parameter indices) become strings, as in any JSON
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(f"checkpoint: state keys must be strings (got {key!r} at {path}).")
        return {str(key): _split(item, f"{path}/{key}", arrays) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_split(item, f"{path}/{i}", arrays) for i, item in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {key: _join(item, arrays) for key, item in value.items()}
    if isinstance(value, list):
        return [_join(item, arrays) for item in value]
    return value


def save(path: str, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a crash mid-write keeps the previous file)."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _split(state, "state", arrays)
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "state": json.dumps(skeleton)}
    tensorfile.write_tensors(path, arrays, meta)


def load(path: str) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`."""
    arrays, meta = tensorfile.read_tensors(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a theta training checkpoint (format {meta.get('format')!r})."
        )
    version = int(meta.get("format_version", "0"))
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this theta supports "
            f"({FORMAT_VERSION}); upgrade theta to load it."
        )
    try:
        skeleton = json.loads(meta["state"])
        return _join(skeleton, arrays)
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path}: the checkpoint's state record is damaged ({exc})."
        ) from None
