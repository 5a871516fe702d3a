"""ACER's training loop: one on-policy update on fresh segments, then Poisson(replay_ratio)
updates on segments replayed from RLlib's EpisodeReplayBuffer."""

from __future__ import annotations

import logging

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS, ENV_RUNNER_SAMPLING_TIMER, LEARNER_RESULTS, LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME, SYNCH_WORKER_WEIGHTS_TIMER, TIMERS)

from behaviorlab.algorithms.acer.config import ACERConfig
from behaviorlab.algorithms.common.segments import MASK, episodes_to_segments

REPLAY_STATS = "replay"
REPLAY_STATE = "acer_replay_buffer"
logger = logging.getLogger(__name__)


class ACER(Algorithm):
    @classmethod
    def get_default_config(cls) -> ACERConfig:
        return ACERConfig()

    def setup(self, config) -> None:
        super().setup(config)
        self._rng = np.random.default_rng(self.config.seed)

    def training_step(self) -> None:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, runner_metrics = synchronous_parallel_sample(
                worker_set=self.env_runner_group, concat=True, sample_timeout_s=self.config.sample_timeout_s,
                _uses_new_env_runners=True, _return_metrics=True)
        self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        episodes = [e for e in episodes if len(e) > 0]
        if not episodes:
            return
        self._update(episodes)  # on-policy: μ = the current π, so every ratio is 1

        replayed = 0
        if self.config.replay_ratio > 0:
            self.local_replay_buffer.add(episodes)
            if self.local_replay_buffer.get_num_timesteps() >= self.config.replay_start:
                for _ in range(self._rng.poisson(self.config.replay_ratio)):
                    segments = self.local_replay_buffer.sample(
                        num_items=self.config.replay_batch_segments * self.config.segment_length,
                        batch_length_T=self.config.segment_length, n_step=1, sample_episodes=True)
                    self._update(segments)
                    replayed += 1
        self.metrics.log_value((REPLAY_STATS, "updates_per_iteration"), replayed, reduce="sum")
        self.metrics.log_value((REPLAY_STATS, "buffer_env_steps"), self.local_replay_buffer.get_num_timesteps()
                               if self.config.replay_ratio > 0 else 0, window=1)

        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)

    def _update(self, episodes) -> None:
        segments = episodes_to_segments(episodes, self.config.segment_length)
        batch = MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(segments)}, env_steps=int(segments[MASK].sum()))
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            results = self.learner_group.update(
                batch=batch,
                timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                    (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)})
        self.metrics.aggregate(results, key=LEARNER_RESULTS)

    # RLlib's new-stack checkpoints skip the replay buffer; a resumed ACER run keeps it.
    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if (self.config.checkpoint_replay_buffer and self.config.replay_ratio > 0
                and self._check_component(REPLAY_STATE, components, not_components)):
            state[REPLAY_STATE] = self.local_replay_buffer.get_state()
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if REPLAY_STATE in state:
            self.local_replay_buffer.set_state(state[REPLAY_STATE])
        elif self.config.replay_ratio > 0:
            logger.warning("ACER: this checkpoint holds no replay buffer (checkpoint_replay_buffer=False); replay "
                           "starts empty and replayed updates resume after %d new env steps", self.config.replay_start)
