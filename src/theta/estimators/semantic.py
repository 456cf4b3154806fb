"""Semantic search: the chapter's non-parametric lookup, on learned sentence embeddings.

A corpus is embedded once by a sentence encoder (all-MiniLM-L6-v2 by default, see
:mod:`theta.models.encoder`) and the vectors are memorised by a k-nearest-neighbours estimator
(exact brute force, or an approximate HNSW graph or IVF-PQ index through faiss). A query is
embedded the same way and answered by its nearest documents in cosine similarity: no
parameters are fitted here, the "model" is the stored corpus, and all the learning happened in
the encoder.

A corpus too large for one machine is embedded and indexed on a Dask cluster instead
(``fit(documents, backend="dask", scheduler=ADDRESS)``): each worker embeds partitions and
holds one shard of the index, and a query asks every shard (see
:mod:`theta.estimators.sharded`). Exact sharded search returns what exact search on one
machine returns.

It lives with the estimators (layer 4) rather than with the encoder (layer 3), because it
uses the kNN estimator and a layer may only import from the ones below it.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from theta.errors import NotFittedError
from theta.estimators.neighbors import KNeighborsClassifier
from theta.estimators.sharded import ShardedIndex, kneighbors_by_position
from theta.models import load_minilm
from theta.params import Params
from theta.validation import Interval, Options, check_param

__all__ = ["Hit", "SemanticSearch"]


class Hit(NamedTuple):
    """One search result: the document's position in the corpus, its text and its score."""

    index: int
    score: float  # cosine similarity to the query, in [-1, 1]
    text: str


