"""``theta tune CONFIG.toml``: a hyperparameter search described in one file.

The file names the estimator (or RL agent), the data (or environment), the search space, the
strategy, the cross-validation, where trials run and how long each may take
(``[search] timeout``, seconds). The command prints the leaderboard and writes a stamped run
folder (see :mod:`theta.cli.runs`), each file atomically: ``config.json`` (the resolved
config), ``results.csv`` (``cv_results_``), ``summary.json`` (best candidate, failed trials),
the best candidate refitted on all the data (``model/``, or ``agent/`` for an RL agent, through
:mod:`theta.io`: ``theta predict`` and ``theta rl --eval`` use it) and ``scores.png`` (score
against each hyperparameter, with the ``plot`` extra).
"""

from __future__ import annotations

import argparse
import difflib
import json
import numbers
import os
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from theta import data, io
from theta.cli.config import ConfigError, load_toml
from theta.cli.rl import AGENTS
from theta.cli.runs import claim_run_dir, run_status
from theta.estimators import all_estimators
from theta.tensorfile import atomic_write_text, jsonable
from theta.tune import (
    BayesSearch,
    Choice,
    GridSearch,
    IntUniform,
    KFold,
    LogUniform,
    RandomSearch,
    ShuffleSplit,
    StratifiedKFold,
    SuccessiveHalving,
    Uniform,
)
from theta.tune.backends import BACKENDS, check_backend
from theta.tune.results import short_value
from theta.tune.scoring import check_scoring
from theta.tune.spaces import check_param_names
from theta.validation import Options, violation

__all__ = ["add_parser", "resolve", "run"]

STRATEGIES = {
    "grid": GridSearch,
    "random": RandomSearch,
    "halving": SuccessiveHalving,
    "bayes": BayesSearch,
}
# every key of each table, with its type and (for search) the strategies it applies to
SECTIONS: dict[str, dict[str, Any]] = {
    "estimator": {
        "name": str,
        "params": dict,
        "env": str,
        "total_steps": int,
        "episodes": int,
        "eval_episodes": int,
    },
    "data": {"name": str, "options": dict},
    "search": {
        "strategy": str,
        "random_state": int,
        "refit": (bool, str),
        "error_score": float,
        "return_train_score": bool,
        "max_retries": int,
        "timeout": float,
        "storage": str,
        "n_iter": int,
        "n_trials": int,
        "batch_size": int,
        "n_startup_trials": int,
        "factor": float,
        "resource": str,
        "min_resources": (int, str),
        "max_resources": (int, str),
        "n_candidates": int,
    },
    "cv": {"kind": str, "n_splits": int, "shuffle": bool, "random_state": int, "test_size": float},
    "backend": {"n_jobs": int, "backend": str, "scheduler": str},
}
ONLY_FOR = {
    "n_iter": "random",
    "n_trials": "bayes",
    "batch_size": "bayes",
    "n_startup_trials": "bayes",
    "factor": "halving",
    "resource": "halving",
    "min_resources": "halving",
    "max_resources": "halving",
    "n_candidates": "halving",
}
DISTRIBUTIONS = {"uniform": Uniform, "log_uniform": LogUniform, "int": IntUniform}
CV_KINDS = ("kfold", "stratified", "shuffle")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="search hyperparameters (grid, random, successive halving, Bayesian)",
        description="Run the hyperparameter search described in CONFIG.toml, print the "
        "leaderboard and write a run folder (config.json, results.csv, summary.json, the "
        "refitted best estimator for theta predict, scores.png).",
        epilog="examples:\n  theta tune examples/tune_iris.toml\n"
        "  theta tune search.toml --n-jobs 4 --out runs/search --overwrite\n"
        "  theta tune search.toml --backend dask --scheduler tcp://10.0.0.5:8786",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", metavar="CONFIG.toml", help="the search, in TOML")
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/tune-<name>)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--n-jobs",
        type=int,
        metavar="N",
        dest="n_jobs",
        help="local worker processes (-1: every core; default: the config's, else 1)",
    )
    parser.add_argument("--backend", choices=["loky", "dask"],
                        help="where trials run (default: the config's, else loky)")  # fmt: skip
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler, tcp://host:port (default: the config's)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="check the config, print it, exit")
    parser.set_defaults(run=run)


def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"config key {key!r}: {message}")


