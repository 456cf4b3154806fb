"""A small side-by-side benchmark harness: interleaved rounds, medians, ratios, machine facts.

Timing on a shared machine is noisy, so nothing here is an absolute threshold. Every case
runs all of its implementations in the same round, one after another (A B C A B C ...),
after a warm-up, and reports the median time per call of each and the ratios between them.
A ratio is the ratio of the medians; the ``q25–q75`` range next to it is the spread of the
per-round ratios (each round's pair ran back to back, so load drift mostly cancels).

Usage::

    suite = Suite()
    suite.add("matmul 512", {"numpy": f, "torch": g}, baseline="numpy")
    results = suite.run(rounds=20, warmup=2)
    print(render_markdown(results))
"""

from __future__ import annotations

import datetime as _dt
import gc
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Case",
    "CaseResult",
    "OtherLoad",
    "Suite",
    "blas_spin_seconds",
    "configure_threads",
    "machine_facts",
    "render_facts",
    "render_markdown",
    "write_atomic",
]


# --- machine facts and thread settings ---------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_blas() -> dict[str, Any] | None:
    """The threadpoolctl entry of the BLAS that NumPy itself links (not SciPy's or torch's)."""
    from threadpoolctl import threadpool_info

    blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    numpy_dir = os.path.dirname(np.__file__)
    site = os.path.dirname(numpy_dir)
    for info in blas:
        path = info.get("filepath", "")
        if path.startswith(numpy_dir) or path.startswith(os.path.join(site, "numpy.libs")):
            return info
    return blas[0] if blas else None


def configure_threads(threads: int | None = None) -> dict[str, int]:
    """Give PyTorch as many intra-op threads as NumPy's BLAS uses (or set both, and theta's own
    pools, to ``threads``).

    Returns the settings in force afterwards. Uses threadpoolctl to limit the BLAS pools when
    ``threads`` is given; the limit stays in force for the rest of the process.
    """
    from threadpoolctl import threadpool_limits

    import theta

    if threads is not None:
        theta.set_num_threads(threads)
        # kept alive on purpose: the limit holds until the process ends
        configure_threads._limiter = threadpool_limits(limits=threads, user_api="blas")  # type: ignore[attr-defined]
    blas = _numpy_blas()
    blas_threads = int(blas["num_threads"]) if blas else (threads or os.cpu_count() or 1)
    settings = {"numpy_blas_threads": blas_threads, "theta_threads": theta.get_num_threads()}
    try:
        import torch
    except ImportError:
        return settings
    torch.set_num_threads(blas_threads)
    settings["torch_threads"] = torch.get_num_threads()
    settings["torch_interop_threads"] = torch.get_num_interop_threads()
    return settings


NO_KERNELS = "theta, NumPy only"
"""The name of theta run with its compiled kernels off: before/after in one run."""


def with_numpy_only(impls: dict[str, Callable[[], Any]], ratios: list[tuple[str, str]],
                    reset: dict[str, Callable[[], Any]] | None = None,
                    theta: str = "theta") -> None:  # fmt: skip
    """Add ``impls[theta]`` run on the NumPy path (``theta.kernels.use_backend("numpy")``) as
    :data:`NO_KERNELS` (sharing ``theta``'s reset), with its ratios to ``theta``'s peers, when
    the compiled kernels are installed (else there is nothing to compare)."""
    from theta import kernels

    if "numba" not in kernels.available_backends():
        return
    fn = impls[theta]

    def numpy_only() -> Any:
        with kernels.use_backend("numpy"):
            return fn()

    impls[NO_KERNELS] = numpy_only
    if reset is not None and theta in reset:
        reset[NO_KERNELS] = reset[theta]
    ratios += [(NO_KERNELS, peer) for num, peer in list(ratios) if num == theta]
    ratios.append((theta, NO_KERNELS))


def blas_spin_seconds(window_s: float = 0.3) -> float:
    """CPU seconds NumPy's BLAS pool burns while the caller sleeps right after one GEMM.

    OpenBLAS workers busy-wait for a while (2**28 cycles by default) after each call. On a
    machine with few cores, that spinning steals cores from whatever runs next, e.g. PyTorch
    in an interleaved benchmark; the harness pauses between samples for longer than this.
    """
    a = np.ones((256, 256), dtype=np.float32)
    a @ a
    before = sum(os.times()[:2])
    time.sleep(window_s)
    return sum(os.times()[:2]) - before