class SemanticSearch(Params):
    """Embed documents, index them for nearest-neighbour lookup, and answer text queries.

    Parameters
    ----------
    encoder : SentenceEncoder, optional
        Turns texts into unit vectors (anything with ``encode(texts, batch_size=...,
        progress=...)``).
        Default: ``theta.models.load_minilm()``, loaded by ``fit``.
    algorithm : {"brute", "hnsw", "ivfpq"}, default="brute"
        Exact search, or faiss's approximate HNSW graph or IVF-PQ index (the ``ann`` extra,
        ``faiss-cpu``; IVF-PQ needs at least 256 documents per index or shard).
    batch_size : int, default=32
        Texts embedded at a time.
    progress : bool, optional
        Show a progress bar while the corpus is embedded (default: only on a terminal).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the approximate indexes (HNSW levels, IVF-PQ k-means); exact search is not
        random.

    Attributes
    ----------
    encoder_ : SentenceEncoder
        ``encoder``, or the MiniLM encoder loaded by ``fit`` (local backend only: on Dask the
        workers hold the encoder).
    documents_ : list of str
        The corpus, in the order given to ``fit``.
    embeddings_ : ndarray of shape (n_documents, dimension)
        Their unit-length embeddings (local backend only: on Dask they stay on the workers).
    index_ : KNeighborsClassifier or ShardedIndex
        The fitted neighbour index (cosine metric): in this process, or sharded over a Dask
        cluster's workers.

    Examples
    --------
    >>> search = SemanticSearch().fit(["Bake bread at 220 C.", "Tax returns are due in April."])
    >>> search.search("how hot should the oven be?", k=1)  # doctest: +ELLIPSIS
    [[Hit(index=0, score=0.48..., text='Bake bread at 220 C.')]]

    On a Dask cluster, each worker embeds part of the corpus and holds one shard of the
    index: ``SemanticSearch().fit(documents, backend="dask", scheduler="tcp://host:8786")``.
    """

    def __init__(self, encoder: Any = None, *, algorithm: str = "brute",
                 batch_size: int = 32, progress: bool | None = None,
                 random_state: int | np.random.Generator | None = None) -> None:  # fmt: skip
        self.encoder = encoder
        self.algorithm = algorithm
        self.batch_size = batch_size
        self.progress = progress
        self.random_state = random_state

    def fit(self, documents: Iterable[str], *, backend: str = "local", scheduler: Any = None,
            n_shards: int | None = None) -> SemanticSearch:  # fmt: skip
        """Embed ``documents`` and build the neighbour index over them.

        Parameters
        ----------
        documents : iterable of str
        backend : {"local", "dask"}, default="local"
            Embed and index in this process, or on a Dask cluster's workers, each holding a
            shard of the index (the ``dask`` extra). With Dask the encoder is loaded once per
            worker: MiniLM (``encoder=None``) from each worker's installed weights, another
            encoder pickled once here. A worker that dies meanwhile loses no document: the
            scheduler embeds its partitions again on the others.
        scheduler : str or distributed.Client, optional
            The Dask scheduler's address (``"tcp://host:8786"``); default: the current
            client. Only with ``backend="dask"``.
        n_shards : int, optional
            Shards of the index (default: one per worker). Only with ``backend="dask"``.

        Raises
        ------
        ValueError
            If there are no documents, ``algorithm`` or ``backend`` is not one of its values,
            or ``scheduler``/``n_shards`` is given without ``backend="dask"``.
        TypeError
            If a document is not a ``str``.
        """
        check_param(self.algorithm, "algorithm", Options({"brute", "hnsw", "ivfpq"}), caller=self)
        check_param(backend, "backend", Options({"local", "dask"}), caller="SemanticSearch.fit")
        if backend == "local" and (scheduler is not None or n_shards is not None):
            raise ValueError(
                "SemanticSearch.fit: scheduler and n_shards need backend='dask' (got "
                f"scheduler={scheduler!r}, n_shards={n_shards!r})."
            )
        documents = _texts(documents, "documents")
        if not documents:
            raise ValueError("SemanticSearch.fit: the corpus has no documents.")
        if backend == "dask":
            index = ShardedIndex.build(documents, encoder=self.encoder, scheduler=scheduler,
                                       algorithm=self.algorithm, n_shards=n_shards,
                                       batch_size=self.batch_size,
                                       random_state=self.random_state,
                                       progress=self.progress)  # fmt: skip
            self._forget()
            self.index_, self.documents_ = index, documents
            return self
        encoder = load_minilm() if self.encoder is None else self.encoder
        embeddings = encoder.encode(documents, batch_size=self.batch_size, progress=self.progress)
        index = KNeighborsClassifier(
            n_neighbors=1, algorithm=self.algorithm, metric="cosine",
            random_state=self.random_state,
        ).fit(embeddings, np.arange(len(documents)))  # fmt: skip
        self._forget()
        self.encoder_, self.embeddings_, self.index_ = encoder, embeddings, index
        self.documents_ = documents
        return self

    @classmethod
    def load_shards(cls, directory: str | os.PathLike, *, encoder: Any = None,
                    scheduler: Any = None, batch_size: int = 32) -> SemanticSearch:  # fmt: skip
        """A search over the shards that :meth:`save_shards` wrote, put back on a Dask cluster.

        Parameters
        ----------
        directory : str or path-like
            The saved folder, on a file system the workers see.
        encoder : SentenceEncoder, optional
            The encoder the shards were built with (default: MiniLM, loaded by the workers).
        scheduler : str or distributed.Client, optional
            The Dask scheduler's address; default: the current client.
        batch_size : int, default=32
            Queries embedded at a time.

        Returns
        -------
        SemanticSearch
            Fitted: its ``algorithm`` is the saved one, and its documents the saved ones.

        Raises
        ------
        CheckpointError
            If the folder's ``index.json`` or a shard is malformed or does not match.
        ValueError
            If ``encoder`` is not of the kind the shards were built with.
        """
        index, documents = ShardedIndex.load(directory, encoder=encoder, scheduler=scheduler,
                                             batch_size=batch_size)  # fmt: skip
        search = cls(encoder, algorithm=index.algorithm, batch_size=batch_size)
        search.index_, search.documents_ = index, documents
        return search

    def save_shards(self, directory: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the index of a search fitted with ``backend="dask"`` to ``directory``: each
        shard by the worker that holds it (theta's learner folder, ``shard-NNNNN``), and an
        ``index.json`` listing them with the documents. Atomic: the folder appears complete
        or not at all. :meth:`load_shards` reads it back.

        Raises
        ------
        ValueError
            If the search was fitted locally (save it with ``theta.io.save`` instead).
        FileExistsError
            If ``directory`` exists and ``overwrite`` is False, or it is not a saved index.
        """
        self._check_fitted()
        if not isinstance(self.index_, ShardedIndex):
            raise ValueError(
                "SemanticSearch.save_shards: this search was fitted with backend='local'; "
                "only a search fitted with backend='dask' has shards."
            )
        self.index_.save(directory, self.documents_, overwrite=overwrite)

    def close(self) -> None:
        """Let the Dask workers drop this search's shards (and close a client made from an
        address); the search must be fitted again before the next query. Nothing to do for a
        local search."""
        if isinstance(getattr(self, "index_", None), ShardedIndex):
            self._forget()

    def _forget(self) -> None:
        """Drop what a previous fit learned (a previous sharded index lets its shards go)."""
        old = getattr(self, "index_", None)
        for name in ("encoder_", "embeddings_", "index_", "documents_"):
            self.__dict__.pop(name, None)
        if isinstance(old, ShardedIndex):
            old.close()

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError(
                "This SemanticSearch instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )

    def search(self, queries: str | Iterable[str], k: int = 5) -> list[list[Hit]]:
        """The ``k`` documents nearest to each query, best first.

        Parameters
        ----------
        queries : str or iterable of str
            One query or several.
        k : int, default=5
            Results per query (at most the corpus size).

        Returns
        -------
        list of list of Hit
            One list per query, ordered by decreasing cosine similarity.
        """
        self._check_fitted()
        check_param(k, "k", Interval(numbers.Integral, 1, None), caller="SemanticSearch.search")
        queries = [queries] if isinstance(queries, str) else _texts(queries, "queries")
        if not queries:
            return []
        distances, indices = self._neighbors(queries, min(k, len(self.documents_)), exact=False)
        hits = []
        for row_d, row_i in zip(distances, indices, strict=True):
            # cosine distance is 1 - similarity; report the similarity
            hits.append([Hit(int(i), float(1.0 - d), self.documents_[int(i)])
                         for d, i in zip(row_d, row_i, strict=True)])  # fmt: skip
        return hits

    def recall(self, queries: Iterable[str], k: int = 10) -> float:
        """Recall@k of this search against exact search over the same index (1.0 for
        ``algorithm="brute"``): the share of each query's exact ``k`` nearest documents that
        :meth:`search` returns, averaged over ``queries``.

        Examples
        --------
        >>> class Letters:  # a toy encoder: letter counts, unit length
        ...     def encode(self, texts, batch_size=32, progress=None):
        ...         v = np.array([[t.count(c) + 0.1 for c in "abc"] for t in texts])
        ...         return v / np.linalg.norm(v, axis=1, keepdims=True)
        >>> search = SemanticSearch(Letters()).fit(["aab", "bbc", "cca", "abc"])
        >>> search.recall(["ab", "c"], k=2)
        1.0
        """
        self._check_fitted()
        check_param(k, "k", Interval(numbers.Integral, 1, None), caller="SemanticSearch.recall")
        queries = _texts(queries, "queries")
        if not queries:
            raise ValueError("SemanticSearch.recall: give at least one query.")
        k = min(k, len(self.documents_))
        approx = self._neighbors(queries, k, exact=False)[1]
        exact = self._neighbors(queries, k, exact=True)[1]
        return float((approx[:, :, None] == exact[:, None, :]).any(axis=2).mean())

    def _neighbors(self, queries: list[str], k: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cosine distances and corpus positions of each query's ``k`` nearest documents."""
        if isinstance(self.index_, ShardedIndex):
            return self.index_.kneighbors(queries, k, exact=exact)
        vectors = self.encoder_.encode(queries, batch_size=self.batch_size)
        return kneighbors_by_position(self.index_, vectors, k, exact)


def _texts(items: Iterable[str], name: str) -> list[str]:
    if isinstance(items, str | bytes):
        raise TypeError(f"SemanticSearch: {name} must be a list of str, not one str.")
    items = list(items)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"SemanticSearch: {name}[{i}] is a {type(item).__name__}, not a str.")
    return items
