"""theta.io: model folders round-trip, refuse bad files by name, and interoperate with PyTorch."""

import errno
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import theta
from theta import io, tensorfile
from theta.errors import CheckpointError
from theta.io import models as io_models
from theta.nn import (
    GELU,
    MLP,
    Embedding,
    LayerNorm,
    Linear,
    Module,
    Parameter,
    ReLU,
    Sequential,
    Tanh,
    TransformerBlock,
)
from theta.tensorfile import read_tensors, write_tensors

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
}


class IoTestNet(Module):
    """A user-defined module with nested modules, tuples, dicts and None as hyperparameters."""

    def __init__(self, sizes=(2, 3), *, head: Module | None = None, options: dict | None = None):
        self.body = MLP(sizes, activation=(options or {}).get("activation", "relu"), rng=0)
        self.head = head

    def forward(self, x):
        x = self.body(x)
        return self.head(x) if self.head is not None else x


def predict(model, x) -> np.ndarray:
    return model(
        x if isinstance(x, np.ndarray) and x.dtype.kind == "i" else theta.tensor(x)
    ).numpy()


def models():
    return {
        "mlp": (MLP((4, 16, 8, 3), activation="tanh", rng=0), np.linspace(-1, 1, 12).reshape(3, 4)),
        "sequential": (
            Sequential(
                Embedding(10, 4, rng=1),
                LayerNorm(4),
                Linear(4, 6, rng=2),
                GELU("tanh"),
                Linear(6, 2, rng=3),
                Tanh(),
            ),  # fmt: skip
            np.array([[1, 2, 3], [9, 0, 4]]),
        ),
        "custom": (
            IoTestNet(
                (3, 5), head=Sequential(Linear(5, 2, rng=4), ReLU()), options={"activation": "gelu"}
            ),  # fmt: skip
            np.ones((2, 3)),
        ),
    }


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "sequential", "custom"])
def test_save_load_gives_identical_predictions(tmp_path, name):
    model, x = models()[name]
    io.save(model, tmp_path / "model")
    again = io.load(tmp_path / "model")
    assert type(again) is type(model) and again is not model
    np.testing.assert_array_equal(predict(again, x), predict(model, x))
    state, state_again = model.state_dict(), again.state_dict()
    assert list(state) == list(state_again)
    for key in state:
        assert state_again[key].dtype == state[key].dtype
        np.testing.assert_array_equal(state_again[key], state[key])


def test_config_json_records_class_and_nested_hyperparameters(tmp_path):
    model = Sequential(Linear(2, 3, rng=0), ReLU(), LayerNorm((3,)))
    io.save(model, tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format"] == "theta.model" and config["format_version"] == 4
    assert config["theta_version"] == theta.__version__
    assert config["class"] == "theta.nn.layers.Sequential"  # registry_name: module.QualName
    # one tree node per hyperparameter (theta.treefile's), with modules as "module" nodes
    assert config["hyperparameters"] == {
        "layers": {"type": "tuple", "items": [
            {"type": "module", "class": "theta.nn.layers.Linear",
             "hyperparameters": {"in_features": 2, "out_features": 3, "bias": True}},
            {"type": "module", "class": "theta.nn.layers.ReLU", "hyperparameters": {}},
            {"type": "module", "class": "theta.nn.layers.LayerNorm",
             "hyperparameters": {"normalized_shape": {"type": "tuple", "items": [3]},
                                 "eps": 1e-05}},
        ]}
    }  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == ["m"]  # no staging folder left behind


def test_float64_models_come_back_in_float64(tmp_path):
    model = MLP((3, 4, 1), rng=0, dtype=np.float64)
    model.layers[1].bias.data[0] = 1e300  # beyond float32: must not pass through it
    io.save(model, tmp_path / "m")
    again = io.load(tmp_path / "m")
    assert {p.dtype for p in again.parameters()} == {np.dtype(np.float64)}
    assert again.layers[1].bias.data[0] == 1e300
    x = np.linspace(0, 1, 6).reshape(2, 3)
    np.testing.assert_array_equal(predict(again, x), predict(model, x))


LOAD_AND_PREDICT = """
import sys, numpy as np, theta
from theta import io
model = io.load(sys.argv[1])
x = np.load(sys.argv[2])
out = model(x if x.dtype.kind == "i" else theta.tensor(x)).numpy()
np.save(sys.argv[3], out)
"""


@pytest.mark.parametrize("name", ["mlp", "sequential"])
def test_a_fresh_process_loads_the_same_model(tmp_path, name):
    model, x = models()[name]
    io.save(model, tmp_path / "m")
    np.save(tmp_path / "x.npy", x)
    subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(tmp_path / "m"), str(tmp_path / "x.npy"),
         str(tmp_path / "out.npy")],
        env=ENV, check=True,
    )  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), predict(model, x))


