"""SVG0Prior's training loop: sample segments, add them to RLlib's EpisodeReplayBuffer, and
learn only from replay, with the number of updates set by `samples_per_insert`."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm import Algorithm

from behaviorlab.algorithms.common.segments import burn_in_rows, episodes_to_segments, split_chunks
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

    def _histories(self, chunks) -> list:
        """Each replayed chunk's preceding observations (up to `prior_burn_in`), read from its
        episode in the replay buffer. Not through the buffer's `lookback` sampling: RLlib 2.60
        caps a slice's lookback at the number of keys of a Dict observation."""
        buffer, burn_in = self.local_replay_buffer, self.config.prior_burn_in
        histories = []
        for chunk in chunks:
            index = buffer.episode_id_to_index.get(chunk.id_)
            stored = None if index is None else buffer.episodes[index - buffer._num_episodes_evicted]
            start = 0 if stored is None else chunk.t_started - stored.t_started
            histories.append(stored.get_observations(slice(max(start - burn_in, 0), start)) if start > 0
                             else chunk.get_observations(slice(0, 0)))
        return histories

    def _segments(self, episodes) -> dict:
        """The shared segment arrays, plus (hierarchical) each step's z, countdown and joint log μ(z, a),
        and (`prior_burn_in`) the observations before each segment for the recurrent prior."""
        chunks = split_chunks(episodes, self.config.segment_length)
        segments = episodes_to_segments(chunks, self.config.segment_length)
        if self.config.hierarchical:
            segments |= latent_segments(chunks, self.config.segment_length)
        if self.config.prior_burn_in:
            segments |= burn_in_rows(self._histories(chunks), self.config.prior_burn_in)
        return segments
