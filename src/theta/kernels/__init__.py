"""Compiled loops for the work NumPy does in several passes: one fused pass per row or element.

theta's ops are written in NumPy, and NumPy stays the reference and the fallback. With the
``fast`` extra (``pip install 'theta-ml[fast]'``, which brings Numba) a few hot loops run
compiled instead: GELU's value and slope, LayerNorm, attention's masked softmax, the
optimizers' updates and KMeans' assignment. Each reads its input once instead of once per
NumPy call, and runs on ``theta.get_num_threads()`` cores, where NumPy's elementwise work runs
on one.

An op asks :func:`load` for its family of kernels and gets the compiled module, or ``None``
when theta runs on NumPy alone; it then checks what it needs (dtype, layout) and otherwise takes
its NumPy path. Kernels compile the first time they are called (about a second each, once per
machine: Numba caches them on disk), so ``import theta`` and runs that never call one do not
pay for it.

The backend comes from ``THETA_KERNELS`` (``numba``, ``numpy``, or ``auto``: Numba when it is
installed), or from :func:`set_backend`.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from theta.threads import get_num_threads

__all__ = ["available_backends", "get_backend", "load", "set_backend", "use_backend"]

FAMILIES = ("activations", "cluster", "normalization", "optim", "softmax")
_BACKENDS = ("numba", "numpy")


def available_backends() -> tuple[str, ...]:
    """The backends this installation can run: ``("numba", "numpy")`` with the ``fast``
    extra, else ``("numpy",)``.

    Examples
    --------
    >>> import theta.kernels
    >>> "numpy" in theta.kernels.available_backends()
    True
    """
    return _BACKENDS if _numba_installed() else ("numpy",)


def _numba_installed() -> bool:
    if not _installed:
        try:
            import numba  # noqa: F401
        except ImportError:
            _installed.append(False)
        else:
            _installed.append(True)
    return _installed[0]


_installed: list[bool] = []


def _resolve(name: str, source: str) -> str:
    if name == "auto":
        return "numba" if _numba_installed() else "numpy"
    if name not in _BACKENDS:
        raise ValueError(
            f"{source} must be one of 'auto', 'numba' or 'numpy' (got {name!r})."
        )
    if name == "numba" and not _numba_installed():
        raise ImportError(
            f"{source}='numba' needs Numba: install theta's fast extra "
            "(pip install 'theta-ml[fast]'), or use 'numpy'."
        )
    return name


_backend: list[str] = []  # resolved on first use, so that importing theta never imports Numba


def get_backend() -> str:
    """The backend ops use now: ``"numba"`` or ``"numpy"``.

    Examples
    --------
    >>> import theta.kernels
    >>> theta.kernels.get_backend() in theta.kernels.available_backends()
    True
    """
    if not _backend:
        _backend.append(_resolve(os.environ.get("THETA_KERNELS", "auto").strip() or "auto",
                                 "THETA_KERNELS"))
    return _backend[0]


def set_backend(name: str) -> None:
    """Run ops on ``name``: ``"numba"`` (the ``fast`` extra), ``"numpy"``, or ``"auto"``.

    Examples
    --------
    >>> import theta.kernels
    >>> before = theta.kernels.get_backend()
    >>> theta.kernels.set_backend("numpy")
    >>> theta.kernels.get_backend()
    'numpy'
    >>> theta.kernels.set_backend(before)
    """
    resolved = _resolve(name, "set_backend: name")
    _backend[:] = [resolved]


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run ops on ``name`` inside the ``with`` block, then go back (for tests and benchmarks).

    Examples
    --------
    >>> import theta, theta.kernels
    >>> with theta.kernels.use_backend("numpy"):
    ...     print(theta.nn.GELU()(theta.tensor([1.0])).round(4))
    tensor([0.8413])
    """
    before = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        _backend[:] = [before]


def _usable() -> bool:
    """Whether Numba can run a parallel loop here; if not, warn once and use NumPy."""
    from theta.kernels import _jit

    try:
        _jit.check()
    except Exception as error:  # Numba's errors for a missing threading layer vary by version
        warnings.warn(
            f"theta.kernels: Numba cannot run parallel loops here ({error}); using NumPy.",
            RuntimeWarning, stacklevel=3,
        )
        _backend[:] = ["numpy"]
        return False
    return True


_modules: dict[str, ModuleType] = {}
_threads = threading.local()  # Numba's thread count is per calling thread


def load(family: str) -> ModuleType | None:
    """The compiled kernels of ``family`` (one of :data:`FAMILIES`), or ``None`` on NumPy.

    The kernels run on ``theta.get_num_threads()`` threads of the calling thread.

    Examples
    --------
    >>> import theta.kernels
    >>> with theta.kernels.use_backend("numpy"):
    ...     print(theta.kernels.load("activations"))
    None
    """
    if get_backend() == "numpy":
        return None
    module = _modules.get(family)
    if module is None:
        if family not in FAMILIES:
            raise ValueError(f"load: family must be one of {FAMILIES} (got {family!r}).")
        if not _modules and not _usable():
            return None
        module = _modules[family] = importlib.import_module(f"theta.kernels._{family}")
    n = get_num_threads()
    if getattr(_threads, "n", None) != n:
        from theta.kernels._jit import set_threads

        set_threads(n)
        _threads.n = n
    return module
