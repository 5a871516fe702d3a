"""BC's training loop: passes over the expert steps, then env steps with the updated policy so
that every iteration reports its return on the true reward."""

from __future__ import annotations

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    TIMERS,
)

from behaviorlab.algorithms.bc.config import BCConfig
from behaviorlab.algorithms.common.bc import load_expert_data


class BC(Algorithm):
    @classmethod
    def get_default_config(cls) -> BCConfig:
        return BCConfig()

    def setup(self, config) -> None:
        super().setup(config)
        self._expert = load_expert_data(self.config.expert_data, self.config.num_expert_trajectories)
        self._expert.check_spaces(*self.spaces[DEFAULT_MODULE_ID])
        self._rng = np.random.default_rng(self.config.seed)

    def training_step(self) -> None:
        # Shuffled here: RLlib's minibatch iterator shuffles only from the second epoch on.
        order = self._rng.permutation(len(self._expert))
        batch = MultiAgentBatch({DEFAULT_MODULE_ID: SampleBatch({
            Columns.OBS: self._expert.obs[order], Columns.ACTIONS: self._expert.actions[order]})},
            env_steps=len(order))
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            results = self.learner_group.update(
                batch=batch, minibatch_size=self.config.minibatch_size, num_epochs=self.config.num_epochs,
                shuffle_batch_per_epoch=True,
                timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: self.metrics.peek(
                    (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)})
            self.metrics.aggregate(results, key=LEARNER_RESULTS)
        self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group, inference_only=True)
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            _, env_runner_results = synchronous_parallel_sample(
                worker_set=self.env_runner_group, max_env_steps=self.config.total_train_batch_size,
                sample_timeout_s=self.config.sample_timeout_s, _uses_new_env_runners=True, _return_metrics=True)
            self.metrics.aggregate(env_runner_results, key=ENV_RUNNER_RESULTS)
