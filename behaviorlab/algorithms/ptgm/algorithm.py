"""PTGM's high-level algorithms (and the continuous-skill baseline's): PPO's or ACER's training
loop under their own names, so results and checkpoints say which."""

from __future__ import annotations

from ray.rllib.algorithms.ppo import PPO

from behaviorlab.algorithms.acer.algorithm import ACER
from behaviorlab.algorithms.ptgm.config import (
    PTGMACERConfig,
    PTGMConfig,
    PTGMVAESkillsConfig,
)


class PTGM(PPO):
    @classmethod
    def get_default_config(cls) -> PTGMConfig:
        return PTGMConfig()


class PTGMACER(ACER):
    @classmethod
    def get_default_config(cls) -> PTGMACERConfig:
        return PTGMACERConfig()


class PTGMVAESkills(PPO):
    """The continuous-skill (SPiRL-style VAE) baseline's high level."""

    @classmethod
    def get_default_config(cls) -> PTGMVAESkillsConfig:
        return PTGMVAESkillsConfig()