class OtherLoad:
    """How many cores other processes kept busy between ``start()`` and ``stop()``.

    Reads the machine's busy time from ``/proc/stat`` and subtracts this process's own CPU
    time, so a benchmark can say how much it was competing with. Linux only; elsewhere
    ``stop()`` returns None.
    """

    def __init__(self) -> None:
        self._start: tuple[float, float, float] | None = None

    @staticmethod
    def _snapshot() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                fields = [int(v) for v in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / ticks  # user nice system idle iowait irq softirq steal
        own = sum(os.times()[:4])
        return busy, own, time.perf_counter()

    def start(self) -> OtherLoad:
        self._start = self._snapshot()
        return self

    def stop(self) -> float | None:
        """Average number of cores busy with other work (including steal) since ``start``."""
        end = self._snapshot()
        if self._start is None or end is None:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self._start, strict=True))
        return max(0.0, (busy - own) / wall) if wall > 0 else None


def machine_facts() -> dict[str, Any]:
    """CPU, cores, versions, BLAS libraries and thread pools, as a flat-ish dict."""
    from threadpoolctl import threadpool_info

    facts: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cpu": _cpu_model(),
        "cores (os.cpu_count)": os.cpu_count(),
        "cores usable (affinity)": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load average (1, 5, 15 min)": ", ".join(f"{x:.2f}" for x in os.getloadavg())
        if hasattr(os, "getloadavg")
        else "n/a",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    try:
        import torch

        facts["torch"] = torch.__version__
        facts["torch threads (intra-op, interop)"] = (
            f"{torch.get_num_threads()}, {torch.get_num_interop_threads()}"
        )
        mkl = [
            line.strip()
            for line in torch.__config__.parallel_info().splitlines()
            if "Math Kernel Library" in line
        ]
        facts["torch BLAS"] = mkl[0].split(" for ")[0] if mkl else "see torch.__config__"
    except ImportError:
        facts["torch"] = "not installed"
    try:
        import theta

        here = os.path.dirname(theta.__file__)
        try:  # a checkout's path is machine-specific: record it relative to the repository
            where = os.path.relpath(here, os.path.dirname(os.path.dirname(__file__)))
        except ValueError:
            where = "installed"
        facts["theta"] = f"{theta.__version__} ({where})"
        facts["theta kernels"] = _kernels_fact()
    except ImportError:
        pass
    pools = []
    for info in threadpool_info():
        name = os.path.basename(info.get("filepath", "?"))
        extra = f" {info['architecture']}" if info.get("architecture") else ""
        version = f" {info['version']}" if info.get("version") else ""
        pools.append(
            f"{info.get('internal_api')}{version}{extra}, {info.get('num_threads')} threads "
            f"({info.get('user_api')}, {name})"
        )
    facts["thread pools (threadpoolctl)"] = pools
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "MKL_NUM_THREADS") if k in os.environ}  # fmt: skip
    facts["thread env vars"] = ", ".join(f"{k}={v}" for k, v in env.items()) or "none set"
    return facts


def _kernels_fact() -> str:
    from theta import kernels

    backend = kernels.get_backend()
    if backend != "numba":
        return f"{backend} (theta.kernels)"
    import numba

    return f"numba {numba.__version__} (theta.kernels; {NO_KERNELS!r} rows turn them off)"


def render_facts(facts: dict[str, Any]) -> str:
    """Facts as a markdown bullet list (lists become nested bullets)."""
    lines = []
    for key, value in facts.items():
        if isinstance(value, list | tuple):
            lines.append(f"- {key}:")
            lines.extend(f"  - {v}" for v in value)
        else:
            lines.append(f"- {key}: {value}")
    return "\n".join(lines)


# --- cases and the timing loop -----------------------------------------------------------


