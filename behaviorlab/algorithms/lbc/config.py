"""LBC configuration: ACER's off-policy machinery (segments, replay, Retrace, trust region) plus
the population, the hybrid behaviour and the meta-controller (Fan et al. 2023, ICLR)."""

from __future__ import annotations

import math
from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.connectors.env_to_module import BatchIndividualItems
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils import force_list
from typing_extensions import Self

from behaviorlab.algorithms.acer.config import ACERConfig
from behaviorlab.algorithms.lbc.meta_controller import MetaController, MetaControllerConfig
from behaviorlab.algorithms.lbc.psi import LBCCallbacks, PsiToBatch

BEHAVIOR_STATISTICS = ("standardised_logits", "log_probs")
PSI_IN_EVALUATION = ("fixed", "best_arm")


class LBCConfig(ACERConfig):
    """Fields (set through `.training(...)` or a spec's `config:`). Inherited from ACER with ACER's
    defaults and meaning (see `acer/config.py`): `rollout_fragment_length` (segment length, 20),
    `replay_ratio` (4), `replay_buffer_config` (50 000 env steps), `checkpoint_replay_buffer`
    (True), `replay_start` (1000), `replay_batch_segments` (16), `truncation_c` (10),
    `trust_region` (True) / `trust_region_delta` (1) / `average_policy_decay` (0.99), applied to
    every member with its own average network, `q_loss_coeff` (0.5), `lr` (7e-4), `optimizer`
    ("rmsprop"), `grad_clip` (10, global norm over all members' parameters), `reward_scale` (1).
    ACER's continuous-action fields (`sdn_samples`, `initial_log_std`) do not apply: LBC needs a
    Discrete action space. RLlib's `gamma` and ACER's `entropy_coeff` are per member here and
    must stay unset (None).

    Population (h_i = the member's discount and entropy cost):
    - `num_members` (N, default 3).
    - `member_gammas` (default [0.99, 0.997, 0.95]): γ_i of each member's Retrace targets; a
      standard, a long and a short horizon around ACER's 0.99.
    - `member_entropy_coeffs` (default [0.01, 0.003, 0.03]): each member's entropy cost, around
      ACER's 0.01.
    - `shared_torso` (default False): one encoder for all members (cheaper; members then differ
      only in their heads) instead of one encoder each.

    Behaviour (μ_ψ = Σ_i ω_i softmax(Φ_i / τ_i), see `mapping.py`):
    - `behavior_statistic` (default "standardised_logits", the design note's choice: τ keeps one
      scale as logits grow): Φ_i = `centred_logits(logits_i)`. "log_probs": Φ_i = log π_i, so a
      one-hot ω on member i with τ_i = 1 acts exactly with π_i (its importance ratio is 1).
    - `meta_controller` (default {} = `MetaControllerConfig()`'s defaults): keys of
      `MetaControllerConfig` — `tau_range`, `num_tau_bins`, `omega_modes`, `dominant_min_weight`,
      `bandits`, `epsilon`, `min_pulls`, `pinned_arm`. Baselines are configs of it: uniform
      random ψ = {epsilon: 1.0}; one member with a fixed ψ = {omega_modes: [one_hot],
      tau_range: [1.0, 1.0], num_tau_bins: 1, pinned_arm: i}. `td_weight` is refused: LBC
      reports no exploration bonus (the bandit's UCB bonus plays V^TD), so it would do nothing.
    - `inference_tau` (default 1.0) and `inference_omega` (default None = uniform 1/N): the fixed
      ψ of `forward_inference` (a module used on its own, e.g. exported).
    - `psi_in_evaluation` (default "fixed"): what evaluation env runners act with. "fixed": the
      inference ψ above. "best_arm": every evaluation episode gets a ψ drawn inside the
      meta-controller's best arm at that moment (highest mean return over its largest window, no
      exploration bonus), i.e. the behaviour LBC has learnt to prefer; the bandit is asked, never
      updated. With RLlib's default `explore=False` evaluation takes the argmax of μ_ψ.
    """

    def __init__(self, algo_class=None):
        from behaviorlab.algorithms.lbc.algorithm import LBC

        super().__init__(algo_class=algo_class or LBC)
        self.reward_scale = 1.0  # LBC's measured runs (clipped Atari/MinAtar rewards) predate ACER's 0.1
        self.gamma = None
        self.entropy_coeff = None
        self.num_members = 3
        self.member_gammas = [0.99, 0.997, 0.95]
        self.member_entropy_coeffs = [0.01, 0.003, 0.03]
        self.shared_torso = False
        self.behavior_statistic = "standardised_logits"
        self.meta_controller = {}
        self.inference_tau = 1.0
        self.inference_omega = None
        self.psi_in_evaluation = "fixed"

    def training(
        self,
        *,
        num_members: int = NotProvided,
        member_gammas: list[float] = NotProvided,
        member_entropy_coeffs: list[float] = NotProvided,
        shared_torso: bool = NotProvided,
        behavior_statistic: str = NotProvided,
        meta_controller: dict[str, Any] = NotProvided,
        inference_tau: float = NotProvided,
        inference_omega: list[float] | None = NotProvided,
        psi_in_evaluation: str = NotProvided,
        **kwargs,
    ) -> Self:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    def meta_controller_config(self) -> MetaControllerConfig:
        return MetaControllerConfig(**self.meta_controller)

    def inference_psi_omega(self) -> list[float]:
        return list(self.inference_omega) if self.inference_omega is not None else [1.0 / self.num_members] * self.num_members

    def validate(self) -> None:
        super().validate()
        n = self.num_members
        checks = [
            (not self.is_multi_agent, "LBC is single-agent"),
            (self.gamma is None, "LBC's discounts are per member: set member_gammas, not gamma"),
            (self.entropy_coeff is None, "LBC's entropy costs are per member: set member_entropy_coeffs, not entropy_coeff"),
            (isinstance(n, int) and n >= 1, "num_members must be an integer >= 1"),
            (len(self.member_gammas) == n and all(0 <= g <= 1 for g in self.member_gammas),
             f"member_gammas must list num_members={n} discounts in [0, 1]"),
            (len(self.member_entropy_coeffs) == n and all(c >= 0 for c in self.member_entropy_coeffs),
             f"member_entropy_coeffs must list num_members={n} costs >= 0"),
            (self.behavior_statistic in BEHAVIOR_STATISTICS, f"behavior_statistic must be one of {BEHAVIOR_STATISTICS}"),
            (self.inference_tau > 0 and math.isfinite(self.inference_tau), "inference_tau must be finite and > 0"),
            (self.inference_omega is None or (len(self.inference_omega) == n and min(self.inference_omega) >= 0
                                              and abs(sum(self.inference_omega) - 1) < 1e-6),
             f"inference_omega must be null (uniform) or num_members={n} weights >= 0 summing to 1"),
            (self.psi_in_evaluation in PSI_IN_EVALUATION, f"psi_in_evaluation must be one of {PSI_IN_EVALUATION}"),
            ("td_weight" not in self.meta_controller,
             "meta_controller.td_weight: LBC reports no exploration bonus to the bandit, so td_weight has no effect; remove it"),
        ]
        for ok, message in checks:
            if not ok:
                self._value_error(message)
        try:
            MetaController(n, self.meta_controller_config())
        except (TypeError, ValueError) as error:
            self._value_error(f"meta_controller: {error}")
        # Compose with callbacks set elsewhere (e.g. by the platform) instead of replacing them.
        callbacks = force_list(self.callbacks_class)
        if not any(isinstance(c, type) and issubclass(c, LBCCallbacks) for c in callbacks):
            self.callbacks_class = callbacks + [LBCCallbacks]

    def build_env_to_module_connector(self, env=None, spaces=None, device=None):
        pipeline = super().build_env_to_module_connector(env=env, spaces=spaces, device=device)
        if not self.add_default_connectors_to_env_to_module_pipeline:
            raise ValueError("LBC puts ψ into the batch ahead of RLlib's default env-to-module connectors; "
                             "keep add_default_connectors_to_env_to_module_pipeline=True")
        pipeline.insert_before(BatchIndividualItems, PsiToBatch())
        return pipeline

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        from behaviorlab.algorithms.lbc.module import LBCTorchRLModule

        return RLModuleSpec(module_class=LBCTorchRLModule)

    def get_default_learner_class(self):
        from behaviorlab.algorithms.lbc.learner import LBCTorchLearner

        return LBCTorchLearner

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {
            "num_members": self.num_members, "shared_torso": self.shared_torso,
            "behavior_statistic": self.behavior_statistic, "inference_tau": self.inference_tau,
            "inference_omega": self.inference_psi_omega()}
