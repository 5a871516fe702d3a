"""LBC's TorchLearner: ACER's learner (optimizer, average-network updates) with one ACER loss per
member, each with its own discount, entropy cost and importance correction π_i/μ_ψ."""

from __future__ import annotations

import torch
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.acer.learner import ACERTorchLearner
from behaviorlab.algorithms.acer.losses import discrete_acer_loss
from behaviorlab.algorithms.common.segments import BEHAVIOUR_DIST_INPUTS, MASK, REWARDS, TERMINATEDS


class LBCTorchLearner(ACERTorchLearner):
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        """Σ_i discrete_acer_loss(member i). The stored behaviour inputs are log μ_ψ, so every
        member's ratio π_i/μ_ψ and Retrace traces min(1, ρ_i) use the exact behaviour."""
        common = dict(
            rewards=batch[REWARDS] * config.reward_scale, terminateds=batch[TERMINATEDS], mask=batch[MASK],
            behaviour_dist_inputs=batch[BEHAVIOUR_DIST_INPUTS], actions=batch[Columns.ACTIONS],
            truncation_c=config.truncation_c, q_loss_coeff=config.q_loss_coeff,
            trust_region_delta=config.trust_region_delta if config.trust_region else None)
        total = 0.0
        for member, (gamma, entropy_coeff) in enumerate(zip(config.member_gammas, config.member_entropy_coeffs)):
            member_out = {key: value[member] for key, value in fwd_out.items()}
            loss, stats = discrete_acer_loss(fwd_out=member_out, gamma=gamma, entropy_coeff=entropy_coeff, **common)
            self.metrics.log_dict({name: value.item() for name, value in stats.items()},
                                  key=(module_id, f"member_{member}"), window=1)
            total = total + loss
        return total
