"""Peak memory of each implementation's run, PyTorch included, each in a fresh process.

``tracemalloc`` cannot see PyTorch's allocator, so every (workload, implementation) pair runs
in a Python process of its own (``python benchmarks/bench_memory.py --probe WORKLOAD IMPL``)
that imports only its own library (a theta or NumPy probe that imports torch is an error),
builds the data, then the model and optimizer with the same builders as the timed cases
(``bench_training``, ``bench_gpt``), runs N steps and reads the resident set size (RSS) from
``/proc/self/status``:

- ``peak added by the run``: the highest RSS during the N steps minus the RSS before them,
  i.e. the peak memory a run adds over its model and data (activations, gradients,
  optimizer state, scratch, whatever the library allocates on first use);
- ``later steps``: the same for steps 2..N above the RSS after step 1 (the steady state,
  without the first step's one-off allocations);
- ``model + optimizer``: RSS after building them minus RSS after the imports and the data;
- ``absolute peak``: the process's peak RSS (interpreter, libraries, data and the run).

The peak is reset between phases by writing 5 to ``/proc/self/clear_refs`` (Linux ≥ 4.0).
Linux only: elsewhere :func:`run_probes` returns nothing and the section says why.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bench_gpt
from bench_training import (
    INFERENCE_IMPLS,
    LARGE,
    MAKERS,
    OPTIMIZERS,
    SMALL,
    Net,
    inference_case,
    make_inference_impl,
    problem,
    training_case,
)

__all__ = [
    "GOAL_WORKLOADS",
    "WORKLOADS",
    "Probe",
    "Workload",
    "memory_markdown",
    "parse_probe",
    "probe",
    "run_probe",
    "run_probes",
    "torch_ratio",
]

MARKER = "MEMORY-PROBE "
STATUS = Path("/proc/self/status")
# imported before the baseline is read, so that a library's own footprint is not "the run"
LIBRARIES = {
    "theta": ("theta", "theta.nn", "theta.optim", "theta.losses", "theta.models"),
    "torch": ("torch", "torch.nn.functional", "torch.optim"),
    "numpy floor": (),
}


@dataclass(frozen=True)
class Workload:
    """What one probe runs: ``data()`` once, then ``build(impl, data)`` gives a step."""

    name: str
    impls: tuple[str, ...]
    steps: int  # steps in a full run
    data: Callable[[], Any]
    build: Callable[[str, Any], Callable[[], Any]]


def _mlp(net: Net, optimizer: str) -> Workload:
    def build(impl: str, p: dict[str, Any]) -> Callable[[], Any]:
        return MAKERS[impl](net, p, optimizer).step

    return Workload(
        "Peak memory: " + training_case(net, optimizer), tuple(MAKERS), 10,
        lambda: problem(net), build,
    )  # fmt: skip


def _gpt() -> Workload:
    def build(impl: str, data: list) -> Callable[[], Any]:
        ours = bench_gpt.make_theta(data=data)
        if impl == "theta":
            return ours.step
        # torch starts from theta's initial weights, as in the timed case
        return bench_gpt.make_torch(ours.model.state_dict(), data=data).step

    return Workload(
        "Peak memory: " + bench_gpt.GPT_CASE, ("theta", "torch"), 3,
        lambda: bench_gpt.batches(1), build,
    )  # fmt: skip


def _inference(net: Net) -> Workload:
    def build(impl: str, p: dict[str, Any]) -> Callable[[], Any]:
        return make_inference_impl(net, p, impl)

    return Workload(
        "Peak memory: " + inference_case(net), INFERENCE_IMPLS, 100, lambda: problem(net), build
    )


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        *(_mlp(net, opt) for net in (LARGE, SMALL) for opt in OPTIMIZERS),
        _gpt(),
        _inference(SMALL),
    )
}
GOAL_WORKLOADS = tuple(name for name in WORKLOADS if "Inference" not in name)  # MLP and GPT


@dataclass(frozen=True)
class Probe:
    """One probe's figures, in MiB (``later_mib`` is None for a one-step run)."""

    workload: str
    impl: str
    steps: int
    data_mib: float
    setup_mib: float
    run_mib: float
    later_mib: float | None
    peak_mib: float
    torch_imported: bool


# --- the child: one implementation, one workload ---------------------------------------------


def _status_mib(key: str) -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak since the last reset) of this process, MiB."""
    for line in STATUS.read_text(encoding="ascii").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise OSError(f"{key} is missing from {STATUS}")


def _settled_rss() -> float:
    gc.collect()
    return _status_mib("VmRSS")


def _reset_peak() -> None:
    """Make the peak RSS (VmHWM) restart from the current RSS."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def probe(workload: str, impl: str, steps: int | None = None) -> Probe:
    """Measure ``impl`` running ``steps`` steps (default: the workload's own) of ``workload``
    in this process; call it in a fresh one, since what is already allocated is baseline."""
    if workload not in WORKLOADS:
        raise ValueError(f"workload must be one of {sorted(WORKLOADS)}, got {workload!r}")
    work = WORKLOADS[workload]
    if impl not in work.impls:
        raise ValueError(f"impl must be one of {work.impls} for {workload!r}, got {impl!r}")
    steps = work.steps if steps is None else steps
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    for module in LIBRARIES[impl]:
        importlib.import_module(module)
    if impl == "theta":  # Numba and the kernels' modules are the library's, as torch's are
        from theta import kernels

        for family in kernels.FAMILIES:
            kernels.load(family)
    data = work.data()
    data_rss = _settled_rss()
    step = work.build(impl, data)
    setup_rss = _settled_rss()
    peaks = [_status_mib("VmHWM")]
    _reset_peak()
    step()
    peaks.append(_status_mib("VmHWM"))
    later = None
    if steps > 1:
        first_rss = _settled_rss()
        _reset_peak()
        for _ in range(steps - 1):
            step()
        peaks.append(_status_mib("VmHWM"))
        later = peaks[2] - first_rss
    return Probe(
        workload=workload,
        impl=impl,
        steps=steps,
        data_mib=data_rss,
        setup_mib=setup_rss - data_rss,
        run_mib=max(peaks[1:]) - setup_rss,
        later_mib=later,
        peak_mib=max(peaks),
        torch_imported="torch" in sys.modules,
    )