def test_bare_state_dict_round_trip(tmp_path):
    model, x = models()["mlp"]
    io.save_state_dict(model.state_dict(), tmp_path / "w.safetensors")
    fresh = MLP((4, 16, 8, 3), activation="tanh", rng=99)
    assert fresh.load_state_dict(io.load_state_dict(tmp_path / "w.safetensors")) == ([], [])
    np.testing.assert_array_equal(predict(fresh, x), predict(model, x))
    io.save_state_dict(dict(model.named_parameters()), tmp_path / "t.safetensors")  # Tensors too
    assert io.load_state_dict(tmp_path / "t.safetensors").keys() == model.state_dict().keys()


# --- PyTorch interop -----------------------------------------------------------------------------


def _torch_twins(torch):
    """The torch models of ``_theta_twins``: theta's names are ``torch.nn.Sequential``'s."""
    nn = torch.nn
    return [
        lambda: nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)),
        lambda: nn.Sequential(
            nn.Embedding(10, 4), nn.LayerNorm(4), nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 2)
        ),  # fmt: skip
    ]


def _theta_twins(dtype):
    mlp = MLP((4, 16, 3), rng=5, dtype=dtype)
    seq = Sequential(Embedding(10, 4, dtype=dtype), LayerNorm(4, dtype=dtype),
                     Linear(4, 6, dtype=dtype), GELU(), Linear(6, 2, dtype=dtype))  # fmt: skip
    return mlp, seq


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_pytorch_state_dict_loads_into_theta_and_back(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    torch_models = [cls().to(tdtype) for cls in _torch_twins(torch)]
    inputs = [np.linspace(-2, 2, 20).reshape(5, 4).astype(dtype), np.array([[1, 2, 3], [9, 0, 4]])]
    for i, (torch_model, theta_model, x) in enumerate(
        zip(torch_models, _theta_twins(dtype), inputs, strict=True)
    ):
        # PyTorch -> theta
        save_file(torch_model.state_dict(), tmp_path / f"torch{i}.safetensors")
        theta_model.load_state_dict(io.load_state_dict(tmp_path / f"torch{i}.safetensors"))
        with torch.no_grad():
            expected = torch_model(torch.from_numpy(x)).numpy()
        got = predict(theta_model, x)
        assert got.dtype == expected.dtype
        if dtype == np.float32:
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
        elif i == 0:  # Linear and ReLU: the same arithmetic, so the same bits
            np.testing.assert_array_equal(got, expected)
        else:  # LayerNorm and GELU order their operations differently: one ulp apart
            np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
        # theta -> PyTorch, through both a bare file and a model folder
        for p in theta_model.parameters():
            p.data *= 0.5
        io.save_state_dict(theta_model.state_dict(), tmp_path / f"theta{i}.safetensors")
        io.save(theta_model, tmp_path / f"folder{i}")
        bare, folder = tmp_path / f"theta{i}.safetensors", tmp_path / f"folder{i}"
        for file in (bare, folder / "model.safetensors"):
            torch_model.load_state_dict(load_file(file), strict=True)
            with torch.no_grad():
                back = torch_model(torch.from_numpy(x)).numpy()
            np.testing.assert_allclose(back, predict(theta_model, x), rtol=1e-6, atol=1e-6)


# --- folders of format version 1 (theta's own names before PyTorch's) ---------------------------

# name: (model, input width, {name now: its name in a version-1 folder}); others are unchanged
VERSION1 = {
    "mlp_dropout": (
        lambda: MLP((2, 3, 3, 1), dropout=0.1, rng=0),
        2,
        {"0.weight": "layers.0.weight", "0.bias": "layers.0.bias", "3.weight": "layers.3.weight",
         "3.bias": "layers.3.bias", "6.weight": "layers.6.weight", "6.bias": "layers.6.bias"},
    ),
    "custom": (
        lambda: IoTestNet((3, 5), head=Sequential(Linear(5, 2, rng=4), ReLU())),
        3,
        {"body.0.weight": "body.layers.0.weight", "body.0.bias": "body.layers.0.bias",
         "head.0.weight": "head.layers.0.weight", "head.0.bias": "head.layers.0.bias"},
    ),
    "nested_sequential": (
        lambda: Sequential(MLP((3, 4, 2), rng=1), Sequential(Tanh(), Linear(2, 1, rng=2))),
        3,
        {"0.0.weight": "layers.0.layers.0.weight", "0.0.bias": "layers.0.layers.0.bias",
         "0.2.weight": "layers.0.layers.2.weight", "0.2.bias": "layers.0.layers.2.bias",
         "1.1.weight": "layers.1.layers.1.weight", "1.1.bias": "layers.1.layers.1.bias"},
    ),
    "transformer_block": (
        lambda: TransformerBlock(8, 2, causal=True, rng=0),
        8,
        {"attn.in_proj_weight": "attn.qkv.weight", "attn.in_proj_bias": "attn.qkv.bias",
         "attn.out_proj.weight": "attn.proj.weight", "attn.out_proj.bias": "attn.proj.bias"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(VERSION1))
def test_folders_of_format_version_1_load_under_the_new_names(tmp_path, name):
    make, width, old_names = VERSION1[name]
    model = make().eval()
    for p in model.parameters():  # LayerNorm starts at ones and zeros: make every value count
        p.data += np.linspace(0.1, 0.5, p.size, dtype=p.dtype).reshape(p.shape)
    io.save(model, tmp_path / "m")
    _edit_weights(
        tmp_path / "m", lambda t: t.update({old_names.get(k, k): t.pop(k) for k in list(t)})
    )
    _edit_config(tmp_path / "m", lambda c: c.update(_old_config(c), format_version=1))
    assert set(old_names.values()) <= set(read_tensors(tmp_path / "m" / "model.safetensors")[0])
    again = io.load(tmp_path / "m").eval()
    x = np.linspace(-1, 1, 6 * width, dtype=np.float32).reshape(2, 3, width)
    np.testing.assert_array_equal(predict(again, x), predict(model, x))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[key], value)
    # a folder of the current version is read by the names it holds, not translated
    _edit_config(tmp_path / "m", lambda c: c.update(format_version=2))
    with pytest.raises(CheckpointError, match="missing keys"):
        io.load(tmp_path / "m")


def _old_config(node):
    """A model config as format versions 1 and 2 wrote it: theta's classes bare (``"MLP"``),
    modules as ``{"class", "hyperparameters"}``, tuples as lists, dicts plain."""
    if isinstance(node, list):
        return [_old_config(value) for value in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "tuple":
        return [_old_config(value) for value in node["items"]]
    if node.get("type") == "dict":
        return {key: _old_config(value) for key, value in node["items"].items()}
    old = {key: _old_config(value) for key, value in node.items() if key != "type"}
    if isinstance(old.get("class"), str) and old["class"].startswith("theta."):
        old["class"] = old["class"].rsplit(".", 1)[1]
    return old


def test_folders_of_format_version_2_load_with_bare_class_names(tmp_path):
    model = Sequential(MLP((2, 3, 2), rng=0), Sequential(Tanh(), Linear(2, 1, rng=1)))
    io.save(model, tmp_path / "m")
    weights_id = json.loads((tmp_path / "m" / "config.json").read_text())["weights_id"]
    version2 = {  # what theta wrote before version 3, byte for byte but the id
        "format": "theta.model", "format_version": 2, "theta_version": "0.1.0",
        "class": "Sequential", "weights_id": weights_id,
        "hyperparameters": {"layers": [
            {"class": "MLP", "hyperparameters": {"sizes": [2, 3, 2], "activation": "relu",
                                                 "dropout": 0.0}},
            {"class": "Sequential", "hyperparameters": {"layers": [
                {"class": "Tanh", "hyperparameters": {}},
                {"class": "Linear", "hyperparameters": {"in_features": 2, "out_features": 1,
                                                        "bias": True}}]}},
        ]},
    }  # fmt: skip
    (tmp_path / "m" / "config.json").write_text(json.dumps(version2))
    again = io.load(tmp_path / "m")
    assert [type(m) for m in again.modules()] == [type(m) for m in model.modules()]
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(predict(again, x), predict(model, x))
    # only older folders may name theta's classes bare: version 3 names them in full
    _edit_config(tmp_path / "m", lambda c: c.update(format_version=3))
    with pytest.raises(CheckpointError, match=r"unknown module class 'Sequential' at config;"):
        io.load(tmp_path / "m")


def test_bare_names_of_older_folders_find_only_registered_theta_classes(tmp_path, monkeypatch):
    class Mine(Module):  # registered, but under this module's name: never found bare
        def forward(self, x):
            return x

    io.save(Sequential(Linear(2, 2, rng=0)), tmp_path / "m")
    imported = set(sys.modules)
    for name in ("Mine", "BertTokenizer", "system", "Popen"):
        _edit_config(tmp_path / "m", lambda c, name=name: c.update(format_version=2, **{
            "class": name}))  # fmt: skip
        with pytest.raises(CheckpointError, match=rf"unknown module class '{name}'"):
            io.load(tmp_path / "m")
    assert set(sys.modules) == imported  # a name in a file never imports anything
    assert Module.registry[f"{__name__}.{Mine.__qualname__}"] is Mine


def test_a_learner_folder_holding_version_1_model_folders_loads(tmp_path):
    from theta.estimators.neural import ModuleRegressor

    X = np.linspace(-1, 1, 40).reshape(20, 2)
    start = MLP((2, 4, 1), rng=0, dtype=np.float64)
    regressor = ModuleRegressor(start, epochs=1, random_state=0).fit(X, X.sum(axis=1))
    io.save(regressor, tmp_path / "r")
    old = {"0.weight": "layers.0.weight", "0.bias": "layers.0.bias",
           "2.weight": "layers.2.weight", "2.bias": "layers.2.bias"}  # fmt: skip
    for folder in ("module", "model_"):
        _edit_weights(tmp_path / "r" / folder, lambda t: t.update({old[k]: t.pop(k) for k in old}))
        _edit_config(
            tmp_path / "r" / folder, lambda c: c.update(_old_config(c), format_version=1)
        )
    again = io.load(tmp_path / "r")
    np.testing.assert_array_equal(again.predict(X), regressor.predict(X))


# --- refusing what is not ours -------------------------------------------------------------------


class Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickles_are_refused_without_running_them(tmp_path):
    proof = tmp_path / "proof-that-unpickling-runs-code"
    pickle.loads(pickle.dumps(Payload(proof))).close()
    assert proof.exists()  # the payload really is live

    marker = tmp_path / "marker"
    payload = pickle.dumps({"weight": Payload(marker)})
    (tmp_path / "model.pkl").write_bytes(payload)
    folder = tmp_path / "folder"
    io.save(MLP((2, 1), rng=0), folder)
    (folder / "model.safetensors").write_bytes(payload)
    attempts = [
        (io.load, tmp_path / "model.pkl"),
        (io.load_state_dict, tmp_path / "model.pkl"),
        (io.load, folder),
        (read_tensors, folder / "model.safetensors"),
    ]
    for load, path in attempts:
        with pytest.raises(CheckpointError, match="pickle.*nothing was executed") as info:
            load(path)
        assert str(path) in str(info.value)
    assert not marker.exists()


def test_pytorch_and_numpy_files_are_refused_without_running_them(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "marker"
    torch.save({"weight": Payload(marker)}, tmp_path / "model.pt")
    np.save(tmp_path / "model.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    for path, kind in [(tmp_path / "model.pt", "zip"), (tmp_path / "model.npy", "NumPy")]:
        for load in (io.load, io.load_state_dict):
            with pytest.raises(CheckpointError, match=f"{kind}.*nothing was executed"):
                load(path)
    assert not marker.exists()


# --- mismatches ----------------------------------------------------------------------------------


def _edit_weights(folder: Path, edit) -> None:
    """Rewrite ``folder``'s tensors through ``edit(dict)``, keeping the weights_id."""
    tensors, metadata = read_tensors(folder / "model.safetensors")
    edit(tensors)
    write_tensors(folder / "model.safetensors", tensors, metadata)


def _edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def test_missing_and_unexpected_names_strict_and_not(tmp_path):
    model = MLP((2, 4, 1), rng=0)
    io.save(model, tmp_path / "m")

    def rename(tensors):
        tensors["extra.weight"] = tensors.pop("2.bias")

    _edit_weights(tmp_path / "m", rename)
    with pytest.raises(CheckpointError, match=r"missing keys: 2\.bias.*extra\.weight") as e:
        io.load(tmp_path / "m")
    assert str(tmp_path / "m" / "model.safetensors") in str(e.value)
    with pytest.warns(UserWarning, match=r"missing keys.*2\.bias.*unexpected.*extra"):
        loose = io.load(tmp_path / "m", strict=False)
    np.testing.assert_array_equal(loose.layers[0].weight.data, model.layers[0].weight.data)


@pytest.mark.parametrize("strict", [True, False])
def test_wrong_shapes_and_dtypes_are_listed_even_when_not_strict(tmp_path, strict):
    io.save(MLP((2, 4, 1), rng=0), tmp_path / "m")
    _edit_weights(tmp_path / "m", lambda t: t.update({"0.weight": np.zeros((5, 2))}))
    with pytest.raises(CheckpointError, match=r"0\.weight: expected \(4, 2\), got \(5, 2\)"):
        io.load(tmp_path / "m", strict=strict)
    _edit_weights(tmp_path / "m", lambda t: t.update({"0.weight": np.zeros((4, 2), int)}))
    with pytest.raises(CheckpointError, match=r"floating point.*0\.weight \(int64\)"):
        io.load(tmp_path / "m", strict=strict)


def test_non_finite_values_warn_or_raise(tmp_path):
    model = MLP((2, 3, 1), rng=0)
    model.layers[0].bias.data[1] = np.nan
    model.layers[1].weight.data[0, 0] = np.inf
    io.save(model, tmp_path / "m")
    with pytest.warns(UserWarning, match=r"NaN or infinite.*0\.bias, 2\.weight"):
        again = io.load(tmp_path / "m")
    assert np.isnan(again.layers[0].bias.data[1])
    with pytest.raises(CheckpointError, match=r"NaN or infinite.*0\.bias"):
        io.load(tmp_path / "m", check_finite=True)
    file = tmp_path / "m" / "model.safetensors"
    with pytest.warns(UserWarning, match="2.weight"):
        io.load_state_dict(file)
    with pytest.raises(CheckpointError, match="2.weight"):
        io.load_state_dict(file, check_finite=True)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c.update(format_version=5), r"format version 5 .*reads format version 4"),
        (lambda c: c.update(format_version="1"), "format_version must be a positive integer"),
        (lambda c: c.update(format="pytorch"), "not a theta model config.*'pytorch'"),
        (lambda c: c.update({"class": "NoSuchNet"}), r"unknown module class 'NoSuchNet'.*MLP"),
        (lambda c: c["hyperparameters"].update(sizes=[2]), r"rebuild theta\.nn\..*MLP.*sizes"),
        (lambda c: c["hyperparameters"].update(colour="red"), r"rebuild theta\..*MLP.*colour"),
        (lambda c: c.update(hyperparameters=[1]), "'hyperparameters' must be an object"),
        (lambda c: c.update(weights_id="0" * 32), "come from different saves"),
    ],
)
def test_bad_configs_are_checkpoint_errors_naming_the_file(tmp_path, edit, match):
    io.save(MLP((2, 4, 1), rng=0), tmp_path / "m")
    _edit_config(tmp_path / "m", edit)
    with pytest.raises(CheckpointError, match=match) as info:
        io.load(tmp_path / "m")
    assert str(tmp_path / "m") in str(info.value)


def test_unknown_nested_class_and_malformed_json(tmp_path):
    io.save(Sequential(Linear(2, 2, rng=0)), tmp_path / "m")
    _edit_config(tmp_path / "m", lambda c: c["hyperparameters"]["layers"]["items"][0].update(
        {"class": "Gone"}))  # fmt: skip
    with pytest.raises(CheckpointError, match=r"'Gone' at config\.hyperparameters\.layers\[0\]"):
        io.load(tmp_path / "m")
    for text in ['{"format": "theta.model", "format": "theta.model"}', "{oops", "\xff"]:
        (tmp_path / "m" / "config.json").write_bytes(text.encode("latin-1"))
        with pytest.raises(CheckpointError, match="config.json is not valid UTF-8 JSON"):
            io.load(tmp_path / "m")


class KeepsAnything(Module):
    """A module whose constructor records whatever it is given."""

    def __init__(self, **anything):
        self.w = Parameter([1.0])


def test_hyperparameters_come_back_as_given(tmp_path):
    given = {"shape": (2, 3), "table": {0: "a", (1, 2): {"class": "X", "hyperparameters": {}}},
             "tags": frozenset({"x"}), "limit": float("nan"), "inner": (Tanh(),)}  # fmt: skip
    io.save(KeepsAnything(**given), tmp_path / "m")
    assert "NaN" not in (tmp_path / "m" / "config.json").read_text()  # strict JSON
    again = io.load(tmp_path / "m").hyperparameters()["anything"]
    assert type(again["inner"][0]) is Tanh
    assert math.isnan(again.pop("limit")) and again.pop("inner") and given.pop("limit")
    given.pop("inner")
    assert again == given and type(again["shape"]) is tuple


def test_format_version_3_folders_still_load(tmp_path):
    model = Sequential(MLP((2, 3, 2), rng=0), LayerNorm((2,)), Linear(2, 1, rng=1))
    io.save(model, tmp_path / "m")

    def version3(config):  # what theta wrote before version 4: plain JSON, qualified names
        old = _old_config(config)
        layers = old["hyperparameters"]["layers"]
        layers[:] = [{**layer, "class": f"theta.nn.layers.{layer['class']}"} for layer in layers]
        config.update(old, format_version=3, **{"class": "theta.nn.layers.Sequential"})

    _edit_config(tmp_path / "m", version3)
    assert '"sizes": [' in (tmp_path / "m" / "config.json").read_text()
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(predict(io.load(tmp_path / "m"), x), predict(model, x))


def test_newer_theta_version_warns_naming_both(tmp_path):
    io.save(MLP((2, 1), rng=0), tmp_path / "m")
    _edit_config(tmp_path / "m", lambda c: c.update(theta_version="99.0.0"))
    both = rf"theta 99\.0\.0, newer than this theta \({theta.__version__}\)"
    with pytest.warns(UserWarning, match=both):
        io.load(tmp_path / "m")


def test_user_classes_shadowing_a_registered_name_are_refused_on_save(tmp_path, monkeypatch):
    name = "theta.nn.layers.Linear"
    monkeypatch.setitem(Module.registry, name, Linear)  # restored after the test

    class Linear2(Module):
        pass

    Linear2.__module__, Linear2.__qualname__ = "theta.nn.layers", "Linear"
    monkeypatch.setitem(Module.registry, name, Linear2)
    with pytest.raises(TypeError, match=rf"Module.registry\['{name}'\] must be .*got another"):
        io.save(Sequential(Linear(2, 2, rng=0)), tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(2), "is an array, which config.json does not hold"),
        ([1, np.float32(2.0), np.zeros(())], r"\.2 is an array"),
        (lambda x: x, "function, which cannot be saved without pickle"),
    ],
)
def test_hyperparameters_json_cannot_hold_are_refused_before_writing(tmp_path, bad, match):
    class Holder(Module):
        def __init__(self, value):
            self.w = Parameter([1.0])

    with pytest.raises(TypeError, match=rf"hyperparameter Holder.*{match}"):
        io.save(Holder(bad), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


THREE = np.int64(3)


def test_numpy_scalars_and_infinity_hyperparameters_round_trip(tmp_path):
    class Scaled(Module):
        def __init__(self, scale, limit=float("inf"), n=THREE):
            self.w = Parameter(np.full(3, float(scale)))

    io.save(Scaled(np.float32(0.5)), tmp_path / "m")
    assert io.load(tmp_path / "m").hyperparameters() == {"scale": 0.5, "limit": np.inf, "n": 3}


# --- paths, overwriting, atomicity ---------------------------------------------------------------


def test_missing_paths_and_wrong_kinds_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        io.load(tmp_path / "nothing-here")
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        io.load_state_dict(tmp_path / "nothing-here")
    (tmp_path / "file").write_bytes(b"{}")
    with pytest.raises(NotADirectoryError, match=r"theta\.io\.load_state_dict\b"):
        io.load(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty/config\.json"):
        io.load(tmp_path / "empty")
    with pytest.raises(IsADirectoryError, match="theta.io.load"):
        io.load_state_dict(tmp_path / "empty")
    io.save(MLP((2, 1), rng=0), tmp_path / "m")
    os.remove(tmp_path / "m" / "model.safetensors")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        io.load(tmp_path / "m")


def test_unreadable_folder_is_a_permission_error(tmp_path, monkeypatch):
    real_stat = os.stat

    def deny(path, *args, **kwargs):
        if "locked" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", deny)
    with pytest.raises(PermissionError, match="locked"):
        io.load(tmp_path / "locked")


def test_a_pipe_in_place_of_a_file_is_refused_without_blocking(tmp_path):
    io.save(MLP((2, 1), rng=0), tmp_path / "m")
    os.remove(tmp_path / "m" / "config.json")
    os.mkfifo(tmp_path / "m" / "config.json")
    with pytest.raises(CheckpointError, match=r"config\.json is not a regular file"):
        io.load(tmp_path / "m")


def test_loading_without_folder_descriptors_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(io_models, "_open_folder", lambda folder: None)  # as on Windows
    model, x = models()["mlp"]
    io.save(model, tmp_path / "m")
    np.testing.assert_array_equal(predict(io.load(tmp_path / "m"), x), predict(model, x))


def test_existing_path_needs_overwrite_and_then_is_replaced_whole(tmp_path):
    path = tmp_path / "m"
    io.save(MLP((2, 3, 1), rng=0), path)
    with pytest.raises(FileExistsError, match=str(path)):
        io.save(MLP((2, 1), rng=1), path)
    assert io.load(path).hyperparameters()["sizes"] == (2, 3, 1)
    io.save(MLP((2, 1), rng=1), path, overwrite=True)
    assert io.load(path).hyperparameters()["sizes"] == (2, 1)
    assert sorted(os.listdir(tmp_path)) == ["m"]
    io.save_state_dict({"w": np.zeros(1)}, tmp_path / "w.st")
    with pytest.raises(FileExistsError, match="w.st"):
        io.save_state_dict({"w": np.ones(1)}, tmp_path / "w.st")
    io.save_state_dict({"w": np.ones(1)}, tmp_path / "w.st", overwrite=True)
    assert io.load_state_dict(tmp_path / "w.st")["w"][0] == 1.0


def test_overwrite_never_replaces_what_save_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "train.py").write_text("mine")
    for path in (tmp_path / "notes.txt", tmp_path / "project"):
        with pytest.raises(FileExistsError, match="not a model folder|did not write"):
            io.save(MLP((2, 1), rng=0), path, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert os.listdir(tmp_path / "project") == ["train.py"]


@pytest.mark.parametrize("fail_at", ["write_tensors", "atomic_write_text"])
def test_a_failed_save_keeps_the_old_model_and_leaves_nothing(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "m"
    io.save(MLP((2, 3, 1), rng=0), path)
    before = io.load(path).state_dict()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io_models, fail_at, disk_full)
    with pytest.raises(OSError, match="No space left on device") as info:
        io.save(MLP((2, 3, 1), rng=1), path, overwrite=True)
    assert info.value.filename == str(path)
    monkeypatch.undo()
    after = io.load(path).state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_saving_without_renameat2_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(tensorfile, "_rename", lambda *args: False)
    io.save(MLP((2, 1), rng=0), tmp_path / "m")
    io.save(MLP((2, 2, 1), rng=0), tmp_path / "m", overwrite=True)
    assert io.load(tmp_path / "m").hyperparameters()["sizes"] == (2, 2, 1)
    assert sorted(os.listdir(tmp_path)) == ["m"]


SAVER = """
import sys, numpy as np
from theta import io
from theta.nn import MLP
path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = MLP((8, 64, seed), rng=seed)
i = 0
while n < 0 or i < n:
    io.save(model, path, overwrite=True)
    i += 1
"""


def _output_width(path) -> int:
    model = io.load(path)
    width = model.hyperparameters()["sizes"][-1]
    expected = MLP((8, 64, width), rng=width)
    x = np.ones((1, 8))
    np.testing.assert_array_equal(predict(model, x), predict(expected, x))
    return predict(model, x).shape[1]


def test_two_processes_saving_one_folder_never_mix_files(tmp_path):
    path = tmp_path / "shared"
    savers = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(seed), "40"], env=ENV)
        for seed in (1, 2)
    ]
    seen = set()
    try:
        while any(s.poll() is None for s in savers):
            if path.exists():
                seen.add(_output_width(path))
    finally:
        for s in savers:
            if s.poll() is None:
                s.kill()
    assert [s.wait() for s in savers] == [0, 0]
    seen.add(_output_width(path))
    assert seen <= {1, 2}
    assert sorted(os.listdir(tmp_path)) == ["shared"]


