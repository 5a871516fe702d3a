"""STEVE's ensembles and world model: members see different data, the termination model learns
from true terminations only, rollouts have the contract's shapes."""

import gymnasium as gym
import pytest
import torch

from behaviorlab.algorithms.steve.losses import heldout_mask, masked_mean, member_masks, world_model_losses
from behaviorlab.algorithms.steve.module import STEVETorchRLModule
from behaviorlab.algorithms.steve.targets import candidate_targets


def make_module(**model_config) -> STEVETorchRLModule:
    module = STEVETorchRLModule(observation_space=gym.spaces.Box(-1, 1, (3,)), action_space=gym.spaces.Box(-1, 1, (1,)),
                                model_config={"q_ensemble": 2, "model_ensemble": 3, "reward_ensemble": 2,
                                              "model_hiddens": [32], "reward_hiddens": [32], "critic_hiddens": [32],
                                              "actor_hiddens": [32]} | model_config)
    module.make_target_networks()
    return module


def test_members_get_different_random_subsets():
    masks = member_masks(4, 256, 0.5, torch.Generator().manual_seed(0))
    assert masks.shape == (4, 256)
    assert all(0.35 < row.mean() < 0.65 for row in masks)
    assert len({tuple(row.tolist()) for row in masks}) == 4


def test_a_member_learns_only_from_its_own_samples():
    module = make_module()
    x = torch.randn(8, 3), torch.rand(8, 1)
    q = module.q_values(*x)                                        # [2, 8]
    mask = torch.zeros(2, 8)
    mask[0, :4] = 1.0
    mask[1, 4:] = 1.0
    # Only sample 0 carries a loss: member 1 (which does not hold it) gets no gradient.
    values = torch.zeros(2, 8)
    values[:, 0] = 1.0
    masked_mean((q - values) ** 2 * values, mask).backward()
    first_layer = module.q.layers[0].weight.grad
    assert first_layer[0].abs().sum() > 0 and first_layer[1].abs().sum() == 0


def test_termination_model_ignores_truncations():
    """Pendulum's episodes end only by the time limit: the termination model must learn d̂ ≈ 0."""
    torch.manual_seed(0)
    module = make_module()
    optimizer = torch.optim.Adam(module.termination.parameters(), lr=5e-2)
    obs, actions, next_obs = torch.randn(64, 3), torch.rand(64, 1) * 2 - 1, torch.randn(64, 3)
    truncateds = torch.ones(64)  # every transition a time-limit cut
    terminateds = torch.zeros(64)
    for _ in range(30):
        out = module._forward_train({"obs": obs, "actions": actions, "new_obs": next_obs})
        losses = world_model_losses(pred_delta=out["pred_delta"], pred_done_logit=out["pred_done_logit"],
                                    pred_reward=out["pred_reward"], obs=obs, next_obs=next_obs,
                                    rewards=torch.zeros(64), terminateds=terminateds,
                                    model_mask=torch.ones(3, 64), reward_mask=torch.ones(2, 64))
        optimizer.zero_grad()
        losses["termination"].backward()
        optimizer.step()
    assert torch.sigmoid(out["pred_done_logit"]).max() < 0.05
    with pytest.raises(TypeError):
        world_model_losses(truncateds=truncateds)  # no way to pass truncations in


def test_heldout_transitions_are_fixed_and_about_the_fraction():
    obs, actions = torch.randn(4000, 3), torch.rand(4000, 1)
    held = heldout_mask(obs, actions, 0.1)
    assert 0.07 < held.float().mean() < 0.13
    torch.testing.assert_close(heldout_mask(obs[:100], actions[:100], 0.1), held[:100])
    assert not heldout_mask(obs, actions, 0.0).any()


def test_rollout_shapes_and_horizon_zero():
    module = make_module()
    next_obs = torch.randn(5, 3)
    imagined = module.imagine(next_obs, 2)
    assert imagined["model_rewards"].shape == (5, 2, 3, 2)
    assert imagined["model_continuation"].shape == (5, 2, 3)
    assert imagined["bootstrap_q"].shape == (5, 3, 3, 2)
    # i = 0 is the target Q at the real s' (no noise: the deterministic actor), equal along every model.
    q0 = module.q_values(next_obs, module.policy(next_obs), target=True).T
    torch.testing.assert_close(imagined["bootstrap_q"][:, 0], q0[:, None, :].expand(5, 3, 2))
    assert candidate_targets(torch.zeros(5), torch.ones(5), **imagined, gamma=0.9).shape == (5, 3, 12)
    td = module.imagine(next_obs, 0)
    assert candidate_targets(torch.zeros(5), torch.ones(5), **td, gamma=0.9).shape == (5, 1, 12)


def test_inference_only_module_has_only_the_actor():
    module = STEVETorchRLModule(observation_space=gym.spaces.Box(-1, 1, (3,)),
                                action_space=gym.spaces.Box(-1, 1, (1,)), inference_only=True, model_config={})
    assert not any(hasattr(module, name) for name in ("q", "transition", "termination", "reward"))
    out = module._forward_exploration({"obs": torch.randn(4, 3)})
    assert out["actions"].shape == (4, 1) and out["actions"].abs().max() <= 1
