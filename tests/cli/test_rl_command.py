"""``theta rl``: end to end in a subprocess, and its usage errors (exit 2, no traceback)."""

import csv
import json

import pytest

from theta.cli import main

pytest.importorskip("gymnasium")


def _main(argv: list[str]) -> int:
    """``theta.cli.main`` in-process, with argparse's own exits turned into return codes."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


def test_dqn_on_cartpole_end_to_end(theta_cli, tmp_path):
    out = tmp_path / "cart"
    args = (
        "rl",
        "--env",
        "CartPole-v1",
        "--agent",
        "dqn",
        "--steps",
        "600",
        "--seed",
        "1",
        "--set",
        "learning_starts=100",
        "--set",
        "hidden_sizes=[16]",
        "--eval-episodes",
        "3",
        "--out",
        str(out),
        "--quiet",
    )
    result = theta_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "trained dqn on CartPole-v1: 600 steps" in result.stdout
    assert "evaluation over 3 episodes" in result.stdout
    assert result.stderr == ""  # --quiet: no progress bar
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "returns.csv", "summary.json", "reward_curve.png", "agent",
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 600 and summary["env"] == "CartPole-v1"
    config = json.loads((out / "config.json").read_text())
    assert config["hyperparameters"]["hidden_sizes"] == [16]
    assert config["hyperparameters"]["random_state"] == 1
    rows = list(csv.reader((out / "returns.csv").read_text().splitlines()))
    assert rows[0] == ["episode", "return", "length"] and len(rows) - 1 == summary["episodes"]
    from theta import io

    agent = io.load(out / "agent")
    assert agent.predict([0.0, 0.0, 0.0, 0.0]) in (0, 1)
    again = theta_cli(*args)  # the folder exists now
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr
    assert theta_cli(*args, "--overwrite").returncode == 0


def test_render_ansi_prints_a_rollout_of_a_tabular_agent(tmp_path, capsys):
    code = main(
        [
            "rl",
            "--env",
            "CliffWalking-v1",
            "--agent",
            "q_learning",
            "--episodes",
            "300",
            "--set",
            "learning_rate=0.5",
            "--set",
            "gamma=1.0",
            "--eval-episodes",
            "1",
            "--render",
            "ansi",
            "--out",
            str(tmp_path / "cliff"),
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "rollout return -13 in 13 steps" in out
    assert "C  C  C" in out  # the cliff, drawn as text


def test_eval_watches_and_evaluates_a_saved_agent(tmp_path, capsys):
    run = tmp_path / "cliff"
    argv = ["rl", "--env", "CliffWalking-v1", "--agent", "q_learning", "--episodes", "300",
            "--set", "learning_rate=0.5", "--eval-episodes", "1", "--out", str(run), "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    before = sorted(p.name for p in run.iterdir())
    assert main(["rl", "--eval", str(run), "--episodes", "3", "--render", "ansi"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"QLearning from {run} on CliffWalking-v1: mean return -13 (std 0) "
                          "over 3 greedy episodes")  # fmt: skip
    assert "rollout return -13 in 13 steps" in out
    assert sorted(p.name for p in run.iterdir()) == before  # evaluating writes nothing


@pytest.mark.parametrize(("args", "named"), [
    (["--steps", "5"], "--steps cannot be given"),
    (["--out", "x", "--resume"], "--out, --resume cannot be given"),
])  # fmt: skip
def test_eval_refuses_training_flags(args, named, tmp_path, capsys):
    assert _main(["rl", "--eval", str(tmp_path), *args]) == 2
    assert named in capsys.readouterr().err


def test_eval_of_a_folder_without_an_agent_is_one_line(theta_cli, tmp_path):
    result = theta_cli("rl", "--eval", str(tmp_path))
    assert result.returncode == 1 and "holds no saved agent" in result.stderr
    assert "Traceback" not in result.stderr


def test_bandit_run_reports_regret(tmp_path, capsys):
    code = main(
        [
            "rl",
            "--env",
            "Bandit-v0",
            "--agent",
            "thompson",
            "--steps",
            "500",
            "--out",
            str(tmp_path / "b"),
            "--quiet",
            "--eval-episodes",
            "5",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["final_regret"] >= 0 and summary["episodes"] == 500


def test_config_file_and_dry_run(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('env = "FrozenLake-v1"\nagent = "sarsa"\nepisodes = 10\ngamma = 0.95\n')
    assert main(["rl", "--config", str(config), "--set", "epsilon=0.2", "--dry-run"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["agent"] == "sarsa" and shown["episodes"] == 10
    assert shown["hyperparameters"]["gamma"] == 0.95
    assert shown["hyperparameters"]["epsilon"] == 0.2


@pytest.mark.parametrize(
    "args, named",
    [
        (["--agent", "nosuch"], "nosuch"),
        (["--steps", "0"], "--steps"),
        (["--steps", "ten"], "--steps"),
        (["--steps", "10", "--episodes", "10"], "not allowed with"),
        (["--set", "lerning_rate=0.1"], "did you mean 'learning_rate'"),
        (["--set", "gamma=1.5"], "'gamma' parameter of DQN"),
        (["--set", "gamma"], "KEY=VALUE"),
        (["--render", "ansi"], "CartPole-v1 has no text rendering"),
        (["--env", "NoSuchEnv-v0"], "NoSuchEnv"),
        (["--render", "rgb"], "--render"),
    ],
)
def test_usage_errors_exit_2_naming_the_problem(args, named, tmp_path, capsys):
    budget = [] if "--steps" in args or "--episodes" in args else ["--steps", "10"]
    code = _main(["rl", "--out", str(tmp_path / "r"), *budget, *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args, config, sentence",
    [
        (["--steps", "0"], "", "argument --steps: must be an int in the range [1, inf). "
         "Got 0 instead."),
        (["--steps", "ten"], "", "argument --steps: must be an int in the range [1, inf). "
         "Got 'ten' instead."),
        ([], "steps = 0\n", "config key 'steps': must be an int in the range [1, inf). "
         "Got 0 instead."),
        ([], "steps = 10\nseed = -1\n", "config key 'seed': must be an int in the range "
         "[0, inf). Got -1 instead."),
        (["--steps", "10", "--set", "gamma=1.5"], "", "The 'gamma' parameter of DQN must be a "
         "float in the range (0, 1]. Got 1.5 instead."),
        (["--steps", "10", "--set", "hidden_sizes=[8, 0]"], "", "The 'hidden_sizes' parameter "
         "of DQN must be a tuple of ints in the range [1, inf). Got (8, 0) instead."),
    ],
)  # fmt: skip
def test_flags_config_keys_and_hyperparameters_share_one_sentence(
    args, config, sentence, tmp_path, capsys
):
    path = tmp_path / "run.toml"
    path.write_text(config)
    code = _main(["rl", "--config", str(path), "--dry-run", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert sentence in err


def test_unknown_config_key_names_it(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("gamma = 0.9\nbufer_size = 10\n")
    assert main(["rl", "--config", str(config), "--dry-run"]) == 2
    assert "'bufer_size'; did you mean 'buffer_size'" in capsys.readouterr().err


def test_bad_flag_in_a_subprocess_is_a_usage_error(theta_cli):
    result = theta_cli("rl", "--agent", "dqn", "--epsiodes", "5")
    assert result.returncode == 2
    assert "--epsiodes" in result.stderr and "Traceback" not in result.stderr
