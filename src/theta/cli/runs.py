"""Run folders: what ``theta train`` leaves behind, and what ``theta predict`` reads back.

Every run folder (``theta train``, ``rl``, ``tune``) starts with a stamp, ``run.json``: the
kind of run, its status (``running``, ``done``, ``interrupted``, ``failed``), the theta
version, when it started and ended, and the machine. ``--overwrite`` replaces only a
stamped folder holding nothing but what theta writes; a failed run is replaced without it;
``--resume`` continues a stamped run of the same kind.

A run folder also holds the resolved config (``config.json``), the per-epoch metrics
(``metrics.csv``), the trained model (``model/``, see :mod:`theta.io`), the feature scaling
(``preprocessing.safetensors``), a resumable checkpoint (``checkpoint.safetensors``),
pictures (``loss_curve.png`` and more, with the ``plot`` extra; see :mod:`theta.cli.pictures`)
and a summary (``summary.json``). Every file is written atomically.

A GPT run (``--model gpt``) keeps the same layout, with the character vocabulary
(``tokenizer.json``) in place of the feature scaling, and ``metrics.csv`` holding the
validation loss every ``eval_every`` steps; ``theta generate`` samples from it.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import functools
import io as _io
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from theta import __version__, data, io
from theta.autograd import no_grad, tensor
from theta.cli import pictures
from theta.cli.config import ConfigError, TrainConfig
from theta.errors import DivergenceError
from theta.losses import get_loss
from theta.models import GPT, CharTokenizer, gpt_windows, train_gpt
from theta.nn import MLP, Linear, Module
from theta.plot import loss_curve
from theta.tensorfile import (
    atomic_write_text,
    read_tensors,
    remove_folder,
    remove_stale_temporaries,
    temporary_base,
    write_tensors,
)
from theta.train import Callback, History, ModelCheckpoint, fit
from theta.train.callbacks import EvaluateEvery

__all__ = ["Plan", "Run", "check_run_dir", "claim_run_dir", "load_gpt_run", "load_run",
           "load_table", "mark_run", "prepare_run", "read_stamp", "run_status", "train_run",
           "was_killed", "write_stamp"]  # fmt: skip

TOKENIZER_FORMAT = "theta.char_tokenizer"
STAMP = "run.json"
STAMP_FORMAT = "theta.run"
# Everything theta writes in a run folder (train, gpt, rl, tune, report, the checkpoint's
# companions); an entry not matching is the user's, and --overwrite refuses to delete it.
_THETA_ENTRY = re.compile(
    r"(run\.json|config\.json|summary\.json|metrics\.csv|returns\.csv|results\.csv|"
    r"tokenizer\.json|preprocessing\.safetensors|checkpoint\..+|"
    r"report\.html|model|agent|[\w-]+\.png)"
)


@dataclass
class Run:
    """A trained model with what it needs to predict: scaling and the names of its outputs."""

    path: Path
    model: Module
    mean: np.ndarray
    scale: np.ndarray
    task: str
    target_names: list[str]

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def predict(self, X: np.ndarray) -> list[str]:
        """Predictions for rows of ``X`` as printable strings (class names or numbers)."""
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the model in {self.path} is expecting "
                f"{self.n_features} features as input."
            )
        dtype = next(self.model.parameters()).dtype
        self.model.eval()
        with no_grad():  # inference: the forward pass alone
            out = self.model(tensor(((X - self.mean) / self.scale).astype(dtype))).numpy()
        if self.task == "classification":
            if out.shape[1] != len(self.target_names):
                raise ValueError(
                    f"{self.path / 'preprocessing.safetensors'}: lists "
                    f"{len(self.target_names)} class names, but the model has {out.shape[1]} "
                    "outputs; the run folder is damaged"
                )
            return [self.target_names[i] for i in out.argmax(axis=1)]
        return [f"{v:.6g}" for v in out[:, 0]]


def load_table(name: str, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    """A data set's features, targets, task and class names (text corpora are refused).

    A generated data set is drawn with ``seed``, so a run and its report see the same points.
    """
    generated = data.dataset_info(name).generated
    loaded = data.load_dataset(name, random_state=seed) if generated else data.load_dataset(name)
    if isinstance(loaded, str):
        raise ValueError(
            f"data set {name!r} is a text corpus; train a language model on it with --model gpt."
        )
    X, y = (loaded.X, loaded.y) if isinstance(loaded, data.ArrayDataset) else loaded
    task = "classification" if np.asarray(y).dtype.kind in "iub" else "regression"
    names = list(getattr(loaded, "target_names", None) or [])
    if task == "classification" and not names:
        names = [str(c) for c in range(int(np.max(y)) + 1)]
    return np.asarray(X, dtype=np.float64), np.asarray(y), task, names


def _build_model(config: TrainConfig, n_in: int, n_out: int) -> Module:
    if config.model == "linear":
        return Linear(n_in, n_out, rng=config.seed)
    sizes = (n_in, *config.hidden, n_out)
    return MLP(sizes, activation=config.activation, dropout=config.dropout, rng=config.seed)


@dataclass
class Plan:
    """A run built and checked before its folder is touched (see :func:`prepare_run`).

    ``train`` is the library call that trains ``model`` (``fit`` or ``train_gpt`` with the
    config's values), given ``callbacks`` (the run's ``ModelCheckpoint`` among them),
    ``progress`` and ``resume``; ``files`` (name to text) are written beside ``config.json``
    when training begins; ``finish(run_dir, history, seconds)`` writes what was learned and
    returns the result's one-line description and whether pictures were drawn.
    """

    config: TrainConfig
    model: Module
    train: Callable[..., History]
    files: dict[str, str]
    finish: Callable[[Path, History, float], tuple[str, bool]]


def prepare_run(config: TrainConfig, *, model: Module | None = None) -> Plan:
    """Load the data, build the model and check the loss on it: everything ``theta train``
    does before its first step, so a dry run and a real run refuse the same configs, and a
    refused run leaves no folder behind. ``model`` replaces the one ``config`` describes."""
    if config.model == "gpt":
        return _prepare_gpt(config)
    return _prepare_table(config, model)


def _prepare_table(config: TrainConfig, model: Module | None) -> Plan:
    X, y, task, target_names = load_table(config.data, seed=config.seed)
    if config.val_split > 0:
        X, X_val, y, y_val = data.train_val_split(X, y, val_fraction=config.val_split,
                                                  rng=config.seed)  # fmt: skip
        validation = (X_val, y_val)
    else:
        validation = None
    mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    if config.standardize:
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0  # a constant feature stays 0 rather than becoming NaN
    n_out = len(target_names) if task == "classification" else 1

    def scaled(X_: np.ndarray) -> np.ndarray:
        return (X_ - mean) / scale

    def target(y_: np.ndarray) -> np.ndarray:
        return y_ if task == "classification" else y_.reshape(-1, 1)

    if model is None:
        model = _build_model(config, X.shape[1], n_out)
    loss = config.loss_for(task)
    _check_loss(model, loss, scaled(X[:2]), target(y[:2]), config.data)
    start = [p.data.copy() for p in model.parameters()]
    two_parameters = model.n_parameters() == 2  # the chapter's w and b: draw their walk
    train = functools.partial(
        fit, model, scaled(X), target(y), loss=loss, optimizer=config.optimizer, lr=config.lr,
        steps=config.steps or None, epochs=None if config.steps else config.epochs,
        batch_size=config.batch_size or None, seed=config.seed,
        validation_data=None if validation is None else (scaled(validation[0]),
                                                         target(validation[1])),
        metrics=["accuracy"] if task == "classification" else ["r2"],
        record_params=two_parameters,
    )  # fmt: skip

    def finish(run_dir: Path, history: History, seconds: float) -> tuple[str, bool]:
        io.save(model, run_dir / "model", overwrite=True)
        write_tensors(run_dir / "preprocessing.safetensors", {"mean": mean, "scale": scale},
                      {"task": task, "target_names": json.dumps(target_names)})  # fmt: skip
        _write_metrics(run_dir / "metrics.csv", history)
        final = {k: v[-1] for k, v in history.epochs.items()}
        summary = {"data": config.data, "task": task, "steps": history.n_steps,
                   "seconds": round(seconds, 3), "n_parameters": model.n_parameters(),
                   "final": final, "stopped_reason": history.stopped_reason}  # fmt: skip
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        trained = Run(run_dir, model, mean, scale, task, target_names)
        drawn = pictures.table_pictures(run_dir, history, trained, train=(X, y),
                                        validation=validation, loss=loss,
                                        start=start)  # fmt: skip
        shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
        return f"trained {config.model} on {config.data}: {history.n_steps} steps, {shown}", drawn

    return Plan(config, model, train, {}, finish)


def _check_loss(model: Module, loss: str, X: np.ndarray, y: np.ndarray, data_name: str) -> None:
    """Refuse an unknown loss, or one the model's output cannot feed, before any step."""
    try:
        loss_fn = get_loss(loss)
    except ValueError as exc:
        raise ConfigError(f"config key 'loss': {exc}") from None
    dtype = next(model.parameters()).dtype
    was_training = model.training
    model.eval()  # no dropout draw: the run's random streams stay untouched
    try:
        with no_grad():
            loss_fn(model(tensor(X.astype(dtype))), y)
    except (ValueError, TypeError, IndexError) as exc:
        raise ConfigError(
            f"config key 'loss': {loss!r} does not fit this model's output on {data_name} ({exc})"
        ) from None
    finally:
        model.train(was_training)


