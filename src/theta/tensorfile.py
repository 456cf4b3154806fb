"""Strict reading and atomic writing of safetensors files: theta's only tensor file format.

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8 JSON
``{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}``, then the raw
little-endian bytes of every tensor. It holds numbers only, so loading one runs no code, unlike
a pickle. The ``safetensors`` library parses and validates the format, and theta lays files
out as its ``save`` does, but writes them from the arrays' memory, with no copy of the whole
file; this module adds what the library does not do, for ``theta.io`` and the training
checkpoints:

- **Stricter reading.** The library rejects most malformed files, but accepts a header that
  starts with whitespace, ends in newlines, names a key twice or gives a tensor extra fields.
  theta checks the header first (``_header``): it must start with ``{``, be padded only with
  ASCII spaces, hold no NUL byte and no duplicate key, and ``__metadata__`` must map strings to
  strings. The library's own refusals become the same ``CheckpointError``, naming the file and
  the reason; so do dtypes NumPy lacks, ``BOOL`` bytes other than 0 and 1 and shapes NumPy
  cannot build. Pickles, PyTorch zip files and ``.npy`` files are recognised and refused by name.
  The whole file is read once from one descriptor, so its real size, never a size field in it,
  bounds what is allocated, and the checks, the checksum and the tensors see the same bytes.
- **A checksum.** ``write_tensors`` records the SHA-256 of the data section in the metadata
  (``theta.sha256``; other readers, PyTorch's included, ignore it) and ``read_tensors`` verifies
  it, so a flipped bit is an error, not a silently different weight.
- **Atomic writes.** The bytes go to a uniquely named temporary file in the same folder, are
  flushed and fsynced, and are renamed over the target in one step, so a reader (or a process
  killed mid-write, or a second writer) sees the old file or the new one, never a mixture. The
  temporary's name records its writer (pid, host, boot and process start time), and the next
  write of the same path deletes the temporaries of writers that no longer run
  (``remove_stale_temporaries``), so a kill -9 leaves nothing behind for long.
  ``atomic_directory`` does the same for a folder of files, and ``read_tensors(...,
  dir_fd=...)`` reads several files of one such folder even while another process replaces it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import json
import math
import mmap
import os
import re
import secrets
import shutil
import socket
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors import SafetensorError, deserialize, safe_open

from theta.errors import CheckpointError

__all__ = [
    "DuplicateKeyError",
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "jsonable",
    "no_duplicate_keys",
    "open_regular_file",
    "read_tensors",
    "refuse_pickle",
    "remove_folder",
    "remove_stale_temporaries",
    "temporary_base",
    "write_tensors",
]

# safetensors dtype name -> little-endian NumPy dtype. BF16 is read separately (NumPy has none).
_DTYPES = {
    "BOOL": np.dtype("|b1"), "U8": np.dtype("|u1"), "I8": np.dtype("|i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
}  # fmt: skip
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
# The library's order of tensors in the data section (safetensors.numpy.save): by dtype, in
# this order (so every tensor is aligned to its item size), then by name.
_ORDER = {_DTYPES[name]: rank for rank, name in enumerate(
    ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "F16", "U16", "I16", "I8", "U8", "BOOL"]
)}  # fmt: skip
_FIELDS = {"dtype", "shape", "data_offsets"}
_MAX_HEADER = 100_000_000  # the safetensors library's own limit, checked before parsing
_MAX_NDIM = 32  # NumPy 1.x's limit, so a file theta writes loads under every supported NumPy
_CHECKSUM = "theta.sha256"  # __metadata__ key: hex SHA-256 of the data section
# Linux's view of open descriptors: lets the library's memory-mapped reader open the very file
# theta has open (read_tensors); elsewhere the file is read into one buffer.
_PROC_FD = os.path.isdir("/proc/self/fd")
_FOREIGN = (
    (b"\x80", "a Python pickle (e.g. torch.save's legacy format or joblib)"),
    (b"PK\x03\x04", "a zip archive (PyTorch .pt/.pth or NumPy .npz, which hold pickles)"),
    (b"PK\x05\x06", "a zip archive (PyTorch .pt/.pth or NumPy .npz, which hold pickles)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
)


def _fail(name: str, reason: str) -> CheckpointError:
    return CheckpointError(f"{name} is not a valid safetensors file: {reason}.")


def _cut(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _short(value: Any) -> str:
    """``repr`` cut to a readable length, for values quoted from a hostile header."""
    return _cut(repr(value))


# --- reading -----------------------------------------------------------------------------------


def refuse_pickle(path: str | os.PathLike, prefix: bytes | None = None) -> None:
    """Raise ``CheckpointError`` if ``path`` starts like a pickle, a zip or a ``.npy`` file.

    Only the first bytes are looked at; nothing is unpickled or executed, ever.

    Parameters
    ----------
    path : str or path-like
        The file to sniff.
    prefix : bytes, optional
        Its first bytes, when the caller has already read them.

    Raises
    ------
    CheckpointError
        Naming the file and the format it looks like.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "model.pkl")
    ...     with open(path, "wb") as f:
    ...         _ = f.write(pickle.dumps({"w": 1}))
    ...     refuse_pickle(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theta.errors.CheckpointError: ...model.pkl looks like a Python pickle ...; nothing was executed.
    """
    name = os.fspath(path)
    if prefix is None:
        with open_regular_file(name) as f:
            prefix = f.read(8)
    for magic, what in _FOREIGN:
        if prefix.startswith(magic):
            raise CheckpointError(
                f"{name} looks like {what}; theta only loads safetensors files, "
                "so it refused it without reading further; nothing was executed."
            )


def read_tensors(
    path: str | os.PathLike, *, dir_fd: int | None = None, checksum: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file after validating every byte of its structure.

    Parameters
    ----------
    path : str or path-like
        The file.
    dir_fd : int, optional
        An open descriptor of ``path``'s folder; see ``open_regular_file``.
    checksum : bool, default=True
        Verify the SHA-256 of the data section that ``write_tensors`` records in the
        metadata (``theta.sha256``), which catches flipped or overwritten bytes that the
        format's structure cannot. A file without one (written by PyTorch or the
        ``safetensors`` package) is read as it is. False skips the hashing (about 1 s per
        GB) for very large files.

    Returns
    -------
    tensors : dict of str to ndarray
        In header order. The arrays are writable, native-endian and belong to the caller
        alone (each has its own buffer, never a memory map of the file). ``BF16`` tensors
        are widened to float32, which is exact.
    metadata : dict of str to str
        The header's ``__metadata__`` (empty if there is none), without ``theta.sha256``.

    Raises
    ------
    CheckpointError
        If the file is not a well-formed safetensors file (the message names the file and
        the first problem found), is a pickle, zip or ``.npy`` file, or its data does not
        match its checksum.
    FileNotFoundError, IsADirectoryError, PermissionError
        With the path, when it cannot be opened as a file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "w.safetensors")
    ...     write_tensors(path, {"w": np.arange(3.0)}, {"step": "7"})
    ...     tensors, metadata = read_tensors(path)
    >>> tensors["w"], metadata
    (array([0., 1., 2.]), {'step': '7'})
    """
    name = os.fspath(path)
    with open_regular_file(name, dir_fd=dir_fd) as f:
        size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) == 8 and 0 < (n := int.from_bytes(prefix, "little")) <= size - 8:
            prefix += f.read(min(n, _MAX_HEADER + 1))
        n_header, names, metadata, dtypes = _header(prefix, size, name)
        recorded = metadata.pop(_CHECKSUM, None) if checksum else None
        metadata.pop(_CHECKSUM, None)
        if _PROC_FD and "BF16" not in dtypes:
            return _read_mapped(f, name, n_header, names, recorded), metadata
        f.seek(0)
        data = f.read()  # BF16 (which safe_open cannot give NumPy) or no /proc: one buffer
    try:
        tensors = dict(deserialize(data))
    except SafetensorError as exc:
        raise _library_refusal(name, exc) from None
    if recorded is not None:
        _verify_checksum(name, memoryview(data)[8 + n_header :], recorded)
    return {key: _to_array(tensors[key], name, key) for key in names}, metadata


