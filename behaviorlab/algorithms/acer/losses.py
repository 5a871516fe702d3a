"""ACER losses on segment batches (Wang et al. 2017): pure torch, no Ray import.

Inputs are batch-major segments: rewards/terminateds/mask [B, T], the network's outputs on the
T+1 observations of each segment, and the behaviour policy μ's stored distribution inputs.
Each function returns the total loss (policy surrogate whose gradient is the trust-region-projected
ACER policy gradient, plus critic losses) and detached diagnostics.
"""

from __future__ import annotations

import torch
from torch.distributions import Normal, kl_divergence

from behaviorlab.algorithms.common.importance import (
    acer_discrete_policy_loss, bias_correction_weights, importance_ratios, sdn_q, truncated_traces)
from behaviorlab.algorithms.common.retrace import retrace_targets
from behaviorlab.algorithms.common.trust_region import trust_region_projection

# Keys of what the RLModule's `_forward_train` returns (ACTION_DIST_INPUTS is RLlib's own name).
ACTION_DIST_INPUTS = "action_dist_inputs"  # [B, T+1, A] logits or [B, T+1, 2d] Gaussian mean, log std
Q_VALUES = "q_values"                      # [B, T+1, A] (discrete)
AVG_DIST_INPUTS = "avg_action_dist_inputs"  # average policy's distribution inputs, [B, T, ...]
VALUES = "values"                          # [B, T+1] V(x) (continuous)
ADVANTAGE_TAKEN = "advantage_taken"        # [B, T] A(x_t, a_t)
ADVANTAGE_SAMPLED = "advantage_sampled"    # [B, T+1, n] A(x_t, u_i), u_i ~ π: the SDN baseline
POLICY_SAMPLE = "policy_sample"            # [B, T, d] a' ~ π(·|x_t) for the bias correction
ADVANTAGE_POLICY_SAMPLE = "advantage_policy_sample"  # [B, T] A(x_t, a')


def _retrace(rewards, terminateds, mask, q_taken, values, traces, gamma) -> torch.Tensor:
    """Batch-major wrapper: [B, T] in, [B, T] out. Padded steps get trace 0 so the bootstrap
    value at a short segment's last real step is V(x_L) (the padded observations repeat x_L)."""
    discounts = gamma * (1.0 - terminateds)
    targets = retrace_targets(rewards.T, discounts.T, q_taken.T, values.T, (traces * mask).T)
    return targets.T


def _project(per_sample_loss: torch.Tensor, stats: torch.Tensor, kl: torch.Tensor, delta: float | None):
    """Policy surrogate whose gradient wrt the distribution statistics is the projected z*."""
    if delta is None:
        return per_sample_loss.mean(), torch.zeros(())
    g = -torch.autograd.grad(per_sample_loss.sum(), stats, retain_graph=True)[0]
    k = torch.autograd.grad(kl.sum(), stats, retain_graph=True)[0]
    z = trust_region_projection(g, k, delta)
    active = ((k * g).sum(-1) > delta).float().mean()
    return -(z.detach() * stats).sum(-1).mean(), active


