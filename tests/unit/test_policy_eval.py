"""Evaluation of a trained policy: the env it plays (Atari's score-changing options off), success
detection, per-episode seeding and the mp4 files of `--video`; no Ray."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.platform.policy import (PolicyError, episode_success, evaluate_episodes,
                                         evaluation_env_config)


def test_atari_evaluation_switches_off_life_loss_and_reward_sign_and_keeps_the_rest():
    config, note = evaluation_env_config("ALE/Pong-v5", {"episodic_life": True, "clip_rewards": True,
                                                         "frame_stack": 2})
    assert config == {"episodic_life": False, "clip_rewards": False, "frame_stack": 2}
    assert "switched off: episodic_life, clip_rewards" in note
    assert "frame_stack=2" in note and "noop_max=30" in note and "sticky_actions=0.25" in note


def test_atari_without_score_changing_options_says_so_and_plain_envs_are_unchanged():
    config, note = evaluation_env_config("ALE/Pong-v5", {})
    assert config == {"episodic_life": False, "clip_rewards": False}
    assert "no life-loss or reward-sign wrapper" in note
    _, plain = evaluation_env_config("ALE/Pong-v5", {"preprocess": False})
    assert "no preprocessing" in plain
    assert evaluation_env_config("CartPole-v1", {"sutton_barto_reward": True})[0] == {"sutton_barto_reward": True}


@pytest.mark.parametrize("env_id, info, terminated, reward, expected", [
    ("MyEnv-v0", {"is_success": 1.0}, False, 0.0, True),
    ("MyEnv-v0", {"success": False}, True, 1.0, False),
    ("BabyAI-GoToLocal-v0", {}, True, 0.6, True),
    ("BabyAI-GoToLocal-v0", {}, False, 0.0, False),  # time limit
    ("CartPole-v1", {}, True, 1.0, None),
])
def test_episode_success(env_id, info, terminated, reward, expected):
    assert episode_success(env_id, info, terminated, reward) is expected


class AlwaysLeft:
    """Stands in for a Policy: the evaluation loop needs only check_env and act_batch."""

    def check_env(self, env, env_id):
        pass

    def act_batch(self, obs, greedy=True):
        return np.zeros(len(obs), dtype=np.int64)


def _played_alone(seed: int) -> float:
    env = gym.make("CartPole-v1")
    env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(0)
        total, done = total + reward, terminated or truncated
    return total


def test_episodes_are_seeded_one_by_one_side_by_side_and_into_videos(tmp_path):
    expected = [_played_alone(seed) for seed in (5, 6, 7)]
    side_by_side = evaluate_episodes(AlwaysLeft(), "CartPole-v1", 3, seed=5)
    assert side_by_side.returns.tolist() == expected and side_by_side.successes is None
    recorded = evaluate_episodes(AlwaysLeft(), "CartPole-v1", 3, seed=5, video_dir=tmp_path / "videos")
    assert recorded.returns.tolist() == expected
    videos = sorted(p.name for p in (tmp_path / "videos").iterdir())
    assert videos == ["eval-episode-0.mp4", "eval-episode-1.mp4", "eval-episode-2.mp4"]
    assert all((tmp_path / "videos" / name).stat().st_size > 1000 for name in videos)


def test_video_of_an_env_that_cannot_render_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="cannot record video"):
        evaluate_episodes(AlwaysLeft(), "RandomMDP-v0", 1, video_dir=tmp_path)


class _Module:
    """An RLModule's acting surface: its inference pass gives logits, or actions (DQN, STEVE)."""

    def __init__(self, output: str):
        self.output = output
        self.observation_space = gym.spaces.Box(-1, 1, (2,))
        self.action_space = gym.spaces.Discrete(3)

    def forward_inference(self, batch):
        import torch
        from ray.rllib.core.columns import Columns

        rows = len(batch[Columns.OBS])
        if self.output == "actions":
            return {Columns.ACTIONS: torch.full((rows,), 2)}
        return {Columns.ACTION_DIST_INPUTS: torch.tensor([[0.0, 1.0, -50.0]]).repeat(rows, 1)}

    def get_inference_action_dist_cls(self):
        from ray.rllib.models.torch.torch_distributions import TorchCategorical

        return TorchCategorical


def test_acting_from_the_inference_distribution_or_the_modules_own_actions():
    from pathlib import Path

    from behaviorlab.platform.policy import Policy

    obs = np.zeros((400, 2), np.float32)
    logits = Policy(_Module("logits"), Path("c"))
    assert logits.act_batch(obs, greedy=True).tolist() == [1] * 400
    sampled = logits.act_batch(obs, greedy=False)
    assert set(sampled.tolist()) == {0, 1} and 40 < (sampled == 0).sum() < 180  # p(0) = 1 / (1 + e) ≈ 0.27: 107 ± 9
    assert not logits.outputs_actions
    actions = Policy(_Module("actions"), Path("c"))
    assert actions.act_batch(obs, greedy=False).tolist() == [2] * 400 and actions.outputs_actions
