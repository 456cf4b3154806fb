"""Curves: the loss while training, an agent's returns, a bandit's regret."""

import numpy as np
import pytest

from theta.plot import loss_curve, regret_curve, reward_curve
from theta.train import History

pytest.importorskip("matplotlib")


def test_loss_curve_draws_every_step_and_the_validation_per_epoch(png):
    history = History(step_loss=[33.0, 4.0, 0.5, 0.01], epochs={"val_loss": [2.0, 0.02]})
    picture = loss_curve(history, png("loss"))
    png.check(picture.path)
    train, val = picture.figure.axes[0].lines
    np.testing.assert_array_equal(train.get_ydata(), history.step_loss)
    assert val.get_xydata().tolist() == [[1, 2.0], [3, 0.02]]  # the last step of each epoch
    assert picture.figure.axes[0].get_yscale() == "log"  # 33 to 0.01 spans > 2 decades


def test_reward_curve_draws_the_moving_average(png):
    returns = np.arange(10.0)
    picture = reward_curve(returns, png("reward"), window=4)
    png.check(picture)  # a Picture is path-like
    raw, smooth = picture.figure.axes[0].lines
    np.testing.assert_array_equal(raw.get_ydata(), returns)
    np.testing.assert_allclose(smooth.get_ydata(), np.convolve(returns, np.ones(4) / 4, "valid"))
    assert smooth.get_xdata()[0] == 4  # the first full window ends at episode 4


def test_regret_curves_of_real_bandit_agents_are_monotone(png):
    from theta.rl import UCB1, EpsilonGreedy, MultiArmedBandit

    regrets = {}
    for agent in (UCB1(random_state=0), EpsilonGreedy(epsilon=0.2, random_state=0)):
        agent.learn(MultiArmedBandit([0.1, 0.5, 0.9]), total_steps=300, progress=False)
        regrets[type(agent).__name__] = agent.regret_
    picture = regret_curve(regrets, png("regret"))
    png.check(picture.path)
    lines = picture.figure.axes[0].lines
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
