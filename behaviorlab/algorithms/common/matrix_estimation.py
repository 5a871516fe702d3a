"""Matrix estimation for SV-RL (Yang et al., ICLR 2020): fill the hidden entries of a matrix from
its observed ones assuming it is approximately low rank. Pure torch, no gradient.

Both estimators follow the official code (YyzHarry/SV-RL, which calls fancyimpute): the matrix is
scaled affinely to [−1, 1] by (max + min) / 2 and (max − min) / 2, completed, clipped to [−1, 1] and
unscaled; observed entries come back unchanged, only hidden ones are filled. One deviation: max and
min are those of the observed entries (the official code reads the hidden ones too, which a matrix
estimator should not see; the two differ only when an extreme entry is hidden).
"""

from __future__ import annotations

import torch

METHODS = ("soft_impute", "usvt")


def approximate_rank(singular_values: torch.Tensor, energy: float = 0.99) -> int:
    """Number of leading singular values whose squares hold `energy` of the total (the paper's
    "approximate rank"); 0 for a zero matrix."""
    power = singular_values.double() ** 2
    total = float(power.sum())
    if total == 0.0:
        return 0
    return int((torch.cumsum(power, 0) < energy * total).sum()) + 1


def _to_unit_range(matrix: torch.Tensor) -> tuple[torch.Tensor, float, float]:
    high, low = float(matrix.max()), float(matrix.min())
    shift, scale = (high + low) / 2, (high - low) / 2
    return (matrix - shift) / (scale if scale > 0 else 1.0), shift, scale


def _check(matrix: torch.Tensor, observed: torch.Tensor) -> None:
    if matrix.dim() != 2 or observed.shape != matrix.shape or observed.dtype != torch.bool:
        raise ValueError(f"matrix estimation needs a 2-D matrix and a bool mask of the same shape; got "
                         f"{tuple(matrix.shape)} and {observed.dtype} {tuple(observed.shape)}")


def _zero_filled_unit_range(matrix: torch.Tensor, observed: torch.Tensor):
    """(observed entries scaled to [-1, 1] with hidden ones 0, hidden mask, shift, scale), or None
    when nothing is hidden or nothing observed (no completion to make)."""
    _check(matrix, observed)
    hidden = ~observed
    if not bool(hidden.any()) or not bool(observed.any()):
        return None
    scaled, shift, scale = _to_unit_range(torch.where(observed, matrix, matrix[observed].mean()))
    return torch.where(observed, scaled, torch.zeros_like(scaled)), hidden, shift, scale


@torch.no_grad()
def soft_impute(matrix: torch.Tensor, observed: torch.Tensor, *, shrinkage: float | None = None,
                max_iters: int = 100, tol: float = 1e-3) -> torch.Tensor:
    """SoftImpute (Mazumder, Hastie, Tibshirani 2010) as fancyimpute runs it: hidden entries start
    at 0; each iteration soft-thresholds the singular values by `shrinkage` (default σ_max / 50 of
    the zero-filled matrix) and writes the reconstruction into the hidden entries only; stops after
    `max_iters` or when the hidden entries change by less than `tol` (relative); then clips.

    Args:
        matrix: [n, m] values; hidden entries may hold anything (they are ignored).
        observed: bool [n, m], True where the value is known.
    Returns:
        [n, m]: `matrix` where observed, the completion elsewhere.
    """
    prepared = _zero_filled_unit_range(matrix, observed)
    if prepared is None:
        return matrix.clone()
    filled, hidden, shift, scale = prepared
    if shrinkage is None:
        shrinkage = float(torch.linalg.matrix_norm(filled, ord=2)) / 50.0
    for _ in range(max_iters):
        u, s, vh = torch.linalg.svd(filled, full_matrices=False)
        reconstruction = (u * (s - shrinkage).clamp(min=0)) @ vh
        old, new = filled[hidden], reconstruction[hidden]
        filled = torch.where(hidden, reconstruction, filled)
        old_norm = float(old.norm())
        if old_norm > 0 and float((old - new).norm()) / old_norm < tol:
            break
    return torch.where(observed, matrix, filled.clamp(-1.0, 1.0) * scale + shift)


@torch.no_grad()
def usvt(matrix: torch.Tensor, observed: torch.Tensor, *, eta: float = 0.01) -> torch.Tensor:
    """Universal singular value thresholding (Chatterjee 2015): zero-fill the hidden entries, keep
    the singular values ≥ (2 + eta) √(max(n, m) p̂), divide by the observed share p̂, clip. One SVD."""
    prepared = _zero_filled_unit_range(matrix, observed)
    if prepared is None:
        return matrix.clone()
    filled, _, shift, scale = prepared
    share = float(observed.float().mean())
    u, s, vh = torch.linalg.svd(filled, full_matrices=False)
    keep = s >= (2.0 + eta) * (max(matrix.shape) * share) ** 0.5
    estimate = ((u * (s * keep)) @ vh / share).clamp(-1.0, 1.0)
    return torch.where(observed, matrix, estimate * scale + shift)


def complete(matrix: torch.Tensor, observed: torch.Tensor, method: str = "soft_impute") -> torch.Tensor:
    """Dispatch by name (`METHODS`)."""
    if method == "soft_impute":
        return soft_impute(matrix, observed)
    if method == "usvt":
        return usvt(matrix, observed)
    raise ValueError(f"unknown matrix estimation method {method!r}; choose one of {', '.join(METHODS)}")
