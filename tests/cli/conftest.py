"""The ``theta`` command run as a user runs it: a child process, its exit code and streams."""

import subprocess
import sys
from collections.abc import Callable

import pytest


def _run(*args: str, cwd=None, stdin: str | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "theta", *args], capture_output=True, text=True, cwd=cwd,
        input=stdin, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="session")
def theta_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``theta_cli("train", "--data", "iris")`` runs ``python -m theta train --data iris``."""
    return _run
