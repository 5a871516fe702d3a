"""STEVE's RLModule: a deterministic tanh actor (DDPG-style, Gaussian exploration noise), a Q
ensemble with target copies, and the world-model ensembles (residual transition, termination,
reward). Every ensemble is one batched network (a member axis in each weight), so all members run
in one forward. EnvRunners build only the actor.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn


class EnsembleLinear(nn.Module):
    """E independent affine maps: x [E, B, in] → [E, B, out]."""

    def __init__(self, members: int, inputs: int, outputs: int):
        super().__init__()
        bound = 1.0 / math.sqrt(inputs)  # nn.Linear's default initialisation, per member
        self.weight = nn.Parameter(torch.empty(members, inputs, outputs).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, outputs).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        weight, bias = (self.weight.detach(), self.bias.detach()) if detach else (self.weight, self.bias)
        return torch.baddbmm(bias, x, weight)


class EnsembleMLP(nn.Module):
    """E independently initialised ReLU MLPs evaluated together. Input [B, in] (every member
    sees it) or [E, B, in] (member e sees row e) → [E, B, out]."""

    def __init__(self, members: int, inputs: int, hiddens: list[int], outputs: int):
        super().__init__()
        sizes = [inputs, *hiddens, outputs]
        self.members = members
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor, detach: bool = False) -> torch.Tensor:
        """`detach`: use the weights as constants (the actor's gradient must not move the critic)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, *x.shape)
        for index, layer in enumerate(self.layers):
            x = layer(x, detach)
            if index < len(self.layers) - 1:
                x = torch.relu(x)
        return x


def mlp(inputs: int, hiddens: list[int], outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hiddens:
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, outputs))


