"""STEVE's value targets, pure torch (Buckman et al. 2018, eqs. 2.6–2.8, with the continuation
probabilities of the official `valuerl.py` so that horizon 0 is exactly the TD target).

Shapes: B samples, H imagined steps, M transition/termination models, N reward models, L Q
functions. Horizon i = 0..H indexes the partial targets T_i.
"""

from __future__ import annotations

import torch

REDUCTIONS = ("steve", "mve", "mean", "td")
EPSILON = 1e-8  # keeps a horizon whose candidates agree exactly finite (it then takes the weight)


def candidate_targets(rewards: torch.Tensor, continuation: torch.Tensor, model_rewards: torch.Tensor,
                      model_continuation: torch.Tensor, bootstrap_q: torch.Tensor, gamma: float) -> torch.Tensor:
    """Every partial target T_i for every (model m, reward n, Q l) triple → [B, H+1, M·N·L].

    T_i = r + Σ_{k=1..i} γ^k c_k r̂_k + γ^{i+1} c_{i+1} Q_i, c_1 = `continuation` (1 − terminated of
    the real transition), c_{k+1} = c_k · `model_continuation[:, k-1]`.
    rewards, continuation [B]; model_rewards [B, H, M, N]; model_continuation [B, H, M];
    bootstrap_q [B, H+1, M, L] (i = 0 is Q at the real s', the same along every model's rollout).
    """
    batch, horizon, models, reward_models = model_rewards.shape
    q_members = bootstrap_q.shape[-1]
    # c_1..c_{H+1} along each model's rollout: [B, H+1, M].
    c = continuation[:, None, None] * torch.cat(
        [model_continuation.new_ones(batch, 1, models), model_continuation], dim=1).cumprod(dim=1)
    discounts = gamma ** torch.arange(1, horizon + 2, dtype=rewards.dtype, device=rewards.device)  # γ^1..γ^{H+1}
    weighted = (discounts[:, None] * c)[:, :, :, None]                                              # [B, H+1, M, 1]
    # Σ_{k≤i} γ^k c_k r̂_k for i = 0..H (i = 0: no model reward), per (m, n): [B, H+1, M, N].
    reward_sums = torch.cat([model_rewards.new_zeros(batch, 1, models, reward_models),
                             (weighted[:, :horizon] * model_rewards).cumsum(dim=1)], dim=1)
    bootstrap = weighted * bootstrap_q                                                             # [B, H+1, M, L]
    total = rewards[:, None, None, None, None] + reward_sums[..., :, None] + bootstrap[..., None, :]
    return total.reshape(batch, horizon + 1, models * reward_models * q_members)


def steve_combine(candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse-variance weighting over horizons, per sample: candidates [B, H+1, E] → target [B],
    weights [B, H+1] (summing to 1 over horizons). Mean and variance (ddof 0) are over the E
    ensemble combinations of each horizon; the target weights the means, not the candidates."""
    means = candidates.mean(dim=-1)
    precision = 1.0 / (candidates.var(dim=-1, unbiased=False) + EPSILON)
    weights = precision / precision.sum(dim=-1, keepdim=True)
    return (weights * means).sum(dim=-1), weights


def reduce_candidates(candidates: torch.Tensor, reduction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The ablations on the same candidates → target [B], weights [B, H+1]: `steve`; `mve` (all
    weight on the longest horizon, ensemble mean); `mean` (horizons weighted equally); `td` (all
    weight on horizon 0, the ensemble-mean TD target)."""
    if reduction == "steve":
        return steve_combine(candidates)
    weights = torch.zeros(candidates.shape[:2], dtype=candidates.dtype, device=candidates.device)
    if reduction == "mve":
        weights[:, -1] = 1.0
    elif reduction == "td":
        weights[:, 0] = 1.0
    elif reduction == "mean":
        weights[:] = 1.0 / candidates.shape[1]
    else:
        raise ValueError(f"target_reduction {reduction!r}: expected one of {REDUCTIONS}")
    return (weights * candidates.mean(dim=-1)).sum(dim=-1), weights
