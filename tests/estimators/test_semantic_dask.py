"""SemanticSearch on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1, started and stopped by this module (no LocalCluster shortcut).

Most tests embed with a tiny deterministic encoder (hashed character trigrams), pickled by value
so that the workers need no access to this file; one test runs the real MiniLM through the
`theta search --scheduler` and `theta embed --scheduler` commands.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest

from theta.cli import main as theta_main
from theta.errors import CheckpointError, NotFittedError
from theta.estimators.semantic import SemanticSearch
from theta.estimators.sharded import dask_client, embed_on_cluster, merge_top_k

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this file

pytestmark = pytest.mark.slow

DIM = 64
WORDS = ("bread oven bake flour salt market stock price bank rate goal match team player "
         "rain wind storm cloud river mountain train ticket station city music guitar song "
         "piano").split()  # fmt: skip


def sentences(n: int, seed: int) -> list[str]:
    """``n`` short generated sentences; a few repeat, so that exact ties occur."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(3, 8))) for _ in range(n)]
    for i in range(0, n, 97):  # duplicates far apart: their tie is broken by position
        texts[(i * 7919) % n] = texts[i]
    return texts


class HashEncoder:
    """Unit vectors of hashed character-trigram counts: deterministic in every process. Each
    unpickling (a worker loading it) and each ``encode`` call leaves a file in ``log_dir``."""

    def __init__(self, log_dir: Path, delay: float = 0.0) -> None:
        self.log_dir, self.delay = str(log_dir), delay

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._mark("load", 0)

    def _mark(self, what: str, n: int) -> None:
        name = f"{what}-{os.getpid()}-{n}-{uuid.uuid4().hex}"
        Path(self.log_dir, name).touch()

    def encode(self, texts, batch_size=32, progress=None):
        time.sleep(self.delay)
        vectors = np.zeros((len(texts), DIM), np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text} "
            for j in range(len(padded) - 2):
                vectors[row, zlib.crc32(padded[j : j + 3].encode()) % DIM] += 1.0
        self._mark("encode", len(texts))
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def marks(log_dir: Path, what: str) -> list[tuple[int, int]]:
    """(pid, n_texts) of each mark ``what`` in ``log_dir``."""
    found = [p.name.split("-") for p in Path(log_dir).iterdir()]
    return [(int(pid), int(n)) for kind, pid, n, _ in found if kind == what]


# --- the cluster -------------------------------------------------------------------------------