# --- the parent: one fresh process per probe --------------------------------------------------


def parse_probe(stdout: str) -> Probe:
    """The :class:`Probe` a child printed (its last line starting with ``MARKER``)."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise ValueError(f"no line starting with {MARKER!r} in the probe's output: {stdout!r}")
    return Probe(**json.loads(lines[-1][len(MARKER) :]))


def run_probe(workload: str, impl: str, steps: int, threads: int | None = None) -> Probe:
    """Run :func:`probe` in a fresh Python process (``threads``: its BLAS and OpenMP threads)."""
    env = dict(os.environ)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    args = [sys.executable, str(Path(__file__).resolve()), "--probe", workload, impl]
    proc = subprocess.run(
        [*args, "--steps", str(steps)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"memory probe of {impl} on {workload!r} exited with {proc.returncode}:\n"
            + proc.stderr[-3000:]
        )
    result = parse_probe(proc.stdout)
    if result.torch_imported and impl != "torch":
        raise RuntimeError(f"the {impl} memory probe imported torch (its RSS would count it)")
    return result


def run_probes(
    steps: int | None = None,
    threads: int | None = None,
    select: Callable[[str], bool] = lambda name: True,
    log: Callable[[str], None] | None = print,
) -> list[Probe]:
    """Every selected workload's implementations, one fresh process each (``steps``: steps
    per probe, default each workload's own); empty where ``/proc`` is missing."""
    if not STATUS.exists():
        return []
    probes = []
    for work in WORKLOADS.values():
        if not select(work.name):
            continue
        for impl in work.impls:
            probes.append(run_probe(work.name, impl, steps or work.steps, threads))
            if log is not None:
                p = probes[-1]
                log(f"{work.name} [{impl}]: run adds {p.run_mib:.2f} MiB, peak {p.peak_mib:.1f}")
    return probes


def torch_ratio(probes: Iterable[Probe], workload: str, impl: str = "theta") -> float | None:
    """``impl``'s peak added by the run over torch's on ``workload`` (None: not measured)."""
    runs = {p.impl: p.run_mib for p in probes if p.workload == workload}
    if impl not in runs or runs.get("torch", 0.0) <= 0.0:
        return None
    return runs[impl] / runs["torch"]


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} MiB"


def memory_markdown(probes: list[Probe]) -> str:
    """A markdown section: one table per workload, one row per implementation."""
    lines = ["## Peak memory of each run (RSS, a fresh process per implementation)", ""]
    if not probes:
        return "\n".join([*lines, "Not measured (needs Linux's /proc, or no case selected).", ""])
    lines += [
        "Each implementation runs in a Python process of its own that imports only its own "
        "library, builds the data, then the model and optimizer (the timed cases' builders), "
        "then runs the steps. 'peak added by the run' is the peak RSS during the steps minus "
        "the RSS before them: the memory a run adds over its model and data (activations, "
        "gradients, optimizer state, buffers a library makes on first use). 'later steps' is "
        "the same for steps 2..N over the RSS after step 1. 'model + optimizer' is what "
        "building them added to the imports and data; 'absolute peak' is the process's peak "
        "RSS, interpreter and libraries included (PyTorch's own libraries are most of its). "
        "RSS moves in 4 KiB pages, and the C allocator may reuse memory freed during setup.",
        "",
    ]
    for name in WORKLOADS:
        rows = [p for p in probes if p.workload == name]
        if not rows:
            continue
        lines += [
            f"### {name}",
            "",
            f"{rows[0].steps} steps per process.",
            "",
            "| implementation | peak added by the run | later steps | model + optimizer "
            "| absolute peak | × torch (peak added) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for p in rows:
            ratio = torch_ratio(rows, name, p.impl)
            lines.append(
                f"| {p.impl} | {_mib(p.run_mib)} | {_mib(p.later_mib)} | {_mib(p.setup_mib)} "
                f"| {p.peak_mib:.1f} MiB | {'n/a' if ratio is None else f'{ratio:.2f}'} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One memory probe (run by run_probe).")
    parser.add_argument("--probe", nargs=2, metavar=("WORKLOAD", "IMPL"), required=True)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args(argv)
    workload, impl = args.probe
    result = probe(workload, impl, args.steps)
    print(MARKER + json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    from run import use_working_tree

    use_working_tree()
    sys.exit(main())
