"""Resumable training checkpoints: one safetensors file holding the training state, and an
append-only history file beside it.

A trainer's state is a nested structure of dicts, lists, numbers, strings and ndarrays
(model parameters, optimizer moments, step and epoch, batch order and RNG states, callback
state). ``save`` writes it as one ``theta.treefile`` tree (every ndarray a tensor of the file,
the rest JSON in its metadata), so one atomic write captures everything and ``load`` rebuilds
the identical structure, strictly. Never pickle.

The per-step history would make that file grow with the run, so it lives in
``<checkpoint>.history`` instead: JSON lines, a header line and then one row per recorded
value (see :meth:`History.rows_since`), only ever appended to and fsync'd before the
checkpoint that counts them is written. The checkpoint records how many rows and bytes of
that file are its own and their CRC-32, so rows appended after it (by a run that then
crashed) are ignored, and a history file of another run is refused. Both files' size and
write time stay the same whatever the number of steps.
"""

from __future__ import annotations

import json
import os
import reprlib
import zlib
from typing import Any, NamedTuple

import numpy as np

from theta import tensorfile, treefile
from theta.errors import CheckpointError

__all__ = ["HistoryLog", "append_history", "history_path", "load", "read_history", "save",
           "write_history"]  # fmt: skip

FORMAT = "theta.checkpoint"
# 2: the history moved to the .history file beside the checkpoint
# 3: the state is a theta.treefile tree (tuples, NumPy scalars and int keys kept exactly)
FORMAT_VERSION = 3
HISTORY_FORMAT = "theta.history"


def save(path: str, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a crash mid-write keeps the previous file).

    ``state`` may hold what a ``theta.treefile`` tree holds: arrays, numbers, strings,
    containers, NumPy scalars and random generators.
    """
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    treefile.save_tree(path, state, key="state", metadata=meta, caller="checkpoint")


def load(path: str) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save` (or by theta's format versions 1 and 2)."""
    arrays, meta = tensorfile.read_tensors(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a theta training checkpoint (format {meta.get('format')!r})."
        )
    text = meta.get("format_version", "0")
    if not (text.isascii() and text.isdigit() and len(text) < 10):
        raise CheckpointError(
            f"{path}: field 'format_version' is damaged; expected a whole number "
            f"(got {reprlib.repr(text)})."
        )
    version = int(text)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this theta supports "
            f"({FORMAT_VERSION}); upgrade theta to load it."
        )
    damaged = f"{path}: the checkpoint's state record is damaged"
    if version >= 3:
        return treefile.decode_text(meta.get("state"), arrays, source=damaged, root="state",
                                    tensor_source=path)  # fmt: skip
    try:
        return _version2_state(json.loads(meta["state"]), arrays)
    except RecursionError:
        reason = "it nests too deeply"
    except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        reason = str(exc)
    raise CheckpointError(f"{damaged} ({reason}).")