@dataclass
class Case:
    """One workload: several implementations of the same computation, timed side by side.

    ``impls`` maps a name to a zero-argument callable that does one unit of work (one
    training step, one 1000-step loop, ...). ``ratios`` lists extra ``(numerator,
    denominator)`` pairs to report besides each implementation against ``baseline``;
    ``differences`` lists ``(minuend, subtrahend)`` pairs whose difference in time per call
    is reported (e.g. the overhead of a library over a hand-written floor, in µs). ``reset``
    maps an implementation to an untimed callable run before its warm-up and before each of
    its samples (e.g. restoring a model's initial weights, so that every sample trains from
    the same start instead of drifting for thousands of steps).
    """

    name: str
    impls: dict[str, Callable[[], Any]]
    baseline: str
    unit: str = "call"
    ratios: list[tuple[str, str]] = field(default_factory=list)
    differences: list[tuple[str, str]] = field(default_factory=list)
    reset: dict[str, Callable[[], Any]] = field(default_factory=dict)
    note: str = ""
    prime: bool = True  # one untimed call right before each sample (wakes its thread pool)

    def __post_init__(self) -> None:
        if self.baseline not in self.impls:
            raise ValueError(f"case {self.name!r}: baseline {self.baseline!r} is not an impl")
        for a, b in self.ratios:
            if a not in self.impls or b not in self.impls:
                raise ValueError(f"case {self.name!r}: ratio {a}/{b} names an unknown impl")
        for a, b in self.differences:
            if a not in self.impls or b not in self.impls:
                raise ValueError(f"case {self.name!r}: difference {a}-{b} names an unknown impl")
        unknown = sorted(set(self.reset) - set(self.impls))
        if unknown:
            raise ValueError(f"case {self.name!r}: reset names unknown impls {unknown}")


@dataclass
class CaseResult:
    case: Case
    samples: dict[str, list[float]]  # seconds per call, one per round
    numbers: dict[str, int]  # calls per sample
    other_load: float | None = None  # cores kept busy by other processes meanwhile

    def median(self, impl: str) -> float:
        return statistics.median(self.samples[impl])

    def ratio(self, num: str, den: str) -> float:
        """Ratio of the medians."""
        return self.median(num) / self.median(den)

    def paired_quartiles(self, num: str, den: str) -> tuple[float, float]:
        """25th and 75th percentiles of the per-round ratios."""
        per_round = [a / b for a, b in zip(self.samples[num], self.samples[den], strict=True)]
        if len(per_round) < 2:
            return per_round[0], per_round[0]
        q = statistics.quantiles(per_round, n=4, method="inclusive")
        return q[0], q[2]

    def paired_difference_quartiles(self, a: str, b: str) -> tuple[float, float]:
        """25th and 75th percentiles of the per-round differences ``a - b`` (seconds)."""
        per_round = [x - y for x, y in zip(self.samples[a], self.samples[b], strict=True)]
        if len(per_round) < 2:
            return per_round[0], per_round[0]
        q = statistics.quantiles(per_round, n=4, method="inclusive")
        return q[0], q[2]

    def spread(self, impl: str) -> float:
        """Interquartile range over the median: the run-to-run noise of one implementation."""
        s = self.samples[impl]
        if len(s) < 2:
            return 0.0
        q = statistics.quantiles(s, n=4, method="inclusive")
        return (q[2] - q[0]) / self.median(impl)


