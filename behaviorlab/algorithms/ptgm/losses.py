"""PTGM's losses as pure torch functions (its behaviour cloning uses the platform's,
behaviorlab.algorithms.common.bc.behaviour_cloning_loss)."""

from __future__ import annotations

import torch

KL_DIRECTIONS = ("prior_to_policy", "policy_to_prior")
_EPS = 1e-8


def kl_penalty(prior_probs: torch.Tensor, policy_probs: torch.Tensor, direction: str = "prior_to_policy") -> torch.Tensor:
    """KL between the goal prior π_p(·|s) and the high-level policy π_θ(·|s), per row (≥ 0).

    "prior_to_policy": D_KL(π_p ‖ π_θ) = Σ π_p (log π_p − log π_θ), the paper's term (Yuan et al.
    2024, eq. in §4.3): mass-covering, it punishes π_θ for dropping goals the prior finds likely.
    "policy_to_prior": D_KL(π_θ ‖ π_p), mode-seeking (what SAC-style entropy-regularised
    objectives use). The objective subtracts λ times this value from the return, so a larger KL
    means a lower reward.
    """
    if direction == "prior_to_policy":
        p, q = prior_probs, policy_probs
    elif direction == "policy_to_prior":
        p, q = policy_probs, prior_probs
    else:
        raise ValueError(f"kl_penalty: direction must be one of {KL_DIRECTIONS}, not {direction!r}")
    return torch.sum(p * (torch.log(p + _EPS) - torch.log(q + _EPS)), dim=-1)


def goal_prior_reward(task_reward: torch.Tensor, prior_logits: torch.Tensor, policy_logits: torch.Tensor,
                      alpha: float, *, direction: str = "prior_to_policy") -> torch.Tensor:
    """PTGM's per-step high-level reward (Yuan et al. 2024, "goal prior reward"):
    task_reward − alpha · D_KL(softmax(prior_logits) ‖ softmax(policy_logits)).

    Shapes: task_reward [...], logits [..., K] → [...]. `direction="policy_to_prior"` uses
    D_KL(π_θ ‖ π_p) instead.
    """
    kl = kl_penalty(torch.softmax(prior_logits, -1), torch.softmax(policy_logits, -1), direction)
    return task_reward - alpha * kl
