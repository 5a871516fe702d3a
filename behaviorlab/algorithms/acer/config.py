"""ACER configuration. Defaults follow Wang et al. 2017 (ICLR) and openai/baselines' ACER."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from typing_extensions import Self

from behaviorlab.algorithms.offpolicy import SegmentConfigMixin


class ACERConfig(SegmentConfigMixin, AlgorithmConfig):
    """Fields (set through `.training(...)` or a spec's `config:`):

    - `rollout_fragment_length` (steps, default 20): segment length k; every on-policy update
      and every replayed sample uses segments of k steps (paper, Atari: k = 20).
    - `replay_ratio` (default 4): mean of the Poisson number of replayed updates after each
      on-policy update; 0 makes ACER on-policy (A3C-like). Paper: 4 is the sweet spot.
    - `replay_buffer_config` (default EpisodeReplayBuffer, capacity 50 000 env steps per run;
      the paper keeps 50k frames per actor).
    - `checkpoint_replay_buffer` (default True): save the replay buffer in checkpoints so a
      resumed run keeps its replay (False for huge buffers, e.g. Atari: the resumed run then
      starts with an empty buffer and says so).
    - `replay_start` (env steps, default 1000): no replayed update before the buffer holds this
      many steps (baselines: 10k on Atari).
    - `replay_batch_segments` (default 16): segments per replayed update.
    - `truncation_c` (default 10): importance-weight truncation c (paper: 10 discrete, 5 continuous).
    - `trust_region` (default True), `trust_region_delta` (δ, default 1), `average_policy_decay`
      (α, default 0.99; θ_avg ← α θ_avg + (1 − α) θ after every update).
    - `q_loss_coeff` (default 0.5), `entropy_coeff` (default 0.001), `lr` (default 7e-4),
      `optimizer` ("rmsprop" as in the paper and baselines, or "adam"), `grad_clip` (global norm, 10).
    - `reward_scale` (default 0.1): rewards are multiplied by it in the loss. The entropy cost acts
      against advantages of that scale. Measured (docs/benchmarks.md, "ACER's defaults"): with 1,
      nothing is learnt on Acrobot (likely its Q loss swamping the clipped gradient); with 0.01 (chainerrl's gym
      setting) the entropy term keeps the policy near uniform on MinAtar Breakout, and on Acrobot
      too unless the entropy cost drops to 0.001. 0.1 with entropy 0.001 learns CartPole, Acrobot and
      Breakout unchanged.
    - Continuous actions: `sdn_samples` (n, default 5) for the stochastic dueling network,
      `initial_log_std` (default 0.0) of the state-independent Gaussian std.
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.acer.algorithm import ACER

        super().__init__(algo_class=algo_class or ACER)
        self.rollout_fragment_length = 20
        # One reported iteration spans many short training steps (less Tune overhead).
        self.min_sample_timesteps_per_iteration = 2000
        self.batch_mode = "truncate_episodes"
        self.gamma = 0.99
        self.lr = 7e-4
        self.grad_clip = 10.0
        self.grad_clip_by = "global_norm"
        self.replay_ratio = 4.0
        self.replay_buffer_config = {"type": "EpisodeReplayBuffer", "capacity": 50_000}
        self.replay_start = 1000
        self.checkpoint_replay_buffer = True
        self.replay_batch_segments = 16
        self.truncation_c = 10.0
        self.trust_region = True
        self.trust_region_delta = 1.0
        self.average_policy_decay = 0.99
        self.q_loss_coeff = 0.5
        self.entropy_coeff = 0.001
        self.optimizer = "rmsprop"
        self.sdn_samples = 5
        self.reward_scale = 0.1
        self.initial_log_std = 0.0

    def training(
        self,
        *,
        replay_ratio: float = NotProvided,
        replay_buffer_config: dict[str, Any] = NotProvided,
        replay_start: int = NotProvided,
        checkpoint_replay_buffer: bool = NotProvided,
        replay_batch_segments: int = NotProvided,
        truncation_c: float = NotProvided,
        trust_region: bool = NotProvided,
        trust_region_delta: float = NotProvided,
        average_policy_decay: float = NotProvided,
        q_loss_coeff: float = NotProvided,
        entropy_coeff: float = NotProvided,
        optimizer: str = NotProvided,
        sdn_samples: int = NotProvided,
        initial_log_std: float = NotProvided,
        reward_scale: float = NotProvided,
        **kwargs,
    ) -> Self:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def validate(self) -> None:
        super().validate()
        checks = [
            (self.replay_ratio >= 0, "replay_ratio must be >= 0 (0 = on-policy)"),
            (self.truncation_c > 0, "truncation_c must be > 0"),
            (self.reward_scale > 0, "reward_scale must be > 0"),
            (self.trust_region_delta > 0, "trust_region_delta must be > 0"),
            (0 <= self.average_policy_decay < 1, "average_policy_decay must be in [0, 1)"),
            (self.replay_batch_segments >= 1, "replay_batch_segments must be >= 1"),
            (self.sdn_samples >= 1, "sdn_samples must be >= 1"),
            (self.optimizer in ("rmsprop", "adam"), "optimizer must be 'rmsprop' or 'adam'"),
        ]
        self._raise_failed(checks)

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from behaviorlab.algorithms.acer.module import ACERTorchRLModule

        return RLModuleSpec(module_class=ACERTorchRLModule)

    def get_default_learner_class(self):
        from behaviorlab.algorithms.acer.learner import ACERTorchLearner

        return ACERTorchLearner

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {
            "sdn_samples": self.sdn_samples, "initial_log_std": self.initial_log_std}
