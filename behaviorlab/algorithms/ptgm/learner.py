"""The high-level learners (PPO's, ACER's) with PTGM's goal-prior KL.

The paper's per-step reward is Σ r − α·KL(π_p(·|s) ‖ π_θ(·|s)) (`goal_prior_kl_in: reward`, the
default): the KL enters the rewards, so returns and values carry the KL the high level will pay at
later states. That reward depends on θ itself, so its gradient also has a direct part, −α·∇KL(s)
at every visited state, which the score-function (advantage) estimator does not produce; the
loss adds it (as soft actor-critic adds the entropy's). `goal_prior_kl_in: loss` keeps only that
direct part: the KL-regularised policy loss, without the KL in the returns.
PPO: the KL enters the rewards in a learner connector piece before GAE, with the logits that
acted (on-policy). ACER: replayed steps were acted by older policies, so the KL is computed with
the current logits (detached) inside the loss, before Retrace. In ACER the direct term is added
after the trust-region projection, so δ does not bound the step it takes (fine at α = 0.05).
π_p is frozen and loaded from `goal_prior_path` on the learner.
The continuous-skill baseline (`SkillPriorPPOLearner`) does the same with SPiRL's term,
α·KL(π_θ(z|s) ‖ p(z|s)) between diagonal Gaussians (p: the learned skill prior, or N(0, I)).
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner import GeneralAdvantageEstimation
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.acer.learner import ACERTorchLearner
from behaviorlab.algorithms.common.segments import MASK, REWARDS
from behaviorlab.algorithms.ptgm.losses import (
    gaussian_kl,
    gaussian_kl_to_standard_normal,
    goal_prior_reward,
    kl_penalty,
)
from behaviorlab.algorithms.ptgm.models import SkillPrior, load_model


class GoalPriorKLMixin:
    """Loads the frozen goal prior and computes the weighted KL term for a learner's loss."""

    def build(self) -> None:
        super().build()
        prior, _ = load_model(self.config.goal_prior_path)
        self._goal_prior = prior.to(self._device).requires_grad_(False)

    def prior_kl_in(self, config) -> str:
        return config.goal_prior_kl_in

    def prior_rewards(self, config, rewards, obs, logits) -> torch.Tensor:
        """`rewards` with α·KL subtracted (shapes [...], obs [..., D], logits [..., K])."""
        with torch.no_grad():
            return goal_prior_reward(rewards, self._goal_prior(obs.float()), logits.detach(),
                                     config.goal_prior_kl_coeff, direction=config.goal_prior_kl_direction)

    def prior_kl_term(self, module_id, config, obs, logits, mask) -> torch.Tensor:
        """λ · mean KL over the states where `mask` is true; logs the mean KL."""
        with torch.no_grad():
            prior_probs = torch.softmax(self._goal_prior(obs[mask].float()), -1)
        kl = kl_penalty(prior_probs, torch.softmax(logits[mask], -1), config.goal_prior_kl_direction)
        self.metrics.log_value((module_id, "goal_prior_kl"), kl.mean(), window=1)
        return config.goal_prior_kl_coeff * kl.mean()


