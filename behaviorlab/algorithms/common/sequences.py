"""Layout helpers between RLlib's flat batches of fixed-length segments and time-major tensors."""

import torch
from torch import Tensor


def to_time_major(x: Tensor, T: int) -> Tensor:
    """[B*T, ...] laid out segment after segment (all T steps of segment 0, then segment 1, …)
    into [T, B, ...]. Returns a view; call .contiguous() if a later .view needs one."""
    if T < 1 or x.dim() == 0 or x.shape[0] % T != 0:
        raise ValueError(f"to_time_major: leading dim of shape {tuple(x.shape)} is not a multiple of T={T}")
    return x.reshape(x.shape[0] // T, T, *x.shape[1:]).transpose(0, 1)


def from_time_major(x: Tensor) -> Tensor:
    """Inverse of to_time_major: [T, B, ...] back into the flat [B*T, ...] segment-after-segment layout."""
    if x.dim() < 2:
        raise ValueError(f"from_time_major: expected [T, B, ...], got shape {tuple(x.shape)}")
    return x.transpose(0, 1).reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def discounts_from_terminated(terminated: Tensor, gamma: float, dtype: torch.dtype | None = None) -> Tensor:
    """γ·(1 − terminated), same shape as terminated ([T, B]).

    Pass the terminated flags only, never truncated ones: a time-limit cut is not the end of
    the MDP, so that step keeps γ and bootstraps from the next value.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"discounts_from_terminated: gamma must lie in [0, 1], got {gamma}")
    dtype = dtype or torch.get_default_dtype()
    return gamma * (1.0 - terminated.to(dtype))


def valid_mask(lengths: Tensor, T: int) -> Tensor:
    """[T, B] bool mask for segments padded to T steps: step t of segment b is valid iff t < lengths[b]."""
    if lengths.dim() != 1:
        raise ValueError(f"valid_mask: lengths must be [B], got shape {tuple(lengths.shape)}")
    if bool((lengths > T).any()) or bool((lengths < 0).any()):
        raise ValueError(f"valid_mask: lengths must lie in [0, {T}], got {lengths.tolist()}")
    return torch.arange(T, device=lengths.device).unsqueeze(1) < lengths.unsqueeze(0)
