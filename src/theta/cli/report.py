"""``theta report RUN [RUN ...]``: self-contained HTML pages about run folders.

A page needs nothing but itself: pictures are inlined as base64 PNG, the style sheet is
inline, there is no script, and its Content-Security-Policy forbids loading anything else.

One run gets one page (``RUN/report.html``) with the chapter's split, parameters against
hyperparameters, for any run folder theta writes (``theta train``, ``rl``, ``tune``):

- **Run**: status, data, steps, date, wall time, theta version and machine (``run.json``);
- **Hyperparameters**: ``config.json``, what you chose (only the keys the run's model uses);
- **Parameters**: the learned tensors' names and shapes, what gradient descent chose (for a
  search: the best hyperparameters it found);
- **Pictures**: every PNG in the folder, and the metric curve beside the loss curve;
- **Final metrics**: ``summary.json``, and a classifier's precision and recall per class;
- **Predictions**: a sample of the model at work (truth against prediction on rows of the
  data set, validation rows marked; a generated text; the last episodes' returns; the
  search's leaderboard).

Several runs get one page comparing them (default ``compare.html`` beside them): the runs,
their hyperparameters side by side with the differing ones marked, their curves overlaid
and their final metrics. A folder of runs gets one page per run. A page theta wrote is
rewritten without ``--overwrite``; any other file at the target needs it.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta import data
from theta.cli.argtypes import is_number_text
from theta.cli.config import GPT_KEYS, ConfigError
from theta.cli.listing import (
    RunFacts,
    find_runs,
    is_run,
    read_run,
    run_kind,
    shown_date,
)
from theta.cli.runs import check_run_dir, load_gpt_run, load_run, load_table
from theta.metrics import precision_recall_fscore_support
from theta.tensorfile import atomic_write_text, read_tensors

__all__ = ["add_parser", "render", "render_comparison", "run", "run_kind",
           "used_hyperparameters"]  # fmt: skip

KINDS = {
    "train": "trained model (theta train)", "gpt": "GPT language model (theta train --model gpt)",
    "rl": "reinforcement-learning agent (theta rl)", "tune": "hyperparameter search (theta tune)",
    "run": "run folder",
}  # fmt: skip
# Pictures in the order a reader wants them; others follow alphabetically. The metric curve
# is drawn by the report itself, from metrics.csv, and sits beside the loss curve.
PICTURE_ORDER = ("loss_curve", "metric_curve", "reward_curve", "regret", "scores",
                 "descent_path", "decision_boundary", "confusion_matrix",
                 "attention_map")  # fmt: skip
SAMPLE_ROWS = 10
# Files of a run that are not what training learned: the resumable state, the feature scaling.
NOT_PARAMETERS = ("checkpoint.safetensors", "preprocessing.safetensors")
# The keys of `theta train`'s config that only some models use; the others use them all.
MODEL_KEYS = {"mlp": ("hidden", "activation", "dropout"), "linear": (),
              "cnn": ("channels", "hidden", "activation", "dropout"),
              "gpt": (*GPT_KEYS, "dropout", "eval_every", "eval_windows")}  # fmt: skip
# What marks a page as theta's own, so it is regenerated without --overwrite.
GENERATOR = '<meta name="generator" content="theta report">'

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.1em; } .kind { color: #666; margin-top: 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.wrong td { background: #fde8e8; } tr.validation td { background: #e8f0fd; }
tr.differs td { background: #fff4d6; font-weight: 600; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; max-width: 48%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.8em; white-space: pre-wrap; }
.note { color: #666; font-style: italic; }
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML page about one run, or comparing several",
        description="Write an HTML page about the run folder RUN: the run (status, date, "
        "wall time, machine), hyperparameters, learned parameters, pictures, final metrics "
        "and sample predictions, in one file that needs no network (pictures inlined). "
        "Several RUNs get one page comparing them; a folder of runs gets one page per run.",
        epilog="examples:\n  theta train --data iris --out runs/iris\n"
        "  theta report runs/iris                       # writes runs/iris/report.html\n"
        "  theta report runs/iris --out iris.html\n"
        "  theta report runs/iris runs/iris-wide        # writes runs/compare.html\n"
        "  theta report runs/                           # a page in every run of runs/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dirs", metavar="RUN", nargs="+",
                        help="a run folder (theta train, rl or tune), several to compare them, "
                        "or a folder of runs")  # fmt: skip
    parser.add_argument("--out", metavar="FILE",
                        help="the page (default: RUN/report.html; for several runs, "
                        "compare.html in the folder holding them)")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true",
                        help="replace FILE even when it is not a page theta wrote (default: "
                        "off; theta's own pages are regenerated without it)")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    paths = [check_run_dir(p) for p in args.run_dirs]
    if len(paths) == 1 and not is_run(paths[0]) and find_runs(paths[0]):
        if args.out:
            raise ConfigError("argument --out: names one page, but a folder of runs gets a "
                              f"page in each run (got folder {paths[0]}); leave --out out")
        for run_dir in find_runs(paths[0]):
            _write(run_dir / "report.html", render(run_dir), overwrite=args.overwrite, out=out)
        return 0
    if len(paths) == 1:
        target = Path(args.out) if args.out else paths[0] / "report.html"
        _write(target, render(paths[0]), overwrite=args.overwrite, out=out)
        return 0
    runs = [r for p in paths for r in ([p] if is_run(p) else find_runs(p) or [p])]
    target = Path(args.out) if args.out else _common_folder(runs) / "compare.html"
    _write(target, render_comparison(runs), overwrite=args.overwrite, out=out)
    return 0


def _common_folder(runs: Sequence[Path]) -> Path:
    """The folder holding all of ``runs`` (as given when it can be, else absolute)."""
    try:
        return Path(os.path.commonpath([r.parent for r in runs]))
    except ValueError:  # relative and absolute paths mixed
        return Path(os.path.commonpath([r.resolve().parent for r in runs]))


def _write(target: Path, page: str, *, overwrite: bool, out: TextIO) -> None:
    """Write ``page`` to ``target``; a file there that is not a theta page needs ``overwrite``."""
    if target.exists() and not overwrite and not _theta_page(target):
        raise FileExistsError(f"{target} already exists and is not a page theta wrote; pass "
                              "--overwrite to replace it")  # fmt: skip
    atomic_write_text(target, page)
    print(f"report saved to {target}", file=out)


def _theta_page(path: Path) -> bool:
    """Whether ``path`` is a report theta wrote (one in its run folder, from before the
    generator mark, counts: the run folder's report.html is theta's by name)."""
    if path.name == "report.html" and is_run(path.parent):
        return True
    try:
        with path.open(encoding="utf-8") as fh:
            return GENERATOR in fh.read(2000)
    except (OSError, UnicodeDecodeError):
        return False


def _page(title: str, heading: str, subtitle: str, sections: dict[str, str]) -> str:
    body = "".join(f'<h2 id="{name.lower().replace(" ", "-")}">{name}</h2>\n{content}\n'
                   for name, content in sections.items())  # fmt: skip
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"img-src data:; style-src 'unsafe-inline'\">\n{GENERATOR}\n"
        f"<title>{_text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_text(heading)}</h1>\n<p class=\"kind\">{subtitle}</p>\n{body}</body>\n</html>\n"
    )


def render(run_dir: Path) -> str:
    """The HTML page of the run folder ``run_dir``."""
    facts = read_run(run_dir)
    if not facts.config and not facts.summary:
        raise ValueError(
            f"{run_dir} is not a run folder: it has neither config.json nor summary.json"
        )
    classifier = _classifier(facts)
    sections = {
        "Run": _key_values(_run_facts(facts), ""),
        "Hyperparameters": _key_values(used_hyperparameters(facts.kind, facts.config),
                                       "no config.json in this run folder"),  # fmt: skip
        "Parameters": _parameters(run_dir, facts.summary),
        "Pictures": _pictures(run_dir),
        "Final metrics": _key_values(facts.summary, "no summary.json in this run folder")
        + _per_class(classifier),
        "Predictions": _predictions(facts, classifier),
    }
    subtitle = f"{_text(KINDS[facts.kind])} · {_text(str(run_dir))}"
    return _page(f"theta run {facts.name}", facts.name, subtitle, sections)


def used_hyperparameters(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The keys of a ``theta train`` config that its model uses: no GPT keys on an MLP, no
    empty ``loss`` (the task's default), ``epochs`` or ``steps`` as the run counts; the
    config of other runs as it is."""
    unused = {key for keys in MODEL_KEYS.values() for key in keys}
    if kind not in ("train", "gpt") or config.get("model") not in MODEL_KEYS:
        return config
    unused -= set(MODEL_KEYS[config["model"]])
    unused.add("epochs" if config.get("steps") else "steps")
    if config["model"] == "gpt":
        unused |= {"loss", "standardize"}  # a GPT's loss is cross-entropy on raw tokens
    if not config.get("loss"):
        unused.add("loss")
    return {key: value for key, value in config.items() if key not in unused}


