"""The platform's one behaviour-cloning loss and its expert-data loader."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from behaviorlab.algorithms.common.bc import behaviour_cloning_loss, expert_data_problem, load_expert_data
from behaviorlab.envs.datasets import DatasetError, TrajectoryWriter


def test_discrete_loss_is_the_cross_entropy_ptgm_pretrains_with():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    actions = torch.tensor([0, 2])
    expected = -(torch.log_softmax(logits, -1)[0, 0] + math.log(1 / 3)) / 2
    assert behaviour_cloning_loss(logits, actions).item() == pytest.approx(expected.item())
    assert behaviour_cloning_loss(logits, actions).item() == pytest.approx(F.cross_entropy(logits, actions).item())
    from ray.rllib.models.torch.torch_distributions import TorchCategorical

    assert behaviour_cloning_loss(logits, actions, TorchCategorical).item() == pytest.approx(expected.item())


def test_continuous_loss_is_the_gaussian_negative_log_likelihood():
    from ray.rllib.models.torch.torch_distributions import TorchDiagGaussian

    inputs = torch.tensor([[0.5, math.log(2.0)]])  # mean 0.5, log std log 2
    action = torch.tensor([[1.5]])
    expected = 0.5 * (1.0 / 2.0) ** 2 + math.log(2.0) + 0.5 * math.log(2 * math.pi)
    assert behaviour_cloning_loss(inputs, action, TorchDiagGaussian).item() == pytest.approx(expected, rel=1e-5)


def dataset(path, episodes=3, steps=4, action=lambda i, t: np.int64(t % 2), obs_shape=(4,)):
    with TrajectoryWriter(path) as writer:
        for i in range(episodes):
            for t in range(steps):
                writer.add_step(np.full(obs_shape, i, np.float32), action(i, t), reward=float(i))
            writer.end_episode(terminated=False)
    return path


def test_expert_data_takes_the_first_n_episodes(tmp_path):
    data = load_expert_data(dataset(tmp_path / "d"), 2)
    assert data.num_trajectories == 2 and len(data) == 8
    assert set(data.obs[:, 0]) == {0.0, 1.0}
    assert data.actions.dtype == np.int64 and list(data.episode_returns) == [0.0, 4.0]
    assert len(load_expert_data(tmp_path / "d", 0)) == 12  # 0 = all


def test_expert_data_problems_are_one_line_with_a_fix(tmp_path):
    assert "no such dataset" in expert_data_problem(tmp_path / "missing", 1)[0]
    problem, fix = expert_data_problem(dataset(tmp_path / "d"), 5)
    assert "holds 3 trajectories, 5 asked for" in problem and "num_expert_trajectories" in fix
    with pytest.raises(DatasetError, match="holds 3 trajectories"):
        load_expert_data(tmp_path / "d", 5)
    assert expert_data_problem(tmp_path / "d", 3) is None


def test_expert_data_must_fit_the_envs_spaces(tmp_path):
    data = load_expert_data(dataset(tmp_path / "d"))
    data.check_spaces(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2))
    with pytest.raises(DatasetError, match="observations of shape"):
        data.check_spaces(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2))
    with pytest.raises(DatasetError, match="do not fit"):
        data.check_spaces(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Box(-1, 1, (2,)))


def test_box_actions_are_mapped_to_the_policys_normalised_space(tmp_path):
    data = load_expert_data(dataset(tmp_path / "d", action=lambda i, t: np.array([2.0 * (t % 2)], np.float32)))
    space = gym.spaces.Box(-2.0, 2.0, (1,))
    assert set(data.in_policy_space(space, normalize_actions=True).actions[:, 0]) == {0.0, 1.0}
    assert data.in_policy_space(space, normalize_actions=False) is data
