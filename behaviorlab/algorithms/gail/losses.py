"""GAIL's two contract functions, pure torch (Ho & Ermon 2016, Algorithm 1).

Convention, as in the paper: D(s, a) ∈ (0, 1) is the probability that (s, a) came from the
*policy*; `policy_logits` are the logits of D, so D = sigmoid(logits). The discriminator minimises
the binary cross-entropy with label 1 for policy samples and 0 for expert samples (ascending eq. 17
is the same thing); the policy's per-step cost is log D < 0, i.e. its reward is −log D > 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gail_reward(policy_logits: torch.Tensor) -> torch.Tensor:
    """−log D(s, a) elementwise: → 0 where D is sure the sample is the policy's, large where D
    takes it for the expert's. −log sigmoid(x) = softplus(−x), stable for any logit."""
    return F.softplus(-policy_logits)


def discriminator_loss(policy_logits: torch.Tensor, expert_logits: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy over the concatenated batch: label 1 for the policy's samples,
    0 for the expert's."""
    logits = torch.cat([policy_logits.reshape(-1), expert_logits.reshape(-1)])
    labels = torch.cat([torch.ones(policy_logits.numel(), device=logits.device, dtype=logits.dtype),
                        torch.zeros(expert_logits.numel(), device=logits.device, dtype=logits.dtype)])
    return F.binary_cross_entropy_with_logits(logits, labels)
