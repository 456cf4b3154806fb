"""Clustering: k-means, the chapter's unsupervised flavour in its plainest form.

The model is its ``n_clusters`` centres (the parameters θ); the forward function sends a
point to its nearest centre. Lloyd's algorithm alternates the two halves of that model:
assign every point to its nearest centre, then move every centre to the mean of its points.
Each step can only lower the inertia (the summed squared distance to the assigned centres),
so the loop stops when the labels stop changing or the centres barely move.

Distances use BLAS: ``||x - c||² = ||x||² - 2 x·c + ||c||²``, and for the nearest centre only
``||c||² - 2 x·c`` matters: one product of ``[x, 1]`` with ``[-2c, ||c||²]`` per chunk of rows,
chunks spread over a few threads. The centres' sums are updated from the points that changed
cluster, so late iterations cost little more than the assignment. With Numba
(``theta.kernels``) that assignment step is one compiled pass over the rows instead. The
algorithm follows scikit-learn's ``KMeans`` step for step (greedy k-means++, tolerance scaled
by the data's mean variance, empty clusters moved to the farthest points), so with the same
initial centres both give the same clustering.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from theta import kernels
from theta.errors import ConvergenceWarning, sklearn_twin
from theta.estimators.base import (
    BaseEstimator,
    ClusterMixin,
    TransformerMixin,
    as_float,
    check_is_fitted,
    safe_scale,
)  # fmt: skip
from theta.rng import check_random_state
from theta.threads import for_each_chunk
from theta.validation import Interval, Options, check_array, feature_names

__all__ = ["KMeans", "kmeans_plusplus"]

# OpenBLAS splits a product over threads above about 2**18 multiply-adds; on a busy machine
# those threads wait on each other (10x slower on 2 shared cores). Row chunks below that size
# run single-threaded and stay in cache; _for_each_chunk runs them side by side instead.
_CHUNK_WORK = 1 << 18


# the compiled search reads the centres' weights (n_clusters x (n_features + 1) float64) once
# per block of rows; beyond about this many BLAS's blocked products catch up (measured: as fast
# at 100 x 101, 30% faster at 128 x 256)
_COMPILED_WEIGHTS = 10_000


def _chunk_rows(n_clusters: int, n_features: int) -> int:
    return int(np.clip(_CHUNK_WORK // (n_clusters * n_features), 64, 8192))


def _for_each_chunk(work: Callable[[int], None], n_rows: int, step: int) -> None:
    """Run ``work(start)`` for every chunk of rows; on theta's pool only when there are many
    chunks (fewer cost more in hand-offs than they save, above all on a busy machine)."""
    for_each_chunk(work, range(0, n_rows, step), min_per_thread=8)


def _row_norms_sq(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X)


def _squared_distances(X: np.ndarray, C: np.ndarray, x_sq: np.ndarray) -> np.ndarray:
    """``||x - c||²`` for every row of ``X`` and of ``C``, clipped at 0 against rounding."""
    c_sq = _row_norms_sq(C)
    D = np.empty((X.shape[0], C.shape[0]), dtype=np.result_type(X, C))  # (n, k)
    step = _chunk_rows(*C.shape)
    for start in range(0, X.shape[0], step):
        block = D[start : start + step]
        np.matmul(X[start : start + step], C.T, out=block)
        block *= -2.0
        block += x_sq[start : start + step, None]
        block += c_sq
    return np.maximum(D, 0.0, out=D)


def _augment(X: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
    """``[X - shift, 1]``: with :func:`_center_weights`, one product gives ``||c||² - 2 x·c``."""
    Xa = np.empty((X.shape[0], X.shape[1] + 1), dtype=X.dtype)
    np.subtract(X, 0.0 if shift is None else shift, out=Xa[:, :-1])
    Xa[:, -1] = 1.0
    return Xa


def _center_weights(centers: np.ndarray) -> np.ndarray:
    """``[-2 Cᵀ; ||c||²]`` of shape (n_features + 1, n_clusters), to multiply ``[X, 1]`` by."""
    return np.vstack([-2.0 * centers.T, _row_norms_sq(centers)[None, :]])


def _assign(Xa: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Nearest centre of every row of the augmented data ``Xa`` (first one on ties).

    Only ``||c||² - 2 x·c`` decides the nearest centre, so ``||x||²`` is never computed.
    """
    W = _center_weights(centers).astype(Xa.dtype, copy=False)
    labels = np.empty(Xa.shape[0], dtype=np.int32)
    step = _chunk_rows(*centers.shape)

    def work(start: int) -> None:
        labels[start : start + step] = (Xa[start : start + step] @ W).argmin(axis=1)

    _for_each_chunk(work, Xa.shape[0], step)
    return labels


