"""The command as a whole: every sub-command documented with an example, ``datasets``, ``bench``."""

import json

import pytest

from theta.cli import bench, build_parser

COMMANDS = ["train", "predict", "tune", "rl", "generate", "embed", "search", "report", "bench",
            "datasets"]  # fmt: skip


def test_every_command_is_registered():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(COMMANDS) <= set(choices)


def test_top_level_help_shows_an_example_of_every_command(theta_cli):
    result = theta_cli("--help")
    assert result.returncode == 0
    examples = result.stdout.split("examples (one per command")[1]
    for command in COMMANDS:
        assert f"theta {command}" in examples, command


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_exits_zero_with_examples(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    text = sub.format_help()
    assert "example" in text
    assert f"theta {command}" in text


def test_datasets_lists_every_embedded_data_set(theta_cli):
    result = theta_cli("datasets")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == ["iris", "digits", "breast_cancer", "diabetes", "tinyshakespeare", "line",
                     "blobs", "moons", "spirals"]  # fmt: skip
    assert "150×4" in result.stdout


def test_datasets_describes_one_as_json(theta_cli):
    result = theta_cli("datasets", "Iris", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["name"] == "iris"
    assert facts["shape"] == [150, 4]
    assert facts["target_names"] == ["setosa", "versicolor", "virginica"]
    assert "Source:" in facts["description"]


def test_datasets_unknown_name_is_one_line_with_a_suggestion(theta_cli):
    result = theta_cli("datasets", "irsi")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "theta: error: Unknown data set 'irsi'. Did you mean 'iris'? Valid names: iris, digits, "
        "breast_cancer, diabetes, tinyshakespeare, line, blobs, moons, spirals."
    ]


def test_bench_rejects_a_bad_flag_value_as_usage_error(theta_cli):
    result = theta_cli("bench", "--rounds", "0")
    assert result.returncode == 2
    assert "--rounds" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_outside_a_checkout_says_where_it_looked(tmp_path, monkeypatch):
    import theta

    monkeypatch.setattr(theta, "__file__", str(tmp_path / "src" / "theta" / "__init__.py"))
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name: None)  # not installed
    with pytest.raises(FileNotFoundError, match="no benchmarks/run.py in"):
        bench.find_benchmarks()


@pytest.mark.slow
def test_bench_quick_runs_the_suite_and_writes_ratios(theta_cli, tmp_path):
    out = tmp_path / "bench.md"
    result = theta_cli("bench", "--quick", "--only", "Chapter loop", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    text = out.read_text()
    assert "## Machine" in text
    assert "Chapter loop" in text
    assert "theta / torch" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_flag_is_a_usage_error_without_traceback(theta_cli, command):
    result = theta_cli(command, "--frobnicate")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: theta")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["predict", "nope", "1"], "run folder not found: nope"),
    (["generate", "nope"], "run folder not found: nope"),
    (["report", "nope"], "run folder not found: nope"),
    (["tune", "nope.toml"], "No such file or directory: nope.toml"),
    (["train", "--config", "nope.toml"], "No such file or directory: nope.toml"),
    (["search", "nope.txt", "--query", "x"], "CORPUS nope.txt does not exist"),
])  # fmt: skip
def test_a_missing_run_or_file_is_one_line_naming_it(theta_cli, tmp_path, args, message):
    result = theta_cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"theta: error: {message}\n"
