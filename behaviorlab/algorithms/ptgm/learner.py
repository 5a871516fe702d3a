"""The high-level learners (PPO's, ACER's) plus λ·KL(π_p(·|s), π_θ(·|s)) in the loss.

Why in the loss rather than in the reward: the paper's per-step reward is Σ r − λ·KL(s), where
the KL depends on π_θ's whole distribution at s, not on the sampled code. Added to the loss, its
gradient pulls π_θ(·|s) towards the prior at every visited state directly (as PPO's entropy
bonus does); as a reward it would only reach π_θ through the advantage of the sampled code. The
effect of the KL on future states' returns is dropped (the standard "KL-regularised policy loss"
simplification, as in SAC-style or KL-constrained PPO). In ACER the term is added after the
trust-region projection, so δ does not bound the step it takes (fine at λ = 0.05; a large λ can
move the policy further than δ). π_p is frozen and loaded from `goal_prior_path` on the learner.
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.acer.learner import ACERTorchLearner
from behaviorlab.algorithms.common.segments import MASK
from behaviorlab.algorithms.ptgm.losses import kl_penalty
from behaviorlab.algorithms.ptgm.models import load_model


class GoalPriorKLMixin:
    """Loads the frozen goal prior and computes the weighted KL term for a learner's loss."""

    def build(self) -> None:
        super().build()
        prior, _ = load_model(self.config.goal_prior_path)
        self._goal_prior = prior.to(self._device).requires_grad_(False)

    def goal_prior_kl_term(self, module_id, config, obs, logits, mask) -> torch.Tensor:
        """λ · mean KL over the states where `mask` is true; logs the mean KL."""
        with torch.no_grad():
            prior_probs = torch.softmax(self._goal_prior(obs[mask].float()), -1)
        kl = kl_penalty(prior_probs, torch.softmax(logits[mask], -1), config.goal_prior_kl_direction)
        self.metrics.log_value((module_id, "goal_prior_kl"), kl.mean(), window=1)
        return config.goal_prior_kl_coeff * kl.mean()


class PTGMLearner(GoalPriorKLMixin, PPOTorchLearner):
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        logits = fwd_out[Columns.ACTION_DIST_INPUTS]
        # PPO pads each episode with one artificial step for bootstrapping; LOSS_MASK hides it.
        mask = batch.get(Columns.LOSS_MASK)
        mask = torch.ones(logits.shape[:-1], dtype=torch.bool, device=logits.device) if mask is None else mask.bool()
        return loss + self.goal_prior_kl_term(module_id, config, batch[Columns.OBS], logits, mask)


class PTGMACERLearner(GoalPriorKLMixin, ACERTorchLearner):
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        # Segments hold T+1 observations (the last only bootstraps) and padding where MASK is 0.
        obs = batch[Columns.OBS][:, :-1]
        logits = fwd_out[Columns.ACTION_DIST_INPUTS][:, :-1]
        return loss + self.goal_prior_kl_term(module_id, config, obs, logits, batch[MASK].bool())