class _Begun(Callback):
    """Writes ``config.json`` (and the plan's files) when the loop begins: after a resumed
    checkpoint has loaded, so a refused resume leaves the folder as it was; keeps the trainer
    so an interrupted or diverged run can still write what it learned."""

    def __init__(self, run_dir: Path, plan: Plan) -> None:
        self.run_dir, self.plan = run_dir, plan
        self.trainer: Any = None

    def on_train_begin(self, trainer: Any) -> None:
        self.trainer = trainer
        config = json.dumps(self.plan.config.to_dict(), indent=2) + "\n"
        atomic_write_text(self.run_dir / "config.json", config)
        for name, text in self.plan.files.items():
            atomic_write_text(self.run_dir / name, text)


def train_run(plan: Plan, run_dir: Path, *, resume: bool, quiet: bool, out: TextIO | None,
              callbacks: Sequence[Callback] = ()) -> History:  # fmt: skip
    """Train as ``plan`` says and write the run folder; return the history.

    ``callbacks`` go to ``fit``. With ``out=None`` nothing is printed. A run stopped by
    Ctrl-C or by divergence still writes its model (the last completed step, or the last
    good one), metrics, summary and pictures before the exception goes on; Ctrl-C's says
    where the checkpoint is and how to resume.
    """
    begun = _Begun(run_dir, plan)
    saver = ModelCheckpoint(str(run_dir / "checkpoint.safetensors"),
                            every_n_steps=plan.config.checkpoint_every)  # fmt: skip
    started = time.perf_counter()
    try:
        history = plan.train(callbacks=[begun, *callbacks, saver],
                             progress=None if not quiet else False, resume=resume)  # fmt: skip
    except (DivergenceError, KeyboardInterrupt) as exc:
        if begun.trainer is None:  # stopped before the loop began: nothing was learned
            raise
        plan.finish(run_dir, begun.trainer.history, time.perf_counter() - started)
        if isinstance(exc, DivergenceError):
            raise DivergenceError(f"{exc} They are saved in {run_dir / 'model'}.") from None
        raise KeyboardInterrupt(_interrupted(run_dir, begun.trainer.step_count)) from None
    headline, drawn = plan.finish(run_dir, history, time.perf_counter() - started)
    if out is not None:
        print(headline, file=out)
        print(saved_note(run_dir, drawn), file=out)
    return history


