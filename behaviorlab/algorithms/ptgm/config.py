"""PTGM's high-level RL: an RL learner over goal codes with a KL penalty towards the pre-trained
goal prior. Two learners: PPO (`PTGM`, on-policy, the paper's) and ACER (`PTGMACER`, off-policy
with replay)."""

from __future__ import annotations

from pathlib import Path

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.utils import force_list
from typing_extensions import Self

from behaviorlab.algorithms.acer.config import ACERConfig
from behaviorlab.algorithms.ptgm.callbacks import PTGMCallbacks
from behaviorlab.algorithms.ptgm.losses import KL_DIRECTIONS

KL_PLACEMENTS = ("reward", "loss")


class GoalPriorConfigMixin:
    """The goal-prior fields, set through `.training(...)` or a spec's `config:`:

    - `goal_prior_path` (str, required): π_p file from the `prior` stage (`~` is expanded; the
      learner loads it, so it must be readable where the learner runs).
    - `goal_prior_kl_coeff` (λ, default 0.05, the paper's Minecraft value): weight of the KL term.
    - `goal_prior_kl_direction` ("prior_to_policy", default: the paper's D_KL(π_p ‖ π_θ); or
      "policy_to_prior").
    - `goal_prior_kl_in` ("reward", default: the paper's per-step reward r − λ·KL, plus the KL's
      direct gradient in the loss; "loss": the direct gradient only, no KL in the returns).
    The env is the goal-code env (`behaviorlab.algorithms.ptgm.env:make_goal_code_env`).
    `validate` adds `PTGMCallbacks` (low-level env steps, episode success; see callbacks.py) to
    whatever callbacks are set.
    """

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.goal_prior_path = ""
        self.goal_prior_kl_coeff = 0.05
        self.goal_prior_kl_direction = "prior_to_policy"
        self.goal_prior_kl_in = "reward"

    def training(self, *, goal_prior_path: str = NotProvided, goal_prior_kl_coeff: float = NotProvided,
                 goal_prior_kl_direction: str = NotProvided, goal_prior_kl_in: str = NotProvided,
                 **kwargs) -> Self:
        super().training(**kwargs)
        if goal_prior_path is not NotProvided:
            self.goal_prior_path = goal_prior_path
        if goal_prior_kl_coeff is not NotProvided:
            self.goal_prior_kl_coeff = goal_prior_kl_coeff
        if goal_prior_kl_direction is not NotProvided:
            self.goal_prior_kl_direction = goal_prior_kl_direction
        if goal_prior_kl_in is not NotProvided:
            self.goal_prior_kl_in = goal_prior_kl_in
        return self

    def missing_inputs(self) -> dict[str, tuple[str, str]]:
        """The prior file, made by the `prior` stage: `behaviorlab run` refuses to start without it
        (one line, instead of a trial failing in the learner)."""
        if self.goal_prior_path and not Path(self.goal_prior_path).expanduser().is_file():
            return {"goal_prior_path": (f"{self.goal_prior_path} is not a file",
                                        "run the `prior` stage first (python -m behaviorlab.algorithms.ptgm prior "
                                        "…, or experiments/ptgm/babyai_pipeline.sh)")}
        return {}

    def validate(self) -> None:
        super().validate()
        if not self.goal_prior_path:
            self._value_error(f"{self.algo_class.__name__} needs `goal_prior_path`: the π_p file written by "
                              "the `prior` stage")
        if self.goal_prior_kl_direction not in KL_DIRECTIONS:
            self._value_error(f"goal_prior_kl_direction must be one of {KL_DIRECTIONS}, not "
                              f"{self.goal_prior_kl_direction!r}")
        if self.goal_prior_kl_in not in KL_PLACEMENTS:
            self._value_error(f"goal_prior_kl_in must be one of {KL_PLACEMENTS}, not {self.goal_prior_kl_in!r}")
        if self.goal_prior_kl_coeff < 0:
            self._value_error(f"goal_prior_kl_coeff must be >= 0, not {self.goal_prior_kl_coeff}")
        # Compose with callbacks set elsewhere (e.g. by the platform) instead of replacing them.
        callbacks = force_list(self.callbacks_class)
        if not any(isinstance(c, type) and issubclass(c, PTGMCallbacks) for c in callbacks):
            self.callbacks_class = callbacks + [PTGMCallbacks]


class PTGMConfig(GoalPriorConfigMixin, PPOConfig):
    """PPO's fields plus the goal-prior fields (`GoalPriorConfigMixin`)."""

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.ptgm.algorithm import PTGM

        super().__init__(algo_class=algo_class or PTGM)

    def get_default_learner_class(self):
        from behaviorlab.algorithms.ptgm.learner import PTGMLearner

        return PTGMLearner


class PTGMACERConfig(GoalPriorConfigMixin, ACERConfig):
    """ACER's fields (acer/config.py: replay ratio, Retrace, trust region, …) plus the goal-prior
    fields (`GoalPriorConfigMixin`). Off-policy: each on-policy update is followed by
    `replay_ratio` replayed updates on average, so every high-level step, which costs up to
    `steps_per_goal` low-level env steps, feeds many updates (with the BabyAI template's 32-step
    on-policy batches and 128-step replayed batches, ≈ 16 on average).
    Actions must be discrete (goal codes): the KL term reads the policy's logits."""

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.ptgm.algorithm import PTGMACER

        super().__init__(algo_class=algo_class or PTGMACER)
        self.reward_scale = 1.0  # the PTGM-ACER runs (sparse BabyAI rewards) were measured with it

    def get_default_learner_class(self):
        from behaviorlab.algorithms.ptgm.learner import PTGMACERLearner

        return PTGMACERLearner
