"""SVG0Prior math against closed forms and hand-computed values, and which network each loss
term trains."""

import math

import gymnasium as gym
import pytest
import torch
from torch.distributions import Normal

from behaviorlab.algorithms.svg0_prior.losses import (
    gaussian_kl, retrace_critic_targets, soft_values, svg0_prior_loss)


def test_gaussian_kl_matches_the_closed_form():
    p = Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5]))
    q = Normal(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.5]))
    # Per dim: log(σq/σp) + (σp² + (μp − μq)²)/(2σq²) − ½ → 0.4431 and 0.
    expected = math.log(2.0) + (1 + 1) / 8 - 0.5
    assert gaussian_kl(p, q).item() == pytest.approx(expected, abs=1e-6)
    assert gaussian_kl(p, p).item() == pytest.approx(0.0, abs=1e-7)


def test_retrace_targets_hand_computed_two_steps():
    # γ = 0.9; step 1 terminates, so target_1 = r_1 = 2;
    # target_0 = r_0 + γ (V(x_1) + c_1 (target_1 − Q(x_1, a_1))) with c_1 = min(1, 0.5) = 0.5:
    # 1 + 0.9 · (3 + 0.5 · (2 − 1.5)) = 3.925.
    targets = retrace_critic_targets(
        rewards=torch.tensor([[1.0, 2.0]]), terminateds=torch.tensor([[0.0, 1.0]]), mask=torch.ones(1, 2),
        q_target_taken=torch.tensor([[0.7, 1.5]]), values=torch.tensor([[5.0, 3.0, 100.0]]),
        log_pi_target_taken=torch.log(torch.tensor([[0.2, 0.5]])), log_mu_taken=torch.zeros(1, 2),
        gamma=0.9, retrace_lambda=1.0)
    torch.testing.assert_close(targets, torch.tensor([[3.925, 2.0]]))
    # A truncated (not terminated) last step bootstraps from V(x_2) = 100, and λ = 0 gives one-step TD.
    truncated = retrace_critic_targets(
        rewards=torch.tensor([[1.0, 2.0]]), terminateds=torch.zeros(1, 2), mask=torch.ones(1, 2),
        q_target_taken=torch.tensor([[0.7, 1.5]]), values=torch.tensor([[5.0, 3.0, 100.0]]),
        log_pi_target_taken=torch.zeros(1, 2), log_mu_taken=torch.zeros(1, 2), gamma=0.9, retrace_lambda=0.0)
    torch.testing.assert_close(truncated, torch.tensor([[1 + 0.9 * 3.0, 2 + 0.9 * 100.0]]))


def test_soft_value_subtracts_the_weighted_kl():
    q = torch.tensor([[[1.0, 3.0], [0.0, 0.0]]])      # [B=1, T+1=2, S=2]
    kl = torch.tensor([[0.5, 2.0]])
    torch.testing.assert_close(soft_values(q, kl, kl_weight=0.1), torch.tensor([[2.0 - 0.05, -0.2]]))


def _build(prior_type: str):
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from behaviorlab.algorithms.svg0_prior.module import SVG0PriorTorchRLModule

    space = gym.spaces.Dict({"proprio": gym.spaces.Box(-1, 1, (3,)), "task": gym.spaces.Box(0, 1, (2,))})
    spec = RLModuleSpec(module_class=SVG0PriorTorchRLModule, observation_space=space,
                        action_space=gym.spaces.Box(-1, 1, (2,)),
                        model_config={"prior_keys": ["proprio"], "policy_hiddens": [16], "critic_hiddens": [16],
                                      "prior_hiddens": [16], "action_samples": 3, "prior_type": prior_type,
                                      "prior_lstm_size": 8})
    torch.manual_seed(0)
    return spec.build()


@pytest.fixture(params=["mlp", "lstm"])
def module(request):
    return _build(request.param)


def test_only_the_lstm_prior_remembers_earlier_steps():
    batch, _ = _batch()
    changed = {"proprio": batch["obs"]["proprio"].clone(), "task": batch["obs"]["task"]}
    changed["proprio"][:, 0] += 1.0  # only the first observation of each segment differs
    for prior_type, remembers in (("mlp", False), ("lstm", True)):
        module = _build(prior_type)
        before = module._forward_train(batch)["svg0"].prior.mean
        after = module._forward_train({**batch, "obs": changed})["svg0"].prior.mean
        assert not torch.allclose(before[:, 0], after[:, 0])
        assert torch.allclose(before[:, 1:], after[:, 1:]) != remembers, prior_type


def test_lstm_prior_burn_in_restores_the_state_of_the_steps_before_the_segment():
    """Reading a segment after its burn-in gives what reading the whole stretch in one pass gives;
    padded burn-in steps leave the zero state (the segment started its episode)."""
    from behaviorlab.algorithms.svg0_prior.module import LSTMGaussianPrior

    torch.manual_seed(0)
    prior = LSTMGaussianPrior(inputs=3, hidden=8, action_dim=2, min_std=0.1, max_std=1.0)
    history, segment = torch.randn(2, 4, 3), torch.randn(2, 5, 3)
    whole_mean, whole_std = prior(torch.cat([history, segment], 1))
    mean, std = prior(segment, history, torch.ones(2, 4))
    torch.testing.assert_close(mean, whole_mean[:, 4:])
    torch.testing.assert_close(std, whole_std[:, 4:])
    # Row 0 had only its last 2 burn-in steps in the episode (left padding, garbage values there).
    padded = torch.cat([torch.full((2, 2, 3), 7.0), history[:, 2:]], 1)
    mask = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    partial_mean, _ = prior(segment, padded, mask)
    torch.testing.assert_close(partial_mean[0], prior(torch.cat([history[:1, 2:], segment[:1]], 1))[0][0, 2:])
    assert not torch.allclose(partial_mean[0], mean[0])  # the two forgotten steps mattered
    zero_mean, _ = prior(segment, history, torch.zeros(2, 4))
    torch.testing.assert_close(zero_mean, prior(segment)[0])
    # Gradients reach the burn-in steps: the prior can learn what to keep from there.
    history.requires_grad_(True)
    prior(segment, history, torch.ones(2, 4))[0].sum().backward()
    assert history.grad.abs().sum() > 0