def best_action_neglected(log_probs: torch.Tensor, q_values: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """Share of states [N, A] where the critic's best action has π < `threshold`. Such a policy is stuck:
    the policy gradient for that action is ∝ π(a) (on-policy, or via ρ = π/μ off-policy), so only the
    entropy cost can bring it back (seen as LBC members collapsing on MinAtar Breakout)."""
    best = q_values.argmax(-1, keepdim=True)
    return (log_probs.gather(-1, best).exp() < threshold).float().mean()


def discrete_acer_loss(*, fwd_out, rewards, terminateds, mask, behaviour_dist_inputs, actions, gamma,
                       truncation_c, q_loss_coeff, entropy_coeff, trust_region_delta):
    logits = fwd_out[ACTION_DIST_INPUTS]                 # [B, T+1, A]
    q_values = fwd_out[Q_VALUES]                         # [B, T+1, A]
    actions = actions.long()
    valid = mask.bool()
    with torch.no_grad():
        probs = logits.softmax(-1)
        values = (probs * q_values).sum(-1)              # V(x) = Σ_a π(a|x) Q(x, a), [B, T+1]
        rho_taken = importance_ratios(
            logits[:, :-1].log_softmax(-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1),
            behaviour_dist_inputs.log_softmax(-1).gather(-1, actions.unsqueeze(-1)).squeeze(-1))
    q_taken = q_values[:, :-1].gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    q_ret = _retrace(rewards, terminateds, mask, q_taken.detach(), values, truncated_traces(rho_taken), gamma)

    stats = logits[:, :-1][valid]                        # φ: the distribution statistics, [N, A]
    log_probs = stats.log_softmax(-1)
    policy_loss, diagnostics = acer_discrete_policy_loss(
        log_probs, actions[valid], behaviour_dist_inputs[valid].softmax(-1), q_values[:, :-1][valid],
        q_ret[valid], truncation_c)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    avg_log_probs = fwd_out[AVG_DIST_INPUTS][valid].log_softmax(-1)
    kl_avg = (avg_log_probs.exp() * (avg_log_probs - log_probs)).sum(-1)   # KL[π_avg ‖ π]
    surrogate, active = _project(policy_loss - entropy_coeff * entropy, stats, kl_avg, trust_region_delta)
    q_loss = 0.5 * (q_ret[valid] - q_taken[valid]).pow(2).mean()
    total = surrogate + q_loss_coeff * q_loss
    return total, {
        "best_action_neglected": best_action_neglected(log_probs.detach(), q_values[:, :-1][valid].detach()),
        "policy_loss": policy_loss.mean().detach(), "q_loss": q_loss.detach(), "entropy": entropy.mean().detach(),
        "kl_to_average_policy": kl_avg.mean().detach(), "trust_region_active": active,
        "rho_mean": diagnostics["rho_taken"].mean(), "bias_correction": diagnostics["bias_correction_term"].mean(),
        "total_loss": total.detach()}


def _gaussian(dist_inputs: torch.Tensor) -> Normal:
    mean, log_std = dist_inputs.chunk(2, dim=-1)
    return Normal(mean, log_std.exp())


def continuous_acer_loss(*, fwd_out, rewards, terminateds, mask, behaviour_dist_inputs, actions, gamma,
                         truncation_c, q_loss_coeff, entropy_coeff, trust_region_delta):
    """Gaussian policy, stochastic dueling network, Q_opc in the policy gradient, c_t = min(1, ρ^(1/d))."""
    dist_inputs = fwd_out[ACTION_DIST_INPUTS][:, :-1]    # [B, T, 2d]
    values = fwd_out[VALUES]                             # [B, T+1]
    action_dim = actions.shape[-1]
    valid = mask.bool()
    sampled = fwd_out[ADVANTAGE_SAMPLED][:, :-1]         # [B, T, n]
    flat = lambda x: x.reshape(-1)  # noqa: E731  (sdn_q works on [N] vectors)
    q_tilde = sdn_q(flat(values[:, :-1]), flat(fwd_out[ADVANTAGE_TAKEN]),
                    sampled.reshape(-1, sampled.shape[-1])).reshape(values[:, :-1].shape)
    behaviour = _gaussian(behaviour_dist_inputs)
    policy_sample = fwd_out[POLICY_SAMPLE]
    with torch.no_grad():
        current = _gaussian(dist_inputs)
        rho = importance_ratios(current.log_prob(actions).sum(-1), behaviour.log_prob(actions).sum(-1))
        rho_sample = importance_ratios(current.log_prob(policy_sample).sum(-1), behaviour.log_prob(policy_sample).sum(-1))
        v_detached = values.detach()
        q_ret = _retrace(rewards, terminateds, mask, q_tilde.detach(), v_detached,
                         truncated_traces(rho, action_dim=action_dim), gamma)
        q_opc = _retrace(rewards, terminateds, mask, q_tilde.detach(), v_detached, torch.ones_like(rho), gamma)
        q_sample = v_detached[:, :-1] + fwd_out[ADVANTAGE_POLICY_SAMPLE] - sampled.mean(-1)
        taken_weight = rho.clamp(max=truncation_c) * (q_opc - v_detached[:, :-1])
        sample_weight = bias_correction_weights(rho_sample, truncation_c) * (q_sample - v_detached[:, :-1])
        v_target = rho.clamp(max=1.0) * (q_ret - q_tilde.detach()) + v_detached[:, :-1]

    mean, log_std = dist_inputs[valid].chunk(2, dim=-1)  # φ = the mean: the trust region acts on it

    def objective(mean_, log_std_):
        policy = Normal(mean_, log_std_.exp())
        per_sample = -(taken_weight[valid] * policy.log_prob(actions[valid]).sum(-1)
                       + sample_weight[valid] * policy.log_prob(policy_sample[valid]).sum(-1))
        entropy = policy.entropy().sum(-1)
        return per_sample - entropy_coeff * entropy, per_sample, entropy

    loss_for_mean, per_sample, entropy = objective(mean, log_std.detach())
    avg_mean, avg_log_std = fwd_out[AVG_DIST_INPUTS][valid].chunk(2, dim=-1)
    kl_avg = kl_divergence(Normal(avg_mean, avg_log_std.exp()), Normal(mean, log_std.detach().exp())).sum(-1)
    surrogate, active = _project(loss_for_mean, mean, kl_avg, trust_region_delta)
    surrogate = surrogate + objective(mean.detach(), log_std)[0].mean()  # the std gets the plain gradient
    q_loss = 0.5 * (q_ret[valid] - q_tilde[valid]).pow(2).mean()
    v_loss = 0.5 * (v_target[valid] - values[:, :-1][valid]).pow(2).mean()
    total = surrogate + q_loss_coeff * (q_loss + v_loss)
    return total, {
        "policy_loss": per_sample.mean().detach(), "q_loss": q_loss.detach(), "v_loss": v_loss.detach(),
        "entropy": entropy.mean().detach(), "kl_to_average_policy": kl_avg.mean().detach(),
        "trust_region_active": active, "rho_mean": rho[valid].mean(), "total_loss": total.detach()}
