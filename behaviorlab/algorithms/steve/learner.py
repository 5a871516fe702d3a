"""STEVE's TorchLearner: glue between RLlib and the pure functions in `steve.targets` and
`steve.losses`. Three Adam optimizers (actor, Q ensemble, world model); each loss term reaches
only its own parameters, so one backward pass serves all three. RLlib's DQNLearner builds the
target Q ensemble and the NEXT_OBS column; the Polyak update (`tau`) follows every gradient step.

With `minibatch_size` set, one learner call splits the replayed batch into minibatches, one
gradient step each: SAC's training step then makes `train_batch_size_per_learner /
minibatch_size` updates per call and RLlib's fixed per-call cost is paid once for all of them."""

from __future__ import annotations

import torch
from ray.rllib.algorithms.dqn.dqn_learner import DQNLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.core.learner.utils import update_target_network
from ray.rllib.core.rl_module.apis import TargetNetworkAPI

from behaviorlab.algorithms.steve.losses import heldout_mask, masked_mean, member_masks, world_model_losses
from behaviorlab.algorithms.steve.targets import candidate_targets, reduce_candidates


class STEVETorchLearner(DQNLearner, TorchLearner):
    def build(self) -> None:
        super().build()
        # Which samples each ensemble member sees: seeded, so runs repeat per seed.
        self._member_rng = torch.Generator().manual_seed(int(self.config.seed or 0))

    @classmethod
    def rl_module_required_apis(cls) -> list[type]:
        return [TargetNetworkAPI]

    def update(self, *args, minibatch_size=None, **kwargs):
        return super().update(*args, minibatch_size=minibatch_size or self.config.minibatch_size, **kwargs)

    def apply_gradients(self, gradients_dict) -> None:
        super().apply_gradients(gradients_dict)
        for module_id, module in self.module._rl_modules.items():
            for main, target in module.unwrapped().get_target_network_pairs():
                update_target_network(main_net=main, target_net=target,
                                      tau=self.config.get_config_for_module(module_id).tau)

    def after_gradient_based_update(self, *, timesteps) -> None:
        # Skips DQNLearner's once-per-call Polyak update: `apply_gradients` does it per step.
        super(DQNLearner, self).after_gradient_based_update(timesteps=timesteps)

    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        module = self.module[module_id].unwrapped()
        groups = {"actor": ([module.actor], config.actor_lr), "critic": ([module.q], config.critic_lr),
                  "model": ([module.transition, module.termination, module.reward], config.model_lr)}
        for name, (nets, lr) in groups.items():
            params = [p for net in nets for p in self.get_parameters(net)]
            self.register_optimizer(module_id=module_id, optimizer_name=name, optimizer=torch.optim.Adam(params),
                                    params=params, lr_or_lr_schedule=lr)

    def _masks(self, members: int, batch: int, fraction: float, device) -> torch.Tensor:
        return member_masks(members, batch, fraction, self._member_rng).to(device)

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        obs, actions = batch[Columns.OBS].float(), batch[Columns.ACTIONS].float()
        next_obs, rewards = batch[Columns.NEXT_OBS].float(), batch[Columns.REWARDS].float()
        terminateds = batch[Columns.TERMINATEDS].float()
        size = obs.shape[0]

        # Targets (stop-gradient): td never needs the model's rollouts.
        horizon = 0 if config.target_reduction == "td" else config.rollout_horizon
        with torch.no_grad():
            candidates = candidate_targets(rewards, 1.0 - terminateds, **module.imagine(next_obs, horizon),
                                           gamma=config.gamma)
            target, weights = reduce_candidates(candidates, config.target_reduction)

        q = fwd_out["q"]                                                                     # [L, B]
        critic_loss = masked_mean((q - target) ** 2, self._masks(q.shape[0], size, config.member_data_fraction,
                                                                 q.device))
        actor_loss = -fwd_out["q_policy"].mean()

        heldout = heldout_mask(obs, actions, config.heldout_fraction)
        trained = (~heldout).float()
        models, rewarders = fwd_out["pred_delta"].shape[0], fwd_out["pred_reward"].shape[0]
        model_terms = dict(pred_delta=fwd_out["pred_delta"], pred_done_logit=fwd_out["pred_done_logit"],
                           pred_reward=fwd_out["pred_reward"], obs=obs, next_obs=next_obs, rewards=rewards,
                           terminateds=terminateds)
        model_losses = world_model_losses(
            **model_terms,
            model_mask=self._masks(models, size, config.member_data_fraction, obs.device) * trained,
            reward_mask=self._masks(rewarders, size, config.member_data_fraction, obs.device) * trained)

        stats = {"critic_loss": critic_loss, "actor_loss": actor_loss, "target_mean": target.mean(),
                 "q_mean": q.mean(), "q_ensemble_spread": q.std(dim=0, unbiased=False).mean(),
                 "model_use": 1.0 - weights[:, 0].mean(),
                 **{f"horizon_weight_{i}": w for i, w in enumerate(weights.mean(dim=0))},
                 **{f"model_loss_{name}": value for name, value in model_losses.items()}}
        if heldout.any():
            with torch.no_grad():
                errors = world_model_losses(**model_terms, model_mask=heldout.float().expand(models, -1),
                                            reward_mask=heldout.float().expand(rewarders, -1))
            stats |= {f"heldout_error_{name}": value for name, value in errors.items()}
        self.metrics.log_dict({name: value.item() for name, value in stats.items()}, key=module_id, window=1)
        return critic_loss + actor_loss + sum(model_losses.values())
