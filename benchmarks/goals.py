"""The suite's goals, each with the ratio this run measured and ✓ or ✗: the top of RESULTS.md.

A goal is a bound on one ratio of medians (or of peak memory) from the same run, e.g. theta's
training step time over PyTorch's ``<= 1.0``. Goals whose case did not run (``--only``, a
missing peer) are listed as not measured rather than dropped, so the table always has every
goal in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench_autograd import CHAPTER_CASE
from bench_conv import CONV_CASES
from bench_encoder import BATCH as ENCODER_BATCH
from bench_gpt import ATTENTION_CASE, GPT_CASE
from bench_memory import GOAL_WORKLOADS, Probe, torch_ratio
from bench_rl import DQN_CASE
from bench_training import LARGE, OPTIMIZERS, SMALL, training_case
from harness import NO_KERNELS, CaseResult

__all__ = ["Goal", "collect_goals", "gemm_limit_markdown", "render_goals"]

GEMM_LIMIT_SHARE = 0.85  # issue 16: the step is its GEMMs plus little else
ESTIMATORS = "Estimators: "
MINILM_CASE = f"MiniLM-L6 sentence embeddings, batch {ENCODER_BATCH}, float32"


@dataclass(frozen=True)
class Goal:
    """``measured`` must be ``<= target`` (or ``>= target`` when ``at_least``); None: not run."""

    text: str
    measured: float | None
    target: float
    at_least: bool = False
    percent: bool = False  # show measured and target as percentages rather than as ×
    numpy_only: float | None = None  # the same ratio with theta's compiled kernels off

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.target if self.at_least else self.measured <= self.target

    def _fmt(self, value: float) -> str:
        return f"{value:.0%}" if self.percent else f"{value:.2f}×"

    def row(self) -> str:
        measured = "not measured" if self.measured is None else self._fmt(self.measured)
        before = "" if self.numpy_only is None else self._fmt(self.numpy_only)
        mark = {True: "✓", False: "✗", None: "–"}[self.met]
        bound = "≥" if self.at_least else "≤"
        return (f"| {self.text} | {measured} | {before} | {bound} {self._fmt(self.target)} "
                f"| {mark} |")  # fmt: skip


def render_goals(goals: Iterable[Goal]) -> str:
    """A markdown section: one row per goal, its measured value, its bound and ✓ / ✗."""
    goals = list(goals)
    met = sum(g.met is True for g in goals)
    missing = sum(g.met is None for g in goals)
    lines = [
        "## Goals",
        "",
        "Generated from this run's figures: times are ratios of medians (theta over its peer, "
        "lower is better, except where a bound is ≥), memory is theta's peak added by a run "
        "over PyTorch's (see the last sections). 'NumPy only' is the same ratio with theta's "
        "compiled kernels off (`theta.kernels`), measured in the same run, where they serve.",
        "",
        "| goal | measured | NumPy only | target | met |",
        "|---|---:|---:|---:|:-:|",
        *(g.row() for g in goals),
        "",
        f"{met} of {len(goals)} goals met"
        + (f"; {missing} not measured in this run." if missing else "."),
        "",
    ]
    return "\n".join(lines)


def _ratio(results: dict[str, CaseResult], case: str, num: str, den: str) -> float | None:
    result = results.get(case)
    if result is None or num not in result.samples or den not in result.samples:
        return None
    return result.ratio(num, den)


def _timed(text: str, results: dict[str, CaseResult], case: str, num: str, den: str,
           target: float, **kwargs: Any) -> Goal:  # fmt: skip
    """A goal on ``num / den`` in ``case``, with the same ratio for theta on NumPy alone."""
    swap = {"theta": NO_KERNELS}
    before = _ratio(results, case, swap.get(num, num), swap.get(den, den))
    return Goal(text, _ratio(results, case, num, den), target, numpy_only=before, **kwargs)


def collect_goals(results: Iterable[CaseResult], probes: Iterable[Probe] = ()) -> list[Goal]:
    """Every goal of the suite, measured from ``results`` (timed cases) and ``probes``."""
    by_name = {r.case.name: r for r in results}
    probes = list(probes)
    goals = []
    for optimizer in OPTIMIZERS:
        case = training_case(LARGE, optimizer)
        what = f"MLP {LARGE.label} step ({optimizer}):"
        goals += [
            _timed(f"{what} theta / torch", by_name, case, "theta", "torch", 1.0),
            _timed(
                f"{what} theta / NumPy floor", by_name, case, "theta", "numpy floor", 1.15
            ),
            _timed(
                f"{what} throughput share of the GEMM-only limit (numpy GEMMs only / theta)",
                by_name, case, "numpy GEMMs only", "theta",
                GEMM_LIMIT_SHARE,
                at_least=True,
                percent=True,
            ),
        ]
    for optimizer in OPTIMIZERS:
        goals.append(
            _timed(
                f"MLP {SMALL.label} step ({optimizer}): theta / torch",
                by_name, training_case(SMALL, optimizer), "theta", "torch",
                0.5,
            )
        )
    goals += [
        _timed("GPT training step: theta / torch", by_name, GPT_CASE, "theta", "torch", 1.0),
        _timed(
            "Causal self-attention forward + backward: theta / torch SDPA",
            by_name, ATTENTION_CASE, "theta", "torch",
            1.0,
        ),
        _timed(
            f"MiniLM sentence embeddings, batch {ENCODER_BATCH}: theta / torch",
            by_name, MINILM_CASE, "theta", "torch",
            1.0,
        ),
        _timed(
            "Chapter loop (1000 steps): theta / torch",
            by_name, CHAPTER_CASE, "theta", "torch",
            0.5,
        ),
    ]
    for label, case in CONV_CASES.items():
        goals.append(_timed(f"conv2d fwd+bwd, {label}: theta / torch", by_name, case, "theta",
                            "torch", 1.5))  # fmt: skip
    estimators = [name for name in by_name if name.startswith(ESTIMATORS)]
    for name in estimators:
        target = 0.5 if "MLPClassifier" in name else 1.0
        goals.append(
            _timed(
                f"{name.removeprefix(ESTIMATORS)}: theta / scikit-learn",
                by_name, name, "theta", "sklearn",
                target,
            )
        )
    if not estimators:
        goals.append(Goal("Estimators: theta / scikit-learn (MLPClassifier ≤ 0.5×)", None, 1.0))
    goals.append(
        _timed(
            "DQN environment steps per second: theta / torch",
            by_name, DQN_CASE, "torch", "theta",
            1.0,
            at_least=True,
        )
    )
    for workload in GOAL_WORKLOADS:
        label = workload.removeprefix("Peak memory: Training step: ").removesuffix(", float32")
        goals.append(
            Goal(
                f"Peak memory added by a run, {label}: theta / torch",
                torch_ratio(probes, workload),
                1.0,
            )
        )
    return goals


def gemm_limit_markdown(results: Iterable[CaseResult]) -> str:
    """A markdown section: the large MLP step's throughput as a share of the GEMMs' alone."""
    by_name = {r.case.name: r for r in results}
    lines = []
    for optimizer in OPTIMIZERS:
        case = training_case(LARGE, optimizer)
        share = _ratio(by_name, case, "numpy GEMMs only", "theta")
        if share is None:
            continue
        fastest = _ratio(by_name, case, "torch GEMMs only", "theta")
        lines.append(
            f"- MLP {LARGE.label}, batch {LARGE.batch}, {optimizer}: theta's step runs at "
            f"**{share:.0%}** of the GEMM-only throughput of NumPy's BLAS (the GEMMs theta "
            f"calls; goal ≥ {GEMM_LIMIT_SHARE:.0%})"
            + (f", {fastest:.0%} of PyTorch's GEMMs alone." if fastest is not None else ".")
        )
    if not lines:
        return ""
    head = [
        "## Throughput against the GEMM-only limit",
        "",
        "Share = time of the step's 8 matmuls alone / time of theta's whole step (medians).",
        "",
    ]
    return "\n".join([*head, *lines, ""])
