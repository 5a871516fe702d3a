"""ACER's efficient trust-region projection (Wang et al. 2017, eq. 12).

How a learner uses it, for a batch of N samples with distribution statistics φ [N, D]
(the logits of a categorical policy, or the mean of a Gaussian one):

1. Keep φ in the graph and build two per-sample surrogate losses whose sums' gradients wrt φ
   are the per-sample quantities of the paper (sample i only touches row i of φ, so the
   gradient of a sum is the stacked per-sample gradients):
       g = -torch.autograd.grad(policy_loss.sum(), phi, retain_graph=True)[0]   # ascent direction
       k = torch.autograd.grad(kl_avg_to_current.sum(), phi, retain_graph=True)[0]
   where kl_avg_to_current is KL[π_avg ‖ π_φ] per sample, with π_avg's statistics detached.
   Do not average the losses before taking these gradients: δ constrains each sample.
2. z = trust_region_projection(g, k, delta).
3. Backpropagate (-(z.detach() * phi).sum() / N) into the network, so that the parameters move
   along the projected direction z instead of g (value and entropy losses are added as usual).
"""

import torch
from torch import Tensor


def trust_region_projection(g: Tensor, k: Tensor, delta: float) -> Tensor:
    """Row-wise z = g − max(0, (k·g − δ)/‖k‖²)·k for g, k of shape [B, D].

    This is the closed-form solution of min_z ½‖g − z‖² s.t. k·z ≤ δ: a row whose step
    already satisfies the linearised KL constraint is returned unchanged; otherwise z lies on
    the constraint boundary (k·z = δ). A row with ‖k‖ = 0 (current policy equal to the average
    one, to first order) has no constraint direction and returns g rather than 0/0.
    """
    if g.dim() != 2 or g.shape != k.shape:
        raise ValueError(f"trust_region_projection: g and k must both be [B, D], got {tuple(g.shape)} and {tuple(k.shape)}")
    k_dot_g = (k * g).sum(dim=-1)
    k_norm_sq = (k * k).sum(dim=-1)
    nonzero = k_norm_sq > 0
    # Divide by 1 where ‖k‖ = 0 so no NaN is formed at all (a NaN in an unused torch.where
    # branch would still poison gradients), then zero the scale for those rows.
    scale = (k_dot_g - delta) / torch.where(nonzero, k_norm_sq, torch.ones_like(k_norm_sq))
    scale = torch.where(nonzero, scale.clamp(min=0.0), torch.zeros_like(scale))
    return g - scale.unsqueeze(-1) * k
