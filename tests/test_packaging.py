"""What a built wheel says about theta: one version, the type-hint marker, honest extras."""

import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import theta

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built (offline) from a copy of the checkout whose ``__version__`` is changed."""
    pytest.importorskip("setuptools")
    tree = tmp_path_factory.mktemp("checkout")
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copy(ROOT / "README.md", tree)
    for folder in ("src", "benchmarks"):  # the wheel ships benchmarks/ as theta_benchmarks
        shutil.copytree(ROOT / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    init = tree / "src" / "theta" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{theta.__version__}"', '"9.8.7"'))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tree / "dist"), str(tree)],
        check=True, capture_output=True, cwd=tree,
    )  # fmt: skip
    (path,) = (tree / "dist").glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.namelist(), archive.read(metadata).decode()


def test_the_version_is_written_once_in_theta_and_read_by_the_build(wheel):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    _, metadata = wheel
    assert "Version: 9.8.7" in metadata.splitlines()  # changed in theta/__init__.py only
    assert importlib.metadata.version("theta-ml") == theta.__version__


def test_the_wheel_ships_py_typed(wheel):
    names, _ = wheel
    assert "theta/py.typed" in names


def test_no_extra_pulls_a_package_theta_never_imports(wheel):
    _, metadata = wheel
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    tokenizers = [line for line in requires if line.startswith("Requires-Dist: tokenizers")]
    assert tokenizers == ['Requires-Dist: tokenizers>=0.15; extra == "test"']  # an oracle only
    assert "Provides-Extra: text" in metadata.splitlines()  # `theta-ml[text]` still installs
