"""ACER's TorchLearner: glue between RLlib and the pure losses in `acer.losses`."""

from __future__ import annotations

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner

from behaviorlab.algorithms.acer.losses import continuous_acer_loss, discrete_acer_loss
from behaviorlab.algorithms.common.segments import BEHAVIOUR_DIST_INPUTS, MASK, REWARDS, TERMINATEDS


class ACERTorchLearner(TorchLearner):
    def build(self) -> None:
        super().build()
        # The average policy network θ_avg is a target network that starts equal to θ.
        for module in self.module._rl_modules.values():
            module.make_target_networks()

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self.module[module_id]
        params = [p for p in module.parameters() if p.requires_grad]
        if config.optimizer == "rmsprop":
            # The paper's and baselines' optimizer: RMSProp with decay 0.99, epsilon 1e-5.
            optimizer = torch.optim.RMSprop(params, lr=config.lr, alpha=0.99, eps=1e-5)
        else:
            optimizer = torch.optim.Adam(params, lr=config.lr)
        self.register_optimizer(module_id=module_id, optimizer=optimizer, params=params,
                                lr_or_lr_schedule=config.lr)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        common = dict(
            rewards=batch[REWARDS] * config.reward_scale, terminateds=batch[TERMINATEDS], mask=batch[MASK],
            behaviour_dist_inputs=batch[BEHAVIOUR_DIST_INPUTS], actions=batch[Columns.ACTIONS],
            gamma=config.gamma, truncation_c=config.truncation_c, q_loss_coeff=config.q_loss_coeff,
            entropy_coeff=config.entropy_coeff,
            trust_region_delta=config.trust_region_delta if config.trust_region else None)
        if module.discrete:
            loss, stats = discrete_acer_loss(fwd_out=fwd_out, **common)
        else:
            loss, stats = continuous_acer_loss(fwd_out=fwd_out, **common)
        active = stats.pop("trust_region_active").item()
        self.metrics.log_dict({name: value.item() for name, value in stats.items()}, key=module_id, window=1)
        # A share over the last 100 updates (about 1-2 iterations), not the last update's: binding is rare.
        self.metrics.log_value((module_id, "trust_region_active"), active, window=100)
        return loss

    def after_gradient_based_update(self, *, timesteps) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        decay = self.config.average_policy_decay
        for module_id, module in self.module._rl_modules.items():
            with torch.no_grad():
                distance = 0.0
                for param, avg in module.unwrapped().average_policy_parameters():
                    avg.mul_(decay).add_(param, alpha=1.0 - decay)
                    distance += float((param - avg).pow(2).sum())
            # Non-zero and bounded: the average network really follows the policy.
            self.metrics.log_value((module_id, "avg_policy_param_distance"), distance ** 0.5, window=1)
