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
import html
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from theta.tensorfile import atomic_write_text, jsonable

__all__ = ["build_cv_results", "failed_record", "leaderboard", "leaderboard_html", "rank_min",
           "short_value", "write_csv"]  # fmt: skip


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


def _board(cv_results: dict[str, Any], metric: str, top: int
           ) -> tuple[list[str], list[list[str]], list[str]]:  # fmt: skip
    """The leaderboard's header, its ``top`` rows of cells and each row's failure note.

    A successive-halving search (with ``iter`` and ``n_resources`` columns) lists its final
    rung first, ranked within it, then the earlier rungs, each with its rung and budget.
    """
    means = np.asarray(cv_results[f"mean_test_{metric}"], dtype=np.float64)
    stds = np.asarray(cv_results[f"std_test_{metric}"], dtype=np.float64)
    ranks = np.asarray(cv_results[f"rank_test_{metric}"])
    errors = cv_results.get("error", [""] * len(means))
    rungs = cv_results.get("iter")
    header = ["rank", "mean ± std", "params"]
    if rungs is not None:
        rungs = np.asarray(rungs)
        ranks = np.empty(len(means), dtype=np.int64)
        for rung in np.unique(rungs):  # a score on a small budget is no rival to a full one
            ranks[rungs == rung] = rank_min(means[rungs == rung])
        header = ["rank", "rung", "budget", "mean ± std", "params"]
    final_first = np.zeros(len(means), dtype=np.int64) if rungs is None else -rungs
    order = sorted(range(len(means)), key=lambda i: (final_first[i], ranks[i], i))[:top]
    rows = []
    for i in order:
        score = "failed" if math.isnan(means[i]) else f"{means[i]:.4g} ± {stds[i]:.2g}"
        params = ", ".join(f"{k}={short_value(v)}" for k, v in cv_results["params"][i].items())
        budget = [] if rungs is None else [str(rungs[i]), str(cv_results["n_resources"][i])]
        rows.append([str(ranks[i]), *budget, score, params])
    return header, rows, [errors[i] for i in order]


def leaderboard(cv_results: dict[str, Any], *, metric: str = "score", top: int = 10) -> str:
    """The ``top`` candidates by rank as text: rank, mean ± std of the test score, params
    (and, for successive halving, each row's rung and budget; the final rung first).

    Examples
    --------
    >>> table = {"params": [{"C": 1}, {"C": 10}], "mean_test_score": [0.8, 0.98],
    ...          "std_test_score": [0.01, 0.02], "rank_test_score": [2, 1], "error": ["", ""]}
    >>> print(leaderboard(table))
    rank  mean ± std   params
       1  0.98 ± 0.02  C=10
       2  0.8 ± 0.01   C=1
    """
    header, rows, errors = _board(cv_results, metric, top)
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = []
    for row, error in zip([header, *rows], ["", *errors], strict=True):
        cells = [cell.rjust(w) if j < len(header) - 2 else cell.ljust(w)
                 for j, (cell, w) in enumerate(zip(row[:-1], widths, strict=False))]  # fmt: skip
        note = f"   ({error})" if error else ""
        lines.append("  ".join([*cells, row[-1]]) + note)
    return "\n".join(lines)


def leaderboard_html(cv_results: dict[str, Any], *, metric: str = "score", top: int = 10) -> str:
    """:func:`leaderboard` as an HTML table (a fitted search's ``_repr_html_``), escaped."""
    header, rows, errors = _board(cv_results, metric, top)
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in [*header, "error"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in [*row, error]) + "</tr>"
        for row, error in zip(rows, errors, strict=True)
    )
    n = len(cv_results["params"])
    caption = f"<caption>top {len(rows)} of {n} candidates by mean test {metric}</caption>"
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def short_value(value: Any) -> str:
    """A parameter value as people read it: a float to 4 significant digits, a tuple as the
    tuple it is (``best_params_`` holds tuples, so the table must not show a list).

    Examples
    --------
    >>> short_value(0.30000000000000004), short_value(1e-05), short_value("rbf")
    ('0.3', '1e-05', 'rbf')
    >>> short_value((32,)), short_value((64, 0.10000000000000001))
    ('(32,)', '(64, 0.1)')
    """
    if isinstance(value, tuple):
        inner = ", ".join(short_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    value = jsonable(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)
