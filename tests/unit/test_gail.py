"""GAIL's contract functions against hand-computed values, and its learner without Ray: where the
GAIL reward goes, that the env's reward stays in the episodes, that D never reaches EnvRunners."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from behaviorlab.algorithms.gail.losses import discriminator_loss, gail_reward
from behaviorlab.envs.datasets import TrajectoryWriter


def test_gail_reward_is_minus_log_d_with_d_the_probability_of_the_policy():
    logits = torch.tensor([0.0, math.log(3.0), -math.log(3.0), 30.0, -30.0])
    # D = sigmoid(logits) = 0.5, 0.75, 0.25, ≈1, ≈0  →  −log D
    expected = torch.tensor([math.log(2.0), -math.log(0.75), -math.log(0.25), 0.0, 30.0])
    assert torch.allclose(gail_reward(logits), expected, atol=1e-6)
    assert gail_reward(torch.tensor([-100.0])).isfinite().all()  # stable where D → 0


def test_discriminator_loss_labels_policy_1_and_expert_0():
    policy = torch.tensor([0.0, math.log(3.0)])  # D = 0.5, 0.75 on policy samples: −log D
    expert = torch.tensor([math.log(3.0)])  # D = 0.75 on an expert sample: −log(1 − D)
    expected = (math.log(2.0) - math.log(0.75) - math.log(0.25)) / 3
    assert discriminator_loss(policy, expert).item() == pytest.approx(expected, abs=1e-6)
    # A D that is right on both sides has a lower loss than one that swaps them.
    assert discriminator_loss(torch.tensor([5.0]), torch.tensor([-5.0])) < discriminator_loss(torch.tensor([-5.0]),
                                                                                           torch.tensor([5.0]))


def test_merge_moments_equals_the_moments_of_all_rows_for_any_split():
    from behaviorlab.algorithms.gail.module import merge_moments

    rows = torch.tensor([[1.0, -2.0], [3.0, 0.0], [5.0, 2.0], [7.0, 4.0], [9.0, 6.0]], dtype=torch.float64)
    mean, var, count = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), torch.tensor(0.0,
                                                                                                            dtype=torch.float64)
    for part in (rows[:1], rows[1:4], rows[4:]):
        mean, var, count = merge_moments(mean, var, count, part)
    # By hand: column 0 is 1, 3, 5, 7, 9 → mean 5, population variance (16+4+0+4+16)/5 = 8; column 1 = column 0 − 3.
    assert torch.allclose(mean, torch.tensor([5.0, 2.0], dtype=torch.float64))
    assert torch.allclose(var, torch.tensor([8.0, 8.0], dtype=torch.float64))
    assert count.item() == 5


def write_demonstrations(path, episodes=2, steps=20, seed=0):
    """CartPole-v1 episodes of random actions, in the platform's trajectory format."""
    env = gym.make("CartPole-v1")
    rng = np.random.default_rng(seed)
    with TrajectoryWriter(path) as writer:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            for _ in range(steps):
                action = int(rng.integers(2))
                writer.add_step(obs, np.int64(action), reward=1.0)
                obs, *_ = env.step(action)
                obs = obs if abs(obs[2]) < 0.2 else env.reset()[0]
            writer.end_episode(terminated=False)
    return path


def gail_config(expert_data, **training):
    from behaviorlab.algorithms.gail.config import GAILConfig

    return (GAILConfig().environment("CartPole-v1")
            .training(expert_data=str(expert_data), disc_minibatch_size=16, **training).debugging(seed=0))


def episodes(count=2, steps=15):
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    env = gym.make("CartPole-v1")
    made = []
    for index in range(count):
        episode = SingleAgentEpisode()
        obs, _ = env.reset(seed=index)
        episode.add_env_reset(observation=obs)
        for step in range(steps):
            action = step % 2
            obs, reward, terminated, _, _ = env.step(action)
            episode.add_env_step(observation=obs, action=action, reward=reward, terminated=terminated,
                                 truncated=step == steps - 1 and not terminated)
            if terminated:
                break
        made.append(episode.to_numpy())
    return made


@pytest.fixture
def learner(tmp_path):
    from ray.rllib.core import DEFAULT_MODULE_ID

    config = gail_config(write_demonstrations(tmp_path / "expert"))
    env = gym.make("CartPole-v1")
    return config.build_learner(spaces={DEFAULT_MODULE_ID: (env.observation_space, env.action_space)})