def test_burn_in_rows_left_pad_short_histories():
    import numpy as np

    from behaviorlab.algorithms.common.segments import BURN_IN_MASK, BURN_IN_OBS, burn_in_rows

    histories = [np.array([[1, -1], [2, -2], [3, -3], [4, -4]], np.float32),  # more than L: the last 3
                 np.array([[5, -5]], np.float32), np.zeros((0, 2), np.float32)]  # an episode's first segment
    rows = burn_in_rows(histories, burn_in=3)
    assert rows[BURN_IN_OBS].tolist() == [[[2, -2], [3, -3], [4, -4]], [[0, 0], [0, 0], [5, -5]], [[0, 0]] * 3]
    assert rows[BURN_IN_MASK].tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 0]]
    assert rows[BURN_IN_OBS].dtype == np.float32
    dict_rows = burn_in_rows([{"a": histories[1], "b": np.ones((1, 4))}, {"a": histories[2], "b": np.ones((0, 4))}], 2)
    assert dict_rows[BURN_IN_OBS]["a"].shape == (2, 2, 2) and dict_rows[BURN_IN_OBS]["b"].tolist()[1] == [[0] * 4] * 2
    assert dict_rows[BURN_IN_MASK].tolist() == [[0, 1], [0, 0]]


def _batch(b=4, t=5):
    obs = {"proprio": torch.randn(b, t + 1, 3), "task": torch.rand(b, t + 1, 2)}
    return {"obs": obs, "actions": torch.rand(b, t, 2) * 2 - 1}, dict(
        rewards=torch.randn(b, t), terminateds=torch.zeros(b, t), mask=torch.ones(b, t),
        behaviour_log_prob=torch.full((b, t), -1.0), gamma=0.99, retrace_lambda=1.0, entropy_coeff=1e-3)


def _grads(module, loss):
    module.zero_grad()
    loss.backward()
    return {name: (p.grad.abs().sum().item() if p.grad is not None else 0.0)
            for name, p in module.named_parameters()}


def test_prior_is_trained_only_by_distillation_and_sees_only_its_keys(module):
    batch, rest = _batch()
    out = module._forward_train(batch)["svg0"]
    total, stats = svg0_prior_loss(out, actions=batch["actions"], kl_weight=0.1, **rest)
    grads = _grads(module, total)
    assert all(v > 0 for n, v in grads.items() if n.startswith("prior."))
    assert all(v == 0 for n, v in grads.items() if n.startswith("target_"))

    # Without the distillation term the prior gets no gradient at all (the actor's KL uses π0_target).
    out = module._forward_train(batch)["svg0"]
    no_distill, _ = svg0_prior_loss(out, actions=batch["actions"], kl_weight=0.1, prior_loss_coeff=0.0, **rest)
    grads = _grads(module, no_distill)
    assert all(v == 0 for n, v in grads.items() if n.startswith("prior."))
    assert any(v > 0 for n, v in grads.items() if n.startswith("policy.")) and any(
        v > 0 for n, v in grads.items() if n.startswith("critic."))

    # Information asymmetry: the prior's output does not depend on the keys it does not see.
    changed = {"proprio": batch["obs"]["proprio"], "task": torch.rand(4, 6, 2)}
    before = module._forward_train(batch)["svg0"].prior.mean
    after = module._forward_train({**batch, "obs": changed})["svg0"].prior.mean
    torch.testing.assert_close(before, after)


def test_actor_loss_does_not_train_the_critic(module):
    batch, rest = _batch()
    out = module._forward_train(batch)["svg0"]
    actor_only = (-out.q_policy_sampled.mean())
    grads = _grads(module, actor_only)
    assert all(v == 0 for n, v in grads.items() if n.startswith("critic."))
    assert any(v > 0 for n, v in grads.items() if n.startswith("policy."))


def test_kl_weight_zero_makes_the_policy_update_independent_of_the_prior(module):
    batch, rest = _batch()

    def policy_grads(kl_weight):
        torch.manual_seed(1)  # the same action samples every time
        out = module._forward_train(batch)["svg0"]
        loss, _ = svg0_prior_loss(out, actions=batch["actions"], kl_weight=kl_weight, prior_loss_coeff=0.0, **rest)
        module.zero_grad()
        loss.backward()
        return torch.cat([p.grad.flatten() for n, p in module.named_parameters() if n.startswith("policy.")])

    before = {w: policy_grads(w) for w in (0.0, 0.1)}
    with torch.no_grad():
        for param in module.target_prior.parameters():
            param.add_(torch.randn_like(param))
    torch.testing.assert_close(policy_grads(0.0), before[0.0])
    assert not torch.allclose(policy_grads(0.1), before[0.1])
