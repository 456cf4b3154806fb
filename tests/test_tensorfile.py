"""theta.tensorfile: every malformed safetensors file is refused by name; writes are atomic."""

import errno
import hashlib
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from theta import tensorfile
from theta.errors import CheckpointError
from theta.tensorfile import (
    atomic_directory,
    atomic_write_bytes,
    atomic_write_text,
    read_tensors,
    refuse_pickle,
    write_tensors,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
}


def build(header, data: bytes = b"", *, length: int | None = None) -> bytes:
    """A safetensors file by hand: header (dict, str or bytes), data, optional fake length."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.encode("utf-8")
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


F32x2 = struct.pack("<2f", 1.0, 2.0)
GOOD = build({"a": entry()}, F32x2)
TWICE = '{"a":%s,"a":%s}' % ((json.dumps(entry()),) * 2)
HUGE_INT = b'{"a":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,8]}}'
HOLE = {"a": entry(shape=(1,), offsets=(0, 4)), "b": entry(shape=(1,), offsets=(8, 12))}

# (id, file bytes, regex the message must match). Every row is RELIABILITY.md item 22. Where
# theta's own checks pass a file on, the regex is the safetensors library's reason.
MALFORMED = [
    ("empty", b"", "the file is empty"),
    ("shorter-than-8", b"\x02\x00\x00", "only 3 bytes"),
    ("length-2**63", build("{}", length=2**63), "header length field says 9223372036854775808"),
    ("length-2**64-1", build("{}", length=2**64 - 1), "header length field says 18446744073709"),
    ("header-past-eof", build('{"a":1}', length=8), "says 8 bytes but only 7 bytes follow"),
    ("length-zero", build(b"", b"{}"), "header length is 0"),
    ("leading-space", build(b' {"a":' + json.dumps(entry()).encode() + b"}", F32x2), "start with"),
    ("not-utf8", build(b'{"\xff\xfe":1}'), "not UTF-8"),
    ("not-json", build(b"{not json}"), "not valid JSON"),
    ("two-objects", build(b"{} {}"), "not valid JSON"),
    ("nan-literal", build(b'{"a":NaN}'), "not valid JSON"),
    ("deep-nesting", build(b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}"), "not valid JSON"),
    ("nul-padding", build(b"{}\x00\x00\x00\x00\x00\x00"), "NUL byte"),
    ("nul-inside", build(b'{"a\x00":1}'), "NUL byte"),
    ("newline-padding", build(b"{}\n"), "followed only by space padding"),
    ("trailing-garbage", build(b"{}  x"), "followed only by space padding"),
    ("duplicate-tensor", build(TWICE, F32x2), "'a' twice"),
    ("duplicate-metadata", build(b'{"__metadata__":{"k":"1","k":"2"}}'), "'k' twice"),
    ("metadata-not-object", build({"__metadata__": ["x"]}), "__metadata__ must be an object"),
    ("metadata-int-value", build({"__metadata__": {"k": 1}}), "strings to strings"),
    ("metadata-null-value", build({"__metadata__": {"k": None}}), "strings to strings"),
    ("entry-not-object", build({"a": 5}), "exactly the fields"),
    ("entry-missing-field", build({"a": {"dtype": "F32", "shape": [0]}}), "exactly the fields"),
    ("entry-extra-field", build({"a": {**entry(), "x": 1}}, F32x2), "exactly the fields"),
    ("unknown-dtype", build({"a": entry("F33")}, F32x2), "unknown dtype 'F33'"),
    ("dtype-not-string", build({"a": entry(7)}, F32x2), "unknown dtype 7"),
    ("float8-dtype", build({"a": entry("F8_E4M3", (8,))}, F32x2), "NumPy cannot represent"),
    ("negative-shape", build({"a": entry(shape=(-2,))}, F32x2), "integer `-2`, expected usize"),
    ("float-shape", build({"a": entry(shape=(2.0,))}, F32x2), "`2.0`, expected usize"),
    ("bool-shape", build({"a": entry(shape=(True, 2))}, F32x2), "`true`, expected usize"),
    ("string-shape", build({"a": entry(shape=("2",))}, F32x2), '"2", expected usize'),
    ("shape-not-list", build({"a": {**entry(), "shape": 2}}, F32x2), "expected a sequence"),
    ("overflowing-shape", build({"a": entry(shape=(2**62, 2**62))}, F32x2), "overflow"),
    ("overflow-hidden-by-zero", build({"a": entry(shape=(0, 2**63), offsets=(0, 0))}), "overflows"),
    (
        "too-many-dims",
        build({"a": entry(shape=(1,) * 40, offsets=(0, 4))}, F32x2[:4]),
        "dimensions",
    ),
    ("huge-int-shape", build(HUGE_INT), "not valid JSON"),
    ("offsets-one-int", build({"a": {**entry(), "data_offsets": [8]}}, F32x2), "tuple of size 2"),
    ("offsets-three-ints", build({"a": entry(offsets=(0, 8, 8))}, F32x2), "expected 2 elements"),
    ("offsets-floats", build({"a": entry(offsets=(0, 8.0))}, F32x2), "`8.0`, expected usize"),
    ("offsets-string", build({"a": {**entry(), "data_offsets": "0,8"}}, F32x2), 'string "0,8"'),
    ("offsets-negative", build({"a": entry(offsets=(-8, 0))}, F32x2), "`-8`, expected usize"),
    ("offsets-reversed", build({"a": entry(offsets=(8, 0))}, F32x2), "offset for tensor `a`"),
    ("length-vs-shape", build({"a": entry(shape=(3,))}, F32x2), "invalid shape, data type"),
    ("offsets-past-eof", build({"a": entry(shape=(4,), offsets=(0, 16))}, F32x2), "covered"),
    (
        "offsets-huge",
        build({"a": entry(shape=(2**40,), offsets=(0, 2**42))}, F32x2),
        "not fully covered",
    ),
    ("overlap", build({"a": entry(), "b": entry(offsets=(4, 12))}, F32x2 * 2), "tensor `b`"),
    ("same-range", build({"a": entry(), "b": entry()}, F32x2), "invalid offset for tensor"),
    ("hole", build(HOLE, F32x2 + F32x2[:4]), "invalid offset for tensor `b`"),
    ("hole-at-start", build({"a": entry(shape=(1,), offsets=(4, 8))}, F32x2), "tensor `a`"),
    ("trailing-bytes", build({"a": entry()}, F32x2 + b"\x00"), "not fully covered"),
    ("no-tensors-but-data", build({}, F32x2), "not fully covered"),
    (
        "bool-not-0-or-1",
        build({"a": entry("BOOL", (2,), (0, 2))}, b"\x01\x02"),
        "other than 0 and 1",
    ),
    ("pickle", pickle.dumps({"w": [1.0]}), "looks like a Python pickle"),
    ("tiny-pickle", pickle.dumps(1), "looks like a Python pickle"),
    ("zip", b"PK\x03\x04\x14\x00\x00\x00" + b"\x00" * 30, "looks like a zip archive"),
    ("npy", b"\x93NUMPY\x01\x00" + b"\x00" * 100, "looks like a NumPy .npy"),
]


@pytest.mark.parametrize(
    "data, match", [row[1:] for row in MALFORMED], ids=[r[0] for r in MALFORMED]
)
def test_every_malformed_file_raises_checkpoint_error_naming_file_and_reason(tmp_path, data, match):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=match) as info:
        read_tensors(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_the_hand_built_reference_file_is_valid(tmp_path):
    path = tmp_path / "good.safetensors"
    path.write_bytes(GOOD)
    tensors, metadata = read_tensors(path)
    np.testing.assert_array_equal(tensors["a"], [1.0, 2.0])
    assert metadata == {}


@pytest.mark.parametrize(
    "padding, ok", [(b"", True), (b"      ", True), (b" \t", False), (b"\r\n", False)]
)
def test_only_trailing_spaces_pad_the_header(tmp_path, padding, ok):
    path = tmp_path / "pad.safetensors"
    path.write_bytes(build(json.dumps({"a": entry()}).encode() + padding, F32x2))
    if ok:
        assert read_tensors(path)[0]["a"].shape == (2,)
    else:
        with pytest.raises(CheckpointError, match="space padding"):
            read_tensors(path)


def test_every_truncation_and_random_corruption_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "x.safetensors"
    write_tensors(path, {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(3, np.int8)}, {"k": "v"})
    original = path.read_bytes()
    for n in range(len(original)):
        path.write_bytes(original[:n])
        with pytest.raises(CheckpointError):
            read_tensors(path)
    rng = np.random.default_rng(0)
    for _ in range(300):
        damaged = bytearray(original)
        for i in rng.integers(0, len(damaged), size=rng.integers(1, 4)):
            damaged[i] = rng.integers(0, 256)
        path.write_bytes(bytes(damaged))
        try:
            read_tensors(path)
        except CheckpointError:
            pass  # any other exception type fails the test


DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64,
          np.int64, np.float16, np.float32, np.float64, np.complex64]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 4), (3, 0, 2)], ids=str)
def test_round_trip_of_every_dtype_and_shape(tmp_path, rng, dtype, shape):
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / "x.safetensors"
    write_tensors(path, {"x": array, "pad": np.zeros(1, np.uint8)})
    got = read_tensors(path)[0]["x"]
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_files_match_the_safetensors_package_both_ways(tmp_path, rng):
    from safetensors.numpy import load_file, save_file

    tensors = {str(d): (rng.standard_normal((2, 3)) * 10).astype(d) for d in DTYPES}
    tensors["scalar"] = np.array(1.5)
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    write_tensors(ours, tensors, {"k": "v"})
    save_file(tensors, theirs, metadata={"k": "v"})
    for loaded in (load_file(ours), read_tensors(theirs)[0]):
        assert loaded.keys() == tensors.keys()
        for key, array in tensors.items():
            assert loaded[key].dtype == array.dtype and loaded[key].shape == array.shape, key
            np.testing.assert_array_equal(loaded[key], array)
    assert read_tensors(theirs)[1] == {"k": "v"}


NAMES = ["b", "a", "aa", "B", "é", 'z\n\x01"\\/\x7f', "\u2028", "10", "9"]


@pytest.mark.parametrize("metadata", [None, {"k": "v"}, {"é\n": '\x1f"'}], ids=str)
def test_written_files_are_the_safetensors_librarys_bytes(tmp_path, rng, metadata):
    from safetensors.numpy import save

    tensors = {np.dtype(d).name: (rng.standard_normal((2, 3)) * 10).astype(d) for d in DTYPES}
    # Ties within a dtype are ordered by name; names the JSON must escape; 0-d and empty.
    for i, name in enumerate(NAMES):
        tensors[name] = rng.standard_normal((i % 3,) * (i % 4)).astype(DTYPES[i % 4 * 3])
    path = tmp_path / "x.st"
    write_tensors(path, tensors, metadata, checksum=False)
    assert path.read_bytes() == save(tensors, metadata)
    write_tensors(path, tensors, metadata)  # the same file, the data's SHA-256 in its header
    plain = save(tensors)
    data = plain[8 + int.from_bytes(plain[:8], "little") :]
    ours = path.read_bytes()
    theirs = save(tensors, {**(metadata or {}), "theta.sha256": hashlib.sha256(data).hexdigest()})
    if metadata is None:
        assert ours == theirs
    else:  # two metadata keys, which the library writes in an arbitrary order
        n = int.from_bytes(theirs[:8], "little")
        assert ours[:8] == theirs[:8] and ours[8 + n :] == theirs[8 + n :]
        assert json.loads(ours[8 : 8 + n]) == json.loads(theirs[8 : 8 + n])


def test_write_makes_no_copy_of_the_whole_file(tmp_path):
    import tracemalloc

    weights = {"w": np.ones(2_000_000), "b": np.ones(1_000_000, np.float32)}  # 20 MB
    tracemalloc.start()
    try:
        write_tensors(tmp_path / "x.st", weights)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the data goes from the arrays to the file, not via bytes
    np.testing.assert_array_equal(read_tensors(tmp_path / "x.st")[0]["b"], weights["b"])


def test_the_library_and_pytorch_read_written_files_to_the_same_tensors(tmp_path, rng):
    from safetensors import safe_open
    from safetensors.numpy import load

    torch_file = pytest.importorskip("safetensors.torch")
    tensors = {str(d): (rng.standard_normal((3, 2)) * 10).astype(d) for d in DTYPES}
    tensors |= {"scalar": np.array(2.5), "empty": np.zeros((0, 4), np.int32)}
    metadata = {"z": "1", "a": "2", "é": "\n"}  # several keys: the library's order is random
    path = tmp_path / "x.st"
    write_tensors(path, tensors, metadata)
    with safe_open(path, framework="np") as opened:
        stored = opened.metadata()
        lazy = {key: opened.get_tensor(key) for key in opened.keys()}
    from_torch = {k: v.numpy() for k, v in torch_file.load_file(path).items()}
    ours = read_tensors(path)
    assert len(stored.pop("theta.sha256")) == 64 and stored == metadata == ours[1]
    for loaded in (load(path.read_bytes()), lazy, from_torch, ours[0]):
        assert loaded.keys() == tensors.keys()
        for key, array in tensors.items():
            assert loaded[key].dtype == array.dtype and loaded[key].shape == array.shape, key
            np.testing.assert_array_equal(loaded[key], array)


def test_bfloat16_from_pytorch_is_widened_exactly_to_float32(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    weights = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    save_file({"w": weights, "e": torch.zeros(0, dtype=torch.bfloat16)}, tmp_path / "bf.st")
    tensors, _ = read_tensors(tmp_path / "bf.st")
    assert tensors["w"].dtype == np.float32 and tensors["e"].shape == (0,)
    np.testing.assert_array_equal(tensors["w"], weights.float().numpy())


def test_writes_non_contiguous_big_endian_and_scalar_inputs(tmp_path):
    array = np.arange(12.0).reshape(3, 4)
    tensors = {"t": array.T, "be": array.astype(">f4"), "s": np.float32(2.5)}
    write_tensors(tmp_path / "x.st", tensors)
    got = read_tensors(tmp_path / "x.st")[0]
    np.testing.assert_array_equal(got["t"], array.T)
    np.testing.assert_array_equal(got["be"], array)
    assert got["be"].dtype == np.float32 and got["s"].shape == () and got["s"] == 2.5


def test_returned_arrays_are_writable_private_and_aligned(tmp_path):
    path = tmp_path / "x.st"
    write_tensors(path, {"a": np.zeros(3), "b": np.ones(2, np.float16), "c": np.ones(1, np.int8)})
    tensors, _ = read_tensors(path)
    for array in tensors.values():
        assert type(array) is np.ndarray and array.flags.writeable and array.flags.aligned
    tensors["a"][:] = 7.0
    np.testing.assert_array_equal(tensors["b"], [1.0, 1.0])
    np.testing.assert_array_equal(read_tensors(path)[0]["a"], [0.0, 0.0, 0.0])
    path.write_bytes(GOOD)  # changing the file later does not change what was read
    np.testing.assert_array_equal(tensors["a"], [7.0, 7.0, 7.0])


@pytest.mark.parametrize(
    "tensors, metadata, match",
    [
        ({"x": np.array([object()])}, None, "dtype object"),
        ({"x": np.zeros(2, np.complex128)}, None, "dtype complex128"),
        ({"x": np.array(["a"])}, None, "dtype <U1"),
        ({"x": [1.0, 2.0]}, None, "pass a NumPy array"),
        ({1: np.zeros(1)}, None, "names must be strings"),
        ({"__metadata__": np.zeros(1)}, None, "other than '__metadata__'"),
        ({"x": np.zeros(1)}, {"k": 1}, "metadata must map strings to strings"),
        ({"\ud800": np.zeros(1)}, None, "not valid Unicode"),
        ([np.zeros(1)], None, "must be a dict"),
    ],
)
def test_write_refuses_what_safetensors_cannot_store(tmp_path, tensors, metadata, match):
    with pytest.raises(TypeError, match=match):
        write_tensors(tmp_path / "x.st", tensors, metadata)
    assert list(tmp_path.iterdir()) == []


# --- paths ---------------------------------------------------------------------------------------


def test_missing_file_directory_and_special_files_name_the_path(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        read_tensors(missing)
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        read_tensors(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_tensors(fifo)  # must not block waiting for a writer


def test_unreadable_file_is_a_permission_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "secret.safetensors"
    path.write_bytes(GOOD)

    real_open = os.open

    def deny(name, flags, *args, **kwargs):
        if str(name).endswith("secret.safetensors"):
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    for read in (read_tensors, refuse_pickle):
        with pytest.raises(PermissionError, match="secret.safetensors"):
            read(path)


def test_refuse_pickle_leaves_safetensors_alone(tmp_path):
    path = tmp_path / "ok.st"
    # A valid file whose header length is 128 starts with the pickle protocol byte 0x80.
    header = json.dumps({"a": entry()}).encode()
    path.write_bytes(build(header + b" " * (128 - len(header)), F32x2))
    assert path.read_bytes()[0] == 0x80
    np.testing.assert_array_equal(read_tensors(path)[0]["a"], [1.0, 2.0])
    with pytest.raises(CheckpointError, match="pickle"):
        refuse_pickle(tmp_path / "p", prefix=pickle.dumps([]))


# --- atomic writes -------------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("where", ["os.replace", "os.fsync"])
def test_a_crash_mid_write_keeps_the_previous_file(tmp_path, monkeypatch, where):
    path = tmp_path / "ckpt.safetensors"
    write_tensors(path, {"w": np.zeros(3)})
    module, name = where.split(".")

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, name, disk_full)
    with pytest.raises(OSError, match="No space left on device") as info:
        write_tensors(path, {"w": np.ones(3)})
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    np.testing.assert_array_equal(read_tensors(path)[0]["w"], np.zeros(3))
    assert _leftovers(tmp_path) == []


def test_an_interrupt_mid_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    write_tensors(path, {"w": np.zeros(3)})

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)  # written, not yet renamed into place
    with pytest.raises(KeyboardInterrupt):
        write_tensors(path, {"w": np.ones(3)})
    monkeypatch.undo()
    np.testing.assert_array_equal(read_tensors(path)[0]["w"], np.zeros(3))
    assert _leftovers(tmp_path) == []


def test_read_only_folder_is_an_os_error_naming_the_target(tmp_path, monkeypatch):
    path = tmp_path / "out.safetensors"
    real_open = os.open

    def read_only(name, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(PermissionError, match="out.safetensors") as info:
        write_tensors(path, {"w": np.ones(3)})
    assert info.value.filename == str(path)
    with pytest.raises(PermissionError, match="config.json"):
        atomic_write_text(tmp_path / "config.json", "{}")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    path = tmp_path / "x.st"
    write_tensors(path, {"w": np.zeros(1)}, overwrite=False)
    with pytest.raises(FileExistsError, match="x.st"):
        write_tensors(path, {"w": np.ones(1)}, overwrite=False)
    with pytest.raises(FileExistsError, match="x.st"):
        atomic_write_bytes(path, b"", overwrite=False)
    np.testing.assert_array_equal(read_tensors(path)[0]["w"], [0.0])
    assert _leftovers(tmp_path) == []


def test_overwrite_false_without_hard_links(tmp_path, monkeypatch):
    def no_links(*args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    atomic_write_bytes(tmp_path / "a", b"1", overwrite=False)
    assert (tmp_path / "a").read_bytes() == b"1"
    # Another writer creates the name between the early check and the final rename.
    answers = iter([False, True])
    monkeypatch.setattr(os.path, "lexists", lambda p: next(answers))
    with pytest.raises(FileExistsError):
        atomic_write_bytes(tmp_path / "a", b"2", overwrite=False)
    monkeypatch.undo()
    assert (tmp_path / "a").read_bytes() == b"1" and _leftovers(tmp_path) == []


WRITER = """
import sys, numpy as np
from theta.tensorfile import write_tensors
path, tag, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
i = 0
while n < 0 or i < n:
    write_tensors(path, {"tag": np.array(tag), "i": np.array(i),
                         "data": np.full(200_000, tag * 100_000 + i, np.int64)})
    i += 1
