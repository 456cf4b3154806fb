"""Out-of-core training: an MLP trained for one epoch from a float32 memory map on disk.

The map (2 GB in a full run, generated chunk by chunk into a temporary folder and deleted
afterwards) is read through ``theta.train.fit`` a batch at a time: ``ArrayDataset`` reads the
requested rows only and ``DataLoader`` shuffles by blocks of rows (256 KiB runs of the file).
Two figures, each from a fresh process (``python benchmarks/bench_outofcore.py --probe KIND``
prints one JSON line):

- **peak anonymous memory** added by the epoch: ``Anonymous:`` of ``/proc/self/smaps_rollup``,
  sampled every 20 ms while ``fit`` runs, minus its value before. Pages of the map itself are
  file-backed: they count in the RSS (the kernel drops them when memory is needed) but not
  here. Goal: at most 10% of the data size.
- **throughput**: rows per second of the epoch from the map, against the same MLP trained
  the same way on an in-memory array with a tenth of the rows. Goal: at least 0.8.

Both runs use one BLAS thread, an MLP ``n_features-256-10`` (Adam, batch 512, softmax
cross-entropy on labels that depend on the first ten features) and ``shuffle=True``.
Linux only (``smaps_rollup``).

    python benchmarks/bench_outofcore.py            # 2 GB, a few minutes
    python benchmarks/bench_outofcore.py --quick    # 8 MiB smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["Measured", "markdown", "probe", "run"]

MARKER = "OUTOFCORE-PROBE "
N_FEATURES = 256
HIDDEN = 256
N_CLASSES = 10
BATCH = 512
FULL_BYTES = 2 * 10**9
QUICK_BYTES = 8 * 2**20
IN_MEMORY_SHARE = 0.1  # the in-memory run trains on this share of the rows
CHUNK_ROWS = 65536  # rows generated and written at a time (64 MiB)
MEMORY_GOAL = 0.10
THROUGHPUT_GOAL = 0.8
Measured = dict


def anonymous_bytes() -> int:
    """This process's anonymous memory (heap, arrays), from ``/proc/self/smaps_rollup``."""
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    raise OSError("no Anonymous line in /proc/self/smaps_rollup")


def _labels(X: np.ndarray) -> np.ndarray:
    return np.argmax(X[:, :N_CLASSES], axis=1).astype(np.int64)


def generate(folder: Path, n_rows: int, seed: int = 0) -> tuple[Path, Path]:
    """Write ``X`` (float32, ``(n_rows, N_FEATURES)``) and its labels as raw files, a chunk at
    a time, so the generator never holds more than one chunk."""
    rng = np.random.default_rng(seed)
    x_path, y_path = folder / "X.f32", folder / "y.i64"
    X = np.memmap(x_path, dtype=np.float32, mode="w+", shape=(n_rows, N_FEATURES))
    y = np.memmap(y_path, dtype=np.int64, mode="w+", shape=(n_rows,))
    for start in range(0, n_rows, CHUNK_ROWS):
        chunk = rng.standard_normal((min(CHUNK_ROWS, n_rows - start), N_FEATURES),
                                    dtype=np.float32)  # fmt: skip
        X[start : start + len(chunk)] = chunk
        y[start : start + len(chunk)] = _labels(chunk)
        X.flush()
    y.flush()
    del X, y
    return x_path, y_path


def probe(kind: str, folder: Path, n_rows: int) -> Measured:
    """Train one epoch (``kind`` "memmap": from the files in ``folder``; "memory": on an
    in-memory array of ``n_rows`` rows) and measure it. Runs in a fresh process."""
    from theta.nn import MLP
    from theta.train import fit

    if kind == "memmap":
        X = np.memmap(folder / "X.f32", dtype=np.float32, mode="r", shape=(n_rows, N_FEATURES))
        y = np.memmap(folder / "y.i64", dtype=np.int64, mode="r", shape=(n_rows,))
    else:
        X = np.random.default_rng(0).standard_normal((n_rows, N_FEATURES), dtype=np.float32)
        y = _labels(X)
    model = MLP((N_FEATURES, HIDDEN, N_CLASSES), rng=0)
    before = anonymous_bytes()
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], anonymous_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    history = fit(model, X, y, loss="cross_entropy", optimizer="adam", lr=1e-3,
                  batch_size=BATCH, epochs=1, seed=0, progress=False)  # fmt: skip
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], anonymous_bytes())
    return {
        "kind": kind,
        "rows": n_rows,
        "data_bytes": n_rows * N_FEATURES * 4,
        "seconds": seconds,
        "rows_per_s": n_rows / seconds,
        "peak_anonymous_added": peak[0] - before,
        "first_loss": history.step_loss[0],
        "last_epoch_loss": history.epochs["loss"][-1],
    }


