"""PTGM's high-level RL: an RL learner over goal codes with a KL penalty towards the pre-trained
goal prior. Two learners: PPO (`PTGM`, on-policy, the paper's) and ACER (`PTGMACER`, off-policy
with replay). The continuous-skill baseline (`PTGMVAESkills`): PPO over skills z with a KL
penalty towards the skill prior (SPiRL-style)."""

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


class HighLevelConfigMixin:
    """What every PTGM high level shares: `validate` adds `PTGMCallbacks` (low-level env steps,
    episode success; see callbacks.py) to whatever callbacks are set."""

    def validate(self) -> None:
        super().validate()
        # Compose with callbacks set elsewhere (e.g. by the platform) instead of replacing them.
        callbacks = force_list(self.callbacks_class)
        if not any(isinstance(c, type) and issubclass(c, PTGMCallbacks) for c in callbacks):
            self.callbacks_class = callbacks + [PTGMCallbacks]

    def _check_kl_fields(self, prefix: str) -> None:
        """`{prefix}_kl_in` and `{prefix}_kl_coeff`, checked alike for both priors."""
        placement, coeff = getattr(self, f"{prefix}_kl_in"), getattr(self, f"{prefix}_kl_coeff")
        if placement not in KL_PLACEMENTS:
            self._value_error(f"{prefix}_kl_in must be one of {KL_PLACEMENTS}, not {placement!r}")
        if coeff < 0:
            self._value_error(f"{prefix}_kl_coeff must be >= 0, not {coeff}")


class GoalPriorConfigMixin(HighLevelConfigMixin):
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
        self._check_kl_fields("goal_prior")


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


class PTGMVAESkillsConfig(HighLevelConfigMixin, PPOConfig):
    """The continuous-skill baseline's high level (SPiRL-style, Pertsch et al. 2020): PPO over the
    skill z (a Box action, so RLlib's diagonal Gaussian), regularised towards the skill prior.
    Fields besides PPO's, set through `.training(...)` or a spec's `config:`:

    - `skill_prior_path` (str, default "": N(0, I)): the learned prior p(z|s) file the `skills`
      stage writes (`<decoder stem>_prior.pt`).
    - `skill_prior_kl_coeff` (α, default 0.01): weight of KL(π_θ(z|s) ‖ prior), SPiRL's direction.
    - `skill_prior_kl_in` ("reward", default: r − α·KL per high-level step plus its direct
      gradient in the loss, as PTGM's goal prior; "loss": the direct gradient only).
    The env is `behaviorlab.algorithms.ptgm.env:make_skill_env`. The KL reads the Gaussian the
    policy samples z from, so actions must reach the env unscaled: `normalize_actions` is off by
    default (RLlib's default maps the sample linearly onto the Box) and must stay off; the env
    clips z to its Box.
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.ptgm.algorithm import PTGMVAESkills

        super().__init__(algo_class=algo_class or PTGMVAESkills)
        self.normalize_actions = False
        self.skill_prior_path = ""
        self.skill_prior_kl_coeff = 0.01
        self.skill_prior_kl_in = "reward"

    def training(self, *, skill_prior_path: str = NotProvided, skill_prior_kl_coeff: float = NotProvided,
                 skill_prior_kl_in: str = NotProvided, **kwargs) -> Self:
        super().training(**kwargs)
        if skill_prior_path is not NotProvided:
            self.skill_prior_path = skill_prior_path
        if skill_prior_kl_coeff is not NotProvided:
            self.skill_prior_kl_coeff = skill_prior_kl_coeff
        if skill_prior_kl_in is not NotProvided:
            self.skill_prior_kl_in = skill_prior_kl_in
        return self

    def missing_inputs(self) -> dict[str, tuple[str, str]]:
        if self.skill_prior_path and not Path(self.skill_prior_path).expanduser().is_file():
            return {"skill_prior_path": (f"{self.skill_prior_path} is not a file",
                                         "run the `skills` stage first (python -m behaviorlab.algorithms.ptgm skills "
                                         "…), or leave skill_prior_path empty for N(0, I)")}
        return {}

    def validate(self) -> None:
        super().validate()
        if self.normalize_actions:
            self._value_error(f"{self.algo_class.__name__} needs normalize_actions=False: the skill-prior KL reads "
                              "the Gaussian the policy samples z from, which normalising would rescale")
        self._check_kl_fields("skill_prior")

    def get_default_learner_class(self):
        from behaviorlab.algorithms.ptgm.learner import SkillPriorPPOLearner

        return SkillPriorPPOLearner