def _read_mapped(
    f: BinaryIO, name: str, n_header: int, names: list[str], recorded: str | None
) -> dict[str, np.ndarray]:
    """The tensors of the open file ``f``, through the library's memory-mapped reader.

    ``/proc/self/fd/N`` reopens the very file ``f`` is (even if its path was replaced since),
    so the header checked, the bytes hashed and the tensors read are one file's; each tensor
    is copied out of the map once, as ``read`` would.
    """
    fd = f.fileno()
    if recorded is not None:
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
            with memoryview(mapped) as view, view[8 + n_header :] as data:
                n_data, actual = len(data), hashlib.sha256(data).hexdigest()
        _compare_checksum(name, n_data, actual, recorded)
    try:
        with safe_open(f"/proc/self/fd/{fd}", framework="np") as opened:
            tensors = {key: opened.get_tensor(key) for key in names}
    except SafetensorError as exc:
        raise _library_refusal(name, exc) from None
    return {key: _check_array(array, name, key) for key, array in tensors.items()}


def _library_refusal(name: str, exc: Exception) -> CheckpointError:
    """The library's "Error while deserializing: <reason>" as theta's error naming the file."""
    return _fail(name, _cut(str(exc).partition(": ")[2] or str(exc)))


def _verify_checksum(name: str, data: memoryview, recorded: str) -> None:
    _compare_checksum(name, len(data), hashlib.sha256(data).hexdigest(), recorded)


