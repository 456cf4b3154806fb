"""The confusion matrix (against theta.metrics) and attention maps (against the weights)."""

import numpy as np
import pytest

from theta import metrics
from theta.models import GPT
from theta.plot import attention_map, confusion_matrix

pytest.importorskip("matplotlib")


def _cell_texts(figure, n):
    return np.array([int(t.get_text()) for t in figure.axes[0].texts]).reshape(n, n)


def test_confusion_matrix_cells_equal_theta_metrics(rng, png):
    y_true = rng.integers(0, 4, size=200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, size=200))
    figure = confusion_matrix(y_true, y_pred, png("confusion"))
    png.check(png("confusion"))
    expected = metrics.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(_cell_texts(figure, 4), expected)
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), expected)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3"]
    accuracy = np.trace(expected) / 200
    assert ax.get_title() == f"confusion matrix (accuracy {accuracy:.3f})"


def test_confusion_matrix_with_string_labels_in_a_given_order(png):
    y_true = ["cat", "dog", "bird", "dog", "cat"]
    y_pred = ["cat", "cat", "bird", "dog", "dog"]
    order = ["dog", "cat", "bird"]
    figure = confusion_matrix(y_true, y_pred, png("animals"), labels=order)
    expected = metrics.confusion_matrix(y_true, y_pred, labels=order)
    np.testing.assert_array_equal(_cell_texts(figure, 3), expected)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == order


def test_attention_map_draws_each_head(rng, png):
    weights = rng.random((3, 5, 5))
    weights /= weights.sum(axis=-1, keepdims=True)
    figure = attention_map(weights, list("a b\nc"), png("attention"))
    png.check(png("attention"))
    for h in range(3):
        np.testing.assert_allclose(figure.axes[h].images[0].get_array(), weights[h])
        assert figure.axes[h].get_title() == f"head {h}"
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["a", "␣", "b", "⏎", "c"]  # blanks made visible


def test_attention_map_of_a_gpt_is_causal(png):
    model = GPT(vocab_size=12, block_size=8, n_layer=2, n_heads=2, n_embd=8, rng=0)
    ids = np.array([[3, 1, 4, 1, 5, 9]])
    weights = model.attention_weights(ids)[0]  # (nh, T, T)
    figure = attention_map(weights, [str(i) for i in ids[0]], png("gpt"))
    drawn = np.stack([figure.axes[h].images[0].get_array() for h in range(2)])
    np.testing.assert_allclose(drawn.sum(axis=-1), 1.0, rtol=1e-6)
    assert np.all(np.triu(drawn, k=1) == 0)  # no position looks ahead


@pytest.mark.parametrize(
    "weights, tokens, message",
    [
        (np.ones((2, 3)), ["a", "b"], r"\(T, T\) or \(n_heads, T, T\) with T = 2"),
        (np.ones((3, 3)), ["a", "b"], "with T = 2"),
        (np.ones((1, 1, 2, 2)), ["a", "b"], "got \\(1, 1, 2, 2\\)"),
        (np.full((2, 2), np.nan), ["a", "b"], "must be finite"),
    ],
)
def test_attention_map_errors(weights, tokens, message, png):
    with pytest.raises(ValueError, match=message):
        attention_map(weights, tokens, png("bad"))


def test_attention_heads_sit_in_a_grid_each_panel_labelled(rng):
    weights = rng.random((4, 6, 6))
    weights /= weights.sum(axis=-1, keepdims=True)
    tokens = ["the", "cat", "sat", "on", "a", "mat"]
    figure = attention_map(weights, tokens, title="toy · GPT · attention")
    heads = figure.axes[:4]  # the fifth axes is the colour bar
    rows_cols = {ax.get_subplotspec().get_geometry()[:2] for ax in heads}
    assert rows_cols == {(2, 2)}
    for ax in heads:
        assert [t.get_text() for t in ax.get_xticklabels()] == tokens
        assert [t.get_text() for t in ax.get_yticklabels()] == tokens
        assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())  # words stand up
        assert all(t.get_fontsize() >= 9 for t in ax.get_xticklabels())
    assert [ax.get_xlabel() != "" for ax in heads] == [False, False, True, True]
    assert [ax.get_ylabel() != "" for ax in heads] == [True, False, True, False]
    assert figure.get_suptitle() == "toy · GPT · attention"


def test_a_long_text_labels_every_kth_token():
    T = 100
    weights = np.tril(np.ones((T, T)))
    weights /= weights.sum(axis=-1, keepdims=True)
    tokens = [chr(ord("a") + i % 26) for i in range(T)]
    ax = attention_map(weights, tokens).axes[0]
    ticks = ax.get_xticks()
    np.testing.assert_array_equal(ticks, np.arange(0, T, 3))  # ceil(100 / 48) = 3
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens[::3]
