"""``theta datasets``: the data sets that ship inside theta (nothing is ever downloaded)."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from theta import data

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="list the embedded data sets",
        description="List the data sets embedded in theta (tables, a text corpus and "
        "generators), or describe one. Any of them can be given to `theta train --data NAME`.",
        epilog="examples:\n  theta datasets\n  theta datasets iris\n  theta datasets --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help="describe one data set")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.name is not None:
        return _describe(args.name, args.json, out)
    infos = data.list_datasets()
    if args.json:
        rows = [{"name": i.name, "task": i.task, "shape": list(i.shape), "summary": i.summary}
                for i in infos]  # fmt: skip
        print(json.dumps(rows, indent=2), file=out)
        return 0
    width = max(len(i.name) for i in infos)
    print(f"{'name':<{width}}  {'task':<14}  {'shape':<12}  summary", file=out)
    for i in infos:
        shape = "×".join(str(n) for n in i.shape)
        print(f"{i.name:<{width}}  {i.task:<14}  {shape:<12}  {i.summary}", file=out)
    return 0


def _describe(name: str, as_json: bool, out: TextIO) -> int:
    info = data.dataset_info(name)  # an unknown name raises ValueError with a close match
    loaded = data.load_dataset(info.name)
    facts: dict[str, object] = {"name": info.name, "task": info.task,
                                "shape": list(info.shape), "summary": info.summary}  # fmt: skip
    if isinstance(loaded, data.ArrayDataset):
        facts["feature_names"] = list(loaded.feature_names)
        if loaded.target_names:
            facts["target_names"] = list(loaded.target_names)
        facts["description"] = loaded.description
    if as_json:
        print(json.dumps(facts, indent=2), file=out)
        return 0
    for key, value in facts.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        print(f"{key}: {shown}", file=out)
    return 0