def _interrupted(run_dir: Path, step: int) -> str:
    """What Ctrl-C left: the step reached, the checkpoint, the model and the resume command."""
    return (
        f"interrupted at step {step}; checkpoint saved to {run_dir / 'checkpoint.safetensors'} "
        f"and the model trained so far to {run_dir / 'model'} (predict, generate and report "
        f"work on it); resume with: theta train --out {shlex.quote(str(run_dir))} --resume"
    )


def saved_note(run_dir: Path, drawn: bool) -> str:
    """The last line of a training command: where the run is, and how to get its pictures."""
    return f"run saved to {run_dir}" + ("" if drawn else " (pip install 'theta-ml[plot]' "
                                        "for its pictures)")  # fmt: skip


def _write_metrics(path: Path, history: History) -> None:
    keys = list(history.epochs)
    buffer = _io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", *keys])
    for i in range(len(history.epochs[keys[0]]) if keys else 0):
        writer.writerow([i + 1, *(f"{history.epochs[k][i]:.8g}" for k in keys)])
    atomic_write_text(path, buffer.getvalue())


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as a Path; FileNotFoundError naming it when there is no such folder."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run folder not found: {path}")
    return path


# --- run folders: the stamp, claiming, replacing ------------------------------------------------


def write_stamp(run_dir: Path, kind: str, status: str, *, started: str | None = None) -> None:
    """Write ``run_dir/run.json``: the mark that theta made this folder, and its status.

    It also says when the run started (``started``, default now) and, once it is no longer
    running, when it ended, and on what: the machine, Python and NumPy (never the host's
    name: a report is made to be shared).
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    stamp = {"format": STAMP_FORMAT, "kind": kind, "status": status, "theta_version": __version__,
             "started": started or now, "machine": _machine(),
             "python": platform.python_version(), "numpy": np.__version__}  # fmt: skip
    if status != "running":
        stamp["ended"] = now
    else:  # who runs it: a run whose process is gone was killed (SIGKILL, power loss)
        stamp["process"] = _this_process()
    atomic_write_text(run_dir / STAMP, json.dumps(stamp, indent=2) + "\n")


def _this_process() -> dict[str, Any]:
    """The running process as the stamp records it: its pid, and on Linux the boot and the
    process' start time, so a later reader can tell a recycled pid from the run's own."""
    process: dict[str, Any] = {"pid": os.getpid()}
    with contextlib.suppress(OSError, ValueError, IndexError):
        process["boot"] = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        process["start"] = _start_ticks(os.getpid())
    return process


def _start_ticks(pid: int) -> int:
    """When process ``pid`` started, in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[19])  # fields after the command's name


