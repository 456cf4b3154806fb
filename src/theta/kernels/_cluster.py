"""KMeans' assignment step in one pass over the rows: Hamerly's bound test, the search of the
rows it cannot settle, and the change it makes to the per-cluster sums.

The NumPy path (:class:`theta.estimators.cluster._Bounds`) does the same in several passes: a
pass for the bound test, a gather of the candidate rows, a BLAS product, a scatter back and one
more product for the sums. Here each row is read once, and a row whose bounds fail is first
checked against its own centre alone (one short difference) before all centres are searched.
Rows go in fixed chunks, each with its own slice of partial sums, so the sums do not depend on
the thread count.
"""

from __future__ import annotations

import math

import numpy as np

from theta.kernels._jit import serial_kernel

# rows searched together: the block's columns fill whole vector registers and its transposed
# copy (n_features x _BLOCK float64) stays in L1
_BLOCK = 64


@serial_kernel
def _search(Xa, rows, W, labels, first, second, XT, acc):  # pragma: no cover - compiled
    """Nearest centre (``labels``, first on ties) and the two lowest ``||c||² - 2 x·c``
    (``first``, ``second``) of the rows of ``Xa`` indexed by ``rows`` (at most ``_BLOCK``), for
    the centres' weights ``W`` (n_features + 1, k).

    The rows are transposed into ``XT`` (n_features, _BLOCK) and the centres taken one at a time,
    so every loop runs along the rows, vectorised, and the running minimum is branch-free.
    """
    m, k, n_features = len(rows), W.shape[1], Xa.shape[1] - 1
    for f in range(n_features):
        for r in range(m):
            XT[f, r] = Xa[rows[r], f]
    for r in range(m):
        labels[r], first[r], second[r] = 0, np.inf, np.inf
    for j in range(k):
        for r in range(m):
            acc[r] = W[n_features, j]
        for f in range(n_features):
            w = W[f, j]
            for r in range(m):
                acc[r] += XT[f, r] * w
        for r in range(m):
            value = acc[r]
            nearer = value < first[r]
            second[r] = first[r] if nearer else min(second[r], value)
            labels[r] = j if nearer else labels[r]
            first[r] = value if nearer else first[r]


@serial_kernel
def _own_distance_sq(Xa, i, C, label):  # pragma: no cover - compiled
    """``||x - c||²`` of row ``i`` and centre ``label``, as a difference: no cancellation."""
    total = 0.0
    for f in range(C.shape[1]):
        diff = np.float64(Xa[i, f]) - C[label, f]
        total += diff * diff
    return total


@serial_kernel
def _move_row(Xa, i, part, new, old):  # pragma: no cover - compiled
    """Add row ``i`` (with its count column) to cluster ``new``'s sums and take it from
    ``old``'s (none when ``old`` is negative)."""
    for f in range(Xa.shape[1]):
        x = np.float64(Xa[i, f])
        part[new, f] += x
        if old >= 0:
            part[old, f] -= x


@serial_kernel
def reassign(
    Xa, x_sq, C, W, labels, upper, lower, moves, others, half_gap, rounding, c_sq_max, step,
    partial, first_chunk, stop_chunk,
):  # pragma: no cover - compiled
    """One assignment step of Lloyd's iterations with Hamerly's bounds, in place, for the rows
    of chunks ``first_chunk:stop_chunk`` (``step`` rows each).

    ``Xa`` (n, n_features + 1) holds the rows with a last column of ones, ``x_sq`` (n,) their
    squared norms, ``C`` (k, n_features) the centres and ``W`` (n_features + 1, k) the weights
    ``[-2 Cᵀ; ||c||²]``. ``labels`` (-1: none yet), ``upper`` and ``lower`` (n,) are the bounds
    before ``moves`` / ``others`` (k,) are applied; ``half_gap`` (k,) is half the distance of
    each centre to its nearest other. Squared distances are widened by
    ``rounding * (x_sq + c_sq_max)``, as in the NumPy path. ``partial`` (n_chunks, k,
    n_features + 1) receives, per chunk, the change of the per-cluster sums (the last column:
    counts). Returns the numbers of rows that changed cluster and of rows searched.

    Serial and without the GIL: callers run disjoint chunk ranges side by side on theta's
    thread pool, whose idle threads sleep (an OpenMP pool's spin, on busy shared cores, cost
    more than the second thread saved).
    """
    moved = searched = 0
    for chunk in range(first_chunk, stop_chunk):
        stop = min(Xa.shape[0], chunk * step + step)
        chunk_moved, chunk_searched = _reassign_rows(
            Xa, x_sq, C, W, labels, upper, lower, moves, others, half_gap, rounding, c_sq_max,
            chunk * step, stop, partial[chunk],
        )  # fmt: skip
        moved += chunk_moved
        searched += chunk_searched
    return moved, searched


@serial_kernel
def _reassign_rows(
    Xa, x_sq, C, W, labels, upper, lower, moves, others, half_gap, rounding, c_sq_max, start,
    stop, part,
):  # pragma: no cover - compiled
    """:func:`reassign` for rows ``start:stop``, their sums' change in ``part`` (k,
    n_features + 1); returns the numbers of rows moved and searched."""
    part[:] = 0.0
    todo = _bound_test(
        Xa, x_sq, C, labels, upper, lower, moves, others, half_gap, rounding, c_sq_max, start,
        stop,
    )  # fmt: skip
    found = np.empty(_BLOCK, dtype=np.int64)
    first, second = np.empty(_BLOCK), np.empty(_BLOCK)
    XT, acc = np.empty((Xa.shape[1] - 1, _BLOCK)), np.empty(_BLOCK)
    moved = 0
    for block in range(0, len(todo), _BLOCK):
        rows = todo[block : block + _BLOCK]
        _search(Xa, rows, W, found, first, second, XT, acc)
        for r in range(len(rows)):
            i, best = rows[r], found[r]
            margin = rounding * (x_sq[i] + c_sq_max)
            upper[i] = math.sqrt(max(first[r] + x_sq[i], 0.0) + margin)
            lower[i] = math.sqrt(max(second[r] + x_sq[i] - margin, 0.0))
            old = labels[i]
            if best != old:
                labels[i] = best
                moved += 1
                _move_row(Xa, i, part, best, old)
    return moved, len(todo)


@serial_kernel
def _bound_test(
    Xa, x_sq, C, labels, upper, lower, moves, others, half_gap, rounding, c_sq_max, start, stop,
):  # pragma: no cover - compiled
    """Apply the centres' moves to the bounds of rows ``start:stop``, settle the rows whose
    bounds (the upper one tightened to the distance to their own centre if needed) keep their
    centre, and return the others, to search."""
    todo = np.empty(stop - start, dtype=np.int64)
    count = 0
    for i in range(start, stop):
        old = labels[i]
        if old >= 0:
            up = upper[i] + moves[old]
            low = lower[i] - others[old]
            bound = max(low, half_gap[old])
            if up > bound:  # tighten the upper bound before searching every centre
                margin = rounding * (x_sq[i] + c_sq_max)
                up = math.sqrt(_own_distance_sq(Xa, i, C, old) + margin)
            if up <= bound:
                upper[i], lower[i] = up, low
                continue
        todo[count] = i
        count += 1
    return todo[:count]
