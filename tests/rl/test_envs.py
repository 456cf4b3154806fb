"""theta's bandit on the Gymnasium API, ``make``, the stand-in spaces, and the optional import."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from theta.rl import Box, Discrete, MultiArmedBandit, make
from theta.rl.envs import env_id


def test_bandit_passes_gymnasiums_env_checker():
    gym = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    env = MultiArmedBandit(n_arms=5)
    assert isinstance(env, gym.Env) and isinstance(env, MultiArmedBandit)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    # the only complaint allowed: a directly built env has no registry spec to re-make from
    assert all("spec" in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_bandit_registered_in_gymnasium_passes_the_full_check_including_render():
    gym = pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    MultiArmedBandit()  # building one registers theta/Bandit-v0
    env = gym.make("theta/Bandit-v0", kind="gaussian", n_arms=4, disable_env_checker=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    assert env_id(env) == "theta/Bandit-v0"


def test_step_before_reset_raises():
    env = MultiArmedBandit(n_arms=3)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)


@pytest.mark.parametrize("action", [3, -1, 1.5, "0", True, None])
def test_invalid_actions_name_the_action_and_the_valid_range(action):
    env = MultiArmedBandit(n_arms=3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"invalid action .*\[0, 2\]"):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = MultiArmedBandit(n_arms=3)
    env.reset(seed=0)
    for action in (np.int64(2), np.array(1)):
        env.reset()
        assert env.step(action)[4]["arm"] == int(action)


def test_episode_length_and_step_after_the_end():
    env = MultiArmedBandit(n_arms=2, episode_length=3)
    env.reset(seed=0)
    flags = [env.step(0)[2] for _ in range(3)]
    assert flags == [False, False, True]
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(0)


def test_rewards_follow_the_seed_and_the_arm_means():
    env = MultiArmedBandit([0.1, 0.9])
    env.reset(seed=7)
    first = []
    for _ in range(2000):
        first.append(env.step(1)[1])
        env.reset()
    env.reset(seed=7)
    second = []
    for _ in range(2000):
        second.append(env.step(1)[1])
        env.reset()
    assert first == second
    assert abs(np.mean(first) - 0.9) < 0.03
    gaussian = MultiArmedBandit([2.0, -1.0], kind="gaussian", std=0.5)
    gaussian.reset(seed=0)
    draws = []
    for _ in range(2000):
        draws.append(gaussian.step(0)[1])
        gaussian.reset()
    assert abs(np.mean(draws) - 2.0) < 0.05 and abs(np.std(draws) - 0.5) < 0.05


def test_regret_helpers():
    env = MultiArmedBandit([0.2, 0.5, 0.9])
    assert env.optimal_arm == 2 and env.optimal_mean == 0.9
    np.testing.assert_allclose(env.expected_regret([0, 2, 1]), [0.7, 0.7, 1.1])
    env.reset(seed=0)
    assert env.step(1)[4]["expected_regret"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "poisson"}, "kind"),
        ({"means": [0.5, 1.5]}, r"\[0, 1\]"),
        ({"n_arms": 0}, "n_arms"),
        ({"episode_length": 0}, "episode_length"),
        ({"std": -1.0}, "std"),
        ({"means": [np.nan]}, "finite"),
    ],
)
def test_bad_bandit_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiArmedBandit(**kwargs)


def test_default_means_depend_only_on_means_seed():
    a, b = MultiArmedBandit(means_seed=3), MultiArmedBandit(means_seed=3)
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.array_equal(a.means, MultiArmedBandit(means_seed=4).means)


def test_ansi_render_describes_the_last_pull():
    env = MultiArmedBandit([0.0, 1.0], render_mode="ansi")
    env.reset(seed=0)
    assert "best arm 1" in env.render()
    env.step(1)
    assert env.render().startswith("arm 1 (mean 1) paid 1")
    assert MultiArmedBandit([0.5]).render() is None


def test_make_builds_theta_bandits_and_passes_other_ids_to_gymnasium():
    assert make("Bandit-v0", n_arms=4).n_arms == 4
    assert make("theta/GaussianBandit-v0").kind == "gaussian"
    pytest.importorskip("gymnasium")
    env = make("FrozenLake-v1", is_slippery=False)
    assert env_id(env) == "FrozenLake-v1"


def test_stand_in_spaces():
    space = Discrete(4, seed=0)
    samples = {int(space.sample()) for _ in range(100)}
    assert samples == {0, 1, 2, 3}
    assert 3 in space and 4 not in space and not space.contains(1.0)
    box = Box(-1.0, 1.0, shape=(3,), seed=0)
    assert box.contains(box.sample()) and not box.contains(np.full(3, 2.0))


def test_theta_rl_works_without_gymnasium():
    probe = (
        "import sys\n"
        "sys.modules['gymnasium'] = None  # as if it were not installed\n"
        "from theta.rl import MultiArmedBandit, UCB1, make\n"
        "env = MultiArmedBandit([0.1, 0.9])\n"
        "print(type(env.action_space).__module__)\n"
        "print(UCB1().learn(env, total_steps=200).predict(0))\n"
        "try:\n"
        "    make('CartPole-v1')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "theta.rl.envs"
    assert lines[1] == "1"
    assert "pip install 'theta-ml[rl]'" in lines[2]


def test_importing_theta_rl_does_not_import_gymnasium():
    probe = "import sys, theta.rl, theta.cli\nprint('gymnasium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