def _run_facts(facts: RunFacts) -> dict[str, Any]:
    """The run itself: what a reader needs to trust (or repeat) its numbers."""
    return {"status": facts.status, "kind": facts.label, "data": facts.data or "-",
            "steps": "-" if facts.steps is None else facts.steps,
            "date": shown_date(facts.started), "wall time": _duration(facts.seconds),
            "theta version": facts.theta_version or "not recorded",
            "machine": facts.machine or "not recorded"}  # fmt: skip


# --- sections ----------------------------------------------------------------------------------


def _parameters(run_dir: Path, summary: dict[str, Any]) -> str:
    """The learned tensors of every saved model or agent, file by file."""
    parts = []
    best = summary.get("best_params")
    if isinstance(best, dict):
        parts.append("<p>Best hyperparameters found by the search:</p>")
        parts.append(_key_values(best, ""))
    for path in sorted(run_dir.rglob("*.safetensors")):
        if path.name in NOT_PARAMETERS and path.parent == run_dir:
            continue
        tensors, _ = read_tensors(path)
        rows = [[name, "×".join(map(str, a.shape)) or "scalar", f"{a.size:,}", str(a.dtype)]
                for name, a in tensors.items()]  # fmt: skip
        total = sum(a.size for a in tensors.values())
        parts.append(f"<p><code>{_text(str(path.relative_to(run_dir)))}</code>: "
                     f"{len(tensors)} tensors, {total:,} numbers</p>")  # fmt: skip
        parts.append(_table(["name", "shape", "numbers", "dtype"], rows, numeric={2}))
    return "\n".join(parts) or _note("no saved parameters in this run folder")


