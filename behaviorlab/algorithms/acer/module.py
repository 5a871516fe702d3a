"""ACER's RLModule: a shared torso (RLlib's MLP or CNN encoder from `model_config`) with
policy and critic heads, plus the average policy network used by the trust region.

Discrete actions: softmax policy π(·|x) and Q(x, ·) heads (the paper's Atari network).
Continuous actions: Gaussian policy (mean head, state-independent log std) and a stochastic
dueling network: V(x) and A(x, a), combined by `common.importance.sdn_q`.
EnvRunners build only the acting part (torso + policy head).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.models.base import ENCODER_OUT
from ray.rllib.core.models.catalog import Catalog
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn

from behaviorlab.algorithms.acer.losses import (
    ADVANTAGE_POLICY_SAMPLE, ADVANTAGE_SAMPLED, ADVANTAGE_TAKEN, AVG_DIST_INPUTS, POLICY_SAMPLE, Q_VALUES, VALUES)

class ACERTorchRLModule(TorchRLModule, InferenceOnlyAPI, TargetNetworkAPI):
    def setup(self) -> None:
        catalog = Catalog(self.observation_space, self.action_space, model_config_dict=self.model_config)
        self.encoder = catalog.build_encoder(framework="torch")
        latent = catalog.latent_dims[0]
        self.discrete = isinstance(self.action_space, gym.spaces.Discrete)
        if self.discrete:
            num_actions = int(self.action_space.n)
            self.pi = nn.Linear(latent, num_actions)
        else:
            action_dim = int(self.action_space.shape[0])
            self.pi = nn.Linear(latent, action_dim)
            initial = float(self.model_config.get("initial_log_std", 0.0))
            self.log_std = nn.Parameter(torch.full((action_dim,), initial))
        if self.inference_only:
            return
        if self.discrete:
            self.q = nn.Linear(latent, num_actions)
        else:
            self.v = nn.Linear(latent, 1)
            hidden = max(64, latent)
            self.advantage = nn.Sequential(nn.Linear(latent + action_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    # --- acting -----------------------------------------------------------------------------
    def _dist_inputs(self, latent: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return self.pi(latent)
        mean = self.pi(latent)
        return torch.cat([mean, self.log_std.expand_as(mean)], dim=-1)

    @staticmethod
    def _as_float(obs: torch.Tensor) -> torch.Tensor:
        """uint8 frames (kept compact in the replay buffer) → floats in [0, 1] for the CNN."""
        return obs.float() / 255.0 if obs.dtype == torch.uint8 else obs

    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        latent = self.encoder({Columns.OBS: self._as_float(batch[Columns.OBS])})[ENCODER_OUT]
        return {Columns.ACTION_DIST_INPUTS: self._dist_inputs(latent)}

    # --- learning ---------------------------------------------------------------------------
    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Evaluate segments: observations [B, T+1, ...] (the last one bootstraps), actions [B, T]."""
        obs = self._as_float(batch[Columns.OBS])
        segments, steps = obs.shape[:2]
        flat_obs = obs.reshape(segments * steps, *obs.shape[2:])
        latent = self.encoder({Columns.OBS: flat_obs})[ENCODER_OUT]
        out = {Columns.ACTION_DIST_INPUTS: self._dist_inputs(latent).reshape(segments, steps, -1)}
        with torch.no_grad():
            avg_latent = self.target_encoder({Columns.OBS: flat_obs})[ENCODER_OUT]
            avg_inputs = self._avg_dist_inputs(avg_latent).reshape(segments, steps, -1)
        out[AVG_DIST_INPUTS] = avg_inputs[:, :-1]
        if self.discrete:
            out[Q_VALUES] = self.q(latent).reshape(segments, steps, -1)
            return out
        out.update(self._dueling(latent, out[Columns.ACTION_DIST_INPUTS], batch[Columns.ACTIONS], segments, steps))
        return out

    def _avg_dist_inputs(self, latent: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return self.target_pi(latent)
        mean = self.target_pi(latent)
        return torch.cat([mean, self.target_log_std.expand_as(mean)], dim=-1)

    def _dueling(self, latent, dist_inputs, actions, segments: int, steps: int) -> dict[str, torch.Tensor]:
        """V, A at the taken actions, at n samples u_i ~ π (SDN baseline), and at a' ~ π."""
        n = int(self.model_config.get("sdn_samples", 5))
        mean, log_std = dist_inputs.detach().reshape(segments * steps, -1).chunk(2, dim=-1)
        latent_by_step = latent.reshape(segments, steps, -1)
        with torch.no_grad():
            samples = mean.unsqueeze(1) + log_std.exp().unsqueeze(1) * torch.randn(mean.shape[0], n + 1, mean.shape[-1],
                                                                                device=mean.device)
        repeated = latent.unsqueeze(1).expand(-1, n + 1, -1)
        sampled_adv = self.advantage(torch.cat([repeated, samples], dim=-1)).squeeze(-1).reshape(segments, steps, n + 1)
        taken = self.advantage(torch.cat([latent_by_step[:, :-1], actions], dim=-1)).squeeze(-1)
        return {
            VALUES: self.v(latent).squeeze(-1).reshape(segments, steps),
            ADVANTAGE_TAKEN: taken,
            ADVANTAGE_SAMPLED: sampled_adv[..., :n],
            # The last sample is a' for the bias correction; its SDN baseline uses the other n.
            POLICY_SAMPLE: samples[:, n].reshape(segments, steps, -1)[:, :-1],
            ADVANTAGE_POLICY_SAMPLE: sampled_adv[:, :-1, n],
        }

    # --- average policy network (θ_avg), kept with RLlib's target-network machinery -----------
    def make_target_networks(self) -> None:
        self.target_encoder = make_target_network(self.encoder)
        self.target_pi = make_target_network(self.pi)
        if not self.discrete:
            self.target_log_std = nn.Parameter(self.log_std.detach().clone(), requires_grad=False)

    def get_target_network_pairs(self):
        pairs = [(self.encoder, self.target_encoder), (self.pi, self.target_pi)]
        return pairs

    def average_policy_parameters(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(θ, θ_avg) pairs, every parameter of the acting path including the log std."""
        pairs = []
        for main, avg in self.get_target_network_pairs():
            pairs += list(zip(main.parameters(), avg.parameters()))
        if not self.discrete:
            pairs.append((self.log_std, self.target_log_std))
        return pairs

    def forward_target(self, batch: dict[str, Any]) -> dict[str, Any]:
        latent = self.target_encoder({Columns.OBS: self._as_float(batch[Columns.OBS])})[ENCODER_OUT]
        return {Columns.ACTION_DIST_INPUTS: self._avg_dist_inputs(latent)}

    def get_non_inference_attributes(self) -> list[str]:
        critic = ["q"] if self.discrete else ["v", "advantage"]
        return critic + ["target_encoder", "target_pi"] + ([] if self.discrete else ["target_log_std"])
