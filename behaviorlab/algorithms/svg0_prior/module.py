"""SVG0Prior's RLModule: Gaussian policy π, critic Q(x, a) and behaviour prior π0, each with a
target copy. Which observation keys each network reads is configuration (information asymmetry):
`policy_keys`, `critic_keys`, `prior_keys` name entries of a Dict observation (None = all of them).

The torsos are plain MLPs written here because RLlib's Catalog encoders take one Box observation,
while each of these networks reads its own subset of a Dict observation. EnvRunners build only the
policy (the inference-only part).
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from torch import nn
from torch.distributions import Normal
from torch.func import functional_call

from behaviorlab.algorithms.common.segments import BURN_IN_MASK, BURN_IN_OBS
from behaviorlab.algorithms.svg0_prior.losses import SVG0Outputs


def selected_keys(space: gym.Space, keys: list[str] | None, role: str) -> list[str] | None:
    """The Dict keys a network reads (sorted for a fixed input layout); None for a Box observation."""
    if not isinstance(space, gym.spaces.Dict):
        if keys:
            raise ValueError(f"{role}_keys={keys} needs a Dict observation space, got {space}")
        return None
    if keys is None:
        return sorted(space.spaces)
    unknown = sorted(set(keys) - set(space.spaces))
    if unknown:
        raise ValueError(f"{role}_keys: {unknown} not in the observation's keys {sorted(space.spaces)}")
    return sorted(keys)


def input_size(space: gym.Space, keys: list[str] | None) -> int:
    spaces = [space] if keys is None else [space.spaces[k] for k in keys]
    return int(sum(np.prod(s.shape) for s in spaces))


def gather(obs: Any, keys: list[str] | None, space: gym.Space) -> torch.Tensor:
    """Concatenate the selected keys of a batched observation (leading dims [B] or [B, T])."""
    if keys is None:
        return obs.float()
    parts = []
    for key in keys:
        tensor = obs[key].float()
        lead = tensor.shape[:tensor.dim() - len(space.spaces[key].shape)]
        parts.append(tensor.reshape(*lead, -1))
    return torch.cat(parts, dim=-1)


def mlp(inputs: int, hiddens: list[int], outputs: int) -> nn.Sequential:
    """Acme's layer-normed MLP: Linear → LayerNorm → tanh first, then ELU layers."""
    layers: list[nn.Module] = []
    for index, width in enumerate(hiddens):
        layers += [nn.Linear(inputs, width)]
        layers += [nn.LayerNorm(width), nn.Tanh()] if index == 0 else [nn.ELU()]
        inputs = width
    layers.append(nn.Linear(inputs, outputs))
    return nn.Sequential(*layers)


class GaussianHead(nn.Module):
    """x → N(tanh mean, std in [min_std, max_std]), diagonal, in RLlib's normalised action units
    ([-1, 1] is the env's whole range). A bounded std matters: the critic cannot tell actions
    beyond the range apart, so nothing else would stop the entropy bonus from inflating σ."""

    def __init__(self, inputs: int, hiddens: list[int], action_dim: int, min_std: float, max_std: float):
        super().__init__()
        self.net = mlp(inputs, hiddens, 2 * action_dim)
        self.min_std, self.max_std = min_std, max_std

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw_std = self.net(x).chunk(2, dim=-1)
        return torch.tanh(mean), self.min_std + (self.max_std - self.min_std) * torch.sigmoid(raw_std)


