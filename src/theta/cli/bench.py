"""``theta bench``: the side-by-side benchmarks (``benchmarks/run.py``).

The benchmarks compare theta with PyTorch, scikit-learn and hand-written NumPy; they live
beside ``src/`` rather than in the package, because their peers are test-only dependencies
(``import theta`` never imports them). The wheel ships them as the top-level package
``theta_benchmarks``. This command runs the checkout's copy when theta is installed editable
from one (so developers time their working tree), else the installed one, in a child process,
so the flags and the exit code are the benchmark script's own.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from theta.cli.argtypes import positive_int

__all__ = ["add_parser", "find_benchmarks", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="time theta against PyTorch, scikit-learn and NumPy",
        description="Run the benchmark suite (benchmarks/run.py of this checkout, or the "
        "installed theta_benchmarks): every workload side by side with its peers, interleaved, "
        "reporting medians and ratios. A full run measures both modes and writes "
        "benchmarks/RESULTS.md (RESULTS.md in the working directory when installed). Needs the "
        "test extras (torch, scikit-learn).",
        epilog="examples:\n  theta bench --quick                  # smoke run, prints only\n"
        "  theta bench --cpu-time               # full run, single-thread CPU time\n"
        "  theta bench --only 'MLP' --out mlp.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a few rounds only (smoke run)")
    parser.add_argument("--mode", choices=["single", "threads"],
                        help="one mode only: 'single' (one thread, CPU time) or 'threads' "
                        "(every library's default threads, wall time); default: both, each in "
                        "a fresh process")  # fmt: skip
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory probes (default: probe them)")  # fmt: skip
    parser.add_argument("--cpu-time", action="store_true",
                        help="time one thread's CPU time (robust on a busy machine)")  # fmt: skip
    parser.add_argument("--only", metavar="TEXT", action="append",
                        help="only cases whose name contains TEXT (repeatable; default: all, "
                        "and then nothing is written unless --out is given)")  # fmt: skip
    parser.add_argument("--rounds", type=positive_int, metavar="N",
                        help="rounds per case (default 40, 3 with --quick)")  # fmt: skip
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="BLAS and torch threads (default: NumPy's BLAS setting; 1 with "
                        "--quick or --cpu-time)")  # fmt: skip
    parser.add_argument("--out", metavar="FILE.md",
                        help="where to write the results (default benchmarks/RESULTS.md for a "
                        "full run, RESULTS.md when installed; nothing for --quick or "
                        "--only)")  # fmt: skip
    parser.set_defaults(run=run)


def find_benchmarks() -> Path:
    """The suite's ``run.py``: the checkout's when theta is installed editable from one,
    else the ``theta_benchmarks`` package installed with theta."""
    import theta

    root = Path(theta.__file__).resolve().parents[2]  # <root>/src/theta/__init__.py
    script = root / "benchmarks" / "run.py"
    if script.is_file():
        return script
    try:  # imports only the package, which has no __init__: torch stays unimported
        spec = importlib.util.find_spec("theta_benchmarks.run")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.origin is not None:
        return Path(spec.origin)
    raise FileNotFoundError(
        f"theta bench found no benchmarks/run.py in {root} and no installed theta_benchmarks "
        f"package; reinstall theta-ml (`pip install theta-ml[test]`), or `pip install -e .` a "
        f"checkout"
    )


def run(args: argparse.Namespace, out: TextIO) -> int:
    command = [sys.executable, str(find_benchmarks())]
    command += ["--quick"] * args.quick + ["--cpu-time"] * args.cpu_time
    command += ["--no-memory"] * args.no_memory
    for text in args.only or []:
        command += ["--only", text]
    for flag, value in (("--mode", args.mode), ("--rounds", args.rounds),
                        ("--threads", args.threads), ("--out", args.out)):  # fmt: skip
        if value is not None:
            command += [flag, str(value)]
    out.flush()
    return subprocess.run(command, check=False).returncode
