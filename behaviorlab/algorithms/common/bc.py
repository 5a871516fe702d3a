"""Behaviour cloning: the loss and the expert data it reads. One BC for the platform: the `BC`
algorithm (algorithms/bc/), GAIL's expert batches (algorithms/gail/) and PTGM's pre-training
(ptgm/pretrain.py) all use it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from behaviorlab.envs.datasets.trajectories import DatasetError, TrajectoryReader


def behaviour_cloning_loss(action_dist_inputs: torch.Tensor, actions: torch.Tensor, dist_class=None) -> torch.Tensor:
    """Mean negative log-likelihood of the demonstrated actions.

    Without `dist_class`, `action_dist_inputs` are logits over discrete actions (cross-entropy).
    With an RLlib `TorchDistribution` class (an RLModule's `get_train_action_dist_cls()`), any
    action space: Categorical, or the diagonal Gaussian of continuous actions."""
    if dist_class is None:
        return F.cross_entropy(action_dist_inputs, actions)
    return -dist_class.from_logits(action_dist_inputs).logp(actions).mean()


@dataclass(frozen=True)
class ExpertData:
    """The first `num_trajectories` episodes of a dataset, as flat arrays (few demonstrations fit in memory)."""

    obs: np.ndarray  # float32 [N, *obs_shape]
    actions: np.ndarray  # int64 [N] (discrete) or float32 [N, *action_shape]
    episode_returns: np.ndarray  # float64 [num_trajectories]; NaN where the dataset has no rewards
    num_trajectories: int
    path: str

    def __len__(self) -> int:
        return len(self.obs)

    def check_spaces(self, observation_space, action_space) -> None:
        """DatasetError (one line) when the demonstrations do not fit the env's spaces."""
        import gymnasium as gym

        obs_shape = tuple(self.obs.shape[1:])
        if obs_shape != tuple(observation_space.shape or ()):
            raise DatasetError(f"{self.path}: observations of shape {obs_shape}, the env's are {observation_space}; "
                               f"record the expert data in the env being trained")
        if isinstance(action_space, gym.spaces.Discrete):
            fits = self.actions.ndim == 1 and self.actions.dtype.kind == "i" and (self.actions < action_space.n).all()
        else:
            fits = tuple(self.actions.shape[1:]) == tuple(action_space.shape or ())
        if not fits:
            raise DatasetError(f"{self.path}: actions of dtype {self.actions.dtype} and shape {self.actions.shape[1:]} "
                               f"do not fit the env's {action_space}; record the expert data in the env being trained")

    def in_policy_space(self, action_space, normalize_actions: bool) -> ExpertData:
        """The demonstrations with actions as an RLlib policy emits them. Datasets hold the actions the
        env received; with `normalize_actions` (RLlib's default) a policy acts in [-1, 1] and RLlib
        rescales to the env's Box, so Box actions are mapped back the same way here."""
        import gymnasium as gym
        from ray.rllib.utils.spaces.space_utils import normalize_action

        if not (normalize_actions and isinstance(action_space, gym.spaces.Box)):
            return self
        actions = normalize_action(self.actions, action_space).astype(np.float32)
        return ExpertData(self.obs, actions, self.episode_returns, self.num_trajectories, self.path)

    def sample(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        index = rng.integers(len(self.obs), size=size)
        return self.obs[index], self.actions[index]


def resolve_data_path(path: str | Path) -> Path:
    """A dataset path from a spec. Relative paths are taken from the directory the run was started
    in (Tune moves trials into their own directories and records the original one)."""
    import os

    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return Path(os.environ.get("TUNE_ORIG_WORKING_DIR", os.getcwd())) / path


COLLECT_HINT = "record one with `behaviorlab data collect --policy RUN_DIR --env ENV --episodes N --out DIR`"


def expert_data_problem(path: str | Path, num_trajectories: int) -> tuple[str, str] | None:
    """(problem, fix) when `path` cannot give `num_trajectories` expert trajectories, else None.
    Reads only the dataset's metadata: what `behaviorlab run` checks before starting Ray."""
    from behaviorlab.envs.datasets.trajectories import dataset_info

    if not path:
        return "no expert dataset given", f"set config.expert_data to a trajectory dataset directory ({COLLECT_HINT})"
    if num_trajectories < 0:
        return f"num_expert_trajectories is {num_trajectories}", "give 0 (all of the dataset's) or a positive count"
    try:
        info = dataset_info(resolve_data_path(path))
    except DatasetError as error:
        return str(error), COLLECT_HINT
    if info.problem:
        return info.problem, COLLECT_HINT
    if info.spec is None or info.spec.observation["type"] != "array" or info.spec.action["type"] != "array":
        return f"{path}: holds no steps or dict observations/actions", "give a dataset of array observations and actions"
    if num_trajectories > info.num_episodes:
        return (f"{path} holds {info.num_episodes} trajectories, {num_trajectories} asked for",
                "lower config.num_expert_trajectories or record more episodes")
    return None


def load_expert_data(path: str | Path, num_trajectories: int = 0) -> ExpertData:
    """Read the first `num_trajectories` episodes (0: all) of a trajectory dataset with array
    observations and actions. DatasetError (one line) when it is missing, has dict spaces, or
    holds fewer episodes."""
    problem = expert_data_problem(path, num_trajectories)
    if problem:
        raise DatasetError("; ".join(problem))
    reader = TrajectoryReader(resolve_data_path(path))
    wanted = num_trajectories or len(reader.episodes)
    obs, actions, returns = [], [], []
    for record, steps in reader.iter_episodes():
        if len(obs) == wanted:
            break
        obs.append(steps.obs)
        actions.append(steps.action)
        returns.append(float(steps.reward.sum()) if steps.reward is not None else float("nan"))
    actions = np.concatenate(actions)
    actions = actions.astype(np.int64) if actions.dtype.kind in "iub" else actions.astype(np.float32)
    return ExpertData(np.concatenate(obs).astype(np.float32), actions, np.asarray(returns), wanted, str(path))
