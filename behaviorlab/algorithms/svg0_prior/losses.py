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
from torch.distributions import Normal, kl_divergence

from behaviorlab.algorithms.common.retrace import retrace_targets


def gaussian_kl(p: Normal, q: Normal) -> Tensor:
    """KL(p ‖ q) of diagonal Gaussians, summed over the action dimension."""
    return kl_divergence(p, q).sum(-1)


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
        log_pi_target = _log_prob_prefix(out.policy_target, actions)
    critic_loss, targets = _retrace_critic_loss(
        q_taken=out.q_taken, q_target_taken=out.q_target_taken, q_target_sampled=out.q_target_sampled,
        kl_target=kl_target, log_pi_target_taken=log_pi_target, behaviour_log_prob=behaviour_log_prob,
        rewards=rewards, terminateds=terminateds, mask=mask, gamma=gamma, retrace_lambda=retrace_lambda,
        kl_weight=kl_weight)

    prior_target_now = _prefix(out.prior_target, out.policy.mean.shape[1])
    kl_to_prior = gaussian_kl(out.policy, prior_target_now)                        # [B, T]
    entropy = out.policy.entropy().sum(-1)
    actor_loss = (-out.q_policy_sampled.mean(-1) + kl_weight * kl_to_prior - entropy_coeff * entropy)[valid].mean()

    prior_loss = gaussian_kl(_detached(out.policy), out.prior)[valid].mean()

    total = critic_loss + actor_loss + prior_loss_coeff * prior_loss
    return total, {
        "critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "prior_loss": prior_loss.detach(),
        "kl_to_prior": kl_to_prior[valid].mean().detach(), "entropy": entropy[valid].mean().detach(),
        "q_mean": out.q_taken[valid].mean().detach(), "target_mean": targets[valid].mean(),
        "policy_std": out.policy.stddev[valid].mean().detach(),
        "importance_ratio_mean": (log_pi_target - behaviour_log_prob).exp()[valid].mean(),
        "total_loss": total.detach()}


def _retrace_critic_loss(*, q_taken: Tensor, q_target_taken: Tensor, q_target_sampled: Tensor, kl_target: Tensor,
                         log_pi_target_taken: Tensor, behaviour_log_prob: Tensor, rewards: Tensor,
                         terminateds: Tensor, mask: Tensor, gamma: float, retrace_lambda: float,
                         kl_weight: float) -> tuple[Tensor, Tensor]:
    """½(target − Q(x_t, a_t))² over valid steps, with soft values V = mean_s Q_target − α KL_target and
    Retrace targets (constants); returns the loss and the targets."""
    with torch.no_grad():
        values = soft_values(q_target_sampled, kl_target, kl_weight)
        targets = retrace_critic_targets(
            rewards=rewards, terminateds=terminateds, mask=mask, q_target_taken=q_target_taken, values=values,
            log_pi_target_taken=log_pi_target_taken, log_mu_taken=behaviour_log_prob, gamma=gamma,
            retrace_lambda=retrace_lambda)
    return 0.5 * (targets - q_taken)[mask.bool()].pow(2).mean(), targets


# --- hierarchical (latent-variable) policy and prior -------------------------------------------------
# π(a|x) = ∫ π^H(z|x) π^L(a|z, x) dz and π0(a|x) = ∫ π0^H(z|x^D) π0^L(a|z, x^D) dz, z a diagonal Gaussian.
# z may be held for k steps: a fresh z is drawn only when the previous one's countdown has run out, so
# the (z, a) process is Markov in (x, previous z, countdown). A held z is the same deterministic copy
# under every policy (π, π0, μ, targets), so on hold steps the high level contributes neither
# probability, KL nor entropy; `resampled` (1 = fresh z at this step, 0 = held) switches it on.


def latent_schedule(steps_left: Tensor, hold_steps: int) -> tuple[Tensor, Tensor]:
    """Which steps draw a fresh z, and each step's countdown, for x_0..x_T of a segment.

    `steps_left` [B, T] is the countdown stored with each step (how many more steps its z is held:
    hold_steps − 1 when drawn, 0 on its last step). Step t ≥ 1 draws afresh iff step t−1's countdown
    was 0; step 0 iff its own countdown is hold_steps − 1. Index T (the bootstrap observation, or in a
    padded segment the padding after the last real step, which repeats it) follows the same rule from
    the step before it. Returns resampled [B, T+1] (float 0/1) and countdown [B, T+1]."""
    steps_left = steps_left.long()
    fresh_after = steps_left == 0                                                # [B, T]: decides t+1
    resampled = torch.cat([steps_left[:, :1] == hold_steps - 1, fresh_after], dim=1)
    countdown = torch.cat([steps_left[:, :1], torch.where(fresh_after, hold_steps - 1, steps_left - 1)], dim=1)
    return resampled.float(), countdown


