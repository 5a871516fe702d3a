"""Episode chunks → fixed-length, padded segment batches for sequence learners (Retrace).

RLlib hands over episode chunks of at most T steps (from EnvRunners with
`rollout_fragment_length=T`, or slices from its `EpisodeReplayBuffer`). Learners need
rectangular arrays, so each chunk becomes one row, padded to T steps, with a validity mask.
Works on any object with RLlib's SingleAgentEpisode interface; no Ray import.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

OBS, ACTIONS, REWARDS, TERMINATEDS, MASK, BEHAVIOUR_DIST_INPUTS = (
    "obs", "actions", "rewards", "terminateds", "mask", "action_dist_inputs")
BURN_IN_OBS, BURN_IN_MASK = "burn_in_obs", "burn_in_mask"


def _pad(array: np.ndarray, length: int) -> np.ndarray:
    """Pad the time axis to `length` by repeating the last entry (finite, and masked out later)."""
    missing = length - array.shape[0]
    if missing <= 0:
        return array
    return np.concatenate([array, np.repeat(array[-1:], missing, axis=0)], axis=0)


def split_chunks(episodes: Iterable, length: int) -> list:
    """Non-empty chunks of at most `length` steps. A vectorised EnvRunner fills its step budget
    over all sub-envs, so a single chunk may run a few steps past `rollout_fragment_length`;
    `episode.slice` keeps the terminal flag on the last piece only."""
    pieces = []
    for episode in episodes:
        steps = len(episode)
        if steps <= length:
            pieces += [episode] if steps else []
        else:
            pieces += [episode.slice(slice(start, min(start + length, steps))) for start in range(0, steps, length)]
    return pieces


def episodes_to_segments(episodes: Iterable, length: int) -> dict[str, np.ndarray]:
    """Stack episode chunks into segment arrays of `length` steps (longer chunks are split).

    Returns, for B non-empty chunks:
      obs [B, T+1, ...] (a dict of such arrays for Dict observations): x_0..x_L of each chunk, x_L (the bootstrap observation) repeated into padding;
      actions [B, T, ...], rewards [B, T], behaviour distribution inputs [B, T, D] (μ's logits or
      Gaussian parameters, as stored by the EnvRunner);
      terminateds [B, T]: 1 at a chunk's last step if the episode terminated there (a truncated
      or cut chunk bootstraps from x_L, a terminated one does not);
      mask [B, T]: 1 on real steps, 0 on padding.
    """
    rows = {key: [] for key in (OBS, ACTIONS, REWARDS, TERMINATEDS, MASK, BEHAVIOUR_DIST_INPUTS)}
    for episode in split_chunks(episodes, length):
        steps = len(episode)
        terminated = np.zeros(length, dtype=np.float32)
        terminated[steps - 1] = float(episode.is_terminated)
        mask = np.zeros(length, dtype=np.float32)
        mask[:steps] = 1.0
        observations = episode.get_observations()
        if isinstance(observations, dict):  # a Dict observation space: pad every key alike
            rows[OBS].append({key: _pad(np.asarray(value), length + 1) for key, value in observations.items()})
        else:
            rows[OBS].append(_pad(np.asarray(observations), length + 1))
        rows[ACTIONS].append(_pad(np.asarray(episode.get_actions()), length))
        rows[REWARDS].append(_pad(np.asarray(episode.get_rewards(), dtype=np.float32), length) * mask)
        rows[BEHAVIOUR_DIST_INPUTS].append(
            _pad(np.asarray(episode.get_extra_model_outputs(BEHAVIOUR_DIST_INPUTS), dtype=np.float32), length))
        rows[TERMINATEDS].append(terminated)
        rows[MASK].append(mask)
    if not rows[MASK]:
        raise ValueError("no non-empty episode chunks to learn from")
    segments = {key: np.stack(values) for key, values in rows.items() if key != OBS}
    first = rows[OBS][0]
    segments[OBS] = ({key: np.stack([obs[key] for obs in rows[OBS]]) for key in first}
                     if isinstance(first, dict) else np.stack(rows[OBS]))
    return segments


def burn_in_rows(histories: Iterable, burn_in: int) -> dict[str, np.ndarray]:
    """The observations before each segment's first, for a recurrent network to warm its state on
    (R2D2's burn-in).

    `histories`: per segment, its episode's last observations before the segment ([n, ...] with
    n = 0 at an episode's start, only the last `burn_in` are kept; a dict of such arrays for Dict observations).
    Returns burn_in_obs [B, L, ...] (a dict for Dict observations), left-padded with zeros, and
    burn_in_mask [B, L] (1 on real steps).
    """
    observations, masks = [], []
    for history in histories:
        parts = {key: np.asarray(value)[-burn_in:]
                 for key, value in (history.items() if isinstance(history, dict) else [(None, history)])}
        real = len(next(iter(parts.values())))
        padded = {key: _left_pad(value, burn_in) for key, value in parts.items()}
        observations.append(padded if isinstance(history, dict) else padded[None])
        masks.append(np.r_[np.zeros(burn_in - real), np.ones(real)].astype(np.float32))
    first = observations[0]
    stacked = ({key: np.stack([obs[key] for obs in observations]) for key in first}
               if isinstance(first, dict) else np.stack(observations))
    return {BURN_IN_OBS: stacked, BURN_IN_MASK: np.stack(masks)}


def _left_pad(array: np.ndarray, length: int) -> np.ndarray:
    return np.concatenate([np.zeros((length - len(array), *array.shape[1:]), array.dtype), array])
