"""LBC's hybrid behaviour mapping (Fan et al. 2023, ICLR): entropy control per member, then
distillation of the N members into one behaviour policy by a weighted mixture.

    μ_ψ(a|s) = g(f_τ_1(Φ_1(s)), …, f_τ_N(Φ_N(s)), ω) = Σ_i ω_i · softmax(Φ_i(s) / τ_i)(a),
    ψ = (τ_1, ω_1, …, τ_N, ω_N),  f_τ = `entropy_control`,  g = `hybrid_behavior`.

Φ_i is member i's *centred* action statistic. Centre it before the call, with one of:

- `centred_logits` (standardised logits) for policy-gradient members: logits are shift-invariant and
  their spread grows during training, so dividing by the per-state std keeps τ on one scale all
  run long (τ → 0 the greedy action, τ ~ 1 a soft policy, τ → ∞ uniform) whatever π_i's entropy.
- `centred_advantages` (Q − Σ_a π Q) for members with action values: τ is then in reward units,
  so use it when rewards have a fixed scale (e.g. clipped Atari rewards); otherwise standardise.
- log π_i (`log_softmax` of the logits, normalised rather than centred): f_τ(log π) = π^(1/τ)/Z,
  so τ = 1 is π_i itself and τ scales relative to π_i's own sharpness. With standardised logits
  instead, f_τ = π_i only where τ = 1/(std_a of the logits + eps), a state-dependent condition.

`hybrid_log_behavior` returns log μ in log space, which is what an actor should hand to RLlib.

No Ray import: this runs inside env runners and learners alike.
"""

import torch
from torch import Tensor

# Tolerance on Σ_i ω_i = 1: ω usually comes from float64 numpy and is cast to the stats' dtype.
OMEGA_SUM_ATOL = 1e-5


def centred_logits(logits: Tensor, eps: float = 1e-6) -> Tensor:
    """Standardised logits (l − mean_a l) / (std_a l + eps) over the last (action) axis.

    Any shape [..., A]. The std is the population std (no Bessel correction), so A = 1 and
    constant rows are fine: they become all zeros, i.e. a uniform softmax at any τ.
    """
    if logits.dim() == 0:
        raise ValueError("centred_logits: logits must have an action axis [..., A], got a scalar")
    if eps <= 0:
        raise ValueError(f"centred_logits: eps must be > 0, got {eps}")
    centred = logits - logits.mean(dim=-1, keepdim=True)
    return centred / (centred.pow(2).mean(dim=-1, keepdim=True).sqrt() + eps)


def centred_advantages(q_values: Tensor, probs: Tensor) -> Tensor:
    """Advantages A(s, a) = Q(s, a) − Σ_b π(b|s) Q(s, b), shapes [..., A] in and out."""
    if q_values.shape != probs.shape or q_values.dim() == 0:
        raise ValueError(f"centred_advantages: q_values and probs must have the same shape [..., A], got {tuple(q_values.shape)} and {tuple(probs.shape)}")
    return q_values - (probs * q_values).sum(dim=-1, keepdim=True)


def entropy_control(stats: Tensor, tau: Tensor) -> Tensor:
    """f_τ: softmax(stats / τ) over the last axis; stats [..., A], tau [...] (= stats.shape[:-1]).

    Stable for any τ > 0: the row maximum is subtracted *before* dividing by τ, so the largest
    scaled entry is exactly 0 and the others are ≤ 0 (−inf for a tiny τ, giving the greedy
    one-hot, ties shared); a huge τ sends every entry to 0, giving the uniform distribution.
    """
    if stats.dim() == 0 or tuple(tau.shape) != tuple(stats.shape[:-1]):
        raise ValueError(f"entropy_control: tau must have shape stats.shape[:-1]; got stats {tuple(stats.shape)} and tau {tuple(tau.shape)}")
    if not (torch.isfinite(tau).all() and (tau > 0).all()):
        raise ValueError(f"entropy_control: every tau must be finite and > 0, got min {tau.min().item():.3g}")
    shifted = stats - stats.amax(dim=-1, keepdim=True)
    return torch.softmax(shifted / tau.to(stats.dtype).unsqueeze(-1), dim=-1)


