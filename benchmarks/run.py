"""Run every benchmark and write ``benchmarks/RESULTS.md``.

    python benchmarks/run.py            # full run in both modes (about ten minutes)
    python benchmarks/run.py --quick    # smoke run for CI: a few rounds, prints only
    python benchmarks/run.py --mode threads --out /tmp/threads.md   # one mode

A full run measures the suite twice, each in a fresh process: single thread (every library on
one thread, timed by the process' CPU time, which a busy machine does not distort) and default
threads (every library with its own default thread count, as users run it, timed by wall
time). RESULTS.md holds both goal tables at the top, then each mode's figures.

Times are only ever compared as ratios between implementations run in the same rounds;
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
# A checkout keeps its results beside the suite; an installed copy (theta_benchmarks, in
# site-packages) writes them to the working directory instead.
RESULTS = HERE / "RESULTS.md" if (SRC / "theta").is_dir() else Path("RESULTS.md")


def use_working_tree() -> None:
    """Benchmark the theta in this checkout (src layout) rather than an installed copy."""
    if (SRC / "theta").is_dir() and str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))


MODES = {"single": "single thread, CPU time", "threads": "default threads, wall time"}


def run_both_modes(rounds: int | None) -> int:
    """Run the suite once per mode in fresh processes and merge both into RESULTS.md.

    Memory is probed in the single-thread run only: peak memory does not depend on threads.
    """
    from harness import write_atomic

    reports = {}
    for mode in MODES:
        out = RESULTS.with_name(f".RESULTS-{mode}.md.part")
        command = [sys.executable, str(Path(__file__).resolve()), "--mode", mode, "--out", str(out)]
        command += ["--rounds", str(rounds)] if rounds else []
        command += ["--no-memory"] if mode == "threads" else []
        print(f"# mode: {MODES[mode]}", flush=True)
        try:
            subprocess.run(command, check=True)
            reports[mode] = out.read_text(encoding="utf-8")
        finally:
            out.unlink(missing_ok=True)
    write_atomic(RESULTS, merge_reports(reports))
    print(f"wrote {RESULTS}")
    return 0


def merge_reports(reports: dict[str, str]) -> str:
    """One page from each mode's report: every mode's goals first, then each mode's figures
    (its headings one level down)."""
    title, preamble = (
        "theta benchmarks",
        (
            "Written by `python benchmarks/run.py`; do not edit by hand. Two runs of the whole "
            "suite: " + " and ".join(MODES.values()) + ". Times from a shared machine are "
            "meaningful only as ratios within one run."
        ),
    )
    parts = [f"# {title}", "", preamble, ""]
    bodies = []
    for mode, text in reports.items():
        body = text.split("\n## ", 1)[1]  # drop the report's own title and preamble
        goals, rest = body.split("\n## ", 1) if body.startswith("Goals") else ("", body)
        if goals:
            parts += ["## " + goals.replace("Goals", f"Goals: {MODES[mode]}", 1).rstrip(), ""]
        bodies += [f"## Figures: {MODES[mode]}", "", "### " + rest.replace("\n## ", "\n### ")]
    return "\n".join(parts + bodies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds only (smoke test)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per case")
    parser.add_argument(
        "--mode",
        choices=MODES,
        help="one mode only: 'single' (--threads 1 --cpu-time) or 'threads' (every library's "
        "default thread count, wall time); default: both, each in a fresh process",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument(
        "--threads",
        type=int,
        help="BLAS and torch threads (default: NumPy's BLAS setting; 1 with --quick)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        help="seconds to pause before each sample so idle thread pools stop spinning "
        "(default 0.15, or 0 with --quick; OpenBLAS spins about 0.1 s after each call)",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the process' CPU time (every thread: BLAS and theta's own pools "
        "count) instead of wall time (implies and needs --threads 1): robust on a crowded "
        "machine, where time slicing inflates wall time",
    )
    parser.add_argument(
        "--only",
        metavar="TEXT",
        action="append",
        help="time only the cases whose name contains TEXT (repeatable; all checks still "
        "run); writes nothing unless given --out",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="markdown file to write (default: benchmarks/RESULTS.md for a full run, or "
        "RESULTS.md in the working directory when installed; nothing for --quick)",
    )
    args = parser.parse_args(argv)
    use_working_tree()  # also for `python -m theta_benchmarks.run`, whose sys.path lacks HERE
    custom = args.quick or args.only or args.threads or args.cpu_time or args.out
    if args.mode is None and not custom:
        return run_both_modes(args.rounds)
    if args.mode == "single":
        args.threads, args.cpu_time = 1, True

    import bench_autograd
    import bench_compile
    import bench_conv
    import bench_corpus
    import bench_encoder
    import bench_estimators
    import bench_gpt
    import bench_memory
    import bench_outofcore
    import bench_rl
    import bench_training
    import goals
    from harness import (
        Suite,
        blas_spin_seconds,
        configure_threads,
        machine_facts,
        render_markdown,
        write_atomic,
    )

    if args.cpu_time:
        if args.threads not in (None, 1):
            parser.error("--cpu-time sums every thread's time; use it with --threads 1")
        args.threads = 1
    if args.quick and args.threads is None:
        # one thread: with no pauses, idle-spinning BLAS and OpenMP pools would fight over
        # the cores and stretch a smoke run from seconds to tens of seconds on a busy machine
        args.threads = 1
    if args.settle is None:
        args.settle = 0.0 if args.quick else 0.15
    rounds = args.rounds or (3 if args.quick else 40)
    warmup = 1 if args.quick else 3
    min_sample_s = 0.005 if args.quick else 0.03
    threads = configure_threads(args.threads)
    settings = {
        "mode": "quick (smoke run; figures are not meaningful)"
        if args.quick
        else MODES.get(args.mode or "", "full"),
        "rounds per case": rounds,
        "warm-up calls per implementation": warmup,
        "minimum time per sample": f"{min_sample_s * 1e3:.0f} ms (calls per sample calibrated)",
        "order": "interleaved A B C A B C ...; cyclic GC paused while a sample runs",
        "pause before each sample": f"{args.settle:.2f} s (thread pools go idle), then one "
        "untimed priming call where the case asks for it",
        "statistic": "median seconds per call; ratio = ratio of medians",
        "clock": "CPU time of the process (time.process_time, all its threads; every library "
        "set to one thread)"
        if args.cpu_time
        else "wall time (time.perf_counter)",
        **{k.replace("_", " "): v for k, v in threads.items()},
    }
    facts = machine_facts()
    facts["NumPy BLAS idle spin after a call"] = (
        f"{blas_spin_seconds():.3f} CPU s in a 0.3 s sleep (why samples pause first)"
    )
    print("## Machine")
    for key, value in facts.items():
        print(f"{key}: {value}")
    print("## Settings")
    for key, value in settings.items():
        print(f"{key}: {value}")
    print()

    suite = Suite()
    started = time.perf_counter()
    checks = bench_autograd.register(suite)
    checks.update(bench_training.register(suite))
    checks.update(bench_conv.register(suite))
    checks.update(bench_gpt.register(suite))
    checks.update(bench_encoder.register(suite))
    checks.update(bench_rl.register(suite))
    checks.update(bench_estimators.register(suite, quick=args.quick))
    checks.update(bench_corpus.register(suite, quick=args.quick, only=args.only))
    settings.update(checks)

    def selected(name: str) -> bool:
        return not args.only or any(t in name for t in args.only)

    if args.only:
        suite.cases = [case for case in suite.cases if selected(case.name)]
        settings["cases"] = "only those whose name contains " + " or ".join(map(repr, args.only))
    for key, value in checks.items():
        print(f"{key}: {value}")
    print()
    results = suite.run(
        rounds=rounds,
        warmup=warmup,
        min_sample_s=min_sample_s,
        settle_s=args.settle,
        clock=time.process_time if args.cpu_time else time.perf_counter,
    )
    memory_steps = 2 if args.quick else None
    settings["memory probes"] = "peak RSS of each implementation in a fresh process, " + (
        "2 steps each" if args.quick else "each workload's own number of steps"
    )
    probes = (
        []
        if args.no_memory
        else bench_memory.run_probes(memory_steps, threads["numpy_blas_threads"], select=selected)
    )
    # one epoch from a 2 GB memory map (8 MiB with --quick), once: with the memory probes
    outofcore = [] if args.no_memory or not selected("out-of-core") else bench_outofcore.run(
        quick=args.quick
    )
    # compile and load times of the compiled kernels, once (with the memory probes)
    compile_times = "" if args.no_memory or args.quick or args.only else bench_compile.markdown(
        bench_compile.measure(), bench_compile.startup()
    )
    appendix = "\n".join(
        part
        for part in (
            goals.gemm_limit_markdown(results),
            compile_times,
            bench_gpt.throughput_markdown(results),
            bench_memory.memory_markdown(probes),
            bench_training.memory_markdown(),
            bench_outofcore.markdown(outofcore) if outofcore else "",
        )
        if part
    )
    if args.quick:  # a few rounds on a busy machine: no mark of a goal met or missed
        summary = "## Goals\n\nNot judged: a --quick run is a smoke test of the suite.\n"
    else:
        summary = goals.render_goals(goals.collect_goals(results, probes))
    print(appendix)
    print(summary)
    elapsed = time.perf_counter() - started
    settings["wall time of the run"] = f"{elapsed:.0f} s"
    if hasattr(os, "getloadavg"):
        settings["load average at the end (1, 5, 15 min)"] = ", ".join(
            f"{x:.2f}" for x in os.getloadavg()
        )
    print(f"done in {elapsed:.1f} s")

    default_out = None if args.quick or args.only else RESULTS
    out = args.out if args.out is not None else default_out
    if out is not None:
        text = render_markdown(
            results,
            facts,
            settings,
            title="theta benchmarks",
            preamble="Written by `python benchmarks/run.py`; do not edit by hand. Times "
            "from a shared machine are meaningful only as ratios within one run.",
            appendix=appendix,
            summary=summary,
        )
        write_atomic(out, text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
