"""LBC's Algorithm: ACER's training loop (an update on the fresh segments, then Poisson(replay_ratio)
updates on replayed ones) for the whole population, plus the trial's meta-controller.

The meta-controller is one Ray actor per Algorithm (`MetaControllerService`, 0 CPUs), created in
`setup`; its handle goes to every env runner (including the local one, which samples when
`num_env_runners` is 0, the evaluation runners, and any runner RLlib restarts), where
`LBCCallbacks` use it. Its state goes into the Algorithm's checkpoints, so a restored run
continues the same bandit.
"""

from __future__ import annotations

import logging

import ray

from behaviorlab.algorithms.acer.algorithm import ACER
from behaviorlab.algorithms.lbc.config import LBCConfig
from behaviorlab.algorithms.lbc.controller_service import MetaControllerService
from behaviorlab.algorithms.lbc.psi import META_CONTROLLER_ATTR

META_CONTROLLER = "meta_controller"  # result key and checkpoint component
logger = logging.getLogger(__name__)


class LBC(ACER):
    @classmethod
    def get_default_config(cls) -> LBCConfig:
        return LBCConfig()

    def setup(self, config) -> None:
        super().setup(config)
        service = ray.remote(num_cpus=0, max_restarts=0)(MetaControllerService)
        self.meta_controller = service.remote(self.config.num_members, self.config.meta_controller_config(), self.config.seed)
        labels = ray.get(self.meta_controller.arm_labels.remote())
        logger.info("LBC meta-controller arms: %s", ", ".join(f"{k:02d}={label}" for k, label in enumerate(labels)))
        self._hand_meta_controller_to(self.env_runner_group)
        if self.eval_env_runner_group is not None:
            self._hand_meta_controller_to(self.eval_env_runner_group)

    def _hand_meta_controller_to(self, env_runner_group, remote_worker_ids=None) -> None:
        handle = self.meta_controller

        def attach(env_runner):
            setattr(env_runner, META_CONTROLLER_ATTR, handle)

        env_runner_group.foreach_env_runner(attach, remote_worker_ids=remote_worker_ids,
                                            local_env_runner=remote_worker_ids is None)

    def restore_env_runners(self, env_runner_group) -> list[int]:
        restored = super().restore_env_runners(env_runner_group)
        if restored:
            self._hand_meta_controller_to(env_runner_group, restored)
        return restored

    def training_step(self) -> None:
        super().training_step()
        self.metrics.log_dict(ray.get(self.meta_controller.metrics.remote()), key=META_CONTROLLER, window=1)

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self._check_component(META_CONTROLLER, components, not_components):
            state[META_CONTROLLER] = ray.get(self.meta_controller.get_state.remote())
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if META_CONTROLLER in state:
            ray.get(self.meta_controller.set_state.remote(state[META_CONTROLLER]))

    def cleanup(self) -> None:
        super().cleanup()
        if getattr(self, "meta_controller", None) is not None:
            ray.kill(self.meta_controller)
