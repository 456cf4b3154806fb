"""``theta train`` with data writes a run folder; ``theta predict`` uses it in a new process."""

import csv
import json

import numpy as np
import pytest

from theta.cli.config import ConfigError, TrainConfig


@pytest.fixture(scope="module")
def iris_run(theta_cli, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "iris"
    result = theta_cli("train", "--data", "iris", "--epochs", "30", "--hidden", "16", "--out",
                       str(run), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return run, result


def test_train_writes_a_complete_run_folder(iris_run):
    run, result = iris_run
    for name in (
        "config.json",
        "metrics.csv",
        "summary.json",
        "checkpoint.safetensors",
        "preprocessing.safetensors",
        "model/config.json",
        "model/model.safetensors",
    ):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["data"] == "iris" and config["hidden"] == [16] and config["epochs"] == 30
    with (run / "metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30
    assert float(rows[-1]["val_accuracy"]) >= 0.8
    assert "run saved to" in result.stdout
    pytest.importorskip("matplotlib")
    assert (run / "loss_curve.png").read_bytes().startswith(b"\x89PNG")


def test_predict_from_a_run_in_a_fresh_process(theta_cli, iris_run):
    run, _ = iris_run
    result = theta_cli("predict", str(run), "5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["setosa", "virginica"]


def test_predict_reads_rows_from_stdin(theta_cli, iris_run):
    run, _ = iris_run
    result = theta_cli("predict", str(run), "--file", "-", stdin="5.0,3.4,1.5,0.2\n")
    assert result.stdout.split() == ["setosa"]


def test_predict_errors_are_one_line(theta_cli, iris_run, tmp_path):
    run, _ = iris_run
    wrong = theta_cli("predict", str(run), "1,2")
    assert wrong.returncode == 1
    assert "X has 2 features, but the model" in wrong.stderr and "expecting 4" in wrong.stderr
    missing = theta_cli("predict", str(tmp_path / "nope"), "1")
    assert missing.returncode == 1 and "run folder not found" in missing.stderr
    assert "Traceback" not in wrong.stderr + missing.stderr


def test_the_chapter_line_as_a_run(theta_cli, tmp_path):
    run = tmp_path / "line"
    assert theta_cli("train", "--data", "line", "--out", str(run), "--quiet").returncode == 0
    result = theta_cli("predict", str(run), "10")
    assert result.stdout.strip() == "21"


def test_existing_run_folder_needs_overwrite(theta_cli, iris_run):
    run, _ = iris_run
    result = theta_cli("train", "--data", "iris", "--out", str(run), "--quiet")
    assert result.returncode == 1
    assert "--overwrite" in result.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--lrr", "3"], "unrecognized arguments: --lrr"),
        (["--lr", "abc"], "argument --lr: invalid float value"),
        (
            ["--lr", "-1"],
            "config key 'lr': must be a float in the range (0, inf). Got -1.0 instead.",
        ),
        (
            ["--optimizer", "adamm"],
            "config key 'optimizer': must be a str among {'adam', "
            "'adamw', 'rmsprop', 'sgd'}. Got 'adamm' instead.",
        ),
        (
            ["--epochs", "0"],
            "config key 'epochs' (with steps = 0): must be an int in the range "
            "[1, inf). Got 0 instead.",
        ),
        (
            ["--hidden", "8,0"],
            "config key 'hidden': must be a tuple of ints in the range "
            "[1, inf). Got (8, 0) instead.",
        ),
        (["--hidden", "a,b"], "expected sizes like 64,64"),
    ],
)
def test_bad_flags_are_usage_errors_naming_the_flag(theta_cli, args, needle):
    result = theta_cli("train", "--data", "iris", "--dry-run", *args)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_train_config_checks_each_key_with_theta_s_one_rule():
    assert TrainConfig(hidden=[8, 8]).hidden == (8, 8)  # a list in code, kept hashable
    with pytest.raises(
        ConfigError,
        match=r"^config key 'lr': must be a float in the range "
        r"\(0, inf\)\. Got np\.float32\(0\.1\) instead\.$",
    ):
        TrainConfig(lr=np.float32(0.1))  # config.json holds Python numbers only
    with pytest.raises(ConfigError, match=r"^config key 'n_heads': must be an instance of 'int'"):
        TrainConfig(n_heads=2.0)


def test_toml_config_unknown_key_and_wrong_type(theta_cli, tmp_path):
    bad_key = tmp_path / "a.toml"
    bad_key.write_text('data = "iris"\nlearning_rate = 0.1\n')
    result = theta_cli("train", "--config", str(bad_key), "--dry-run")
    assert result.returncode == 2 and "unknown config key 'learning_rate'" in result.stderr
    bad_type = tmp_path / "b.toml"
    bad_type.write_text('epochs = "many"\n')
    result = theta_cli("train", "--config", str(bad_type), "--dry-run")
    assert result.returncode == 2
    assert ("config key 'epochs' (with steps = 0): must be an int in the range [1, inf). Got "
            "'many' instead.") in result.stderr


def test_dry_run_prints_the_resolved_config_and_flags_override_the_file(theta_cli, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('data = "moons"\nlr = 0.1\nhidden = [8, 8]\n')
    result = theta_cli("train", "--config", str(config), "--lr", "0.5", "--dry-run")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["data"] == "moons" and resolved["lr"] == 0.5 and resolved["hidden"] == [8, 8]


def test_generated_data_is_drawn_with_the_run_seed_so_a_report_sees_the_same_points():
    from theta.cli.runs import load_table

    X0, y0, _, _ = load_table("moons", seed=0)
    X0_again, y0_again, _, _ = load_table("moons", seed=0)
    X1, _, _, _ = load_table("moons", seed=1)
    np.testing.assert_array_equal(X0, X0_again)
    np.testing.assert_array_equal(y0, y0_again)
    assert not np.array_equal(X0, X1)
    np.testing.assert_array_equal(load_table("iris", seed=3)[0], load_table("iris")[0])


def test_the_gpt_keys_are_gptconfig_fields_and_reach_the_model(theta_cli):
    from dataclasses import fields

    from theta.cli.config import GPT_KEYS, TrainConfig, resolve
    from theta.models import GPTConfig

    assert set(GPT_KEYS) == {f.name for f in fields(GPTConfig)} - {"vocab_size", "dropout"}
    assert all(getattr(TrainConfig(), key) == getattr(GPTConfig(), key) for key in GPT_KEYS)
    config = resolve({"model": "gpt", "n_layer": 2, "bias": False, "dropout": 0.1})
    assert config.gpt_config(65) == GPTConfig(65, n_layer=2, dropout=0.1, bias=False)
    result = theta_cli("train", "--model", "gpt", "--no-bias", "--n-layer", "2", "--dry-run")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["bias"] is False and resolved["n_layer"] == 2 and resolved["model"] == "gpt"


def test_epochs_given_over_a_preset_that_counts_steps_are_what_the_run_counts(theta_cli):
    """The line and GPT presets count steps; --epochs alone must not be silently ignored."""
    for args, steps, epochs in ((("--epochs", "3"), 0, 3),
                                (("--epochs", "3", "--steps", "50"), 50, 3),
                                ((), 1000, 20)):  # fmt: skip
        result = theta_cli("train", "--data", "line", *args, "--dry-run")
        assert result.returncode == 0, result.stderr
        config = json.loads(result.stdout)
        assert (config["steps"], config["epochs"]) == (steps, epochs)