def _pictures(run_dir: Path) -> str:
    pictures = {path.stem: (path.read_bytes(), path.name) for path in run_dir.glob("*.png")}
    curves = _metric_curves({run_dir.resolve().name: _read_metrics(run_dir)}, metrics=True)
    if curves is not None:
        pictures["metric_curve"] = (curves, "the metrics of metrics.csv, drawn by the report")

    def order(stem: str) -> tuple[int, str]:
        rank = PICTURE_ORDER.index(stem) if stem in PICTURE_ORDER else len(PICTURE_ORDER)
        return rank, stem

    figures = [_figure(png, stem, caption) for stem, (png, caption)
               in sorted(pictures.items(), key=lambda item: order(item[0]))]  # fmt: skip
    if not figures:
        return _note("no pictures in this run folder (they need pip install 'theta-ml[plot]')")
    return "\n".join(figures)


def _figure(png: bytes, alt: str, caption: str) -> str:
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="{data_uri}" alt="{_text(alt)}">'
            f"<figcaption>{_text(caption)}</figcaption></figure>")  # fmt: skip


class _Classified:
    """A table run's model on its data: which rows were held out, and what it predicts."""

    def __init__(self, facts: RunFacts) -> None:
        config = facts.config
        self.data_name, seed = str(config.get("data")), int(config.get("seed", 0))
        self.trained = load_run(facts.path)
        self.X, self.y, self.task, self.names = load_table(self.data_name, seed=seed)
        self.validation = np.zeros(len(self.X), dtype=bool)
        val_split = float(config.get("val_split", 0.0))
        if val_split > 0:  # the run's own split: the same call on the row numbers
            _, val_rows = data.train_val_split(np.arange(len(self.X)), val_fraction=val_split,
                                               rng=seed)  # fmt: skip
            self.validation[val_rows] = True

    def truth(self, rows: np.ndarray) -> list[str]:
        if self.task == "classification":
            return [self.names[i] for i in self.y[rows]]
        return [f"{v:.6g}" for v in self.y[rows]]


