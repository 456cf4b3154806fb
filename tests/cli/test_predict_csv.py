"""``theta predict`` on CSV with a header, ``--proba``, ``--out``, and on tuning runs."""

import csv
import io

import numpy as np
import pytest

from theta import io as theta_io
from theta.data import load_iris

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
TUNE = """\
[estimator]
name = "LogisticRegression"
[data]
name = "iris"
[space]
C = [0.1, 1.0]
[cv]
n_splits = 3
"""


@pytest.fixture(scope="module")
def runs(theta_cli, tmp_path_factory):
    """An iris run of theta train, a tuning run over LogisticRegression, and a CSV whose
    header names iris' features in another order and spelling."""
    root = tmp_path_factory.mktemp("predict")
    trained = theta_cli("train", "--data", "iris", "--epochs", "20", "--out",
                        str(root / "iris"), "--quiet")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    (root / "tune.toml").write_text(TUNE)
    tuned = theta_cli("tune", str(root / "tune.toml"), "--out", str(root / "tune"), "--quiet")
    assert tuned.returncode == 0, tuned.stderr
    order = [3, 0, 2, 1]
    header = ["Petal_Width", "sepal length (cm)", "petal length", "sepal width (cm)"]
    lines = [",".join(header)] + [",".join(str(row[i]) for i in order) for row in ROWS]
    (root / "new.csv").write_text("\n".join(lines) + "\n")
    return root


def _positional(theta_cli, run):
    result = theta_cli("predict", str(run), *(",".join(map(str, row)) for row in ROWS))
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("run", ["iris", "tune"])
def test_header_columns_are_matched_by_name(theta_cli, runs, run):
    result = theta_cli("predict", str(runs / run), "--file", str(runs / "new.csv"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == _positional(theta_cli, runs / run)
    assert set(result.stdout.split()) <= {"setosa", "versicolor", "virginica"}


@pytest.mark.parametrize("run", ["iris", "tune"])
def test_proba_prints_a_csv_of_class_probabilities(theta_cli, runs, run):
    result = theta_cli("predict", str(runs / run), "--file", str(runs / "new.csv"), "--proba")
    assert result.returncode == 0, result.stderr
    table = list(csv.reader(io.StringIO(result.stdout)))
    assert table[0] == ["prediction", "setosa", "versicolor", "virginica"]
    proba = np.array([[float(v) for v in row[1:]] for row in table[1:]])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=2e-4)  # printed to 4 decimals
    assert [row[0] for row in table[1:]] == [table[0][1 + i] for i in proba.argmax(axis=1)]
    assert [row[0] for row in table[1:]] == _positional(theta_cli, runs / run)


def test_tuning_run_predicts_with_its_refitted_best_estimator(theta_cli, runs):
    estimator = theta_io.load(runs / "tune" / "model")
    names = load_iris().target_names
    expected = [names[i] for i in estimator.predict(np.array(ROWS))]
    assert _positional(theta_cli, runs / "tune") == expected
    result = theta_cli("predict", str(runs / "tune"), "--file", str(runs / "new.csv"), "--proba")
    proba = np.array([[float(v) for v in row[1:]]
                      for row in list(csv.reader(io.StringIO(result.stdout)))[1:]])  # fmt: skip
    np.testing.assert_allclose(proba, estimator.predict_proba(np.array(ROWS)), atol=5e-5)


def test_out_writes_the_csv_and_says_where(theta_cli, runs, tmp_path):
    target = tmp_path / "predictions.csv"
    args = ("predict", str(runs / "iris"), "--file", str(runs / "new.csv"), "--proba")
    result = theta_cli(*args, "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote 3 predictions to {target}"
    assert target.read_text() == theta_cli(*args).stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]  # no temporaries
    plain = theta_cli("predict", str(runs / "iris"), "5.1,3.5,1.4,0.2", "--out", str(target))
    assert plain.returncode == 0 and target.read_text() == "prediction\nsetosa\n"


def test_a_header_that_does_not_match_names_the_columns(theta_cli, runs, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sepal length (cm),sepal width (cm),petal length (cm),id\n5.1,3.5,1.4,7\n")
    result = theta_cli("predict", str(runs / "iris"), "--file", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "missing petal width (cm)" in result.stderr and "unknown columns: id" in result.stderr


def test_no_input_and_proba_of_a_regression_are_usage_errors(theta_cli, runs, tmp_path):
    empty = theta_cli("predict", str(runs / "iris"))
    assert empty.returncode == 2 and "give at least one INPUT" in empty.stderr
    line = theta_cli("train", "--data", "diabetes", "--epochs", "1", "--out",
                     str(tmp_path / "diabetes"), "--quiet")  # fmt: skip
    assert line.returncode == 0, line.stderr
    row = ",".join(["0.01"] * 10)
    result = theta_cli("predict", str(tmp_path / "diabetes"), row, "--proba")
    assert result.returncode == 2 and "--proba" in result.stderr and "regression" in result.stderr
    assert "Traceback" not in result.stderr
