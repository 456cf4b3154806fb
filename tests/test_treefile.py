"""theta.treefile: nested state as one safetensors file (arrays) plus JSON (the rest).

Oracle: the tree that was saved, compared exactly (types, dtypes, memory order, values, which
arrays are one object); files and nodes that break the format are refused by file and place.
"""

import json
import math
import os

import numpy as np
import pytest

from theta import tensorfile
from theta.errors import CheckpointError
from theta.treefile import MAX_DEPTH, TreeWriter, decode, load_tree, save_tree


def _same(a, b, where="tree"):
    """``a`` and ``b`` equal in type and value all the way down (NaN equal to NaN)."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, np.ma.MaskedArray):
        assert (a.mask is np.ma.nomask) == (b.mask is np.ma.nomask), where
        _same(np.ma.getmaskarray(a), np.ma.getmaskarray(b), f"{where}.mask")
        _same(a.data, b.data, f"{where}.data")
        _same(a.fill_value, b.fill_value, f"{where}.fill_value")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.flags.f_contiguous == b.flags.f_contiguous, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    elif isinstance(a, np.random.Generator):
        _same(a.bit_generator.state, b.bit_generator.state, where)
    elif isinstance(a, np.random.BitGenerator):
        _same(a.state, b.state, where)
    else:
        assert a == b, (where, a, b)


def _every_kind():
    weights = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    return {
        "plain": [None, True, False, 0, -3, 2**100, 1.5, "text", ""],
        "floats": [math.nan, math.inf, -math.inf, -0.0],
        "containers": ((1, (2,)), {3, 4}, frozenset({"x"}), [], ()),
        "keys": {0: "int", (1, 2): "tuple", None: "none", 2.5: "float"},
        "arrays": {
            "f64": weights,
            "same": weights,  # held twice: saved once, loaded as one array
            "f32": np.float32([1.5, -2.0]),
            "f16": np.ones(3, np.float16),
            "i8": np.array([-1, 2], np.int8),
            "u64": np.array([2**64 - 1], np.uint64),
            "bool": np.array([[True], [False]]),
            "c128": np.array([1 + 2j, -0.5j]),
            "c64": np.array([3j], np.complex64),
            "zero_d": np.array(2.5),
            "empty": np.zeros((0, 4)),
            "str": np.array(["ant", "bee"]),
            "bytes": np.array([b"\x00a", b"\xff"]),
            "object": np.array(["x", 1, None, (2.5,)], dtype=object),
        },
        "masked": [np.ma.MaskedArray([1.0, np.nan, 3.0], mask=[False, True, False]),
                   np.ma.MaskedArray(np.array([None, "x", 3], dtype=object), mask=[1, 0, 0]),
                   np.ma.MaskedArray(np.arange(3, dtype=np.int16)),  # nomask stays nomask
                   np.ma.MaskedArray(np.zeros((2, 2), np.float32), mask=True, fill_value=7)],
        "scalars": [np.float32(0.25), np.int64(-7), np.uint8(200), np.bool_(True),
                    np.float64(math.nan), np.str_("bee"), np.bytes_(b"\xfe")],
        "generators": [np.random.default_rng(1), np.random.Generator(np.random.MT19937(2)),
                       np.random.Philox(3), np.random.SFC64(4)],
    }  # fmt: skip


def test_every_allowed_kind_round_trips_exactly(tmp_path):
    tree = _every_kind()
    save_tree(tmp_path / "t.safetensors", tree, metadata={"format": "test"})
    again, metadata = load_tree(tmp_path / "t.safetensors")
    _same(again, tree)
    assert metadata == {"format": "test"}
    assert again["arrays"]["same"] is again["arrays"]["f64"]
    generator, mt = again["generators"][:2]
    assert generator.random() == tree["generators"][0].random()  # the stream continues
    assert mt.integers(1000) == tree["generators"][1].integers(1000)


def test_tensors_are_named_by_their_place_in_the_tree(tmp_path):
    tree = {"model": {"0.weight": np.ones(2)}, "model.0": {"weight": np.zeros(2)},
            "optimizer": {"state": {0: {"m": np.ones(1)}}}, "steps": [np.ones(3)]}  # fmt: skip
    save_tree(tmp_path / "t.safetensors", tree)
    tensors, metadata = tensorfile.read_tensors(tmp_path / "t.safetensors")
    assert list(tensors) == ["model.0.weight", "model.0.weight#2", "optimizer.state.0.m",
                             "steps.0"]  # fmt: skip
    assert list(metadata) == ["tree"]


class _Lock:
    pass


@pytest.mark.parametrize(
    "value, match",
    [
        ({"a": [1, {"k": _Lock()}]}, r"tree\.a\.1\.k is a .*test_treefile\._Lock"),
        ({"f": len}, r"tree\.f is a builtins\.builtin_function_or_method"),
        ({"t": np.float64}, r"tree\.t is a builtins\.type"),
        ({"d": np.dtype("f4")}, r"tree\.d is a numpy\.dtypes\.Float32DType"),
        ({"x": {_Lock(): 1}}, r"tree\.x\.0\.key is a .*test_treefile\._Lock"),
        ({"m": np.ma.masked}, r"tree\.m is a numpy\.ma\.core\.MaskedConstant"),
        ({"dt": np.zeros(2, "datetime64[ns]")}, r"tree\.dt is an array of dtype datetime64"),
        ({"o": np.array([_Lock()], dtype=object)}, r"tree\.o\.0 is a .*test_treefile\._Lock"),
    ],
    ids=["nested", "builtin", "type", "dtype", "key", "masked", "datetime", "object-array"],
)
def test_values_outside_the_allow_list_are_refused_by_place_and_type(tmp_path, value, match):
    with pytest.raises(TypeError, match=match):
        save_tree(tmp_path / "t.safetensors", value)
    assert os.listdir(tmp_path) == []


def test_a_cycle_is_refused(tmp_path):
    looped = [1]
    looped.append({"back": looped})
    with pytest.raises(TypeError, match=r"save_tree: tree\.1\.back contains itself"):
        save_tree(tmp_path / "t.safetensors", looped)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class _PointHook:
    """A caller's hook: Points as {"type": "point", "xy": [x, y]}."""

    kinds = frozenset({"point"})
    saves = "Points"

    def encode(self, writer, value, path):
        if type(value) is not Point:
            return None
        return {"type": "point", "xy": writer.encode([value.x, value.y], path)}

    def decode(self, reader, node, where):
        (xy,) = reader.fields(node, where, xy=list)
        return Point(*reader.decode(xy, f"{where}.xy"))