class STEVETorchRLModule(TorchRLModule, InferenceOnlyAPI, TargetNetworkAPI):
    def setup(self) -> None:
        cfg = self.model_config
        if not isinstance(self.action_space, gym.spaces.Box) or not isinstance(self.observation_space, gym.spaces.Box):
            raise ValueError(f"STEVE needs Box observations and actions, got {self.observation_space} and "
                             f"{self.action_space}")
        self.obs_dim = int(np.prod(self.observation_space.shape))
        self.action_dim = int(np.prod(self.action_space.shape))
        self.exploration_noise = float(cfg.get("exploration_noise", 0.1))
        self.actor = mlp(self.obs_dim, list(cfg.get("actor_hiddens", [128, 128])), self.action_dim)
        if self.inference_only:
            return
        obs_act = self.obs_dim + self.action_dim
        self.q = EnsembleMLP(int(cfg.get("q_ensemble", 4)), obs_act, list(cfg.get("critic_hiddens", [128, 128])), 1)
        models = int(cfg.get("model_ensemble", 4))
        self.transition = EnsembleMLP(models, obs_act, list(cfg.get("model_hiddens", [256, 256])), self.obs_dim)
        # Termination and reward read the whole imagined step (s, a, s'), as in the official code.
        self.termination = EnsembleMLP(models, obs_act + self.obs_dim, list(cfg.get("reward_hiddens", [128, 128])), 1)
        self.reward = EnsembleMLP(int(cfg.get("reward_ensemble", 4)), obs_act + self.obs_dim,
                                  list(cfg.get("reward_hiddens", [128, 128])), 1)

    # --- acting -----------------------------------------------------------------------------
    def policy(self, obs: torch.Tensor) -> torch.Tensor:
        """π(s) in RLlib's normalised action units ([-1, 1] spans the env's range)."""
        return torch.tanh(self.actor(obs.float()))

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return {Columns.ACTIONS: self.policy(batch[Columns.OBS])}

    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        actions = self.policy(batch[Columns.OBS])
        return {Columns.ACTIONS: (actions + self.exploration_noise * torch.randn_like(actions)).clamp(-1.0, 1.0)}

    # --- learning ---------------------------------------------------------------------------
    def q_values(self, obs: torch.Tensor, actions: torch.Tensor, target: bool = False,
                 detach: bool = False) -> torch.Tensor:
        """Q_l(s, a) for every member l: [..., obs], [..., act] → [L, ...]."""
        x = torch.cat([obs, actions], dim=-1)
        lead = x.shape[:-1]
        out = (self.target_q if target else self.q)(x.reshape(-1, x.shape[-1]), detach)
        return out.reshape(out.shape[0], *lead)

    def step_models(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One model step from [M, B, obs] (model m from its own row) → next obs [M, B, obs],
        termination logits [M, B], rewards [N, M, B] (every reward model on every row)."""
        next_obs = obs + self.transition(torch.cat([obs, actions], dim=-1))
        step = torch.cat([obs, actions, next_obs], dim=-1)
        done_logit = self.termination(step).squeeze(-1)
        models, batch = obs.shape[:2]
        rewards = self.reward(step.reshape(models * batch, -1)).reshape(-1, models, batch)
        return next_obs, done_logit, rewards

    @torch.no_grad()
    def imagine(self, next_obs: torch.Tensor, horizon: int) -> dict[str, torch.Tensor]:
        """Roll every model H steps from the real s' with the current actor (no exploration noise)
        → the inputs of `targets.candidate_targets`: model_rewards [B, H, M, N],
        model_continuation [B, H, M], bootstrap_q [B, H+1, M, L] (target Q functions)."""
        models = self.transition.members
        real = next_obs.float()
        actions = self.policy(real)
        # Step 0 is the real s' on every model's rollout: evaluate Q there once, not M times.
        bootstrap = [self.q_values(real, actions, target=True).unsqueeze(1).expand(-1, models, -1)]  # [L, M, B]
        obs, actions = real.unsqueeze(0).expand(models, *real.shape), actions.unsqueeze(0).expand(models, *actions.shape)
        rewards, continuation = [], []
        for _ in range(horizon):
            obs, done_logit, reward = self.step_models(obs, actions)
            actions = self.policy(obs)
            bootstrap.append(self.q_values(obs, actions, target=True))
            rewards.append(reward)
            continuation.append(1.0 - torch.sigmoid(done_logit))
        return {
            "model_rewards": torch.stack(rewards, 1).permute(3, 1, 2, 0) if rewards else
            next_obs.new_zeros(next_obs.shape[0], 0, models, self.reward.members),
            "model_continuation": torch.stack(continuation, 1).permute(2, 1, 0) if continuation else
            next_obs.new_zeros(next_obs.shape[0], 0, models),
            "bootstrap_q": torch.stack(bootstrap, 1).permute(3, 1, 2, 0),
        }

    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """What the losses need from the module; the learner builds the targets."""
        obs, actions = batch[Columns.OBS].float(), batch[Columns.ACTIONS].float()
        next_obs = batch[Columns.NEXT_OBS].float()
        models = self.transition.members
        real = torch.cat([obs, actions], dim=-1)
        step = torch.cat([obs, actions, next_obs], dim=-1)
        return {
            "q": self.q_values(obs, actions),                                                 # [L, B]
            # Actor: the ensemble's mean Q at π(s), the critic's weights held constant.
            "q_policy": self.q_values(obs, self.policy(obs), detach=True),                  # [L, B]
            "pred_delta": self.transition(real.unsqueeze(0).expand(models, *real.shape)),   # [M, B, obs]
            "pred_done_logit": self.termination(step).squeeze(-1),                           # [M, B]
            "pred_reward": self.reward(step).squeeze(-1),                                    # [N, B]
        }

    # --- target networks ----------------------------------------------------------------------
    def make_target_networks(self) -> None:
        self.target_q = make_target_network(self.q)

    def get_target_network_pairs(self):
        return [(self.q, self.target_q)]

    def forward_target(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {"q": self.q_values(batch[Columns.OBS].float(), batch[Columns.ACTIONS].float(), target=True)}

    def get_non_inference_attributes(self) -> list[str]:
        return ["q", "target_q", "transition", "termination", "reward"]
