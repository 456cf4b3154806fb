"""Semantic search on a Dask cluster: a corpus embedded by the workers, one index shard each.

:class:`ShardedIndex` is what ``SemanticSearch.fit(documents, backend="dask")`` builds:

1. **Partition.** The corpus is cut into contiguous partitions (at most ``_PARTITION``
   documents, at least ``_PER_SHARD`` per shard, so that a worker that dies loses little and
   the others share its work), and consecutive partitions make one shard.
2. **Embed.** ``client.map`` embeds each partition on whichever worker is free. The encoder is
   loaded once per worker process and kept in a cache keyed by its identity
   (:func:`_worker_encoder`): the default MiniLM is read by each worker from its own installed
   weights; another encoder is pickled once on the lead, sent as one Dask future (fetched once
   per worker) and unpickled by the first task that needs it. No task carries the model.
3. **Build.** One task per shard stacks its partitions' vectors and fits an exact (brute),
   HNSW or IVF-PQ :class:`~theta.estimators.neighbors.KNeighborsClassifier` whose labels are
   the documents' global positions. The fitted index *is* the task's result: it stays in the
   memory of the worker that built it, and the lead holds only its future.
4. **Query.** One task embeds the queries; each shard returns its own top ``k`` (distances
   and global positions), and the lead merges them (:func:`merge_top_k`), ties broken by
   position, so exact sharded search returns what exact search on one machine returns.

Why futures and not actors or a registry keyed by shard id in each worker: a future's value
has a lineage. When a worker dies, the scheduler re-runs what is lost (the embeddings of its
partitions, its shard) on the others, so a search after a failure still sees every document;
an actor or a worker-side registry would be gone for good, and the registry would also outlive
the client that made it. The price: shards live as long as the lead holds their futures (its
client); :meth:`ShardedIndex.save` writes them to disk, one file per shard written by the
worker that holds it, and :meth:`ShardedIndex.load` puts them back on a cluster.

Speed: Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes
glibc map and fault every large array afresh; MiniLM then embedded about 1.5x slower than in a
plain process. Workers meant for embedding can leave it out (``dask.config.set(
{"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})`` before starting them,
as ``benchmarks/bench_corpus.py`` does) or run with ``--no-nanny``.

Dask is an optional dependency (``pip install 'theta-ml[dask]'``), imported only here and only
when a cluster is used.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from theta.errors import CheckpointError
from theta.estimators.neighbors import KNeighborsClassifier
from theta.io import load, save
from theta.io.models import theta_version
from theta.models import load_minilm
from theta.progress import progress_bar
from theta.rng import check_random_state
from theta.tensorfile import atomic_directory, atomic_write_text
from theta.treefile import parse_json
from theta.validation import Interval, check_param

__all__ = ["ShardedIndex", "dask_client", "embed_on_cluster", "kneighbors_by_position",
           "merge_top_k"]

_PARTITION = 1024  # most documents one embedding task gets
_PER_SHARD = 4  # fewest partitions per shard: a dead worker's share is spread over the others
_MINILM = "all-MiniLM-L6-v2"  # the cache key (and saved name) of the default encoder
_CACHED = 4  # encoders a worker keeps; an older one is dropped when a fifth arrives
_MANIFEST = "index.json"
_FORMAT = "theta.sharded_index"
_FORMAT_VERSION = 1
_SHARD_NAME = re.compile(r"shard-\d{5}")

_encoders: dict[str, Any] = {}  # in each worker process: encoder key -> loaded encoder
_encoders_lock = threading.Lock()


def dask_client(scheduler: Any = None) -> tuple[Any, bool]:
    """A ``distributed.Client`` for ``scheduler``, and whether the caller must close it.

    Parameters
    ----------
    scheduler : str, distributed.Client or None
        A scheduler's address (``"tcp://host:8786"``: a new client, owned by the caller), a
        client (used as it is), or None (the current default client).

    Raises
    ------
    ImportError
        If Dask's ``distributed`` is not installed (naming the ``dask`` extra).
    TypeError, ValueError
        If ``scheduler`` is something else, or None with no current client.
    """
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "backend='dask' needs Dask's distributed scheduler: pip install 'theta-ml[dask]'"
        ) from None
    if scheduler is None:
        try:
            return distributed.get_client(), False
        except ValueError:
            raise ValueError(
                "backend='dask' needs scheduler='tcp://host:port' (the address of a running "
                "Dask scheduler) or an active distributed.Client."
            ) from None
    if isinstance(scheduler, str):
        return distributed.Client(scheduler, set_as_default=False), True
    if not hasattr(scheduler, "submit"):
        raise TypeError(
            "scheduler must be an address such as 'tcp://127.0.0.1:8786' or a "
            f"distributed.Client; got {scheduler!r}."
        )
    return scheduler, False


# --- on the workers -----------------------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _worker_encoder(key: str, payload: bytes | None) -> Any:
    """The encoder ``key`` in this process, loaded by the first task that asks for it."""
    with _encoders_lock:  # a worker with several threads loads it once, not once per thread
        encoder = _encoders.get(key)
        if encoder is None:
            if payload is None:
                encoder = load_minilm()
            else:
                import cloudpickle

                encoder = cloudpickle.loads(payload)
            if len(_encoders) >= _CACHED:
                _encoders.pop(next(iter(_encoders)))
            _encoders[key] = encoder
    return encoder


def _embed(key: str, payload: bytes | None, texts: list[str], batch_size: int) -> np.ndarray:
    """``texts`` embedded on a worker: ndarray of shape (n_texts, dimension)."""
    vectors = _worker_encoder(key, payload).encode(texts, batch_size=batch_size, progress=False)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise ValueError(
            f"the encoder returned an array of shape {vectors.shape} for {len(texts)} texts; "
            "expected (n_texts, dimension)."
        )
    return vectors


def _build_shard(start: int, params: dict[str, Any], *parts: np.ndarray) -> KNeighborsClassifier:
    """A cosine kNN index over the stacked ``parts``, labelled by global position."""
    X = np.concatenate(parts)  # (n_shard_documents, dimension)
    ids = np.arange(start, start + len(X))
    return KNeighborsClassifier(n_neighbors=1, metric="cosine", **params).fit(X, ids)


def _shard_span(shard: KNeighborsClassifier) -> tuple[int, int]:
    """(first global position, number of documents) of a shard."""
    return int(shard.classes_[0]), int(shard.n_samples_fit_)


def _search_shard(
    shard: KNeighborsClassifier, vectors: np.ndarray, k: int, exact: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The shard's ``k`` nearest documents of each query: cosine distances and global positions,
    each an ndarray of shape (n_queries, min(k, n_shard_documents))."""
    dist, ind = kneighbors_by_position(shard, vectors, min(k, shard.n_samples_fit_), exact)
    return dist, shard.classes_[ind]