def test_a_hook_adds_a_kind_that_only_it_decodes(tmp_path):
    path = tmp_path / "t.safetensors"
    with pytest.raises(TypeError, match=r"tree\.p is a .*test_treefile\.Point.*never pickles"):
        save_tree(path, {"p": Point(1, 2)})
    save_tree(path, {"p": Point(np.float32(1), np.arange(2))}, hook=_PointHook())
    again, _ = load_tree(path, hook=_PointHook())
    assert type(again["p"]) is Point and again["p"].x == np.float32(1)
    assert again["p"].y.tolist() == [0, 1]
    with pytest.raises(CheckpointError, match=r"at tree\.p: unknown value .*point"):
        load_tree(path)  # without the hook the kind means nothing: no name is ever looked up


def _deep(depth):
    node = 0
    for _ in range(depth):
        node = [node]
    return node


@pytest.mark.parametrize(
    "node, match",
    [
        ({"a": 1}, r"at tree: unknown value"),
        ({"type": "function", "name": "os.system"}, r"at tree: unknown value"),
        ({"type": "tuple", "items": [], "x": 1}, r"unexpected keys \['x'\] in a 'tuple' value"),
        ({"type": "tuple", "items": "ab"}, r"'items' must be a list"),
        ({"type": "ndarray", "key": "missing"}, r"t.safetensors has no tensor 'missing'"),
        ({"type": "float", "value": "1.0"}, r"'nan', 'inf' or '-inf', not '1.0'"),
        ({"type": "dict", "items": {}, "pairs": []}, r"either 'items' or 'pairs'"),
        ({"type": "dict", "pairs": [[[1], 2]]}, r"unhashable"),
        ({"type": "set", "items": [[1]]}, r"unhashable"),
        ({"type": "scalar", "key": "w"}, r"a scalar's tensor must be 0-d"),
        ({"type": "ndarray", "key": "w", "order": "K"}, r"'order' is 'F' or absent"),
        ({"type": "ndarray", "key": "w", "complex": True}, r"stored as \(\.\.\., 2\) float64"),
        ({"type": "ndarray", "dtype": "<U9999999", "shape": [1], "items": ["a"]}, "far wider"),
        ({"type": "ndarray", "dtype": "<f8", "shape": [1], "items": ["a"]}, "not a str, bytes"),
        ({"type": "ndarray", "dtype": "<U1", "shape": [2], "items": ["a"]}, r"needs 2 items"),
        ({"type": "ndarray", "dtype": "<U1", "shape": [-1], "items": []}, r"sizes >= 0"),
        ({"type": "generator", "state": {"type": "dict", "items": {"bit_generator": "os"}}},
         r"unknown bit generator 'os'"),
        ({"type": "bit_generator",
          "state": {"type": "dict", "items": {"bit_generator": "PCG64", "state": 5}}},
         r"invalid PCG64 state"),
        ({"type": "masked_array", "data": {"type": "ndarray", "key": "w"}, "mask": None},
         r"'fill_value' must be present"),
        ({"type": "masked_array", "data": {"type": "tuple", "items": []}, "mask": None,
          "fill_value": 0}, r"a masked array's data is an array, not tuple"),
        ({"type": "masked_array", "data": {"type": "ndarray", "key": "w"},
          "mask": {"type": "ndarray", "key": "w"}, "fill_value": 0},
         r"mask is a bool array of its data's shape \(3,\), or null, not \(3,\) float64"),
        ({"type": "masked_array", "data": {"type": "ndarray", "key": "w"}, "mask": [True],
          "fill_value": 0}, r"mask is a bool array .* not \[true\]"),
        ({"type": "masked_array", "data": {"type": "ndarray", "key": "w"}, "mask": None,
          "fill_value": "x"}, r"fill value 'x' does not fit dtype float64"),
        (_deep(MAX_DEPTH + 1), r"nested too deeply \(it nests deeper than 32 levels\)"),
    ],
)  # fmt: skip
def test_malformed_trees_are_refused_naming_the_file_and_place(tmp_path, node, match):
    path = tmp_path / "t.safetensors"
    tensorfile.write_tensors(path, {"w": np.ones(3)}, {"tree": json.dumps(node)})
    with pytest.raises(CheckpointError, match=match) as info:
        load_tree(path)
    assert str(info.value).startswith(str(path))


