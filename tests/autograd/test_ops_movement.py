"""Movement ops of issue 15: tril/triu, flip, roll, tile, repeat, unfold, meshgrid, pad modes.

One op table (``optable``) checks each against NumPy, central differences and PyTorch; plain
tests cover the errors and the NumPy/PyTorch naming clash of ``repeat``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import theta
from theta import Tensor

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the PyTorch cross-checks skip themselves
    torch = F = None

from optable import SAME, Op, normal, table_tests

REPEATS = np.array([2, 0, 1])


def f_pad(widths: tuple, mode: str) -> tuple:
    """NumPy-form ``widths`` as ``F.pad``'s flat tuple: pairs from the last axis backwards."""
    return tuple(w for pair in reversed(widths) for w in pair)


def np_pad(widths: tuple, mode: str):
    """NumPy reference for ``theta.pad`` with negative widths: crop first, then ``np.pad``."""
    numpy_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)  # or NumPy's own

    def ref(x: np.ndarray) -> np.ndarray:
        pairs = zip(widths, x.shape, strict=True)
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in pairs)
        return np.pad(x[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in widths], mode=numpy_mode)

    return ref


def pad_row(name: str, widths: tuple, mode: str, shape: tuple) -> Op:
    """A pad row checked against np.pad and F.pad (which wants batch and channel axes)."""
    lead = (1,) * (2 - len(shape) + len(widths)) if mode != "constant" else ()
    torch_mode = {"edge": "replicate", "wrap": "circular"}.get(mode, mode)

    def torch_ref(x):
        out = F.pad(x.reshape(lead + x.shape), f_pad(widths, mode), mode=torch_mode)
        return out.reshape(out.shape[len(lead) :])

    return Op(name, lambda x: theta.pad(x, widths, mode=mode), np_pad(widths, mode), torch_ref,
              normal(shape))  # fmt: skip


def np_unfold(axis: int, size: int, step: int):
    """Windows of ``size`` every ``step`` along ``axis``, stacked on a new last axis."""

    def ref(x: np.ndarray) -> np.ndarray:
        starts = range(0, x.shape[axis] - size + 1, step)
        return np.stack([np.take(x, range(s, s + size), axis=axis) for s in starts], axis=axis)

    return lambda x: np.moveaxis(ref(x), axis + 1, -1)


def meshgrid_sum(indexing: str):
    """Mix meshgrid's outputs (broadcast views) into one tensor so every input matters."""

    def fn(*xs):
        grids = theta.meshgrid(*xs, indexing=indexing)
        return grids[0] * 2.0 + grids[1] * grids[-1]

    return fn


def np_meshgrid_sum(indexing: str):
    def ref(*xs):
        grids = np.meshgrid(*xs, indexing=indexing)
        return grids[0] * 2.0 + grids[1] * grids[-1]

    return ref


def torch_meshgrid_sum(indexing: str):
    def ref(*xs):
        grids = torch.meshgrid(*xs, indexing=indexing)
        return grids[0] * 2.0 + grids[1] * grids[-1]

    return ref