def _save_shard(shard: KNeighborsClassifier, path: str) -> str:
    save(shard, path)
    return path


def _load_shard(path: str, start: int, n: int) -> KNeighborsClassifier:
    shard = load(path)
    if not isinstance(shard, KNeighborsClassifier) or not np.array_equal(
        shard.classes_, np.arange(start, start + n)
    ):
        raise CheckpointError(
            f"{path} does not hold the index of documents {start}..{start + n - 1} that "
            f"{_MANIFEST} lists for it."
        )
    return shard


def kneighbors_by_position(
    index: KNeighborsClassifier, X: np.ndarray, k: int, exact: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``index.kneighbors(X, k)``, but exact search keeps the lowest positions among the
    points tied at the k-th distance (the estimator keeps whichever ``np.argpartition``
    keeps, as scikit-learn does): the rule that makes a search split into shards and merged
    by :func:`merge_top_k` return what one search over everything returns.

    Approximate search (``exact=False`` with an HNSW or IVF-PQ index) is returned as found.

    Returns
    -------
    distances, indices : ndarray of shape (n_queries, k)
        Ascending; equal distances by increasing index.
    """
    exact = exact or index._build["algorithm"] == "brute"
    n = index.n_samples_fit_
    wanted = min(n, k + 1) if exact else k
    while True:
        dist, ind = index._neighbors(X, wanted, True, exact=exact)
        # every tie of the k-th distance is in hand once a farther point is, or all points are
        if wanted == k or wanted == n or (dist[:, -1] > dist[:, k - 1]).all():
            break
        wanted = min(n, 2 * wanted)
    order = np.lexsort((ind, dist), axis=1)[:, :k]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)


# --- on the lead ----------------------------------------------------------------------------


def merge_top_k(
    distances: Sequence[np.ndarray], ids: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of several shards' results for the same queries, nearest first.

    Equal distances are listed by increasing id, as exact search on one machine lists them.

    Parameters
    ----------
    distances, ids : sequence of ndarray of shape (n_queries, k_shard)
        Each shard's distances and global ids (``k_shard`` may differ between shards).
    k : int
        Results kept per query.

    Returns
    -------
    distances, ids : ndarray of shape (n_queries, k)

    Examples
    --------
    >>> d, i = merge_top_k([np.array([[0.1, 0.5]]), np.array([[0.1, 0.2]])],
    ...                    [np.array([[7, 1]]), np.array([[3, 4]])], k=3)
    >>> d.tolist(), i.tolist()
    ([[0.1, 0.1, 0.2]], [[3, 7, 4]])
    """
    dist = np.concatenate(distances, axis=1)  # (n_queries, sum of k_shard)
    ind = np.concatenate(ids, axis=1)
    order = np.lexsort((ind, dist), axis=1)[:, :k]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)


