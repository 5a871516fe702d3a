"""GAIL's training loop is PPO's (sample, update, sync weights): the discriminator steps and the
reward relabelling happen inside the learner's update (learner.py), in Algorithm 1's order."""

from __future__ import annotations

from ray.rllib.algorithms.ppo import PPO

from behaviorlab.algorithms.gail.config import GAILConfig


class GAIL(PPO):
    @classmethod
    def get_default_config(cls) -> GAILConfig:
        return GAILConfig()
