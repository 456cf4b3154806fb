"""theta.kernels: choosing the backend, following the thread setting, and falling back to NumPy."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest

import theta
from theta import kernels
from theta.kernels import _jit


@pytest.fixture
def restore():
    before = kernels.get_backend()
    yield
    kernels._backend[:] = [before]  # not set_backend: a test may have hidden Numba meanwhile
    theta.set_num_threads(None)


def _run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "THETA_KERNELS"} | env
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_auto_picks_numba_when_installed_and_the_environment_can_force_numpy():
    code = "import theta.kernels as k; print(k.get_backend())"
    assert _run(code) == "numba"
    assert _run(code, THETA_KERNELS="numpy") == "numpy"
    assert _run(code, THETA_KERNELS="numba") == "numba"


def test_a_bad_environment_value_names_the_variable_and_the_choices():
    code = "import theta.kernels as k; k.get_backend()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=os.environ | {"THETA_KERNELS": "cuda"}, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "THETA_KERNELS must be one of 'auto', 'numba' or 'numpy' (got 'cuda')" in done.stderr


def test_importing_theta_and_running_the_chapter_never_import_numba():
    code = (
        "import sys, theta\n"
        "from theta.cli import main\n"
        "main(['train'])\n"
        "print('numba' in sys.modules)"
    )
    assert _run(code).splitlines()[-1] == "False"


def test_set_backend_refuses_unknown_names_and_use_backend_restores(restore):
    with pytest.raises(ValueError, match=r"got 'gpu'"):
        kernels.set_backend("gpu")
    kernels.set_backend("numba")
    with kernels.use_backend("numpy"):
        assert kernels.get_backend() == "numpy" and kernels.load("activations") is None
        with pytest.raises(RuntimeError, match="boom"), kernels.use_backend("numba"):
            raise RuntimeError("boom")
        assert kernels.get_backend() == "numpy"
    assert kernels.get_backend() == "numba"


def test_numba_missing_is_reported_with_the_extra_to_install(monkeypatch, restore):
    monkeypatch.setattr(kernels, "_installed", [False])
    assert kernels.available_backends() == ("numpy",)
    assert kernels._resolve("auto", "x") == "numpy"
    with pytest.raises(ImportError, match=r"pip install 'theta-ml\[fast\]'"):
        kernels.set_backend("numba")


def test_unknown_family_is_refused(restore):
    kernels.set_backend("numba")
    with pytest.raises(ValueError, match=r"family must be one of .* \(got 'conv'\)"):
        kernels.load("conv")


def test_no_thread_safe_layer_warns_once_and_falls_back_to_numpy(monkeypatch, restore):
    def fail() -> None:
        raise ValueError("No threading layer could be loaded.")

    kernels.set_backend("numba")
    monkeypatch.setattr(kernels, "_modules", {})
    monkeypatch.setattr(_jit, "check", fail)
    with pytest.warns(RuntimeWarning, match="cannot run parallel loops here .* using NumPy"):
        assert kernels.load("activations") is None
    assert kernels.get_backend() == "numpy"


@pytest.mark.parametrize("n", [1, 2])
def test_kernels_use_the_thread_setting_of_the_calling_thread(n, restore):
    kernels.set_backend("numba")
    theta.set_num_threads(n)
    assert kernels.load("activations") is not None
    assert numba.get_num_threads() == min(n, numba.config.NUMBA_NUM_THREADS)


def test_parallel_kernels_run_from_several_python_threads_at_once(restore):
    """Numba's pool takes one launch at a time: the launches of a prefetching loader's or a
    threaded search's threads queue, rather than crash the process."""
    kernels.set_backend("numba")
    kernels.load("activations")  # checks the layer
    x = np.arange(1_000_000, dtype=np.float64)
    expected = float(x.sum())
    results: list[float] = []

    def work() -> None:
        for _ in range(20):
            results.append(_jit._probe(x))

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == 80 and all(r == pytest.approx(expected) for r in results)
    assert numba.threading_layer() == "workqueue"  # its idle threads sleep (see _jit)
