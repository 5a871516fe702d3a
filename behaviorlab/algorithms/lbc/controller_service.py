"""The meta-controller as a service for every env runner of one LBC trial.

`MetaControllerService` is what the trial's Ray actor runs (`ray.remote(MetaControllerService)`,
created by the LBC Algorithm): one `MetaController` shared by all env runners and nodes, plus a
record of the ψ drawn recently, so results can show how the chosen behaviours move over time.
Plain Python (no Ray import) so it is unit-testable; only the controller is checkpointed, the
recent-ψ record is a metrics window that starts empty after a restore.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from behaviorlab.algorithms.lbc.meta_controller import MetaController, MetaControllerConfig

RECENT_SELECTIONS = 100  # ψ draws behind the "recent" metrics


class MetaControllerService:
    def __init__(self, num_members: int, config: MetaControllerConfig, seed: int | None,
                 recent_selections: int = RECENT_SELECTIONS):
        self.controller = MetaController(num_members, config, seed=seed)
        # Evaluation's ψ draws, apart from the bandit's generator (see `select_best`).
        self._evaluation_rng = np.random.default_rng(None if seed is None else [seed, 1])
        self._recent_arms: deque[int] = deque(maxlen=recent_selections)
        self._recent_tau: deque[np.ndarray] = deque(maxlen=recent_selections)
        self._recent_omega: deque[np.ndarray] = deque(maxlen=recent_selections)

    def select(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(arm, τ [N], ω [N]) for a new episode."""
        arm, psi = self.controller.select()
        self._recent_arms.append(arm)
        self._recent_tau.append(psi["tau"])
        self._recent_omega.append(psi["omega"])
        return arm, psi["tau"], psi["omega"]

    def select_best(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(arm, τ [N], ω [N]) for an evaluation episode: ψ drawn inside the controller's best arm
        (`MetaController.best_arm`), or inside a uniformly random arm before any training episode
        ended. Neither counts as a selection nor touches the bandit's RNG, so training draws the
        same ψ with or without evaluation."""
        arm = self.controller.best_arm()
        if arm is None:
            arm = int(self._evaluation_rng.integers(self.controller.num_arms))
        psi = self.controller.arms[arm].sample(self._evaluation_rng)
        return arm, psi["tau"], psi["omega"]

    def update(self, arm: int, episodic_return: float) -> None:
        self.controller.update(arm, episodic_return)

    def metrics(self) -> dict[str, Any]:
        """Numbers only, nested for RLlib's MetricsLogger. Arms keep `build_arms`' order
        (`arm_labels()` names them).

        episodes: finished episodes reported (updates); selections: episodes started.
        arm_KK/pulls, /selection_share (lifetime), /window_mean_return (largest bandit window,
        NaN while the arm is absent from it), /recent_share (share of the last
        `RECENT_SELECTIONS` draws).
        recent_psi/tau_mean/member_i and recent_psi/omega_mean/member_i: the mean τ_i and ω_i
        drawn over those recent episodes.
        """
        stats = self.controller.stats()
        recent_counts = np.bincount(np.asarray(self._recent_arms, dtype=np.int64), minlength=self.controller.num_arms)
        recent_share = recent_counts / max(len(self._recent_arms), 1)
        result: dict[str, Any] = {
            "episodes": int(stats["pulls"].sum()),
            "selections": int(stats["selections"].sum()),
        }
        for arm in range(self.controller.num_arms):
            result[f"arm_{arm:02d}"] = {
                "pulls": int(stats["pulls"][arm]),
                "selection_share": float(stats["selection_share"][arm]),
                "window_mean_return": float(stats["window_mean_reward"][arm]),
                "recent_share": float(recent_share[arm]),
            }
        if self._recent_tau:
            tau_mean, omega_mean = np.mean(self._recent_tau, axis=0), np.mean(self._recent_omega, axis=0)
            result["recent_psi"] = {
                "tau_mean": {f"member_{i}": float(value) for i, value in enumerate(tau_mean)},
                "omega_mean": {f"member_{i}": float(value) for i, value in enumerate(omega_mean)},
            }
        return result

    def arm_labels(self) -> list[str]:
        return [arm.label for arm in self.controller.arms]

    def get_state(self) -> dict[str, Any]:
        return self.controller.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.controller.set_state(state)
