"""``theta report RUN``: one self-contained HTML page about a run folder.

The page needs nothing but itself: pictures are inlined as base64 PNG, the style sheet is
inline, there is no script, and its Content-Security-Policy forbids loading anything else. It
shows the chapter's split, parameters against hyperparameters, for any run folder theta writes
(``theta train``, ``theta train --model gpt``, ``theta rl``, ``theta tune``):

- the run's name and kind;
- **Hyperparameters**: ``config.json``, what you chose;
- **Parameters**: the learned tensors' names and shapes, what gradient descent chose (for a
  search: the best hyperparameters it found);
- **Pictures**: every PNG in the folder;
- **Final metrics**: ``summary.json``;
- **Predictions**: a sample of the model at work (truth against prediction on rows of the
  data set, a generated text, the last episodes' returns, or the search's leaderboard).
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta.cli.runs import check_run_dir, load_gpt_run, load_run, load_table
from theta.tensorfile import atomic_write_text, read_tensors

__all__ = ["add_parser", "render", "run", "run_kind"]

KINDS = {
    "train": "trained model (theta train)", "gpt": "GPT language model (theta train --model gpt)",
    "rl": "reinforcement-learning agent (theta rl)", "tune": "hyperparameter search (theta tune)",
    "run": "run folder",
}  # fmt: skip
# Pictures in the order a reader wants them; others follow alphabetically.
PICTURE_ORDER = ("loss_curve", "reward_curve", "regret", "scores", "descent_path",
                 "decision_boundary", "confusion_matrix", "attention_map")  # fmt: skip
SAMPLE_ROWS = 10
# Files of a run that are not what training learned: the resumable state, the feature scaling.
NOT_PARAMETERS = ("checkpoint.safetensors", "preprocessing.safetensors")

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.1em; } .kind { color: #666; margin-top: 0; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.wrong td { background: #fde8e8; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.8em; white-space: pre-wrap; }
.note { color: #666; font-style: italic; }
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML page about a run folder",
        description="Write an HTML page about the run folder RUN: hyperparameters, learned "
        "parameters, pictures, final metrics and sample predictions, in one file that needs "
        "no network (pictures inlined).",
        epilog="examples:\n  theta train --data iris --out runs/iris\n"
        "  theta report runs/iris                       # writes runs/iris/report.html\n"
        "  theta report runs/iris --out iris.html --overwrite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN", help="a run folder (theta train, rl or tune)")
    parser.add_argument("--out", metavar="FILE", help="the page (default RUN/report.html)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing page")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    run_dir = check_run_dir(args.run_dir)
    target = Path(args.out) if args.out else run_dir / "report.html"
    if target.exists() and not args.overwrite:
        raise FileExistsError(f"report {target} already exists; pass --overwrite to replace it")
    atomic_write_text(target, render(run_dir))
    print(f"report saved to {target}", file=out)
    return 0


def run_kind(run_dir: Path) -> str:
    """``"gpt"``, ``"rl"``, ``"tune"``, ``"train"``, or ``"run"`` for any other folder."""
    markers = {"gpt": "tokenizer.json", "rl": "returns.csv", "tune": "results.csv",
               "train": "preprocessing.safetensors"}  # fmt: skip
    return next((kind for kind, name in markers.items() if (run_dir / name).is_file()), "run")


def render(run_dir: Path) -> str:
    """The HTML page of the run folder ``run_dir``."""
    config, summary = _read_json(run_dir / "config.json"), _read_json(run_dir / "summary.json")
    if config is None and summary is None:
        raise ValueError(
            f"{run_dir} is not a run folder: it has neither config.json nor summary.json"
        )
    kind = run_kind(run_dir)
    name = run_dir.resolve().name
    sections = {
        "Hyperparameters": _key_values(config, "no config.json in this run folder"),
        "Parameters": _parameters(run_dir, summary),
        "Pictures": _pictures(run_dir),
        "Final metrics": _key_values(summary, "no summary.json in this run folder"),
        "Predictions": _predictions(run_dir, kind, config or {}),
    }
    body = "".join(f'<h2 id="{title.lower().replace(" ", "-")}">{title}</h2>\n{content}\n'
                   for title, content in sections.items())  # fmt: skip
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">\n"
        f"<title>theta run {_text(name)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_text(name)}</h1>\n<p class=\"kind\">{_text(KINDS[kind])} · "
        f"{_text(str(run_dir))}</p>\n{body}</body>\n</html>\n"
    )


# --- sections ----------------------------------------------------------------------------------


def _parameters(run_dir: Path, summary: dict[str, Any] | None) -> str:
    """The learned tensors of every saved model or agent, file by file."""
    parts = []
    best = (summary or {}).get("best_params")
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
    def order(path: Path) -> tuple[int, str]:
        rank = PICTURE_ORDER.index(path.stem) if path.stem in PICTURE_ORDER else len(PICTURE_ORDER)
        return rank, path.name

    figures = []
    for path in sorted(run_dir.glob("*.png"), key=order):
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        figures.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_text(path.stem)}">'
                       f"<figcaption>{_text(path.name)}</figcaption></figure>")  # fmt: skip
    if not figures:
        return _note("no pictures in this run folder (they need pip install 'theta-ml[plot]')")
    return "\n".join(figures)


def _predictions(run_dir: Path, kind: str, config: dict[str, Any]) -> str:
    """A sample of what the run's model does; a note instead when it cannot be made."""
    try:
        if kind == "train":
            return _table_predictions(run_dir, str(config.get("data")), int(config.get("seed", 0)))
        if kind == "gpt":
            return _generated_text(run_dir)
        if kind == "rl":
            return _csv_rows(run_dir / "returns.csv", last=True,
                             caption="The last training episodes:")  # fmt: skip
        if (run_dir / "results.csv").is_file():
            return _csv_rows(run_dir / "results.csv", last=False,
                             caption="The best candidates of the search:")  # fmt: skip
    except (OSError, ValueError) as exc:  # e.g. a model file that no longer loads
        return _note(f"no predictions: {exc}")
    return _note("no predictions for this kind of run folder")


