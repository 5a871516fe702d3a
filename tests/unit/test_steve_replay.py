"""STEVE's transition replay: the transitions it holds are those RLlib's episode buffer replays
(episode chunks as EnvRunners cut them, a truncation not terminal), drawn uniformly."""

import gymnasium as gym
import numpy as np
import pytest
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.replay_buffers.episode_replay_buffer import EpisodeReplayBuffer

from behaviorlab.algorithms.steve.replay import TransitionReplay

SPACE = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)


def _chunks(start: float, steps: int, cut_every: int, terminated: bool) -> list[SingleAgentEpisode]:
    """One episode whose observation at t is [start + t, -(start + t)], cut into chunks as an
    EnvRunner does every `cut_every` steps."""
    chunks, episode = [], SingleAgentEpisode(observations=[np.array([start, -start], np.float32)],
                                             observation_space=SPACE, action_space=SPACE)
    for t in range(1, steps + 1):
        last = t == steps
        episode.add_env_step(np.array([start + t, -(start + t)], np.float32), np.array([t, 0.5], np.float32),
                             reward=start + t, terminated=last and terminated, truncated=last and not terminated)
        if last or t % cut_every == 0:
            chunks.append(episode)
            episode = episode.cut() if not last else None
    chunks = [chunk.to_numpy() for chunk in chunks]
    return chunks


def _rows(obs, actions, rewards, next_obs, terminateds):
    return sorted(zip(map(tuple, np.asarray(obs).tolist()), map(tuple, np.asarray(actions).tolist()),
                      np.asarray(rewards).tolist(), map(tuple, np.asarray(next_obs).tolist()),
                      np.asarray(terminateds, float).tolist()))


def test_holds_the_transitions_rllib_replays():
    chunks = _chunks(0.0, 7, cut_every=3, terminated=True) + _chunks(100.0, 5, cut_every=3, terminated=False)
    replay, rllib = TransitionReplay(capacity=100, seed=0), EpisodeReplayBuffer(capacity=100)
    rllib.rng = np.random.default_rng(0)
    for chunk in chunks:
        replay.add(chunk.get_observations(), chunk.get_actions(), chunk.get_rewards(), chunk.is_terminated)
        rllib.add([chunk])
    assert replay.size == 12
    ours = _rows(*(replay._arrays[name][:replay.size] for name in ("obs", "actions", "rewards", "next_obs",
                                                                   "terminateds")))
    sampled = rllib.sample(num_items=150, n_step=1, gamma=0.99, sample_episodes=True)
    theirs = set(_rows(np.concatenate([e.get_observations()[:1] for e in sampled]),
                       np.concatenate([e.get_actions() for e in sampled]),
                       np.concatenate([e.get_rewards() for e in sampled]),
                       np.concatenate([e.get_observations()[-1:] for e in sampled]),
                       [e.is_terminated for e in sampled]))
    assert theirs == set(ours)  # 150 draws of 12 transitions cover all of them
    # Only the real termination is terminal: the truncated episode's last step is not.
    terminal = [row for row in ours if row[4] == 1.0]
    assert terminal == [((6.0, -6.0), (7.0, 0.5), 7.0, (7.0, -7.0), 1.0)]


def test_draws_uniformly_and_drops_the_oldest_at_capacity():
    replay = TransitionReplay(capacity=4, seed=0)
    replay.add(np.arange(7, dtype=np.float32)[:, None], np.zeros((6, 1)), np.arange(6), terminated=False)
    assert replay.size == 4
    assert sorted(replay._arrays["rewards"].tolist()) == [2, 3, 4, 5]  # 0 and 1 went first
    counts = np.bincount(replay.sample(40_000)["rewards"].astype(int), minlength=6)
    assert counts[:2].tolist() == [0, 0]
    np.testing.assert_allclose(counts[2:] / 40_000, 0.25, atol=0.01)
    with pytest.raises(ValueError, match="observations"):
        replay.add(np.zeros((3, 1)), np.zeros((3, 1)), np.zeros(3), terminated=False)
    with pytest.raises(ValueError, match="empty"):
        TransitionReplay(capacity=4).sample(1)


def test_config_refuses_a_prioritized_buffer():
    from behaviorlab.algorithms.steve.config import STEVEConfig

    config = STEVEConfig().environment("Pendulum-v1").training(
        replay_buffer_config={"type": "PrioritizedEpisodeReplayBuffer"})
    with pytest.raises(ValueError, match="replays uniformly"):
        config.validate()
    STEVEConfig().environment("Pendulum-v1").validate()