def test_reward_connector_sits_right_before_gae_and_writes_the_updated_ds_reward(learner):
    from ray.rllib.connectors.learner import GeneralAdvantageEstimation
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.learner.training_data import TrainingData

    from behaviorlab.algorithms.gail.learner import GAILReward
    from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID

    pieces = [type(piece) for piece in learner._learner_connector.connectors]
    assert pieces.index(GAILReward) == pieces.index(GeneralAdvantageEstimation) - 1

    played = episodes()
    env_rewards = [np.asarray(e.get_rewards()).copy() for e in played]
    discriminator = learner.module[DISCRIMINATOR_ID]
    before = [p.detach().clone() for p in discriminator.parameters()]
    batch = learner._make_batch_if_necessary(TrainingData(episodes=played))
    assert any(not torch.equal(a, b) for a, b in zip(before, discriminator.parameters())), "no D step before the rewards"

    policy_batch = batch.policy_batches[DEFAULT_MODULE_ID]
    mask = policy_batch[Columns.LOSS_MASK].bool()
    with torch.no_grad():  # the rewards come from D after its update (w_{i+1})
        expected = gail_reward(discriminator.logits(policy_batch[Columns.OBS], policy_batch[Columns.ACTIONS]))
    assert torch.allclose(policy_batch[Columns.REWARDS][mask], expected[mask])
    assert (policy_batch[Columns.REWARDS][~mask] == 0).all()  # PPO's bootstrap step earns nothing
    assert not torch.allclose(policy_batch[Columns.REWARDS][mask], torch.ones(int(mask.sum())))
    # GAE computed its advantages from those rewards, and the episodes keep the env's reward (the
    # EnvRunners' episode_return_mean is computed from them; PPO appended its 0-reward bootstrap step).
    assert Columns.ADVANTAGES in policy_batch
    for before, episode in zip(env_rewards, played):
        assert np.array_equal(np.asarray(episode.get_rewards())[:len(before)], before)
    metrics = learner.metrics.reduce()
    assert {"accuracy_policy", "accuracy_expert", "loss"} <= set(metrics[DISCRIMINATOR_ID])
    assert "gail_reward_mean" in metrics[DEFAULT_MODULE_ID]


def test_discriminator_is_in_the_learner_state_and_never_on_env_runners(learner):
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID

    assert DISCRIMINATOR_ID in learner.get_state()["rl_module"]  # so RLlib checkpoints hold it
    runner = SingleAgentEnvRunner(config=learner.config)
    try:
        module = runner.module
        modules = module.keys() if isinstance(module, MultiRLModule) else [DEFAULT_MODULE_ID]
        assert DISCRIMINATOR_ID not in modules
        assert not any("discriminator" in name or name.startswith("net.") for name, _ in module.named_parameters())
        assert type(module).__name__ == "DefaultPPOTorchRLModule"
    finally:
        runner.stop()


def test_shuffled_labels_control_trains_d_on_random_labels(tmp_path):
    """With shuffled labels D cannot learn who is the expert: its policy/expert logits stay close."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID

    env = gym.make("CartPole-v1")
    spaces = {DEFAULT_MODULE_ID: (env.observation_space, env.action_space)}
    expert = write_demonstrations(tmp_path / "expert", episodes=4, steps=50)
    gaps = {}
    for shuffle in (False, True):
        learner = gail_config(expert, shuffle_disc_labels=shuffle, disc_steps_per_iteration=200,
                              disc_lr=3e-3).build_learner(spaces=spaces)
        policy_obs = np.tile(np.array([[0.0, 0.0, 0.15, 0.0]], np.float32), (64, 1))  # off the expert's states
        policy_actions = np.ones(64, np.int64)
        learner.update_discriminator(policy_obs, policy_actions)
        d = learner.module[DISCRIMINATOR_ID]
        with torch.no_grad():
            gaps[shuffle] = (d.logits(torch.as_tensor(policy_obs), torch.as_tensor(policy_actions)).mean()
                             - d.logits(torch.as_tensor(learner._expert.obs), torch.as_tensor(learner._expert.actions)).mean()).item()
    assert gaps[False] > 2.0 and abs(gaps[True]) < 1.0, gaps


def test_d_standardises_observations_with_statistics_fixed_for_its_steps_and_the_rewards(tmp_path):
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.learner.training_data import TrainingData

    from behaviorlab.algorithms.gail.learner import _policy_pairs
    from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID

    config = gail_config(write_demonstrations(tmp_path / "expert"), disc_normalize_obs=True)
    env = gym.make("CartPole-v1")
    learner = config.build_learner(spaces={DEFAULT_MODULE_ID: (env.observation_space, env.action_space)})
    discriminator = learner.module[DISCRIMINATOR_ID].unwrapped()
    played = episodes()
    policy_obs = _policy_pairs(played)[0]
    learner._make_batch_if_necessary(TrainingData(episodes=played))
    norm = discriminator.obs_norm
    # One update per iteration: the policy's observations and as many expert ones, equally weighted.
    assert norm.count.item() == 2 * len(policy_obs)
    seen_policy_mean = torch.as_tensor(policy_obs, dtype=torch.float64).mean(0)
    assert not torch.allclose(norm.mean, seen_policy_mean)  # the expert's half moved it
    standardised = norm(torch.as_tensor(policy_obs))
    expected = (torch.as_tensor(policy_obs, dtype=torch.float64) - norm.mean) / torch.sqrt(norm.var + norm.epsilon)
    assert torch.allclose(standardised, expected.float(), atol=1e-6)
    # The statistics are buffers: they travel in the learner's state (checkpoints) with D's weights.
    state = learner.get_state()["rl_module"][DISCRIMINATOR_ID]
    assert {"obs_norm.mean", "obs_norm.var", "obs_norm.count"} <= set(state)


def test_by_default_d_reads_raw_observations(learner):
    from torch import nn

    from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID

    assert isinstance(learner.module[DISCRIMINATOR_ID].unwrapped().obs_norm, nn.Identity)
