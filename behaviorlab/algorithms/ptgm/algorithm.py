"""PTGM's high-level algorithms: PPO's or ACER's training loop under their own names, so results
and checkpoints say PTGM."""

from __future__ import annotations

from ray.rllib.algorithms.ppo import PPO

from behaviorlab.algorithms.acer.algorithm import ACER
from behaviorlab.algorithms.ptgm.config import PTGMACERConfig, PTGMConfig


class PTGM(PPO):
    @classmethod
    def get_default_config(cls) -> PTGMConfig:
        return PTGMConfig()


class PTGMACER(ACER):
    @classmethod
    def get_default_config(cls) -> PTGMACERConfig:
        return PTGMACERConfig()