def _compare_checksum(name: str, n_data: int, actual: str, recorded: str) -> None:
    if actual != recorded:
        raise CheckpointError(
            f"{name} is corrupted: the SHA-256 checksum of its {n_data}-byte data section "
            f"is {actual}, not the {_short(recorded)} recorded when it was written "
            f"(__metadata__ {_CHECKSUM!r}); restore it from a copy, or pass checksum=False "
            "to read it anyway."
        )


def open_regular_file(path: str | os.PathLike, *, dir_fd: int | None = None) -> BinaryIO:
    """Open a regular file for binary reading; folders, pipes and devices are refused by name.

    Parameters
    ----------
    path : str or path-like
        The file; errors name it.
    dir_fd : int, optional
        An open descriptor of ``path``'s folder. The file is then opened by its base name
        relative to that folder, so that several files are read from one folder even if
        another process renames a replacement into its place meanwhile.

    Returns
    -------
    binary file object

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        Naming ``path``.
    CheckpointError
        If ``path`` is a pipe, socket or device (reading one could block or never end).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     open_regular_file(d)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    IsADirectoryError: [Errno 21] Is a directory, not a file: '...'
    """
    name = os.fspath(path)
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        if dir_fd is None:
            fd = os.open(name, flags)
        else:
            fd = os.open(os.path.basename(name), flags, dir_fd=dir_fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, name) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory, not a file", name)
        if not stat.S_ISREG(mode):
            raise CheckpointError(f"{name} is not a regular file (a pipe or a device?).")
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class DuplicateKeyError(ValueError):
    pass


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: a JSON object may not name a key twice (the last would win)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def _strict_constant(text: str) -> None:
    raise ValueError(f"{text} is not valid JSON")


