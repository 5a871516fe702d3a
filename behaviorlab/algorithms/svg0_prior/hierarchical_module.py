"""SVG0Prior's hierarchical RLModule (`hierarchical: true`): latent-variable policy
π(a|x) = ∫ π^H(z|x) π^L(a|z, x) dz and prior π0(a|x) = ∫ π0^H(z|x^D) π0^L(a|z, x^D) dz with a
diagonal Gaussian z, and a critic Q(x, a, z) (Q(x, a) with `critic_sees_latent: false`).

The lower level reads `lower_keys` (default: the prior's keys, so that a lower level shared with the
prior never shows it more than x^D). With `shared_lower_level` one network is both π^L and π0^L (the
reusable "skills", and only the high levels' KL remains); otherwise the prior has its own π0^L.
EnvRunners build π^H and π^L only.

Holding z for `hold_steps` steps uses RLlib's stateful-module machinery: the state is {latent: the
current z, steps_left: how many more steps it is held}. The EnvRunner's default connectors start each
episode from `get_initial_state()` (countdown 0: draw afresh), feed the previous step's STATE_OUT back
as STATE_IN (also across rollout fragments), and store STATE_OUT with every step of the episode —
which is how z_t and its countdown reach replay and the learner (`latent_segments`).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from torch import nn
from torch.distributions import Normal
from torch.func import functional_call

from behaviorlab.algorithms.svg0_prior.losses import LatentSVG0Outputs, joint_log_prob, latent_schedule
from behaviorlab.algorithms.svg0_prior.module import (
    GaussianHead, SVG0PriorTorchRLModule, build_prior, executed_actions, gather, input_size, mlp, run_prior,
    selected_keys)

LATENT, STEPS_LEFT = "latent", "steps_left"          # the module's state
# Learner batch columns, built from each step's stored STATE_OUT and ACTION_LOGP by `latent_segments`.
LATENTS, LATENT_STEPS_LEFT, BEHAVIOUR_LOG_PROB = "latents", "latent_steps_left", "behaviour_log_prob"


class LowerLevel(nn.Module):
    """π^L(a|z, x): a Gaussian head (normalised action units) over [x, z]."""

    def __init__(self, inputs: int, latent_dim: int, hiddens: list[int], action_dim: int, min_std: float,
                 max_std: float):
        super().__init__()
        self.head = GaussianHead(inputs + latent_dim, hiddens, action_dim, min_std, max_std)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [..., F]; z [S, ..., dz] may carry extra leading sample dimensions, over which x is shared."""
        return self.head(torch.cat([x.expand(*z.shape[:-1], x.shape[-1]), z], dim=-1))


