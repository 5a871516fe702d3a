"""GAIL's discriminator D_w(s, a): an MLP over the observation and the action (one-hot when
discrete, as is when continuous) giving the logit of P(the sample came from the policy).

It is its own RLModule inside the learner's MultiRLModule, declared `learner_only`: EnvRunners
never build it (they act with the policy alone), the learner trains it, and RLlib's checkpoints hold
it with the learner's state (the observation statistics are buffers, so they are held too)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from torch import nn

DISCRIMINATOR_ID = "discriminator"
LOGITS = "discriminator_logits"


def action_features(actions: torch.Tensor, action_space: gym.Space) -> torch.Tensor:
    """Actions as D's input: one-hot for Discrete, flattened floats for Box."""
    if isinstance(action_space, gym.spaces.Discrete):
        return F.one_hot(actions.long(), int(action_space.n)).float()
    return actions.float().reshape(len(actions), -1)


def merge_moments(mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor,
                  batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean and (population) variance of everything seen so far plus `batch` [N, D], from the old
    moments over `count` rows: Chan et al.'s parallel update, exact for any split of the data."""
    batch = batch.to(mean.dtype)
    batch_count = torch.tensor(float(len(batch)), dtype=mean.dtype, device=mean.device)
    batch_mean, batch_var = batch.mean(0), batch.var(0, unbiased=False)
    total = count + batch_count
    delta = batch_mean - mean
    new_mean = mean + delta * batch_count / total
    new_var = (var * count + batch_var * batch_count + delta**2 * count * batch_count / total) / total
    return new_mean, new_var, total


class RunningObservationNorm(nn.Module):
    """(obs − mean) / std over all observations given to `update`, held in buffers.

    Hand-written because torch's BatchNorm normalises with the batch's own statistics while
    training, and D must score the expert's and the policy's samples with the same, fixed statistics
    (updated once per iteration, then frozen for its steps and the rewards)."""

    def __init__(self, width: int, epsilon: float = 1e-8):
        super().__init__()
        self.epsilon = epsilon
        self.register_buffer("mean", torch.zeros(width, dtype=torch.float64))
        self.register_buffer("var", torch.ones(width, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs: torch.Tensor) -> None:
        self.mean, self.var, self.count = merge_moments(self.mean, self.var, self.count, obs.reshape(len(obs), -1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        scale = torch.sqrt(self.var + self.epsilon)
        return ((obs.reshape(len(obs), -1).double() - self.mean) / scale).float()


def action_width(action_space: gym.Space) -> int:
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.Box):
        return int(np.prod(action_space.shape))
    raise ValueError(f"GAIL's discriminator takes Discrete or Box actions, not {action_space}")


class DiscriminatorModule(TorchRLModule):
    """model_config: `disc_hiddens` (default [64, 64]), `disc_activation` ("tanh" or "relu", default tanh),
    `disc_normalize_obs` (default False), set from GAILConfig's fields of the same names."""

    def setup(self) -> None:
        if not isinstance(self.observation_space, gym.spaces.Box):
            raise ValueError(f"GAIL's discriminator takes Box observations, not {self.observation_space}")
        hiddens = list(self.model_config.get("disc_hiddens", [64, 64]))
        activation = {"tanh": nn.Tanh, "relu": nn.ReLU}[self.model_config.get("disc_activation", "tanh")]
        layers: list[nn.Module] = []
        obs_width = int(np.prod(self.observation_space.shape))
        self.obs_norm = (RunningObservationNorm(obs_width) if self.model_config.get("disc_normalize_obs", False)
                         else nn.Identity())
        width = obs_width + action_width(self.action_space)
        for hidden in hiddens:
            layers += [nn.Linear(width, hidden), activation()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def logits(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """[N] logits of D(s, a) = P(policy)."""
        inputs = torch.cat([self.obs_norm(obs.float()).reshape(len(obs), -1),
                            action_features(actions, self.action_space)], -1)
        return self.net(inputs).squeeze(-1)

    def _forward(self, batch, **kwargs):
        return {LOGITS: self.logits(batch[Columns.OBS], batch[Columns.ACTIONS])}
