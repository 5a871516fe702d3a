"""SVRLDQN: RLlib's DQN (training step, replay, target updates) with the SV-RL learner."""

from __future__ import annotations

from ray.rllib.algorithms.dqn import DQN


class SVRLDQN(DQN):
    @classmethod
    def get_default_config(cls):
        from behaviorlab.algorithms.svrl.config import SVRLDQNConfig

        return SVRLDQNConfig()