class SkillPriorKLMixin:
    """The continuous-skill baseline's prior: the frozen learned p(z|s) from `skill_prior_path`,
    or N(0, I) when it is empty; KL(π_θ(z|s) ‖ p(z|s)) of the policy's Gaussian
    (ACTION_DIST_INPUTS = [mean, log_std], as RLlib's TorchDiagGaussian reads them)."""

    def build(self) -> None:
        super().build()
        self._skill_prior = None
        if self.config.skill_prior_path:
            prior, _ = load_model(self.config.skill_prior_path)
            if not isinstance(prior, SkillPrior):
                raise ValueError(f"{self.config.skill_prior_path}: a {type(prior).__name__}, not a skill prior; give "
                                 "the `skills` stage's <decoder stem>_prior.pt")
            self._skill_prior = prior.to(self._device).requires_grad_(False)

    def prior_kl_in(self, config) -> str:
        return config.skill_prior_kl_in

    def skill_prior_kl(self, obs, dist_inputs) -> torch.Tensor:
        mean, log_std = dist_inputs.chunk(2, dim=-1)
        if self._skill_prior is None:
            return gaussian_kl_to_standard_normal(mean, log_std)
        with torch.no_grad():
            prior_mean, prior_log_std = self._skill_prior(obs.float())
        return gaussian_kl(mean, log_std, prior_mean, prior_log_std)

    def prior_rewards(self, config, rewards, obs, dist_inputs) -> torch.Tensor:
        with torch.no_grad():
            return rewards - config.skill_prior_kl_coeff * self.skill_prior_kl(obs, dist_inputs.detach())

    def prior_kl_term(self, module_id, config, obs, dist_inputs, mask) -> torch.Tensor:
        kl = self.skill_prior_kl(obs[mask], dist_inputs[mask])
        self.metrics.log_value((module_id, "skill_prior_kl"), kl.mean(), window=1)
        return config.skill_prior_kl_coeff * kl.mean()


class GoalPriorRewardPiece(ConnectorV2):
    """Subtracts α·KL (the learner's `prior_rewards`: PTGM's goal prior or the skill prior) from
    each real step's reward before GAE (PPO's padding step keeps its zero reward)."""

    def __init__(self, input_observation_space=None, input_action_space=None, *, learner=None, **kwargs):
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self._learner = learner

    def __call__(self, *, rl_module, batch, episodes, **kwargs):
        for module_id, module_batch in batch.items():
            config = self._learner.config.get_config_for_module(module_id)
            rewards = module_batch[Columns.REWARDS]
            shaped = self._learner.prior_rewards(config, rewards, module_batch[Columns.OBS],
                                                 module_batch[Columns.ACTION_DIST_INPUTS])
            mask = module_batch.get(Columns.LOSS_MASK)
            module_batch[Columns.REWARDS] = shaped if mask is None else torch.where(mask.bool(), shaped, rewards)
        return batch


class PriorKLPPOMixin:
    """PPO with a KL-mixin's prior term: in the rewards before GAE (`…_kl_in: reward`) and, always,
    its direct gradient in the loss."""

    def build(self) -> None:
        super().build()
        if self.prior_kl_in(self.config) == "reward":
            pieces = self._learner_connector.connectors if self._learner_connector is not None else []
            if not any(isinstance(piece, GeneralAdvantageEstimation) for piece in pieces):
                # RLlib's insert_before would silently put the piece before whatever comes last.
                raise ValueError("a prior KL in the reward needs PPO's GAE connector in the learner pipeline "
                                 "(keep add_default_connectors_to_learner_pipeline=True), or put it in the 'loss'")
            self._learner_connector.insert_before(GeneralAdvantageEstimation, GoalPriorRewardPiece(learner=self))

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        logits = fwd_out[Columns.ACTION_DIST_INPUTS]
        # PPO pads each episode with one artificial step for bootstrapping; LOSS_MASK hides it.
        mask = batch.get(Columns.LOSS_MASK)
        mask = torch.ones(logits.shape[:-1], dtype=torch.bool, device=logits.device) if mask is None else mask.bool()
        return loss + self.prior_kl_term(module_id, config, batch[Columns.OBS], logits, mask)


class PTGMLearner(GoalPriorKLMixin, PriorKLPPOMixin, PPOTorchLearner):
    pass


class SkillPriorPPOLearner(SkillPriorKLMixin, PriorKLPPOMixin, PPOTorchLearner):
    pass


class PTGMACERLearner(GoalPriorKLMixin, ACERTorchLearner):
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        # Segments hold T+1 observations (the last only bootstraps) and padding where MASK is 0.
        obs = batch[Columns.OBS][:, :-1]
        logits = fwd_out[Columns.ACTION_DIST_INPUTS][:, :-1]
        if config.goal_prior_kl_in == "reward":
            batch = {**batch, REWARDS: self.prior_rewards(config, batch[REWARDS], obs, logits)}
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        return loss + self.prior_kl_term(module_id, config, obs, logits, batch[MASK].bool())
