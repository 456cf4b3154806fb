"""``theta tune CONFIG.toml``: the example end to end in a subprocess; config errors exit 2."""

import csv
import json
from pathlib import Path

import pytest

from theta.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tune_iris.toml"


def _main(argv):
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code)


def _write(tmp_path, text, name="search.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_example_runs_end_to_end(theta_cli, tmp_path):
    out = tmp_path / "iris"
    result = theta_cli("tune", str(EXAMPLE), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rank", "mean", "±", "std", "params"]
    assert lines[1].startswith("   1  0.98 ± ")
    assert "best: C=10 (mean test score 0.98)" in result.stdout
    written = {"config.json", "results.csv", "summary.json", "model"}
    assert {p.name for p in out.iterdir()} >= written
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_params"] == {"C": 10.0} and summary["failed_trials"] == []
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["param_C"] for row in rows] == ["0.01", "0.1", "1.0", "10.0", "100.0"]
    assert json.loads((out / "config.json").read_text())["space"] == {
        "C": [0.01, 0.1, 1.0, 10.0, 100.0]
    }
    # the folder is refused the second time, and replaced with --overwrite
    again = theta_cli("tune", str(EXAMPLE), "--out", str(out))
    assert again.returncode == 1 and "already exists; pass --overwrite" in again.stderr


def test_random_halving_and_bayes_strategies_and_failures(tmp_path, capsys):
    base = (
        'scoring = "r2"\n[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n'
        "[cv]\nn_splits = 3\n"
    )
    configs = {
        "random": '[search]\nstrategy = "random"\nn_iter = 4\nrandom_state = 0\n'
        "[space]\nalpha = { log_uniform = [1e-3, 1e2] }\n"
        "fit_intercept = { choice = [true, false] }\n",
        "halving": '[search]\nstrategy = "halving"\nfactor = 2\n'
        "[space]\nalpha = [-1.0, 0.01, 1.0, 100.0]\n",
        "bayes": '[search]\nstrategy = "bayes"\nn_trials = 5\nrandom_state = 0\n'
        "[space]\nalpha = { uniform = [0.0, 2.0] }\n",
    }
    for strategy, text in configs.items():
        out = tmp_path / strategy
        assert _main(["tune", _write(tmp_path, base + text), "--out", out, "--quiet"]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["strategy"] == strategy
    printed = capsys.readouterr().out
    assert "1 failed:\n  #0 {'alpha': -1.0}: fold 0: InvalidParameterError" in printed
    assert json.loads((tmp_path / "halving" / "summary.json").read_text())["budget_used"] > 0


def test_an_agent_is_tuned_from_a_config(tmp_path, capsys):
    text = (
        '[estimator]\nname = "q_learning"\nenv = "Bandit-v0"\ntotal_steps = 200\n'
        "eval_episodes = 10\n[search]\nrandom_state = 0\n[cv]\nn_splits = 2\n"
        "[space]\nepsilon = [0.0, 0.3]\n"
    )
    assert _main(["tune", _write(tmp_path, text), "--out", tmp_path / "q"]) == 0
    summary = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert summary["n_splits"] == 2 and summary["best_params"]["epsilon"] in (0.0, 0.3)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[serch]\n',
            "unknown config key 'serch'; did you mean 'search'?",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpha = [1]\n'
            "[search]\nn_iters = 3\n",
            "unknown config key 'search.n_iters'; did you mean 'n_iter'?",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpha = [1]\n'
            "[search]\nn_iter = 3\n",
            "'search.n_iter': applies to strategy 'random' only",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpha = [1]\n'
            '[backend]\nn_jobs = "two"\n',
            "'backend.n_jobs': must be an instance of 'int'. Got 'two' instead.",
        ),
        ('[estimator]\nname = "Rigde"\n', "did you mean 'Ridge'?"),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpah = [1]\n',
            "Invalid parameter 'alpah' for estimator Ridge. Did you mean 'alpha'?",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpha = []\n',
            "'space.alpha': the list of values is empty",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\n'
            "alpha = { log_uniform = [10, 1] }\n",
            "low must be <= high",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\n'
            "alpha = { normal = [0, 1] }\n",
            "expected a list of values or one of",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "diabetes"\n[space]\nalpha = [1]\n'
            '[search]\nstrategy = "evolution"\n',
            "config key 'search.strategy': must be a str among {'bayes', 'grid', 'halving', "
            "'random'}. Got 'evolution' instead.",
        ),
        (
            'scoring = "acuracy"\n[estimator]\nname = "Ridge"\n[data]\nname = "iris"\n'
            "[space]\nalpha = [1.0]\n",
            "config key 'scoring': scoring: unknown scorer 'acuracy'",
        ),
        (
            '[estimator]\nname = "Ridge"\n[data]\nname = "iris"\n[space]\nalpha = [1.0]\n'
            '[search]\nstrategy = "bayes"\nn_trials = 0\n',
            "config key 'search': The 'n_trials' parameter of BayesSearch must be an int in the "
            "range [1, inf). Got 0 instead.",
        ),
        (
            '[estimator]\nname = "q_learning"\n[space]\nepsilon = [0.1]\n',
            "'estimator.env': is required",
        ),
    ],
)
def test_config_errors_exit_2_naming_the_key(tmp_path, capsys, text, message):
    assert _main(["tune", _write(tmp_path, text), "--out", tmp_path / "never"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "never").exists()


def test_dry_run_prints_the_resolved_config(capsys):
    assert _main(["tune", EXAMPLE, "--dry-run", "--n-jobs", "2"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["backend"] == {"n_jobs": 2, "backend": "loky"}
    assert shown["search"]["strategy"] == "grid"