def was_killed(stamp: dict[str, Any]) -> bool:
    """Whether a run stamped ``running`` lost its process on this machine (killed, or the
    machine restarted). False whenever that cannot be known: a stamp of another machine or
    boot, of an older theta, or where ``/proc`` is missing."""
    process = stamp.get("process")
    if stamp.get("status") != "running" or not isinstance(process, dict):
        return False
    pid, boot, start = process.get("pid"), process.get("boot"), process.get("start")
    if not (isinstance(pid, int) and isinstance(boot, str) and isinstance(start, int)):
        return False
    try:
        if Path("/proc/sys/kernel/random/boot_id").read_text().strip() != boot:
            return False  # another boot or machine: nothing here can say
        return _start_ticks(pid) != start  # the pid now belongs to another process
    except FileNotFoundError:
        return True  # no such process
    except (OSError, ValueError, IndexError):
        return False


def _machine() -> str:
    """The operating system, processor and CPU count, e.g. ``Linux x86_64, AMD EPYC 7B13, 16
    CPUs``."""
    processor = platform.processor()
    with contextlib.suppress(OSError):  # Linux names the processor only in /proc/cpuinfo
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                processor = line.partition(":")[2].strip()
                break
    parts = [f"{platform.system()} {platform.machine()}".strip(), processor,
             f"{os.cpu_count() or '?'} CPUs"]  # fmt: skip
    return ", ".join(part for part in parts if part)