def _classifier(facts: RunFacts) -> _Classified | str | None:
    """The run's model on its data (a note when it cannot be loaded; None for other kinds)."""
    if facts.kind != "train":
        return None
    try:
        return _Classified(facts)
    except (OSError, ValueError) as exc:  # e.g. a model file that no longer loads
        return _note(f"no predictions: {exc}")


def _per_class(classified: _Classified | str | None) -> str:
    """Precision and recall of each class, on the validation rows (all rows without any)."""
    if not isinstance(classified, _Classified) or classified.task != "classification":
        return ""
    held_out = classified.validation.any()
    rows = np.flatnonzero(classified.validation) if held_out else np.arange(len(classified.X))
    truth, predicted = classified.truth(rows), classified.trained.predict(classified.X[rows])
    precision, recall, _, support = precision_recall_fscore_support(
        truth, predicted, labels=classified.names, zero_division=0.0)
    body = [[name, f"{p:.3f}", f"{r:.3f}", str(n)] for name, p, r, n
            in zip(classified.names, precision, recall, support, strict=True)]  # fmt: skip
    which = f"the {len(rows)} validation rows" if held_out else f"all {len(rows)} rows"
    return (f"<p>Precision and recall of each class, on {which}:</p>"
            + _table(["class", "precision", "recall", "support"], body, numeric={1, 2, 3}))


def _predictions(facts: RunFacts, classified: _Classified | str | None) -> str:
    """A sample of what the run's model does; a note instead when it cannot be made."""
    if isinstance(classified, str):
        return classified
    try:
        if isinstance(classified, _Classified):
            return _table_predictions(classified)
        if facts.kind == "gpt":
            return _generated_text(facts.path)
        if facts.kind == "rl":
            return _csv_rows(facts.path / "returns.csv", last=True,
                             caption="The last training episodes:")  # fmt: skip
        if (facts.path / "results.csv").is_file():
            return _csv_rows(facts.path / "results.csv", last=False,
                             caption="The best candidates of the search:")  # fmt: skip
    except (OSError, ValueError) as exc:  # e.g. a model file that no longer loads
        return _note(f"no predictions: {exc}")
    return _note("no predictions for this kind of run folder")


def _table_predictions(classified: _Classified) -> str:
    X = classified.X
    rows = np.unique(np.linspace(0, len(X) - 1, min(SAMPLE_ROWS, len(X))).round().astype(int))
    truth, predicted = classified.truth(rows), classified.trained.predict(X[rows])
    shown = min(X.shape[1], 6)
    body, wrong, held_out = [], set(), set()
    for i, (row, t, p) in enumerate(zip(rows, truth, predicted, strict=True)):
        features = ", ".join(f"{v:.4g}" for v in X[row, :shown])
        features += ", …" if X.shape[1] > shown else ""
        split = "validation" if classified.validation[row] else "training"
        body.append([str(row), split, features, t, p])
        if classified.task == "classification" and t != p:
            wrong.add(i)
        elif classified.validation[row]:
            held_out.add(i)
    caption = (f"<p>{len(rows)} rows of data set <code>{_text(classified.data_name)}</code>, "
               "spread over it, predicted by <code>theta predict</code>'s model; rows of "
               "the validation split (not trained on) are blue, wrong predictions "
               "red:</p>")  # fmt: skip
    marked = {"wrong": wrong, "validation": held_out}
    return caption + _table(["row", "split", "features", "truth", "prediction"], body,
                            numeric={0}, marked=marked)  # fmt: skip