def _time_once(
    fn: Callable[[], Any], number: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Seconds per call over ``number`` back-to-back calls, with the cyclic GC paused."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        for _ in range(number):
            fn()
        elapsed = clock() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / number


class Suite:
    """Registered cases, run one after another; implementations interleave within a case."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def add(
        self,
        name: str,
        impls: dict[str, Callable[[], Any]],
        baseline: str,
        **kwargs: Any,
    ) -> Case:
        case = Case(name, dict(impls), baseline, **kwargs)
        self.cases.append(case)
        return case

    def run(
        self,
        rounds: int,
        warmup: int = 2,
        min_sample_s: float = 0.02,
        settle_s: float = 0.0,
        log: Callable[[str], None] | None = print,
        clock: Callable[[], float] = time.perf_counter,
    ) -> list[CaseResult]:
        """Time every case: ``warmup`` untimed calls, then ``rounds`` interleaved samples.

        Each sample repeats an implementation enough times to last about ``min_sample_s``
        (calibrated from the warm-up), so fast and slow implementations are timed with
        similar resolution. ``settle_s`` is a pause before each sample, long enough for the
        previous implementation's idle thread pool to stop spinning (see
        :func:`blas_spin_seconds`); otherwise it steals cores from the next one.

        ``clock`` is wall time by default. ``time.process_time`` (the CPU time of every
        thread of the process) is the robust choice on a crowded machine, with every library
        single-threaded; ``time.thread_time`` would miss the work of any pool a library
        starts (theta's KMeans chunks, a BLAS thread).
        """
        results = []
        for case in self.cases:
            watch = OtherLoad().start()
            numbers = {}
            for impl, fn in case.impls.items():
                if impl in case.reset:
                    case.reset[impl]()
                per_call = min(_time_once(fn, 1, clock) for _ in range(max(1, warmup)))
                numbers[impl] = max(1, math.ceil(min_sample_s / max(per_call, 1e-9)))
            samples: dict[str, list[float]] = {impl: [] for impl in case.impls}
            for _ in range(rounds):
                for impl, fn in case.impls.items():  # interleaved: A B C A B C ...
                    if impl in case.reset:
                        case.reset[impl]()
                    if settle_s:
                        time.sleep(settle_s)
                    if case.prime:
                        fn()
                    samples[impl].append(_time_once(fn, numbers[impl], clock))
            result = CaseResult(case, samples, numbers, watch.stop())
            results.append(result)
            if log is not None:
                log(render_case(result))
                log("")
        return results


# --- reporting ---------------------------------------------------------------------------


def _fmt_time(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _fmt_signed(seconds: float) -> str:
    return ("+" if seconds >= 0 else "−") + _fmt_time(abs(seconds))


def render_case(result: CaseResult) -> str:
    """One markdown table: median per implementation and its ratio to the baseline."""
    case = result.case
    base = case.baseline
    lines = [f"### {case.name}", ""]
    if case.note:
        lines += [case.note, ""]
    lines += [
        f"| implementation | median per {case.unit} | best | spread (IQR/median) | "
        f"× {base} (medians) | per-round ratio q25–q75 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for impl in case.impls:
        lo, hi = result.paired_quartiles(impl, base)
        lines.append(
            f"| {impl} | {_fmt_time(result.median(impl))} | "
            f"{_fmt_time(min(result.samples[impl]))} | {result.spread(impl):.0%} | "
            f"{result.ratio(impl, base):.2f} | {lo:.2f}–{hi:.2f} |"
        )
    if case.ratios:
        lines += [
            "",
            "| ratio | of medians | per-round q25–q75 | of bests |",
            "|---|---:|---:|---:|",
        ]
        for num, den in case.ratios:
            lo, hi = result.paired_quartiles(num, den)
            best = min(result.samples[num]) / min(result.samples[den])
            lines.append(
                f"| {num} / {den} | {result.ratio(num, den):.2f} | {lo:.2f}–{hi:.2f} | {best:.2f} |"
            )
    if case.differences:
        lines += [
            "",
            f"| difference | of medians, per {case.unit} | per-round q25–q75 |",
            "|---|---:|---:|",
        ]
        for a, b in case.differences:
            lo, hi = result.paired_difference_quartiles(a, b)
            diff = result.median(a) - result.median(b)
            lines.append(
                f"| {a} − {b} | {_fmt_signed(diff)} | {_fmt_signed(lo)} to {_fmt_signed(hi)} |"
            )
    rounds = len(next(iter(result.samples.values())))
    calls = ", ".join(f"{k} {v}" for k, v in result.numbers.items())
    lines += ["", f"{rounds} interleaved rounds; calls per sample: {calls}."]
    if result.other_load is not None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        of = f" of {cores}" if cores else ""
        busy = " (a busy machine: read the ratios with care)" if result.other_load > 0.25 else ""
        lines.append(
            f"Other processes kept {result.other_load:.2f}{of} cores busy meanwhile{busy}."
        )
    return "\n".join(lines)


def render_markdown(
    results: list[CaseResult],
    facts: dict[str, Any],
    settings: dict[str, Any],
    title: str = "Benchmark results",
    preamble: str = "",
    appendix: str = "",
    summary: str = "",
) -> str:
    """The whole report: title, preamble, ``summary`` (e.g. goals), machine, settings, one
    table per case, then ``appendix``."""
    parts = [f"# {title}", ""]
    if preamble:
        parts += [preamble, ""]
    if summary:
        parts += [summary.rstrip("\n"), ""]
    parts += ["## Machine", "", render_facts(facts), "", "## Settings", ""]
    parts += [render_facts(settings), "", "## Results", ""]
    for result in results:
        parts += [render_case(result), ""]
    if appendix:
        parts += [appendix.rstrip("\n"), ""]
    return "\n".join(parts)


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