ROWS: list[Op] = [
    # --- triangles (batched over leading axes) ---
    Op("tril",          theta.tril, np.tril, lambda x: torch.tril(x), normal((3, 4))),
    Op("tril_k1_batch", lambda x: x.tril(1), lambda x: np.tril(x, 1),
                        lambda x: torch.tril(x, 1), normal((2, 3, 4))),  # fmt: skip
    Op("triu_kneg",     lambda x: theta.triu(x, -1), lambda x: np.triu(x, -1),
                        lambda x: torch.triu(x, -1), normal((4, 3))),  # fmt: skip
    Op("triu_size0",    lambda x: x.triu(), np.triu, lambda x: torch.triu(x), normal((2, 0, 3))),
    # --- flip and roll ---
    Op("flip_all",      theta.flip, np.flip, lambda x: torch.flip(x, (0, 1)), normal((2, 3))),
    Op("flip_axes",     lambda x: x.flip((0, -1)), lambda x: np.flip(x, (0, -1)),
                        lambda x: torch.flip(x, (0, -1)), normal((2, 3, 4))),  # fmt: skip
    Op("flip_0d",       theta.flip, np.flip, lambda x: x * 1.0, normal(())),
    Op("roll_flat",     lambda x: theta.roll(x, 4), lambda x: np.roll(x, 4),
                        lambda x: torch.roll(x, 4), normal((2, 3))),  # fmt: skip
    Op("roll_axes",     lambda x: x.roll((1, -2), (0, 2)), lambda x: np.roll(x, (1, -2), (0, 2)),
                        lambda x: torch.roll(x, (1, -2), (0, 2)), normal((2, 3, 4))),  # fmt: skip
    Op("roll_size1",    lambda x: theta.roll(x, -1, 1), lambda x: np.roll(x, -1, 1),
                        lambda x: torch.roll(x, -1, 1), normal((3, 1))),  # fmt: skip
    # --- tile (PyTorch's Tensor.repeat) and repeat (PyTorch's repeat_interleave) ---
    Op("tile",          lambda x: theta.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)),
                        lambda x: x.repeat(2, 1, 3), normal((3, 2))),  # fmt: skip
    Op("tile_int",      lambda x: theta.tile(x, 2), lambda x: np.tile(x, 2),
                        lambda x: x.repeat(1, 2), normal((2, 3))),  # fmt: skip
    Op("tile_0d",       lambda x: x.tile((3,)), lambda x: np.tile(x, 3),
                        lambda x: x.repeat(3), normal(())),  # fmt: skip
    Op("tensor_repeat", lambda x: x.repeat(2, 1, 2), lambda x: np.tile(x, (2, 1, 2)),
                        SAME, normal((1, 3))),  # fmt: skip
    Op("repeat_int",    lambda x: theta.repeat(x, 2, axis=1), lambda x: np.repeat(x, 2, 1),
                        lambda x: torch.repeat_interleave(x, 2, 1), normal((2, 3))),  # fmt: skip
    Op("repeat_flat",   lambda x: theta.repeat(x, 3), lambda x: np.repeat(x, 3),
                        lambda x: torch.repeat_interleave(x, 3), normal((2, 2))),  # fmt: skip
    Op("repeat_counts", lambda x: x.repeat_interleave(REPEATS, axis=0),
                        lambda x: np.repeat(x, REPEATS, 0),
                        lambda x: torch.repeat_interleave(x, torch.tensor(REPEATS), 0),
                        normal((3, 2))),  # fmt: skip
    Op("repeat_zero",   lambda x: theta.repeat(x, 0, axis=0), lambda x: np.repeat(x, 0, 0),
                        lambda x: torch.repeat_interleave(x, 0, 0), normal((3, 2))),  # fmt: skip
    # --- unfold: overlapping windows accumulate, gaps get no gradient ---
    Op("unfold_overlap", lambda x: x.unfold(1, 3, 1), np_unfold(1, 3, 1),
                         lambda x: x.unfold(1, 3, 1), normal((2, 6))),  # fmt: skip
    Op("unfold_gaps",    lambda x: theta.unfold(x, 0, 2, 3), np_unfold(0, 2, 3),
                         lambda x: x.unfold(0, 2, 3), normal((8, 2))),  # fmt: skip
    Op("unfold_whole",   lambda x: x.unfold(-1, 4, 2), np_unfold(1, 4, 2),
                         lambda x: x.unfold(-1, 4, 2), normal((1, 4))),  # fmt: skip
    # --- meshgrid ---
    Op("meshgrid_xy",   meshgrid_sum("xy"), np_meshgrid_sum("xy"), torch_meshgrid_sum("xy"),
                        normal((2,), (3,), (4,))),  # fmt: skip
    Op("meshgrid_ij",   meshgrid_sum("ij"), np_meshgrid_sum("ij"), torch_meshgrid_sum("ij"),
                        normal((2,), (1,))),  # fmt: skip
    # --- pad: every mode, negative widths crop ---
    Op("pad_value",     lambda x: theta.pad(x, ((1, 0), (2, 1)), value=0.5),
                        lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
                        lambda x: F.pad(x, (2, 1, 1, 0), value=0.5), normal((2, 3))),  # fmt: skip
    pad_row("pad_crop",        ((-1, 2), (1, -2)), "constant", (3, 4)),
    pad_row("pad_reflect",     ((0, 0), (2, 1), (1, 3)), "reflect", (2, 4, 5)),
    pad_row("pad_reflect_neg", ((0, 0), (2, -1)), "reflect", (2, 5)),
    pad_row("pad_replicate",   ((0, 0), (3, 1), (0, 2)), "replicate", (1, 2, 3)),
    pad_row("pad_replicate_1", ((0, 0), (2, 2)), "replicate", (2, 1)),
    pad_row("pad_circular",    ((0, 0), (1, 2), (2, 0)), "circular", (2, 3, 4)),
    pad_row("pad_circular_neg", ((0, 0), (-1, 2)), "circular", (2, 5)),
    pad_row("pad_edge_numpy",  ((2, 2), (2, 2)), "edge", (2, 3)),
    pad_row("pad_wrap_numpy",  ((1, 2),), "wrap", (3,)),
    pad_row("pad_size0",       ((1, 1), (0, 2)), "constant", (0, 3)),
]

