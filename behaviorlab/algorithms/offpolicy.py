"""RLlib glue shared by the off-policy learners: for the segment-replay ones (ACER, SVG0Prior)
sampling episode chunks and learner updates on padded segments; for those and STEVE, replay
buffers in checkpoints (RLlib's new-stack checkpoints skip the replay buffer, so a resumed run
would silently start empty)."""

from __future__ import annotations

import logging

import numpy as np
from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS, ENV_RUNNER_SAMPLING_TIMER, LEARNER_RESULTS, LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME, SYNCH_WORKER_WEIGHTS_TIMER, TIMERS)

from behaviorlab.algorithms.common.segments import MASK, episodes_to_segments

REPLAY_STATE = "replay_buffer"
REPLAY_STATS = "replay"
logger = logging.getLogger(__name__)


class ProvidedFieldsMixin:
    """Mix into an `AlgorithmConfig` whose `.training()` takes its own fields."""

    def _set_provided(self, fields: dict) -> None:
        """`.training(**fields)`: keep the defaults of fields left NotProvided."""
        for name, value in fields.items():
            if name not in ("self", "kwargs", "__class__") and value is not NotProvided:
                setattr(self, name, value)


class SegmentConfigMixin(ProvidedFieldsMixin):
    """Mix into the `AlgorithmConfig` of a learner on fixed-length segments
    (`rollout_fragment_length` is the segment length)."""

    @property
    def segment_length(self) -> int:
        return self.rollout_fragment_length

    def _raise_failed(self, checks: list[tuple[bool, str]]) -> None:
        """Add the segment checks to an algorithm's own; RLlib's error for the first that fails."""
        if not self.in_evaluation:  # evaluation runners may sample whole episodes
            checks = checks + [
                (self.batch_mode == "truncate_episodes",
                 f"{self.algo_class.__name__} learns from fixed-length segments: batch_mode must be 'truncate_episodes'"),
                (isinstance(self.rollout_fragment_length, int) and self.rollout_fragment_length >= 1,
                 "rollout_fragment_length must be an integer >= 1 (the segment length)"),
            ]
        for ok, message in checks:
            if not ok:
                self._value_error(message)


class ReplayCheckpointMixin:
    """Mix into an `Algorithm` with a `local_replay_buffer` and a config field
    `checkpoint_replay_buffer`: the buffer goes into checkpoints and its sampling is seeded."""

    def setup(self, config) -> None:
        super().setup(config)
        # RLlib's episode buffer draws from an unseeded Generator; seeding it with the trial
        # seed makes what is replayed, and so a whole run, repeatable.
        if self.local_replay_buffer is not None:
            self.local_replay_buffer.rng = np.random.default_rng(self.config.seed)

    def _uses_replay(self) -> bool:
        return True

    def _empty_replay_note(self) -> str:
        """What a resume without replay means for this algorithm (ends the warning)."""
        return ""

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if (self.config.checkpoint_replay_buffer and self._uses_replay()
                and self._check_component(REPLAY_STATE, components, not_components)):
            state[REPLAY_STATE] = self.local_replay_buffer.get_state()
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if REPLAY_STATE in state:
            self.local_replay_buffer.set_state(state[REPLAY_STATE])
        elif self._uses_replay():
            logger.warning("%s: this checkpoint holds no replay buffer (checkpoint_replay_buffer=False); replay "
                           "starts empty%s", type(self).__name__, self._empty_replay_note())


class SegmentReplayMixin(ReplayCheckpointMixin):
    """Mix into an `Algorithm` whose config has `segment_length`, `replay_batch_segments`,
    `checkpoint_replay_buffer` and `replay_start`."""

    def _empty_replay_note(self) -> str:
        return f" and learning from replay resumes after {self.config.replay_start} new env steps"

    def _sample_episodes(self) -> list:
        """Non-empty episode chunks from every EnvRunner (their metrics go to the results)."""
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, runner_metrics = synchronous_parallel_sample(
                worker_set=self.env_runner_group, concat=True, sample_timeout_s=self.config.sample_timeout_s,
                _uses_new_env_runners=True, _return_metrics=True)
        self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        return [e for e in episodes if len(e) > 0]

    def _replayed_segments(self) -> list:
        return self.local_replay_buffer.sample(
            num_items=self.config.replay_batch_segments * self.config.segment_length,
            batch_length_T=self.config.segment_length, n_step=1, sample_episodes=True)

    def _segments(self, episodes) -> dict:
        """Padded segment arrays of the episode chunks; override to add per-step columns."""
        return episodes_to_segments(episodes, self.config.segment_length)

    def _update(self, episodes) -> None:
        """One learner update on the episode chunks, as padded segments of `segment_length`."""
        segments = self._segments(episodes)
        batch = MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch(segments)}, env_steps=int(segments[MASK].sum()))
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            results = self.learner_group.update(
                batch=batch,
                timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                    (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)})
        self.metrics.aggregate(results, key=LEARNER_RESULTS)

    def _log_replay(self, updates: int) -> None:
        self.metrics.log_value((REPLAY_STATS, "updates_per_iteration"), updates, reduce="sum")
        self.metrics.log_value((REPLAY_STATS, "buffer_env_steps"), self.local_replay_buffer.get_num_timesteps()
                               if self._uses_replay() else 0, window=1)

    def _sync_env_runners(self) -> None:
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)