"""


def _check_complete(path) -> int:
    tensors, _ = read_tensors(path)
    expected = int(tensors["tag"]) * 100_000 + int(tensors["i"])
    assert (tensors["data"] == expected).all() and tensors["data"].shape == (200_000,)
    return int(tensors["tag"])


def test_two_processes_writing_one_path_never_interleave(tmp_path):
    path = tmp_path / "shared.safetensors"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(tag), "40"], env=ENV)
        for tag in (1, 2)
    ]
    tags = set()
    try:
        while any(w.poll() is None for w in writers):
            if path.exists():
                tags.add(_check_complete(path))
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
    assert [w.wait() for w in writers] == [0, 0]
    tags.add(_check_complete(path))
    assert tags <= {1, 2} and tags
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_sigkill_during_writes_leaves_a_complete_file(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    for tag, delay in ((3, 0.05), (4, 0.2), (5, 0.35)):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(tag), "-1"], env=ENV
        )
        try:
            deadline = time.monotonic() + 30
            while not (path.exists() and _check_complete(path) == tag):  # it has written once
                assert time.monotonic() < deadline, "the writer never wrote"
                time.sleep(0.01)
            time.sleep(delay)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        assert _check_complete(path) == tag  # leftover hidden .tmp files are never read


# --- atomic folders ------------------------------------------------------------------------------


def test_atomic_directory_creates_and_refuses_existing(tmp_path):
    target = tmp_path / "run"
    with atomic_directory(target) as staging:
        atomic_write_text(staging / "a.txt", "1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(FileExistsError, match="run"):
        with atomic_directory(target):
            raise AssertionError("not reached")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "two-renames"])
def test_atomic_directory_replaces_as_a_whole(tmp_path, monkeypatch, renameat2):
    if not renameat2:
        monkeypatch.setattr(tensorfile, "_rename", lambda *args: False)
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target, overwrite=True) as staging:
        assert not (staging / "old.txt").exists()
        atomic_write_text(staging / "new.txt", "new")
    assert sorted(os.listdir(target)) == ["new.txt"] and _leftovers(tmp_path) == []
    with atomic_directory(tmp_path / "fresh") as staging:
        atomic_write_text(staging / "x", "x")
    assert (tmp_path / "fresh" / "x").read_text() == "x"


def test_atomic_directory_failure_leaves_target_and_no_staging(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_directory(target, overwrite=True) as staging:
            atomic_write_text(staging / "half.txt", "half")
            raise RuntimeError("boom")
    assert os.listdir(target) == ["old.txt"] and _leftovers(tmp_path) == []


def test_atomic_directory_asks_before_replacing(tmp_path):
    target = tmp_path / "run"
    target.mkdir()

    def refuse(path):
        raise FileExistsError(errno.EEXIST, "not mine", path)

    with pytest.raises(FileExistsError, match="not mine"):
        with atomic_directory(target, overwrite=True, may_replace=refuse):
            pass
    assert _leftovers(tmp_path) == []
