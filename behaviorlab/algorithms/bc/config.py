"""Behaviour cloning's configuration, and the expert-data fields BC and GAIL share."""

from __future__ import annotations

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPOConfig
from typing_extensions import Self

from behaviorlab.algorithms.common.bc import expert_data_problem


class ExpertDataConfigMixin:
    """- `expert_data` (str, required): a trajectory dataset directory (`behaviorlab data collect
      --policy`); a relative path is taken from the directory `behaviorlab run` starts in.
    - `num_expert_trajectories` (default 0 = all): use the dataset's first N episodes."""

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.expert_data = ""
        self.num_expert_trajectories = 0

    def training(self, *, expert_data: str = NotProvided, num_expert_trajectories: int = NotProvided,
                 **kwargs) -> Self:
        super().training(**kwargs)
        if expert_data is not NotProvided:
            self.expert_data = expert_data
        if num_expert_trajectories is not NotProvided:
            self.num_expert_trajectories = num_expert_trajectories
        return self

    def missing_inputs(self) -> dict[str, tuple[str, str]]:
        """`behaviorlab run` refuses to start (one line) when the dataset cannot be used."""
        problem = expert_data_problem(self.expert_data, self.num_expert_trajectories)
        return {"expert_data": problem} if problem else {}

    def validate(self) -> None:
        super().validate()
        if not self.expert_data:
            self._value_error(f"{self.algo_class.__name__} needs `expert_data`: a trajectory dataset directory "
                              "(`behaviorlab data collect --policy …`)")
        if self.num_expert_trajectories < 0:
            self._value_error(f"num_expert_trajectories must be >= 0 (0 = all), not {self.num_expert_trajectories}")


class BCConfig(ExpertDataConfigMixin, PPOConfig):
    """Behaviour cloning of `expert_data` (ExpertDataConfigMixin) with PPO's default RLModule, so a
    BC policy loads, acts and can warm-start PPO like any PPO policy. Each iteration takes
    `num_epochs` passes over the expert steps in shuffled minibatches of `minibatch_size` (Adam, `lr`),
    minimising −log π(a_E|s_E) (discrete or continuous actions), then samples
    `train_batch_size_per_learner` env steps with the updated policy only to measure it on the true
    reward (`env_runners/episode_return_mean`; stochastic actions unless `explore: false`). The value
    head of PPO's module is left untrained. Defaults: lr 1e-3, minibatch 64, 1 epoch, 1,000 env
    steps per iteration."""

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.bc.algorithm import BC

        super().__init__(algo_class=algo_class or BC)
        self.lr = 1e-3
        self.minibatch_size = 64
        self.num_epochs = 1
        self.train_batch_size_per_learner = 1000

    def get_default_learner_class(self):
        from behaviorlab.algorithms.bc.learner import BCTorchLearner

        return BCTorchLearner