def _start(args: list[str], folder: Path, name: str) -> subprocess.Popen:
    log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    env = {**os.environ, "THETA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=folder, env=env,
                               stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    process.log = log
    return process


def start_worker(address: str, folder: Path, name: str) -> subprocess.Popen:
    return _start(["worker", address, "--nthreads", "1", "--nworkers", "1", "--memory-limit",
                   "0", "--no-dashboard", "--local-directory", str(folder),
                   "--name", name], folder, name)  # fmt: skip


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the process group (nanny and worker), wait, and kill what does not exit."""
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    process.log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, client, folder) of a scheduler with two one-thread workers."""
    folder = tmp_path_factory.mktemp("dask")
    processes, client = [], None
    try:
        file = folder / "scheduler.json"
        processes.append(_start(["scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--no-dashboard", "--scheduler-file", str(file)],
                                folder, "scheduler"))  # fmt: skip
        address, deadline = None, time.monotonic() + 60
        while address is None:
            assert processes[0].poll() is None, (folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start in 60 s"
            time.sleep(0.1)
            try:
                address = json.loads(file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                pass  # not written yet, or half written
        processes += [start_worker(address, folder, f"w{i}") for i in range(2)]
        client = distributed.Client(address, set_as_default=False)
        client.wait_for_workers(2, timeout=60)
        yield address, client, folder
    finally:
        if client is not None:
            client.close()
        for process in reversed(processes):
            stop(process)


# --- exact, approximate -----------------------------------------------------------------------


def _top_k_scores(E: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """NumPy's exact answer in float64: each query's ``k`` best cosine scores, best first."""
    scores = Q.astype(np.float64) @ E.astype(np.float64).T
    return -np.sort(-scores, axis=1)[:, :k]


def assert_same_hits(got: list, want: list) -> None:
    """The same documents in the same order; scores equal up to float32 rounding."""
    assert [[h.index for h in hits] for hits in got] == [[h.index for h in hits] for hits in want]
    assert np.allclose([[h.score for h in hits] for hits in got],
                       [[h.score for h in hits] for hits in want], atol=1e-6)  # fmt: skip


def test_exact_sharded_search_equals_local_and_numpy(cluster, tmp_path):
    _, client, _ = cluster
    docs, queries = sentences(2000, 0), sentences(40, 1) + ["bread oven", "rain storm"]
    encoder = HashEncoder(tmp_path)
    local = SemanticSearch(encoder).fit(docs)
    sharded = SemanticSearch(encoder).fit(docs, backend="dask", scheduler=client, n_shards=3)
    assert sharded.index_.n_shards == 3 and not hasattr(sharded, "embeddings_")
    want, got = local.search(queries, k=10), sharded.search(queries, k=10)
    assert_same_hits(got, want)
    assert [h.text for h in got[0]] == [docs[h.index] for h in got[0]]
    # against NumPy: the same best scores, and each reported score is that document's own
    E, Q = encoder.encode(docs), encoder.encode(queries)
    scores = _top_k_scores(E, Q, 10)
    assert np.allclose([[h.score for h in hits] for hits in got], scores, atol=1e-5)
    for q, hits in enumerate(got):
        assert np.allclose([h.score for h in hits], E[[h.index for h in hits]] @ Q[q], atol=1e-5)
    # copies of a document tie exactly, in different shards; listed by position, as locally
    copies = [j for j, text in enumerate(docs) if text == docs[97]]
    (hits,) = sharded.search([docs[97]], k=len(copies))
    assert len(copies) > 1 and [h.index for h in hits] == copies
    (everything,) = sharded.search(queries[:1], k=5000)  # k is capped at the corpus size
    assert sorted(h.index for h in everything) == list(range(len(docs)))
    assert sharded.recall(queries, k=10) == 1.0
    dist, ids = sharded.index_.search_vectors(Q, 10)  # vectors embedded elsewhere
    assert ids.tolist() == [[h.index for h in hits] for hits in want]
    assert np.allclose(1 - dist, scores, atol=1e-5)
    # each worker loaded the encoder once, however many tasks and searches it ran
    loads = [pid for pid, _ in marks(tmp_path, "load")]
    assert loads and len(loads) == len(set(loads))
    assert set(loads) <= set(client.run(os.getpid).values())
    with pytest.raises(TypeError, match="save_shards"):
        pickle.dumps(sharded)
    sharded.close()
    with pytest.raises(NotFittedError, match="not fitted"):
        sharded.search("bread")


@pytest.mark.parametrize("algorithm, floor", [("hnsw", 0.95), ("ivfpq", 0.9)])
def test_approximate_shards_recall_against_exact(cluster, tmp_path, algorithm, floor):
    pytest.importorskip("faiss")
    _, client, _ = cluster
    docs, queries = sentences(2000, 2), sentences(50, 3)
    search = SemanticSearch(HashEncoder(tmp_path), algorithm=algorithm, random_state=0)
    search.fit(docs, backend="dask", scheduler=client)
    recall = search.recall(queries, k=10)
    print(f"sharded {algorithm} recall@10 against exact: {recall:.3f}")
    assert floor <= recall <= 1.0
    search.close()


def test_save_and_load_shards(cluster, tmp_path):
    pytest.importorskip("faiss")
    _, client, _ = cluster
    docs, queries = sentences(600, 4), sentences(10, 5)
    encoder = HashEncoder(tmp_path)
    search = SemanticSearch(encoder, algorithm="hnsw", random_state=0)
    search.fit(docs, backend="dask", scheduler=client)
    folder = tmp_path / "index"
    search.save_shards(folder)
    assert sorted(os.listdir(folder)) == ["index.json", "shard-00000", "shard-00001"]
    assert sorted(os.listdir(tmp_path / "index" / "shard-00000")) == [
        "config.json", "state.safetensors"]  # fmt: skip
    again = SemanticSearch.load_shards(folder, encoder=encoder, scheduler=client)
    assert again.algorithm == "hnsw" and again.documents_ == docs
    assert again.search(queries, k=5) == search.search(queries, k=5)
    with pytest.raises(FileExistsError):
        search.save_shards(folder)
    search.save_shards(folder, overwrite=True)
    with pytest.raises(ValueError, match="embedded with the encoder"):
        SemanticSearch.load_shards(folder, scheduler=client)  # MiniLM is not the encoder used
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a saved sharded index"):
        search.save_shards(tmp_path / "other", overwrite=True)
    manifest = json.loads((folder / "index.json").read_text())
    manifest["shards"][1]["folder"] = "../elsewhere"
    (folder / "index.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="malformed"):
        SemanticSearch.load_shards(folder, encoder=encoder, scheduler=client)
    with pytest.raises(ValueError, match="backend='local'"):
        SemanticSearch(encoder).fit(docs[:5]).save_shards(tmp_path / "local")
    for item in (search, again):
        item.close()


# --- failures --------------------------------------------------------------------------------


def test_killed_worker_loses_no_document(cluster, tmp_path):
    address, client, folder = cluster
    before = set(client.scheduler_info()["workers"])
    victim = start_worker(address, folder, "victim")
    try:
        client.wait_for_workers(3, timeout=60)
        (victim_address,) = set(client.scheduler_info()["workers"]) - before
        victim_pid = client.run(os.getpid, workers=[victim_address])[victim_address]
        docs, queries = sentences(2000, 6), sentences(20, 7)
        encoder = HashEncoder(tmp_path, delay=0.3)
        search, errors = SemanticSearch(encoder), []

        def fit() -> None:
            try:
                search.fit(docs, backend="dask", scheduler=client)
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)

        thread = threading.Thread(target=fit)
        thread.start()
        deadline = time.monotonic() + 60
        while victim_pid not in {pid for pid, _ in marks(tmp_path, "encode")}:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.02)
        stop(victim, signal.SIGKILL)  # the victim had finished a partition: it is lost with it
        thread.join(timeout=120)
        assert not thread.is_alive() and errors == []
    finally:
        stop(victim, signal.SIGKILL)
    assert search.index_.n_documents == len(docs)  # the shards were counted: each doc once
    encoded = marks(tmp_path, "encode")
    assert sum(n for _, n in encoded) > len(docs)  # the victim's partitions were done again
    encoder.delay = 0.0
    want = SemanticSearch(encoder).fit(docs).search(queries, k=10)
    assert_same_hits(search.search(queries, k=10), want)
    search.close()


# --- the command -------------------------------------------------------------------------------


def test_theta_search_and_embed_with_scheduler_match_local(cluster, tmp_path, capsys):
    address, _, _ = cluster
    docs = [f"{s}." for s in sentences(50, 8)] + ["The central bank raised interest rates."]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(docs) + "\n")
    ask = ["search", str(corpus), "--query", "monetary policy", "--query", "baking bread",
           "--k", "3", "--json", "--quiet"]  # fmt: skip
    assert theta_main([*ask, "--scheduler", address]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert theta_main(ask) == 0
    local = json.loads(capsys.readouterr().out)
    assert [[r["document"] for r in q["results"]] for q in remote] == [
        [r["document"] for r in q["results"]] for q in local]  # fmt: skip
    assert remote[0]["results"][0]["document"] == f"line {len(docs)}"
    assert np.allclose([[r["score"] for r in q["results"]] for q in remote],
                       [[r["score"] for r in q["results"]] for q in local], atol=1e-5)  # fmt: skip
    embed = ["embed", "--json", "--quiet", *docs[:5]]
    assert theta_main([*embed, "--scheduler", address]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert theta_main(embed) == 0
    local = json.loads(capsys.readouterr().out)
    assert np.allclose([e["vector"] for e in remote["embeddings"]],
                       [e["vector"] for e in local["embeddings"]], atol=1e-5)  # fmt: skip


# --- without a cluster -------------------------------------------------------------------------


def test_merge_top_k_matches_a_global_sort():
    rng = np.random.default_rng(0)
    dist = rng.integers(0, 5, size=(6, 30)).astype(np.float64)  # many ties
    ids = np.tile(np.arange(30), (6, 1))
    parts = [slice(0, 7), slice(7, 20), slice(20, 30)]
    k = 9
    shard_tops = []
    for part in parts:
        order = np.lexsort((ids[:, part], dist[:, part]), axis=1)[:, :k]
        shard_tops.append((np.take_along_axis(dist[:, part], order, axis=1),
                           np.take_along_axis(ids[:, part], order, axis=1)))  # fmt: skip
    got_d, got_i = merge_top_k([d for d, _ in shard_tops], [i for _, i in shard_tops], k)
    for q in range(6):
        want = sorted(range(30), key=lambda j: (dist[q, j], j))[:k]
        assert got_i[q].tolist() == want
        assert got_d[q].tolist() == dist[q, want].tolist()


def test_bad_arguments_are_refused_before_any_work():
    docs = ["a b", "c d"]
    with pytest.raises(ValueError, match="'backend' parameter"):
        SemanticSearch(HashEncoder(".")).fit(docs, backend="spark")
    with pytest.raises(ValueError, match="need backend='dask'"):
        SemanticSearch(HashEncoder(".")).fit(docs, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="'n_shards' parameter"):
        SemanticSearch(HashEncoder(".")).fit(docs, backend="dask", n_shards=0)
    with pytest.raises(TypeError, match="scheduler must be an address"):
        dask_client(42)
    with pytest.raises(ValueError, match="no texts"):
        embed_on_cluster([], scheduler="tcp://127.0.0.1:1")


# --- an out-of-core fit whose rows the cluster computes ----------------------------------------


def test_out_of_core_fit_on_the_cluster_equals_the_in_memory_fit(cluster):
    """``fit`` on a Dask array computed batch by batch on the workers trains exactly as on
    the same rows in memory, read in the same blocks."""
    import dask.array as da

    from theta.data import ArrayDataset, DataLoader
    from theta.nn import MLP
    from theta.train import fit

    address, client, _ = cluster
    chunk, n = 64, 512
    # rows no process holds whole: dask's own functions, so the workers can compute them
    X = da.sin(da.arange(n * 4, chunks=chunk * 4).reshape(n, 4) * 0.37).astype(np.float32)
    y = (X.sum(axis=1) > 0).astype(np.int64)
    assert X.chunks[0] == (chunk,) * (n // chunk)
    kwargs = {"loss": "cross_entropy", "optimizer": "adam", "lr": 1e-2, "epochs": 2}
    on_cluster = MLP((4, 8, 2), rng=0)
    with client.as_current():  # X's chunks are computed by the workers, a batch at a time
        history = fit(on_cluster, DataLoader(ArrayDataset(X, y), batch_size=32, shuffle=True,
                                             seed=0), **kwargs)  # fmt: skip
    computed = client.run_on_scheduler(
        lambda dask_scheduler: {name: prefix.state_counts["memory"] + prefix.state_counts[
            "released"] + prefix.state_counts["forgotten"]
            for name, prefix in dask_scheduler.task_prefixes.items()})  # fmt: skip
    assert computed.get("astype", 0) > 0  # the rows were made on the cluster (X's last task)
    X_mem = np.sin(np.arange(n * 4).reshape(n, 4) * 0.37).astype(np.float32)
    y_mem = (X_mem.sum(axis=1) > 0).astype(np.int64)
    in_memory = MLP((4, 8, 2), rng=0)
    loader = DataLoader(ArrayDataset(X_mem, y_mem), batch_size=32, shuffle=True, seed=0,
                        block_size=chunk)  # the Dask array's blocks are its chunks
    want = fit(in_memory, loader, **kwargs)
    assert history.step_loss == want.step_loss and len(history.step_loss) == 2 * n // 32
    for (name, a), (_, b) in zip(on_cluster.state_dict().items(),
                                 in_memory.state_dict().items(), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b, err_msg=name)
