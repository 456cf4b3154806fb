"""``theta train``: with no arguments, the chapter's straight line learned by gradient descent."""

from __future__ import annotations

import argparse
import json
import shlex
import typing
from dataclasses import fields
from pathlib import Path
from typing import TextIO

import numpy as np

from theta.autograd import no_grad, tensor
from theta.cli.config import GPT_KEYS, ConfigError, TrainConfig, load_toml, resolve
from theta.cli.runs import (
    claim_run_dir,
    load_table,
    prepare_run,
    run_status,
    saved_note,
    train_run,
)
from theta.data import dataset_info
from theta.losses import mse
from theta.models import CNN
from theta.nn import Linear, Module
from theta.optim import SGD
from theta.train import PrintSteps, fit


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


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (default: the chapter's line y = 2x + 1)",
        description="Train a model and write a run folder. With no arguments, fit "
        "pred = w*x + b to y = 2x + 1 by gradient descent, as in the chapter, and print the "
        "loss and parameters.",
        epilog="examples:\n  theta train\n"
        "  theta train --out runs/chapter   # the same, kept as a run folder with its pictures\n"
        "  theta train --data iris --hidden 32 --epochs 50\n"
        "  theta train --config run.toml --out runs/iris --overwrite\n"
        "  theta train --model cnn --data digits --out runs/cnn\n"
        "  theta train --model gpt --out runs/shakespeare   # then: theta generate RUN",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE.toml", help="read hyperparameters from TOML")
    hints = typing.get_type_hints(TrainConfig)
    for f in sorted(fields(TrainConfig), key=lambda f: f.name in GPT_KEYS):  # the GPT's last
        flag = "--" + f.name.replace("_", "-")
        if hints[f.name] is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None)  # fmt: skip
        elif f.name in ("hidden", "channels"):
            what = "hidden layer sizes" if f.name == "hidden" else "CNN channels per block"
            parser.add_argument(flag, dest=f.name, type=_sizes, default=None, metavar="N,N",
                                help=f"{what}, e.g. 64,64")  # fmt: skip
        else:
            kind = hints[f.name] if hints[f.name] in (int, float) else str
            parser.add_argument(flag, dest=f.name, type=kind, default=None, metavar=f.name.upper())
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/<data>); with "
                        "no other flag, the chapter's example kept as a run")  # fmt: skip
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    parser.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--dry-run", action="store_true", help="check the config, print it, exit")
    parser.set_defaults(run=run)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 64,64 (got {text!r})") from None


def run(args: argparse.Namespace, out: TextIO) -> int:
    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
             if getattr(args, f.name) is not None}  # fmt: skip
    chapter = not given and args.config is None  # no hyperparameter given: the chapter's line
    if chapter and args.out is None and not args.dry_run:
        chapter_example(out)
        return 0
    values = load_toml(args.config) if args.config else {}
    values.update(given)
    config = resolve(values)
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
            train_run(plan, run_dir, resume=args.resume, quiet=args.quiet, out=out)
    return 0


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
