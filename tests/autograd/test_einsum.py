"""``einsum`` (and matmul's zero-size edge): an op table of named subscripts, Hypothesis on
random subscripts and shapes against ``np.einsum`` and ``torch.einsum``, and the errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theta
from theta import Tensor

try:
    import torch
except ImportError:  # the PyTorch cross-checks skip themselves
    torch = None

from optable import Op, _compare_with_torch, normal, table_tests


def row(name: str, subscripts: str, *shapes: tuple[int, ...]) -> Op:
    """An einsum row: theta against np.einsum and torch.einsum on the same subscripts."""
    return Op(name, lambda *xs: theta.einsum(subscripts, *xs),
              lambda *xs: np.einsum(subscripts, *xs),
              lambda *xs: torch.einsum(subscripts, *xs), normal(*shapes))  # fmt: skip


ROWS: list[Op] = [
    row("matmul",           "ij,jk->ik",      (2, 3), (3, 4)),
    row("matmul_implicit",  "ij,jk",          (2, 3), (3, 4)),
    row("transpose",        "ji",             (2, 3)),
    row("outer",            "i,j->ij",        (3,), (2,)),
    row("inner",            "i,i",            (3,), (3,)),
    row("batched",          "bij,bjk->bik",   (2, 2, 3), (2, 3, 2)),
    row("sum_out",          "ij->",           (2, 3)),
    row("sum_one_operand",  "ij,j->j",        (2, 3), (3,)),  # i only in the first operand
    row("diagonal",         "ii->i",          (3, 3)),
    row("trace",            "ii",             (3, 3)),
    row("trace_batched",    "bii->b",         (2, 3, 3)),
    row("diag_3",           "iii->i",         (2, 2, 2)),
    row("diag_times",       "iij,jk->ik",     (3, 3, 2), (2, 4)),
    row("ellipsis",         "...ij,...jk->...ik", (2, 1, 2, 3), (4, 3, 2)),
    row("ellipsis_implicit", "...i,...i",     (2, 3), (3,)),
    row("ellipsis_right",   "i...->...i",     (3, 2, 2)),
    row("bcast_label",      "ij,ij->ij",      (2, 1), (2, 3)),
    row("three",            "ij,jk,kl->il",   (2, 3), (3, 2), (2, 2)),
    row("three_summed",     "i,ij,j",         (2,), (2, 3), (3,)),
    row("scalar",           ",i->i",          (), (3,)),
    row("scalar_only",      "->",             ()),
    row("size0",            "ij,jk->ik",      (2, 0), (0, 3)),
    row("size0_out",        "ij,jk->ik",      (0, 3), (3, 2)),
    row("upper_case",       "Ab,bC->AC",      (2, 3), (3, 2)),
    row("spaces",           "i j , j k -> i k", (2, 3), (3, 1)),
    Op("same_tensor_twice", lambda x: theta.einsum("ij,ij->", x, x),
                            lambda x: np.einsum("ij,ij->", x, x),
                            lambda x: torch.einsum("ij,ij->", x, x), normal((2, 3))),
    Op("python_scalar",     lambda x: theta.einsum("i,->i", x, 2.0),
                            lambda x: np.einsum("i,->i", x, 2.0),
                            lambda x: torch.einsum("i,->i", x, torch.tensor(2.0, dtype=x.dtype)),
                            normal((3,))),
]  # fmt: skip

test_forward_matches_numpy, test_gradients_match_finite_differences, test_matches_torch, \
    test_float32_stays_float32 = table_tests(ROWS)  # fmt: skip


@st.composite
def einsum_cases(draw: st.DrawFn) -> tuple[str, list[tuple[int, ...]]]:
    """Random subscripts over ``abcd`` (repeats within an operand make diagonals), with
    optional ``...`` whose axes broadcast, implicit or explicit output, and fitting shapes."""
    sizes = {c: draw(st.integers(1, 3)) for c in "abcd"}
    ellipsis_shape = draw(st.lists(st.integers(2, 3), max_size=2))
    terms, shapes = [], []
    for _ in range(draw(st.integers(1, 3))):
        term = "".join(draw(st.lists(st.sampled_from("abcd"), max_size=3)))
        shape = [sizes[c] for c in term]
        if ellipsis_shape and draw(st.booleans()):
            n = draw(st.integers(0, len(ellipsis_shape)))
            kept = ellipsis_shape[len(ellipsis_shape) - n :]
            lead = [draw(st.sampled_from([1, s])) for s in kept]  # size 1 broadcasts
            term, shape = "..." + term, lead + shape
        terms.append(term)
        shapes.append(tuple(shape))
    subscripts = ",".join(terms)
    if draw(st.booleans()):
        used = sorted(set("".join(terms)) - {"."})
        output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        subscripts += "->" + ("..." if any("..." in t for t in terms) else "") + output
    return subscripts, shapes


@settings(max_examples=25, deadline=None)
@given(case=einsum_cases(), seed=st.integers(0, 2**16))
def test_random_subscripts_match_numpy_and_torch_gradients(case, seed) -> None:
    pytest.importorskip("torch")
    subscripts, shapes = case
    rng = np.random.default_rng(seed)
    xs = normal(*shapes)(rng)
    out = theta.einsum(subscripts, *xs)
    np.testing.assert_allclose(out.data, np.einsum(subscripts, *xs), rtol=1e-12, atol=1e-12)
    _compare_with_torch(lambda *a: theta.einsum(subscripts, *a),
                        lambda *a: torch.einsum(subscripts, *a), xs, rng)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(case=einsum_cases(), seed=st.integers(0, 2**16))
def test_random_subscripts_gradients_match_finite_differences(case, seed) -> None:
    subscripts, shapes = case
    xs = normal(*shapes)(np.random.default_rng(seed))
    report = theta.gradcheck(lambda *a: theta.einsum(subscripts, *a), *xs)
    assert report.ok, f"{subscripts} {shapes}: {report}"


@pytest.mark.parametrize(
    "subscripts, shapes, exc, fragment",
    [
        ("ij,jk", [(2, 3)], ValueError, "einsum: subscripts 'ij,jk' name 2 operand(s) but 1"),
        ("ij", [(2, 3, 4)], ValueError, "einsum: operand 0 has shape (2, 3, 4) but its "
                                        "subscripts 'ij' name 2 axes"),
        ("...ijk", [(2, 3)], ValueError, "operand 0 has shape (2, 3)"),
        ("i1", [(2, 3)], ValueError, "may hold only letters"),
        ("ij->ik", [(2, 3)], ValueError, "output subscripts 'ik' must name distinct labels"),
        ("ij->ii", [(2, 3)], ValueError, "must name distinct labels"),
        ("...i->i", [(2, 3)], ValueError, "need '...' in the output"),
        ("ij,jk", [(2, 3), (4, 2)], ValueError, "einsum: subscripts 'ij,jk' do not fit shapes "
                                                "(2, 3), (4, 2)"),
        ("ii", [(2, 3)], ValueError, "do not fit shapes (2, 3)"),
    ],
)
def test_errors_name_the_subscripts_and_shapes(subscripts, shapes, exc, fragment) -> None:
    with pytest.raises(exc, match=re.escape(fragment)):
        theta.einsum(subscripts, *[np.zeros(s) for s in shapes])


def test_subscripts_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="einsum: subscripts must be a string"):
        theta.einsum([0, 1], np.zeros(2))


@pytest.mark.parametrize(
    "shape_a, shape_b", [((2, 0), (0, 3)), ((4, 2, 0), (0, 3)), ((0,), (0, 3)), ((2, 0), (0,))]
)
def test_matmul_backward_with_a_zero_size_inner_axis_gives_zeros(shape_a, shape_b) -> None:
    a = Tensor(np.zeros(shape_a), requires_grad=True)
    b = Tensor(np.zeros(shape_b), requires_grad=True)
    out = a @ b
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(a.grad, np.zeros(shape_a), strict=True)
    np.testing.assert_array_equal(b.grad, np.zeros(shape_b), strict=True)
