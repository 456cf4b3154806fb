"""Distances and similarities between the rows of two matrices, and exact k-nearest search.

The chapter's "similarities" as plain functions on arrays, with scikit-learn's names and
semantics: ``euclidean_distances``, ``cosine_similarity``, ``cosine_distances``,
``manhattan_distances``, ``pairwise_distances`` and ``pairwise_distances_chunked``, plus
``dot_similarity`` (the raw inner product). Euclidean and cosine go through one BLAS matrix
product each (``||x||² - 2 x·y + ||y||²``, clipped at 0), float32 input gives float32 output,
and a matrix compared with itself gets exact zeros on its diagonal.

:func:`argkmin` is the exact search behind theta's k-nearest-neighbours estimators: BLAS
distances for a memory-bounded chunk of queries at a time, then a selection that looks at
every distance once (block minima) instead of partitioning whole rows; the chunks run side
by side on theta's pool (``theta.threads.for_each_chunk``, sized by
``theta.set_num_threads``). It keeps
exactly the neighbours scikit-learn's brute force keeps, ties included (see its docstring).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from theta.threads import blas_single_threaded, for_each_chunk, get_num_threads
from theta.validation import check_array

__all__ = [
    "METRICS", "WORKING_MEMORY_MIB", "argkmin", "cosine_distances", "cosine_similarity",
    "dot_similarity", "euclidean_distances", "get_chunk_n_rows",
    "manhattan_distances", "normalize_rows", "pairwise_distances", "pairwise_distances_chunked",
]  # fmt: skip

#: Default memory budget, in MiB, for one chunk of a distance matrix.
WORKING_MEMORY_MIB = 256

#: Metrics understood by :func:`pairwise_distances` and :func:`argkmin` (with their aliases).
METRICS = ("euclidean", "cosine", "manhattan", "dot")
_ALIASES = {"l2": "euclidean", "l1": "manhattan", "cityblock": "manhattan"}

_DBL_MAX = float(np.finfo(np.float64).max)
_QUERY_CHUNK = 256  # queries per BLAS call in argkmin
_TILE_BYTES = 2**20  # distance tile swept while in cache


# --- input checks -----------------------------------------------------------------------------


def _as_float(X: np.ndarray) -> np.ndarray:
    """float32 stays float32; every other real dtype becomes float64."""
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def _check_pair(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate ``X`` and ``Y`` (``None`` means ``X``); both float32 gives float32."""
    same = Y is None or Y is X
    X = _as_float(check_array(X))
    Y = X if same else _as_float(check_array(Y, input_name="Y"))
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"Incompatible dimension for X and Y matrices: X.shape[1] == {X.shape[1]} while "
            f"Y.shape[1] == {Y.shape[1]}"
        )
    if X.dtype != Y.dtype:
        X, Y = X.astype(np.float64, copy=False), Y.astype(np.float64, copy=False)
    return X, Y, same


def _metric_name(metric: Any) -> str:
    name = _ALIASES.get(metric, metric) if isinstance(metric, str) else metric
    if name not in METRICS:
        valid = sorted([*METRICS, *_ALIASES])
        raise ValueError(f"Unknown metric {metric!r}. Valid metrics are {valid}.")
    return name