def _cluster_totals(Xa: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per-cluster sums of the rows of ``Xa`` (float64); the last column counts the rows."""
    totals = np.zeros((k, Xa.shape[1]))
    step = _chunk_rows(k, Xa.shape[1])
    for start in range(0, Xa.shape[0], step):
        chunk = labels[start : start + step]
        # a one-hot membership matrix turns the per-cluster sums into one small product
        onehot = np.zeros((len(chunk), k), dtype=Xa.dtype)
        onehot[np.arange(len(chunk)), chunk] = 1.0
        totals += onehot.T @ Xa[start : start + step]  # (k, n_features + 1)
    return totals


def _inertia(X: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> float:
    """Summed squared distance of every row to its assigned centre, computed exactly."""
    total = 0.0
    step = max(1, _CHUNK_WORK // X.shape[1])
    for start in range(0, X.shape[0], step):
        diff = X[start : start + step] - centers[labels[start : start + step]]
        total += float(np.einsum("ij,ij->", diff, diff, dtype=np.float64))
    return total


def kmeans_plusplus(
    X: np.ndarray, n_clusters: int, *, rng: np.random.Generator, n_local_trials: int | None = None
) -> np.ndarray:
    """Greedy k-means++ seeding: spread initial centres apart, favouring far-away points.

    Each new centre is the best of ``n_local_trials`` candidates (default ``2 + log(k)``, as
    in scikit-learn), each drawn with probability proportional to its squared distance to the
    nearest centre chosen so far; "best" means lowest resulting inertia.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data to seed from (float32 or float64).
    n_clusters : int
        Number of centres, at most ``n_samples``.
    rng : numpy.random.Generator
        Source of the draws.
    n_local_trials : int, optional
        Candidates tried per centre.

    Returns
    -------
    ndarray of shape (n_clusters, n_features)
        Initial centres, rows of ``X``.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]])
    >>> centers = kmeans_plusplus(X, 2, rng=np.random.default_rng(0))
    >>> sorted((centers[:, 0] > 5).tolist())
    [False, True]
    """
    n_samples = X.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    x_sq = _row_norms_sq(X)
    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    centers[0] = X[rng.integers(n_samples)]
    closest_sq = _squared_distances(X, centers[:1], x_sq)[:, 0]  # (n,)
    potential = float(closest_sq.sum(dtype=np.float64))
    for c in range(1, n_clusters):
        draws = rng.uniform(size=n_local_trials) * potential
        candidates = np.searchsorted(np.cumsum(closest_sq, dtype=np.float64), draws)
        np.clip(candidates, None, n_samples - 1, out=candidates)  # rounding at the top end
        to_candidates = _squared_distances(X, X[candidates], x_sq)  # (n, trials)
        np.minimum(closest_sq[:, None], to_candidates, out=to_candidates)
        potentials = to_candidates.sum(axis=0, dtype=np.float64)
        best = int(np.argmin(potentials))
        potential = float(potentials[best])
        closest_sq = to_candidates[:, best].copy()
        centers[c] = X[candidates[best]]
    return centers


def _nearest_two(
    Xa: np.ndarray, x_sq: np.ndarray, centers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest centre of every row of ``Xa`` (first one on ties, as :func:`_assign`) and the
    squared distances to the nearest and to the second-nearest centre (inf for one centre).

    ``x_sq`` holds the rows' ``||x||²``. The product is laid out centre by centre, (k, rows),
    a cache-sized chunk of rows at a time (below BLAS's threading threshold, so chunks run
    side by side on the pool and the products' rounding does not depend on the thread count);
    the nearest centre's entry is then overwritten by inf, leaving the second-nearest as the
    minimum: two reductions over the short first axis instead of a loop over the centres.
    """
    n_rows, k = Xa.shape[0], centers.shape[0]
    Wt = _center_weights(centers).T.astype(Xa.dtype)  # (k, n_features + 1), contiguous
    labels = np.empty(n_rows, dtype=np.intp)  # gathers by intp labels skip a conversion
    first, second = np.empty(n_rows), np.empty(n_rows)
    step = _chunk_rows(k, Xa.shape[1])

    def work(start: int) -> None:
        part = slice(start, start + step)
        D = Wt @ Xa[part].T  # (k, rows): ||c||² - 2 x·c
        label = labels[part]
        np.argmin(D, axis=0, out=label)
        np.add(D.min(axis=0), x_sq[part], out=first[part])
        D[label, np.arange(D.shape[1])] = np.inf
        np.add(D.min(axis=0), x_sq[part], out=second[part])

    _for_each_chunk(work, n_rows, step)
    return labels, first, second


