"""``theta train``: with no arguments, the chapter's straight line learned by gradient descent."""

from __future__ import annotations

import argparse
import json
import shlex
import typing
from dataclasses import fields
from itertools import chain
from pathlib import Path
from typing import TextIO

import numpy as np

from theta.autograd import no_grad, tensor
from theta.cli.argtypes import batch_size, sizes
from theta.cli.config import (
    CHOICES,
    GPT_KEYS,
    HELP,
    LOSSES,
    MODEL_PRESETS,
    PRESETS,
    ConfigError,
    TrainConfig,
    load_toml,
    resolve,
    to_toml,
)
from theta.cli.runs import (
    claim_run_dir,
    load_table,
    prepare_run,
    run_status,
    saved_note,
    train_run,
)
from theta.data import dataset_info, list_datasets
from theta.losses import mse
from theta.models import CNN
from theta.nn import Linear, Module
from theta.optim import SGD
from theta.train import EpochLog, PrintSteps, fit


def chapter_example(out: TextIO) -> Linear:
    """Fit ``pred = w*x + b`` to ``y = 2x + 1`` exactly as the chapter does; return the model.

    ``fit`` runs the four steps (forward, loss, ``loss.backward()``, ``optimizer.step()``);
    ``PrintSteps`` prints the loss measured before each step's update and ``w``, ``b`` after
    it, which is the chapter's convention. float64 keeps the chapter's printed digits.
    """
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    y = 2.0 * X + 1.0  # the truth we're trying to recover
    model = _knowing_nothing()  # pred = w*x + b, with w = b = 0
    optimizer = SGD(model.parameters(), lr=0.05)  # lr is a hyperparameter
    fit(model, X, y, loss=mse, optimizer=optimizer, steps=1000, batch_size=None,
        callbacks=[_chapter_log(out)], progress=False)  # fmt: skip
    _print_learned(model, out)
    return model


def chapter_run(run_dir: Path, out: TextIO, *, resume: bool = False) -> Linear:
    """The chapter's example, written to a run folder: ``theta train --out DIR``.

    The "line" preset is the chapter's set-up (its five points, SGD with lr 0.05, 1000
    full-batch steps, no scaling), so from the chapter's start at w = b = 0 the same numbers
    are printed, and the folder keeps the config, the model (``theta predict DIR 10``), the
    loss curve and the descent path of (w, b) to (2, 1). ``run_dir`` is claimed already.
    """
    model = _knowing_nothing()
    train_run(prepare_run(resolve({}), model=model), run_dir, resume=resume, quiet=True,
              out=None, callbacks=[_chapter_log(out)])  # fmt: skip
    _print_learned(model, out)
    print(saved_note(run_dir, (run_dir / "loss_curve.png").is_file()), file=out)
    return model


def _knowing_nothing() -> Linear:
    model = Linear(1, 1, dtype=np.float64)  # float64 keeps the chapter's printed digits
    model.load_state_dict({"weight": np.zeros((1, 1)), "bias": np.zeros(1)})
    return model


def _chapter_log(out: TextIO) -> PrintSteps:
    return PrintSteps((0, 200, 999), ["weight", "bias"], names=["w", "b"], out=out)


def _print_learned(model: Linear, out: TextIO) -> None:
    w, b = model.weight.item(), model.bias.item()
    print("learned:", round(w, 3), round(b, 3), file=out)
    with no_grad():  # inference: the forward pass alone
        prediction = model(tensor([[10.0]], dtype=np.float64)).item()
    print("prediction:", round(prediction, 3), file=out)  # rounded like "learned"