def _generated_text(run_dir: Path) -> str:
    model, tokenizer = load_gpt_run(run_dir)
    ids = model.generate(tokenizer.encode("\n"), 300, seed=0)
    return (f"<p>300 characters sampled after a newline "
            f"(<code>theta generate {_text(str(run_dir))} --max-new-tokens 300</code>):</p>"
            f"<pre>{_text(tokenizer.decode(ids[1:]))}</pre>")  # fmt: skip


def _csv_rows(path: Path, *, last: bool, caption: str) -> str:
    """Ten rows of a CSV: the last ones, or the best ones by a ``rank`` column if it has one."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return _note(f"{path.name} is empty")
    header, rows = rows[0], rows[1:]
    if last:
        rows = rows[-SAMPLE_ROWS:]
    else:
        rank = next((i for i, h in enumerate(header) if h.startswith("rank")), None)
        if rank is not None:
            rows.sort(key=lambda r: _number(r[rank]))
        rows = rows[:SAMPLE_ROWS]
    keep = [i for i, h in enumerate(header) if h.startswith(("rank", "param", "mean_test",
                                                            "std_test"))]  # fmt: skip
    if len(header) > 12 and keep:  # scikit-learn's cv_results_ has a column per fold and time
        header, rows = [header[i] for i in keep], [[r[i] for i in keep] for r in rows]
    numeric = {i for i in range(len(header))
               if all(is_number_text(r[i]) for r in rows if i < len(r))}  # fmt: skip
    return f"<p>{_text(caption)}</p>" + _table(header, rows, numeric=numeric)


# --- several runs on one page ------------------------------------------------------------------


def render_comparison(run_dirs: Sequence[Path]) -> str:
    """One HTML page comparing the run folders ``run_dirs``."""
    runs = [read_run(path) for path in run_dirs]
    for facts in runs:
        if not facts.config and not facts.summary:
            raise ValueError(f"{facts.path} is not a run folder: it has neither config.json "
                             "nor summary.json")  # fmt: skip
    names = [f.name for f in runs]
    if len(set(names)) < len(names):  # same-named runs in different folders: say which
        names = [str(f.path) for f in runs]
    facts_rows = [[name, *map(_shown, _run_facts(f).values())] for name, f in zip(names, runs,
                                                                                  strict=True)]
    sections = {
        "Runs": _table(["run", *_run_facts(runs[0])], facts_rows),
        "Hyperparameters": _side_by_side(
            names, [dict(_flatten(used_hyperparameters(f.kind, f.config))) for f in runs],
            "Hyperparameters that differ between the runs are highlighted and marked ≠."),
        "Curves": _compared_curves(names, runs),
        "Final metrics": _side_by_side(names, [f.final for f in runs], None),
    }
    shown = ", ".join(names)
    return _page(f"theta runs {shown}", f"Comparing {len(runs)} runs", _text(shown), sections)


def _side_by_side(names: list[str], values: list[dict[str, Any]], legend: str | None) -> str:
    """A table with a row per key and a column per run; with a ``legend``, the rows whose
    values differ are marked ≠."""
    keys = list(dict.fromkeys(key for run_values in values for key in run_values))
    if not keys:
        return _note("none recorded")
    rows, differs = [], set()
    for i, key in enumerate(keys):
        cells = [_shown(v[key]) if key in v else "-" for v in values]
        if legend is None:
            rows.append([key, *cells])
            continue
        if len(set(cells)) > 1:
            differs.add(i)
        rows.append(["≠" if i in differs else "", key, *cells])
    if legend is None:
        return _table(["name", *names], rows)
    note = f"<p>{_text(legend)}</p>" if differs else ""
    return note + _table(["", "name", *names], rows, marked={"differs": differs})


def _compared_curves(names: list[str], runs: list[RunFacts]) -> str:
    metrics = {name: _read_metrics(f.path) for name, f in zip(names, runs, strict=True)}
    figures = [_figure(png, alt, caption) for png, alt, caption in (
        (_metric_curves(metrics, metrics=False), "loss_curves", "loss of every run, overlaid"),
        (_metric_curves(metrics, metrics=True), "metric_curves",
         "metrics of every run, overlaid"),
    ) if png is not None]  # fmt: skip
    if figures:
        return "\n".join(figures)
    if not any(metrics.values()):
        return _note("none of these runs has a metrics.csv to draw")
    return _note("no curves: they need pip install 'theta-ml[plot]'")


def _read_metrics(run_dir: Path) -> dict[str, list[float]]:
    """The columns of ``metrics.csv`` (first column: epoch or step), empty cells as NaN."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        return {}
    return {name: [float(r[i]) if i < len(r) and is_number_text(r[i]) else math.nan
                   for r in rows[1:]]
            for i, name in enumerate(rows[0])}  # fmt: skip


