"""Importance ratios, truncated traces and ACER's truncated policy gradient with bias correction.

References: Wang et al. 2017, eq. 9 (discrete policy gradient), section 5 (continuous traces
c_t = min(1, ρ_t^(1/d)) and the Stochastic Dueling Network).
"""

import torch
from torch import Tensor

# exp(20) ≈ 4.9e8: far above any truncation constant c, so clamping the log ratio changes no
# truncated quantity, but it keeps ρ finite when a behaviour probability underflows to 0
# (ρ = inf would turn 0·ρ into NaN) and keeps c/ρ finite when a target probability does.
MAX_LOG_RATIO = 20.0


def importance_ratios(target_logp: Tensor, behaviour_logp: Tensor, max_log_ratio: float = MAX_LOG_RATIO) -> Tensor:
    """ρ = π/μ = exp(target_logp − behaviour_logp), the exponent clamped to ±max_log_ratio.

    Works element-wise on any matching shapes: per taken action [N] or per action [N, A].
    Gradients flow through target_logp; detach it where ρ must be a constant.
    """
    if target_logp.shape != behaviour_logp.shape:
        raise ValueError(f"importance_ratios: shapes differ: {tuple(target_logp.shape)} vs {tuple(behaviour_logp.shape)}")
    return torch.exp((target_logp - behaviour_logp).clamp(-max_log_ratio, max_log_ratio))


def truncated_traces(rho: Tensor, lam: float = 1.0, action_dim: int | None = None) -> Tensor:
    """Retrace traces c = λ·min(1, ρ), or λ·min(1, ρ^(1/d)) for a d-dimensional continuous action.

    The d-th root keeps traces from vanishing in continuous spaces, where ρ is a product of d
    per-dimension density ratios and so shrinks or explodes geometrically with d.
    """
    if action_dim is not None:
        if action_dim < 1:
            raise ValueError(f"truncated_traces: action_dim must be >= 1, got {action_dim}")
        rho = rho.pow(1.0 / action_dim)
    return lam * rho.clamp(max=1.0)


def bias_correction_weights(rho_all: Tensor, c: float) -> Tensor:
    """[1 − c/ρ(a)]_+ for every action, shape [N, A]: non-zero only where ρ(a) > c,
    i.e. exactly where the truncated term min(c, ρ) dropped probability mass."""
    return (1.0 - c / rho_all).clamp(min=0.0)


def acer_discrete_policy_loss(
    log_probs: Tensor,
    actions: Tensor,
    behaviour_probs: Tensor,
    q_values: Tensor,
    q_ret: Tensor,
    truncation_c: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Per-sample surrogate loss whose gradient wrt the logits is −g of ACER (eq. 9).

    Args:
        log_probs: [N, A] log π(·|x) of the current policy (log_softmax of the logits, in the graph).
        actions: [N] integer actions a_t taken by the behaviour policy.
        behaviour_probs: [N, A] μ(·|x) stored at collection time.
        q_values: [N, A] Q(x, ·) from the critic.
        q_ret: [N] Retrace targets for the taken actions.
        truncation_c: c > 0, the importance-weight truncation constant (10 in the paper).

    Returns:
        loss: [N] −[min(c, ρ)·log π(a)·(Q_ret − V) + Σ_a [1 − c/ρ(a)]_+ π(a)·log π(a)·(Q(a) − V)],
            where every factor but the log π terms is a constant (stop-gradient), V = Σ_a π(a)Q(a).
        diagnostics: detached [N] tensors "rho_taken", "values", "truncated_term" and
            "bias_correction_term" (the two bracketed objective terms; loss = −(sum of both)).
    """
    if log_probs.dim() != 2:
        raise ValueError(f"acer_discrete_policy_loss: log_probs must be [N, A], got {tuple(log_probs.shape)}")
    n = log_probs.shape[0]
    for name, tensor, shape in (
        ("behaviour_probs", behaviour_probs, tuple(log_probs.shape)),
        ("q_values", q_values, tuple(log_probs.shape)),
        ("actions", actions, (n,)),
        ("q_ret", q_ret, (n,)),
    ):
        if tuple(tensor.shape) != shape:
            raise ValueError(f"acer_discrete_policy_loss: {name} has shape {tuple(tensor.shape)}, expected {shape}")
    if truncation_c <= 0:
        raise ValueError(f"acer_discrete_policy_loss: truncation_c must be > 0, got {truncation_c}")

    with torch.no_grad():
        probs = log_probs.exp()
        q_values = q_values.detach()
        values = (probs * q_values).sum(dim=-1)
        rho_all = importance_ratios(log_probs, behaviour_probs.log())
        index = actions.long().unsqueeze(-1)
        rho_taken = rho_all.gather(-1, index).squeeze(-1)
        truncated_weight = rho_taken.clamp(max=truncation_c) * (q_ret.detach() - values)
        # π(a) appears because the correction is an expectation over a ~ π, computed exactly.
        correction_weight = bias_correction_weights(rho_all, truncation_c) * probs * (q_values - values.unsqueeze(-1))

    truncated_term = truncated_weight * log_probs.gather(-1, index).squeeze(-1)
    bias_correction_term = (correction_weight * log_probs).sum(dim=-1)
    loss = -(truncated_term + bias_correction_term)
    diagnostics = {
        "rho_taken": rho_taken,
        "values": values,
        "truncated_term": truncated_term.detach(),
        "bias_correction_term": bias_correction_term.detach(),
    }
    return loss, diagnostics


def sdn_q(value: Tensor, advantage_taken: Tensor, advantages_sampled: Tensor) -> Tensor:
    """Stochastic Dueling Network Q̃(x, a) = V(x) + A(x, a) − (1/n) Σ_i A(x, u_i), u_i ~ π(·|x).

    Shapes: value [N], advantage_taken [N], advantages_sampled [N, n]. Subtracting the sampled
    mean makes E_{a~π}[Q̃] ≈ V, so V and Q̃ stay consistent without a sum over actions.
    """
    if value.dim() != 1 or advantage_taken.shape != value.shape:
        raise ValueError(f"sdn_q: value and advantage_taken must both be [N], got {tuple(value.shape)} and {tuple(advantage_taken.shape)}")
    if advantages_sampled.dim() != 2 or advantages_sampled.shape[0] != value.shape[0] or advantages_sampled.shape[1] == 0:
        raise ValueError(f"sdn_q: advantages_sampled must be [N, n] with N={value.shape[0]}, n >= 1, got {tuple(advantages_sampled.shape)}")
    return value + advantage_taken - advantages_sampled.mean(dim=-1)