def _unknown(key: str, valid: Any) -> ConfigError:
    close = difflib.get_close_matches(key.rpartition(".")[2], list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown config key {key!r}{hint} Valid: {', '.join(sorted(valid))}.")


def _check_types(values: dict[str, Any]) -> None:
    for key in values:
        if key not in (*SECTIONS, "space", "scoring"):
            raise _unknown(key, [*SECTIONS, "space", "scoring"])
    for section, keys in SECTIONS.items():
        table = values.get(section, {})
        if not isinstance(table, dict):
            raise _fail(section, f"must be a table [{section}]")
        for key, value in table.items():
            if key not in keys:
                raise _unknown(f"{section}.{key}", keys)
            kinds = keys[key] if isinstance(keys[key], tuple) else (keys[key],)
            why = violation(value, [numbers.Real if k is float else k for k in kinds])
            if why is not None:
                raise _fail(f"{section}.{key}", why)


def _learner_class(name: str) -> type:
    classes = {cls.__name__: cls for cls in all_estimators()}
    classes.update({cls.__name__: cls for cls in AGENTS.values()})
    classes.update(AGENTS)
    if name not in classes:
        close = difflib.get_close_matches(name, list(classes), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _fail(
            "estimator.name",
            f"unknown estimator or agent {name!r}{hint} Valid: {', '.join(sorted(classes))}.",
        )
    return classes[name]


def _space(table: Any) -> dict[str, Any]:
    if not isinstance(table, dict) or not table:
        raise _fail(
            "space", "needs a [space] table with at least one parameter, e.g. C = [0.1, 1, 10]"
        )
    space: dict[str, Any] = {}
    for name, value in table.items():
        key = f"space.{name}"
        if isinstance(value, list):
            if not value:
                raise _fail(key, "the list of values is empty")
            space[name] = value
            continue
        kinds = [*DISTRIBUTIONS, "choice"]
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in kinds:
            raise _fail(
                key,
                f"expected a list of values or one of {{ {' | '.join(kinds)} = "
                f"[...] }}; got {value!r}",
            )
        [(kind, args)] = value.items()
        try:
            if kind == "choice":
                space[name] = Choice(args)
            elif not isinstance(args, list) or len(args) != 2:
                raise ValueError(f"{kind} needs [low, high]; got {args!r}")
            else:
                space[name] = DISTRIBUTIONS[kind](*args)
        except (TypeError, ValueError) as exc:
            raise _fail(key, str(exc)) from None
    return space


def _cv(table: dict[str, Any], is_agent: bool) -> Any:
    if is_agent:
        return table.get("n_splits", 3)
    n_splits = table.get("n_splits", 5)
    if set(table) <= {"n_splits"}:
        return n_splits  # stratified for a classifier, as check_cv decides
    kind = table.get("kind", "kfold")
    if (why := violation(kind, Options(CV_KINDS))) is not None:
        raise _fail("cv.kind", why)
    try:
        if kind == "shuffle":
            return ShuffleSplit(
                n_splits, test_size=table.get("test_size"), random_state=table.get("random_state")
            )
        cls = StratifiedKFold if kind == "stratified" else KFold
        return cls(
            n_splits, shuffle=table.get("shuffle", False), random_state=table.get("random_state")
        )
    except ValueError as exc:
        raise _fail("cv.n_splits", str(exc)) from None


def resolve(values: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The checked config with the command-line flags applied; every default filled in.

    Raises
    ------
    ConfigError
        For an unknown key (with the closest valid one), a value of the wrong type, an
        unknown estimator, strategy, data set or parameter, or a bad space or range.
    """
    _check_types(values)
    estimator = values.get("estimator", {})
    if "name" not in estimator:
        raise _fail("estimator.name", "is required (a class of theta.estimators or an agent)")
    cls = _learner_class(estimator["name"])
    is_agent = cls in AGENTS.values()
    params = estimator.get("params", {})
    for key in params:
        if key not in cls._get_param_names():
            raise _unknown(f"estimator.params.{key}", cls._get_param_names())
    search = dict(values.get("search", {}))
    strategy = search.setdefault("strategy", "grid")
    if (why := violation(strategy, Options(STRATEGIES))) is not None:
        raise _fail("search.strategy", why)
    for key in search:
        if ONLY_FOR.get(key, strategy) != strategy:
            raise _fail(
                f"search.{key}",
                f"applies to strategy {ONLY_FOR[key]!r} only (strategy is {strategy!r})",
            )
    backend = dict(values.get("backend", {}))
    for key in ("n_jobs", "backend", "scheduler"):
        if getattr(args, key) is not None:
            backend[key] = getattr(args, key)
    if (why := violation(backend.setdefault("backend", "loky"), Options(BACKENDS))) is not None:
        raise _fail("backend.backend", why)
    if is_agent:
        for key in ("env",):
            if key not in estimator:
                raise _fail(f"estimator.{key}", f"is required for the agent {estimator['name']}")
    elif "name" not in values.get("data", {}):
        raise _fail(
            "data.name", f"is required; one of {', '.join(d.name for d in data.list_datasets())}"
        )
    space = _space(values.get("space"))
    try:
        check_param_names(
            cls(**params), set(space), extra=("total_steps", "episodes") if is_agent else ()
        )
    except ValueError as exc:
        raise _fail("space", str(exc)) from None
    config = {
        "estimator": estimator,
        "data": values.get("data", {}),
        "search": search,
        "space": values["space"],
        "cv": values.get("cv", {}),
        "backend": backend,
        "scoring": values.get("scoring"),
        "class": cls,
        "is_agent": is_agent,
    }
    _check_search(config)
    return config


def _check_search(config: dict[str, Any]) -> None:
    """Run the search's own checks that need no data (space, settings, scoring, backend)."""
    search = build_search(config, quiet=True)
    checks = [
        ("search", search._check_settings),
        ("space", search._space_names),
        ("backend", lambda: check_backend(search.backend, search.n_jobs, search.scheduler)),
    ]
    if not config["is_agent"]:
        checks.append(("scoring", lambda: check_scoring(search.estimator, search.scoring)))
    for key, check in checks:
        try:
            check()
        except (TypeError, ValueError) as exc:
            raise _fail(key, str(exc)) from None


def build_search(config: dict[str, Any], quiet: bool) -> Any:
    """The search object the resolved ``config`` describes."""
    search = dict(config["search"])
    strategy = search.pop("strategy")
    estimator = config["class"](**config["estimator"].get("params", {}))
    space = _space(config["space"])
    if config["scoring"] is not None:
        search["scoring"] = config["scoring"]
    if not config["is_agent"] or "n_splits" in config["cv"]:
        search["cv"] = _cv(config["cv"], config["is_agent"])
    search.update(config["backend"])
    return STRATEGIES[strategy](estimator, space, progress=False if quiet else None, **search)


def _load(config: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
    """``(X, y, fit_params)`` for an estimator, ``(env id, None, budget)`` for an agent."""
    est = config["estimator"]
    if config["is_agent"]:
        budget = {k: est[k] for k in ("total_steps", "episodes", "eval_episodes") if k in est}
        return est["env"], None, budget
    spec = config["data"]
    try:
        loaded = data.load_dataset(spec["name"], **spec.get("options", {}))
    except (ValueError, TypeError) as exc:
        raise _fail("data", str(exc)) from None
    if isinstance(loaded, str):
        raise _fail("data.name", f"{spec['name']!r} is a text corpus, not a table")
    X, y = (loaded.X, loaded.y) if isinstance(loaded, data.ArrayDataset) else loaded
    return X, y, {}


def run(args: argparse.Namespace, out: TextIO) -> int:
    config = resolve(load_toml(args.config), args)
    shown = {k: v for k, v in config.items() if k not in ("class", "is_agent")}
    if args.dry_run:
        print(json.dumps(shown, indent=2), file=out)
        return 0
    name = config["estimator"]["name"]
    search = build_search(config, args.quiet)
    X, y, fit_params = _load(config)
    run_dir = claim_run_dir(
        args.out or Path("runs") / f"tune-{name}", overwrite=args.overwrite, kind="tune"
    )
    with run_status(run_dir):
        seconds, picture = _search_and_save(search, X, y, fit_params, config, shown, run_dir)
    print(search.leaderboard(top=10), file=out)
    best = ", ".join(f"{k}={short_value(v)}" for k, v in search.best_params_.items())
    print(
        f"best: {best} (mean test score {search.best_score_:.4g}); "
        f"{len(search.cv_results_['params'])} candidates, {search.n_trials_run_} trials run, "
        f"{seconds:.1f} s",
        file=out,
    )
    if search.failed_trials_:
        print(f"{len(search.failed_trials_)} failed:", file=out)
        for i, params, error in search.failed_trials_:
            print(f"  #{i} {params}: {error}", file=out)
    note = "" if picture else " (pip install 'theta-ml[plot]' for scores.png)"
    print(f"run saved to {run_dir}{note}", file=out)
    return 0


def _search_and_save(
    search: Any,
    X: Any,
    y: Any,
    fit_params: dict[str, Any],
    config: dict[str, Any],
    shown: dict[str, Any],
    run_dir: Path,
) -> tuple[float, bool]:
    """Run the search; write config.json, results.csv, summary.json and scores.png into
    ``run_dir``. Returns the search's seconds and whether scores.png was drawn."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".* candidates failed", category=UserWarning)
        search.fit(X, y, **fit_params)
    seconds = time.perf_counter() - started
    results = search.cv_results_
    summary = {
        "estimator": config["estimator"]["name"],
        "strategy": config["search"]["strategy"],
        "n_candidates": len(results["params"]),
        "n_splits": search.n_splits_,
        "n_trials_run": search.n_trials_run_,
        "seconds": round(seconds, 3),
        "best_index": getattr(search, "best_index_", None),
        "best_params": jsonable(getattr(search, "best_params_", None)),
        "best_score": getattr(search, "best_score_", None),
        "failed_trials": [
            {"index": i, "params": jsonable(p), "error": e} for i, p, e in search.failed_trials_
        ],
    }
    if hasattr(search, "budget_used_"):
        summary["budget_used"] = int(search.budget_used_)
    atomic_write_text(run_dir / "config.json", json.dumps(jsonable(shown), indent=2) + "\n")
    search.to_csv(run_dir / "results.csv")
    if getattr(search, "best_estimator_", None) is not None:  # refit: what predict will use
        where = "agent" if config["is_agent"] else "model"
        io.save(search.best_estimator_, run_dir / where, overwrite=True)
        summary["refitted"] = f"{where}/"
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return seconds, _try_scores(results, run_dir / "scores.png")


def _try_scores(results: dict[str, Any], path: Path) -> bool:
    """Draw score against each hyperparameter with ``theta.plot.search_scores`` if it exists
    and matplotlib is installed."""
    try:
        from theta.plot import search_scores

        search_scores(results, path)
    except (ImportError, AttributeError):
        return False
    return os.path.exists(path)