def _run_probe(kind: str, folder: Path, n_rows: int) -> Measured:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}  # fmt: skip
    src = Path(__file__).resolve().parent.parent / "src"
    if (src / "theta").is_dir():  # a checkout: benchmark its theta, not an installed one
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    command = [sys.executable, str(Path(__file__).resolve()), "--probe", kind,
               "--folder", str(folder), "--rows", str(n_rows)]  # fmt: skip
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith(MARKER))
    return json.loads(line[len(MARKER) :])


def run(quick: bool = False, data_bytes: int | None = None) -> list[Measured]:
    """Generate the map in a temporary folder, run both probes, delete the folder."""
    if not Path("/proc/self/smaps_rollup").exists():
        return []
    data_bytes = data_bytes or (QUICK_BYTES if quick else FULL_BYTES)
    n_rows = data_bytes // (N_FEATURES * 4)
    with tempfile.TemporaryDirectory(prefix="theta-outofcore-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        generate(folder, n_rows)
        generated = time.perf_counter() - started
        in_memory = _run_probe("memory", folder, max(BATCH, int(n_rows * IN_MEMORY_SHARE)))
        mapped = _run_probe("memmap", folder, n_rows)
    mapped["generate_seconds"] = generated
    mapped["judged"] = data_bytes >= FULL_BYTES // 4  # a small map is all fixed costs
    return [mapped, in_memory]


def markdown(results: list[Measured]) -> str:
    """The section of RESULTS.md: sizes, peak memory, throughput and both goals."""
    if not results:
        return "## Out-of-core training\n\nNot measured: needs Linux's /proc/self/smaps_rollup.\n"
    mapped, in_memory = results
    mb = 2**20
    share = mapped["peak_anonymous_added"] / mapped["data_bytes"]
    ratio = mapped["rows_per_s"] / in_memory["rows_per_s"]
    judged = mapped.get("judged", True)
    verdict = lambda ok: ("met" if ok else "missed") if judged else "not judged at this size"  # noqa: E731
    return "\n".join([
        "## Out-of-core training",
        "",
        f"One epoch of an MLP {N_FEATURES}-{HIDDEN}-{N_CLASSES} (Adam, batch {BATCH}, "
        "shuffled by blocks) through `theta.train.fit`, one BLAS thread, each run in a fresh "
        "process.",
        "",
        "| run | rows | data | seconds | rows/s | peak anonymous added |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {r['kind']} | {r['rows']} | {r['data_bytes'] / mb:.0f} MiB | {r['seconds']:.1f} "
          f"| {r['rows_per_s']:.0f} | {r['peak_anonymous_added'] / mb:.1f} MiB |"
          for r in results),  # fmt: skip
        "",
        f"- peak anonymous memory of the memmap epoch: {share:.1%} of the data "
        f"(goal ≤ {MEMORY_GOAL:.0%}: {verdict(share <= MEMORY_GOAL)})",
        f"- throughput, memmap / in memory: {ratio:.2f} "
        f"(goal ≥ {THROUGHPUT_GOAL}: {verdict(ratio >= THROUGHPUT_GOAL)})",
        f"- generating the map took {mapped['generate_seconds']:.1f} s (not timed above)",
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="an 8 MiB map (smoke run)")
    parser.add_argument("--gb", type=float, help="size of the map in GB (default 2)")
    parser.add_argument("--probe", choices=("memmap", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(MARKER + json.dumps(probe(args.probe, args.folder, args.rows)), flush=True)
        return 0
    size = int(args.gb * 10**9) if args.gb else None
    print(markdown(run(quick=args.quick, data_bytes=size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
