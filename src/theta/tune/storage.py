"""A folder of finished trials, one JSON file each, so a search can resume after a crash.

Each file is written atomically (``theta.tensorfile.atomic_write_text``) the moment its trial
finishes, so concurrent workers never interleave and a killed search leaves only whole files.
A file's name is the trial's key: candidate number, fold, and a digest of the candidate's
hyperparameters, its budget and everything else the result depends on (estimator, data,
splits, scorers). A search started again with the same ``storage`` reads the files back and
runs only the trials that have none; a trial whose inputs changed gets a new key and runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from theta.tensorfile import atomic_write_text, jsonable
from theta.tune.trials import Task

__all__ = ["TrialStore"]


class TrialStore:
    """Finished trials in ``folder`` (created if missing), keyed by task and ``context``.

    Parameters
    ----------
    folder : str or path-like
    context : str
        A digest of what the trials share (see ``EstimatorTrials.fingerprint``).
    """

    def __init__(self, folder: str | os.PathLike, context: str) -> None:
        self.folder = Path(folder)
        self.context = context
        self.folder.mkdir(parents=True, exist_ok=True)

    def key(self, task: Task) -> str:
        params = json.dumps(jsonable(task.params), sort_keys=True)
        digest = hashlib.sha256(
            f"{self.context}|{params}|{task.fold}|{task.resource}".encode()
        ).hexdigest()[:16]
        return f"trial-{task.candidate:05d}-fold{task.fold:02d}-{digest}"

    def load(self, task: Task) -> dict[str, Any] | None:
        """The stored result of ``task``, or None (also for an unreadable file: it is re-run)."""
        path = self.folder / f"{self.key(task)}.json"
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            return stored["result"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, task: Task, result: dict[str, Any]) -> None:
        record = {
            "candidate": task.candidate,
            "fold": task.fold,
            "resource": task.resource,
            "params": jsonable(task.params),
            "result": jsonable(result),
        }
        atomic_write_text(self.folder / f"{self.key(task)}.json", json.dumps(record) + "\n")