def _checked_omega(name: str, stats: Tensor, tau: Tensor, omega: Tensor) -> Tensor:
    """Validate `hybrid_behavior`'s inputs (errors name the caller); returns ω in the stats' dtype."""
    if stats.dim() != 3 or not stats.is_floating_point():
        raise ValueError(f"{name}: stats must be a floating [N, B, A] tensor, got {stats.dtype} of shape {tuple(stats.shape)}")
    n, b, a = stats.shape
    if n == 0 or a == 0:
        raise ValueError(f"{name}: stats needs N >= 1 members and A >= 1 actions, got shape {tuple(stats.shape)}")
    for arg, tensor in (("tau", tau), ("omega", omega)):
        if tuple(tensor.shape) != (b, n):
            raise ValueError(f"{name}: {arg} has shape {tuple(tensor.shape)}, expected [B, N] = {(b, n)} for stats of shape {tuple(stats.shape)}")
    if not torch.isfinite(stats).all():
        raise ValueError(f"{name}: stats contain NaN or inf")
    omega = omega.to(stats.dtype)
    if not (omega >= 0).all():
        raise ValueError(f"{name}: every omega must be >= 0, got min {omega.min().item():.3g}")
    row_sums = omega.sum(dim=-1)
    if not torch.allclose(row_sums, torch.ones_like(row_sums), rtol=0.0, atol=OMEGA_SUM_ATOL):
        worst = (row_sums - 1).abs().argmax().item()
        raise ValueError(f"{name}: omega rows must sum to 1; row {worst} sums to {row_sums[worst].item():.6g}")
    return omega


def hybrid_behavior(stats: Tensor, tau: Tensor, omega: Tensor) -> Tensor:
    """g: behaviour probabilities μ[b] = Σ_i ω[b, i] · f_τ[b, i](stats[i, b]), f_τ = `entropy_control`.

    Args:
        stats: [N, B, A] each member's centred statistic (see the module docstring).
        tau: [B, N] temperatures, all > 0 and finite.
        omega: [B, N] mixture weights, all ≥ 0, each row summing to 1. A one-hot row on member i
            returns exactly (bit for bit) `entropy_control(stats[i], tau[:, i])` for that row:
            Agent57-style selection of a single member.

    Returns:
        [B, A] probabilities in the stats' dtype, every row ≥ 0 and summing to 1.
    """
    omega = _checked_omega("hybrid_behavior", stats, tau, omega)
    member_probs = entropy_control(stats, tau.transpose(0, 1))  # [N, B, A]
    return torch.einsum("bn,nba->ba", omega, member_probs)


def hybrid_log_behavior(stats: Tensor, tau: Tensor, omega: Tensor) -> Tensor:
    """log μ of `hybrid_behavior`, computed in log space: logsumexp_i(log ω_i + log f_τ_i(stats_i)).

    Same arguments and checks. What an actor hands to RLlib as the action distribution inputs:
    a Categorical over these logits is μ itself, and an action that μ gives a tiny probability
    keeps a finite log probability (log μ from the probabilities would underflow to −inf, and
    the learner's importance ratios π/μ would then be clamped instead of exact). A one-hot row
    on member i is exactly `log_softmax((stats_i − max) / τ_i)` (log 0 = −inf drops the others).
    Finite for any τ that does not overflow stats / τ (τ ≥ 1e-30 for |stats| ≤ 1e8 in float32).
    """
    omega = _checked_omega("hybrid_log_behavior", stats, tau, omega)
    if not (torch.isfinite(tau).all() and (tau > 0).all()):
        raise ValueError(f"hybrid_log_behavior: every tau must be finite and > 0, got min {tau.min().item():.3g}")
    shifted = stats - stats.amax(dim=-1, keepdim=True)
    member_log_probs = torch.log_softmax(shifted / tau.transpose(0, 1).to(stats.dtype).unsqueeze(-1), dim=-1)
    return torch.logsumexp(omega.transpose(0, 1).log().unsqueeze(-1) + member_log_probs, dim=0)
