"""SVG0Prior's TorchLearner: glue between RLlib and the pure losses in `svg0_prior.losses`."""

from __future__ import annotations

from pathlib import Path

import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from torch.distributions import Normal

from behaviorlab.algorithms.common.segments import BEHAVIOUR_DIST_INPUTS, MASK, REWARDS, TERMINATEDS
from behaviorlab.algorithms.svg0_prior.losses import svg0_prior_loss


def module_checkpoint_dir(checkpoint: str | Path) -> Path:
    """The RLModule directory inside an algorithm checkpoint (or the module directory itself)."""
    path = Path(checkpoint).expanduser()
    nested = path / "learner_group" / "learner" / "rl_module" / DEFAULT_MODULE_ID
    return nested if nested.is_dir() else path


def prior_state_from_checkpoint(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """The prior's weights from another SVG0Prior run's checkpoint (transfer to a new task)."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    source = RLModule.from_checkpoint(str(module_checkpoint_dir(checkpoint)))
    return source.unwrapped().prior.state_dict()


class SVG0PriorTorchLearner(TorchLearner):
    def build(self) -> None:
        super().build()
        self._updates = 0
        if self.config.prior_checkpoint:
            state = prior_state_from_checkpoint(self.config.prior_checkpoint)
            for module in self.module._rl_modules.values():
                module.unwrapped().load_prior(state, source=self.config.prior_checkpoint)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self.module[module_id].unwrapped()
        frozen = set(map(id, module.prior_parameters())) if config.freeze_prior else set()
        if frozen:
            for param in module.prior_parameters():
                param.requires_grad_(False)
        params = [p for p in module.parameters() if p.requires_grad and id(p) not in frozen]
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params, lr=config.lr),
                                params=params, lr_or_lr_schedule=config.lr)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        actions = batch[Columns.ACTIONS].float()
        mean, log_std = batch[BEHAVIOUR_DIST_INPUTS].chunk(2, dim=-1)
        behaviour_log_prob = Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
        loss, stats = svg0_prior_loss(
            fwd_out["svg0"], actions=actions, behaviour_log_prob=behaviour_log_prob,
            rewards=batch[REWARDS] * config.reward_scale, terminateds=batch[TERMINATEDS], mask=batch[MASK],
            gamma=config.gamma, retrace_lambda=config.retrace_lambda, kl_weight=config.kl_weight,
            entropy_coeff=config.entropy_coeff, prior_loss_coeff=0.0 if config.freeze_prior else 1.0)
        self.metrics.log_dict({name: value.item() for name, value in stats.items()}, key=module_id, window=1)
        return loss

    def after_gradient_based_update(self, *, timesteps) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        self._updates += 1
        if self._updates % self.config.target_update_period == 0:
            for module in self.module._rl_modules.values():
                module.unwrapped().update_targets()
