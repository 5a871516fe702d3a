"""PPO's learner plus λ·KL(π_p(·|s), π_θ(·|s)) in the loss.

Why in the loss rather than in the reward: the paper's per-step reward is Σ r − λ·KL(s), where
the KL depends on π_θ's whole distribution at s, not on the sampled code. Added to the loss, its
gradient pulls π_θ(·|s) towards the prior at every visited state directly (as PPO's entropy bonus
does); as a reward it would only reach π_θ through the advantage of the sampled code. The effect
of the KL on future states' returns is dropped (the standard "KL-regularised policy loss"
simplification, as in SAC-style or KL-constrained PPO). π_p is frozen and loaded from
`goal_prior_path` on the learner.
"""

from __future__ import annotations

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.ptgm.losses import kl_penalty
from behaviorlab.algorithms.ptgm.models import load_model


class PTGMLearner(PPOTorchLearner):
    def build(self) -> None:
        super().build()
        prior, _ = load_model(self.config.goal_prior_path)
        self._goal_prior = prior.to(self._device).requires_grad_(False)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        loss = super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)
        with torch.no_grad():
            prior_probs = torch.softmax(self._goal_prior(batch[Columns.OBS].float()), -1)
        policy_probs = torch.softmax(fwd_out[Columns.ACTION_DIST_INPUTS], -1)
        kl = kl_penalty(prior_probs, policy_probs, config.goal_prior_kl_direction)
        # PPO pads each episode with one artificial step for bootstrapping; LOSS_MASK hides it.
        mean_kl = kl[batch[Columns.LOSS_MASK]].mean() if Columns.LOSS_MASK in batch else kl.mean()
        self.metrics.log_value((module_id, "goal_prior_kl"), mean_kl, window=1)
        return loss + config.goal_prior_kl_coeff * mean_kl