def _encoder_ref(client: Any, encoder: Any) -> tuple[str, Any]:
    """The cache key of ``encoder`` and what the workers load it from (None: MiniLM)."""
    if encoder is None:
        return _MINILM, None
    import cloudpickle  # a distributed dependency; pickles classes defined in __main__ too

    payload = cloudpickle.dumps(encoder)
    key = hashlib.sha256(payload).hexdigest()
    # a task, not scattered data: should every worker holding it die, the scheduler rebuilds it
    return key, client.submit(_identity, payload, key=f"theta-encoder-{key}")


def _partitions(n: int, n_shards: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) ranges covering ``range(n)``: at most ``_PARTITION`` long, and
    at least ``_PER_SHARD`` per shard where ``n`` allows."""
    n_parts = min(n, max(n_shards * _PER_SHARD, math.ceil(n / _PARTITION)))
    bounds = [i * n // n_parts for i in range(n_parts + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _workers(client: Any) -> list[str]:
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise RuntimeError(
            f"the Dask scheduler at {client.scheduler.address} has no workers; start some "
            "with `dask worker ADDRESS`."
        )
    return workers


def _describe(encoder: Any) -> str:
    """The encoder's name as ``index.json`` records it."""
    if encoder is None:
        return _MINILM
    return f"{type(encoder).__module__}.{type(encoder).__qualname__}"


def embed_on_cluster(
    texts: Sequence[str],
    *,
    encoder: Any = None,
    scheduler: Any = None,
    batch_size: int = 32,
    progress: bool | None = None,
) -> np.ndarray:
    """Embed ``texts`` on a Dask cluster's workers, each loading the encoder once.

    Parameters
    ----------
    texts : sequence of str
    encoder : object with ``encode(texts, batch_size=, progress=)``, optional
        Default: all-MiniLM-L6-v2, which every worker loads from its own installed weights.
    scheduler : str or distributed.Client, optional
        The scheduler's address; default: the current client.
    batch_size : int, default=32
        Texts per forward pass on a worker.
    progress : bool, optional
        A progress bar over the texts (default: only on a terminal).

    Returns
    -------
    ndarray of shape (n_texts, dimension)
        In the order of ``texts``.

    Raises
    ------
    ValueError
        If there are no texts.
    """
    if not texts:
        raise ValueError("embed_on_cluster: there are no texts to embed.")
    client, owned = dask_client(scheduler)
    try:
        spans = _partitions(len(texts), len(_workers(client)))
        parts = _embed_partitions(client, _encoder_ref(client, encoder), texts, spans, batch_size)
        _follow(parts, spans, progress)
        return np.concatenate(client.gather(parts))
    finally:
        if owned:
            client.close()


