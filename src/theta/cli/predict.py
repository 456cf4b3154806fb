"""``theta predict RUN INPUT...``: inference from a saved run, in a fresh process."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import numpy as np

from theta.cli.runs import load_run
from theta.validation import check_array


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="run a trained model on new inputs",
        description="Predict with the model of a run folder. Each INPUT is one sample, its "
        "features separated by commas; or read rows from a CSV file (--file, '-' for stdin).",
        epilog="examples:\n  theta predict runs/line 10\n"
        "  theta predict runs/iris 5.1,3.5,1.4,0.2 6.7,3.0,5.2,2.3\n"
        "  theta predict runs/iris --file new.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN", help="a run folder written by theta train")
    parser.add_argument("inputs", metavar="INPUT", nargs="*", help="comma-separated features")
    parser.add_argument("--file", metavar="CSV", help="rows of features ('-' reads stdin)")
    parser.add_argument("--check-finite", action="store_true",
                        help="refuse NaN or infinite weights (default: warn)")  # fmt: skip
    parser.set_defaults(run=run)


def _rows(args: argparse.Namespace) -> np.ndarray:
    rows = [line.split(",") for line in args.inputs]
    if args.file:
        source = sys.stdin if args.file == "-" else open(args.file)  # noqa: SIM115
        with source:
            rows += [line.strip().split(",") for line in source if line.strip()]
    if not rows:
        raise ValueError("give at least one INPUT or --file")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise ValueError(f"inputs have different numbers of features: {sorted(widths)}")
    try:
        X = np.array([[float(v) for v in row] for row in rows])
    except ValueError as exc:
        raise ValueError(f"inputs must be numbers separated by commas ({exc})") from None
    return check_array(X, input_name="INPUT")


def run(args: argparse.Namespace, out: TextIO) -> int:
    trained = load_run(args.run_dir, check_finite=args.check_finite)
    for prediction in trained.predict(_rows(args)):
        print(prediction, file=out)
    return 0