def _metric_curves(runs: dict[str, dict[str, list[float]]], *, metrics: bool) -> bytes | None:
    """A PNG of the runs' loss curves (or, with ``metrics``, their other columns) overlaid;
    None when there is nothing to draw or no matplotlib. Validation columns are dashed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(6.0, 4.0), dpi=100, layout="constrained")
    ax = figure.subplots()
    x_names: set[str] = set()
    colours = [f"C{i % 10}" for i in range(len(runs))]
    drawn = 0
    for (name, columns), colour in zip(runs.items(), colours, strict=True):
        if not columns:
            continue
        x_name, *others = columns
        x_names.add(x_name)
        for column in others:
            if (column in ("loss", "val_loss")) == metrics:
                continue
            label = column if len(runs) == 1 else f"{name}: {column}"
            ax.plot(columns[x_name], columns[column], color=colour if len(runs) > 1 else None,
                    linestyle="--" if column.startswith("val_") else "-", marker=".",
                    label=label)  # fmt: skip
            drawn += 1
    if not drawn:
        return None
    ax.set_xlabel(" or ".join(sorted(x_names)))
    ax.set_ylabel("metric" if metrics else "loss")
    ax.set_title("metrics (validation dashed)" if metrics else "loss (validation dashed)")
    ax.legend(fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.1)
    return buffer.getvalue()


# --- HTML pieces -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _note(text: str) -> str:
    return f'<p class="note">{_text(text)}</p>'


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: set[int] = frozenset(),
           marked: dict[str, set[int]] | None = None) -> str:  # fmt: skip
    """An HTML table; ``marked`` gives rows a class (``wrong``, ``validation``, ``differs``)."""
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    classes = {i: name for name, rows_marked in (marked or {}).items() for i in rows_marked}
    lines = []
    for i, row in enumerate(rows):
        cells = "".join(f'<td class="num">{_text(v)}</td>' if j in numeric
                        else f"<td>{_text(v)}</td>" for j, v in enumerate(row))  # fmt: skip
        opening = f'<tr class="{classes[i]}">' if i in classes else "<tr>"
        lines.append(f"{opening}{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _key_values(values: dict[str, Any] | None, missing: str) -> str:
    if not values:
        return _note(missing) if missing else ""
    rows = [[key, _shown(value)] for key, value in _flatten(values)]
    return _table(["name", "value"], rows)


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"final": {"loss": 0.1}}`` as ``[("final.loss", 0.1)]``."""
    flat: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat += _flatten(value, f"{prefix}{key}.")
        else:
            flat.append((f"{prefix}{key}", value))
    return flat


def _shown(value: Any) -> str:
    """A JSON value as JSON shows it (null, true, "", [64]), floats to six digits."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str) and value:
        return value
    return json.dumps(value)


def _duration(seconds: float | None) -> str:
    """``12.3 s``, ``4 min 5 s`` or ``2 h 3 min``; ``not recorded`` when unknown."""
    if seconds is None:
        return "not recorded"
    if seconds < 60:
        return f"{seconds:.3g} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _number(text: str) -> float:
    """``text`` as a number; infinity for what is not one, so it sorts last."""
    return float(text) if is_number_text(text) else float("inf")
