"""KL-regularised SVG(0) with a Retrace critic and a learned behaviour prior (Tirumala et al. 2020;
Galashov et al. 2019): pure torch, no Ray import.

Objective J = E_π[Σ_t γ^t (r_t − α KL(π(·|x_t) ‖ π0(·|x_t^D)))]. The prior π0 sees only the
observation keys it is configured with (information asymmetry) and is trained by distilling the
policy: KL(π ‖ π0) minimised with respect to the prior's parameters only.

Inputs are batch-major segments ([B, T] per step, [B, T+1] where the bootstrap observation is
included). Gaussians are diagonal; `Normal` batch shapes end in the action dimension d.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Categorical, Normal, kl_divergence

from behaviorlab.algorithms.common.retrace import retrace_targets


def gaussian_kl(p: Normal, q: Normal) -> Tensor:
    """KL(p ‖ q) of diagonal Gaussians, summed over the action dimension."""
    return kl_divergence(p, q).sum(-1)


def hierarchical_kl_bound(high_p: Categorical, high_q: Categorical, low_p: Normal, low_q: Normal) -> Tensor:
    """Upper bound on KL(π ‖ π0) for latent-variable policies π(a|x) = Σ_z π^H(z|x) π^L(a|z,x):
    KL(π^H ‖ π0^H) + E_{z~π^H}[KL(π^L(·|z) ‖ π0^L(·|z))] (chain rule plus the data-processing
    inequality). `low_*` have batch shape [..., K, d] over the K latent values. With a shared lower
    level (low_p == low_q) the second term vanishes and the bound is KL_H alone."""
    kl_high = kl_divergence(high_p, high_q)
    kl_low = gaussian_kl(low_p, low_q)                       # [..., K]
    return kl_high + (high_p.probs * kl_low).sum(-1)


def retrace_critic_targets(*, rewards: Tensor, terminateds: Tensor, mask: Tensor, q_target_taken: Tensor,
                           values: Tensor, log_pi_target_taken: Tensor, log_mu_taken: Tensor, gamma: float,
                           retrace_lambda: float) -> Tensor:
    """Retrace targets for Q(x_t, a_t), [B, T]:
    c_t = λ min(1, π_target(a_t|x_t)/μ(a_t|x_t)); δ_t = r_t + γ_t V(x_{t+1}) − Q_target(x_t, a_t);
    target_t = Q_target(x_t, a_t) + δ_t + γ_t c_{t+1} (target_{t+1} − Q_target(x_{t+1}, a_{t+1})),
    with V from `soft_values` ([B, T+1]). Termination cuts the return (γ_t = 0), truncation bootstraps.
    Padded steps get trace 0, so a short segment bootstraps from V at its last real observation."""
    with torch.no_grad():
        traces = retrace_lambda * (log_pi_target_taken - log_mu_taken).exp().clamp(max=1.0) * mask
        discounts = gamma * (1.0 - terminateds)
        return retrace_targets(rewards.T, discounts.T, q_target_taken.T, values.T, traces.T).T


def soft_values(q_target_sampled: Tensor, kl_target: Tensor, kl_weight: float) -> Tensor:
    """V(x) = mean_s Q_target(x, a_s) − α KL(π_target ‖ π0_target)(x), a_s ~ π_target.
    q_target_sampled [B, T+1, S], kl_target [B, T+1] → [B, T+1]."""
    return q_target_sampled.mean(-1) - kl_weight * kl_target


@dataclass
class SVG0Outputs:
    """What the RLModule computes on a segment batch (see module.py); all at x_0..x_{T-1} unless noted."""

    policy: Normal               # π(·|x_t), online, batch [B, T, d]
    policy_target: Normal        # π_target(·|x_t), [B, T+1, d] (x_T for the bootstrap value)
    prior: Normal                # π0(·|x_t^D), online, [B, T, d]
    prior_target: Normal         # π0_target, [B, T+1, d]
    q_taken: Tensor              # Q(x_t, a_t), online, [B, T]
    q_target_taken: Tensor       # Q_target(x_t, a_t), [B, T]
    q_target_sampled: Tensor     # Q_target(x_t, a_s), a_s ~ π_target, [B, T+1, S]
    q_policy_sampled: Tensor     # Q(x_t, a_s(θ)) with frozen critic weights, a_s reparameterised from π, [B, T, S]


def svg0_prior_loss(out: SVG0Outputs, *, actions: Tensor, behaviour_log_prob: Tensor, rewards: Tensor,
                    terminateds: Tensor, mask: Tensor, gamma: float, retrace_lambda: float, kl_weight: float,
                    entropy_coeff: float, prior_loss_coeff: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
    """Critic + actor + prior losses; each term's gradient reaches only its own network:
    - critic ½(target − Q(x_t, a_t))², target by Retrace (constant);
    - actor −mean_s Q(x, a_s(θ)) + α KL(π ‖ π0_target) − β H(π) (critic weights frozen in q_policy_sampled);
    - prior KL(sg(π) ‖ π0), the distillation that makes π0 the mixture of task policies (Distral).
    With kl_weight = 0 this is plain SVG(0) with Retrace; the prior is still distilled (and can be
    transferred) but has no effect on the policy."""
    valid = mask.bool()
    with torch.no_grad():
        kl_target = gaussian_kl(out.policy_target, out.prior_target)              # [B, T+1]
        values = soft_values(out.q_target_sampled, kl_target, kl_weight)
        log_pi_target = _log_prob_prefix(out.policy_target, actions)
        targets = retrace_critic_targets(
            rewards=rewards, terminateds=terminateds, mask=mask, q_target_taken=out.q_target_taken, values=values,
            log_pi_target_taken=log_pi_target, log_mu_taken=behaviour_log_prob, gamma=gamma,
            retrace_lambda=retrace_lambda)
    critic_loss = 0.5 * (targets - out.q_taken)[valid].pow(2).mean()

    prior_target_now = _prefix(out.prior_target, out.policy.mean.shape[1])
    kl_to_prior = gaussian_kl(out.policy, prior_target_now)                        # [B, T]
    entropy = out.policy.entropy().sum(-1)
    actor_loss = (-out.q_policy_sampled.mean(-1) + kl_weight * kl_to_prior - entropy_coeff * entropy)[valid].mean()

    detached_policy = Normal(out.policy.mean.detach(), out.policy.stddev.detach())
    prior_loss = gaussian_kl(detached_policy, out.prior)[valid].mean()

    total = critic_loss + actor_loss + prior_loss_coeff * prior_loss
    return total, {
        "critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "prior_loss": prior_loss.detach(),
        "kl_to_prior": kl_to_prior[valid].mean().detach(), "entropy": entropy[valid].mean().detach(),
        "q_mean": out.q_taken[valid].mean().detach(), "target_mean": targets[valid].mean(),
        "policy_std": out.policy.stddev[valid].mean().detach(),
        "importance_ratio_mean": (log_pi_target - behaviour_log_prob).exp()[valid].mean(),
        "total_loss": total.detach()}


def _prefix(dist: Normal, steps: int) -> Normal:
    """The first `steps` time steps of a [B, T+1, d] Gaussian."""
    return Normal(dist.mean[:, :steps], dist.stddev[:, :steps])


def _log_prob_prefix(dist: Normal, actions: Tensor) -> Tensor:
    """log π(a_t|x_t) summed over d, for the T steps that have actions, from a [B, T+1, d] Gaussian."""
    return _prefix(dist, actions.shape[1]).log_prob(actions).sum(-1)