def _header(prefix: bytes, size: int, name: str) -> tuple[int, list[str], dict[str, str], set]:
    """theta's checks of the header, before the library's (see the module docstring).

    ``prefix`` is the file's first bytes (the length field and, if it fits, the header) and
    ``size`` the file's real size. Returns the header length, the tensor names in header
    order, the metadata and the set of dtypes.
    """
    if not size:
        raise _fail(name, "the file is empty")
    if size < 8:
        refuse_pickle(name, prefix)
        raise _fail(
            name,
            f"the file is only {size} bytes; a safetensors file starts "
            "with an 8-byte header length",
        )
    n_header = int.from_bytes(prefix[:8], "little")
    if n_header > size - 8:
        refuse_pickle(name, prefix[:8])
        raise _fail(
            name,
            f"its header length field says {n_header} bytes but only {size - 8} bytes "
            "follow it (truncated or not safetensors)",
        )
    if n_header == 0:
        raise _fail(name, "its header length is 0; the smallest header is '{}'")
    if n_header > _MAX_HEADER:
        raise _fail(name, f"header length {n_header} exceeds the {_MAX_HEADER}-byte limit")
    header = prefix[8 : 8 + n_header]
    if not header.startswith(b"{"):
        refuse_pickle(name, prefix[:8])
        raise _fail(name, f"the header must start with '{{', not {_short(header[:1])}")
    if b"\x00" in header:
        raise _fail(
            name,
            f"the header contains a NUL byte at offset {8 + header.index(0)} "
            "(only trailing spaces may pad it)",
        )
    body = header.rstrip(b" ")
    if not body.endswith(b"}"):
        raise _fail(name, "the header must be one JSON object followed only by space padding")
    try:
        text = body.decode("utf-8")
        entries = json.loads(
            text, object_pairs_hook=no_duplicate_keys, parse_constant=_strict_constant
        )
    except UnicodeDecodeError as exc:
        raise _fail(
            name, f"the header is not UTF-8 ({exc.reason} at byte {8 + exc.start})"
        ) from None
    except DuplicateKeyError as exc:
        raise _fail(name, f"the header names key {_short(exc.args[0])} twice") from None
    except (ValueError, RecursionError) as exc:
        raise _fail(name, f"the header is not valid JSON ({_cut(str(exc))})") from None
    metadata = entries.pop("__metadata__", {})
    if not isinstance(metadata, dict):
        raise _fail(name, f"__metadata__ must be an object, not {_short(metadata)}")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise _fail(
                name,
                f"__metadata__ must map strings to strings, but {_short(key)} "
                f"maps to {_short(value)}",
            )
    for key, info in entries.items():
        what = f"tensor {_short(key)}"
        if not isinstance(info, dict) or info.keys() != _FIELDS:
            got = sorted(info) if isinstance(info, dict) else info
            raise _fail(
                name,
                f"{what} must be an object with exactly the fields data_offsets, "
                f"dtype and shape (got {_short(got)})",
            )
        dtype = info["dtype"]
        if not (isinstance(dtype, str) and (dtype in _DTYPES or dtype == "BF16")):
            raise _fail(
                name,
                f"{what} has unknown dtype {_short(dtype)} (or one NumPy cannot "
                f"represent); theta reads {', '.join([*_DTYPES, 'BF16'])}",
            )
        shape = info["shape"]
        if isinstance(shape, list) and all(_is_size(d) for d in shape):  # else: the library's
            if len(shape) > _MAX_NDIM:
                raise _fail(
                    name, f"{what} has {len(shape)} dimensions; theta reads at most {_MAX_NDIM}"
                )
            # NumPy refuses arrays whose non-zero dimensions multiply past the address space,
            # even when another dimension is 0; refuse them here, as an error about the file.
            itemsize = 4 if dtype == "BF16" else _DTYPES[dtype].itemsize  # BF16 -> float32
            if math.prod(d for d in shape if d) * itemsize > sys.maxsize:
                raise _fail(name, f"{what} has shape {_short(shape)}, which overflows")
    return n_header, list(entries), metadata, {info["dtype"] for info in entries.values()}


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _to_array(info: dict[str, Any], name: str, key: str) -> np.ndarray:
    """One tensor of ``deserialize`` (the library's own copy of its bytes) as an array."""
    shape, dtype, data = tuple(info["shape"]), info["dtype"], info["data"]
    if dtype == "BF16":
        # bfloat16 is the upper half of a float32, so widening is a shift, and exact.
        raw = np.frombuffer(data, dtype="<u2")
        return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return _check_array(np.frombuffer(data, dtype=_DTYPES[dtype]).reshape(shape), name, key)


