"""Retrace(λ=1) targets for ACER (Wang et al. 2017, Algorithm 2), batched over segments.

All tensors are time-major: index 0 is time, index 1 is the segment (batch) axis.
"""

import torch
from torch import Tensor


def _check_shape(name: str, tensor: Tensor, expected: tuple[int, ...]) -> None:
    if tuple(tensor.shape) != expected:
        raise ValueError(f"retrace_targets: {name} has shape {tuple(tensor.shape)}, expected {expected} ([T, B] time-major; values is [T+1, B])")


def retrace_targets(rewards: Tensor, discounts: Tensor, q_taken: Tensor, values: Tensor, traces: Tensor) -> Tensor:
    """Retrace targets Q_ret for every step of a batch of segments x_0..x_T.

    Args:
        rewards: [T, B] r_t.
        discounts: [T, B] γ·(1 − terminated_t). A truncated step keeps γ so that it
            bootstraps from the value that follows it; only termination cuts the return.
        q_taken: [T, B] Q(x_t, a_t).
        values: [T+1, B] V(x_0)..V(x_T) with V(x) = Σ_a π(a|x) Q(x, a); values[T] is the
            bootstrap value of the observation after the last step.
        traces: [T, B] c_t, e.g. min(1, ρ_t) for Retrace or all ones for Q_opc.
            traces[0] is unused: it would only correct a target before the segment.

    Returns:
        [T, B] targets with
            target[T-1] = r[T-1] + d[T-1]·V[T]
            target[t]   = r[t] + d[t]·(V[t+1] + c[t+1]·(target[t+1] − Q[t+1])).
        This is the paper's backward loop "Q_ret ← r_t + γ Q_ret; Q_ret ← c_t(Q_ret − Q(x_t, a_t)) + V(x_t)"
        with the terminal reset folded into d. The targets are constants (computed under
        torch.no_grad): regress Q onto them and weight the policy gradient with them, never
        backpropagate through them.

    A segment may end an episode by termination anywhere (d = 0 cuts everything after it), but
    a truncation may only be its last step, because values[T] must then be the value of the
    final observation. Padded segments (see sequences.valid_mask): set traces to 0 at padded
    steps and put the bootstrap value at values[length]; the valid steps are then exact and the
    padded steps' targets are to be masked out.
    """
    if rewards.dim() != 2 or rewards.shape[0] == 0:
        raise ValueError(f"retrace_targets: rewards must be [T, B] with T >= 1, got shape {tuple(rewards.shape)}")
    T, B = rewards.shape
    _check_shape("discounts", discounts, (T, B))
    _check_shape("q_taken", q_taken, (T, B))
    _check_shape("traces", traces, (T, B))
    _check_shape("values", values, (T + 1, B))

    with torch.no_grad():
        targets = []
        # Return estimate of the state x_{t+1}; before the loop that is the bootstrap V(x_T).
        next_return = values[T]
        for t in range(T - 1, -1, -1):
            target = rewards[t] + discounts[t] * next_return
            targets.append(target)
            # What step t-1 sees as the return from x_t: V(x_t) plus the traced off-policy
            # correction of the action actually taken (V(x_t), not V(x_{t+1})).
            next_return = values[t] + traces[t] * (target - q_taken[t])
        return torch.stack(targets[::-1])
