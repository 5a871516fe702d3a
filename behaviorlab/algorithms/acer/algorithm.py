"""ACER's training loop: one on-policy update on fresh segments, then Poisson(replay_ratio)
updates on segments replayed from RLlib's EpisodeReplayBuffer."""

from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm

from behaviorlab.algorithms.acer.config import ACERConfig
from behaviorlab.algorithms.offpolicy import SegmentReplayMixin


class ACER(SegmentReplayMixin, Algorithm):
    @classmethod
    def get_default_config(cls) -> ACERConfig:
        return ACERConfig()

    def setup(self, config) -> None:
        super().setup(config)
        self._rng = np.random.default_rng(self.config.seed)

    def training_step(self) -> None:
        episodes = self._sample_episodes()
        if not episodes:
            return
        self._update(episodes)  # on-policy: μ = the current π, so every ratio is 1

        replayed = 0
        if self._uses_replay():
            self.local_replay_buffer.add(episodes)
            if self.local_replay_buffer.get_num_timesteps() >= self.config.replay_start:
                for _ in range(self._rng.poisson(self.config.replay_ratio)):
                    self._update(self._replayed_segments())
                    replayed += 1
        self._log_replay(replayed)
        self._sync_env_runners()

    def _uses_replay(self) -> bool:
        return self.config.replay_ratio > 0