def _check_array(array: np.ndarray, name: str, key: str) -> np.ndarray:
    """``array`` native-endian, once its bytes are known to be valid for its dtype."""
    if array.dtype == np.bool_ and (array.view(np.uint8) > 1).any():
        raise _fail(name, f"tensor {_short(key)} of dtype BOOL holds bytes other than 0 and 1")
    if not array.dtype.isnative:  # big-endian machines
        array = array.astype(array.dtype.newbyteorder("="))
    return array


# --- writing -----------------------------------------------------------------------------------


def write_tensors(
    path: str | os.PathLike,
    tensors: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
    *,
    overwrite: bool = True,
    checksum: bool = True,
) -> None:
    """Write ``tensors`` (and string ``metadata``) to a safetensors file, atomically.

    The file holds the bytes ``safetensors.numpy.save`` makes (metadata keys in the order
    given, where the library's order is arbitrary), so that library, ``safe_open`` and
    PyTorch's ``safetensors.torch.load_file`` read it; but it is written straight from the
    arrays' memory, never built as one ``bytes`` first (no second copy of the data).

    Parameters
    ----------
    path : str or path-like
        Target file. Its folder must exist.
    tensors : mapping of str to ndarray
        Arrays of dtype bool, (u)int8 to (u)int64, float16/32/64 or complex64, any shape.
    metadata : mapping of str to str, optional
        Stored under ``__metadata__``.
    overwrite : bool, default=True
        Replace an existing file. If False and ``path`` exists, ``FileExistsError``; the check
        and the creation are one atomic step where the filesystem supports hard links.
    checksum : bool, default=True
        Record the SHA-256 of the data section in the metadata (``theta.sha256``), which
        ``read_tensors`` verifies; other readers ignore it.

    Raises
    ------
    TypeError
        If a name, array or metadata value has a type safetensors cannot store (named).
    ValueError
        If ``metadata`` uses the reserved key ``theta.sha256``.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    OSError
        Naming ``path`` when it cannot be written (read-only folder, disk full, ...); the
        previous file, if any, is unchanged and no temporary file is left behind.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "w.safetensors")
    ...     write_tensors(path, {"w": np.ones((2, 2), np.float32)})
    ...     read_tensors(path)[0]["w"].dtype
    dtype('float32')
    """
    arrays, header = _storable(tensors), _metadata(metadata)
    items = sorted(arrays.items(), key=lambda item: (_ORDER[item[1].dtype], item[0]))
    data = [array.reshape(-1).view(np.uint8) for _, array in items if array.size]
    if checksum:
        digest = hashlib.sha256()
        for chunk in data:
            digest.update(chunk)
        header[_CHECKSUM] = digest.hexdigest()
    layout = _layout(items, header)

    def write(f: BinaryIO) -> None:
        f.write(len(layout).to_bytes(8, "little"))
        f.write(layout)
        for chunk in data:
            f.write(chunk)

    _atomic_write(os.fspath(path), write, overwrite)


def _layout(items: list[tuple[str, np.ndarray]], metadata: dict[str, str]) -> bytes:
    """The header ``safetensors.numpy.save`` writes for ``items`` (in its order): compact
    JSON, ``__metadata__`` first if any, padded with spaces to a multiple of 8 bytes."""
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for key, array in items:
        header[key] = {"dtype": _NAMES[array.dtype], "shape": list(array.shape),
                       "data_offsets": [offset, offset + array.nbytes]}  # fmt: skip
        offset += array.nbytes
    try:
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise TypeError(
            f"write_tensors: a name or metadata string is not valid Unicode ({exc.reason})."
        ) from None
    return text + b" " * (-len(text) % 8)


