"""Run configurations: frozen dataclasses of plain values, read from TOML and flags.

The command line only maps flags onto fields (``--lr 0.1`` is ``replace(config, lr=0.1)``);
every check lives in ``__post_init__``, so a config from a file and one from flags are
validated alike. Unknown keys and wrong types are errors naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import tomllib
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from theta.cli.argtypes import UsageError
from theta.data import dataset_info, list_datasets
from theta.models import GPTConfig
from theta.validation import Each, Interval, Options, violation

__all__ = ["CHOICES", "GPT_KEYS", "HELP", "LOSSES", "MODEL_PRESETS", "PRESETS", "ConfigError",
           "TrainConfig", "load_toml", "resolve", "to_toml", "used_keys"]  # fmt: skip

# Defaults that differ by data set: the chapter's line is learned the chapter's way.
PRESETS: dict[str, dict[str, Any]] = {
    "line": {"model": "linear", "optimizer": "sgd", "lr": 0.05, "steps": 1000, "batch_size": 0,
             "val_split": 0.0, "standardize": False},
}  # fmt: skip
# Defaults that differ by model: a GPT learns text, nanoGPT's CPU configuration; a CNN
# learns the 8x8 digits (pixels standardized one by one, like any other features).
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "gpt": {"data": "tinyshakespeare", "optimizer": "adamw", "lr": 1e-3, "steps": 2000,
            "batch_size": 12, "val_split": 0.1, "standardize": False},
    "cnn": {"data": "digits", "optimizer": "adam", "lr": 3e-3, "epochs": 15, "batch_size": 32,
            "val_split": 0.2},
}  # fmt: skip

# The fixed sets of values a key takes (``--help`` lists them); the first loss of a task is
# its default. A classifier's outputs are one score per class, which only cross-entropy reads.
CHOICES: dict[str, tuple[str, ...]] = {
    "model": ("mlp", "linear", "cnn", "gpt"),
    "activation": ("relu", "gelu", "tanh", "sigmoid"),
    "optimizer": ("sgd", "adam", "adamw", "rmsprop"),
}
LOSSES: dict[str, tuple[str, ...]] = {"classification": ("cross_entropy",),
                                      "regression": ("mse", "mae", "huber")}  # fmt: skip

# What each key means, in one line: the help of its flag and its comment in a TOML config.
HELP: dict[str, str] = {
    "data": "the data set to learn (`theta datasets` lists them)",
    "model": "what learns (cnn: images; gpt: a character-level language model)",
    "hidden": "hidden layer sizes of the MLP (of the CNN's classifier)",
    "channels": "output channels of each conv block of the CNN",
    "activation": "the nonlinearity between layers",
    "dropout": "probability of zeroing a unit while training (0: none)",
    "loss": "what training minimises",
    "optimizer": "the update rule",
    "lr": "learning rate: the size of each update",
    "epochs": "passes over the training data (counted when steps is 0)",
    "steps": "if > 0, train for this many steps instead of epochs",
    "batch_size": "samples per step; 0 (--batch-size full): all of them, full-batch descent",
    "val_split": "fraction held out for validation (for a GPT, the text's last fraction)",
    "standardize": "scale features to zero mean, unit variance (training-split statistics)",
    "seed": "seed of the initial parameters, the split and the batch order",
    "checkpoint_every": "steps between checkpoints (what --resume continues from)",
    "eval_every": "steps between validation losses",
    "eval_windows": "validation windows of block_size characters per evaluation",
    "block_size": "longest context the GPT attends over, in characters",
    "n_layer": "transformer blocks",
    "n_heads": "attention heads per block",
    "n_embd": "embedding size (a multiple of n_heads)",
    "bias": "biases in the linear layers and layer norms",
}


class ConfigError(UsageError):
    """A configuration key is unknown, or its value has the wrong type or range."""


# The GPT's architecture keys are GPTConfig's own fields, with its types and defaults, taken
# from it rather than copied: all but vocab_size (the text's) and dropout (TrainConfig's).
GPT_KEYS = tuple(f.name for f in fields(GPTConfig) if f.name not in ("vocab_size", "dropout"))
_GPTKeys = dataclasses.make_dataclass(
    "_GPTKeys",
    [(f.name, typing.get_type_hints(GPTConfig)[f.name], dataclasses.field(default=f.default))
     for f in fields(GPTConfig) if f.name in GPT_KEYS],
    frozen=True,
)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig(_GPTKeys):
    """Everything ``theta train`` needs: the data, the model, and the training knobs.

    Every field is a hyperparameter in the chapter's sense: chosen by you, held fixed while
    gradient descent changes the parameters. The GPT's architecture (``block_size``,
    ``n_layer``, ``n_heads``, ``n_embd``, ``bias``) comes first, as :class:`GPTConfig`
    defines it; :meth:`gpt_config` builds the GPT's config from them.
    """

    data: str = "line"  # a data set from `theta datasets`
    model: str = "mlp"  # "mlp", "linear", "cnn" (images) or "gpt" (a character-level LM)
    hidden: tuple[int, ...] = (64,)  # hidden layer sizes of the MLP (of the CNN's classifier)
    channels: tuple[int, ...] = (16, 32)  # CNN only: output channels of each conv block
    activation: str = "relu"
    dropout: float = 0.0
    loss: str = ""  # empty: cross_entropy for classification, mse for regression
    optimizer: str = "adam"
    lr: float = 0.01
    epochs: int = 20
    steps: int = 0  # if > 0, train for this many steps instead of epochs
    batch_size: int = 32  # 0: every sample in every step (full-batch gradient descent)
    val_split: float = 0.2
    standardize: bool = True  # scale features to zero mean, unit variance (train statistics)
    seed: int = 0
    checkpoint_every: int = 100
    # GPT only (and GPT_KEYS); val_split is then the text's last fraction
    eval_every: int = 100  # steps between validation losses (metrics.csv, loss curve)
    eval_windows: int = 256  # validation windows of block_size characters per evaluation

    def __post_init__(self) -> None:
        for key, (constraint, condition) in _constraints(self).items():
            why = violation(getattr(self, key), constraint)
            if why is not None:
                raise ConfigError(f"config key {key!r}{condition}: {why}")
        object.__setattr__(self, "hidden", tuple(self.hidden))  # a list given in code
        object.__setattr__(self, "channels", tuple(self.channels))
        if self.model == "cnn":
            self._check_images()
        try:
            self.gpt_config(GPTConfig.vocab_size)
        except ValueError as exc:
            raise ConfigError(f"config: {exc}") from None

    def _check_images(self) -> None:
        """A CNN learns images: refuse a data set whose rows are not."""
        try:
            image_shape = dataset_info(self.data).image_shape
        except ValueError as exc:
            raise ConfigError(f"config key 'data' (for a CNN): {exc}") from None
        if image_shape is None:
            images = ", ".join(info.name for info in list_datasets() if info.image_shape)
            raise ConfigError(
                f"config key 'data' (for a CNN): a CNN learns images, so the data set must be "
                f"one of {images} (got {self.data!r})"
            )

    def gpt_config(self, vocab_size: int) -> GPTConfig:
        """The config of the GPT this run trains, for a vocabulary of ``vocab_size`` tokens."""
        keys = {key: getattr(self, key) for key in GPT_KEYS}
        return GPTConfig(vocab_size=vocab_size, dropout=self.dropout, **keys)

    def loss_for(self, task: str) -> str:
        return self.loss or LOSSES[task][0]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}  # fmt: skip


# A number read from TOML, JSON or a flag is a Python int or float (int | float: a NumPy
# scalar, which the run's config.json could not hold, is refused as before).
_NUMBER = int | float
# The type of a key with no rule of its own (the GPT's architecture, whose ranges GPTConfig
# checks; data, loss, seed, standardize), from its annotation.
_TYPES: dict[Any, Any] = {int: int, bool: "boolean", str: str}


def _constraints(config: TrainConfig) -> dict[str, tuple[Any, str]]:
    """Each key's constraint (:mod:`theta.validation`'s), and the setting it depends on."""
    hints = typing.get_type_hints(TrainConfig)
    by_steps = config.steps == 0
    gpt = config.model == "gpt"
    rules = {
        "model": Options(CHOICES["model"]),
        "hidden": Each(Interval(int, 1, None)),
        "channels": Each(Interval(int, 1, None)),
        "activation": Options(CHOICES["activation"]),
        "dropout": Interval(_NUMBER, 0, 1, closed="left"),
        "optimizer": Options(CHOICES["optimizer"]),
        "lr": Interval(_NUMBER, 0, math.inf, closed="neither"),
        "epochs": Interval(int, 1, None) if by_steps else int,  # counted only when steps = 0
        "steps": Interval(int, 0, None),
        "batch_size": Interval(int, 1 if gpt else 0, None),  # 0: full batch, not for text
        "val_split": Interval(_NUMBER, 0, 1, closed="neither" if gpt else "left"),
        "checkpoint_every": Interval(int, 1, None),
        "eval_every": Interval(int, 1, None),
        "eval_windows": Interval(int, 1, None),
    }
    conditions = {"epochs": " (with steps = 0)" if by_steps else ""}
    if gpt:
        conditions["batch_size"] = conditions["val_split"] = " (for a GPT)"
    return {
        f.name: (rules.get(f.name) or _TYPES[hints[f.name]], conditions.get(f.name, ""))
        for f in fields(TrainConfig)
    }


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; syntax errors name the file and the line."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text, as TOML must be (byte {exc.start} is "
            f"{exc.object[exc.start : exc.start + 1]!r})"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{path}: arrays or tables nested too deeply to read; a run config is a few flat tables"
        ) from None


def resolve(values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """Build a config from ``base`` (defaults) replaced by ``values``, rejecting unknown keys."""
    known = {f.name for f in fields(TrainConfig)}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown config key {key!r}{hint} Valid keys: {', '.join(sorted(known))}."
            )
    cleaned = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()}
    if base is None:
        preset = MODEL_PRESETS.get(cleaned.get("model", ""))
        if preset is None:
            preset = PRESETS.get(cleaned.get("data", "line"), {})
        base = dataclasses.replace(TrainConfig(), **preset)
        if "epochs" in cleaned and "steps" not in cleaned:
            cleaned["steps"] = 0  # epochs given over a preset counting steps: the user's count
    return dataclasses.replace(base, **cleaned)


# The keys each model kind reads; the others are ignored by it, so a config leaves them out.
_TRAINING = ("optimizer", "lr", "epochs", "steps", "batch_size", "val_split", "seed",
             "checkpoint_every")  # fmt: skip
_KEYS: dict[str, tuple[str, ...]] = {
    "linear": ("data", "model", "loss", *_TRAINING, "standardize"),
    "mlp": ("data", "model", "hidden", "activation", "dropout", "loss", *_TRAINING,
            "standardize"),
    "cnn": ("data", "model", "channels", "hidden", "activation", "dropout", "loss", *_TRAINING,
            "standardize"),
    "gpt": ("data", "model", *GPT_KEYS, "dropout", *_TRAINING, "eval_every", "eval_windows"),
}  # fmt: skip


def used_keys(model: str) -> tuple[str, ...]:
    """The config keys a ``model`` ("mlp", "linear", "cnn" or "gpt") uses, in file order.

    Examples
    --------
    >>> used_keys("linear")[:4]
    ('data', 'model', 'loss', 'optimizer')
    """
    return _KEYS[model]


def to_toml(config: TrainConfig) -> str:
    """``config`` as a TOML file for ``theta train --config``: the keys its model uses, each
    after a comment saying what it means (and its choices), the loss spelled out."""
    values = config.to_dict()
    task = dataset_info(config.data).task if config.model != "gpt" else "text"
    lines = [f"# theta train --config FILE  (model {config.model}, data {config.data})",
             "# Another kind's keys: theta train --model KIND --print-config"]  # fmt: skip
    for key in used_keys(config.model):
        choices = LOSSES[task] if key == "loss" else CHOICES.get(key)
        note = f": {', '.join(choices)}" if choices else ""
        value = config.loss_for(task) if key == "loss" else values[key]
        lines += [f"# {HELP[key]}{note}", f"{key} = {_toml_value(value)}"]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    return repr(value)