def _table_predictions(run_dir: Path, data_name: str, seed: int) -> str:
    trained = load_run(run_dir)
    X, y, task, names = load_table(data_name, seed=seed)
    rows = np.unique(np.linspace(0, len(X) - 1, min(SAMPLE_ROWS, len(X))).round().astype(int))
    predicted = trained.predict(X[rows])
    if task == "classification":
        truth = [names[i] for i in y[rows]]
    else:
        truth = [f"{v:.6g}" for v in y[rows]]
    shown = min(X.shape[1], 6)
    body, wrong = [], set()
    for i, (row, t, p) in enumerate(zip(rows, truth, predicted, strict=True)):
        features = ", ".join(f"{v:.4g}" for v in X[row, :shown])
        features += ", …" if X.shape[1] > shown else ""
        body.append([str(row), features, t, p])
        if task == "classification" and t != p:
            wrong.add(i)
    caption = (f"<p>{len(rows)} rows of data set <code>{_text(data_name)}</code>, spread over "
               f"it, predicted by <code>theta predict</code>'s model:</p>")  # fmt: skip
    return caption + _table(["row", "features", "truth", "prediction"], body, numeric={0},
                            marked=wrong)  # fmt: skip


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
    numeric = {i for i in range(len(header)) if all(_is_number(r[i]) for r in rows if i < len(r))}
    return f"<p>{_text(caption)}</p>" + _table(header, rows, numeric=numeric)


# --- HTML pieces -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _note(text: str) -> str:
    return f'<p class="note">{_text(text)}</p>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: set[int] = frozenset(),
           marked: set[int] = frozenset()) -> str:  # fmt: skip
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    lines = []
    for i, row in enumerate(rows):
        cells = "".join(f'<td class="num">{_text(v)}</td>' if j in numeric
                        else f"<td>{_text(v)}</td>" for j, v in enumerate(row))  # fmt: skip
        lines.append(f'<tr class="wrong">{cells}</tr>' if i in marked else f"<tr>{cells}</tr>")
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


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str) -> float:
    """``text`` as a number; infinity for what is not one, so it sorts last."""
    return float(text) if _is_number(text) else float("inf")
