"""``theta predict RUN INPUT...``: inference from a saved run, in a fresh process.

A run of ``theta train`` predicts with its model and feature scaling; a run of ``theta tune``
with the best estimator, refitted on all the data, that it saved. Rows come from the command
line or a CSV file; a CSV whose first row names the columns has them matched by name to the
training data's features (in any order), so a table exported from elsewhere needs no edit.
"""

from __future__ import annotations

import argparse
import csv
import io as _io
import json
import numbers
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta import data, io
from theta.autograd import no_grad, tensor
from theta.cli.argtypes import is_number_text
from theta.cli.config import ConfigError
from theta.cli.runs import check_run_dir, load_run, read_stamp
from theta.tensorfile import atomic_write_text
from theta.validation import check_array

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="run a trained model on new inputs",
        description="Predict with the model of a run folder (theta train) or the refitted best "
        "estimator of a search (theta tune). Each INPUT is one sample, its features separated "
        "by commas; or read rows from a CSV file (--file, '-' for stdin). A CSV whose first "
        "row is a header has its columns matched by name to the training data's features.",
        epilog="examples:\n  theta predict runs/line 10\n"
        "  theta predict runs/iris 5.1,3.5,1.4,0.2 6.7,3.0,5.2,2.3\n"
        "  theta predict runs/iris --file new.csv --proba --out predictions.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN", help="a run folder written by theta train "
                        "or theta tune")  # fmt: skip
    parser.add_argument("inputs", metavar="INPUT", nargs="*", help="comma-separated features")
    parser.add_argument("--file", metavar="CSV", help="rows of features, with or without a "
                        "header row ('-' reads stdin; default: none)")  # fmt: skip
    parser.add_argument("--proba", action="store_true", help="also give each class's "
                        "probability, as CSV columns (classifiers only; default: off)")  # fmt: skip
    parser.add_argument("--out", metavar="FILE", help="write the predictions to FILE as CSV, "
                        "atomically (default: print them)")  # fmt: skip
    parser.add_argument("--check-finite", action="store_true",
                        help="refuse NaN or infinite weights (default: warn)")  # fmt: skip
    parser.set_defaults(run=run)


def _normal(name: str) -> str:
    """A column name compared loosely: case, spaces, punctuation and a unit in brackets
    (``sepal length (cm)``) do not count."""
    name = re.sub(r"\s*[(\[].*?[)\]]\s*$", "", name)
    return "_".join(re.findall(r"[a-z0-9]+", name.lower()))


def _by_name(header: list[str], rows: list[list[str]], features: list[str] | None
             ) -> list[list[str]]:  # fmt: skip
    """``rows`` with their columns in the order of ``features``, matched by name."""
    if features is None:
        raise ValueError(
            "the CSV has a header row, but the run does not say the names of its features; "
            "give the columns in training order without a header"
        )
    position = {_normal(name): i for i, name in enumerate(header)}
    missing = [name for name in features if _normal(name) not in position]
    unknown = sorted(set(position) - {_normal(name) for name in features})
    if missing or unknown:
        extra = f"; unknown columns: {', '.join(unknown)}" if unknown else ""
        raise ValueError(
            f"the CSV's columns do not match the training data's features: missing "
            f"{', '.join(missing) or 'none'}{extra} (expected: {', '.join(features)})"
        )
    order = [position[_normal(name)] for name in features]
    return [[row[i] for i in order] if len(row) == len(header) else row for row in rows]


def _rows(args: argparse.Namespace, features: list[str] | None) -> np.ndarray:
    rows = [line.split(",") for line in args.inputs]
    if args.file:
        source = sys.stdin if args.file == "-" else open(args.file, newline="")  # noqa: SIM115
        with source:
            table = [row for row in csv.reader(source) if any(cell.strip() for cell in row)]
        if table and not all(is_number_text(cell) for cell in table[0]):
            table = _by_name([cell.strip() for cell in table[0]], table[1:], features)
        rows += table
    if not rows:
        raise ConfigError("give at least one INPUT or --file CSV")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise ValueError(f"inputs have different numbers of features: {sorted(widths)}")
    try:
        X = np.array([[float(v) for v in row] for row in rows])
    except ValueError as exc:
        raise ValueError(f"inputs must be numbers separated by commas ({exc})") from None
    return check_array(X, input_name="INPUT")


