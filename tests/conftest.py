"""Fixtures shared by the whole test suite."""

import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(params=["numpy", "numba"])
def kernel_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once on NumPy and once on the compiled kernels (``theta.kernels``)."""
    import theta.kernels

    with theta.kernels.use_backend(request.param):
        yield request.param


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


# --- the suite's own hygiene -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
# What running the suite may leave at the top of the checkout: tool caches, never test output.
_CACHES = {".pytest_cache", ".hypothesis", ".ruff_cache", "__pycache__"}
# Skips that are facts of the platform or of an oracle's own suite, not a missing install:
# with THETA_REQUIRE_ALL=1 (CI sets it) every other skip fails the test, so a tool that did not
# install, or an error turned into a skip, cannot pass unnoticed.
ALLOWED_SKIPS = (
    "long double is float64 on this platform",
    "IVF-PQ has no L1 quantiser",
)
_SKLEARN_CHECK_SKIP = re.compile(r"(pandas|polars|pyarrow|array.api|array_api)", re.I)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config._theta_root_entries = set(os.listdir(ROOT))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests write only under their temporary folders: anything new at the top of the
    checkout fails the run."""
    before = getattr(session.config, "_theta_root_entries", None)
    if before is None:
        return
    new = sorted(set(os.listdir(ROOT)) - before - _CACHES)
    if new:
        print(f"\nerror: the tests wrote {new} into the checkout; write under tmp_path instead.",
              file=sys.stderr)  # fmt: skip
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get("THETA_REQUIRE_ALL") != "1":
        return
    if hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(allowed in reason for allowed in ALLOWED_SKIPS) or _SKLEARN_CHECK_SKIP.search(reason):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped, but THETA_REQUIRE_ALL=1 requires it to run: {reason}"


# --- running as an unprivileged user --------------------------------------------------------------


@pytest.fixture
def shared_tmp_path() -> Iterator[Path]:
    """A fresh folder that any user may enter (pytest's own ``tmp_path`` is private to its
    owner), for tests that run code as another user."""
    folder = Path(tempfile.mkdtemp(prefix="theta-test-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o777)
        shutil.rmtree(folder)


@pytest.fixture
def unprivileged() -> Callable[..., Any]:
    """``unprivileged(fn, *args)`` calls ``fn(*args)`` without root's power to read and write
    any file: as root (CI is root), in a forked child that has switched to the user ``nobody``;
    otherwise in this process. Returns ``fn``'s result or raises its exception, so a test of a
    permission error runs for real on every machine instead of skipping as root."""

    def run(fn: Callable[..., Any], *args: Any) -> Any:
        if os.name != "posix" or os.geteuid() != 0:
            return fn(*args)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: drop root, run, send back the outcome, never return to pytest
            os.close(read)
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                outcome = ("ok", fn(*args))
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
                outcome = ("raised", exc)
            with os.fdopen(write, "wb") as pipe:
                pickle.dump(outcome, pipe)
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        kind, value = pickle.loads(data)
        if kind == "raised":
            raise value
        return value

    return run


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium driven by selenium, its window 1200 x 900, its console logged;
    skips (or fails, if every test is required) without Chromium, chromedriver or selenium."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install selenium)")
    if missing:
        pytest.skip("the browser tests need " + ", ".join(missing))
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_window_size(1200, 900)
    yield driver
    driver.quit()


@pytest.fixture
def full_page_screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``take(driver, name)``: a PNG of the whole page in ``$THETA_TEST_ARTIFACTS`` (default
    tmp_path/artifacts), for a person to look at; the window is 1200 x 900 again after."""

    def take(driver: Any, name: str) -> Path:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1200, min(height + 100, 8000))
        artifacts = Path(os.environ.get("THETA_TEST_ARTIFACTS", tmp_path / "artifacts"))
        artifacts.mkdir(parents=True, exist_ok=True)
        screenshot = artifacts / name
        assert driver.save_screenshot(str(screenshot))
        driver.set_window_size(1200, 900)
        print(f"screenshot: {screenshot}")
        return screenshot

    return take