# The flags' groups in --help, each with the config keys it holds (in TrainConfig's order).
_GROUPS = {
    "what to learn": ("data", "model"),
    "the model (mlp, cnn)": ("hidden", "channels", "activation", "dropout"),
    "the model (gpt)": GPT_KEYS,
    "training": ("loss", "optimizer", "lr", "epochs", "steps", "batch_size", "val_split",
                 "standardize", "seed", "checkpoint_every", "eval_every", "eval_windows"),
}  # fmt: skip


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (default: the chapter's line y = 2x + 1)",
        usage="%(prog)s [-h] [--KEY VALUE ...] [--config FILE.toml] [--print-config | --dry-run]"
        "\n       [--out DIR] [--overwrite] [--resume] [--quiet]",
        description="Train a model and write a run folder. With no arguments, fit "
        "pred = w*x + b to y = 2x + 1 by gradient descent, as in the chapter, and print the "
        "loss and parameters. Hyperparameters come from flags, or from a TOML file whose keys "
        "are the flags' names with underscores (--print-config writes one to start from); "
        "flags given beside --config replace its values.",
        epilog="examples:\n  theta train\n"
        "  theta train --out runs/chapter   # the same, kept as a run folder with its pictures\n"
        "  theta train --data iris --hidden 32 --epochs 50\n"
        "  theta train --config examples/mlp_iris.toml --out runs/iris --overwrite\n"
        "  theta train --model cnn --print-config   # a config to edit, with the CNN's keys\n"
        "  theta train --model cnn --data digits --out runs/cnn\n"
        "  theta train --model gpt --out runs/shakespeare   # then: theta generate RUN",
    )
    hints = typing.get_type_hints(TrainConfig)
    assert set(chain(*_GROUPS.values())) == {f.name for f in fields(TrainConfig)}
    for title, keys in _GROUPS.items():
        group = parser.add_argument_group(title)
        for key in keys:
            _add_key(group, key, hints[key])
    run_group = parser.add_argument_group("the run")
    run_group.add_argument("--config", metavar="FILE.toml",
                           help="read hyperparameters from TOML; flags given beside it "
                           "replace its values (default: flags and presets only)")  # fmt: skip
    run_group.add_argument("--print-config", action="store_true",
                           help="print the config as TOML, only the keys the model uses, and "
                           "exit: a file to edit for --config")  # fmt: skip
    run_group.add_argument("--dry-run", action="store_true",
                           help="check the config and the data, print it as JSON, "
                           "exit")  # fmt: skip
    run_group.add_argument("--out", metavar="DIR", help="run folder (default runs/<data>); "
                           "with no other flag, the chapter's example kept as a run")  # fmt: skip
    run_group.add_argument("--overwrite", action="store_true",
                           help="replace an existing run folder")  # fmt: skip
    run_group.add_argument("--resume", action="store_true",
                           help="continue from the run's checkpoint")  # fmt: skip
    run_group.add_argument("--quiet", action="store_true",
                           help="no progress bar and no per-epoch log")  # fmt: skip
    parser.set_defaults(run=run)


def _add_key(group: argparse._ArgumentGroup, key: str, hint: type) -> None:
    """The flag of config key ``key``: its default is None, so only given flags replace the
    config's values; the help says the default and where a preset changes it."""
    flag = "--" + key.replace("_", "-")
    text = f"{HELP[key]} ({_default(key)})"
    if hint is bool:
        group.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                           help=text)  # fmt: skip
        return
    types = {"hidden": sizes, "channels": sizes, "batch_size": batch_size, int: int, float: float}
    metavars = {"hidden": "N,N", "channels": "N,N", "batch_size": "N|full"}
    choices = {**CHOICES, "data": tuple(info.name for info in list_datasets()),
               "loss": tuple(dict.fromkeys(chain(*LOSSES.values())))}  # fmt: skip
    # choices are shown, not enforced: the config refuses a bad value with the closest name
    metavar = "{" + ",".join(choices[key]) + "}" if key in choices else key.upper()
    group.add_argument(flag, dest=key, type=types.get(key, types.get(hint, str)), default=None,
                       metavar=metavars.get(key, metavar), help=text)  # fmt: skip


def _default(key: str) -> str:
    """``default: 0.01; 0.05 for data line, 0.001 for model gpt``: TrainConfig's default,
    then each preset's own."""
    shown = {"": "none", True: "on", False: "off"}

    def text(value: object) -> str:
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return shown.get(value, str(value)) if isinstance(value, str | bool) else str(value)

    if key == "loss":
        return "default: cross_entropy for classification, mse for regression"
    default = getattr(TrainConfig(), key)
    presets = [("data", PRESETS), ("model", MODEL_PRESETS)]
    notes = [f"{text(values[key])} for {kind} {name}" for kind, table in presets
             for name, values in table.items() if values.get(key, default) != default]  # fmt: skip
    return "; ".join([f"default: {text(default)}", *notes])