class LSTMGaussianPrior(nn.Module):
    """A prior with memory: layer-normed input layer → LSTM over the segment's time axis →
    Gaussian head. A replayed segment starts from a zero state, or from the state reached over the
    `prior_burn_in` steps before it (R2D2's burn-in), so the prior can remember further back than
    one segment."""

    def __init__(self, inputs: int, hidden: int, action_dim: int, min_std: float, max_std: float):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(inputs, hidden), nn.LayerNorm(hidden), nn.Tanh())
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = GaussianHead(hidden, [], action_dim, min_std, max_std)

    def forward(self, x: torch.Tensor, burn_in: torch.Tensor | None = None,
                burn_in_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, T, F] (time-ordered) → mean, std [B, T, d]. burn_in [B, L, F] with burn_in_mask
        [B, L] (1 on real steps, left-padded): the steps before x's first. Gradients flow through
        the burn-in (unlike R2D2's, which only repairs a stale stored state): the prior has no
        stored state and must learn what to keep from there."""
        return self.head(self.lstm(self.embed(x), self.burn_in_state(burn_in, burn_in_mask))[0])

    def burn_in_state(self, burn_in: torch.Tensor | None, burn_in_mask: torch.Tensor | None):
        """The LSTM state after the real burn-in steps (None: a zero state). Step by step, so the
        left padding leaves the state at zero until the episode's first real step."""
        if burn_in is None:
            return None
        embedded = self.embed(burn_in)
        batch, hidden = embedded.shape[0], self.lstm.hidden_size
        h = c = embedded.new_zeros(1, batch, hidden)
        for t in range(embedded.shape[1]):
            _, (h_next, c_next) = self.lstm(embedded[:, t:t + 1], (h, c))
            real = burn_in_mask[:, t].bool().view(1, batch, 1)
            h, c = torch.where(real, h_next, h), torch.where(real, c_next, c)
        return h, c


def run_prior(prior: nn.Module, prior_in: torch.Tensor, batch: dict[str, Any], keys, space) -> tuple:
    """The prior's Gaussian parameters on a segment; a recurrent prior first reads the segment's
    burn-in observations when the batch has them."""
    if isinstance(prior, LSTMGaussianPrior) and BURN_IN_OBS in batch:
        return prior(prior_in, gather(batch[BURN_IN_OBS], keys, space), batch[BURN_IN_MASK])
    return prior(prior_in)


def build_prior(cfg: dict[str, Any], inputs: int, outputs: int) -> nn.Module:
    """The prior's network (`prior_type` mlp or lstm) from `inputs` features to a Gaussian over
    `outputs` dimensions (actions, or the latent z of the hierarchical variant)."""
    std_bounds = float(cfg.get("min_std", 0.1)), float(cfg.get("max_std", 1.0))
    if cfg.get("prior_type", "mlp") == "lstm":
        return LSTMGaussianPrior(inputs, int(cfg.get("prior_lstm_size", 128)), outputs, *std_bounds)
    return GaussianHead(inputs, list(cfg.get("prior_hiddens", [200, 100])), outputs, *std_bounds)


def executed_actions(actions: torch.Tensor) -> torch.Tensor:
    """The action the env executes (RLlib clips normalised actions to [-1, 1]). The clip is
    straight-through: a sample beyond the range still passes dQ/da back to the policy, which
    a plain clamp would zero, leaving the mean untrained while the entropy bonus widens σ."""
    return actions + (actions.clamp(-1.0, 1.0) - actions).detach()


class SVG0PriorTorchRLModule(TorchRLModule, InferenceOnlyAPI):
    # Networks with a hard-copied target network, and those of them an EnvRunner needs to act.
    TARGETS: tuple[str, ...] = ("policy", "critic", "prior")
    ACTING: tuple[str, ...] = ("policy",)

    def setup(self) -> None:
        cfg = self.model_config
        self._check_box_actions()
        self.action_dim = int(np.prod(self.action_space.shape))
        self.policy_keys = selected_keys(self.observation_space, cfg.get("policy_keys"), "policy")
        self.policy = GaussianHead(input_size(self.observation_space, self.policy_keys),
                                   list(cfg.get("policy_hiddens", [200, 100])), self.action_dim,
                                   float(cfg.get("min_std", 0.1)), float(cfg.get("max_std", 1.0)))
        if self.inference_only:
            return
        self.critic_keys = selected_keys(self.observation_space, cfg.get("critic_keys"), "critic")
        self.prior_keys = selected_keys(self.observation_space, cfg.get("prior_keys"), "prior")
        self.action_samples = int(cfg.get("action_samples", 10))
        self.critic = mlp(input_size(self.observation_space, self.critic_keys) + self.action_dim,
                          list(cfg.get("critic_hiddens", [400, 300])), 1)
        self.prior = build_prior(cfg, input_size(self.observation_space, self.prior_keys), self.action_dim)
        self._make_targets()

    def _make_targets(self) -> None:
        for name in self._targets():
            target = copy.deepcopy(getattr(self, name))
            target.requires_grad_(False)
            setattr(self, f"target_{name}", target)

    def _targets(self) -> list[str]:
        """The networks of TARGETS this module has (a variant may leave some out)."""
        return [name for name in self.TARGETS if hasattr(self, name)]

    def _check_box_actions(self) -> None:
        if not isinstance(self.action_space, gym.spaces.Box):
            raise ValueError(f"SVG0Prior needs continuous (Box) actions, got {self.action_space}")

    # --- acting -----------------------------------------------------------------------------
    def _forward(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        mean, std = self.policy(gather(batch[Columns.OBS], self.policy_keys, self.observation_space))
        return {Columns.ACTION_DIST_INPUTS: torch.cat([mean, std.log()], dim=-1)}

    # --- learning ---------------------------------------------------------------------------
    def _forward_train(self, batch: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Segments: observations [B, T+1, ...] (the last one bootstraps), actions [B, T, d]."""
        obs, actions = batch[Columns.OBS], batch[Columns.ACTIONS].float()
        steps = actions.shape[1]
        policy_in = gather(obs, self.policy_keys, self.observation_space)
        critic_in = gather(obs, self.critic_keys, self.observation_space)
        prior_in = gather(obs, self.prior_keys, self.observation_space)

        policy = Normal(*self.policy(policy_in[:, :steps]))
        # causal: an LSTM prior reads the segment in order
        prior = Normal(*run_prior(self.prior, prior_in[:, :steps], batch, self.prior_keys, self.observation_space))
        q_taken = self._q(self.critic, critic_in[:, :steps], actions)
        with torch.no_grad():
            policy_target = Normal(*self.target_policy(policy_in))
            prior_target = Normal(*run_prior(self.target_prior, prior_in, batch, self.prior_keys,
                                             self.observation_space))
            q_target_taken = self._q(self.target_critic, critic_in[:, :steps], actions)
            target_samples = policy_target.sample((self.action_samples,))          # [S, B, T+1, d]
            q_target_sampled = self._q_samples(self.target_critic, critic_in, target_samples)
        # SVG(0): a_s = μ_θ(x) + σ_θ(x)·ε, differentiated through a into θ only; the critic's
        # weights are used as constants so the actor loss cannot move them.
        frozen = {name: p.detach() for name, p in self.critic.named_parameters()}
        policy_samples = policy.rsample((self.action_samples,))                     # [S, B, T, d]
        q_policy_sampled = self._q_samples(
            lambda x: functional_call(self.critic, frozen, (x,)), critic_in[:, :steps].detach(), policy_samples)
        return {"svg0": SVG0Outputs(policy=policy, policy_target=policy_target, prior=prior, prior_target=prior_target,
                                    q_taken=q_taken, q_target_taken=q_target_taken,
                                    q_target_sampled=q_target_sampled, q_policy_sampled=q_policy_sampled)}

    @staticmethod
    def _q(critic, critic_in: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q of the action the env executes (see `executed_actions`)."""
        return critic(torch.cat([critic_in, executed_actions(actions)], dim=-1)).squeeze(-1)

    def _q_samples(self, critic, critic_in: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
        """Q at S action samples per state: samples [S, B, T, d] → [B, T, S]."""
        expanded = critic_in.unsqueeze(0).expand(samples.shape[0], *critic_in.shape)
        return self._q(critic, expanded, samples).permute(1, 2, 0)

    def update_targets(self) -> None:
        for name in self._targets():
            getattr(self, f"target_{name}").load_state_dict(getattr(self, name).state_dict())

    def transfer_parts(self, lower_level: bool) -> list[str]:
        """The networks a transfer run loads from a pre-trained one: here π0 (only the hierarchical
        variant has a lower level to add)."""
        return ["prior"]

    def load_transfer(self, states: dict[str, dict[str, torch.Tensor]], source: str) -> None:
        """Networks (and their targets) from a pre-trained run, by name; the architectures must match."""
        for name, state in states.items():
            try:
                getattr(self, name).load_state_dict(state)
            except RuntimeError as error:
                raise ValueError(f"prior_checkpoint {source}: its {name} does not fit this one (same keys, hidden "
                                 f"sizes, latent_dim and action space needed): {str(error).splitlines()[0]}") from None
            getattr(self, f"target_{name}").load_state_dict(state)

    def prior_parameters(self) -> list[nn.Parameter]:
        return list(self.prior.parameters())

    def get_non_inference_attributes(self) -> list[str]:
        # Called from __init__ of an inference-only copy too, before anything but ACTING exists.
        return [name for name in self.TARGETS if name not in self.ACTING] + [f"target_{name}" for name in self.TARGETS]
