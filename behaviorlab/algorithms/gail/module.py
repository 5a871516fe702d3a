"""GAIL's discriminator D_w(s, a): an MLP over the observation and the action (one-hot when
discrete, as is when continuous) giving the logit of P(the sample came from the policy).

It is its own RLModule inside the learner's MultiRLModule, declared `learner_only`: EnvRunners
never build it (they act with the policy alone), the learner trains it, and RLlib's checkpoints hold
it with the learner's state."""

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


def action_width(action_space: gym.Space) -> int:
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.Box):
        return int(np.prod(action_space.shape))
    raise ValueError(f"GAIL's discriminator takes Discrete or Box actions, not {action_space}")


class DiscriminatorModule(TorchRLModule):
    """model_config: `disc_hiddens` (default [64, 64]), `disc_activation` ("tanh" or "relu", default tanh),
    set from GAILConfig's fields of the same names."""

    def setup(self) -> None:
        if not isinstance(self.observation_space, gym.spaces.Box):
            raise ValueError(f"GAIL's discriminator takes Box observations, not {self.observation_space}")
        hiddens = list(self.model_config.get("disc_hiddens", [64, 64]))
        activation = {"tanh": nn.Tanh, "relu": nn.ReLU}[self.model_config.get("disc_activation", "tanh")]
        layers: list[nn.Module] = []
        width = int(np.prod(self.observation_space.shape)) + action_width(self.action_space)
        for hidden in hiddens:
            layers += [nn.Linear(width, hidden), activation()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def logits(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """[N] logits of D(s, a) = P(policy)."""
        inputs = torch.cat([obs.float().reshape(len(obs), -1), action_features(actions, self.action_space)], -1)
        return self.net(inputs).squeeze(-1)

    def _forward(self, batch, **kwargs):
        return {LOGITS: self.logits(batch[Columns.OBS], batch[Columns.ACTIONS])}
