"""``cv_results_``: one row per candidate, in scikit-learn's column names; leaderboard and CSV.

Columns: ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``, ``std_score_time``,
``param_<name>`` (masked where a candidate lacks the parameter), ``params``,
``split<k>_test_<s>``, ``mean_test_<s>``, ``std_test_<s>``, ``rank_test_<s>`` (and the same
with ``train`` when asked), where ``<s>`` is ``score`` for one scorer or each scorer's name,
then ``error`` ("" for a candidate whose every fold succeeded). Successive halving adds
``iter`` and ``n_resources``. Means and standard deviations are computed as scikit-learn
computes them, so the columns equal ``GridSearchCV``'s for the same folds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from theta.tensorfile import atomic_write_text, jsonable

__all__ = ["build_cv_results", "failed_record", "leaderboard", "rank_min", "write_csv"]


def failed_record(
    metrics: Sequence[str], error_score: Any, message: str, return_train_score: bool
) -> dict[str, Any]:
    """The record of a trial that produced nothing (its worker died)."""
    score = float("nan") if isinstance(error_score, str) else float(error_score)
    scores = {m: score for m in metrics}
    return {
        "test": scores,
        "train": dict(scores) if return_train_score else None,
        "fit_time": 0.0,
        "score_time": 0.0,
        "error": message,
    }


def rank_min(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest score, ties sharing the lowest rank; NaN ranks last.

    Examples
    --------
    >>> rank_min(np.array([0.5, 0.9, np.nan, 0.9])).tolist()
    [3, 1, 4, 1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if np.isnan(scores).all():
        return np.ones(len(scores), dtype=np.int32)
    if np.isnan(scores).any():
        scores = np.where(np.isnan(scores), np.nanmin(scores) - 1, scores)
    ordered = np.sort(-scores)
    return (np.searchsorted(ordered, -scores, side="left") + 1).astype(np.int32)


def _param_column(candidates: list[dict[str, Any]], name: str) -> np.ma.MaskedArray:
    present = [c[name] for c in candidates if name in c]
    try:
        probe = np.array(present)
        dtype = probe.dtype if probe.dtype.kind != "U" and probe.ndim == 1 else np.dtype(object)
    except ValueError:
        dtype = np.dtype(object)
    # masked cells hold None or zeros, never what the memory held (NaN bits in a saved search)
    data = np.full(len(candidates), None if dtype.kind == "O" else 0, dtype=dtype)
    column = np.ma.MaskedArray(data, mask=True)
    for i, c in enumerate(candidates):
        if name in c:
            column[i] = c[name]
    return column


def build_cv_results(
    candidates: list[dict[str, Any]],
    records: dict[tuple[int, int], dict[str, Any]],
    n_splits: int,
    metrics: Sequence[str],
    *,
    multimetric: bool,
    return_train_score: bool,
    extra: dict[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """Assemble ``cv_results_`` from ``records[(candidate, fold)]`` (see ``fit_and_score``)."""
    n = len(candidates)
    rows = [[records[c, k] for k in range(n_splits)] for c in range(n)]
    results: dict[str, Any] = {}
    for key in ("fit_time", "score_time"):
        times = np.array([[r[key] for r in row] for row in rows], dtype=np.float64).reshape(n, -1)
        results[f"mean_{key}"] = times.mean(axis=1)
        results[f"std_{key}"] = times.std(axis=1)
    for name in sorted({k for c in candidates for k in c}):
        results[f"param_{name}"] = _param_column(candidates, name)
    results["params"] = [dict(c) for c in candidates]
    for metric in metrics:
        suffix = metric if multimetric else "score"
        for part in ("test", "train") if return_train_score else ("test",):
            scores = np.array([[r[part][metric] for r in row] for row in rows], dtype=np.float64)
            scores = scores.reshape(n, n_splits)
            for k in range(n_splits):
                results[f"split{k}_{part}_{suffix}"] = scores[:, k]
            means = np.average(scores, axis=1)
            results[f"mean_{part}_{suffix}"] = means
            results[f"std_{part}_{suffix}"] = np.sqrt(
                np.average((scores - means[:, np.newaxis]) ** 2, axis=1)
            )
            if part == "test":
                results[f"rank_test_{suffix}"] = rank_min(means)
    results["error"] = [
        next((f"fold {k}: {r['error']}" for k, r in enumerate(row) if r["error"]), "")
        for row in rows
    ]
    for key, values in (extra or {}).items():
        results[key] = np.asarray(values)
    return results


def _cell(value: Any) -> str:
    if value is np.ma.masked:
        return ""
    if isinstance(value, dict):
        return json.dumps(jsonable(value), sort_keys=True)
    value = jsonable(value)
    return repr(value) if isinstance(value, float) else str(value)


def write_csv(cv_results: dict[str, Any], path: Any) -> None:
    """``cv_results`` as CSV, one row per candidate, written atomically."""
    keys = list(cv_results)
    n = len(cv_results["params"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for i in range(n):
        writer.writerow([_cell(cv_results[k][i]) for k in keys])
    atomic_write_text(path, buffer.getvalue())


def leaderboard(cv_results: dict[str, Any], *, metric: str = "score", top: int = 10) -> str:
    """The ``top`` candidates by rank as text: rank, mean ± std of the test score, params.

    Examples
    --------
    >>> table = {"params": [{"C": 1}, {"C": 10}], "mean_test_score": [0.8, 0.9],
    ...          "std_test_score": [0.01, 0.02], "rank_test_score": [2, 1], "error": ["", ""]}
    >>> print(leaderboard(table))
    rank  mean ± std       params
       1  0.9000 ± 0.0200  C=10
       2  0.8000 ± 0.0100  C=1
    """
    means = np.asarray(cv_results[f"mean_test_{metric}"], dtype=np.float64)
    stds = np.asarray(cv_results[f"std_test_{metric}"], dtype=np.float64)
    ranks = np.asarray(cv_results[f"rank_test_{metric}"])
    errors = cv_results.get("error", [""] * len(means))
    order = sorted(range(len(means)), key=lambda i: (ranks[i], i))[:top]
    scores = {
        i: "failed" if math.isnan(means[i]) else f"{means[i]:.4f} ± {stds[i]:.4f}" for i in order
    }
    width = max([len("mean ± std"), *map(len, scores.values())])
    lines = [f"rank  {'mean ± std':<{width}}  params"]
    for i in order:
        params = ", ".join(f"{k}={_short(v)}" for k, v in cv_results["params"][i].items())
        note = f"   ({errors[i]})" if errors[i] else ""
        lines.append(f"{ranks[i]:>4}  {scores[i]:<{width}}  {params}{note}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    value = jsonable(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)
