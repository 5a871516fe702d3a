"""STEVE's training loop is SAC's (RLlib's DQN new-stack step: sample → episode replay → one
learner update per `training_intensity`), with the replay buffer kept in checkpoints."""

from __future__ import annotations

from ray.rllib.algorithms.sac import SAC

from behaviorlab.algorithms.offpolicy import ReplayCheckpointMixin
from behaviorlab.algorithms.steve.config import STEVEConfig


class STEVE(ReplayCheckpointMixin, SAC):
    @classmethod
    def get_default_config(cls) -> STEVEConfig:
        return STEVEConfig()
