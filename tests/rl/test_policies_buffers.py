"""Exploration schedules and action choice; the replay buffer's ring, sampling and state."""

import numpy as np
import pytest

from theta.rl import ReplayBuffer
from theta.rl.policies import (
    boltzmann,
    constant,
    epsilon_greedy,
    exponential_decay,
    greedy,
    linear_decay,
    make_schedule,
)


@pytest.mark.parametrize("kind", ["constant", "linear", "exponential"])
def test_schedules_are_pure_functions_of_the_step(kind):
    schedule = make_schedule(kind, 1.0, 0.1, 100)
    values = [schedule(t) for t in range(0, 400, 7)]
    assert values == [schedule(t) for t in range(0, 400, 7)]  # no hidden state
    assert values[0] == 1.0
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))  # never increases
    assert all(0.1 <= v <= 1.0 for v in values)


def test_schedule_values():
    assert constant(5, 0.3, 0.0, 10) == 0.3
    assert linear_decay(50, 1.0, 0.0, 100) == 0.5 and linear_decay(10**6, 1.0, 0.2, 100) == 0.2
    assert exponential_decay(0, 1.0, 0.1, 10) == 1.0
    assert exponential_decay(10, 1.0, 0.0, 10) == pytest.approx(np.exp(-1))
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        make_schedule("cosine", 1.0, 0.0, 10)


def test_epsilon_greedy_explores_at_the_rate_epsilon():
    rng = np.random.default_rng(0)
    values = np.array([0.0, 1.0, 0.0, 0.0])
    picks = np.array([epsilon_greedy(values, 0.2, rng) for _ in range(20_000)])
    # greedy 80% of the time, plus a quarter of the random 20%
    assert abs((picks == 1).mean() - 0.85) < 0.01
    assert set(np.unique(picks)) == {0, 1, 2, 3}


def test_greedy_ties():
    values = np.array([1.0, 3.0, 3.0, 3.0])
    assert greedy(values) == 1
    picks = {greedy(values, np.random.default_rng(s)) for s in range(50)}
    assert picks == {1, 2, 3}


def test_boltzmann_follows_the_softmax():
    rng = np.random.default_rng(0)
    values = np.array([0.0, np.log(3.0)])  # probabilities 1/4 and 3/4 at temperature 1
    picks = np.array([boltzmann(values, 1.0, rng) for _ in range(20_000)])
    assert abs(picks.mean() - 0.75) < 0.01
    assert boltzmann(np.array([1e308, 0.0]), 1.0, rng) == 0  # shifted: no overflow
    with pytest.raises(ValueError, match="temperature"):
        boltzmann(values, 0.0, rng)


def test_replay_buffer_is_a_ring_that_keeps_the_latest():
    buffer = ReplayBuffer(4, (2,), rng=0)
    for t in range(10):
        buffer.add([t, -t], t % 3, float(t), [t + 1, 0], t == 9)
    assert len(buffer) == 4 and buffer.position == 2
    assert sorted(buffer.obs[:, 0].tolist()) == [6.0, 7.0, 8.0, 9.0]
    batch = buffer.sample(100)
    assert batch.obs.shape == (100, 2) and batch.obs.dtype == np.float32
    assert set(batch.rewards.tolist()) <= {6.0, 7.0, 8.0, 9.0}
    np.testing.assert_array_equal(batch.next_obs[:, 0], batch.obs[:, 0] + 1)
    np.testing.assert_array_equal(batch.terminated, (batch.obs[:, 0] == 9).astype(np.float32))


def test_replay_sampling_is_seeded():
    def draw(seed):
        buffer = ReplayBuffer(50, (1,), rng=seed)
        for t in range(50):
            buffer.add([t], 0, 0.0, [t], False)
        return buffer.sample(10).obs

    np.testing.assert_array_equal(draw(1), draw(1))
    assert not np.array_equal(draw(1), draw(2))


def test_replay_state_dict_round_trip():
    buffer = ReplayBuffer(8, (3,), rng=0)
    for t in range(11):
        buffer.add(np.full(3, t), 1, 0.5, np.full(3, t + 1), False)
    state = buffer.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    copy = ReplayBuffer(8, (3,), rng=0)
    copy.load_state_dict(state)
    assert (len(copy), copy.position) == (len(buffer), buffer.position)
    np.testing.assert_array_equal(copy.obs, buffer.obs)
    np.testing.assert_array_equal(copy.sample(5).obs, buffer.sample(5).obs)
    with pytest.raises(ValueError, match="capacity 8 .* 4"):
        ReplayBuffer(4, (3,)).load_state_dict(state)


def test_replay_buffer_errors():
    with pytest.raises(ValueError, match="The 'capacity' parameter of ReplayBuffer must be an int in the range \\[1, inf\\)"):  # noqa: E501
        ReplayBuffer(0, (2,))
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, (2,)).sample(1)


def test_replay_buffer_keeps_continuous_actions_as_float_vectors():
    buffer = ReplayBuffer(4, (3,), action_shape=(2,), action_dtype=np.float32, rng=0)
    actions = np.array([[0.25, -1.5], [0.75, 2.0]], dtype=np.float32)
    for i, action in enumerate(actions):
        buffer.add(np.full(3, i), action, 1.0, np.full(3, i + 1), False)
    batch = buffer.sample(8)
    assert batch.actions.shape == (8, 2) and batch.actions.dtype == np.float32
    rows = batch.obs[:, 0].astype(int)  # which transition each sampled row is
    np.testing.assert_array_equal(batch.actions, actions[rows])
    again = ReplayBuffer(4, (3,), action_shape=(2,), action_dtype=np.float32)
    again.load_state_dict(buffer.state_dict())
    np.testing.assert_array_equal(again.actions[:2], actions)