def joint_log_prob(high: Normal, latents: Tensor, resampled: Tensor, low: Normal, actions: Tensor) -> Tensor:
    """log-probability of one step of the (z, a) process: resampled · log π^H(z|x) + log π^L(a|z, x).
    high [..., dz] and low [..., d] are the distributions at latents [..., dz] and actions [..., d]."""
    return resampled * high.log_prob(latents).sum(-1) + low.log_prob(actions).sum(-1)


def latent_kl(high_p: Normal, high_q: Normal, resampled: Tensor, low_p: Normal | None = None,
              low_q: Normal | None = None) -> Tensor:
    """Per-step upper bound on KL(π ‖ π0) for Gaussian-latent policies (Tirumala et al. eq. 11; the
    chain rule for KL(π(z, a) ‖ π0(z, a)), which bounds the marginal's KL by data processing):
    resampled · KL(π^H ‖ π0^H) + E_{z~π^H}[KL(π^L(·|z) ‖ π0^L(·|z))], the expectation a mean over S
    samples z_s (all equal to the held z where resampled = 0). high_* [B, T, dz]; low_* [S, B, T, d],
    both levels evaluated at the same z_s. A shared lower level (π^L = π0^L) passes no low_*: the
    bound is then KL_H alone, with no lower-level term to carry gradients."""
    kl = resampled * gaussian_kl(high_p, high_q)
    if low_p is not None:
        kl = kl + gaussian_kl(low_p, low_q).mean(0)
    return kl


def latent_entropy(high: Normal, resampled: Tensor, low: Normal) -> Tensor:
    """Entropy of one (z, a) step by the chain rule: resampled · H(π^H) + mean_s H(π^L(·|z_s)).
    high [B, T, dz], low [S, B, T, d] → [B, T]."""
    return resampled * high.entropy().sum(-1) + low.entropy().sum(-1).mean(0)


@dataclass
class LatentSVG0Outputs:
    """What the hierarchical RLModule computes on a segment batch (see hierarchical_module.py).
    z_s (S samples per step) is a fresh reparameterised draw from π^H where `resampled`, else the
    held (behaviour's) z; each z_s carries one action sample. Lower-level batches are [S, B, T, d]."""

    resampled: Tensor                 # [B, T+1], see latent_schedule
    latents: Tensor                   # the behaviour's z_t, [B, T, dz]
    policy_high: Normal               # π^H(·|x_t), online, [B, T, dz]
    policy_high_target: Normal        # [B, T+1, dz]
    prior_high: Normal                # π0^H(·|x_t^D), online, [B, T, dz]
    prior_high_target: Normal         # [B, T+1, dz]
    policy_low: Normal                # π^L(·|z_s(θ^H), x_t), online, [S, B, T, d]
    policy_low_target: Normal         # π^L_target(·|z'_s, x_t), z'_s from π^H_target or held, [S, B, T+1, d]
    policy_low_target_taken: Normal   # π^L_target(·|z_t, x_t) at the behaviour's z_t, [B, T, d]
    q_taken: Tensor                   # Q(x_t, a_t, z_t), online, [B, T]
    q_target_taken: Tensor            # Q_target(x_t, a_t, z_t), [B, T]
    q_target_sampled: Tensor          # Q_target(x_t, a'_s, z'_s), [B, T+1, S]
    q_policy_sampled: Tensor          # Q(x_t, a_s(θ), sg z_s), frozen critic weights, [B, T, S]
    # Separate lower levels only (None when π^L is shared with the prior):
    prior_low: Normal | None = None                # π0^L(·|sg z_s, x_t^D), online (distillation), [S, B, T, d]
    prior_low_target: Normal | None = None         # π0^L_target(·|z_s(θ^H), x_t^D), [S, B, T, d]
    prior_low_target_sampled: Normal | None = None  # π0^L_target(·|z'_s, x_t^D), [S, B, T+1, d]


