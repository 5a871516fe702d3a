"""GAIL's learner: PPO's, with Algorithm 1's discriminator step and reward in its update.

Order within one `update(episodes=…)` (one call per iteration, on the iteration's sampled episodes):
0. D's observation statistics take in this iteration's policy observations and as many expert ones,
   then stay fixed until the next iteration;
1. `disc_steps_per_iteration` Adam steps on D: each on `disc_minibatch_size` policy (s, a) pairs of
   these episodes and as many expert pairs, minimising `discriminator_loss` (w_i → w_{i+1});
2. the learner connector pipeline, in which `GAILReward` (inserted right before PPO's
   GeneralAdvantageEstimation, which reads `batch[module][rewards]`) replaces each step's reward
   by −log D_{w_{i+1}}(s, a) from the *updated* D;
3. PPO's epochs on that batch (clip ratio = the trust region; `entropy_coeff` = λ of −λH(π)).
The episodes themselves keep the env's rewards, so `env_runners/episode_return_mean` (computed by
the EnvRunners) stays the true return; the GAIL reward is logged apart as
`learners/default_policy/gail_reward_mean`, with D's loss and accuracy on each side under
`learners/discriminator/…`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner import GeneralAdvantageEstimation
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from behaviorlab.algorithms.common.bc import load_expert_data
from behaviorlab.algorithms.gail.losses import discriminator_loss, gail_reward
from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID, RunningObservationNorm


class GAILReward(ConnectorV2):
    """Learner connector: the policy batch's rewards become −log D(s, a) (no gradient); the step PPO
    appends to each episode for bootstrapping (LOSS_MASK false) gets 0."""

    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, metrics=None, **kwargs):
        policy_batch = batch[DEFAULT_MODULE_ID]
        discriminator = rl_module[DISCRIMINATOR_ID].unwrapped()
        env_rewards = policy_batch[Columns.REWARDS]
        with torch.no_grad():
            logits = discriminator.logits(policy_batch[Columns.OBS], policy_batch[Columns.ACTIONS])
            rewards = gail_reward(logits).to(env_rewards.dtype)
        mask = policy_batch.get(Columns.LOSS_MASK)
        mask = torch.ones_like(rewards, dtype=torch.bool) if mask is None else mask.bool()
        policy_batch[Columns.REWARDS] = torch.where(mask, rewards, torch.zeros_like(rewards))
        if metrics is not None:
            metrics.log_value((DEFAULT_MODULE_ID, "gail_reward_mean"), rewards[mask].mean().item(), window=1)
            metrics.log_value((DEFAULT_MODULE_ID, "env_reward_mean"), env_rewards[mask].float().mean().item(), window=1)
        return batch


def _policy_pairs(episodes) -> tuple[np.ndarray, np.ndarray]:
    """All (s, a) pairs of these episode chunks, before PPO appends its bootstrap step."""
    if not all(isinstance(episode, SingleAgentEpisode) for episode in episodes):
        raise TypeError("GAIL trains single-agent envs only")
    obs = np.concatenate([np.asarray(e.get_observations(slice(0, len(e)))) for e in episodes])
    actions = np.concatenate([np.asarray(e.get_actions()) for e in episodes])
    return obs, actions


class GAILPPOTorchLearner(PPOTorchLearner):
    def build(self) -> None:
        super().build()
        config = self.config
        policy = self.module[DEFAULT_MODULE_ID].unwrapped()
        self._action_space = policy.action_space
        expert = load_expert_data(config.expert_data, config.num_expert_trajectories)
        expert.check_spaces(policy.observation_space, policy.action_space)
        self._expert = expert.in_policy_space(policy.action_space, config.normalize_actions)
        self._rng = np.random.default_rng(config.seed)
        if self._learner_connector is not None and config.add_default_connectors_to_learner_pipeline:
            self._learner_connector.insert_before(GeneralAdvantageEstimation, GAILReward())

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        if module_id != DISCRIMINATOR_ID:
            return super().configure_optimizers_for_module(module_id, config)
        params = self.get_parameters(self.module[module_id])
        self.register_optimizer(module_id=module_id, optimizer_name="adam", optimizer=torch.optim.Adam(params),
                                params=params, lr_or_lr_schedule=config.disc_lr)

    def _make_batch_if_necessary(self, training_data):
        # Runs first in `update`, before the learner connector computes rewards: D is updated here.
        if training_data.episodes:
            self.update_discriminator(*_policy_pairs(training_data.episodes))
        return super()._make_batch_if_necessary(training_data)

    def _policy_actions_for_d(self, actions: np.ndarray) -> np.ndarray:
        """A Gaussian policy's raw samples may leave the Box the expert's actions lie in (the env
        clips them); D sees them clipped the same way, so it cannot tell the two apart by range."""
        if isinstance(self._action_space, gym.spaces.Box):
            low, high = ((-1.0, 1.0) if self.config.normalize_actions
                         else (self._action_space.low, self._action_space.high))
            return np.clip(actions, low, high)
        return actions

    def update_discriminator(self, policy_obs: np.ndarray, policy_actions: np.ndarray) -> None:
        config = self.config
        discriminator = self.module[DISCRIMINATOR_ID].unwrapped()
        optimizer = self.get_optimizer(DISCRIMINATOR_ID, "adam")
        policy_actions = self._policy_actions_for_d(policy_actions)
        size = min(config.disc_minibatch_size, len(policy_obs))
        tensor = lambda array: torch.as_tensor(array, device=self._device)  # noqa: E731
        if isinstance(discriminator.obs_norm, RunningObservationNorm):
            # Both sides weigh equally in the statistics, however few the demonstrations.
            discriminator.obs_norm.update(tensor(policy_obs))
            discriminator.obs_norm.update(tensor(self._expert.sample(len(policy_obs), self._rng)[0]))
        for _ in range(config.disc_steps_per_iteration):
            index = self._rng.choice(len(policy_obs), size=size, replace=False)
            expert_obs, expert_actions = self._expert.sample(size, self._rng)
            policy_logits = discriminator.logits(tensor(policy_obs[index]), tensor(policy_actions[index]))
            expert_logits = discriminator.logits(tensor(expert_obs), tensor(expert_actions))
            # Accuracy on each side (before this step): ≈ 1 on both for long means D overpowers the policy.
            self.metrics.log_value((DISCRIMINATOR_ID, "accuracy_policy"), (policy_logits > 0).float().mean().item(),
                                   window=1)
            self.metrics.log_value((DISCRIMINATOR_ID, "accuracy_expert"), (expert_logits < 0).float().mean().item(),
                                   window=1)
            if config.shuffle_disc_labels:
                # Control: the same pairs under randomly permuted labels.
                logits = torch.cat([policy_logits, expert_logits])[torch.as_tensor(self._rng.permutation(2 * size))]
                policy_logits, expert_logits = logits[:size], logits[size:]
            loss = discriminator_loss(policy_logits, expert_logits)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            self.metrics.log_value((DISCRIMINATOR_ID, "loss"), loss.item(), window=1)