class _Bounds:
    """Hamerly's bounds for Lloyd's assignment step: the rows that provably keep their centre
    are skipped, so late iterations cost O(n) cheap vector operations, not a product.

    For every row, ``upper`` bounds the distance to its centre from above and ``lower`` the
    distance to every other centre from below. When the centres move, the triangle inequality
    keeps them valid: ``upper`` grows by its centre's move, ``lower`` shrinks by the largest
    move of another centre. A row whose ``upper`` is below ``lower`` (or below half the gap
    from its centre to the nearest other centre) keeps its label; the others are assigned
    from scratch. Computed distances are widened by a margin far above their rounding error,
    so a skipped row is one whose nearest centre wins by more than rounding: the labels are
    exactly those of plain Lloyd's iterations.
    """

    def __init__(self, Xa: np.ndarray, x_sq: np.ndarray, centers: np.ndarray) -> None:
        self.Xa, self.x_sq = Xa, x_sq.astype(np.float64, copy=False)
        # 100x the worst-case rounding of a length-(n_features + 1) product in Xa's dtype
        self.rounding = 100.0 * Xa.shape[1] * float(np.finfo(Xa.dtype).eps)
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # moves not yet applied
        self._start(centers)

    def _start(self, centers: np.ndarray) -> None:
        """First assignment: ``labels``, bounds and ``totals`` (per-cluster sums of ``Xa``'s
        rows, the last column counting them) from a full search."""
        self.labels, self.upper, self.lower = self._widen(
            slice(None), *_nearest_two(self.Xa, self.x_sq, centers), centers
        )
        self.totals = _cluster_totals(self.Xa, self.labels, centers.shape[0])

    def _widen(
        self, rows: Any, labels: np.ndarray, first: np.ndarray, second: np.ndarray,
        centers: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Distances from squared distances, ``upper`` rounded up and ``lower`` down by a
        margin far above the products' rounding error."""
        margin = self._margin(rows, centers)
        upper = np.sqrt(np.maximum(first, 0.0) + margin)
        lower = np.sqrt(np.maximum(second - margin, 0.0))
        return labels, upper, lower

    def _margin(self, rows: Any, centers: np.ndarray) -> np.ndarray:
        return self.rounding * (self.x_sq[rows] + float(np.max(_row_norms_sq(centers))))

    @staticmethod
    def _half_gap(centers: np.ndarray) -> np.ndarray:
        """Half the distance of every centre to its nearest other, (k,): a row within it of
        its centre keeps it."""
        C = centers.astype(np.float64, copy=False)
        gaps = np.sqrt(np.maximum(_squared_distances(C, C, _row_norms_sq(C)), 0.0))
        np.fill_diagonal(gaps, np.inf)
        return 0.5 * gaps.min(axis=1)

    def move(self, old: np.ndarray, new: np.ndarray) -> None:
        """Keep the bounds valid after the centres moved from ``old`` to ``new``; applied by
        the next :meth:`assign`, in the same pass over the rows as its test."""
        moves = np.sqrt(np.sum((new - old) ** 2, axis=1, dtype=np.float64))  # (k,)
        k = len(moves)
        if k > 1:  # largest move of any *other* centre: the top one, except for the top itself
            order = np.argsort(moves)
            others = np.full(k, moves[order[-1]])
            others[order[-1]] = moves[order[-2]]
        else:
            others = np.zeros(1)
        self.pending = (moves, others)

    def _candidates(self, half_gap: np.ndarray) -> np.ndarray:
        """Apply the pending moves and return the rows whose bounds allow a change: one pass
        per cache-sized chunk of rows (gathers, updates and test together), chunks side by
        side on the pool. Elementwise, so the result does not depend on the chunking."""
        moves, others = self.pending if self.pending is not None else (None, None)
        self.pending = None
        n_rows = len(self.labels)
        step = 8192  # rows: their labels, bounds and gathered moves stay in cache together
        found: dict[int, np.ndarray] = {}

        def work(start: int) -> None:
            part = slice(start, start + step)
            labels, upper, lower = self.labels[part], self.upper[part], self.lower[part]
            if moves is not None:
                upper += moves[labels]
                lower -= others[labels]
            bound = np.maximum(lower, half_gap[labels])
            found[start] = np.flatnonzero(upper > bound) + start

        _for_each_chunk(work, n_rows, step)
        return np.concatenate([found[start] for start in sorted(found)])

    def assign(self, centers: np.ndarray) -> int:
        """Reassign the rows whose bounds cannot rule out a change and update ``totals``;
        return how many rows changed centre."""
        rows = self._candidates(self._half_gap(centers))
        if rows.size == 0:
            return 0
        rows_Xa, rows_sq = self.Xa[rows], self.x_sq[rows]
        found = _nearest_two(rows_Xa, rows_sq, centers)
        labels, upper, lower = self._widen(rows, *found, centers)
        old = self.labels[rows]
        self.labels[rows], self.upper[rows], self.lower[rows] = labels, upper, lower
        changed = labels != old
        moved = rows[changed]
        k = centers.shape[0]
        if 2 * moved.size > len(self.labels):
            self.totals = _cluster_totals(self.Xa, self.labels, k)
        elif moved.size:
            moved_Xa = self.Xa[moved]
            self.totals += _cluster_totals(moved_Xa, labels[changed], k)
            self.totals -= _cluster_totals(moved_Xa, old[changed], k)
        return int(moved.size)


class _CompiledBounds(_Bounds):
    """:class:`_Bounds` with the assignment step compiled (``theta.kernels``' cluster family):
    bound test, search and the sums' update in one pass over the rows. Ranges of chunks run
    side by side on theta's pool, as the NumPy path's products do."""

    # partial sums of all chunks stay below this many values (8 MiB)
    _PARTIAL_VALUES = 1 << 20

    def __init__(
        self, kernels: Any, Xa: np.ndarray, x_sq: np.ndarray, centers: np.ndarray
    ) -> None:
        self.kernels = kernels
        super().__init__(Xa, x_sq, centers)

    def _start(self, centers: np.ndarray) -> None:
        n_rows, width = self.Xa.shape
        k = centers.shape[0]
        self.labels = np.full(n_rows, -1, dtype=np.intp)  # no label: every row is searched
        self.upper, self.lower = np.full(n_rows, np.inf), np.zeros(n_rows)
        self.totals = np.zeros((k, width))
        # fixed chunks (not one per thread), so the sums do not depend on the thread count
        max_chunks = max(1, self._PARTIAL_VALUES // (k * width))
        self.step = max(1024, -(-n_rows // max_chunks))
        self.partial = np.empty((-(-n_rows // self.step), k, width))
        self.searched = n_rows
        self._reassign(centers, np.zeros(k))

    def assign(self, centers: np.ndarray) -> int:
        return self._reassign(centers, self._half_gap(centers))

    def _reassign(self, centers: np.ndarray, half_gap: np.ndarray) -> int:
        k = centers.shape[0]
        moves, others = self.pending if self.pending is not None else (np.zeros(k),) * 2
        self.pending = None
        C = centers.astype(np.float64, copy=False)
        c_sq = _row_norms_sq(C)
        W = np.ascontiguousarray(np.vstack([-2.0 * C.T, c_sq[None, :]]))  # (n_features + 1, k)
        args = (
            self.Xa, self.x_sq, np.ascontiguousarray(C), W, self.labels, self.upper, self.lower,
            moves, others, half_gap, self.rounding, float(np.max(c_sq)), self.step, self.partial,
        )  # fmt: skip
        # a step like the last one: the bound test is a few operations a row, a search a
        # product with the centres; the pool takes ranges of chunks of about _CHUNK_WORK each
        work = 8 * len(self.labels) + self.searched * W.size
        n_chunks = len(self.partial)
        per_task = max(1, n_chunks * _CHUNK_WORK // work)
        counts: dict[int, tuple[int, int]] = {}

        def run(first: int) -> None:
            counts[first] = self.kernels.reassign(*args, first, min(first + per_task, n_chunks))

        _for_each_chunk(run, n_chunks, per_task)
        moved = sum(c[0] for c in counts.values())
        self.searched = sum(c[1] for c in counts.values())
        if moved:
            self.totals += self.partial.sum(axis=0)
        return int(moved)


def _bounds(Xa: np.ndarray, x_sq: np.ndarray, centers: np.ndarray) -> _Bounds:
    """The compiled bounds when ``theta.kernels`` runs Numba and the centres' weights stay in
    cache (beyond that BLAS's blocked products win), else the NumPy ones."""
    compiled = kernels.load("cluster")
    if compiled is not None and centers.shape[0] * Xa.shape[1] <= _COMPILED_WEIGHTS:
        return _CompiledBounds(compiled, Xa, x_sq, centers)
    return _Bounds(Xa, x_sq, centers)


def _lloyd(
    Xa: np.ndarray, x_sq: np.ndarray, centers: np.ndarray, *, max_iter: int, tol: float
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Lloyd's iterations on augmented data (rows' squared norms ``x_sq``) from ``centers``:
    labels, centres, iterations run, converged.

    The assignment skips the rows that Hamerly's bounds prove keep their centre, and the
    per-cluster sums are updated from the rows that changed cluster, so once few points move
    an iteration costs a few vector operations over the rows (one compiled pass with Numba).
    """
    n_samples = Xa.shape[0]
    X = Xa[:, :-1]
    bounds = _bounds(Xa, x_sq, centers)
    labels = bounds.labels  # updated in place by bounds.assign
    converged = strict = False
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        moved = n_samples if n_iter == 1 else bounds.assign(centers)
        sums, counts = bounds.totals[:, :-1].copy(), bounds.totals[:, -1].copy()
        _relocate_empty(X, centers, labels, sums, counts)
        new_centers = (sums / np.maximum(counts, 1.0)[:, None]).astype(X.dtype, copy=False)
        shift = float(np.sum((new_centers - centers) ** 2, dtype=np.float64))
        bounds.move(centers, new_centers)
        centers = new_centers
        if moved == 0:
            converged = strict = True
            break
        if shift <= tol:
            converged = True
            break
    if not strict:  # the last update moved the centres: relabel so labels match them
        bounds.assign(centers)
    return labels.astype(np.int32), centers, n_iter, converged


def _relocate_empty(
    X: np.ndarray, centers: np.ndarray, labels: np.ndarray, sums: np.ndarray, counts: np.ndarray
) -> None:
    """Give each empty cluster one of the points farthest from its centre (scikit-learn's rule).

    Works in place on the per-cluster ``sums`` and ``counts``.
    """
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return
    diff = X - centers[labels]
    distances = np.einsum("ij,ij->i", diff, diff)
    far = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
    for cluster, point in zip(empty, far, strict=True):
        old = labels[point]
        sums[old] -= X[point]
        counts[old] -= 1.0
        sums[cluster] = X[point]
        counts[cluster] = 1.0


class KMeans(ClusterMixin, TransformerMixin, BaseEstimator):
    """K-means clustering by Lloyd's algorithm, with greedy k-means++ seeding.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (centres); at most the number of samples.
    init : {"k-means++", "random"} or array-like of shape (n_clusters, n_features), \
default="k-means++"
        How to choose the initial centres: greedy k-means++, ``n_clusters`` distinct random
        rows, or the given centres.
    n_init : int or "auto", default=1
        Number of runs from different seeds; the one with the lowest inertia is kept.
        scikit-learn's default ``"auto"`` is also accepted: 1 run for k-means++ and for given
        centres, 10 for ``"random"``. Given centres always mean a single run.
    max_iter : int, default=300
        Maximum number of Lloyd iterations per run.
    tol : float, default=1e-4
        Convergence tolerance on the total squared movement of the centres between two
        iterations, relative to the mean variance of the features (as in scikit-learn). A run
        also stops as soon as no label changes.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the initialisation.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centres.
    labels_ : ndarray of shape (n_samples,)
        Cluster index (int32) of every training sample.
    inertia_ : float
        Sum of squared distances of the training samples to their centres.
    n_iter_ : int
        Lloyd iterations of the kept run.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.

    Warns
    -----
    ConvergenceWarning
        When the kept run hit ``max_iter`` before converging, or found fewer distinct clusters
        than ``n_clusters`` (duplicate points).

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 0.0], [10.0, 2.0], [10.0, 4.0], [10.0, 0.0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> bool(km.predict([[0.0, 0.0]])[0] == km.labels_[0])
    True
    >>> round(km.inertia_, 1)
    16.0
    """

    _parameter_constraints = {
        "n_clusters": [Interval(numbers.Integral, 1, None)],
        "init": [Options({"k-means++", "random"}), np.ndarray, list, tuple],
        "n_init": [Interval(numbers.Integral, 1, None), Options({"auto"})],
        "max_iter": [Interval(numbers.Integral, 1, None)],
        "tol": [Interval(numbers.Real, 0, None)],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | Any = "k-means++",
        n_init: int | str = 1,
        max_iter: int = 300,
        tol: float = 1e-4,
        random_state: Any = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> KMeans:
        """Cluster ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : ignored

        Returns
        -------
        self : KMeans
        """
        self._validate_params()
        names = feature_names(X)
        X = as_float(check_array(X, caller=self))
        n_samples, n_features = X.shape
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")
        given = None if isinstance(self.init, str) else self._initial_centers(X)
        n_init = self._n_runs(given is not None)
        rng = check_random_state(self.random_state)
        # data near 1e±300 is clustered divided by a power of two (exact): squared distances
        # would overflow or vanish; centres and inertia are scaled back at the end
        unit = safe_scale(X)
        if unit != 1.0:
            X = X / unit
            given = None if given is None else given / unit
        # centring the data keeps ||x||² - 2x·c + ||c||² accurate far from the origin
        mean = X.mean(axis=0)
        Xa = _augment(X, mean)
        Xc = Xa[:, :-1]
        x_sq = _row_norms_sq(Xc)
        # the mean variance of the features, read off the centred rows' norms
        tol = float(x_sq.sum(dtype=np.float64)) / X.size * self.tol if self.tol else 0.0
        best = None
        for _ in range(n_init):
            if given is not None:
                start = given - mean
            elif self.init == "k-means++":
                start = kmeans_plusplus(Xc, self.n_clusters, rng=rng)
            else:
                start = Xc[rng.choice(n_samples, size=self.n_clusters, replace=False)]
            labels, centers, n_iter, converged = _lloyd(
                Xa, x_sq, start, max_iter=self.max_iter, tol=tol
            )
            inertia = _inertia(Xc, centers, labels)
            if best is None or inertia < best[0]:
                best = (inertia, labels, centers, n_iter, converged)

        inertia, labels, centers, n_iter, converged = best
        if not converged:
            warnings.warn(
                f"KMeans did not converge within max_iter={self.max_iter} iterations; "
                "increase max_iter or tol.",
                sklearn_twin(ConvergenceWarning),
                stacklevel=2,
            )
        distinct = len(np.unique(labels))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                sklearn_twin(ConvergenceWarning),
                stacklevel=2,
            )
        self.cluster_centers_ = (centers + mean) * unit
        self.labels_ = labels
        self.inertia_ = inertia * unit * unit  # inf beyond float64, as it truly is
        self.n_iter_ = n_iter
        self._set_features(n_features, names)
        return self

    def _initial_centers(self, X: np.ndarray) -> np.ndarray:
        centers = check_array(self.init, caller=self, input_name="init").astype(X.dtype)
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of features of the data {X.shape[1]}."
            )
        return centers

    def _n_runs(self, given: bool) -> int:
        if self.n_init == "auto":
            return 10 if self.init == "random" else 1
        if given and self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in KMeans "
                f"instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return int(self.n_init)

    def _check_X(self, X: Any) -> tuple[np.ndarray, np.ndarray, float]:
        """Validated X and the centres, both divided by the scale of the centres (a power of
        two: exact) so that squared distances of data near 1e±300 stay finite; and that
        scale."""
        check_is_fitted(self)
        X = as_float(self._validate_data(X, reset=False))
        unit = safe_scale(self.cluster_centers_)
        centers = self.cluster_centers_.astype(X.dtype, copy=False)
        if unit != 1.0:
            X, centers = X / unit, centers / unit
        return X, centers, unit

    def predict(self, X: Any) -> np.ndarray:
        """Index of the nearest centre of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X, centers, _ = self._check_X(X)
        return _assign(_augment(X), centers)

    def transform(self, X: Any) -> np.ndarray:
        """Euclidean distance of each sample to each centre.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
        """
        X, centers, unit = self._check_X(X)
        # float64 products keep small distances accurate; the result takes X's dtype
        X64 = X.astype(np.float64, copy=False)
        D = _squared_distances(X64, centers.astype(np.float64), _row_norms_sq(X64))
        D = np.sqrt(D, out=D)
        return (D * unit if unit != 1.0 else D).astype(X.dtype, copy=False)

    def score(self, X: Any, y: Any = None) -> float:
        """Opposite of the inertia of ``X`` on the fitted centres (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
        """
        X, centers, unit = self._check_X(X)
        return -_inertia(X, centers, _assign(_augment(X), centers)) * unit * unit

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
