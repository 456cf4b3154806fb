"""Fixtures shared by the whole test suite."""

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A freshly seeded generator, so every test draws the same numbers on every run."""
    return np.random.default_rng(0)


def _run_theta(*args: str, cwd=None, stdin: str | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "theta", *args], capture_output=True, text=True, cwd=cwd,
        input=stdin, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="session")
def theta_cli() -> Callable[..., subprocess.CompletedProcess]:
    """The command as a user runs it, in a child process: ``theta_cli("train", "--data",
    "iris", cwd=tmp_path)`` runs ``python -m theta train --data iris`` and returns the
    CompletedProcess (exit code, stdout and stderr as text)."""
    return _run_theta


@pytest.fixture
def theta_main(capsys) -> Callable[..., tuple[int, str, str]]:
    """The command in this process (no interpreter start-up): ``theta_main("report", run)``
    returns the exit code (argparse's usage errors included) and the captured stdout, stderr."""
    from theta.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
