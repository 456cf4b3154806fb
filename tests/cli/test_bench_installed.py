"""``theta bench`` from a regular install: the wheel ships benchmarks/ as the top-level package
``theta_benchmarks`` (outside theta, whose import must never pull torch or scikit-learn), and
the command finds it there when there is no checkout beside theta."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from theta.cli import bench

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh virtual environment (seeing this one's torch and scikit-learn) with theta
    installed from a wheel, not editable; the wheel is built from a copy of the checkout so
    that no build/ folder is left in it."""
    pytest.importorskip("setuptools")
    tree = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree)
    for folder in ("src", "benchmarks"):
        shutil.copytree(ROOT / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tree / "dist"), str(tree)],
        check=True, capture_output=True, cwd=tree,
    )  # fmt: skip
    (wheel,) = (tree / "dist").glob("*.whl")
    env = tree.parent / "venv"
    # --without-pip: this interpreter's pip, seen through the system site-packages, installs
    # into the venv just as well, and seeding the venv with its own pip is the slow part
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(env)], check=True)  # fmt: skip
    subprocess.run([env / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", wheel],
                   check=True, capture_output=True, env=_outside())  # fmt: skip
    return env


def _outside() -> dict[str, str]:
    """The environment without anything that would put the checkout on ``sys.path``."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def test_the_package_list_names_every_theta_package():
    setuptools = pytest.importorskip("setuptools")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set(setuptools.find_packages(ROOT / "src")) | {"theta.data.files"}
    assert set(config["packages"]) == found | {"theta_benchmarks"}
    assert config["package-dir"]["theta_benchmarks"] == "benchmarks"


def test_bench_passes_mode_and_no_memory_through(theta_main, monkeypatch):
    commands = []
    monkeypatch.setattr(bench.subprocess, "run",
                        lambda command, check: commands.append(command) or
                        subprocess.CompletedProcess(command, 3))  # fmt: skip
    code, _, _ = theta_main("bench", "--mode", "threads", "--no-memory", "--quick")
    assert code == 3  # the suite's exit code is the command's
    (command,) = commands
    assert command[:2] == [sys.executable, str(ROOT / "benchmarks" / "run.py")]  # checkout first
    assert command[2:] == ["--quick", "--no-memory", "--mode", "threads"]


def test_bench_rejects_an_unknown_mode(theta_cli):
    result = theta_cli("bench", "--mode", "both")
    assert result.returncode == 2
    assert "invalid choice: 'both'" in result.stderr


@pytest.mark.slow
def test_import_theta_from_the_wheel_leaves_the_benchmarks_and_their_peers_alone(
    venv, tmp_path
):
    probe = (
        "import sys, theta, theta.cli\n"
        "print(sorted({'theta_benchmarks', 'torch', 'sklearn'} & set(sys.modules)))\n"
        "print(theta.__file__)\n"
        "print(theta.cli.bench.find_benchmarks())\n"
    )
    result = subprocess.run([venv / "bin" / "python", "-c", probe], capture_output=True,
                            text=True, cwd=tmp_path, env=_outside())  # fmt: skip
    assert result.returncode == 0, result.stderr
    imported, theta_file, script = result.stdout.splitlines()
    assert Path(theta_file).is_relative_to(venv) and Path(script).is_relative_to(venv)
    assert Path(script).parent.name == "theta_benchmarks"
    assert imported == "[]"


@pytest.mark.slow
def test_theta_bench_runs_from_the_wheel_outside_a_checkout(venv, tmp_path):
    result = subprocess.run(
        [venv / "bin" / "theta", "bench", "--quick", "--only", "Chapter loop", "--no-memory"],
        capture_output=True, text=True, cwd=tmp_path, env=_outside(), timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "### Chapter loop: w*x + b" in result.stdout
    assert list(tmp_path.iterdir()) == []  # a --quick run writes nothing
