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
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from theta.tensorfile import atomic_write_text, jsonable
from theta.tune.trials import Task

__all__ = ["TrialStore"]

_RECORD_KEYS = {"candidate", "fold", "resource", "params", "result"}
_RESULT_KEYS = {"test", "train", "fit_time", "score_time", "error"}


class TrialStore:
    """Finished trials in ``folder`` (created if missing), keyed by task and ``context``.

    A damaged trial file (not JSON, not UTF-8, the wrong shape, a NaN score in a trial
    that claims success, a folder in its place) is never trusted: a warning names it, the
    trial runs again and its new result replaces the file atomically.

    Parameters
    ----------
    folder : str or path-like
    context : str
        A digest of what the trials share (see ``EstimatorTrials.fingerprint``).
    metrics : sequence of str, optional
        The scorer names every stored result must have.
    train : bool, optional
        Whether stored results must have train scores (``return_train_score``).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        context: str,
        *,
        metrics: Sequence[str] | None = None,
        train: bool | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.context = context
        self.metrics = None if metrics is None else set(metrics)
        self.train = train
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(
                f"storage: {self.folder} is a file; expected a folder of trial files "
                "(or a path that does not exist yet)."
            )
        self.folder.mkdir(parents=True, exist_ok=True)

    def key(self, task: Task) -> str:
        params = json.dumps(jsonable(task.params), sort_keys=True)
        digest = hashlib.sha256(
            f"{self.context}|{params}|{task.fold}|{task.resource}".encode()
        ).hexdigest()[:16]
        return f"trial-{task.candidate:05d}-fold{task.fold:02d}-{digest}"

    def path(self, task: Task) -> Path:
        """The file of ``task``'s result."""
        return self.folder / f"{self.key(task)}.json"

    def load(self, task: Task) -> dict[str, Any] | None:
        """The stored result of ``task``, or None: no file yet, or a damaged one (with a
        ``UserWarning`` naming it; the trial is then run again)."""
        path = self.path(task)
        if not os.path.lexists(path):
            return None
        if path.is_dir():
            reason = "is a folder, not a trial file; the trial runs again, unstored"
        else:
            try:
                record = json.loads(path.read_bytes().decode("utf-8"))
            except (OSError, ValueError) as exc:  # ValueError: bad UTF-8 or JSON
                reason = f"cannot be read ({type(exc).__name__}: {exc})"
            else:
                reason = self._check(record, task)
                if not reason:
                    return record["result"]
            reason += "; the trial runs again and its result replaces the file"
        warnings.warn(f"storage: damaged trial file {path}: {reason}.", UserWarning, stacklevel=3)
        return None

    def _check(self, record: Any, task: Task) -> str:
        """What is wrong with ``record`` as the stored result of ``task`` ("" if nothing)."""
        if not isinstance(record, dict) or set(record) != _RECORD_KEYS:
            return f"expected an object with keys {sorted(_RECORD_KEYS)}"
        mine = {"candidate": task.candidate, "fold": task.fold, "resource": task.resource}
        for key, value in mine.items():
            if record[key] != value or isinstance(record[key], bool):
                return f"{key} is {record[key]!r}, expected {value!r}"
        if record["params"] != jsonable(task.params):
            return f"params are {record['params']!r}, expected {jsonable(task.params)!r}"
        result = record["result"]
        if not isinstance(result, dict) or set(result) != _RESULT_KEYS:
            return f"expected a result with keys {sorted(_RESULT_KEYS)}"
        if not isinstance(result["error"], str):
            return f"error is {result['error']!r}, expected a string"
        for key in ("fit_time", "score_time"):
            value = result[key]
            if not _number(value) or not value >= 0:
                return f"{key} is {value!r}, expected a number >= 0"
        if self.train is not None and (result["train"] is not None) != self.train:
            return f"train is {result['train']!r}, expected {'scores' if self.train else None}"
        for side in ("test", "train"):
            scores = result[side]
            if scores is None and side == "train":
                continue
            if not isinstance(scores, dict) or not all(_number(v) for v in scores.values()):
                return f"{side} is {scores!r}, expected scores by name"
            if self.metrics is not None and set(scores) != self.metrics:
                return f"{side} scores {sorted(scores)}, expected {sorted(self.metrics)}"
            bad = [k for k, v in scores.items() if not math.isfinite(v)]
            if bad and not result["error"]:
                return f"the {side} {bad[0]} score is {scores[bad[0]]} in a trial without error"
        return ""

    def save(self, task: Task, result: dict[str, Any]) -> None:
        """Write ``task``'s result atomically (not over a folder: ``load`` warned of it)."""
        path = self.path(task)
        if path.is_dir():
            return
        record = {
            "candidate": task.candidate,
            "fold": task.fold,
            "resource": task.resource,
            "params": jsonable(task.params),
            "result": jsonable(result),
        }
        atomic_write_text(path, json.dumps(record) + "\n")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
