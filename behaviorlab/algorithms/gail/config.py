"""GAIL's configuration: PPO's fields (the generator) plus the discriminator's and the expert data's."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from typing_extensions import Self

from behaviorlab.algorithms.bc.config import ExpertDataConfigMixin


class GAILConfig(ExpertDataConfigMixin, PPOConfig):
    """GAIL (Ho & Ermon 2016) with a PPO generator. Fields, on top of PPO's:

    - `expert_data`, `num_expert_trajectories`: the demonstrations (ExpertDataConfigMixin).
    - `disc_hiddens` (default [64, 64]) and `disc_activation` ("tanh"): D's MLP over (s, a).
    - `disc_normalize_obs` (default False): D reads observations standardised by the running mean
      and std of every iteration's policy observations and as many expert ones (updated before D's
      steps, then frozen for them and for the rewards: design checklist item 4). Off by default: on
      seals/CartPole D learned more slowly with it (docs/benchmarks.md, "Imitation").
    - `disc_lr` (default 3e-4, Adam).
    - `disc_steps_per_iteration` (default 2): D steps before each policy update, each on
      `disc_minibatch_size` (default 500) policy steps of this iteration's batch and as many expert
      steps drawn uniformly from the demonstrations.
    - `shuffle_disc_labels` (default False): the control run; D's labels are permuted at random
      each step, so D learns nothing about who is the expert and GAIL must not imitate.
    - `entropy_coeff` (PPO's field) is the causal-entropy weight λ of the paper's objective
      −λH(π) (default 0.0 as in PPO; the specs set it).
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.gail.algorithm import GAIL

        super().__init__(algo_class=algo_class or GAIL)
        self.disc_hiddens = [64, 64]
        self.disc_activation = "tanh"
        self.disc_normalize_obs = False
        self.disc_lr = 3e-4
        self.disc_steps_per_iteration = 2
        self.disc_minibatch_size = 500
        self.shuffle_disc_labels = False
        from behaviorlab.algorithms.gail.module import DISCRIMINATOR_ID, DiscriminatorModule

        # D is a second module next to the policy, learner_only: AlgorithmConfig.get_rl_module_spec
        # (what EnvRunners build) drops it; the policy's spec is PPO's default, filled in by RLlib.
        self._rl_module_spec = MultiRLModuleSpec(rl_module_specs={
            DEFAULT_MODULE_ID: RLModuleSpec(),
            DISCRIMINATOR_ID: RLModuleSpec(module_class=DiscriminatorModule, learner_only=True),
        })

    def training(self, *, disc_hiddens: list[int] = NotProvided, disc_activation: str = NotProvided,
                 disc_normalize_obs: bool = NotProvided, disc_lr: float = NotProvided, disc_steps_per_iteration: int = NotProvided,
                 disc_minibatch_size: int = NotProvided, shuffle_disc_labels: bool = NotProvided, **kwargs) -> Self:
        super().training(**kwargs)
        for name, value in (("disc_hiddens", disc_hiddens), ("disc_activation", disc_activation),
                            ("disc_normalize_obs", disc_normalize_obs), ("disc_lr", disc_lr),
                            ("disc_steps_per_iteration", disc_steps_per_iteration),
                            ("disc_minibatch_size", disc_minibatch_size), ("shuffle_disc_labels", shuffle_disc_labels)):
            if value is not NotProvided:
                setattr(self, name, value)
        return self

    def validate(self) -> None:
        super().validate()
        if self.disc_lr <= 0:
            self._value_error(f"disc_lr must be > 0, not {self.disc_lr}")
        if self.disc_steps_per_iteration < 0:
            self._value_error(f"disc_steps_per_iteration must be >= 0, not {self.disc_steps_per_iteration}")
        if self.disc_minibatch_size < 1:
            self._value_error(f"disc_minibatch_size must be >= 1, not {self.disc_minibatch_size}")
        if self.disc_activation not in ("tanh", "relu"):
            self._value_error(f"disc_activation must be 'tanh' or 'relu', not {self.disc_activation!r}")

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        # The discriminator reads its architecture from the model config every module receives.
        return super()._model_config_auto_includes | {"disc_hiddens": list(self.disc_hiddens),
                                                      "disc_activation": self.disc_activation,
                                                      "disc_normalize_obs": self.disc_normalize_obs}

    def get_default_learner_class(self):
        from behaviorlab.algorithms.gail.learner import GAILPPOTorchLearner

        return GAILPPOTorchLearner
