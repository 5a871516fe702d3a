"""SVG0Prior's TorchLearner: glue between RLlib and the pure losses in `svg0_prior.losses`."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from torch.distributions import Normal

from behaviorlab.algorithms.common.segments import BEHAVIOUR_DIST_INPUTS, MASK, REWARDS, TERMINATEDS
from behaviorlab.algorithms.svg0_prior.hierarchical_module import BEHAVIOUR_LOG_PROB
from behaviorlab.algorithms.svg0_prior.losses import latent_svg0_prior_loss, svg0_prior_loss


def resolve_checkpoint(checkpoint: str | Path, seed: int | None = None) -> Path:
    """`checkpoint` with `~`, `$VARIABLES` and `{seed}` (this run's seed, so each seed of a transfer
    run can load the prior its own seed pre-trained) expanded. A glob pattern must match one path."""
    text = os.path.expandvars(str(checkpoint))
    if "{seed}" in text:
        if seed is None:
            raise ValueError(f"prior_checkpoint {checkpoint}: names {{seed}} but the run has no seed")
        text = text.replace("{seed}", str(seed))
    path = Path(text).expanduser()
    if not glob.has_magic(text):
        return path
    matches = sorted(glob.glob(str(path)))
    if len(matches) != 1:
        raise ValueError(f"prior_checkpoint {checkpoint}: the pattern {path} matches {len(matches)} paths "
                         f"{[Path(match).name for match in matches][:4]}, not one")
    return Path(matches[0])


def module_checkpoint_dir(checkpoint: str | Path, seed: int | None = None) -> Path:
    """The RLModule directory inside an algorithm checkpoint, inside a trial directory's newest
    checkpoint (so a spec can name a pre-training trial before it has run), or the module directory
    itself. The path is expanded as `resolve_checkpoint` says, and made absolute (pyarrow, which RLlib
    restores through, refuses relative paths)."""
    path = resolve_checkpoint(checkpoint, seed).absolute()
    checkpoints = sorted(path.glob("checkpoint_*"))  # zero-padded: the newest sorts last
    if checkpoints:
        path = checkpoints[-1]
    nested = path / "learner_group" / "learner" / "rl_module" / DEFAULT_MODULE_ID
    return nested if nested.is_dir() else path


def states_from_checkpoint(checkpoint: str | Path, names: list[str],
                           seed: int | None = None) -> dict[str, dict[str, torch.Tensor]]:
    """The weights of the named networks (e.g. the prior) from another SVG0Prior run's checkpoint
    (transfer to a new task). Its pickles load through `checkpoint_pickles`: no code runs from them."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    from behaviorlab.platform.checkpoint_pickles import checkpoint_pickles

    with checkpoint_pickles():
        source = RLModule.from_checkpoint(str(module_checkpoint_dir(checkpoint, seed))).unwrapped()
    missing = [name for name in names if not hasattr(source, name)]
    if missing:
        raise ValueError(f"prior_checkpoint {checkpoint}: its module has no {missing} (a flat prior cannot seed a "
                         "hierarchical one, nor a shared lower level a separate one)")
    return {name: getattr(source, name).state_dict() for name in names}


class SVG0PriorTorchLearner(TorchLearner):
    def build(self) -> None:
        super().build()
        self._updates = 0
        if self.config.prior_checkpoint:
            for module in self.module._rl_modules.values():
                module = module.unwrapped()
                states = states_from_checkpoint(
                    self.config.prior_checkpoint, module.transfer_parts(lower_level=self.config.transfer_lower_level),
                    seed=self.config.seed)
                module.load_transfer(states, source=self.config.prior_checkpoint)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self.module[module_id].unwrapped()
        frozen = (module.prior_parameters() if config.freeze_prior else []) + (
            module.lower_parameters() if config.freeze_lower_level else [])
        for param in frozen:
            param.requires_grad_(False)
        params = [p for p in module.parameters() if p.requires_grad]
        self.register_optimizer(module_id=module_id, optimizer=torch.optim.Adam(params, lr=config.lr),
                                params=params, lr_or_lr_schedule=config.lr)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        actions = batch[Columns.ACTIONS].float()
        if config.hierarchical:  # μ's joint log-prob of (z, a), stored by the EnvRunner
            loss_fn, behaviour_log_prob = latent_svg0_prior_loss, batch[BEHAVIOUR_LOG_PROB].float()
        else:
            mean, log_std = batch[BEHAVIOUR_DIST_INPUTS].chunk(2, dim=-1)
            loss_fn, behaviour_log_prob = svg0_prior_loss, Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
        loss, stats = loss_fn(
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