def _embed_partitions(client: Any, ref: tuple[str, Any], texts: Sequence[str],
                      spans: list[tuple[int, int]], batch_size: int) -> list[Any]:  # fmt: skip
    """One embedding future per span of ``texts``, on whichever worker is free. Their texts
    travel inside the tasks (not scattered), so the scheduler can re-run a lost one."""
    key, payload = ref
    n = len(spans)
    return client.map(_embed, [key] * n, [payload] * n, [list(texts[a:b]) for a, b in spans],
                      [batch_size] * n, retries=1)  # fmt: skip


def _follow(futures: list[Any], spans: list[tuple[int, int]], progress: bool | None) -> None:
    """Wait for ``futures`` (one per span of documents), with a bar over the documents; raise
    the first task error."""
    from distributed import as_completed

    sizes = {f.key: b - a for f, (a, b) in zip(futures, spans, strict=True)}
    bar = progress_bar(spans[-1][1], unit="doc", enabled=progress)
    try:
        for future in as_completed(futures, loop=futures[0].client.loop):
            if future.status == "error":
                raise future.exception()
            if bar is not None:
                bar.update(sizes[future.key])
    finally:
        if bar is not None:
            bar.close()


class ShardedIndex:
    """A cosine kNN index whose shards live in the memory of Dask workers.

    Built by :meth:`build` (or ``SemanticSearch.fit(documents, backend="dask")``) or by
    :meth:`load`; queried with :meth:`kneighbors`. See the module docstring for how.

    Attributes
    ----------
    n_documents : int
        Documents indexed, over all shards.
    n_shards : int
    algorithm : {"brute", "hnsw", "ivfpq"}
    """

    def __init__(self, client: Any, owned: bool, encoder: Any, encoder_ref: tuple[str, Any],
                 shards: list[Any], n_documents: int, algorithm: str,
                 batch_size: int) -> None:  # fmt: skip
        self._client, self._owned = client, owned
        self._encoder = encoder  # as given: None is MiniLM
        self._key, self._payload = encoder_ref  # see _encoder_ref
        self._shards = shards  # futures of fitted KNeighborsClassifier, in document order
        self.n_documents, self.n_shards = n_documents, len(shards)
        self.algorithm, self.batch_size = algorithm, batch_size

    @classmethod
    def build(
        cls,
        documents: Sequence[str],
        *,
        encoder: Any = None,
        scheduler: Any = None,
        algorithm: str = "brute",
        n_shards: int | None = None,
        batch_size: int = 32,
        random_state: Any = None,
        progress: bool | None = None,
    ) -> ShardedIndex:
        """Embed ``documents`` on the cluster and index them in ``n_shards`` shards (default:
        one per worker), each held by a worker.

        Raises
        ------
        RuntimeError
            If the scheduler has no workers, or the shards do not hold every document exactly
            once (never expected: the scheduler recomputes what a dead worker held).
        """
        check_param(n_shards, "n_shards", [Interval(numbers.Integral, 1, None), None],
                    caller="SemanticSearch.fit")  # fmt: skip
        client, owned = dask_client(scheduler)
        try:
            workers = _workers(client)
            n_shards = min(n_shards or len(workers), len(documents))
            spans = _partitions(len(documents), n_shards)
            ref = _encoder_ref(client, encoder)
            parts = _embed_partitions(client, ref, documents, spans, batch_size)
            seeds = check_random_state(random_state).integers(2**31 - 1, size=n_shards)
            shards = []
            for s in range(n_shards):
                first, last = s * len(spans) // n_shards, (s + 1) * len(spans) // n_shards
                params = {"algorithm": algorithm, "random_state": int(seeds[s])}
                # the shards are spread over the workers; the scheduler may move one if its
                # worker is gone
                shards.append(client.submit(_build_shard, spans[first][0], params,
                                            *parts[first:last], workers=[workers[s % len(workers)]],
                                            allow_other_workers=True, pure=False))  # fmt: skip
            _follow(parts, spans, progress)
            index = cls(client, owned, encoder, ref, shards, len(documents), algorithm,
                        batch_size)  # fmt: skip
            index._check_spans()
        except BaseException:
            if owned:
                client.close()
            raise
        return index

    def _spans(self) -> list[tuple[int, int]]:
        """(first position, count) of each shard, asked of the workers that hold them."""
        submit = self._client.submit
        return self._client.gather([submit(_shard_span, s, pure=False) for s in self._shards])

    def _check_spans(self) -> None:
        """Every document in exactly one shard, in order (the final count after a failure)."""
        found = self._spans()
        starts = np.cumsum([0] + [n for _, n in found])
        if [a for a, _ in found] != starts[:-1].tolist() or starts[-1] != self.n_documents:
            raise RuntimeError(
                f"the shards hold documents {found} (first position, count); expected all "
                f"{self.n_documents} once, in order."
            )

    def kneighbors(
        self, queries: Sequence[str], k: int, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` documents nearest to each query over all shards.

        Parameters
        ----------
        queries : sequence of str
        k : int
            At most ``n_documents``.
        exact : bool, default=False
            Search every shard exactly, whatever its ``algorithm`` (for recall).

        Returns
        -------
        distances : ndarray of shape (n_queries, k)
            Cosine distances (1 - similarity), ascending.
        ids : ndarray of shape (n_queries, k)
            Positions of the documents in the corpus.
        """
        vectors = self._client.submit(_embed, self._key, self._payload, list(queries),
                                      self.batch_size, pure=False)  # fmt: skip
        return self._fan_out(vectors, k, exact)

    def search_vectors(
        self, vectors: np.ndarray, k: int, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`kneighbors` for queries already embedded, ndarray of shape (n_queries,
        dimension) (by the encoder of the documents)."""
        return self._fan_out(np.asarray(vectors), k, exact)  # small: sent inside the tasks

    def _fan_out(self, vectors: Any, k: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        """Every shard's top ``k`` of the query vectors (an array or a future), merged here."""
        client = self._client
        found = client.gather([client.submit(_search_shard, shard, vectors, k, exact, pure=False)
                               for shard in self._shards])  # fmt: skip
        return merge_top_k([d for d, _ in found], [i for _, i in found], k)

    # --- saving and loading -----------------------------------------------------------------

    def save(self, directory: str | os.PathLike, documents: Sequence[str], *,
             overwrite: bool = False) -> None:  # fmt: skip
        """Write each shard (by the worker that holds it) and ``index.json`` into ``directory``.

        ``directory`` must be on a file system that every worker and the lead see. It appears
        whole or not at all: the shards are written into a staging folder beside it, which is
        renamed last. ``index.json`` lists the shards, the algorithm, the encoder's name and
        ``documents`` (the texts that search results show).

        Raises
        ------
        FileExistsError
            If ``directory`` exists and ``overwrite`` is False, or it is not a saved index.
        """
        spans = self._spans()
        names = [f"shard-{i:05d}" for i in range(self.n_shards)]
        submit = self._client.submit
        with atomic_directory(directory, overwrite=overwrite, may_replace=_check_ours) as staging:
            # each shard is written where it lives; only the file names travel
            pairs = zip(self._shards, names, strict=True)
            self._client.gather([submit(_save_shard, shard, str(staging / name), pure=False)
                                 for shard, name in pairs])  # fmt: skip
            manifest = {
                "format": _FORMAT, "format_version": _FORMAT_VERSION,
                "theta_version": theta_version(), "algorithm": self.algorithm,
                "encoder": _describe(self._encoder), "n_documents": self.n_documents,
                "shards": [{"folder": name, "start": a, "n_documents": n}
                           for name, (a, n) in zip(names, spans, strict=True)],
                "documents": list(documents),
            }  # fmt: skip
            atomic_write_text(staging / _MANIFEST, json.dumps(manifest, ensure_ascii=False) + "\n")

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike,
        *,
        encoder: Any = None,
        scheduler: Any = None,
        batch_size: int = 32,
    ) -> tuple[ShardedIndex, list[str]]:
        """Put the shards saved in ``directory`` back on a cluster's workers (one loading task
        per shard, spread over the workers); returns the index and the saved documents.

        Raises
        ------
        CheckpointError
            If ``index.json`` is malformed or inconsistent with the shards.
        ValueError
            If ``encoder`` is not the kind of encoder the shards were built with.
        """
        folder = Path(directory).resolve()
        manifest = _read_manifest(folder / _MANIFEST)
        if manifest["encoder"] != _describe(encoder):
            raise ValueError(
                f"{folder} was embedded with the encoder {manifest['encoder']}, but the "
                f"encoder given is {_describe(encoder)}; queries must be embedded by the same "
                "encoder."
            )
        client, owned = dask_client(scheduler)
        try:
            workers = _workers(client)
            shards = [client.submit(_load_shard, str(folder / entry["folder"]), entry["start"],
                                    entry["n_documents"], workers=[workers[i % len(workers)]],
                                    allow_other_workers=True, pure=False)
                      for i, entry in enumerate(manifest["shards"])]  # fmt: skip
            index = cls(client, owned, encoder, _encoder_ref(client, encoder), shards,
                        manifest["n_documents"], manifest["algorithm"], batch_size)  # fmt: skip
            index._check_spans()
        except BaseException:
            if owned:
                client.close()
            raise
        return index, manifest["documents"]

    def close(self) -> None:
        """Release the shards (the workers drop them) and close the client if it was made
        here from an address."""
        # the encoder's future is shared by every index of this client that uses it: only
        # dropped, so that Dask forgets it when no one holds it any more
        if self._shards:
            self._client.cancel(self._shards)
        self._shards, self._payload = [], None
        if self._owned:
            self._client.close()
            self._owned = False

    def __reduce__(self) -> Any:
        raise TypeError(
            "a ShardedIndex lives on a Dask cluster and does not pickle; save it with "
            "SemanticSearch.save_shards(directory) and reload it with "
            "SemanticSearch.load_shards(directory, scheduler=...)."
        )


def _check_ours(path: str) -> None:
    """Refuse to replace a folder that is not a saved sharded index."""
    try:
        manifest = _read_manifest(Path(path) / _MANIFEST)
    except (OSError, CheckpointError):
        manifest = None
    if manifest is None:
        raise FileExistsError(f"{path} exists and is not a saved sharded index; not replacing it.")


def _read_manifest(path: Path) -> dict[str, Any]:
    """``index.json``, checked: known format, shard folders named ``shard-NNNNN`` that tile the
    documents in order, one text per document."""
    manifest = parse_json(path.read_bytes(), str(path))
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not the manifest of a sharded index ({_FORMAT}).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > _FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version!r}; this theta reads up to {_FORMAT_VERSION}."
        )
    shards, documents = manifest.get("shards"), manifest.get("documents")
    n = manifest.get("n_documents")
    ok = isinstance(shards, list) and shards and isinstance(documents, list)
    ok = ok and isinstance(n, int) and len(documents) == n
    ok = ok and all(isinstance(d, str) for d in documents)
    ok = ok and manifest.get("algorithm") in ("brute", "hnsw", "ivfpq")
    ok = ok and isinstance(manifest.get("encoder"), str)
    start = 0
    for entry in shards if ok else []:
        ok = ok and isinstance(entry, dict) and isinstance(entry.get("folder"), str)
        ok = ok and bool(_SHARD_NAME.fullmatch(entry.get("folder", "")))
        ok = ok and entry.get("start") == start and isinstance(entry.get("n_documents"), int)
        ok = ok and entry.get("n_documents", 0) > 0
        start += entry.get("n_documents", 0) if ok else 0
    if not ok or start != n:
        raise CheckpointError(
            f"{path} is malformed: it must list shard-NNNNN folders whose documents cover "
            "0..n_documents-1 in order, and one text per document."
        )
    return manifest
