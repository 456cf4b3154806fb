"""``theta runs [DIR]``: the run folders under ``DIR``, newest first, one line each.

What a run folder says about itself is read here once, for this list and for ``theta
report``: :func:`read_run` gathers its stamp (``run.json``: kind, status, dates, theta
version, machine), ``config.json`` and ``summary.json`` into a :class:`RunFacts`. A folder
is a run when it has any of the three; anything missing reads as unknown, so runs written
by an older theta are listed too.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from theta.cli.runs import check_run_dir, read_stamp, was_killed

__all__ = ["RunFacts", "add_parser", "find_runs", "is_run", "read_json", "read_run", "run",
           "run_kind", "shown_date", "shown_metrics"]  # fmt: skip

# The stamp's statuses as a reader says them; a folder without a stamp is "unknown".
STATUS = {"done": "finished", "failed": "failed", "interrupted": "interrupted",
          "running": "running"}  # fmt: skip
# A run stamped running whose process is gone on this machine is listed as "killed".
# Final numbers of runs whose summary has no "final" table (an agent's, a search's).
FINAL_KEYS = ("best_score", "eval_mean_return", "train_mean_return_last_100", "final_regret")


@dataclass
class RunFacts:
    """What one run folder says about itself; None (or empty) where it does not say."""

    path: Path
    kind: str  # "train", "gpt", "rl", "tune", or "run" for a folder of another kind
    label: str  # the kind as listed: the model of a training run ("mlp", "cnn", "gpt" ...)
    status: str  # finished, failed, interrupted, running, killed, or unknown
    data: str | None
    steps: int | None
    seconds: float | None  # wall time
    started: datetime.datetime | None  # aware (UTC); for an unstamped run, its files' time
    theta_version: str | None
    machine: str | None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def to_json(self) -> dict[str, Any]:
        """The facts ``theta runs --json`` prints (dates in ISO 8601)."""
        started = None if self.started is None else self.started.isoformat(timespec="seconds")
        return {"name": self.name, "path": str(self.path), "kind": self.label,
                "data": self.data, "status": self.status, "steps": self.steps,
                "final": self.final, "started": started, "seconds": self.seconds,
                "theta_version": self.theta_version, "machine": self.machine}  # fmt: skip


def run_kind(run_dir: Path) -> str:
    """``"gpt"``, ``"rl"``, ``"tune"``, ``"train"``, or ``"run"`` for any other folder."""
    markers = {"gpt": "tokenizer.json", "rl": "returns.csv", "tune": "results.csv",
               "train": "preprocessing.safetensors"}  # fmt: skip
    return next((kind for kind, name in markers.items() if (run_dir / name).is_file()), "run")


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run folder: stamped by theta, or holding a config or summary."""
    return path.is_dir() and (read_stamp(path) is not None or (path / "config.json").is_file()
                              or (path / "summary.json").is_file())  # fmt: skip


def find_runs(folder: Path) -> list[Path]:
    """The run folders directly inside ``folder``, by name."""
    return sorted((p for p in folder.iterdir() if is_run(p)), key=lambda p: p.name)


def read_run(path: Path) -> RunFacts:
    """The facts of the run folder ``path``; ValueError when its JSON files are damaged."""
    stamp = read_stamp(path) or {}
    config, summary = read_json(path / "config.json") or {}, read_json(path / "summary.json") or {}
    kind = run_kind(path)
    label = kind if kind != "train" else str(config.get("model", "train"))
    final = summary.get("final")
    if not isinstance(final, dict):
        final = {key: summary[key] for key in FINAL_KEYS if key in summary}
    final = {key: value for key, value in final.items() if _is_real(value)}
    started, ended = _date(stamp.get("started")), _date(stamp.get("ended"))
    if started is None:  # an older theta wrote no dates: the files' time is the best guess
        times = [p.stat().st_mtime for p in (path / "summary.json", path / "config.json")
                 if p.is_file()]  # fmt: skip
        if times:
            started = datetime.datetime.fromtimestamp(min(times), datetime.UTC)
    seconds = summary.get("seconds")
    if not _is_real(seconds):
        seconds = None if started is None or ended is None else (ended - started).total_seconds()
    steps = summary.get("n_trials_run" if kind == "tune" else "steps")
    return RunFacts(path=path, kind=kind, label=label,
                    status=_status(stamp), data=_data(config, summary),
                    steps=steps if isinstance(steps, int) else None, seconds=seconds,
                    started=started, theta_version=stamp.get("theta_version"),
                    machine=stamp.get("machine"), config=config, summary=summary,
                    final=final)  # fmt: skip


def _status(stamp: dict[str, Any]) -> str:
    return "killed" if was_killed(stamp) else STATUS.get(stamp.get("status"), "unknown")


def _data(config: dict[str, Any], summary: dict[str, Any]) -> str | None:
    """The data set (or environment) the run learned from."""
    value = config.get("data", config.get("env", summary.get("data", summary.get("env"))))
    if isinstance(value, dict):  # a search names its data set in a [data] table
        value = value.get("name")
    return None if value is None else str(value)


def _date(text: Any) -> datetime.datetime | None:
    try:
        date = datetime.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return date if date.tzinfo else date.replace(tzinfo=datetime.UTC)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when there is no such file."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return value


def shown_date(date: datetime.datetime | None) -> str:
    """A date in this machine's time zone, to the minute; ``-`` when unknown."""
    return "-" if date is None else date.astimezone().strftime("%Y-%m-%d %H:%M")


def shown_metrics(final: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.4g}" for key, value in final.items()) or "-"


# --- the command -------------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the run folders under runs/, newest first",
        description="List the run folders in DIR, newest first: name, kind, data, status "
        "(finished, failed, interrupted, running, or killed: stamped running but its process "
        "is gone), steps, final metrics and date.",
        epilog="examples:\n  theta runs\n  theta runs experiments/\n"
        "  theta runs --json            # one object per run, for scripts\n"
        "  theta report runs/a runs/b   # then compare two of them on one page",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folder", metavar="DIR", nargs="?", default="runs",
                        help="the folder holding the runs, or one run (default: runs)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of the runs instead of a table (default: off)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    folder = check_run_dir(args.folder)
    paths = [folder] if is_run(folder) else find_runs(folder)
    oldest = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    facts = sorted((read_run(p) for p in paths), key=lambda f: (f.started or oldest, f.name),
                   reverse=True)  # fmt: skip
    if args.json:
        print(json.dumps([f.to_json() for f in facts], indent=2), file=out)
        return 0
    if not facts:
        print(f"no runs in {folder}", file=out)
        return 0
    header = ("name", "kind", "data", "status", "steps", "final metrics", "date")
    rows = [(f.name, f.label, f.data or "-", f.status, "-" if f.steps is None else str(f.steps),
             shown_metrics(f.final), shown_date(f.started)) for f in facts]  # fmt: skip
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=out)
    return 0
