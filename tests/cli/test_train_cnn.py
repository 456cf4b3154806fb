"""``theta train --model cnn``: a CNN on the digits' images, from flags to ``theta predict``."""

import json

import numpy as np
import pytest

from theta import data, io
from theta.cli.config import ConfigError, resolve
from theta.models import CNN


def test_cnn_run_trains_saves_and_predicts(theta_main, tmp_path):
    run = tmp_path / "cnn"
    code, out, err = theta_main("train", "--model", "cnn", "--epochs", "4", "--channels", "8,16",
                                "--hidden", "16", "--out", run, "--quiet")  # fmt: skip
    assert code == 0, err
    assert "trained cnn on digits" in out
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "cnn" and config["channels"] == [8, 16] and config["hidden"] == [16]
    model = io.load(run / "model")
    assert isinstance(model, CNN) and model.in_shape == (1, 8, 8)
    assert float(json.loads((run / "summary.json").read_text())["final"]["val_accuracy"]) > 0.9

    digits = data.load_digits()
    rows = [",".join(str(int(v)) for v in x) for x in digits.X[:20]]
    code, out, err = theta_main("predict", run, *rows)
    assert code == 0, err
    predicted = np.array([int(line) for line in out.split()])
    assert (predicted == digits.y[:20]).mean() >= 0.9


def test_cnn_preset_and_dry_run(theta_main):
    config = resolve({"model": "cnn"})
    assert config.data == "digits" and config.channels == (16, 32) and config.epochs == 15
    code, out, err = theta_main("train", "--model", "cnn", "--dry-run")
    assert code == 0, err
    assert json.loads(out)["model"] == "cnn"


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"model": "cnn", "data": "iris"}, "must be one of digits (got 'iris')"),
        ({"model": "cnn", "data": "digitz"}, "Did you mean 'digits'?"),
        ({"model": "cnn", "channels": [8, 0]}, "'channels'"),
    ],
)
def test_cnn_config_errors(values, fragment):
    with pytest.raises(ConfigError, match=r"config key '(data|channels)'") as info:
        resolve(values)
    assert fragment in str(info.value)


def test_cnn_on_a_table_is_a_usage_error(theta_main):
    code, _, err = theta_main("train", "--model", "cnn", "--data", "iris", "--dry-run")
    assert code == 2
    assert "a CNN learns images" in err


def test_more_blocks_than_the_images_allow_is_a_usage_error(theta_main):
    code, _, err = theta_main("train", "--model", "cnn", "--channels", "4,4,4,4", "--dry-run")
    assert code == 2
    assert "config key 'channels': CNN: 4 blocks halve an image of 8x8 to nothing" in err
