"""Hindsight goal relabelling over a flat array of steps (several episodes, back to back)."""

from __future__ import annotations

import numpy as np


def episode_ends(episode_ids: np.ndarray) -> np.ndarray:
    """For each step, the index of the last step of its episode (steps of an episode are contiguous)."""
    episode_ids = np.asarray(episode_ids)
    last = np.flatnonzero(np.append(episode_ids[1:] != episode_ids[:-1], True))
    lengths = np.diff(np.concatenate([[-1], last]))
    return np.repeat(last, lengths)


def relabel(episode_ids: np.ndarray, k_min: int, k_max: int, rng: np.random.Generator, *,
            clip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pick a future step for each step: t + k, k ~ Uniform{k_min, …, k_max}.

    A future step past the episode's end is clipped to that end (`clip=True`: the goal becomes the
    episode's final state, which is where the behaviour was heading) or the step is dropped
    (`clip=False`). Never crosses into another episode. Returns (step indices, goal step indices).
    """
    if not 0 <= k_min <= k_max:
        raise ValueError(f"relabel: need 0 <= k_min <= k_max, got {k_min}, {k_max}")
    ends = episode_ends(episode_ids)
    steps = np.arange(len(ends))
    future = steps + rng.integers(k_min, k_max + 1, size=len(steps))
    if clip:
        return steps, np.minimum(future, ends)
    keep = future <= ends
    return steps[keep], future[keep]
