"""Run a search's trials: in this process, on joblib's local worker processes, or on Dask.

``run_tasks`` yields ``(index, result)`` as each task finishes, in whatever order, so callers
file results by index and the outcome never depends on the backend or on ``n_jobs``.

A worker that dies (a segfault, the kernel's out-of-memory killer) takes its tasks with it,
but never the finished ones. Locally, joblib's process pool (loky) breaks as a whole, so no
one knows which of the running tasks was the culprit: each of them is run again alone, and a
task whose worker dies while it runs alone more than ``max_retries`` times is reported failed
as :class:`WorkerDied`; every other task still gets its result. On Dask the scheduler itself
knows which task was running on the dead worker (it retries it on others, then raises
``KilledWorker``); that task is resubmitted ``max_retries`` times before it is reported.

A ``timeout`` bounds each task's seconds. In a process's main thread (this process, or a
local worker) a ``SIGALRM`` timer stops the task the moment it is due, even in
``time.sleep`` or a blocking read, and the task is reported as :class:`TimedOut`. A task
that ignores the timer (stuck in C code that never returns to Python) is stopped by killing
the local workers at ``2 * timeout + 2`` seconds; the other tasks that were running are run
again. On Dask the timer cannot run (tasks run in worker threads): a task still running
``timeout`` seconds after a worker thread began to run it (not while it waited for one) is
cancelled and reported, and its thread runs on until the task ends (a thread cannot be
killed) while the search goes on.

Stopping a search (Ctrl-C, an exception, closing the iterator) kills the local workers that
are still running tasks, so no process outlives it; a local worker whose parent process dies
(``SIGKILL``) exits within a second.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from theta.estimators.sharded import dask_client
from theta.progress import progress_bar
from theta.validation import Interval, Options, check_param

__all__ = ["TimedOut", "WorkerDied", "check_backend", "effective_n_jobs", "run_tasks"]

BACKENDS = ("loky", "dask")


class WorkerDied:
    """The result of a task whose worker process died every time it ran (not an exception:
    it is a finished, failed trial)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"WorkerDied({self.message!r})"


class TimedOut:
    """The result of a task stopped at its ``timeout`` (a finished, failed trial)."""

    def __init__(self, timeout: float) -> None:
        self.message = f"timed out after {timeout:g} s"

    def __repr__(self) -> str:
        return f"TimedOut({self.message!r})"


class _Expired(BaseException):
    """Raised by the ``SIGALRM`` handler inside a task; a ``BaseException``, so that the
    trial's own ``except Exception`` does not record it as an ordinary error."""


def _expire(signum: int, frame: Any) -> None:
    raise _Expired