def _storable(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``tensors`` as C-contiguous little-endian arrays, as the file holds them; names checked."""
    if not isinstance(tensors, Mapping):
        raise TypeError(
            f"write_tensors: tensors must be a dict of arrays, not {type(tensors).__name__}."
        )
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str) or key == "__metadata__":
            raise TypeError(
                f"write_tensors: tensor names must be strings other than "
                f"'__metadata__' (got {key!r})."
            )
        if not isinstance(value, np.ndarray | np.generic):
            raise TypeError(
                f"write_tensors: tensor {key!r} is a {type(value).__name__}; pass a NumPy array."
            )
        dtype = value.dtype.newbyteorder("<")
        if dtype not in _DTYPES.values():
            raise TypeError(
                f"write_tensors: tensor {key!r} has dtype {value.dtype}, which "
                "safetensors cannot store; use bool, (u)int8-64, float16/32/64 or "
                "complex64."
            )
        arrays[key] = np.asarray(value, dtype=dtype, order="C")  # 0-d stays 0-d
    return arrays


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError(
            f"write_tensors: metadata must map strings to strings (got {_short(metadata)})."
        )
    if _CHECKSUM in metadata:
        raise ValueError(f"write_tensors: the metadata key {_CHECKSUM!r} is theta's own.")
    return dict(metadata)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync the folder).

    Parameters
    ----------
    path : str or path-like
        Target file.
    data : bytes
        The whole new content.
    overwrite : bool, default=True
        Replace an existing file; if False an existing ``path`` raises ``FileExistsError``.

    Raises
    ------
    FileExistsError, OSError
        As for ``write_tensors``, naming ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     atomic_write_bytes(os.path.join(d, "x.bin"), b"theta")
    ...     sorted(os.listdir(d))
    ['x.bin']
    """
    _atomic_write(os.fspath(path), lambda f: f.write(data), overwrite)


def atomic_write_text(path: str | os.PathLike, text: str, *, overwrite: bool = True) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically; see ``atomic_write_bytes``.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     atomic_write_text(os.path.join(d, "config.json"), "{}\\n")
    ...     with open(os.path.join(d, "config.json")) as f:
    ...         f.read()
    '{}\\n'
    """
    atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON values, for the JSON files written beside tensors: NumPy
    scalars and 0-d arrays become Python numbers, tuples lists, keys strings, and anything
    else its ``repr``.

    Examples
    --------
    >>> jsonable({"lr": np.float32(0.5), 1: (np.int64(2), None), "f": len})
    {'lr': 0.5, '1': [2, None], 'f': '<built-in function len>'}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _temporary_name(path: str, suffix: str = ".tmp") -> str:
    """A hidden name beside ``path``, unique to this process and call, that says who made it.

    ``.{base}.{pid}.{machine}-{start}.{random}{suffix}``: ``machine`` hashes the host name
    and boot, ``start`` is the process's start time, so ``remove_stale_temporaries`` can
    tell a killed writer's leftovers from a live writer's file even after a pid is reused.
    """
    folder, base = os.path.split(os.path.abspath(path))
    name = f".{base}.{os.getpid()}.{_writer_stamp(os.getpid())}.{secrets.token_hex(4)}{suffix}"
    return os.path.join(folder, name)


@functools.cache
def _machine() -> str:
    """8 hex digits: 4 of the host name, then 4 of this boot (``0000`` where unknown)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as f:
            boot = hashlib.sha256(f.read().strip()).hexdigest()[:4]
    except OSError:
        boot = "0000"
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4] + boot


def _process_start(pid: int) -> str | None:
    """``pid``'s start time in clock ticks since boot, "0" where unknowable, None if it is
    gone or a zombie (either way it writes nothing more)."""
    if not os.path.isdir("/proc/self"):
        if sys.platform == "win32":
            return "0"  # never probe: os.kill(pid, 0) would terminate the process there
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:
            pass  # alive, another user's
        return "0"
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == b"Z" else fields[19].decode()


def _writer_stamp(pid: int) -> str:
    start = _process_start(pid)
    return f"{_machine()}-{start}"


_TEMPORARY = re.compile(r"(\d+)\.([0-9a-f]{8})-(\d+)\.[0-9a-f]{8}\.(tmp|old)")
_ANY_TEMPORARY = re.compile(r"\.(?P<base>.+)\." + _TEMPORARY.pattern)


