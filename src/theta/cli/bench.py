"""``theta bench``: the side-by-side benchmarks of a source checkout (``benchmarks/run.py``).

The benchmarks compare theta with PyTorch, scikit-learn and hand-written NumPy; they live
beside ``src/`` rather than in the package, because their peers are test-only dependencies.
This command finds them next to the installed (editable) package and runs them in a child
process, so the flags and the exit code are the benchmark script's own.
"""

from __future__ import annotations

import argparse
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
        description="Run the benchmark suite of this checkout (benchmarks/run.py): every "
        "workload side by side with its peers, interleaved, reporting medians and ratios. "
        "A full run writes benchmarks/RESULTS.md. Needs the test extras (torch, scikit-learn).",
        epilog="examples:\n  theta bench --quick                  # smoke run, prints only\n"
        "  theta bench --cpu-time               # full run, single-thread CPU time\n"
        "  theta bench --only 'MLP' --out mlp.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a few rounds only (smoke run)")
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
                        "full run; nothing for --quick)")  # fmt: skip
    parser.set_defaults(run=run)


def find_benchmarks() -> Path:
    """``benchmarks/run.py`` of the checkout this theta was installed from (editable)."""
    import theta

    root = Path(theta.__file__).resolve().parents[2]  # <root>/src/theta/__init__.py
    script = root / "benchmarks" / "run.py"
    if not script.is_file():
        raise FileNotFoundError(
            f"theta bench runs the benchmarks of a source checkout, and there is no "
            f"benchmarks/run.py in {root}; clone the repository and `pip install -e .` it"
        )
    return script


def run(args: argparse.Namespace, out: TextIO) -> int:
    command = [sys.executable, str(find_benchmarks())]
    command += ["--quick"] * args.quick + ["--cpu-time"] * args.cpu_time
    for text in args.only or []:
        command += ["--only", text]
    for flag, value in (("--rounds", args.rounds), ("--threads", args.threads),
                        ("--out", args.out)):  # fmt: skip
        if value is not None:
            command += [flag, str(value)]
    out.flush()
    return subprocess.run(command, check=False).returncode