def _version2_state(value: Any, arrays: dict[str, np.ndarray], depth: int = 0) -> Any:
    """The state of format versions 1 and 2: JSON whose ``{"__array__": key}`` objects stand
    for tensors (int keys were written as strings, tuples as lists, NumPy scalars as numbers)."""
    if depth > treefile.MAX_DEPTH and isinstance(value, dict | list):
        raise ValueError(f"it nests deeper than {treefile.MAX_DEPTH} levels")
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        return {key: _version2_state(item, arrays, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_version2_state(item, arrays, depth + 1) for item in value]
    return value


# --- the history file beside a checkpoint ----------------------------------------------------


class HistoryLog(NamedTuple):
    """How much of a history file belongs to a checkpoint: rows, bytes and their CRC-32."""

    rows: int
    size: int
    crc32: int


def history_path(path: str) -> str:
    """The history file of the checkpoint at ``path``: ``<path>.history``."""
    return f"{os.fspath(path)}.history"


def _encode_rows(rows: list[list[Any]]) -> bytes:
    # json writes floats with repr, which reads back to the identical float (NaN/inf too)
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def write_history(path: str, rows: list[list[Any]]) -> HistoryLog:
    """Replace the history file of checkpoint ``path`` by a header and ``rows``, atomically."""
    header = json.dumps({"format": HISTORY_FORMAT, "format_version": 1}) + "\n"
    data = header.encode("utf-8") + _encode_rows(rows)
    tensorfile.atomic_write_bytes(history_path(path), data)
    return HistoryLog(len(rows), len(data), zlib.crc32(data))


def append_history(path: str, log: HistoryLog, rows: list[list[Any]]) -> HistoryLog | None:
    """Cut the history file of checkpoint ``path`` back to ``log`` and append ``rows``.

    The new rows are on disk (flushed and fsync'd) when this returns. Returns None, having
    changed nothing, when the file is missing or shorter than ``log`` says: the caller then
    writes the whole history with :func:`write_history`.
    """
    name = history_path(path)
    data = _encode_rows(rows)
    try:
        fd = os.open(name, os.O_RDWR | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, name) from exc
    try:
        if os.fstat(fd).st_size < log.size:
            return None
        os.ftruncate(fd, log.size)  # rows of a run that crashed after this checkpoint
        os.lseek(fd, log.size, os.SEEK_SET)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        raise OSError(exc.errno, f"{exc.strerror} (while appending the training history)",
                      name) from exc  # fmt: skip
    finally:
        os.close(fd)
    return HistoryLog(log.rows + len(rows), log.size + len(data), zlib.crc32(data, log.crc32))


def read_history(path: str, log: HistoryLog) -> list[list[Any]]:
    """The ``log.rows`` rows of the history file of checkpoint ``path``, checked.

    Raises
    ------
    CheckpointError
        Naming the history file, if it is missing, shorter than ``log``, has another
        checksum (damaged, or written by another run) or holds a malformed row.
    """
    name = history_path(path)
    try:
        f = tensorfile.open_regular_file(name)
    except FileNotFoundError:
        raise CheckpointError(
            f"{name}: the training history of checkpoint {path} is missing; it is written "
            "beside the checkpoint and must be kept with it."
        ) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < log.size:
            raise CheckpointError(
                f"{name}: the history file is truncated; checkpoint {path} needs its first "
                f"{log.size} bytes (got {size})."
            )
        data = f.read(log.size)
    if zlib.crc32(data) != log.crc32:
        raise CheckpointError(
            f"{name}: the history file does not match checkpoint {path} (CRC-32 "
            f"{zlib.crc32(data):08x}, expected {log.crc32:08x}); it is damaged or belongs "
            "to another run."
        )
    lines = data.split(b"\n")
    if lines.pop() != b"" or len(lines) != log.rows + 1:
        raise CheckpointError(
            f"{name}: the history file has {max(len(lines) - 1, 0)} complete rows; "
            f"checkpoint {path} counts {log.rows}."
        )
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if header != {"format": HISTORY_FORMAT, "format_version": 1}:
        raise CheckpointError(
            f"{name}: not a theta history file; expected the header line "
            f'{{"format": "{HISTORY_FORMAT}", "format_version": 1}} (got {reprlib.repr(lines[0])}).'
        )
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            row = None
        if not _is_row(row):
            raise CheckpointError(
                f'{name}: line {number} is not a history row; expected ["step_loss" or '
                f'"grad_norm", number] or ["epochs", name, number] (got {reprlib.repr(line)}).'
            )
        rows.append(row)
    return rows


def _is_row(row: Any) -> bool:
    if not isinstance(row, list) or not row:
        return False
    if row[0] == "epochs":
        return len(row) == 3 and isinstance(row[1], str) and is_number(row[2])
    return row[0] in ("step_loss", "grad_norm") and len(row) == 2 and is_number(row[1])


# --- checking a loaded state before it is applied ---------------------------------------------


def is_number(value: Any) -> bool:
    """A JSON number: int or float, not bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check(where: str, field: str, value: Any, ok: bool, expected: str) -> Any:
    """``value`` if ``ok``; otherwise a ``CheckpointError`` naming ``where`` and ``field``."""
    if not ok:
        raise CheckpointError(
            f"{where}: field {field!r} is damaged; expected {expected} (got {reprlib.repr(value)})."
        )
    return value


def check_int(where: str, field: str, value: Any, low: int = 0) -> int:
    """``value`` if it is an int >= ``low`` (not a bool); else ``CheckpointError``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    return check(where, field, value, ok, f"an int >= {low}")


def check_dict(where: str, field: str, value: Any, keys: tuple[str, ...] = ()) -> dict:
    """``value`` if it is a dict holding ``keys``; else ``CheckpointError``."""
    check(where, field, value, isinstance(value, dict), "a dict")
    missing = [key for key in keys if key not in value]
    check(where, field, list(value), not missing, f"a dict with the keys {', '.join(keys)}")
    return value


def check_arrays(where: str, field: str, value: Any) -> dict[str, np.ndarray]:
    """``value`` if it maps names to ndarrays; else ``CheckpointError``."""
    ok = isinstance(value, dict) and all(isinstance(v, np.ndarray) for v in value.values())
    return check(where, field, value, ok, "a dict of arrays")