def _dataset(config: dict[str, Any]) -> Any:
    """The training data set a run's ``config.json`` names (for its feature and class
    names), or None when it names none that theta has."""
    spec = config.get("data")
    name, options = (spec, {}) if isinstance(spec, str) else (
        (spec or {}).get("name"), (spec or {}).get("options", {}))  # fmt: skip
    try:
        loaded = data.load_dataset(name, **options)
    except (TypeError, ValueError):
        return None
    return loaded if isinstance(loaded, data.ArrayDataset) else None


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _trained_run(path: Path, config: dict[str, Any], args: argparse.Namespace,
                 X: np.ndarray) -> tuple[list[str], list[str], np.ndarray | None]:  # fmt: skip
    """``(predictions, class names, probabilities or None)`` from a ``theta train`` run."""
    trained = load_run(path, check_finite=args.check_finite)
    predictions = trained.predict(X)
    if not args.proba:
        return predictions, trained.target_names, None
    loss = config.get("loss") or "cross_entropy"
    if trained.task != "classification" or loss != "cross_entropy":
        why = "a regression" if trained.task != "classification" else f"trained with {loss}"
        raise ConfigError(f"--proba: the run in {path} is {why}; class probabilities come "
                          "from a classifier trained with cross_entropy")  # fmt: skip
    dtype = next(trained.model.parameters()).dtype
    with no_grad():  # the model's outputs are the logits of cross_entropy
        logits = trained.model(tensor(((X - trained.mean) / trained.scale).astype(dtype)))
    return predictions, trained.target_names, _softmax(logits.numpy().astype(np.float64))


def _tuned_run(path: Path, dataset: Any, args: argparse.Namespace, X: np.ndarray
               ) -> tuple[list[str], list[str], np.ndarray | None]:  # fmt: skip
    """``(predictions, class names, probabilities or None)`` from a ``theta tune`` run."""
    if not (path / "model").is_dir():
        raise FileNotFoundError(
            f"{path} holds no refitted estimator (model/ not found): the search ran with "
            "refit = false, or before theta saved it; run it again to predict with it"
        )
    estimator = io.load(path / "model", check_finite=args.check_finite)
    if not hasattr(estimator, "predict"):
        raise ValueError(f"{path / 'model'} holds a {type(estimator).__name__}, which does not "
                         "predict; evaluate an agent with theta rl --eval")  # fmt: skip
    names = list(dataset.target_names) if dataset is not None and dataset.target_names else []
    classes = list(getattr(estimator, "classes_", []))

    def label(value: Any) -> str:
        if names and isinstance(value, numbers.Integral) and 0 <= int(value) < len(names):
            return names[int(value)]
        return f"{value:.6g}" if isinstance(value, float | np.floating) else str(value)

    predictions = [label(v) for v in estimator.predict(X)]
    if not args.proba:
        return predictions, [], None
    if not hasattr(estimator, "predict_proba"):
        raise ConfigError(f"--proba: the {type(estimator).__name__} in {path} gives no class "
                          "probabilities")  # fmt: skip
    return predictions, [label(c) for c in classes], np.asarray(estimator.predict_proba(X))



def run(args: argparse.Namespace, out: TextIO) -> int:
    path = check_run_dir(args.run_dir)
    stamp = read_stamp(path) or {}
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    dataset = _dataset(config) if isinstance(config, dict) else None
    features = list(dataset.feature_names) if dataset is not None else None
    X = _rows(args, features)
    if stamp.get("kind") == "tune":
        predictions, classes, proba = _tuned_run(path, dataset, args, X)
    else:
        predictions, classes, proba = _trained_run(path, config, args, X)
    if proba is None and args.out is None:
        for prediction in predictions:
            print(prediction, file=out)
        return 0
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["prediction", *classes] if proba is not None else ["prediction"])
    for i, prediction in enumerate(predictions):
        shown = [f"{p:.4f}" for p in proba[i]] if proba is not None else []
        writer.writerow([prediction, *shown])
    if args.out is None:
        out.write(buffer.getvalue())
    else:
        atomic_write_text(args.out, buffer.getvalue())
        print(f"wrote {len(predictions)} predictions to {args.out}", file=out)
    return 0
