"""Causal-confusion envs: the previous-action slot (confounded = the action just taken, original =
independent of it), the recorded-episode slots that match the wrapper, rich starts and the registry."""

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.envs import EnvConfigError, check_env_config, env_info, make_env, registered_envs
from behaviorlab.envs.confounded import PreviousActionObservation, previous_action_slots


def _play(env, actions, seed=0):
    obs, _ = env.reset(seed=seed)
    observations = [obs]
    for action in actions:
        observations.append(env.step(action)[0])
    return np.array(observations)


def test_confounded_slot_is_the_one_hot_of_the_previous_action():
    actions = [2, 2, 0, 1, 1, 0]
    obs = _play(make_env("Confounded-MountainCar-v0"), actions)
    assert obs.shape == (7, 5)
    np.testing.assert_array_equal(obs[0, 2:], [0, 0, 0])
    np.testing.assert_array_equal(obs[1:, 2:], np.eye(3)[actions])
    # The first two entries are MountainCar's own state.
    base = _play(gym.make("MountainCar-v0"), actions)
    np.testing.assert_allclose(obs[:, :2], base, rtol=1e-6)


def test_original_slot_is_a_random_one_hot_independent_of_the_actions():
    env = make_env("Original-MountainCar-v0")
    constant = _play(env, [2] * 300)[1:, 2:]
    assert (constant.sum(1) == 1).all()
    counts = constant.sum(0)
    assert counts.min() > 60  # uniform over 3 actions, not the action taken (always 2)
    # Same seed: the same slots whatever the actions; another seed: other slots.
    other_actions = _play(env, [0] * 300)[1:, 2:]
    np.testing.assert_array_equal(constant, other_actions)
    assert not np.array_equal(constant, _play(env, [2] * 300, seed=1)[1:, 2:])


def test_continuous_actions_fill_the_slot_clipped_to_the_box():
    env = PreviousActionObservation(gym.make("MountainCarContinuous-v0"), mode="confounded")
    assert env.observation_space.shape == (3,)
    obs = _play(env, [np.array([0.5], np.float32), np.array([3.0], np.float32)])
    np.testing.assert_allclose(obs[:, 2], [0.0, 0.5, 1.0])
    original = PreviousActionObservation(gym.make("MountainCarContinuous-v0"), mode="original")
    slots = _play(original, [np.array([1.0], np.float32)] * 50)[1:, 2]
    assert -1 <= slots.min() < 0 < slots.max() <= 1 and len(set(slots)) == 50


def test_recorded_slots_match_the_wrapper():
    actions = np.array([2, 0, 0, 1, 2, 1])
    starts = np.array([True, False, False, True, False, False])
    space = gym.spaces.Discrete(3)
    slots = previous_action_slots(actions, starts, space, "confounded", np.random.default_rng(0))
    np.testing.assert_array_equal(slots, [[0, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]])
    random_slots = previous_action_slots(actions, starts, space, "original", np.random.default_rng(0))
    np.testing.assert_array_equal(random_slots[starts], 0)
    assert (random_slots[~starts].sum(1) == 1).all()
    # The wrapper's episode, re-encoded from its base observations and actions, gives its own slots.
    played = _play(make_env("Confounded-MountainCar-v0"), list(actions))[:-1]
    rebuilt = previous_action_slots(actions, np.eye(1, 6, 0, bool)[0], space, "confounded", np.random.default_rng())
    np.testing.assert_array_equal(played[:, 2:], rebuilt)


def test_rich_starts_and_shaped_reward():
    env = make_env("RichStart-MountainCar-v0", {"shaping": "height"})
    starts = np.array([env.reset(seed=seed)[0] for seed in range(200)])
    assert -1.0 <= starts[:, 0].min() < -0.8 and 0.3 < starts[:, 0].max() <= 0.5
    assert np.abs(starts[:, 1]).max() <= 0.07 and starts[:, 1].std() > 0.03
    obs, reward, *_ = env.step(1)
    assert reward == pytest.approx(-1 + 0.5 * (0.45 * np.sin(3 * obs[0]) + 0.55))
    energy = make_env("RichStart-MountainCar-v0", {"shaping": "energy"})
    first = energy.reset(seed=0)[0]
    second, reward, *_ = energy.step(2)
    potential = lambda o: 1e4 * (0.5 * o[1] ** 2 + 0.0025 / 3 * np.sin(3 * o[0]))  # noqa: E731
    assert reward == pytest.approx(-1 + 0.99 * potential(second) - potential(first))
    standard = make_env("Original-MountainCar-v0").reset(seed=0)[0]
    assert -0.6 <= standard[0] <= -0.4 and standard[1] == 0


def test_registry_lists_the_pairs_and_checks_their_env_config():
    envs = registered_envs()
    for base in ("MountainCar-v0", "CartPole-v1", "Hopper-v5"):
        assert envs[f"Confounded-{base}"] == envs[f"Original-{base}"] == "causal confusion"
    assert env_info("Confounded-Hopper-v5").family == "causal confusion"
    assert make_env("Confounded-Hopper-v5").observation_space.shape == (11 + 3,)
    with pytest.raises(EnvConfigError, match="did you mean 'rich_starts'"):
        check_env_config("Original-MountainCar-v0", {"rich_start": True})
    with pytest.raises(ValueError, match="mode 'both'"):
        PreviousActionObservation(gym.make("CartPole-v1"), mode="both")


def test_pumping_expert_pushes_along_the_velocity_and_reaches_the_goal():
    from behaviorlab.envs.confounded import mountain_car_pumping_expert
    from behaviorlab.platform.policy import rollout

    assert mountain_car_pumping_expert(np.array([[-0.5, 0.01], [0.2, -0.01], [-0.5, 0.0]])).tolist() == [2, 0, 2]
    episode = rollout(gym.make("MountainCar-v0"), lambda o: int(mountain_car_pumping_expert(o[None])[0]), seed=0)
    assert episode.terminated and -130 < episode.episode_return < -100
