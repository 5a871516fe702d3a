"""PTGM's losses as pure torch functions (its behaviour cloning uses the platform's,
behaviorlab.algorithms.common.bc.behaviour_cloning_loss), and those of the continuous-skill
baseline (SPiRL-style skill VAE, Gaussian KLs to the skill prior)."""

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


def gaussian_kl(mean: torch.Tensor, log_std: torch.Tensor, prior_mean: torch.Tensor,
                prior_log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, σ²) ‖ N(prior_mean, σ_p²)) of diagonal Gaussians, summed over the last dim:
    Σ log σ_p − log σ + (σ² + (μ − μ_p)²) / (2σ_p²) − ½. Shapes [..., D] (broadcast) → [...]."""
    variance_ratio = torch.exp(2 * (log_std - prior_log_std))
    mean_term = ((mean - prior_mean) * torch.exp(-prior_log_std)) ** 2
    return torch.sum(prior_log_std - log_std + 0.5 * (variance_ratio + mean_term) - 0.5, dim=-1)


def gaussian_kl_to_standard_normal(mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) = Σ ½(μ² + σ² − 1) − log σ over the last dim: [..., D] → [...]."""
    return torch.sum(0.5 * (mean ** 2 + torch.exp(2 * log_std) - 1) - log_std, dim=-1)


def skill_vae_loss(action_logits: torch.Tensor, actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                   beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SPiRL's skill-VAE objective (Pertsch et al. 2020) for discrete actions, per segment:
    Σ_t −log π_L(a_t | s_t, z) over the k steps + β·KL(q(z | s_0, a_0:k) ‖ N(0, I)).

    Shapes: action_logits [B, k, A], actions [B, k], mean and log_std [B, D]. Returns (the loss
    averaged over segments, the reconstruction NLL per segment [B], the KL per segment [B]).
    """
    nll = torch.nn.functional.cross_entropy(action_logits.flatten(0, 1), actions.flatten(), reduction="none")
    nll = nll.view(actions.shape).sum(-1)
    kl = gaussian_kl_to_standard_normal(mean, log_std)
    return (nll + beta * kl).mean(), nll, kl