def temporary_base(name: str) -> str | None:
    """The name whose atomic write made the temporary ``name``, or None if ``name`` is not
    one of theta's temporaries (e.g. ``".model.12.0a1b2c3d-9.0a1b2c3d.tmp"`` -> ``"model"``)."""
    match = _ANY_TEMPORARY.fullmatch(name)
    return None if match is None else match["base"]


def remove_folder(path: str | os.PathLike) -> None:
    """Delete the folder ``path`` so that it is whole or gone, never half-deleted: it is
    renamed to a hidden temporary in one step, then deleted; what a kill leaves of that
    temporary goes with the next write of ``path`` (``remove_stale_temporaries``)."""
    doomed = _temporary_name(os.fspath(path))
    os.rename(path, doomed)
    _remove(doomed)


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete the temporaries that killed writers of ``path`` left beside it.

    ``write_tensors``, ``atomic_write_bytes``/``_text`` and ``atomic_directory`` call this
    before they write, and ``theta.io.load`` before it reads, so a write killed by SIGKILL
    or a power cut leaves its hidden temporary file or folder only until the next write or
    load of the same path. A temporary counts as stale only when it was made on this host
    and its writer has exited (or the machine has rebooted since): a live writer's files,
    including another process's saving now, are never touched. A folder kept aside under a
    ``.old`` name while it was being replaced is renamed back to ``path`` if ``path`` is
    missing. Failures (a read-only folder) are ignored: a leftover is only wasted space.

    Parameters
    ----------
    path : str or path-like
        The file or folder whose temporaries to remove; only names made for it are looked at.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     leftover = os.path.join(d, ".w.safetensors.999999999.%s-1.0a1b2c3d.tmp" % _machine())
    ...     open(leftover, "wb").close()  # as if pid 999999999 had been killed mid-write
    ...     remove_stale_temporaries(os.path.join(d, "w.safetensors"))
    ...     os.listdir(d)
    []
    """
    target = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(target)
    prefix = f".{base}."
    try:
        names = [name for name in os.listdir(folder) if name.startswith(prefix)]
    except OSError:
        return
    boot = _machine()
    for name in names:
        match = _TEMPORARY.fullmatch(name, len(prefix))
        if match is None or not _is_stale(int(match[1]), match[2], match[3], boot):
            continue
        leftover = os.path.join(folder, name)
        if match[4] == "old" and not os.path.lexists(target):
            with contextlib.suppress(OSError):
                os.rename(leftover, target)  # killed between its two renames: put it back
            if not os.path.lexists(target):
                continue  # never delete the only copy
        if os.path.lexists(leftover):
            _remove(leftover)


def _is_stale(pid: int, machine: str, start: str, ours: str) -> bool:
    if machine[:4] != ours[:4]:
        return False  # another host's (a shared folder): its processes are not ours to see
    if machine != ours:
        return True  # made before this host last booted
    alive = _process_start(pid)
    return alive is None or (start != "0" and alive not in ("0", start))


def _named_os_error(exc: OSError, path: str, doing: str) -> OSError:
    """Re-raise an OSError about a temporary name as the same kind of error about ``path``."""
    if exc.errno is None:
        return OSError(f"{path}: {exc} ({doing} it)")
    # OSError(errno, ...) builds the matching subclass (PermissionError, FileExistsError, ...).
    return OSError(exc.errno, f"{exc.strerror} ({doing} it; what was there is unchanged)", path)


def _atomic_write(path: str, write: Callable[[BinaryIO], Any], overwrite: bool) -> None:
    remove_stale_temporaries(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "File exists; pass overwrite=True to replace it", path)
    temporary = _temporary_name(path)
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            _link_no_clobber(temporary, path)
        _fsync_directory(os.path.dirname(os.path.abspath(path)))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, FileExistsError):
            raise FileExistsError(errno.EEXIST, "File exists; pass overwrite=True to replace it",
                                  path) from None  # fmt: skip
        if isinstance(exc, OSError):
            raise _named_os_error(exc, path, "while writing") from exc
        raise


def _link_no_clobber(temporary: str, path: str) -> None:
    """Give the finished file its name only if that name is free, in one atomic step."""
    try:
        os.link(temporary, path)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # No hard links here (FAT, some network filesystems): check, then rename.
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "File exists", path) from None
        os.replace(temporary, path)
    else:
        os.unlink(temporary)


def _fsync_directory(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # Windows cannot open folders; its renames are journaled by NTFS
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


# --- whole folders -----------------------------------------------------------------------------

_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2


@functools.cache
def _renameat2() -> Any:
    """Linux's ``renameat2`` from libc, or None where it does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]  # fmt: skip
    function.restype = ctypes.c_int
    return function