def test_the_deepest_allowed_tree_loads(tmp_path):
    save_tree(tmp_path / "t.safetensors", _deep(MAX_DEPTH))
    assert load_tree(tmp_path / "t.safetensors")[0] == _deep(MAX_DEPTH)


@pytest.mark.parametrize(
    "tensors, metadata, match",
    [
        ({"w": np.ones(1), "extra": np.ones(1)},
         {"tree": '{"type": "ndarray", "key": "w"}'},
         r"t.safetensors holds tensors that the tree 'tree' does not use: extra\."),
        ({}, {"format": "x"}, r"the metadata entry 'tree' that holds the tree is missing"),
        ({}, {"tree": '{"type": "dict", "type": "tuple"}'},
         r"'tree' entry is not valid UTF-8 JSON: the key 'type' appears twice"),
        ({}, {"tree": "NaN"}, r"not valid UTF-8 JSON: NaN is not a JSON value"),
        ({}, {"tree": "[" * 100_000 + "]" * 100_000}, r"not valid UTF-8 JSON: it nests too deeply"),
        ({}, {"tree": "{tree"}, r"not valid UTF-8 JSON: Expecting property name"),
    ],
    ids=["unused-tensor", "no-tree", "duplicate-key", "nan-literal", "deep-json", "not-json"],
)  # fmt: skip
def test_damaged_files_are_refused_naming_the_file(tmp_path, tensors, metadata, match):
    path = tmp_path / "t.safetensors"
    tensorfile.write_tensors(path, tensors, metadata)
    with pytest.raises(CheckpointError, match=match) as info:
        load_tree(path)
    assert str(info.value).startswith(str(path))


def test_decode_checks_nodes_handed_over_in_memory():
    writer = TreeWriter("state", caller="checkpoint")
    node = writer.encode({"w": np.zeros(2), "b": np.zeros(2)})
    tree = decode(node, writer.tensors, source="memory", root="state")
    assert tree["w"] is not tree["b"] and list(writer.tensors) == ["w", "b"]
    with pytest.raises(CheckpointError, match=r"^memory: at state\.w: memory has no tensor 'w'"):
        decode(node, {}, source="memory", root="state")