def run(args: argparse.Namespace, out: TextIO) -> int:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
             if getattr(args, f.name) is not None}  # fmt: skip
    chapter = not given and args.config is None  # no hyperparameter given: the chapter's line
    if chapter and args.out is None and not (args.dry_run or args.print_config):
        chapter_example(out)
        return 0
    values = load_toml(args.config) if args.config else {}
    values.update(given)
    config = resolve(values)
    if args.print_config:
        print(to_toml(config), end="", file=out)
        return 0
    run_dir = Path(args.out) if args.out else Path("runs") / config.data
    saved = _saved_config(run_dir) if args.resume else None
    if saved is not None:
        config = _resumed(saved, values, run_dir)
        chapter = chapter and config == resolve({})
    # every check a run makes, before its folder is touched (and the same for --dry-run)
    plan = prepare_run(config, model=image_model(config))
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2), file=out)
        return 0
    run_dir = claim_run_dir(run_dir, overwrite=args.overwrite, resume=args.resume, kind="train")
    with run_status(run_dir):
        if chapter and args.out is not None:
            chapter_run(run_dir, out, resume=args.resume)
        else:
            log = [] if args.quiet else [_epoch_log(config, out)]
            train_run(plan, run_dir, resume=args.resume, quiet=args.quiet, out=out, callbacks=log)
    return 0


def _epoch_log(config: TrainConfig, out: TextIO) -> EpochLog:
    """One line per epoch, or every ``eval_every`` steps for a step-counted run (GPT)."""
    by_steps = config.model == "gpt" or config.steps > 0
    return EpochLog(config.eval_every if by_steps else None, out=out)


def image_model(config: TrainConfig) -> Module | None:
    """The CNN of a ``--model cnn`` run, sized for its data set's images and classes (None
    for the other models, which :func:`~theta.cli.runs.prepare_run` builds).

    It takes the run's rows of pixels as they are, so ``theta predict`` gives it rows too.
    """
    if config.model != "cnn":
        return None
    _, _, _, classes = load_table(config.data, seed=config.seed)
    try:
        return CNN(dataset_info(config.data).image_shape, len(classes), channels=config.channels,
                   hidden=config.hidden, activation=config.activation, dropout=config.dropout,
                   rng=config.seed)  # fmt: skip
    except ValueError as exc:  # too many blocks for the images' size
        raise ConfigError(f"config key 'channels': {exc}") from None


def _saved_config(run_dir: Path) -> TrainConfig | None:
    """The config of the run in ``run_dir`` (None when it has none yet)."""
    path = run_dir / "config.json"
    if not path.is_file():
        return None
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(values, dict):
            raise ValueError(f"expected a JSON object (got {type(values).__name__})")
        return resolve(values, base=TrainConfig())
    except (ValueError, UnicodeDecodeError) as exc:  # ConfigError included: the file is bad
        raise ValueError(f"{path}: not a theta run config ({exc})") from None


def _resumed(saved: TrainConfig, values: dict, run_dir: Path) -> TrainConfig:
    """The saved config with what this command gives again: the same values, or more
    ``--steps``/``--epochs``; any other change is refused, naming the flag and both values."""
    config = resolve(values, base=saved)  # unknown keys and wrong types first
    old, wanted = saved.to_dict(), config.to_dict()
    for key in values:
        new = wanted[key]
        if new == old[key]:
            continue
        # the run counts what it counts: steps when steps > 0, else epochs; only more of it
        counted = key == ("steps" if saved.steps > 0 else "epochs")
        if counted and new >= old[key]:
            continue
        flag = "--" + key.replace("_", "-")
        rule = f"at least {old[key]}" if counted else "the same value"
        raise ConfigError(
            f"argument {flag}: the run in {run_dir} was trained with {key} = {old[key]!r}; "
            f"--resume continues it as it was, so {flag} must be {rule} (got {new!r}); "
            f"start a new run with another --out, or resume with "
            f"`theta train --out {shlex.quote(str(run_dir))} --resume`"
        )
    return config
