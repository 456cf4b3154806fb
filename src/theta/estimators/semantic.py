"""Semantic search: the chapter's non-parametric lookup, on learned sentence embeddings.

A corpus is embedded once by a sentence encoder (all-MiniLM-L6-v2 by default, see
:mod:`theta.models.encoder`) and the vectors are memorised by a k-nearest-neighbours estimator
(exact brute force, or an approximate HNSW graph through faiss). A query is embedded the same
way and answered by its nearest documents in cosine similarity: no parameters are fitted here,
the "model" is the stored corpus, and all the learning happened in the encoder.

It lives with the estimators (layer 4) rather than with the encoder (layer 3), because it
uses the kNN estimator and a layer may only import from the ones below it.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from theta.errors import NotFittedError
from theta.estimators.neighbors import KNeighborsClassifier
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
    algorithm : {"brute", "hnsw"}, default="brute"
        Exact search, or faiss's approximate HNSW graph (the ``ann`` extra, ``faiss-cpu``).
    batch_size : int, default=32
        Texts embedded at a time.
    progress : bool, optional
        Show a progress bar while the corpus is embedded (default: only on a terminal).

    Attributes
    ----------
    encoder_ : SentenceEncoder
        ``encoder``, or the MiniLM encoder loaded by ``fit``.
    documents_ : list of str
        The corpus, in the order given to ``fit``.
    embeddings_ : ndarray of shape (n_documents, dimension)
        Their unit-length embeddings.
    index_ : KNeighborsClassifier
        The fitted neighbour index over ``embeddings_`` (cosine metric).

    Examples
    --------
    >>> search = SemanticSearch().fit(["Bake bread at 220 C.", "Tax returns are due in April."])
    ... # doctest: +SKIP
    >>> search.search("how hot should the oven be?", k=1)  # doctest: +SKIP
    [[Hit(index=0, score=0.41..., text='Bake bread at 220 C.')]]
    """

    def __init__(self, encoder: Any = None, *, algorithm: str = "brute",
                 batch_size: int = 32, progress: bool | None = None) -> None:  # fmt: skip
        self.encoder = encoder
        self.algorithm = algorithm
        self.batch_size = batch_size
        self.progress = progress

    def fit(self, documents: Iterable[str]) -> SemanticSearch:
        """Embed ``documents`` and build the neighbour index over them.

        Raises
        ------
        ValueError
            If there are no documents, or ``algorithm`` is not one of "brute" and "hnsw".
        TypeError
            If a document is not a ``str``.
        """
        check_param(self.algorithm, "algorithm", Options({"brute", "hnsw"}), caller=self)
        documents = _texts(documents, "documents")
        if not documents:
            raise ValueError("SemanticSearch.fit: the corpus has no documents.")
        self.encoder_ = load_minilm() if self.encoder is None else self.encoder
        self.embeddings_ = self.encoder_.encode(documents, batch_size=self.batch_size,
                                                progress=self.progress)  # fmt: skip
        self.index_ = KNeighborsClassifier(
            n_neighbors=1, algorithm=self.algorithm, metric="cosine"
        ).fit(self.embeddings_, np.arange(len(documents)))
        self.documents_ = documents
        return self

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
        if not hasattr(self, "index_"):
            raise NotFittedError(
                "This SemanticSearch instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )
        check_param(k, "k", Interval(numbers.Integral, 1, None), caller="SemanticSearch.search")
        queries = [queries] if isinstance(queries, str) else _texts(queries, "queries")
        if not queries:
            return []
        k = min(k, len(self.documents_))
        vectors = self.encoder_.encode(queries, batch_size=self.batch_size)
        distances, indices = self.index_.kneighbors(vectors, n_neighbors=k)
        hits = []
        for row_d, row_i in zip(distances, indices, strict=True):
            # cosine distance is 1 - similarity; report the similarity
            hits.append([Hit(int(i), float(1.0 - d), self.documents_[int(i)])
                         for d, i in zip(row_d, row_i, strict=True)])  # fmt: skip
        return hits


def _texts(items: Iterable[str], name: str) -> list[str]:
    if isinstance(items, str | bytes):
        raise TypeError(f"SemanticSearch: {name} must be a list of str, not one str.")
    items = list(items)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"SemanticSearch: {name}[{i}] is a {type(item).__name__}, not a str.")
    return items
