"""LBC's RLModule: a population of N discrete actor-critics (ACER-style policy logits and Q head)
and the hybrid behaviour μ_ψ that acts for all of them.

Member i: an encoder (RLlib's MLP or CNN from `model_config`; one shared by every member with
`shared_torso`), a policy head (logits of π_i) and a Q head, each an MLP of `head_fcnet_hiddens`
(empty: linear). For ACER's trust region every member has an average policy network (its
encoder and policy head, Polyak-averaged), kept with RLlib's target-network machinery.
EnvRunners build only the acting part (encoders and policy heads).

Acting (`_forward_exploration`): Φ_i = the member's behaviour statistic (standardised logits or
log π_i, `model_config["behavior_statistic"]`), then log μ_ψ = `hybrid_log_behavior(Φ, τ, ω)` with
the episode's ψ from the batch (see `psi.py`). RLlib samples the action from a Categorical over
`action_dist_inputs` = log μ_ψ and stores those inputs and the returned ψ per step, so the learner
knows μ_ψ exactly. `_forward_inference` acts with the batch's ψ when an env runner put one there
(evaluation runners: the config's `psi_in_evaluation`), else with the fixed ψ of `inference_tau` /
`inference_omega`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.utils import make_target_network
from ray.rllib.core.models.base import ENCODER_OUT
from ray.rllib.core.models.catalog import Catalog
from ray.rllib.core.models.configs import MLPHeadConfig
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, TargetNetworkAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn

from behaviorlab.algorithms.acer.losses import AVG_DIST_INPUTS, Q_VALUES
from behaviorlab.algorithms.acer.module import ACERTorchRLModule
from behaviorlab.algorithms.lbc.mapping import centred_logits, hybrid_log_behavior
from behaviorlab.algorithms.lbc.psi import ARM, OMEGA, TAU


class LBCTorchRLModule(TorchRLModule, InferenceOnlyAPI, TargetNetworkAPI):
    _as_float = staticmethod(ACERTorchRLModule._as_float)

    def setup(self) -> None:
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise ValueError(f"LBC needs a Discrete action space, got {self.action_space}")
        config = self.model_config
        self.num_members = int(config["num_members"])
        self.behavior_statistic = config["behavior_statistic"]
        self.inference_tau = float(config["inference_tau"])
        self.inference_omega = [float(w) for w in config["inference_omega"]]
        catalog = Catalog(self.observation_space, self.action_space, model_config_dict=config)
        num_torsos = 1 if config["shared_torso"] else self.num_members
        self.torsos = nn.ModuleList(catalog.build_encoder(framework="torch") for _ in range(num_torsos))
        head = MLPHeadConfig(
            input_dims=[catalog.latent_dims[0]], hidden_layer_dims=list(config.get("head_fcnet_hiddens", [])),
            hidden_layer_activation=config.get("head_fcnet_activation", "relu"),
            output_layer_dim=int(self.action_space.n))
        self.pis = nn.ModuleList(head.build(framework="torch") for _ in range(self.num_members))
        if self.inference_only:
            return
        self.qs = nn.ModuleList(head.build(framework="torch") for _ in range(self.num_members))

    # --- members ----------------------------------------------------------------------------
    def _latents(self, torsos: nn.ModuleList, obs: torch.Tensor) -> list[torch.Tensor]:
        latents = [torso({Columns.OBS: obs})[ENCODER_OUT] for torso in torsos]
        return latents * self.num_members if len(latents) == 1 else latents

    def member_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """[N, B, A] logits of every member's policy π_i for observations [B, ...]."""
        latents = self._latents(self.torsos, self._as_float(obs))
        return torch.stack([pi(latent) for pi, latent in zip(self.pis, latents)])

    def member_q_values(self, obs: torch.Tensor) -> torch.Tensor:
        """[N, B, A] every member's Q_i(s, ·) for observations [B, ...] (not on inference-only modules)."""
        latents = self._latents(self.torsos, self._as_float(obs))
        return torch.stack([q(latent) for q, latent in zip(self.qs, latents)])

    def behavior_statistics(self, logits: torch.Tensor) -> torch.Tensor:
        """Φ_i from the members' logits [N, B, A], the input of the hybrid mapping."""
        if self.behavior_statistic == "log_probs":
            return logits.log_softmax(-1)
        return centred_logits(logits)

    # --- acting -----------------------------------------------------------------------------
    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        with torch.no_grad():
            stats = self.behavior_statistics(self.member_logits(batch[Columns.OBS]))
            log_mu = hybrid_log_behavior(stats, batch[TAU], batch[OMEGA])
        return {Columns.ACTION_DIST_INPUTS: log_mu, TAU: batch[TAU], OMEGA: batch[OMEGA], ARM: batch[ARM]}

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        if TAU in batch:
            return self._forward_exploration(batch)
        with torch.no_grad():
            stats = self.behavior_statistics(self.member_logits(batch[Columns.OBS]))
            rows = stats.shape[1]
            tau = stats.new_full((rows, self.num_members), self.inference_tau)
            omega = stats.new_tensor(self.inference_omega).expand(rows, -1)
            return {Columns.ACTION_DIST_INPUTS: hybrid_log_behavior(stats, tau, omega)}

    # --- learning ---------------------------------------------------------------------------
    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Segments: observations [B, T+1, ...] (the last one bootstraps). Returns, stacked over
        members, ACER's inputs: logits and Q values [N, B, T+1, A], average-policy logits [N, B, T, A]."""
        obs = self._as_float(batch[Columns.OBS])
        segments, steps = obs.shape[:2]
        flat_obs = obs.reshape(segments * steps, *obs.shape[2:])
        latents = self._latents(self.torsos, flat_obs)
        logits = torch.stack([pi(latent) for pi, latent in zip(self.pis, latents)])
        q_values = torch.stack([q(latent) for q, latent in zip(self.qs, latents)])
        with torch.no_grad():
            avg_logits = self._average_logits(flat_obs)
        shape = (self.num_members, segments, steps, -1)
        return {Columns.ACTION_DIST_INPUTS: logits.reshape(shape), Q_VALUES: q_values.reshape(shape),
                AVG_DIST_INPUTS: avg_logits.reshape(shape)[:, :, :-1]}

    # --- average policy networks (θ_avg per member), kept as RLlib target networks ----------
    def _average_logits(self, obs: torch.Tensor) -> torch.Tensor:
        latents = self._latents(self.target_torsos, obs)
        return torch.stack([pi(latent) for pi, latent in zip(self.target_pis, latents)])

    def make_target_networks(self) -> None:
        self.target_torsos = make_target_network(self.torsos)
        self.target_pis = make_target_network(self.pis)

    def get_target_network_pairs(self):
        return [(self.torsos, self.target_torsos), (self.pis, self.target_pis)]

    def average_policy_parameters(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(θ, θ_avg) pairs of every member's acting path (what ACER's learner averages)."""
        pairs = []
        for main, avg in self.get_target_network_pairs():
            pairs += list(zip(main.parameters(), avg.parameters()))
        return pairs

    def forward_target(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self._average_logits(self._as_float(batch[Columns.OBS]))}

    def get_non_inference_attributes(self) -> list[str]:
        return ["qs", "target_torsos", "target_pis"]
