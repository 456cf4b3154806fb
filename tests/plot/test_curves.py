"""Curves: the loss while training, an agent's returns, a bandit's regret."""

import numpy as np
import pytest

from theta.plot import loss_curve, regret_curve, reward_curve
from theta.train import History

pytest.importorskip("matplotlib")


def test_loss_curve_draws_every_step_and_the_validation_per_epoch(png):
    history = History(step_loss=[33.0, 4.0, 0.5, 0.01], epochs={"val_loss": [2.0, 0.02]})
    figure = loss_curve(history, png("loss"))
    png.check(png("loss"))
    train, val = figure.axes[0].lines
    np.testing.assert_array_equal(train.get_ydata(), history.step_loss)
    assert val.get_xydata().tolist() == [[1, 2.0], [3, 0.02]]  # the last step of each epoch
    assert figure.axes[0].get_yscale() == "log"  # 33 to 0.01 spans > 2 decades


def test_reward_curve_draws_the_moving_average(png):
    returns = np.arange(10.0)
    figure = reward_curve(returns, png("reward"), window=4)
    png.check(png("reward"))
    raw, smooth = figure.axes[0].lines
    np.testing.assert_array_equal(raw.get_ydata(), returns)
    np.testing.assert_allclose(smooth.get_ydata(), np.convolve(returns, np.ones(4) / 4, "valid"))
    assert smooth.get_xdata()[0] == 4  # the first full window ends at episode 4


def test_regret_curves_of_real_bandit_agents_are_monotone(png):
    from theta.rl import UCB1, EpsilonGreedy, MultiArmedBandit

    regrets = {}
    for agent in (UCB1(random_state=0), EpsilonGreedy(epsilon=0.2, random_state=0)):
        agent.learn(MultiArmedBandit([0.1, 0.5, 0.9]), total_steps=300, progress=False)
        regrets[type(agent).__name__] = agent.regret_
    figure = regret_curve(regrets, png("regret"))
    png.check(png("regret"))
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == ["UCB1", "EpsilonGreedy"]
    for line, expected in zip(lines, regrets.values(), strict=True):
        y = line.get_ydata()
        np.testing.assert_array_equal(y, expected)
        assert np.all(np.diff(y) >= 0) and line.get_xdata()[0] == 1
    # a constant epsilon keeps exploring: it ends with more regret than UCB1
    assert lines[1].get_ydata()[-1] > lines[0].get_ydata()[-1]


@pytest.mark.parametrize(
    "regrets, message",
    [({}, "regrets is empty"), ({"a": [[1.0, 2.0]]}, "the regret of 'a' must be 1-D")],
)
def test_regret_curve_errors_name_the_problem(regrets, message, png):
    with pytest.raises(ValueError, match=message):
        regret_curve(regrets, png("bad"))
    assert not png("bad").exists()


def test_the_smoothed_loss_is_the_trailing_mean_over_one_epoch(rng):
    pandas = pytest.importorskip("pandas")
    # three epochs of four steps whose last batch is tiny: a spike at every epoch's end
    losses = np.tile([1.0, 0.9, 0.8, 3.0], 3) * np.repeat([1.0, 0.5, 0.25], 4)
    history = History(step_loss=losses.tolist(), epochs={"loss": [1.0, 0.5, 0.25]})
    figure = loss_curve(history, title="iris · MLP (64,) · loss")
    ax = figure.axes[0]
    raw, smooth = ax.lines
    assert (raw.get_label(), smooth.get_label()) == ("per step", "mean of the last 4 steps")
    np.testing.assert_array_equal(raw.get_ydata(), losses)
    expected = pandas.Series(losses).rolling(4, min_periods=1).mean()
    np.testing.assert_allclose(smooth.get_ydata(), expected, rtol=1e-12)
    assert ax.get_title() == "iris · MLP (64,) · loss"
    # the spikes are gone: from one epoch on, the smoothed curve only goes down
    assert np.all(np.diff(smooth.get_ydata()[3:]) <= 1e-12)


def test_the_smoothed_loss_stays_positive_for_a_loss_near_zero():
    losses = np.geomspace(1e3, 1e-9, 200)  # a sum of differences would lose the small ones
    figure = loss_curve(History(step_loss=losses.tolist()), smooth=10)
    smooth = figure.axes[0].lines[1].get_ydata()
    expected = [losses[max(0, i - 9) : i + 1].mean() for i in range(200)]
    np.testing.assert_allclose(smooth, expected, rtol=1e-9)
    assert figure.axes[0].get_yscale() == "log"


def test_smoothing_is_off_for_a_window_of_one_and_must_be_an_int():
    history = History(step_loss=[3.0, 2.0, 1.0], epochs={"loss": [2.0]})
    assert [ln.get_label() for ln in loss_curve(history, smooth=1).axes[0].lines] == ["per step"]
    with pytest.raises(TypeError, match="loss_curve: smooth must be an int"):
        loss_curve(history, smooth=2.5)