def can_stop_here() -> bool:
    """Whether a ``timeout`` can stop a task in this thread (POSIX, main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def call_with_timeout(
    fn: Callable[[Any, Any], Any], shared: Any, task: Any, timeout: float | None
) -> Any:
    """``fn(shared, task)``, or :class:`TimedOut` if it is still running after ``timeout``
    seconds (enforced only where :func:`can_stop_here`; elsewhere it runs to the end)."""
    if timeout is None or not can_stop_here():
        return fn(shared, task)
    previous = signal.signal(signal.SIGALRM, _expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return fn(shared, task)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:
        return TimedOut(timeout)
    finally:
        signal.signal(signal.SIGALRM, previous)


_SECONDS = Interval(numbers.Real, 0, math.inf, closed="neither")
_N_JOBS = [Interval(numbers.Integral, 1, None), Interval(numbers.Integral, None, -1), None]


def check_timeout(timeout: Any, caller: object | None = None) -> None:
    """Refuse a ``timeout`` that is not None or a positive number of seconds per trial."""
    check_param(timeout, "timeout", [_SECONDS, None], caller=caller)


def check_backend(backend: str, n_jobs: Any, scheduler: Any, caller: object | None = None) -> None:
    """Refuse an unknown backend, a bad ``n_jobs`` or scheduler, before any trial runs.

    ``n_jobs`` is joblib's: a positive count, or -1 for every core (-2 all but one, ...).
    """
    check_param(backend, "backend", Options(BACKENDS), caller=caller)
    check_param(n_jobs, "n_jobs", _N_JOBS, caller=caller)
    if (
        scheduler is not None
        and not isinstance(scheduler, str)
        and not hasattr(scheduler, "submit")
    ):
        raise TypeError(
            "scheduler must be an address such as 'tcp://127.0.0.1:8786' or a "
            f"distributed.Client; got {scheduler!r}."
        )
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler={scheduler!r} needs backend='dask' (got {backend!r}).")


def effective_n_jobs(n_jobs: int | None) -> int:
    """``None`` → 1; ``-1`` → every core; ``-2`` → all but one; like joblib."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def run_tasks(
    fn: Callable[[Any, Any], Any],
    shared: Any,
    tasks: Sequence[Any],
    *,
    n_jobs: int | None = None,
    backend: str = "loky",
    scheduler: Any = None,
    max_retries: int = 1,
    timeout: float | None = None,
    progress: bool | None = None,
    desc: str = "trials",
) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn(shared, tasks[i]))`` for every task, as each finishes.

    Parameters
    ----------
    fn : callable
        A module-level function (so it pickles), called as ``fn(shared, task)``.
    shared : object
        What every task needs (estimator, data); shipped with every task to local workers,
        once to the Dask scheduler (workers then fetch it from each other).
    tasks : sequence
    n_jobs : int, optional
        Worker processes for ``backend="loky"``; ``None`` or 1 runs here, in order.
    backend : {"loky", "dask"}
    scheduler : str or distributed.Client, optional
        The Dask scheduler's address; default: the current ``distributed`` client.
    max_retries : int, default=1
        Extra runs of a task whose worker died, before it is reported as ``WorkerDied``.
    timeout : float, optional
        Seconds a task may run before it is stopped and reported as :class:`TimedOut`
        (see the module's notes for how each backend enforces it).
    progress : bool, optional
        A progress bar over the tasks (default: only when stderr is a terminal).

    Raises
    ------
    Exception
        Whatever ``fn`` raises (callers catch trial errors inside ``fn``; what escapes is
        meant to stop the search, e.g. ``error_score="raise"``).
    """
    bar = progress_bar(len(tasks), unit="fit", enabled=progress) if tasks else None
    if bar is not None:
        bar.set_description(desc)
    if backend == "dask":
        runner = _run_dask(fn, shared, tasks, scheduler, max_retries, timeout)
    elif effective_n_jobs(n_jobs) == 1:
        runner = ((i, call_with_timeout(fn, shared, task, timeout)) for i, task in enumerate(tasks))
    else:
        runner = _run_loky(fn, shared, tasks, effective_n_jobs(n_jobs), max_retries, timeout)
    try:
        for item in runner:
            if bar is not None:
                bar.update()
            yield item
    finally:
        runner.close()
        if bar is not None:
            bar.close()


def _died(exc: BaseException) -> str:
    codes = re.search(r"exit codes of the workers are \{([^}]*)\}", str(exc))
    detail = f"exit code {codes.group(1)}" if codes else type(exc).__name__
    return f"worker process died ({detail})"


def _exit_with_parent(parent: int) -> None:
    """Run in each local worker: exit as soon as ``parent`` (the search's process) is gone,
    even mid-task, so a killed search leaves no worker behind."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="theta-parent-watch", daemon=True).start()


def _ready() -> int:
    return os.getpid()


def _run_loky(
    fn: Callable,
    shared: Any,
    tasks: Sequence[Any],
    n_jobs: int,
    max_retries: int,
    timeout: float | None,
) -> Iterator[tuple[int, Any]]:
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    try:
        from joblib.externals.loky import get_reusable_executor
    except ImportError:
        raise ImportError(
            "n_jobs > 1 runs trials on joblib's worker processes: pip install joblib "
            "(or pip install 'theta-ml[dask]', which includes it)"
        ) from None

    # each worker's BLAS gets its share of the cores, as joblib.Parallel arranges
    threads = str(max(1, (os.cpu_count() or 1) // n_jobs))
    env = {k: threads for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    pending, suspects = deque(range(len(tasks))), deque()  # suspects run one at a time
    deaths: dict[int, int] = {}
    running: dict[Any, int] = {}
    # a task that ignores its in-worker timer is killed with its worker at this deadline
    deadlines: dict[Any, float] = {}
    backstop = None if timeout is None else 2 * timeout + 2
    alone = False  # True while a single suspect runs: a crash is then its own doing
    executor, warmed = None, None
    try:
        while pending or suspects or running:
            executor = get_reusable_executor(
                max_workers=n_jobs,
                env=env,
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
            if backstop is not None and executor is not warmed:
                # start the workers (and their imports) before any task's clock starts
                wait([executor.submit(_ready) for _ in range(n_jobs)])
                warmed = executor
            submitted = []
            if suspects and not running:
                i = suspects.popleft()
                submitted.append(executor.submit(call_with_timeout, fn, shared, tasks[i], timeout))
                running[submitted[-1]] = i
                alone = True
            elif not suspects:
                while pending and len(running) < n_jobs:
                    i = pending.popleft()
                    future = executor.submit(call_with_timeout, fn, shared, tasks[i], timeout)
                    running[future] = i
                    submitted.append(future)
                alone = False
            if backstop is not None:
                deadlines.update((f, time.monotonic() + backstop) for f in submitted)
                left = max(0.0, min(deadlines[f] for f in running) - time.monotonic())
            done, _ = wait(running, timeout=None if backstop is None else left,
                           return_when=FIRST_COMPLETED)  # fmt: skip
            overdue = [
                f for f in running if f not in done and deadlines.get(f, 1e300) <= time.monotonic()
            ]
            if overdue:
                # the worker of a task stuck past its timer is killed, with its pool; the
                # other tasks that were running start again on new workers
                for future in running:
                    if future not in done and future not in overdue:
                        pending.appendleft(running[future])
                stuck = [running[f] for f in overdue]
                running = {f: i for f, i in running.items() if f in done}
                executor.shutdown(wait=True, kill_workers=True)
                for i in stuck:
                    yield i, TimedOut(timeout)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                done, _ = wait(running)  # the pool is broken: every running task ends now
            for future in sorted(done, key=running.__getitem__):
                i = running.pop(future)
                deadlines.pop(future, None)
                exc = future.exception()
                if exc is None:
                    yield i, future.result()
                elif not isinstance(exc, BrokenProcessPool):
                    raise exc
                elif not alone:
                    suspects.append(i)
                else:
                    deaths[i] = deaths.get(i, 0) + 1
                    if deaths[i] > max_retries:
                        yield i, WorkerDied(_died(exc))
                    else:
                        suspects.appendleft(i)
    finally:
        for future in running:
            future.cancel()
        if executor is not None and any(not f.done() for f in running):
            # stopped (Ctrl-C, an error, the caller gave up) while tasks run: their workers
            # would run on, so they are killed now
            executor.shutdown(wait=True, kill_workers=True)


def _identity(value: Any) -> Any:
    return value


_STARTED = "theta-task-started"  # the Dask event topic of _announced


def _announced(fn: Callable, shared: Any, task: Any) -> Any:
    """``fn(shared, task)`` on a Dask worker, first telling the scheduler that it has started:
    a task assigned to a worker may wait there for a free thread, which no timeout counts."""
    from distributed import get_worker

    worker = get_worker()
    worker.log_event(_STARTED, worker.get_current_task())
    return fn(shared, task)


def _run_dask(
    fn: Callable,
    shared: Any,
    tasks: Sequence[Any],
    scheduler: Any,
    max_retries: int,
    timeout: float | None,
) -> Iterator[tuple[int, Any]]:
    from distributed import KilledWorker, wait

    client, owned = dask_client(scheduler)
    futures: dict[Any, int] = {}
    started: dict[Any, float] = {}  # task key: when its worker said it began to run it
    if timeout is not None:  # the clock starts when a thread runs the task, not while it waits
        fn = functools.partial(_announced, fn)
    try:
        # a task, not scattered data: if the workers holding it die, the scheduler rebuilds it
        remote = client.submit(_identity, shared, pure=False)
        for i, task in enumerate(tasks):
            futures[client.submit(fn, remote, task, pure=False)] = i
        deaths: dict[int, int] = {}
        while futures:
            try:  # with a timeout, wake up twice a second to look for overdue tasks
                with client.as_current():  # wait() asks for the current client; ours may not be
                    done, _ = wait(
                        list(futures), timeout=timeout and 0.5, return_when="FIRST_COMPLETED"
                    )
            except TimeoutError:
                done = set()
            if timeout is not None:
                now = time.monotonic()
                for _, key in client.get_events(_STARTED):
                    started.setdefault(key, now)
                for future in [f for f in futures if f not in done]:
                    if now - started.get(future.key, now) > timeout:
                        # a worker thread cannot be stopped: the task's result is dropped
                        # and the thread runs on until the task ends
                        future.cancel()
                        yield futures.pop(future), TimedOut(timeout)
            for future in done:
                i = futures.pop(future)
                if future.status != "error":
                    yield i, future.result()
                    continue
                exc = future.exception()
                if not isinstance(exc, KilledWorker):
                    raise exc
                deaths[i] = deaths.get(i, 0) + 1
                if deaths[i] > max_retries:
                    yield i, WorkerDied(f"worker process died (KilledWorker: {exc})")
                else:
                    futures[client.submit(fn, remote, tasks[i], pure=False)] = i
    finally:
        for future in futures:
            future.cancel()
        if owned:
            client.close()
