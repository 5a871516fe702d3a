"""SVRLDQN configuration: RLlib's DQNConfig plus the matrix-estimation fields."""

from __future__ import annotations

import logging

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.dqn import DQNConfig
from typing_extensions import Self

from behaviorlab.algorithms.common.matrix_estimation import METHODS

logger = logging.getLogger(__name__)


class SVRLDQNConfig(DQNConfig):
    """DQN's fields (double_q and dueling on by default, as in DQNConfig) plus:

    - `svrl_keep_prob` (p, default 0.9, the official code's): each entry of the target network's
      next-state Q matrix [B, |A|] is observed with probability p; the rest is hidden and filled by
      matrix estimation before the target. p = 1 is plain DQN.
    - `svrl_method` ("soft_impute", default, or "usvt"): the estimator in
      `behaviorlab.algorithms.common.matrix_estimation`.
    - `svrl_keep_prob_schedule_updates` (default 0 = off): p rises linearly from `svrl_keep_prob`
      to 1 over this many learner updates (the official `--maskscheduler`, 2e6 updates there).

    Distributional heads (`num_atoms > 1`) are rejected: SV-RL is defined on a Q matrix.
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.svrl.algorithm import SVRLDQN

        super().__init__(algo_class=algo_class or SVRLDQN)
        self.svrl_keep_prob = 0.9
        self.svrl_method = "soft_impute"
        self.svrl_keep_prob_schedule_updates = 0

    def training(self, *, svrl_keep_prob: float = NotProvided, svrl_method: str = NotProvided,
                 svrl_keep_prob_schedule_updates: int = NotProvided, **kwargs) -> Self:
        super().training(**kwargs)
        for name, value in (("svrl_keep_prob", svrl_keep_prob), ("svrl_method", svrl_method),
                            ("svrl_keep_prob_schedule_updates", svrl_keep_prob_schedule_updates)):
            if value is not NotProvided:
                setattr(self, name, value)
        return self

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.svrl_keep_prob <= 1.0:
            self._value_error(f"svrl_keep_prob must be in (0, 1] (the share of Q entries observed); got {self.svrl_keep_prob}")
        if self.svrl_method not in METHODS:
            self._value_error(f"svrl_method must be one of {', '.join(METHODS)}; got {self.svrl_method!r}")
        if not isinstance(self.svrl_keep_prob_schedule_updates, int) or self.svrl_keep_prob_schedule_updates < 0:
            self._value_error("svrl_keep_prob_schedule_updates must be an integer >= 0 (0 = no schedule)")
        if self.num_atoms > 1:
            self._value_error("SVRLDQN completes a matrix of Q values: distributional DQN (num_atoms > 1) is not supported")
        if self.n_step != 1:
            # The official code is 1-step; with n steps the matrix is Q(s_{t+n}, ·), an extension.
            logger.warning("SVRLDQN with n_step=%s: matrix estimation acts on Q(s_{t+n}, ·), an extension of the paper's 1-step targets", self.n_step)

    def get_default_learner_class(self):
        from behaviorlab.algorithms.svrl.learner import SVRLDQNTorchLearner

        return SVRLDQNTorchLearner

    def keep_prob_at(self, updates: int) -> float:
        """p after `updates` learner updates (the optional linear schedule to 1)."""
        if not self.svrl_keep_prob_schedule_updates:
            return self.svrl_keep_prob
        progress = min(1.0, updates / self.svrl_keep_prob_schedule_updates)
        return self.svrl_keep_prob + (1.0 - self.svrl_keep_prob) * progress
