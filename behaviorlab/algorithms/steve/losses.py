"""STEVE's training losses, pure torch: ensembles where each member fits its own random subset
of every minibatch, the world model (residual transition, termination on true terminations only,
reward) and the bookkeeping of which replayed transitions are held out of model training."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def member_masks(members: int, batch: int, fraction: float, generator: torch.Generator | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """[members, batch] float mask: each member keeps each sample with probability `fraction`,
    independently of the other members (the paper's "different subsets of the data in each
    minibatch"; identical data would leave the ensemble's spread to initialisation alone)."""
    return (torch.rand(members, batch, generator=generator, device=device) < fraction).float()


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` [E, B, ...] over each member's kept samples, then over members."""
    while mask.dim() < values.dim():
        mask = mask.unsqueeze(-1)
    mask = mask.expand_as(values)
    per_member = (values * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1.0)
    return per_member.mean()


def heldout_mask(obs: torch.Tensor, actions: torch.Tensor, fraction: float) -> torch.Tensor:
    """[B] bool: a fixed pseudo-random `fraction` of transitions, chosen by a hash of (s, a), so the
    same transition is held out every time replay returns it. The world model never trains on
    these; its errors are measured on them (the Q ensemble trains on everything)."""
    if fraction <= 0:
        return torch.zeros(obs.shape[0], dtype=torch.bool, device=obs.device)
    keys = torch.cat([obs.flatten(1), actions.flatten(1)], dim=1).double()
    codes = (keys * 1e4).round().long() % 1_000_003
    multipliers = 1_000_003 + 2 * torch.arange(keys.shape[1], device=obs.device)
    mixed = (codes * multipliers).sum(1) % 10_007
    return mixed < int(fraction * 10_007)


def world_model_losses(*, pred_delta: torch.Tensor, pred_done_logit: torch.Tensor, pred_reward: torch.Tensor,
                       obs: torch.Tensor, next_obs: torch.Tensor, rewards: torch.Tensor, terminateds: torch.Tensor,
                       model_mask: torch.Tensor, reward_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-term losses of the world-model ensembles on real transitions.

    pred_delta [M, B, obs] (residual s' − s), pred_done_logit [M, B], pred_reward [N, B];
    model_mask [M, B] and reward_mask [N, B] pick each member's samples (held-out ones zeroed).
    The termination label is `terminateds` alone: a time-limit truncation is not terminal, and
    there is deliberately no `truncateds` argument.
    """
    delta = (next_obs - obs).unsqueeze(0).expand_as(pred_delta)
    labels = terminateds.float().unsqueeze(0).expand_as(pred_done_logit)
    return {
        "transition": masked_mean(((pred_delta - delta) ** 2).sum(-1), model_mask),
        "termination": masked_mean(F.binary_cross_entropy_with_logits(pred_done_logit, labels, reduction="none"),
                                   model_mask),
        "reward": masked_mean((pred_reward - rewards.unsqueeze(0)) ** 2, reward_mask),
    }
