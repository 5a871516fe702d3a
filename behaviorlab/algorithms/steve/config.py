"""STEVE configuration: SAC's config (replay, `tau`, `training_intensity`, learning starts,
`actor_lr`/`critic_lr`) plus the ensembles, the rollout horizon and the target reduction."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.sac import SACConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.replay_buffers.episode_replay_buffer import EpisodeReplayBuffer
from typing_extensions import Self

from behaviorlab.algorithms.offpolicy import ProvidedFieldsMixin
from behaviorlab.algorithms.steve.targets import REDUCTIONS

MODEL_FIELDS = ("q_ensemble", "model_ensemble", "reward_ensemble", "actor_hiddens", "critic_hiddens",
                "model_hiddens", "reward_hiddens", "exploration_noise")


class STEVEConfig(ProvidedFieldsMixin, SACConfig):
    """Fields (`.training(...)` or a spec's `config:`), defaults after the official code scaled
    to a CPU learner:

    - `rollout_horizon` (H, 3): imagined steps; candidate targets T_0..T_H.
    - `target_reduction` ("steve"): how the candidates become one target — `steve` (inverse
      ensemble variance per horizon), `mve` (T_H only), `mean` (horizons weighted equally), `td`
      (T_0 only: DDPG with a Q ensemble; the world model still trains but is not rolled out).
    - `q_ensemble` (L, 4, ≥ 2), `model_ensemble` (M, 4), `reward_ensemble` (N, 4).
    - `member_data_fraction` (0.5): each member of each ensemble trains on this random fraction of
      every minibatch, drawn independently per member.
    - `heldout_fraction` (0.1): transitions (a fixed hash of (s, a)) the world model never trains on;
      its errors are logged on them.
    - `actor_hiddens` (128, 128), `critic_hiddens` (128, 128), `model_hiddens` (256, 256; the
      residual transition net), `reward_hiddens` (128, 128; reward and termination nets).
    - `exploration_noise` (0.1): std of the Gaussian added to the tanh actor's action while
      sampling (normalised units, clipped to [-1, 1]).
    - `actor_lr` (3e-4), `critic_lr` (3e-4), `model_lr` (1e-3): one Adam each.
    - `checkpoint_replay_buffer` (True): replay goes into checkpoints, so a resumed run keeps it.
    - `minibatch_size` (None): with it, each learner call makes `train_batch_size_per_learner /
      minibatch_size` gradient steps of `minibatch_size` transitions. Pair it with
      `rollout_fragment_length` (env steps per training step) for the update-to-data ratio, e.g.
      8, 2048 and 256: 8 env steps, then 8 updates of 256, one learner call.
    - From SAC: `tau` (0.005, Polyak rate of the target Q ensemble), `train_batch_size_per_learner`
      (256), `num_steps_sampled_before_learning_starts` (1000), `training_intensity`,
      `replay_buffer_config` (uniform EpisodeReplayBuffer, 1e6: it keeps the episodes for
      checkpoints; the learner's minibatches come from `replay.TransitionReplay`, the same uniform
      draw), `n_step` (must stay 1).
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.steve.algorithm import STEVE

        super().__init__(algo_class=algo_class or STEVE)
        self.rollout_horizon = 3
        self.target_reduction = "steve"
        self.q_ensemble = 4
        self.model_ensemble = 4
        self.reward_ensemble = 4
        self.member_data_fraction = 0.5
        self.heldout_fraction = 0.1
        self.actor_hiddens = [128, 128]
        self.critic_hiddens = [128, 128]
        self.model_hiddens = [256, 256]
        self.reward_hiddens = [128, 128]
        self.exploration_noise = 0.1
        self.actor_lr = 3e-4
        self.critic_lr = 3e-4
        self.model_lr = 1e-3
        self.checkpoint_replay_buffer = True
        self.replay_buffer_config = {"type": "EpisodeReplayBuffer", "capacity": 1_000_000}
        self.num_steps_sampled_before_learning_starts = 1000

    def training(
        self,
        *,
        rollout_horizon: int = NotProvided,
        target_reduction: str = NotProvided,
        q_ensemble: int = NotProvided,
        model_ensemble: int = NotProvided,
        reward_ensemble: int = NotProvided,
        member_data_fraction: float = NotProvided,
        heldout_fraction: float = NotProvided,
        actor_hiddens: list[int] = NotProvided,
        critic_hiddens: list[int] = NotProvided,
        model_hiddens: list[int] = NotProvided,
        reward_hiddens: list[int] = NotProvided,
        exploration_noise: float = NotProvided,
        model_lr: float = NotProvided,
        checkpoint_replay_buffer: bool = NotProvided,
        **kwargs,
    ) -> Self:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def validate(self) -> None:
        super().validate()
        checks = [
            (isinstance(self.rollout_horizon, int) and self.rollout_horizon >= 0,
             "rollout_horizon must be an integer >= 0"),
            (self.target_reduction in REDUCTIONS, f"target_reduction must be one of {list(REDUCTIONS)}"),
            (self.q_ensemble >= 2, "q_ensemble must be >= 2 (horizon 0's variance is the Q ensemble's spread)"),
            (self.model_ensemble >= 1 and self.reward_ensemble >= 1, "model_ensemble and reward_ensemble must be >= 1"),
            (0 < self.member_data_fraction <= 1, "member_data_fraction must be in (0, 1]"),
            (0 <= self.heldout_fraction < 1, "heldout_fraction must be in [0, 1)"),
            (self.exploration_noise >= 0, "exploration_noise must be >= 0"),
            (self.model_lr > 0, "model_lr must be > 0"),
            (self.n_step == 1, "STEVE's targets are built from 1-step transitions: n_step must be 1"),
            (self.replay_buffer_config.get("type") in ("EpisodeReplayBuffer", EpisodeReplayBuffer),
             "STEVE replays uniformly: replay_buffer_config type must be EpisodeReplayBuffer"),
            (self.normalize_actions, "STEVE's tanh actor acts in normalised units: keep normalize_actions=True"),
            (self.minibatch_size is None or self.train_batch_size_per_learner % self.minibatch_size == 0,
             "train_batch_size_per_learner must be a multiple of minibatch_size (the updates per learner call)"),
        ]
        for ok, message in checks:
            if not ok:
                self._value_error(message)

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from behaviorlab.algorithms.steve.module import STEVETorchRLModule

        return RLModuleSpec(module_class=STEVETorchRLModule)

    def get_default_learner_class(self):
        from behaviorlab.algorithms.steve.learner import STEVETorchLearner

        return STEVETorchLearner

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {name: getattr(self, name) for name in MODEL_FIELDS}
