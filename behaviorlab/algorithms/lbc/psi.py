"""How an episode's behaviour parameters ψ = (τ, ω) and its bandit arm travel through RLlib.

1. `LBCCallbacks.on_episode_created` (an env runner, before the sub-env's reset) asks the trial's
   meta-controller actor for (arm, τ, ω) and keeps them in `episode.custom_data`, so the first
   action already uses them; `SingleAgentEpisode.cut()` copies custom_data into the next chunk,
   so ψ stays fixed for the whole episode across `sample()` calls.
2. `PsiToBatch`, a piece of the env-to-module pipeline, puts every ongoing episode's ψ into the
   module's input batch (columns TAU [B, N], OMEGA [B, N], ARM [B]).
3. The module's `_forward_exploration` mixes its members with that ψ and returns ψ again, so RLlib
   stores it per step in `extra_model_outputs` next to `action_dist_inputs` = log μ_ψ (replayed
   slices, which drop custom_data, keep it there).
4. `LBCCallbacks.on_episode_end` reports the episode's undiscounted return to the controller
   with its arm.

Ordering: the update is sent without waiting and the next episode's select waits for its answer.
Ray runs one caller's calls to an actor in order, and every episode end on an env runner is
followed at once by a new episode there, so every update has reached the controller before
`sample()` returns.

Evaluation runners (`config.in_evaluation`) never report. With `psi_in_evaluation: fixed` they use the
fixed `inference_tau` / `inference_omega` ψ (arm −1); with "best_arm" they ask the controller for a ψ
inside its current best arm (`select_best`, which changes no bandit statistic).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import ray
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.connectors.connector_v2 import ConnectorV2

# Columns of the module's input batch and of every stored step.
TAU, OMEGA, ARM = "lbc_tau", "lbc_omega", "lbc_arm"
EVALUATION_ARM = -1
_PSI = "lbc_psi"  # key in episode.custom_data
# Attribute an env runner holds the trial's meta-controller actor handle in (set by the Algorithm).
META_CONTROLLER_ATTR = "lbc_meta_controller"


def set_episode_psi(episode, arm: int, tau, omega) -> None:
    """Give an episode its ψ (τ [N], ω [N]) and the arm it was drawn from."""
    episode.custom_data[_PSI] = {TAU: np.asarray(tau, dtype=np.float32), OMEGA: np.asarray(omega, dtype=np.float32),
                                 ARM: np.int64(arm)}


def episode_psi(episode) -> dict[str, np.ndarray]:
    """The ψ the callbacks gave this (ongoing) episode: {TAU: [N], OMEGA: [N], ARM: scalar}."""
    try:
        return episode.custom_data[_PSI]
    except KeyError:
        raise RuntimeError("LBC: an episode has no behaviour parameters ψ; LBCCallbacks must be among "
                           "config.callbacks_class (LBCConfig.validate adds it)") from None


class LBCCallbacks(RLlibCallback):
    """Draws ψ per episode from the meta-controller and reports episode returns to it."""

    def on_episode_created(self, *, episode, env_runner, **kwargs) -> None:
        config = env_runner.config
        if config.in_evaluation and config.psi_in_evaluation == "fixed":
            set_episode_psi(episode, EVALUATION_ARM, [config.inference_tau] * config.num_members, config.inference_psi_omega())
        elif config.in_evaluation:
            set_episode_psi(episode, *ray.get(_meta_controller(env_runner).select_best.remote()))
        else:
            set_episode_psi(episode, *ray.get(_meta_controller(env_runner).select.remote()))

    def on_episode_end(self, *, episode, env_runner, prev_episode_chunks=(), **kwargs) -> None:
        if env_runner.config.in_evaluation:
            return
        # Earlier chunks of this episode were already returned by previous `sample()` calls.
        episodic_return = episode.get_return() + sum(chunk.get_return() for chunk in prev_episode_chunks)
        _meta_controller(env_runner).update.remote(int(episode_psi(episode)[ARM]), float(episodic_return))


def _meta_controller(env_runner):
    handle = getattr(env_runner, META_CONTROLLER_ATTR, None)
    if handle is None:
        raise RuntimeError("LBC: this env runner has no meta-controller; the LBC Algorithm hands it to every "
                           "env runner it builds or restores")
    return handle


class PsiToBatch(ConnectorV2):
    """Env-to-module piece: each ongoing episode's ψ into the batch, in the same episode order as
    RLlib's observation piece (it runs before `BatchIndividualItems`)."""

    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=True):
            for column, value in episode_psi(episode).items():
                self.add_batch_item(batch, column, value, single_agent_episode=episode)
        return batch