def test_sigkill_during_saves_leaves_a_loadable_model(tmp_path):
    path = tmp_path / "m"
    for width, delay in ((3, 0.1), (4, 0.3)):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(width), "-1"], env=ENV
        )
        try:
            deadline = time.monotonic() + 30
            while not (path.exists() and _output_width(path) == width):  # it has saved once
                assert time.monotonic() < deadline, "the saver never saved"
                time.sleep(0.01)
            time.sleep(delay)
        finally:
            saver.send_signal(signal.SIGKILL)
            saver.wait()
        assert _output_width(path) == width  # hidden staging leftovers are never read


def test_buffers_are_saved_with_their_dtypes_and_load_strictly(tmp_path):
    from theta.nn import BatchNorm1d

    model = Sequential(Linear(3, 3, rng=0, dtype=np.float64), BatchNorm1d(3, dtype=np.float64))
    model(theta.tensor(np.random.default_rng(0).standard_normal((8, 3))))  # running statistics
    io.save(model, tmp_path / "m")
    saved = read_tensors(tmp_path / "m" / "model.safetensors")[0]
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(saved)
    again = io.load(tmp_path / "m")
    for name, value in model.state_dict().items():  # float64 statistics, int64 counter
        np.testing.assert_array_equal(again.state_dict()[name], value, err_msg=name, strict=True)