class HierarchicalSVG0PriorTorchRLModule(SVG0PriorTorchRLModule):
    # "policy" is π^H and "prior" π0^H; "lower" is π^L (and π0^L when shared), "prior_lower" a separate π0^L.
    TARGETS = ("policy", "lower", "critic", "prior", "prior_lower")
    ACTING = ("policy", "lower")

    def setup(self) -> None:
        cfg = self.model_config
        self._check_box_actions()
        self.action_dim = int(np.prod(self.action_space.shape))
        self.latent_dim = int(cfg.get("latent_dim", 8))
        self.hold_steps = int(cfg.get("hold_steps", 1))
        self.shared_lower_level = bool(cfg.get("shared_lower_level", True))
        std_bounds = float(cfg.get("min_std", 0.1)), float(cfg.get("max_std", 1.0))
        space = self.observation_space
        self.policy_keys = selected_keys(space, cfg.get("policy_keys"), "policy")
        self.prior_keys = selected_keys(space, cfg.get("prior_keys"), "prior")
        lower_keys = cfg.get("lower_keys")
        self.lower_keys = self.prior_keys if lower_keys is None else selected_keys(space, lower_keys, "lower")
        if self.prior_keys is not None and not set(self.lower_keys) <= set(self.prior_keys):
            raise ValueError(f"lower_keys {self.lower_keys} must be among prior_keys {self.prior_keys}: the prior "
                             "uses the lower level, and must not see more than its own keys")
        self.policy = GaussianHead(input_size(space, self.policy_keys), list(cfg.get("policy_hiddens", [200, 100])),
                                   self.latent_dim, *std_bounds)
        lower_hiddens = list(cfg.get("lower_hiddens", [200, 100]))
        lower_inputs = input_size(space, self.lower_keys)
        self.lower = LowerLevel(lower_inputs, self.latent_dim, lower_hiddens, self.action_dim, *std_bounds)
        if self.inference_only:
            return
        self.critic_keys = selected_keys(space, cfg.get("critic_keys"), "critic")
        self.action_samples = int(cfg.get("action_samples", 10))
        # With z held for k > 1 steps, the countdown is part of the state the critic values.
        countdown_input = 1 if self.hold_steps > 1 else 0
        self.critic_sees_latent = bool(cfg.get("critic_sees_latent", True))
        latent_input = self.latent_dim if self.critic_sees_latent else 0
        self.critic = mlp(input_size(space, self.critic_keys) + self.action_dim + latent_input + countdown_input,
                          list(cfg.get("critic_hiddens", [400, 300])), 1)
        self.prior = build_prior(cfg, input_size(space, self.prior_keys), self.latent_dim)
        if not self.shared_lower_level:
            self.prior_lower = LowerLevel(lower_inputs, self.latent_dim, lower_hiddens, self.action_dim, *std_bounds)
        self._make_targets()

    def get_initial_state(self) -> dict[str, torch.Tensor]:
        return {LATENT: torch.zeros(self.latent_dim), STEPS_LEFT: torch.zeros((), dtype=torch.long)}

    # --- acting -----------------------------------------------------------------------------
    def _forward_exploration(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._act(batch, explore=True)

    def _forward_inference(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        return self._act(batch, explore=False)

    def _act(self, batch: dict[str, Any], explore: bool) -> dict[str, Any]:
        """One step per episode: observations [B, 1, ...] (RLlib adds a time axis of 1 for stateful
        modules), state [B, ...]. The actions are sampled here, so that ACTION_LOGP is the joint
        log μ(z, a|x) (the high level's term only where z is drawn afresh); ACTION_DIST_INPUTS, the
        lower level's Gaussian at z, is stored because the shared segment builder reads it."""
        obs, state = batch[Columns.OBS], batch[Columns.STATE_IN]
        high = Normal(*self.policy(gather(obs, self.policy_keys, self.observation_space)[:, 0]))
        resample = state[STEPS_LEFT] == 0
        latent = torch.where(resample.unsqueeze(-1), high.sample() if explore else high.mean, state[LATENT].float())
        low = Normal(*self.lower(gather(obs, self.lower_keys, self.observation_space)[:, 0], latent))
        actions = low.sample() if explore else low.mean
        out = {
            Columns.ACTIONS: actions.unsqueeze(1),
            Columns.ACTION_DIST_INPUTS: torch.cat([low.mean, low.stddev.log()], dim=-1).unsqueeze(1),
            Columns.STATE_OUT: {LATENT: latent,
                                STEPS_LEFT: torch.where(resample, self.hold_steps - 1, state[STEPS_LEFT] - 1)},
        }
        if explore:
            out[Columns.ACTION_LOGP] = joint_log_prob(high, latent, resample.float(), low, actions).unsqueeze(1)
        return out

    # --- learning ---------------------------------------------------------------------------
    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Segments: observations [B, T+1, ...], actions [B, T, d], and per step the behaviour's
        z_t [B, T, dz] and countdown [B, T]."""
        obs, actions, latents = batch[Columns.OBS], batch[Columns.ACTIONS].float(), batch[LATENTS].float()
        steps, samples = actions.shape[1], self.action_samples
        resampled, countdown = latent_schedule(batch[LATENT_STEPS_LEFT], self.hold_steps)
        held = torch.cat([latents, latents[:, -1:]], dim=1)    # where z is held, x_t keeps z_{t-1}
        policy_in, critic_in, prior_in, lower_in = (
            gather(obs, keys, self.observation_space)
            for keys in (self.policy_keys, self.critic_keys, self.prior_keys, self.lower_keys))

        policy_high = Normal(*self.policy(policy_in[:, :steps]))
        # causal: an LSTM prior reads the segment in order
        prior_high = Normal(*run_prior(self.prior, prior_in[:, :steps], batch, self.prior_keys, self.observation_space))
        # z_s = μ^H(x) + σ^H(x)·η reaches Q only through a_s = μ^L(z_s, x) + σ^L(z_s, x)·ε: Q's own z
        # input gets sg(z_s), and the critic's weights are constants in this term.
        latent_samples = self._latents(policy_high.rsample((samples,)), resampled[:, :steps], held[:, :steps])
        policy_low = Normal(*self.lower(lower_in[:, :steps], latent_samples))
        frozen = {name: p.detach() for name, p in self.critic.named_parameters()}
        q_policy_sampled = self._latent_q(
            lambda x: functional_call(self.critic, frozen, (x,)), critic_in[:, :steps].detach(), policy_low.rsample(),
            latent_samples.detach(), countdown[:, :steps]).permute(1, 2, 0)
        q_taken = self._latent_q(self.critic, critic_in[:, :steps], actions, latents, countdown[:, :steps])
        with torch.no_grad():
            policy_high_target = Normal(*self.target_policy(policy_in))
            prior_high_target = Normal(*run_prior(self.target_prior, prior_in, batch, self.prior_keys,
                                                  self.observation_space))
            target_latents = self._latents(policy_high_target.sample((samples,)), resampled, held)
            policy_low_target = Normal(*self.target_lower(lower_in, target_latents))
            q_target_sampled = self._latent_q(self.target_critic, critic_in, policy_low_target.sample(), target_latents,
                                       countdown).permute(1, 2, 0)
            policy_low_target_taken = Normal(*self.target_lower(lower_in[:, :steps], latents))
            q_target_taken = self._latent_q(self.target_critic, critic_in[:, :steps], actions, latents, countdown[:, :steps])
        separate_prior_lower = {}
        if not self.shared_lower_level:
            separate_prior_lower = {
                "prior_low": Normal(*self.prior_lower(lower_in[:, :steps], latent_samples.detach())),
                "prior_low_target": Normal(*self.target_prior_lower(lower_in[:, :steps], latent_samples))}
            with torch.no_grad():
                separate_prior_lower["prior_low_target_sampled"] = Normal(
                    *self.target_prior_lower(lower_in, target_latents))
        return {"svg0": LatentSVG0Outputs(
            resampled=resampled, latents=latents, policy_high=policy_high, policy_high_target=policy_high_target,
            prior_high=prior_high, prior_high_target=prior_high_target, policy_low=policy_low,
            policy_low_target=policy_low_target, policy_low_target_taken=policy_low_target_taken, q_taken=q_taken,
            q_target_taken=q_target_taken, q_target_sampled=q_target_sampled, q_policy_sampled=q_policy_sampled,
            **separate_prior_lower)}

    @staticmethod
    def _latents(drawn: torch.Tensor, resampled: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
        """z per sample: the fresh draw [S, B, T, dz] where resampled [B, T], else the held z [B, T, dz]."""
        return torch.where(resampled.bool().unsqueeze(-1), drawn, held)

    def _latent_q(self, critic, critic_in: torch.Tensor, actions: torch.Tensor, latents: torch.Tensor,
           countdown: torch.Tensor) -> torch.Tensor:
        """Q(x, a[, z][, countdown]) at actions [..., d] and latents [..., dz] (leading dims [B, T] or
        [S, B, T]; critic_in [B, T, F] and countdown [B, T] are shared over S) → [...]."""
        lead = actions.shape[:-1]
        parts = [critic_in.expand(*lead, critic_in.shape[-1]), executed_actions(actions)]
        if self.critic_sees_latent:
            parts.append(latents)
        if self.hold_steps > 1:
            parts.append((countdown.float() / (self.hold_steps - 1)).expand(*lead).unsqueeze(-1))
        return critic(torch.cat(parts, dim=-1)).squeeze(-1)

    def transfer_parts(self, lower_level: bool) -> list[str]:
        """π0^H, a separate π0^L, and with `lower_level` the policy's lower level (π^L; when shared, π0^L too)."""
        return ["prior", *(["prior_lower"] if not self.shared_lower_level else []), *(["lower"] if lower_level else [])]

    def prior_parameters(self) -> list[nn.Parameter]:
        """π0^H and a separate π0^L; a shared lower level counts as the policy's (`lower_parameters`)."""
        return [*self.prior.parameters(), *(self.prior_lower.parameters() if not self.shared_lower_level else [])]

    def lower_parameters(self) -> list[nn.Parameter]:
        return list(self.lower.parameters())


def latent_segments(chunks: Iterable, length: int) -> dict[str, np.ndarray]:
    """The latent columns for segment rows built from the same chunks (each ≤ `length` steps, in the
    same order) as `episodes_to_segments`: the behaviour's z_t [B, T, dz] and countdown [B, T] from each
    step's STATE_OUT, and μ's joint log-prob of (z_t, a_t) [B, T], padded by repeating the last step."""
    rows = {LATENTS: [], LATENT_STEPS_LEFT: [], BEHAVIOUR_LOG_PROB: []}
    for chunk in chunks:
        state = chunk.get_extra_model_outputs(Columns.STATE_OUT)
        for column, values in ((LATENTS, state[LATENT]), (LATENT_STEPS_LEFT, state[STEPS_LEFT]),
                               (BEHAVIOUR_LOG_PROB, chunk.get_extra_model_outputs(Columns.ACTION_LOGP))):
            values = np.asarray(values)
            rows[column].append(np.concatenate([values, np.repeat(values[-1:], length - len(values), axis=0)]))
    return {column: np.stack(values) for column, values in rows.items()}