test_forward_matches_numpy, test_gradients_match_finite_differences, test_matches_torch, \
    test_float32_stays_float32 = table_tests(ROWS)  # fmt: skip


def test_tensor_repeat_tiles_like_torch_and_theta_repeat_repeats_like_numpy() -> None:
    x = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(Tensor(x).repeat(2, 1).data, np.tile(x, (2, 1)))
    np.testing.assert_array_equal(Tensor(x).repeat((2, 1)).data, np.tile(x, (2, 1)))
    np.testing.assert_array_equal(theta.repeat(Tensor(x), 2, axis=1).data, np.repeat(x, 2, 1))
    assert theta.repeat_interleave is theta.repeat


def test_meshgrid_returns_numpys_grids() -> None:
    xs = [np.arange(2.0), np.arange(3.0), np.arange(4.0)]
    for indexing in ("xy", "ij"):
        ours = theta.meshgrid(*xs, indexing=indexing)
        for got, want in zip(ours, np.meshgrid(*xs, indexing=indexing), strict=True):
            np.testing.assert_array_equal(got.data, want, strict=True)


def test_unfold_is_a_view_that_shares_the_version() -> None:
    x = Tensor(np.arange(6.0))
    windows = x.unfold(0, 2, 2)
    x += 1.0
    assert windows._version == x._version
    np.testing.assert_array_equal(windows.data, np.arange(1.0, 7.0).reshape(3, 2))


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda x: theta.tril(x[0]), ValueError, "tril: need at least 2 axes"),
        (lambda x: theta.flip(x, 2), ValueError, "flip: axis 2 is out of bounds"),
        (lambda x: theta.roll(x, (1, 2), 0), ValueError, "roll: 2 shifts for 1 axes"),
        (lambda x: theta.roll(x, (1, 2)), ValueError, "roll: a tuple shift"),
        (lambda x: theta.tile(x, (-1,)), ValueError, "tile: reps must be non-negative"),
        (lambda x: theta.repeat(x, [1, 2, 3], axis=0), ValueError, "repeat: 3 repeats for axis 0"),
        (lambda x: theta.repeat(x, -1), ValueError, "repeat: repeats must be non-negative"),
        (lambda x: x.repeat(2), ValueError, "repeat: 1 repeat counts for a tensor of shape"),
        (lambda x: x.unfold(1, 4, 1), ValueError, "unfold: need 0 <= size <= 3"),
        (lambda x: x.unfold(1, 2, 0), ValueError, "step >= 1"),
        (lambda x: theta.meshgrid(x, indexing="xyz"), ValueError, "meshgrid: indexing must"),
        (lambda x: theta.pad(x, 1, mode="symmetric"), ValueError, "pad: mode must be one of"),
        (lambda x: theta.pad(x, 1, mode="reflect", value=1.0), ValueError, "only used by mode"),
        (lambda x: theta.pad(x, ((1, 2, 3),)), ValueError, "pad: pad_width"),
        (lambda x: theta.pad(x, ((-2, -1), (0, 0))), ValueError, "crops more than the shape"),
        (lambda x: theta.pad(x[:, :0], (1, 1), mode="reflect"), ValueError, "empty axis"),
        (lambda x: x[2, 0], IndexError, "getitem: index (2, 0) is invalid for shape (2, 3)"),
        (lambda x: x[:, np.array([0, 3])], IndexError, "index 3 is out of bounds"),
    ],
)
def test_errors_name_the_op_and_the_rule(call, exc, fragment) -> None:
    with pytest.raises(exc, match=re.escape(fragment)):
        call(Tensor(np.zeros((2, 3))))