def get_chunk_n_rows(
    row_bytes: int, *, max_n_rows: int | None = None, working_memory: float | None = None
) -> int:
    """How many rows of ``row_bytes`` bytes fit in ``working_memory`` MiB (at least one).

    Parameters
    ----------
    row_bytes : int
        Bytes needed per row of the chunk.
    max_n_rows : int, optional
        Never return more than this.
    working_memory : float, optional
        Budget in MiB; ``WORKING_MEMORY_MIB`` (256) when ``None``.

    Examples
    --------
    >>> get_chunk_n_rows(8 * 1000, working_memory=1)
    131
    """
    budget = WORKING_MEMORY_MIB if working_memory is None else working_memory
    n_rows = int(budget * 2**20 // max(int(row_bytes), 1))
    if max_n_rows is not None:
        n_rows = min(n_rows, max_n_rows)
    return max(n_rows, 1)


# --- the distance functions --------------------------------------------------------------------


def _sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared row norms as scikit-learn's ``row_norms(X, squared=True)`` computes them."""
    return np.einsum("ij,ij->i", X, X)


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length; all-zero rows stay zero (scikit-learn's ``normalize``).

    Examples
    --------
    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    norms = np.sqrt(_sq_norms(X))
    norms[norms == 0] = 1.0
    return X / norms[:, None]


def euclidean_distances(X: Any, Y: Any = None, *, squared: bool = False) -> np.ndarray:
    """Euclidean distance between each row of ``X`` and each row of ``Y``.

    Computed as ``||x||² - 2 x·y + ||y||²`` with one matrix product, clipped at 0. float32
    input is computed in float64 one chunk of rows at a time (cancellation in that formula
    would cost float32 most of its digits, as scikit-learn notes) and returned as float32.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features), optional
        ``None`` compares ``X`` with itself; the diagonal is then exactly 0.
    squared : bool, default=False
        Return squared distances.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)

    Examples
    --------
    >>> euclidean_distances([[0.0, 0.0], [3.0, 4.0]])
    array([[0., 5.],
           [5., 0.]])
    """
    X, Y, same = _check_pair(X, Y)
    if X.dtype == np.float64:
        D = _sq_euclidean(X, Y)
    else:
        D = np.empty((len(X), len(Y)), dtype=np.float32)
        Y64 = Y.astype(np.float64)
        n_rows = get_chunk_n_rows(8 * len(Y), max_n_rows=len(X))
        for start in range(0, len(X), n_rows):
            D[start : start + n_rows] = _sq_euclidean(X[start : start + n_rows], Y64)
    if same:
        np.fill_diagonal(D, 0.0)
    return D if squared else np.sqrt(D, out=D)


def _sq_euclidean(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    X = X.astype(np.float64, copy=False)
    D = X @ Y.T
    D *= -2.0
    D += _sq_norms(X)[:, None]
    D += _sq_norms(Y)
    return np.maximum(D, 0.0, out=D)


def cosine_similarity(X: Any, Y: Any = None) -> np.ndarray:
    """Cosine of the angle between each row of ``X`` and each row of ``Y``.

    Rows are scaled to unit length first; an all-zero row has similarity 0 with everything
    (no NaN), as in scikit-learn.

    Examples
    --------
    >>> cosine_similarity([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], [[3.0, 3.0]]).round(4)
    array([[0.7071],
           [0.7071],
           [0.    ]])
    """
    X, Y, same = _check_pair(X, Y)
    Xn = normalize_rows(X)
    return Xn @ (Xn if same else normalize_rows(Y)).T


def cosine_distances(X: Any, Y: Any = None) -> np.ndarray:
    """``1 - cosine_similarity``, clipped to [0, 2]; exact zeros on the diagonal of X vs X.

    Examples
    --------
    >>> cosine_distances([[1.0, 0.0], [0.0, 1.0]])
    array([[0., 1.],
           [1., 0.]])
    """
    X, Y, same = _check_pair(X, Y)
    S = cosine_similarity(X, None if same else Y)
    S *= -1
    S += 1
    np.clip(S, 0, 2, out=S)
    if same:
        np.fill_diagonal(S, 0.0)
    return S


def manhattan_distances(X: Any, Y: Any = None) -> np.ndarray:
    """Sum of absolute coordinate differences (L1, "cityblock") between rows.

    Summed feature by feature, in order, in memory-bounded chunks of rows.

    Examples
    --------
    >>> manhattan_distances([[0.0, 0.0]], [[1.0, -2.0], [3.0, 4.0]])
    array([[3., 7.]])
    """
    X, Y, _ = _check_pair(X, Y)
    D = np.empty((len(X), len(Y)), dtype=X.dtype)
    n_rows = get_chunk_n_rows(X.itemsize * len(Y), max_n_rows=len(X))
    YT = np.ascontiguousarray(Y.T)
    for start in range(0, len(X), n_rows):
        _manhattan_into(D[start : start + n_rows].T, YT, X[start : start + n_rows])
    return D


def _manhattan_into(out: np.ndarray, YT: np.ndarray, Xc: np.ndarray) -> None:
    """``out[j, i] = sum_f |Y[j, f] - X[i, f]|``, accumulated in feature order (as SciPy and
    scikit-learn do, so sums round alike), a cache-sized tile of rows at a time."""
    n_rows = max(1, 2**15 // max(1, out.shape[1]))
    tmp = np.empty((min(n_rows, len(out)), out.shape[1]), dtype=out.dtype)
    for start in range(0, len(out), n_rows):
        o = out[start : start + n_rows]
        t = tmp[: len(o)]
        o[...] = 0
        for f in range(YT.shape[0]):
            np.subtract(YT[f, start : start + n_rows, None], Xc[:, f], out=t)
            np.abs(t, out=t)
            o += t


def dot_similarity(X: Any, Y: Any = None) -> np.ndarray:
    """Inner product ``x·y`` between each row of ``X`` and each row of ``Y``.

    The chapter's dot-product similarity: larger means more alike, and unlike the cosine it
    grows with the vectors' lengths.

    Examples
    --------
    >>> dot_similarity([[1.0, 2.0]], [[3.0, 4.0], [-1.0, 0.0]])
    array([[11., -1.]])
    """
    X, Y, same = _check_pair(X, Y)
    return X @ (X if same else Y).T


def _negative_dot(X: Any, Y: Any = None) -> np.ndarray:
    return np.negative(dot_similarity(X, Y))


_DISTANCES: dict[str, Callable[..., np.ndarray]] = {
    "euclidean": euclidean_distances,
    "cosine": cosine_distances,
    "manhattan": manhattan_distances,
    "dot": _negative_dot,
}


def pairwise_distances(X: Any, Y: Any = None, metric: str = "euclidean") -> np.ndarray:
    """Distance matrix between the rows of ``X`` and ``Y`` for a named metric.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features), optional
        ``None`` compares ``X`` with itself.
    metric : {"euclidean", "cosine", "manhattan", "dot"}, default="euclidean"
        Also accepted: "l2", "l1" and "cityblock". ``"dot"`` is a similarity, so as a
        distance it is reported negated, ``-x·y``: smaller is nearer, as for the others.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)

    Examples
    --------
    >>> pairwise_distances([[0.0, 1.0]], [[1.0, 1.0]], metric="manhattan")
    array([[1.]])
    >>> pairwise_distances([[0.0, 1.0]], [[1.0, 1.0]], metric="dot")
    array([[-1.]])
    """
    return _DISTANCES[_metric_name(metric)](X, Y)


def pairwise_distances_chunked(
    X: Any,
    Y: Any = None,
    *,
    reduce_func: Callable[[np.ndarray, int], Any] | None = None,
    metric: str = "euclidean",
    working_memory: float | None = None,
) -> Iterator[Any]:
    """Yield the distance matrix a block of rows at a time, within a memory budget.

    Parameters
    ----------
    X, Y, metric
        As for :func:`pairwise_distances`.
    reduce_func : callable, optional
        ``reduce_func(D_chunk, start)`` is yielded instead of each chunk; ``start`` is the
        index in ``X`` of the chunk's first row. Use it to keep only what you need (the
        nearest neighbours, a row sum) so the full matrix never exists.
    working_memory : float, optional
        MiB one chunk may use; ``WORKING_MEMORY_MIB`` (256) when ``None``.

    Yields
    ------
    ndarray of shape (n_rows_chunk, n_samples_Y), or whatever ``reduce_func`` returns.

    Examples
    --------
    >>> X = [[0.0], [1.0], [3.0]]
    >>> [d.tolist() for d in pairwise_distances_chunked(X, working_memory=16 / 2**20)]
    [[[0.0, 1.0, 3.0]], [[1.0, 0.0, 2.0]], [[3.0, 2.0, 0.0]]]
    """
    name = _metric_name(metric)
    X, Y, same = _check_pair(X, Y)
    n_rows = get_chunk_n_rows(8 * len(Y), max_n_rows=len(X), working_memory=working_memory)
    for start in range(0, len(X), n_rows):
        chunk = X[start : start + n_rows]
        D = _DISTANCES[name](chunk, Y)
        if same and name in ("euclidean", "cosine"):
            # the full matrix has exact zeros on its diagonal; so do its chunks
            D[np.arange(len(chunk)), np.arange(start, start + len(chunk))] = 0.0
        yield D if reduce_func is None else reduce_func(D, start)


# --- exact k-nearest search ----------------------------------------------------------------------


def argkmin(
    X: Any,
    Y: Any,
    k: int,
    *,
    metric: str = "euclidean",
    working_memory: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``Y`` nearest to each row of ``X``: exact, BLAS-fast, memory-bounded.

    Each chunk of queries gets one BLAS product against all of ``Y`` (float32 stays float32,
    for speed). The distances are cut into blocks of about ``sqrt(n / k)`` columns; the
    ``k + 1`` blocks with the smallest minima provably hold the ``k + 1`` smallest distances,
    so only they are searched. That replaces a partition of every full row by one pass of
    block minima. The chunks run side by side on ``get_num_threads()`` threads, which share
    ``working_memory`` (BLAS is held to one thread meanwhile, when threadpoolctl is installed);
    each query's result is the same for every thread count.

    Ties follow scikit-learn's brute force, so that predictions match it exactly: for
    euclidean, manhattan and dot, when several points tie at the k-th distance, the ones kept
    are those scikit-learn's ``ArgKmin`` heap keeps (it pushes points in index order onto a
    max-heap of size k); for cosine, those ``np.argpartition`` keeps on the whole row, as
    scikit-learn's cosine search does. Euclidean distances are ranked as scikit-learn ranks
    them, ``max(0, (||x||² - 2 x·y) + ||y||²)`` with BLAS row norms.

    Parameters
    ----------
    X : array-like of shape (n_queries, n_features)
    Y : array-like of shape (n_samples, n_features)
    k : int
        Neighbours per query, ``1 <= k <= n_samples``.
    metric : {"euclidean", "cosine", "manhattan", "dot"}, default="euclidean"
        ``"dot"`` finds the largest inner products and reports them negated (``-x·y``).
    working_memory : float, optional
        MiB for one chunk of the distance matrix; ``WORKING_MEMORY_MIB`` (256) when ``None``.

    Returns
    -------
    distances : ndarray of shape (n_queries, k)
        Sorted ascending; ties in index order.
    indices : ndarray of shape (n_queries, k)
        Row numbers in ``Y``.

    Examples
    --------
    >>> dist, ind = argkmin([[0.0], [2.9]], [[0.0], [1.0], [3.0]], 2)
    >>> ind
    array([[0, 1],
           [2, 1]])
    >>> dist.round(2)
    array([[0. , 1. ],
           [0.1, 1.9]])
    """
    name = _metric_name(metric)
    X, Y, _ = _check_pair(X, Y)
    n = len(Y)
    if not 1 <= k <= n:
        raise ValueError(f"argkmin: k must be in [1, {n}] for {n} rows of Y (got {k}).")
    search = _Search(name, Y, k)
    dist = np.empty((len(X), k), dtype=X.dtype)
    ind = np.empty((len(X), k), dtype=np.intp)
    row_bytes = search.n_pad * X.itemsize * (2 if name == "manhattan" else 1)
    # every thread of the pool holds a chunk: they share the memory budget
    budget = WORKING_MEMORY_MIB if working_memory is None else working_memory
    budget /= min(get_num_threads(), 8)
    # 256 queries per BLAS call is already efficient; more only costs memory
    n_rows = get_chunk_n_rows(
        row_bytes, max_n_rows=min(len(X), _QUERY_CHUNK), working_memory=budget
    )

    def work(start: int) -> None:
        stop = min(start + n_rows, len(X))
        dist[start:stop], ind[start:stop] = search.chunk(X[start:stop])

    starts = range(0, len(X), n_rows)
    with blas_single_threaded(len(starts) >= 2 * min(get_num_threads(), 8)):
        for_each_chunk(work, starts, min_per_thread=2)
    return dist, ind


class _Search:
    """Exact top-k of one metric against one fixed ``Y``: prepared once, run per chunk."""

    def __init__(self, metric: str, Y: np.ndarray, k: int) -> None:
        self.metric, self.Y, self.k = metric, Y, k
        n = len(Y)
        self.kk = min(k + 1, n)  # one more than asked, to see a tie at the k-th place
        self.b = max(1, int(np.sqrt(n / self.kk)))  # block width; n_blocks >= kk
        self.n_blocks = -(-n // self.b)
        self.n_pad = self.n_blocks * self.b
        self._local = threading.local()  # a buffer per thread of the pool
        if metric == "euclidean":
            # BLAS dot per row (batched matmul), as scikit-learn's ArgKmin computes the norms
            self.yy = (Y[:, None, :] @ Y[:, :, None]).ravel()
        elif metric == "cosine":
            self.Y = normalize_rows(Y)
        elif metric == "manhattan":
            self.YT = np.ascontiguousarray(Y.T)

    def _values(self, Xc: np.ndarray) -> np.ndarray:
        """(n_pad, n_chunk) ranking values in training order (padding rows +inf) and the
        minimum of each block. One BLAS product for the whole chunk (BLAS threads stall on
        many small ones), then the additions and minima one cache-sized tile at a time: three
        sweeps over a matrix larger than the cache would each go out to memory."""
        n, b, c = len(self.Y), self.b, len(Xc)
        buffer = getattr(self._local, "buffer", None)
        if buffer is None or buffer.shape[1] < c or buffer.dtype != Xc.dtype:
            # reused across chunks: fresh pages would cost a page fault per 4 KiB each time
            buffer = self._local.buffer = np.empty((self.n_pad, c), dtype=Xc.dtype)
            buffer[n:] = np.inf
        G = buffer[:, :c]
        minima = np.empty((self.n_blocks, c), dtype=Xc.dtype)
        if self.metric == "manhattan":
            tile = self.n_pad  # its cost is in the per-feature sweeps, not in the GEMM
        else:
            tile = b * max(1, _TILE_BYTES // (c * Xc.itemsize * b))
        if self.metric == "euclidean":
            right = (-2 * Xc).T  # -2 x·y, exactly -2 times the product
            xx = (Xc[:, None, :] @ Xc[:, :, None]).ravel()
        elif self.metric == "cosine":
            right = -normalize_rows(Xc).T  # -cos, so that 1 + G is the distance
        else:
            right = -Xc.T
        if self.metric == "manhattan":
            _manhattan_into(G[:n], self.YT, Xc)
        else:
            np.matmul(self.Y, right, out=G[:n])
        for start in range(0, n, tile):
            g = G[start : start + tile]
            if self.metric == "euclidean":
                g[: n - start] += xx
                g[: n - start] += self.yy[start : start + tile, None]
            blocks = g.reshape(-1, b, c)
            blocks.min(axis=1, out=minima[start // b : start // b + len(blocks)])
        return G, minima

    def _transform(self, V: np.ndarray) -> np.ndarray:
        """Ranking values -> reported distances; monotone, so the ranking is unchanged."""
        if self.metric == "euclidean":
            return np.maximum(V, 0.0)
        if self.metric == "cosine":
            return np.clip(1 + V, 0, 2)
        return V

    def chunk(self, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, kk, b = self.k, self.kk, self.b
        G, minima = self._values(Xc)
        c = len(Xc)
        blocks = G.reshape(self.n_blocks, b, c)
        minima = minima.T  # (c, n_blocks)
        if kk < self.n_blocks:
            sel = np.argpartition(minima, kk - 1, axis=1)[:, :kk]
        else:
            sel = np.broadcast_to(np.arange(self.n_blocks), (c, self.n_blocks))
        # the kk blocks with the smallest minima hold the kk smallest values: each of those
        # blocks has a value <= the kk-th smallest block minimum
        cand = blocks[sel, :, np.arange(c)[:, None]].reshape(c, -1)  # (c, kk * b)
        cand_idx = (sel[:, :, None] * b + np.arange(b)).reshape(c, -1)
        cand = self._transform(cand)
        # places k-1 and k hold the k-th and (k+1)-th smallest: equal means a tie at the edge
        part = np.argpartition(cand, (k - 1, k) if kk > k else k - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(cand, part, axis=1)
        idx = np.take_along_axis(cand_idx, part, axis=1)
        if kk > k:
            for row in np.flatnonzero(vals[:, k - 1] == vals[:, k]):
                # resolve the tie on the whole row, as scikit-learn does
                full = self._transform(np.array(G[: len(self.Y), row]))
                keep = self._break_tie(full)
                vals[row, :k], idx[row, :k] = full[keep], keep
        vals, idx = vals[:, :k], idx[:, :k]
        order = np.lexsort((idx, vals), axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        idx = np.take_along_axis(idx, order, axis=1)
        return self._distances(Xc, vals, idx), idx

    def _break_tie(self, row: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return np.argpartition(row, self.k - 1)[: self.k]
        return _heap_argkmin(row, self.k)

    def _distances(self, Xc: np.ndarray, vals: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if self.metric != "euclidean":
            return vals.astype(Xc.dtype, copy=False)
        if Xc.dtype == np.float64:
            return np.sqrt(vals)
        # float32: recompute the k distances from differences, free of the cancellation in
        # ||x||² - 2 x·y + ||y||² (an exact duplicate then has distance 0, as it should)
        diff = self.Y[idx] - Xc[:, None, :]
        return np.sqrt(np.einsum("ikf,ikf->ik", diff, diff))


def _heap_argkmin(row: np.ndarray, k: int) -> np.ndarray:
    """The k indices left on scikit-learn's ArgKmin max-heap after pushing ``row`` in order.

    Only a value below the heap's current maximum changes the heap, and that maximum only
    falls, so each doubling stretch of the row is filtered by the maximum at its start.
    """
    values, indices = [_DBL_MAX] * k, [-1] * k
    row = row.astype(np.float64, copy=False)  # the heap holds float64, as scikit-learn's does
    start, width = 0, k
    while start < len(row):
        stretch = row[start : start + width]
        for j in np.flatnonzero(stretch < values[0]).tolist():
            _heap_push(values, indices, float(stretch[j]), start + j)
        start, width = start + width, 2 * width
    return np.array(indices, dtype=np.intp)


def _heap_push(values: list[float], indices: list[int], val: float, val_idx: int) -> None:
    """scikit-learn's ``heap_push`` (sklearn/utils/_heap.pyx), step for step."""
    size = len(values)
    if val >= values[0]:
        return
    current = 0
    while True:
        left = 2 * current + 1
        right = left + 1
        if left >= size:
            break
        if right >= size:
            if values[left] > val:
                swap = left
            else:
                break
        elif values[left] >= values[right]:
            if val < values[left]:
                swap = left
            else:
                break
        elif val < values[right]:
            swap = right
        else:
            break
        values[current], indices[current] = values[swap], indices[swap]
        current = swap
    values[current], indices[current] = val, val_idx
