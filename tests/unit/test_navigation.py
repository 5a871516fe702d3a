"""Sequential-navigation task: the 2nd-order target dynamics and the env that follows them."""

from collections import Counter

import numpy as np
import pytest

from behaviorlab.envs import make_env
from behaviorlab.envs.navigation import SecondOrderTargetSequence


def test_table_rows_are_distributions_with_one_predictable_successor():
    table = SecondOrderTargetSequence(5, predictability=0.9, seed=3)
    for previous in range(5):
        for last in range(5):
            if previous == last:
                continue
            probs = table.probabilities(previous, last)
            assert probs.sum() == pytest.approx(1.0) and probs[last] == 0
            assert probs.max() == pytest.approx(0.9) and sorted(probs)[-2] == pytest.approx(0.1 / 3)
        # For a fixed `last`, the predictable successors of the other targets are all distinct.
    for last in range(5):
        successors = [table.successor[p, last] for p in range(5) if p != last]
        assert sorted(successors) == sorted(t for t in range(5) if t != last)


def _scripted_visits(env, episodes: int) -> list[list[int]]:
    """Drive the point mass to each next target; return the visited sequences."""
    sequences = []
    for episode in range(episodes):
        obs, info = env.reset(seed=episode)
        visited, done = [], False
        while not done:
            relative = obs["targets"].reshape(-1, 2)[info["next_target"]]
            target = info["next_target"]
            obs, reward, terminated, truncated, info = env.step(np.clip(3 * relative - 0.5 * obs["proprio"][2:], -1, 1))
            if reward:
                visited.append(target)
            done = terminated or truncated
        sequences.append(visited)
    return sequences


def test_env_follows_the_table_and_next_target_is_uniform_given_one():
    env = make_env("PointMassNavigation-v0", {"num_targets": 4, "predictability": 0.9, "sequence_seeds": 7,
                                              "max_episode_steps": 2000})
    table = SecondOrderTargetSequence(4, 0.9, seed=7)
    pairs, singles = Counter(), Counter()
    for visited in _scripted_visits(env, episodes=4):
        for previous, last, following in zip(visited, visited[1:], visited[2:]):
            pairs[(previous, last, following)] += 1
            singles[(last, following)] += 1
    assert sum(pairs.values()) > 400
    # Given two targets: the empirical frequency of the predictable successor is ≈ 0.9.
    hits = sum(n for (p, l, f), n in pairs.items() if f == table.successor[p, l])
    assert hits / sum(pairs.values()) == pytest.approx(0.9, abs=0.04)
    # Given one target: each of the 3 other targets follows about equally often (1/3 each).
    for last in range(4):
        counts = np.array([singles[(last, f)] for f in range(4) if f != last], dtype=float)
        assert counts.sum() > 60
        assert np.abs(counts / counts.sum() - 1 / 3).max() < 0.12


def test_sampled_sequence_frequencies_match_the_table():
    table = SecondOrderTargetSequence(4, predictability=0.8, seed=1)
    rng = np.random.default_rng(0)
    previous, last = 0, 1
    pairs, singles = Counter(), Counter()
    for _ in range(60_000):
        following = table.sample_next(rng, previous, last)
        pairs[(previous, last, following)] += 1
        singles[(last, following)] += 1
        previous, last = last, following
    for previous in range(4):
        for last in range(4):
            total = sum(pairs[(previous, last, f)] for f in range(4))
            if previous == last or total == 0:
                continue
            empirical = np.array([pairs[(previous, last, f)] for f in range(4)]) / total
            assert np.abs(empirical - table.probabilities(previous, last)).max() < 0.03
    for last in range(4):
        counts = np.array([singles[(last, f)] for f in range(4)], dtype=float)
        assert counts[last] == 0
        assert np.abs(np.delete(counts, last) / counts.sum() - 1 / 3).max() < 0.02


def test_observation_is_a_dict_and_layout_seed_fixes_targets():
    env = make_env("PointMassNavigation-v0", {"num_targets": 3, "layout_seed": 5})
    first, _ = env.reset(seed=0)
    again, _ = env.reset(seed=1)
    assert env.observation_space.contains(first)
    assert first["next_target"].sum() == 1
    positions = lambda obs: obs["targets"].reshape(-1, 2) + obs["proprio"][:2]  # noqa: E731
    np.testing.assert_allclose(positions(first), positions(again), atol=1e-5)


def test_too_few_targets_is_refused():
    with pytest.raises(ValueError, match="num_targets must be >= 3"):
        SecondOrderTargetSequence(2)


def test_landing_stops_the_mass_at_each_reached_target():
    """With land_on_targets the state after a reach holds the reached target and nothing of the way
    there; without it the mass keeps its velocity."""
    for land in (True, False):
        env = make_env("PointMassNavigation-v0", {"num_targets": 4, "layout_seed": 0, "arena_size": 1.5,
                                                  "target_radius": 0.5, "gear": 8.0, "land_on_targets": land})
        obs, info = env.reset(seed=0)
        arrivals = []
        while len(arrivals) < 5:
            target = info["next_target"]
            relative = obs["targets"].reshape(-1, 2)[target]
            obs, reward, _, truncated, info = env.step(np.clip(3 * relative - 0.3 * obs["proprio"][2:], -1, 1))
            assert not truncated
            if reward:
                arrivals.append((obs["targets"].reshape(-1, 2)[target], obs["proprio"][2:]))
        if land:
            for offset, velocity in arrivals:
                np.testing.assert_allclose(offset, 0.0, atol=1e-6)
                np.testing.assert_allclose(velocity, 0.0, atol=1e-6)
        else:
            assert all(np.linalg.norm(velocity) > 0.1 for _, velocity in arrivals)
