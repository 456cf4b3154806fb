"""Help that teaches: every option of every command says its default and choices; usage
mistakes exit 2 naming the flag; ``theta train --print-config`` writes a config to edit."""

import argparse
import json
import tomllib

import pytest

from theta.cli import build_parser, command_parser
from theta.cli.argtypes import HelpFormatter, UsageError
from theta.cli.config import CHOICES, LOSSES, used_keys
from theta.data import list_datasets

PARSER = build_parser()
COMMANDS = sorted(next(a for a in PARSER._actions
                       if isinstance(a, argparse._SubParsersAction)).choices)  # fmt: skip


def _help_line(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help of ``action`` as ``--help`` prints it (the formatter's additions expanded)."""
    return parser._get_formatter()._expand_help(action)


def _options(command: str):
    parser = command_parser(PARSER, command)
    for action in parser._actions:
        if not isinstance(action, argparse._HelpAction):
            yield parser, action


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_with_its_default_and_choices(command):
    missing = []
    for parser, action in _options(command):
        name = "/".join(action.option_strings) or action.metavar or action.dest
        text = _help_line(parser, action) if action.help else ""
        if not text:
            missing.append(f"{name}: no help")
        elif (action.option_strings and action.nargs != 0 and not action.required
              and "default" not in text):
            missing.append(f"{name}: no default in {text!r}")
        if action.choices and action.metavar is not None:
            shown = text + str(action.metavar)
            missing += [f"{name}: choice {c!r} not shown" for c in action.choices
                        if str(c) not in shown]  # fmt: skip
    assert not missing, f"theta {command}: " + "; ".join(missing)


def test_formatter_adds_the_default_and_choices_hidden_by_a_metavar():
    parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
    parser.add_argument("--k", type=int, default=5, help="results")
    parser.add_argument("--mode", choices=["a", "b"], metavar="M", default="a", help="how")
    parser.add_argument("--out", help="where (default: beside the input)")
    parser.add_argument("--later", help="decided later")
    parser.add_argument("--quiet", action="store_true", help="no bar")
    text = parser.format_help()
    assert "results (default: 5)" in text
    assert "how (choices: a, b; default: a)" in text
    assert "where (default: beside the input)" in text
    assert "decided later\n" in text
    assert "no bar\n" in text


def test_train_help_shows_the_choices_of_data_model_optimizer_and_loss():
    train = command_parser(PARSER, "train")
    metavars = {a.dest: a.metavar or "" for a in train._actions}
    for name in (info.name for info in list_datasets()):
        assert name in metavars["data"]
    for key in ("model", "optimizer", "activation"):
        assert all(choice in metavars[key] for choice in CHOICES[key]), key
    for task_losses in LOSSES.values():
        assert all(loss in metavars["loss"] for loss in task_losses)


def test_train_help_says_what_batch_size_zero_means(theta_cli):
    result = theta_cli("train", "--help")
    assert result.returncode == 0
    flat = " ".join(result.stdout.split())
    assert "--batch-size N|full samples per step; 0 (--batch-size full): all of them" in flat
    assert "default: 32; 0 for data line; 12 for model gpt" in flat


def test_batch_size_full_is_zero_and_a_bad_one_names_the_flag(theta_main):
    code, out, _ = theta_main("train", "--data", "iris", "--batch-size", "full", "--dry-run")
    assert code == 0
    assert json.loads(out)["batch_size"] == 0
    code, _, err = theta_main("train", "--data", "iris", "--batch-size", "half")
    assert code == 2
    assert "argument --batch-size: must be an int" in err


@pytest.mark.parametrize("sizes", ["32,,4", "32,", ",4", "", "a,b", "1.5"])
def test_hidden_sizes_with_a_gap_or_a_bad_size_are_refused(theta_main, sizes):
    code, _, err = theta_main("train", "--data", "iris", "--hidden", sizes)
    assert code == 2
    expected = "expected sizes like 64,64: whole numbers separated by commas, none empty"
    assert f"argument --hidden: {expected} (got {sizes!r})" in err


def test_a_mistyped_flag_suggests_the_closest_one(theta_cli):
    result = theta_cli("train", "--data", "iris", "--lrr", "0.1")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: theta train")
    assert "unrecognized arguments: --lrr 0.1; did you mean '--lr'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_flag_like_no_other_gets_no_suggestion(theta_main):
    code, _, err = theta_main("train", "--frobnicate")
    assert code == 2
    assert err.rstrip().endswith("unrecognized arguments: --frobnicate")


def test_an_unknown_config_key_suggests_the_closest_one(theta_cli, tmp_path):
    (tmp_path / "run.toml").write_text('data = "iris"\nlearning_rat = 0.1\nbatch-size = 8\n')
    result = theta_cli("train", "--config", "run.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: theta train")
    assert "unknown config key 'learning_rat'" in result.stderr
    (tmp_path / "run.toml").write_text('data = "iris"\nbatch-size = 8\n')
    result = theta_cli("train", "--config", "run.toml", cwd=tmp_path)
    assert "unknown config key 'batch-size'; did you mean 'batch_size'?" in result.stderr


def test_a_usage_error_from_any_command_exits_2_with_its_usage(theta_main, monkeypatch):
    from theta.cli import datasets

    def refuse(args, out):
        raise UsageError("argument NAME: give one name, not two")

    monkeypatch.setattr(datasets, "run", refuse)
    code, out, err = theta_main("datasets")
    assert code == 2
    assert out == ""
    assert err.startswith("usage: theta datasets")
    assert err.endswith("theta: error: argument NAME: give one name, not two\n")


@pytest.mark.parametrize("flags", [
    ["--data", "iris", "--hidden", "16,8", "--lr", "0.02"],
    ["--data", "diabetes", "--model", "linear"],
    ["--model", "cnn", "--channels", "8"],
    ["--model", "gpt", "--n-layer", "1", "--n-embd", "32"],
    [],
])  # fmt: skip
def test_print_config_is_a_complete_config_for_the_model_kind(theta_main, tmp_path, flags):
    code, printed, _ = theta_main("train", *flags, "--print-config")
    assert code == 0
    values = tomllib.loads(printed)
    code, resolved, _ = theta_main("train", *flags, "--dry-run")
    expected = json.loads(resolved)
    assert tuple(values) == used_keys(expected["model"])
    assert all(values[key] == expected[key] for key in values if key != "loss")
    (tmp_path / "edit.toml").write_text(printed)
    code, again, _ = theta_main("train", "--config", tmp_path / "edit.toml", "--dry-run")
    assert code == 0
    assert {k: v for k, v in json.loads(again).items() if k != "loss"} == {
        k: v for k, v in expected.items() if k != "loss"}


def test_print_config_spells_out_the_loss_and_lists_the_choices(theta_cli):
    result = theta_cli("train", "--data", "diabetes", "--print-config")
    assert result.returncode == 0, result.stderr
    assert 'loss = "mse"' in result.stdout
    assert "# what training minimises: mse, mae, huber\n" in result.stdout
    assert "# the update rule: sgd, adam, adamw, rmsprop\n" in result.stdout
    assert "step" not in result.stdout.split("\n", 1)[0]  # no training, not the chapter's line


def test_a_prefix_of_a_flag_is_refused_with_the_flag_suggested(theta_main):
    code, out, err = theta_main("train", "--epoch", "3", "--dry-run")
    assert code == 2 and "unrecognized arguments: --epoch 3; did you mean '--epochs'?" in err