def latent_svg0_prior_loss(out: LatentSVG0Outputs, *, actions: Tensor, behaviour_log_prob: Tensor, rewards: Tensor,
                           terminateds: Tensor, mask: Tensor, gamma: float, retrace_lambda: float, kl_weight: float,
                           entropy_coeff: float, prior_loss_coeff: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
    """`svg0_prior_loss` for latent-variable policy and prior, with the KL replaced by `latent_kl`:
    - critic ½(target − Q(x_t, a_t, z_t))² at the behaviour's (z_t, a_t); Retrace traces
      c_t = λ min(1, π_target(z_t, a_t|x_t)/μ(z_t, a_t|x_t)) with the joint (`joint_log_prob`) of both;
    - actor −mean_s Q(x, a_s, sg z_s) + α KL_bound(π ‖ π0_target) − β H(z, a): a_s = μ^L(z_s, x) +
      σ^L(z_s, x)ε with z_s = μ^H(x) + σ^H(x)η, so π^H learns through the action only (Q is not
      differentiated through its z input), critic weights frozen;
    - prior: KL_bound(sg π ‖ π0) into π0^H and, if separate, π0^L at the policy's (detached) z_s.
    The shared lower level is trained by the actor term only. kl_weight = 0 gives SVG(0)-Retrace of
    the latent-variable policy, with the prior distilled but without effect on it."""
    valid = mask.bool()
    steps = actions.shape[1]
    resampled_now = out.resampled[:, :steps]
    separate = out.prior_low is not None

    def lower_levels(policy_low: Normal, prior_low: Normal | None) -> tuple[Normal | None, Normal | None]:
        return (policy_low, prior_low) if separate else (None, None)

    with torch.no_grad():
        kl_target = latent_kl(out.policy_high_target, out.prior_high_target, out.resampled,
                              *lower_levels(out.policy_low_target, out.prior_low_target_sampled))  # [B, T+1]
        log_pi_target = joint_log_prob(_prefix(out.policy_high_target, steps), out.latents, resampled_now,
                                       out.policy_low_target_taken, actions)
    critic_loss, targets = _retrace_critic_loss(
        q_taken=out.q_taken, q_target_taken=out.q_target_taken, q_target_sampled=out.q_target_sampled,
        kl_target=kl_target, log_pi_target_taken=log_pi_target, behaviour_log_prob=behaviour_log_prob,
        rewards=rewards, terminateds=terminateds, mask=mask, gamma=gamma, retrace_lambda=retrace_lambda,
        kl_weight=kl_weight)

    kl_to_prior = latent_kl(out.policy_high, _prefix(out.prior_high_target, steps), resampled_now,
                            *lower_levels(out.policy_low, out.prior_low_target))          # [B, T]
    entropy = latent_entropy(out.policy_high, resampled_now, out.policy_low)
    actor_loss = (-out.q_policy_sampled.mean(-1) + kl_weight * kl_to_prior - entropy_coeff * entropy)[valid].mean()

    prior_loss = latent_kl(_detached(out.policy_high), out.prior_high, resampled_now,
                           *lower_levels(_detached(out.policy_low), out.prior_low))[valid].mean()

    total = critic_loss + actor_loss + prior_loss_coeff * prior_loss
    return total, {
        "critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "prior_loss": prior_loss.detach(),
        "kl_to_prior": kl_to_prior[valid].mean().detach(), "entropy": entropy[valid].mean().detach(),
        "q_mean": out.q_taken[valid].mean().detach(), "target_mean": targets[valid].mean(),
        "policy_std": out.policy_low.stddev.mean(0)[valid].mean().detach(),
        "latent_std": out.policy_high.stddev[valid].mean().detach(),
        "resampled_fraction": resampled_now[valid].mean(),
        "importance_ratio_mean": (log_pi_target - behaviour_log_prob).exp()[valid].mean(),
        "total_loss": total.detach()}


def _detached(dist: Normal) -> Normal:
    return Normal(dist.mean.detach(), dist.stddev.detach())


def _prefix(dist: Normal, steps: int) -> Normal:
    """The first `steps` time steps of a [B, T+1, d] Gaussian."""
    return Normal(dist.mean[:, :steps], dist.stddev[:, :steps])


def _log_prob_prefix(dist: Normal, actions: Tensor) -> Tensor:
    """log π(a_t|x_t) summed over d, for the T steps that have actions, from a [B, T+1, d] Gaussian."""
    return _prefix(dist, actions.shape[1]).log_prob(actions).sum(-1)