def _rename(source: str, target: str, flags: int) -> bool:
    """``renameat2(source, target, flags)``; False if this system or filesystem lacks it."""
    function = _renameat2()
    if function is None:
        return False
    at_fdcwd = -100
    if function(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), target)


def _remove(path: str) -> None:
    """Delete a replaced file or folder; a leftover hidden one is harmless, so never raise."""
    with contextlib.suppress(OSError):
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    may_replace: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Fill a private staging folder, then make it ``path`` in one atomic rename.

    On Linux the rename is ``renameat2``: ``RENAME_NOREPLACE`` to create and
    ``RENAME_EXCHANGE`` to replace, so at every instant ``path`` is the complete old folder
    or the complete new one, even if the process is killed, and two writers never mix their
    files (the last to finish wins). Elsewhere replacing takes two renames (old folder aside,
    new one in), and a crash between them leaves the old folder under a hidden ``.*.old`` name
    beside ``path``. If the ``with`` body raises, the staging folder is deleted and ``path``
    is untouched.

    Parameters
    ----------
    path : str or path-like
        The folder to create or replace. Its parent must exist.
    overwrite : bool, default=False
        Replace an existing ``path``; if False, ``FileExistsError``.
    may_replace : callable, optional
        Called with ``path`` before an existing one is replaced; raises to refuse (so a
        caller can refuse to delete a folder that holds files it did not write).

    Yields
    ------
    pathlib.Path
        The empty staging folder (hidden, beside ``path``); write files into it.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with atomic_directory(os.path.join(d, "run")) as staging:
    ...         atomic_write_text(staging / "a.txt", "1")
    ...     sorted(os.listdir(d)), os.listdir(os.path.join(d, "run"))
    (['run'], ['a.txt'])
    """
    target = os.path.abspath(os.fspath(path))
    remove_stale_temporaries(target)
    if os.path.lexists(target):
        if not overwrite:
            raise FileExistsError(errno.EEXIST, "Exists; pass overwrite=True to replace it",
                                  target)  # fmt: skip
        if may_replace is not None:
            may_replace(target)
    staging = _temporary_name(target)
    try:
        os.mkdir(staging)
    except OSError as exc:
        raise _named_os_error(exc, target, "while creating a staging folder beside") from exc
    try:
        yield Path(staging)
        _fsync_directory(staging)
        _commit_directory(staging, target, overwrite, may_replace)
        _fsync_directory(os.path.dirname(target))
    except BaseException as exc:
        if os.path.lexists(staging):
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, FileExistsError):
            raise _named_os_error(exc, target, "while writing") from exc
        raise


def _commit_directory(
    staging: str, target: str, overwrite: bool, may_replace: Callable[[str], None] | None
) -> None:
    """Move the finished ``staging`` folder to ``target`` (see ``atomic_directory``)."""
    exists = FileExistsError(errno.EEXIST, "Exists; pass overwrite=True to replace it", target)
    if not os.path.lexists(target):
        try:
            if _rename(staging, target, _RENAME_NOREPLACE):
                return
            if not os.path.lexists(target):
                os.rename(staging, target)
                return
        except OSError as error:  # another writer created it first
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                raise
    if not overwrite:
        raise exists
    if may_replace is not None:
        may_replace(target)
    if _rename(staging, target, _RENAME_EXCHANGE):
        _remove(staging)  # it now holds the old folder
        return
    backup = _temporary_name(target, ".old")
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    _remove(backup)
