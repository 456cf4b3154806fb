"""``Module.summary(input_shape)``: each layer's output shape and parameter count."""

import numpy as np
import pytest

import theta
from theta import nn
from theta.models import CNN


def _rows(text: str) -> dict[str, list[str]]:
    """The layer table as {name: [type, shape, count]} (shapes hold spaces, so split by 2+)."""
    import re

    lines = text.splitlines()[2:]  # the title and the header
    return {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line) for line in lines)}


def _manual_shapes(layers, x):
    """The output shape of each layer of a chain, by running them by hand."""
    shapes = []
    with theta.no_grad():
        for layer in layers:
            x = layer(x)
            shapes.append(str(x.shape))
    return shapes


def test_mlp_rows_match_a_manual_forward_and_the_parameters():
    model = nn.Sequential(nn.Linear(5, 7, rng=0), nn.Tanh(), nn.Linear(7, 2, rng=1))
    rows = _rows(model.summary(input_shape=(3, 5)))
    x = theta.tensor(np.zeros((3, 5), dtype=np.float32))
    assert [rows[str(i)][1] for i in range(3)] == _manual_shapes(model.layers, x)
    assert [rows[str(i)][0] for i in range(3)] == ["Linear", "Tanh", "Linear"]
    counts = [int(rows[str(i)][2].replace(",", "")) for i in range(3)]
    assert counts == [sum(p.size for p in layer.parameters()) for layer in model.layers]
    assert rows["total"] == ["Sequential", "(3, 2)", f"{model.n_parameters():,}"]


def test_cnn_rows_match_a_manual_forward():
    model = CNN((1, 8, 8), 10, channels=(4, 6), hidden=12, rng=0)
    text = model.summary(input_shape=(2, 1, 8, 8))
    assert text.splitlines()[0] == "CNN: input (2, 1, 8, 8) float32"
    rows = _rows(text)
    x = theta.tensor(np.zeros((2, 1, 8, 8), dtype=np.float32))
    features = _manual_shapes(model.features.layers, x)
    assert [rows[f"features.{i}"][1] for i in range(len(features))] == features
    assert rows["features"][1] == features[-1] == "(2, 6, 2, 2)"
    assert rows["classifier.0"][:2] == ["Flatten", "(2, 24)"]
    assert rows["total"][1] == "(2, 10)"
    # a parent counts its children's parameters; the leaves add up to the model's
    leaves = [name for name, m in model.named_modules() if name and not list(m.children())]
    assert sum(int(rows[name][2].replace(",", "")) for name in leaves) == model.n_parameters()
    assert int(rows["features"][2].replace(",", "")) == model.features.n_parameters()


def test_nested_sequential_has_dotted_names_parents_first():
    inner = nn.Sequential(nn.Linear(4, 3, rng=0), nn.ReLU())
    model = nn.Sequential(inner, nn.Sequential(nn.Linear(3, 2, rng=1)), nn.Sigmoid())
    rows = _rows(model.summary((5, 4)))
    assert list(rows) == ["0", "0.0", "0.1", "1", "1.0", "2", "total"]
    assert rows["0"] == ["Sequential", "(5, 3)", "15"]
    assert rows["1.0"] == ["Linear", "(5, 2)", "8"]
    assert rows["total"] == ["Sequential", "(5, 2)", "23"]


def test_modes_are_restored_and_no_wrapper_is_left():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Dropout(0.5, rng=0))
    model[1].eval()  # a mixed state must come back as it was
    model.summary((1, 2))
    assert model.training and model[0].training and not model[1].training
    assert all("forward" not in vars(m) for m in model.modules())


def test_unused_layers_and_tuple_outputs():
    class TwoHeads(nn.Module):
        def __init__(self):
            self.body = nn.Linear(3, 4, rng=0)
            self.spare = nn.Linear(4, 4, rng=1)

        def forward(self, x):
            h = self.body(x)
            return h, h.sum(axis=1)

    rows = _rows(TwoHeads().summary((2, 3)))
    assert rows["spare"][1] == "-"
    assert rows["total"][1] == "[(2, 4), (2,)]"


def test_integer_inputs_follow_dtype():
    model = nn.Sequential(nn.Embedding(10, 3, rng=0), nn.Linear(3, 1, rng=0))
    text = model.summary((2, 5), dtype=np.int64)
    assert text.splitlines()[0] == "Sequential: input (2, 5) int64"
    assert _rows(text)["0"][1] == "(2, 5, 3)"


def test_shape_mismatch_names_the_layer_and_both_shapes():
    model = nn.Sequential(nn.Linear(4, 3, rng=0), nn.Sequential(nn.ReLU(), nn.Linear(5, 2)))
    with pytest.raises(ValueError, match=r"layer 1\.1 \(Linear\).*\(2, 3\)") as info:
        model.summary((2, 4))
    assert "(5, 2)" in str(info.value) or "5" in str(info.value)  # the layer's own message
    assert str(info.value).count("summary:") == 1  # named once, by the innermost layer
    assert all("forward" not in vars(m) for m in model.modules())
    assert model.training


def test_wrong_channels_in_a_cnn_names_the_conv():
    model = CNN((3, 8, 8), 2, channels=(4,), hidden=4, rng=0)
    shown = r"summary: CNN cannot take an input of shape \(1, 1, 8, 8\): CNN: expected images"
    with pytest.raises(ValueError, match=shown):
        model.summary((1, 1, 8, 8))
    model.features[0].in_channels = 2  # now the conv itself refuses
    with pytest.raises(ValueError, match=r"layer features\.0 \(Conv2d\).*\(1, 3, 8, 8\)"):
        model.summary((1, 3, 8, 8))


@pytest.mark.parametrize("shape", [(2.0, 3), "23", (-1, 2), 5])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="summary: input_shape must be"):
        nn.Linear(3, 1).summary(shape)


def test_without_input_shape_the_table_of_parameters_is_unchanged():
    text = nn.Linear(2, 1, rng=0).summary()
    assert text.splitlines()[:2] == ["Linear", "parameter  shape   count"]
