"""The benchmark suite's own logic: memory probes parse, goals are marked ✓ / ✗ correctly.

No timing is asserted: the probes run one step of the small MLP each, in a fresh process,
only to check that the figures come back as numbers (the full suite reports them).
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
HAS_PROC = Path("/proc/self/status").exists()


@pytest.fixture(scope="module")
def bench() -> dict[str, ModuleType]:
    """The benchmark modules (they import each other by plain name, as run.py does)."""
    added = str(BENCHMARKS) not in sys.path
    if added:
        sys.path.insert(0, str(BENCHMARKS))
    try:
        return {
            name: importlib.import_module(name) for name in ("bench_memory", "goals", "harness")
        }
    finally:
        if added:
            sys.path.remove(str(BENCHMARKS))


def _small_mlp_workload(bench_memory: ModuleType) -> str:
    (name,) = [n for n in bench_memory.WORKLOADS if "MLP 64-128-128-10, batch 32, SGD" in n]
    return name


@pytest.mark.skipif(not HAS_PROC, reason="the memory probes read Linux's /proc")
@pytest.mark.parametrize("impl", ["numpy floor", "theta"])
def test_memory_probe_of_one_step_reports_positive_figures(bench, impl):
    bench_memory = bench["bench_memory"]
    workload = _small_mlp_workload(bench_memory)
    probe = bench_memory.run_probe(workload, impl, steps=1, threads=1)
    assert (probe.workload, probe.impl, probe.steps) == (workload, impl, 1)
    assert probe.data_mib > 0 and probe.peak_mib > 0
    assert probe.run_mib >= 0 and probe.setup_mib >= 0
    assert probe.peak_mib >= probe.data_mib
    assert probe.later_mib is None  # one step: there are no later steps
    assert probe.torch_imported is False


def test_parse_probe_takes_the_marked_line(bench):
    bench_memory = bench["bench_memory"]
    line = (
        '{"workload": "w", "impl": "theta", "steps": 2, "data_mib": 40.5, "setup_mib": 1.0, '
        '"run_mib": 3.25, "later_mib": 0.5, "peak_mib": 45.0, "torch_imported": false}'
    )
    probe = bench_memory.parse_probe(f"noise\n{bench_memory.MARKER}{line}\n")
    assert probe == bench_memory.Probe("w", "theta", 2, 40.5, 1.0, 3.25, 0.5, 45.0, False)
    with pytest.raises(ValueError, match="no line starting with"):
        bench_memory.parse_probe("Traceback ...")


def test_probe_rejects_unknown_workload_and_impl(bench):
    bench_memory = bench["bench_memory"]
    with pytest.raises(ValueError, match="workload must be one of"):
        bench_memory.probe("no such workload", "theta", 1)
    with pytest.raises(ValueError, match="impl must be one of"):
        bench_memory.probe(_small_mlp_workload(bench_memory), "jax", 1)


def test_goal_marks_and_bounds(bench):
    Goal = bench["goals"].Goal
    assert Goal("a", 0.9, 1.0).met is True
    assert Goal("a", 1.0, 1.0).met is True  # the bound is inclusive
    assert Goal("a", 1.2, 1.0).met is False
    assert Goal("a", 0.6, 0.7, at_least=True).met is False
    assert Goal("a", 0.75, 0.7, at_least=True).met is True
    assert Goal("a", None, 1.0).met is None
    text = bench["goals"].render_goals(
        [
            Goal("fast", 0.47, 0.5, numpy_only=0.71),
            Goal("slow", 1.26, 1.0),
            Goal("share", 0.66, 0.7, at_least=True, percent=True, numpy_only=0.5),
            Goal("absent", None, 1.0),
        ]
    )
    assert "| fast | 0.47× | 0.71× | ≤ 0.50× | ✓ |" in text
    assert "| slow | 1.26× |  | ≤ 1.00× | ✗ |" in text
    assert "| share | 66% | 50% | ≥ 70% | ✗ |" in text
    assert "| absent | not measured |  | ≤ 1.00× | – |" in text
    assert "1 of 4 goals met; 1 not measured in this run." in text


def _result(harness: ModuleType, name: str, medians: dict[str, float]):
    impls = {impl: (lambda: None) for impl in medians}
    case = harness.Case(name, impls, baseline=next(iter(medians)))
    return harness.CaseResult(
        case, {k: [v, v] for k, v in medians.items()}, dict.fromkeys(impls, 1)
    )


def test_collect_goals_from_hand_made_results(bench):
    goals, harness, bench_memory = bench["goals"], bench["harness"], bench["bench_memory"]
    large_sgd = goals.training_case(goals.LARGE, "SGD")
    results = [
        _result(
            harness,
            large_sgd,
            {
                "torch": 2.0,
                "theta": 1.0,
                "numpy floor": 0.5,
                "numpy GEMMs only": 0.9,
                "torch GEMMs only": 0.6,
            },
        ),
        _result(harness, goals.DQN_CASE, {"torch": 2.0, "theta": 1.0}),
        _result(harness, "Estimators: MLPClassifier tiny", {"sklearn": 1.0, "theta": 0.6}),
        _result(harness, "Estimators: PCA tiny", {"sklearn": 1.0, "theta": 0.6}),
    ]
    gpt_memory = next(w for w in bench_memory.GOAL_WORKLOADS if "GPT" in w)
    probes = [
        bench_memory.Probe(gpt_memory, "theta", 2, 40.0, 5.0, 150.0, 20.0, 200.0, False),
        bench_memory.Probe(gpt_memory, "torch", 2, 220.0, 80.0, 100.0, 9.0, 400.0, True),
    ]
    marks = {g.text: g.met for g in goals.collect_goals(results, probes)}
    what = "MLP 784-512-512-10 step (SGD):"
    assert marks[f"{what} theta / torch"] is True  # 0.5 <= 1.0
    assert marks[f"{what} theta / NumPy floor"] is False  # 2.0 > 1.15
    share = f"{what} throughput share of the GEMM-only limit (numpy GEMMs only / theta)"
    assert marks[share] is True  # 90% >= 85%
    assert marks["MLP 784-512-512-10 step (Adam): theta / torch"] is None  # not run
    assert marks["DQN environment steps per second: theta / torch"] is True  # 2x the steps/s
    assert marks["MLPClassifier tiny: theta / scikit-learn"] is False  # 0.6 > 0.5
    assert marks["PCA tiny: theta / scikit-learn"] is True
    gpt_marks = [m for text, m in marks.items() if "Peak memory" in text and "GPT" in text]
    assert gpt_marks == [False]  # 150 MiB over torch's 100
    assert "**90%**" in goals.gemm_limit_markdown(results)
    assert marks["Causal self-attention forward + backward: theta / torch SDPA"] is None


def _run_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_modes_merge_into_one_page_goals_first():
    run = _run_module()
    report = "# theta benchmarks\n\npreamble\n\n## Goals\n\n| {g} |\n\n## Machine\n\n- {m}\n"
    page = run.merge_reports({
        "single": report.format(g="goal one", m="cpu a"),
        "threads": report.format(g="goal two", m="cpu b"),
    })  # fmt: skip
    assert page.count("# theta benchmarks") == 1 and "preamble" not in page
    headings = [line for line in page.splitlines() if line.startswith("#")]
    assert headings == [
        "# theta benchmarks",
        "## Goals: single thread, CPU time",
        "## Goals: default threads, wall time",
        "## Figures: single thread, CPU time",
        "### Machine",
        "## Figures: default threads, wall time",
        "### Machine",
    ]
    assert page.index("goal one") < page.index("goal two") < page.index("cpu a") < page.index(
        "cpu b"
    )


def test_quick_runs_judge_no_goals():
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick", "--only", "Chapter loop",
         "--no-memory"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Not judged: a --quick run is a smoke test" in out.stdout
    assert "✓" not in out.stdout and "✗" not in out.stdout


def test_numpy_only_rows_turn_the_kernels_off_and_fill_the_goal_column(bench):
    import theta.kernels

    goals, harness = bench["goals"], bench["harness"]
    seen: list[str] = []
    impls = {"theta": lambda: seen.append(theta.kernels.get_backend()), "torch": lambda: None}
    ratios, reset = [("theta", "torch")], {"theta": lambda: None}
    with theta.kernels.use_backend("numba"):
        harness.with_numpy_only(impls, ratios, reset)
        impls["theta"]()
        impls[harness.NO_KERNELS]()
    assert seen == ["numba", "numpy"]
    assert ratios == [("theta", "torch"), (harness.NO_KERNELS, "torch"),
                      ("theta", harness.NO_KERNELS)]  # fmt: skip
    assert reset[harness.NO_KERNELS] is reset["theta"]
    medians = {"torch": 2.0, "theta": 1.0, harness.NO_KERNELS: 3.0}
    found = goals.collect_goals([_result(harness, goals.GPT_CASE, medians)])
    (gpt,) = [g for g in found if g.text.startswith("GPT training step")]
    assert (gpt.measured, gpt.numpy_only) == (0.5, 1.5)
    assert "| GPT training step: theta / torch | 0.50× | 1.50× | ≤ 1.00× | ✓ |" in (
        goals.render_goals(found)
    )


def test_compile_section_lists_every_kernel_family_and_the_start_up(bench):
    import theta.kernels

    sys.path.insert(0, str(BENCHMARKS))
    try:
        bench_compile = importlib.import_module("bench_compile")
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert set(bench_compile.WORKLOADS) == set(theta.kernels.FAMILIES)
    rows = dict.fromkeys(bench_compile.WORKLOADS, {"cold": 1.25, "cached": 0.5, "ready": 0.002})
    start = {"import": 0.3, "first": 0.4, "numba": False}
    text = bench_compile.markdown(rows, start)
    assert "| optim | 1.25 s | 0.50 s | 2.0 ms |" in text
    assert "`theta train` 0.40 s; Numba was not imported." in text