def read_stamp(run_dir: Path) -> dict[str, Any] | None:
    """The stamp of a run folder; None when it has none (or a damaged one: not theta's)."""
    try:
        stamp = json.loads((run_dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("format") != STAMP_FORMAT:
        return None
    return stamp


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def mark_run(run_dir: Path, status: str) -> None:
    """Set the status in ``run_dir``'s stamp (``done``, ``interrupted``, ``failed``)."""
    stamp = read_stamp(run_dir)
    if stamp is not None:
        write_stamp(run_dir, stamp["kind"], status, started=_text_or_none(stamp.get("started")))


@contextlib.contextmanager
def run_status(run_dir: Path) -> Iterator[None]:
    """Mark the run ``done`` when the body ends, ``interrupted`` on Ctrl-C and ``failed`` on
    any error, so a rerun knows what it finds (a failed run is replaced without
    ``--overwrite``)."""
    try:
        yield
    except KeyboardInterrupt:
        mark_run(run_dir, "interrupted")
        raise
    except BaseException:
        mark_run(run_dir, "failed")
        raise
    mark_run(run_dir, "done")


def claim_run_dir(run_dir: str | Path, *, overwrite: bool, resume: bool | None = None,
                  kind: str = "run") -> Path:  # fmt: skip
    """Make ``run_dir`` the folder of a new (or resumed) run of ``kind``, stamped ``running``.

    A missing or empty folder is taken. A folder theta stamped is continued with ``resume``
    (for resumable runs, where ``resume`` is not None) when it holds a run of the same kind,
    and replaced with ``overwrite``, or without it when that run failed (said on stderr);
    replacing refuses a folder holding anything theta does not write, and moves the old
    folder aside in one rename before deleting it. Anything else raises FileExistsError and
    changes nothing. Call it after every check of the run has passed.
    """
    path = Path(run_dir)
    remove_stale_temporaries(path)  # what a killed replace of this run left beside it
    if os.path.lexists(path) and (not path.is_dir() or path.is_symlink() or any(path.iterdir())):
        stamp = read_stamp(path) if path.is_dir() and not path.is_symlink() else None
        if stamp is None:
            raise FileExistsError(
                f"{path} already exists and is not a run folder theta wrote (it has no "
                f"{STAMP}); choose another --out, or move it away yourself"
            )
        if resume and stamp.get("kind") != kind:
            raise FileExistsError(
                f"run folder {path} holds a {stamp.get('kind')!r} run; --resume continues "
                f"only a {kind!r} run"
            )
        if resume:  # the same run goes on: it keeps the date it started
            write_stamp(path, kind, "running", started=_text_or_none(stamp.get("started")))
            return path
        failed = stamp.get("status") == "failed"
        if not (overwrite or failed):
            hint = "" if resume is None else " or --resume to continue it"
            killed = (f" and holds a run that was killed (its process "
                      f"{stamp['process']['pid']} is gone)" if was_killed(stamp) else "")
            raise FileExistsError(
                f"run folder {path} already exists{killed}; pass --overwrite to replace it{hint}"
            )
        _check_only_theta(path)
        if not overwrite:
            print(f"theta: replacing the failed run in {path}", file=sys.stderr)
        _remove_run(path)
    path.mkdir(parents=True, exist_ok=True)
    write_stamp(path, kind, "running")
    return path


def _check_only_theta(path: Path) -> None:
    foreign = []
    for entry in sorted(os.listdir(path)):
        name = temporary_base(entry) or entry  # an atomic write's temporary of one of them
        if not _THETA_ENTRY.fullmatch(name) or os.path.islink(path / entry):
            foreign.append(entry)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise FileExistsError(
            f"run folder {path} holds files theta did not write ({shown}); replacing it would "
            "delete them, so move them or choose another --out"
        )


def _remove_run(path: Path) -> None:
    """Move the run aside in one rename (``path`` is then absent, never half-deleted), then
    delete it."""
    remove_folder(path)


def load_run(run_dir: str | Path, *, check_finite: bool = False) -> Run:
    """Read a run folder written by ``theta train`` in a fresh process; NaN or infinite
    weights warn, or raise with ``check_finite``."""
    path = check_run_dir(run_dir)
    if (path / "tokenizer.json").is_file():
        raise ValueError(
            f"{path} holds a GPT language model; sample from it with "
            f"`theta generate {path} --prompt TEXT`."
        )
    model = io.load(path / "model", check_finite=check_finite)
    where = path / "preprocessing.safetensors"
    arrays, meta = read_tensors(where)
    missing = [key for key in ("mean", "scale") if key not in arrays]
    if missing:
        raise ValueError(
            f"{where}: missing tensor {', '.join(map(repr, missing))}; a run's feature "
            f"scaling holds 'mean' and 'scale' (got {sorted(arrays)})"
        )
    mean, scale = arrays["mean"], arrays["scale"]
    if mean.ndim != 1 or mean.shape != scale.shape:
        raise ValueError(
            f"{where}: 'mean' and 'scale' must be vectors of one length (got shapes "
            f"{mean.shape} and {scale.shape})"
        )
    task = meta.get("task", "regression")
    if task not in ("classification", "regression"):
        raise ValueError(f"{where}: task must be classification or regression (got {task!r})")
    try:
        names: Any = json.loads(meta.get("target_names", "[]"))
    except ValueError:
        names = None
    if not isinstance(names, list):
        raise ValueError(f"{where}: target_names must be a JSON list of class names")
    return Run(path, model, mean, scale, task, [str(n) for n in names])


# --- GPT runs ----------------------------------------------------------------------------------


def _load_text(name: str) -> str:
    """A text corpus by data-set name, or the contents of a ``.txt`` file."""
    path = Path(name)
    if path.suffix == ".txt" and path.is_file():
        return path.read_text(encoding="utf-8")
    loaded = data.load_dataset(name)
    if not isinstance(loaded, str):
        raise ValueError(
            f"data set {name!r} is not text; --model gpt needs a text corpus such as "
            "tinyshakespeare, or a .txt file."
        )
    return loaded


def _prepare_gpt(config: TrainConfig) -> Plan:
    """A character-level GPT run as ``config`` says (see :func:`theta.models.train_gpt`)."""
    text = _load_text(config.data)
    tokenizer = CharTokenizer.from_text(text)
    ids = tokenizer.encode(text)
    gpt_windows(ids, config.block_size, val_fraction=config.val_split)  # too short: refused now
    model = GPT(config.gpt_config(tokenizer.vocab_size), rng=config.seed)
    train = functools.partial(
        train_gpt, model, ids, steps=config.steps or None, epochs=config.epochs,
        batch_size=config.batch_size, optimizer=config.optimizer, lr=config.lr,
        val_fraction=config.val_split, eval_every=config.eval_every,
        eval_windows=config.eval_windows, seed=config.seed,
    )  # fmt: skip

    def finish(run_dir: Path, history: History, seconds: float) -> tuple[str, bool]:
        io.save(model, run_dir / "model", overwrite=True)
        rows = EvaluateEvery.rows(history)
        buffer = _io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["step", "loss", "val_loss"])
        for step, train_loss, val in rows:
            writer.writerow([step, "" if train_loss is None else f"{train_loss:.8g}", f"{val:.8g}"])
        atomic_write_text(run_dir / "metrics.csv", buffer.getvalue())
        last = rows[-1] if rows else (0, None, None)
        summary = {"data": config.data, "model": "gpt", "steps": history.n_steps,
                   "seconds": round(seconds, 3), "n_parameters": model.n_parameters(),
                   "vocab_size": tokenizer.vocab_size,
                   "final": {"loss": last[1], "val_loss": last[2]},
                   "stopped_reason": history.stopped_reason}  # fmt: skip
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
        validation = ([r[0] for r in rows], [r[2] for r in rows],
                      f"validation loss (every {config.eval_every} steps)")  # fmt: skip
        drawn = pictures.draw(loss_curve, history, run_dir / "loss_curve.png",
                              validation=validation,
                              ylabel="cross-entropy (nats per character)")  # fmt: skip
        split = int(len(ids) * (1 - config.val_split))
        drawn = drawn and pictures.attention_picture(run_dir, model, tokenizer, ids[split:])
        shown = "" if last[2] is None else f", val_loss {last[2]:.4g}"
        return (f"trained gpt ({model.n_parameters():,} parameters) on {config.data}: "
                f"{history.n_steps} steps{shown}", drawn)  # fmt: skip

    vocab = {"format": TOKENIZER_FORMAT, "chars": tokenizer.chars}
    files = {"tokenizer.json": json.dumps(vocab, ensure_ascii=False) + "\n"}
    return Plan(config, model, train, files, finish)


def load_gpt_run(run_dir: str | Path, *, check_finite: bool = False
                 ) -> tuple[GPT, CharTokenizer]:  # fmt: skip
    """The GPT and its character vocabulary from a run folder of ``theta train --model gpt``;
    NaN or infinite weights warn, or raise with ``check_finite``."""
    path = check_run_dir(run_dir)
    if not (path / "tokenizer.json").is_file():
        raise ValueError(
            f"{path} is not a GPT run (it has no tokenizer.json); train one with "
            "`theta train --model gpt`."
        )
    vocab = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    if vocab.get("format") != TOKENIZER_FORMAT or not isinstance(vocab.get("chars"), list):
        raise ValueError(f"{path / 'tokenizer.json'} is not a theta character vocabulary.")
    model = io.load(path / "model", check_finite=check_finite)
    tokenizer = CharTokenizer(vocab["chars"])
    if not isinstance(model, GPT) or model.config.vocab_size != tokenizer.vocab_size:
        raise ValueError(
            f"{path}: the model ({type(model).__name__}) does not fit the vocabulary of "
            f"{tokenizer.vocab_size} characters in tokenizer.json."
        )
    return model, tokenizer
