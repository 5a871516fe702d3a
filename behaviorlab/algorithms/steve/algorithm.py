"""STEVE's training loop is SAC's (RLlib's DQN new-stack step: sample → replay → one learner
update per `training_intensity`), with the replay buffer kept in checkpoints. The learner's
minibatches come from `replay.TransitionReplay` (the same uniform draw of 1-step transitions as
RLlib's episode buffer, at a fraction of its cost); RLlib's buffer still stores the episodes, so
checkpoints and resume are unchanged."""

from __future__ import annotations

from ray.rllib.algorithms.dqn.dqn import calculate_rr_weights
from ray.rllib.algorithms.sac import SAC
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ALL_MODULES,
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_AGENT_STEPS_SAMPLED_LIFETIME,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    REPLAY_BUFFER_ADD_DATA_TIMER,
    REPLAY_BUFFER_SAMPLE_TIMER,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from behaviorlab.algorithms.offpolicy import ReplayCheckpointMixin
from behaviorlab.algorithms.steve.config import STEVEConfig
from behaviorlab.algorithms.steve.replay import TransitionReplay

COLUMNS = {"obs": Columns.OBS, "actions": Columns.ACTIONS, "rewards": Columns.REWARDS,
           "next_obs": Columns.NEXT_OBS, "terminateds": Columns.TERMINATEDS}


class STEVE(ReplayCheckpointMixin, SAC):
    @classmethod
    def get_default_config(cls) -> STEVEConfig:
        return STEVEConfig()

    def setup(self, config) -> None:
        super().setup(config)
        self._transitions = self._new_transitions()

    def _new_transitions(self) -> TransitionReplay:
        return TransitionReplay(int(self.config.replay_buffer_config["capacity"]), seed=self.config.seed)

    def _store(self, episodes) -> None:
        self.local_replay_buffer.add(episodes)
        for episode in episodes:
            self._transitions.add(episode.get_observations(), episode.get_actions(), episode.get_rewards(),
                                  episode.is_terminated)

    def set_state(self, state) -> None:
        super().set_state(state)
        self._transitions = self._new_transitions()
        for episode in self.local_replay_buffer.episodes:
            self._transitions.add(episode.get_observations(), episode.get_actions(), episode.get_rewards(),
                                  episode.is_terminated)

    def training_step(self) -> None:
        """DQN's `_training_step_new_api_stack` with the learner fed a batch of transitions
        instead of replayed episode objects (no priorities: STEVE replays uniformly)."""
        store_weight, sample_and_train_weight = calculate_rr_weights(self.config)
        for _ in range(store_weight):
            with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
                episodes, runner_results = synchronous_parallel_sample(
                    worker_set=self.env_runner_group, concat=True, sample_timeout_s=self.config.sample_timeout_s,
                    _uses_new_env_runners=True, _return_metrics=True)
            self.metrics.aggregate(runner_results, key=ENV_RUNNER_RESULTS)
            with self.metrics.log_time((TIMERS, REPLAY_BUFFER_ADD_DATA_TIMER)):
                self._store(episodes)

        sampled = self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        if sampled < self.config.num_steps_sampled_before_learning_starts:
            return
        for _ in range(sample_and_train_weight):
            with self.metrics.log_time((TIMERS, REPLAY_BUFFER_SAMPLE_TIMER)):
                draw = self._transitions.sample(self.config.total_train_batch_size)
                batch = SampleBatch({COLUMNS[name]: values for name, values in draw.items()})
            with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
                learner_results = self.learner_group.update(
                    batch=MultiAgentBatch({DEFAULT_MODULE_ID: batch}, env_steps=len(batch)),
                    timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled,
                               NUM_AGENT_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                                   (ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME), default={})})
            self.metrics.aggregate(learner_results, key=LEARNER_RESULTS)
        with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
            self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                               policies=set(learner_results[0].keys()) - {ALL_MODULES},
                                               global_vars=None, inference_only=True)
