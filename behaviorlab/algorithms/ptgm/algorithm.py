"""PTGM's high level is PPO; its own class only so results and checkpoints say PTGM."""

from __future__ import annotations

from ray.rllib.algorithms.ppo import PPO

from behaviorlab.algorithms.ptgm.config import PTGMConfig


class PTGM(PPO):
    @classmethod
    def get_default_config(cls) -> PTGMConfig:
        return PTGMConfig()
