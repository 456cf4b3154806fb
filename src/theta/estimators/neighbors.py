"""k-nearest neighbours: exact and approximate search behind one estimator, recall reported.

The chapter's non-parametric learner: no θ is fitted, the training data *is* the model, and
a prediction is a vote (or an average) of the ``n_neighbors`` most similar training points.

- ``algorithm="brute"`` (default) searches exactly with :func:`theta.pairwise.argkmin`: BLAS
  distances in memory-bounded chunks, float32 kept, and the same neighbours — ties included —
  as scikit-learn's brute force, so predictions are identical to it.
- ``algorithm="hnsw"`` and ``algorithm="ivfpq"`` search approximately with faiss (the
  optional extra ``pip install 'theta-ml[ann]'``): a navigable small-world graph
  (``IndexHNSWFlat``) or an inverted file with product-quantised codes (``IndexIVFPQ``).
  Their candidates are re-ranked with exact distances, so reported distances are exact.
- :func:`recall_at_k` (and the estimators' ``recall`` method) measures what the approximation
  costs: the fraction of the true k nearest neighbours that the approximate search returns.

Nothing else offers exact and approximate kNN as one scikit-learn estimator with the recall
of the approximation reported; switching is one hyperparameter, tuned by ``GridSearchCV``
like any other.

Fitted state (for saving): ``_fit_X`` (training data), ``_y`` (class codes or targets),
``_build`` (a JSON-able dict of the index settings actually used, seed included) and, for the
approximate algorithms, the faiss index in ``_index``: ``_index_bytes()`` serialises it to a
uint8 array and ``_restore_index(data)`` puts it back; when ``_index`` is missing it is rebuilt
from ``_fit_X`` and ``_build``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from theta.estimators.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    check_classification_targets,
    check_is_fitted,
)
from theta.pairwise import argkmin, get_chunk_n_rows, normalize_rows
from theta.rng import check_random_state
from theta.validation import Interval, Options, check_X_y, feature_names

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "recall_at_k"]

_RERANK = 10  # IVF-PQ fetches this many candidates per wanted neighbour, then ranks them exactly
_MIN_CANDIDATES = 64  # ... and at least this many: PQ codes alone often misplace the nearest one
_KMEANS_ITER = 10  # faiss's coarse k-means default is 25; 10 gave the same recall in half the time


def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "algorithm='hnsw' and algorithm='ivfpq' search with faiss, an optional dependency "
            "of theta: install it with pip install 'theta-ml[ann]' (or pip install faiss-cpu)."
        ) from exc
    return faiss


@contextmanager
def _faiss_threads(faiss: Any, n_jobs: int | None) -> Iterator[None]:
    """Run faiss with ``n_jobs`` OpenMP threads (joblib's convention), then restore."""
    if n_jobs is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    n = n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _get_weights(dist: np.ndarray | None, weights: str) -> np.ndarray | None:
    """Inverse distances; a query with exact matches gives them all the weight (scikit-learn)."""
    if weights == "uniform":
        return None
    with np.errstate(divide="ignore"):
        w = 1.0 / dist
    inf_mask = np.isinf(w)
    inf_row = inf_mask.any(axis=1)
    w[inf_row] = inf_mask[inf_row]
    return w


def _candidate_distances(X: np.ndarray, F: np.ndarray, cand: np.ndarray, metric: str) -> np.ndarray:
    """Exact distances from each query ``X[i]`` to the training rows ``F[cand[i]]``."""
    out = np.empty(cand.shape, dtype=X.dtype)
    n_rows = get_chunk_n_rows(cand.shape[1] * F.shape[1] * F.itemsize, max_n_rows=len(X))
    for s in range(0, len(X), n_rows):
        rows = F[np.maximum(cand[s : s + n_rows], 0)]  # (q, n_cand, n_features); -1 = none found
        x = X[s : s + n_rows, None, :]
        if metric == "euclidean":
            diff = rows - x
            out[s : s + n_rows] = np.sqrt(np.einsum("qcf,qcf->qc", diff, diff))
        elif metric == "manhattan":
            out[s : s + n_rows] = np.abs(rows - x).sum(axis=2)
        elif metric == "cosine":
            rows = normalize_rows(rows.reshape(-1, F.shape[1])).reshape(rows.shape)
            cos = np.einsum("qcf,qf->qc", rows, normalize_rows(x[:, 0]))
            out[s : s + n_rows] = np.clip(1 - cos, 0, 2)
        else:
            out[s : s + n_rows] = -np.einsum("qcf,qf->qc", rows, x[:, 0])
    out[cand < 0] = np.inf
    return out


def _auto_pq_m(n_features: int) -> int:
    """Largest divisor of ``n_features`` up to a quarter of it: ~4 dimensions per code byte."""
    target = max(1, n_features // 4)
    return max(m for m in range(1, target + 1) if n_features % m == 0)


class _KNeighbors(BaseEstimator):
    """Fitting, searching and persistence shared by the classifier and the regressor."""

    __theta_state_names__ = ("_fit_X", "_y", "_build", "_index")  # saved with the fit
    _parameter_constraints = {
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "weights": [Options({"uniform", "distance"})],
        "metric": [Options({"euclidean", "cosine", "manhattan", "dot"})],
        "algorithm": [Options({"brute", "hnsw", "ivfpq"})],
        "n_jobs": [numbers.Integral, None],
        "hnsw_m": [Interval(numbers.Integral, 2, None, closed="left")],
        "ef_construction": [Interval(numbers.Integral, 1, None, closed="left")],
        "ef_search": [Interval(numbers.Integral, 1, None, closed="left")],
        "nlist": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "nprobe": [Interval(numbers.Integral, 1, None, closed="left")],
        "pq_m": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "pq_bits": [Interval(numbers.Integral, 1, 16, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_neighbors: int = 5,
        *,
        weights: str = "uniform",
        metric: str = "euclidean",
        algorithm: str = "brute",
        n_jobs: int | None = None,
        hnsw_m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int = 16,
        pq_m: int | None = None,
        pq_bits: int = 8,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.metric = metric
        self.algorithm = algorithm
        self.n_jobs = n_jobs
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.nlist = nlist
        self.nprobe = nprobe
        self.pq_m = pq_m
        self.pq_bits = pq_bits
        self.random_state = random_state

    # --- fitting ----------------------------------------------------------------------------

    def _check_fit(self, X: Any, y: Any, y_numeric: bool) -> tuple[np.ndarray, np.ndarray, Any]:
        """Validate hyperparameters and data together, before anything is stored; also return
        X's column names."""
        self._validate_params()
        if self.n_jobs == 0:
            raise ValueError("n_jobs == 0 has no meaning; use None, -1 (all cores) or >= 1.")
        if self.weights == "distance" and self.metric == "dot":
            raise ValueError(
                "weights='distance' needs non-negative distances, but metric='dot' reports "
                "-x·y; use weights='uniform' or metric='cosine'."
            )
        if self.algorithm == "ivfpq" and self.metric == "manhattan":
            raise ValueError(
                "algorithm='ivfpq' quantises for L2 or inner products, so it cannot search with "
                "metric='manhattan'; use algorithm='hnsw' or 'brute'."
            )
        names = feature_names(X)
        X, y = check_X_y(X, y, y_numeric=y_numeric, caller=self)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        return np.ascontiguousarray(X), y, names

    def _fit_search(self, X: np.ndarray, names: Any) -> None:
        """Store the training data and, for approximate search, build the faiss index."""
        build: dict[str, Any] = {"algorithm": self.algorithm, "metric": self.metric}
        if self.algorithm != "brute":
            n, d = X.shape
            seed = int(check_random_state(self.random_state).integers(2**31 - 1))
            build["seed"] = seed
            if self.algorithm == "hnsw":
                build.update(hnsw_m=int(self.hnsw_m), ef_construction=int(self.ef_construction))
                if self.metric == "dot":
                    build["max_norm"] = float(np.sqrt(np.einsum("ij,ij->i", X, X).max()))
            else:
                nlist = self.nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
                pq_m = self.pq_m or _auto_pq_m(d)
                if d % pq_m:
                    raise ValueError(f"pq_m={pq_m} must divide n_features={d}.")
                if n < max(nlist, 2**self.pq_bits):
                    raise ValueError(
                        f"algorithm='ivfpq' needs at least max(nlist, 2**pq_bits) = "
                        f"{max(nlist, 2**self.pq_bits)} training samples to train its "
                        f"quantizers (got {n}); lower nlist or pq_bits, or use 'brute'."
                    )
                build.update(nlist=int(nlist), pq_m=int(pq_m), pq_bits=int(self.pq_bits))
            index = _build_index(X, build, self.n_jobs)  # may raise: nothing stored yet
        else:
            index = None
        self._fit_X = X
        self._build = build
        self._index = index
        self.n_samples_fit_ = len(X)
        self.effective_metric_ = self.metric
        self._set_features(X.shape[1], names)

    # --- searching --------------------------------------------------------------------------

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> Any:
        """Find the ``n_neighbors`` nearest training points of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), optional
            ``None`` queries the training points themselves, each excluded from its own
            neighbours (scikit-learn's convention).
        n_neighbors : int, optional
            Defaults to the ``n_neighbors`` given at construction.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Sorted ascending. For ``metric="dot"`` these are ``-x·y`` (larger inner product,
            nearer). Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours in the training data.

        Notes
        -----
        Exact search returns the neighbours scikit-learn's brute force returns, including
        which of several points tied at the k-th distance are kept (scikit-learn's order on
        one thread; with more, scikit-learn's own choice varies with the thread count).
        Equal distances are listed in index order.
        """
        return self._neighbors(X, n_neighbors, return_distance, exact=False)

    def _neighbors(self, X: Any, n_neighbors: Any, return_distance: bool, exact: bool) -> Any:
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif not isinstance(n_neighbors, numbers.Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter integer value"
            )
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        query_is_train = X is None
        if query_is_train:
            X = self._fit_X
            n_neighbors += 1  # the point itself comes back and is removed below
        else:
            X = self._validate_data(X, reset=False)
            X = np.ascontiguousarray(X, dtype=self._fit_X.dtype)
        if n_neighbors > self.n_samples_fit_:
            what = (
                "n_neighbors < n_samples_fit" if query_is_train else "n_neighbors <= n_samples_fit"
            )
            raise ValueError(
                f"Expected {what}, but n_neighbors = {n_neighbors - query_is_train}, "
                f"n_samples_fit = {self.n_samples_fit_}, n_samples = {X.shape[0]}"
            )
        if exact or self._build["algorithm"] == "brute":
            dist, ind = argkmin(X, self._fit_X, n_neighbors, metric=self.effective_metric_)
        else:
            dist, ind = self._approximate(X, n_neighbors)
        if query_is_train:
            dist, ind = _drop_self(dist, ind, self.effective_metric_ == "dot")
        return (dist, ind) if return_distance else ind

    def _approximate(self, X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """faiss candidates, re-ranked by exact distance; rows it under-fills go exact."""
        faiss = _import_faiss()
        index = self._get_index()
        metric = self.effective_metric_
        if self._build["algorithm"] == "hnsw":
            n_cand = k
            index.hnsw.efSearch = max(int(self.ef_search), k)
        else:
            n_cand = min(self.n_samples_fit_, max(_RERANK * k, _MIN_CANDIDATES))
            index.nprobe = min(int(self.nprobe), index.nlist)
        with _faiss_threads(faiss, self.n_jobs):
            _, cand = index.search(_faiss_vectors(X, self._build), n_cand)
        dist = _candidate_distances(X, self._fit_X, cand, metric)
        order = np.lexsort((cand, dist), axis=1)[:, :k]
        dist = np.take_along_axis(dist, order, axis=1)
        ind = np.take_along_axis(cand, order, axis=1)
        short = np.flatnonzero(~np.isfinite(dist[:, -1]))  # faiss found fewer than k
        if len(short):
            dist[short], ind[short] = argkmin(X[short], self._fit_X, k, metric=metric)
        return dist, ind

    def recall(self, X: Any = None, k: int = 10) -> float:
        """Recall@k of this estimator's search against exact search (see :func:`recall_at_k`)."""
        return recall_at_k(self, X, k)

    # --- the faiss index and its persistence --------------------------------------------------

    def _get_index(self) -> Any:
        if getattr(self, "_index", None) is None:  # e.g. loaded from arrays only: rebuild
            self._index = _build_index(self._fit_X, self._build, self.n_jobs)
        return self._index

    def _index_bytes(self) -> np.ndarray:
        """The fitted faiss index as a uint8 array (empty for ``algorithm="brute"``)."""
        check_is_fitted(self)
        if self._build["algorithm"] == "brute":
            return np.zeros(0, dtype=np.uint8)
        return _import_faiss().serialize_index(self._get_index())

    def _restore_index(self, data: np.ndarray) -> None:
        """Put back an index saved by :meth:`_index_bytes`."""
        if len(data):
            self._index = _import_faiss().deserialize_index(np.asarray(data, dtype=np.uint8))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if state.get("_index") is not None:  # faiss objects do not pickle; their bytes do
            state["_index"] = None
            state["_index_serialized"] = self._index_bytes()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        data = state.pop("_index_serialized", None)
        self.__dict__.update(state)
        if data is not None:
            self._restore_index(data)


def _faiss_vectors(X: np.ndarray, build: dict[str, Any], fit: bool = False) -> np.ndarray:
    """What faiss indexes and searches: float32 rows, unit length for cosine (L2 then ranks as
    cosine does). For HNSW with ``dot``, rows get one more coordinate, ``sqrt(M² - ||x||²)``
    for training rows and 0 for queries, so that L2 ranks as the inner product does
    (||q - x'||² = ||q||² + M² - 2 q·x): graph search is reliable on a metric, and inner
    product is not one."""
    if build["metric"] == "cosine":
        X = normalize_rows(X)
    if build["metric"] == "dot" and build["algorithm"] == "hnsw":
        X = X.astype(np.float64)
        sq = np.einsum("ij,ij->i", X, X)
        extra = np.sqrt(np.maximum(build["max_norm"] ** 2 - sq, 0.0)) if fit else 0 * sq
        X = np.column_stack([X, extra])
    return np.ascontiguousarray(X, dtype=np.float32)


def _build_index(X: np.ndarray, build: dict[str, Any], n_jobs: int | None) -> Any:
    """A trained, filled faiss index for ``X`` with the settings in ``build``."""
    faiss = _import_faiss()
    data = _faiss_vectors(X, build, fit=True)
    d = data.shape[1]
    metric = faiss.METRIC_L2
    if build["metric"] == "manhattan":
        metric = faiss.METRIC_L1
    elif build["metric"] == "dot" and build["algorithm"] == "ivfpq":
        metric = faiss.METRIC_INNER_PRODUCT
    with _faiss_threads(faiss, n_jobs):
        if build["algorithm"] == "hnsw":
            index = faiss.IndexHNSWFlat(d, build["hnsw_m"], metric)
            index.hnsw.efConstruction = build["ef_construction"]
            index.hnsw.rng = faiss.RandomGenerator(build["seed"])  # the level of each node
        else:
            ip = metric == faiss.METRIC_INNER_PRODUCT
            quantizer = faiss.IndexFlatIP(d) if ip else faiss.IndexFlatL2(d)
            index = faiss.IndexIVFPQ(
                quantizer, d, build["nlist"], build["pq_m"], build["pq_bits"], metric
            )
            for cp in (index.cp, index.pq.cp):  # k-means of the coarse cells and the codebooks
                cp.seed = build["seed"]
                cp.niter = _KMEANS_ITER
                cp.min_points_per_centroid = 1  # small data is fine here; silence faiss's warning
            index.train(data)
        index.add(data)
    return index


def _drop_self(
    dist: np.ndarray, ind: np.ndarray, similarity: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Remove each training point from its own neighbours. scikit-learn's rule: if the point
    is not among them, duplicates at distance 0 crowded it out, and the first one goes. For a
    similarity (dot) a point need not be its own best match; then the farthest goes."""
    n_queries, n_cols = ind.shape
    mask = ind != np.arange(n_queries)[:, None]
    dup_gr_nbrs = np.all(mask, axis=1)
    mask[:, -1 if similarity else 0][dup_gr_nbrs] = False
    shape = (n_queries, n_cols - 1)
    return dist[mask].reshape(shape), ind[mask].reshape(shape)


def recall_at_k(estimator: Any, X: Any = None, k: int = 10) -> float:
    """Fraction of the exact ``k`` nearest neighbours that the estimator's search returns.

    The approximate search (``algorithm="hnsw"`` or ``"ivfpq"``) and an exact search run on
    the same fitted data and the same queries; recall@k is ``|approx ∩ exact| / k`` averaged
    over the queries. It is 1.0 for ``algorithm="brute"``. ``ef_search`` and ``nprobe`` are
    read at query time, so ``set_params(nprobe=64)`` followed by this function shows the
    speed/recall trade-off without refitting.

    Parameters
    ----------
    estimator : KNeighborsClassifier or KNeighborsRegressor
        A fitted estimator.
    X : array-like of shape (n_queries, n_features), optional
        Queries; ``None`` uses the training points (each excluded from its own neighbours).
    k : int, default=10
        Neighbours per query.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(300, 8)), rng.integers(0, 2, 300)
    >>> knn = KNeighborsClassifier(algorithm="brute").fit(X, y)
    >>> recall_at_k(knn, X[:20], k=10)
    1.0
    """
    approx = estimator._neighbors(X, k, return_distance=False, exact=False)
    exact = estimator._neighbors(X, k, return_distance=False, exact=True)
    hits = (approx[:, :, None] == exact[:, None, :]).any(axis=2).sum()
    return float(hits / exact.size)


class KNeighborsClassifier(ClassifierMixin, _KNeighbors):
    """Classify by a vote among the ``n_neighbors`` nearest training points.

    Exact by default, with predictions identical to scikit-learn's brute force; approximate
    with ``algorithm="hnsw"`` or ``"ivfpq"``, whose recall against exact search
    :meth:`recall` reports.

    Parameters
    ----------
    n_neighbors : int, default=5
        Neighbours that vote (or are averaged).
    weights : {"uniform", "distance"}, default="uniform"
        ``"distance"`` weights each neighbour by the inverse of its distance; a query that
        coincides with training points gives them all the weight.
    metric : {"euclidean", "cosine", "manhattan", "dot"}, default="euclidean"
        ``"dot"`` is maximum inner product search: larger ``x·y`` is nearer, and distances
        are reported as ``-x·y`` (so it needs ``weights="uniform"``).
    algorithm : {"brute", "hnsw", "ivfpq"}, default="brute"
        Exact search, or approximate search with faiss (``pip install 'theta-ml[ann]'``).
        ``"ivfpq"`` supports every metric but manhattan.
    n_jobs : int, optional
        faiss threads (-1: all cores); ``None`` keeps faiss's default. Exact search uses
        theta's threads (``theta.set_num_threads``).
    hnsw_m : int, default=32
        HNSW: links per node. More is more accurate, slower to build and bigger.
    ef_construction : int, default=200
        HNSW: candidate list size while building.
    ef_search : int, default=128
        HNSW: candidate list size while searching; read at query time.
    nlist : int, optional
        IVF-PQ: number of coarse cells; default ``min(4 * sqrt(n_samples), n_samples // 39)``.
    nprobe : int, default=16
        IVF-PQ: cells visited per query; read at query time.
    pq_m : int, optional
        IVF-PQ: sub-vectors per code (must divide ``n_features``); default about
        ``n_features / 4``. IVF-PQ fetches ``10 * n_neighbors`` candidates (at least 64)
        and re-ranks them with exact distances.
    pq_bits : int, default=8
        IVF-PQ: bits per sub-vector code.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds faiss (HNSW levels, IVF-PQ k-means). Exact search uses no randomness.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels seen during ``fit`` (any type ``np.unique`` sorts).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.
    n_samples_fit_ : int
        Number of training points.
    effective_metric_ : str
        The metric used.

    Examples
    --------
    >>> clf = KNeighborsClassifier(n_neighbors=1).fit([[0.0], [1.0]], ["a", "b"])
    >>> clf.predict([[0.9]])
    array(['b'], dtype='<U1')
    >>> clf.kneighbors([[0.9]])
    (array([[0.1]]), array([[1]]))
    """

    def fit(self, X: Any, y: Any) -> KNeighborsClassifier:
        """Store ``X`` (n_samples, n_features) and labels ``y`` (n_samples,); returns self."""
        X, y, names = self._check_fit(X, y, y_numeric=False)
        if y.ndim != 1:
            raise ValueError(
                f"KNeighborsClassifier supports one output; y has shape {y.shape}. Fit one "
                "classifier per column."
            )
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        self._fit_search(X, names)
        self.classes_ = classes
        self._y = codes.astype(np.intp)
        return self

    def _votes(self, X: Any, mode: bool) -> np.ndarray:
        """(n_queries, n_classes) vote totals, summed as scikit-learn sums them."""
        check_is_fitted(self)
        if self.weights == "uniform":
            ind = self._neighbors(X, None, False, exact=False)
            w = None
        else:
            dist, ind = self._neighbors(X, None, True, exact=False)
            w = _get_weights(dist, self.weights)
        codes = self._y[ind]
        votes = np.zeros((len(ind), len(self.classes_)))
        if mode and w is not None:  # scikit-learn's weighted_mode, one class at a time
            for c in range(len(self.classes_)):
                votes[:, c] = np.sum(np.where(codes == c, w, 0.0), axis=1)
            return votes
        rows = np.arange(len(ind))
        for i in range(codes.shape[1]):  # O(n_neighbors) passes, as scikit-learn adds them
            votes[rows, codes[:, i]] += 1.0 if w is None else w[:, i]
        return votes

    def predict(self, X: Any = None) -> np.ndarray:
        """Most-voted class of each query (ties: the smallest class); ``None`` = training
        points, each left out of its own vote."""
        votes = self._votes(X, mode=True)
        return self.classes_[np.argmax(votes, axis=1)]

    def predict_proba(self, X: Any = None) -> np.ndarray:
        """Vote shares, ndarray of shape (n_queries, n_classes), columns as ``classes_``."""
        votes = self._votes(X, mode=False)
        return votes / votes.sum(axis=1, keepdims=True)


class KNeighborsRegressor(RegressorMixin, _KNeighbors):
    """Predict the (weighted) mean target of the ``n_neighbors`` nearest training points.

    Exact by default, as scikit-learn's brute force; approximate with ``algorithm="hnsw"``
    or ``"ivfpq"``, whose recall against exact search :meth:`recall` reports. ``y`` may
    have several columns (multi-output).

    Parameters
    ----------
    n_neighbors : int, default=5
        Neighbours that vote (or are averaged).
    weights : {"uniform", "distance"}, default="uniform"
        ``"distance"`` weights each neighbour by the inverse of its distance; a query that
        coincides with training points gives them all the weight.
    metric : {"euclidean", "cosine", "manhattan", "dot"}, default="euclidean"
        ``"dot"`` is maximum inner product search: larger ``x·y`` is nearer, and distances
        are reported as ``-x·y`` (so it needs ``weights="uniform"``).
    algorithm : {"brute", "hnsw", "ivfpq"}, default="brute"
        Exact search, or approximate search with faiss (``pip install 'theta-ml[ann]'``).
        ``"ivfpq"`` supports every metric but manhattan.
    n_jobs : int, optional
        faiss threads (-1: all cores); ``None`` keeps faiss's default. Exact search uses
        theta's threads (``theta.set_num_threads``).
    hnsw_m : int, default=32
        HNSW: links per node. More is more accurate, slower to build and bigger.
    ef_construction : int, default=200
        HNSW: candidate list size while building.
    ef_search : int, default=128
        HNSW: candidate list size while searching; read at query time.
    nlist : int, optional
        IVF-PQ: number of coarse cells; default ``min(4 * sqrt(n_samples), n_samples // 39)``.
    nprobe : int, default=16
        IVF-PQ: cells visited per query; read at query time.
    pq_m : int, optional
        IVF-PQ: sub-vectors per code (must divide ``n_features``); default about
        ``n_features / 4``. IVF-PQ fetches ``10 * n_neighbors`` candidates (at least 64)
        and re-ranks them with exact distances.
    pq_bits : int, default=8
        IVF-PQ: bits per sub-vector code.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds faiss (HNSW levels, IVF-PQ k-means). Exact search uses no randomness.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of str objects
        Column names of a DataFrame given to ``fit``, when all are strings; later calls must
        pass the same columns in the same order.
    n_samples_fit_ : int
        Number of training points.
    effective_metric_ : str
        The metric used.

    Examples
    --------
    >>> reg = KNeighborsRegressor(n_neighbors=2).fit([[0.0], [1.0], [3.0]], [0.0, 1.0, 3.0])
    >>> reg.predict([[0.4]])
    array([0.5])
    """

    def fit(self, X: Any, y: Any) -> KNeighborsRegressor:
        """Store ``X`` (n_samples, n_features) and targets ``y`` (n_samples,) or
        (n_samples, n_targets); returns self."""
        X, y, names = self._check_fit(X, y, y_numeric=True)
        self._fit_search(X, names)
        self._y = y
        return self

    def predict(self, X: Any = None) -> np.ndarray:
        """Mean target of each query's neighbours, shape (n_queries,) or (n_queries,
        n_targets); ``None`` = training points, each left out of its own average."""
        check_is_fitted(self)
        if self.weights == "uniform":
            ind = self._neighbors(X, None, False, exact=False)
            w = None
        else:
            dist, ind = self._neighbors(X, None, True, exact=False)
            w = _get_weights(dist, self.weights)
        y = self._y.reshape(-1, 1) if self._y.ndim == 1 else self._y
        if w is None:
            pred = np.mean(y[ind], axis=1)
        else:
            pred = np.empty((len(ind), y.shape[1]), dtype=np.float64)
            denom = np.sum(w, axis=1)
            for j in range(y.shape[1]):
                pred[:, j] = np.sum(y[ind, j] * w, axis=1) / denom
        return pred.ravel() if self._y.ndim == 1 else pred

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
