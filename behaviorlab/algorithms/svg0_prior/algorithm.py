"""SVG0Prior's training loop: sample segments, add them to RLlib's EpisodeReplayBuffer, and
learn only from replay, with the number of updates set by `samples_per_insert`."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm import Algorithm

from behaviorlab.algorithms.common.segments import episodes_to_segments, split_chunks
from behaviorlab.algorithms.offpolicy import SegmentReplayMixin
from behaviorlab.algorithms.svg0_prior.config import SVG0PriorConfig
from behaviorlab.algorithms.svg0_prior.hierarchical_module import latent_segments


class SVG0Prior(SegmentReplayMixin, Algorithm):
    @classmethod
    def get_default_config(cls) -> SVG0PriorConfig:
        return SVG0PriorConfig()

    def setup(self, config) -> None:
        super().setup(config)
        self._update_credit = 0.0  # fractional updates carried between iterations

    def training_step(self) -> None:
        episodes = self._sample_episodes()
        if not episodes:
            return
        self.local_replay_buffer.add(episodes)
        updates = 0
        if self.local_replay_buffer.get_num_timesteps() >= self.config.replay_start:
            replayed_per_update = self.config.replay_batch_segments * self.config.segment_length
            self._update_credit += sum(len(e) for e in episodes) * self.config.samples_per_insert / replayed_per_update
            while self._update_credit >= 1:
                self._update(self._replayed_segments())
                self._update_credit -= 1
                updates += 1
        self._log_replay(updates)
        if updates:
            self._sync_env_runners()

    def _segments(self, episodes) -> dict:
        """The shared segment arrays, plus (hierarchical) each step's z, countdown and joint log μ(z, a)."""
        if not self.config.hierarchical:
            return super()._segments(episodes)
        chunks = split_chunks(episodes, self.config.segment_length)
        return episodes_to_segments(chunks, self.config.segment_length) | latent_segments(
            chunks, self.config.segment_length)
