"""STEVE's target contract (`steve.targets`) against hand-computed values."""

import itertools

import pytest
import torch

from behaviorlab.algorithms.steve.targets import candidate_targets, reduce_candidates, steve_combine


def test_horizon_zero_is_the_td_target():
    rewards, continuation = torch.tensor([1.0, -2.0]), torch.tensor([1.0, 0.0])
    q = torch.tensor([[3.0, 5.0], [7.0, 9.0]])                    # [B, L]
    out = candidate_targets(rewards, continuation, torch.zeros(2, 0, 1, 1), torch.zeros(2, 0, 1),
                            q[:, None, None, :], gamma=0.9)
    assert out.shape == (2, 1, 2)
    torch.testing.assert_close(out[:, 0], rewards[:, None] + 0.9 * continuation[:, None] * q)
    target, weights = reduce_candidates(out, "td")
    torch.testing.assert_close(target, torch.tensor([1.0 + 0.9 * 4.0, -2.0]))
    torch.testing.assert_close(weights, torch.ones(2, 1))


def test_partial_targets_by_hand():
    # γ = 0.5, r = 1; imagined rewards 2, 4; model continuation 0.5 then 1; Q along the rollout 10, 20, 40.
    args = dict(model_rewards=torch.tensor([2.0, 4.0]).reshape(1, 2, 1, 1),
                model_continuation=torch.tensor([0.5, 1.0]).reshape(1, 2, 1),
                bootstrap_q=torch.tensor([10.0, 20.0, 40.0]).reshape(1, 3, 1, 1), gamma=0.5)
    out = candidate_targets(torch.tensor([1.0]), torch.tensor([1.0]), **args)
    # T0 = 1 + .5·10; T1 = 1 + .5·2 + .25·.5·20; T2 = 1 + .5·2 + .25·.5·4 + .125·.5·40
    torch.testing.assert_close(out[0, :, 0], torch.tensor([6.0, 4.5, 5.0]))
    # A terminal real transition gates every model term: all targets are r.
    terminal = candidate_targets(torch.tensor([1.0]), torch.tensor([0.0]), **args)
    torch.testing.assert_close(terminal[0, :, 0], torch.ones(3))


def test_every_model_reward_q_combination_enters():
    torch.manual_seed(0)
    batch, horizon, m_, n_, l_, gamma = 3, 2, 2, 2, 2, 0.9
    rewards, continuation = torch.randn(batch), torch.tensor([1.0, 1.0, 0.0])
    model_rewards = torch.randn(batch, horizon, m_, n_)
    model_cont = torch.rand(batch, horizon, m_)
    q = torch.randn(batch, horizon + 1, m_, l_)
    out = candidate_targets(rewards, continuation, model_rewards, model_cont, q, gamma)
    assert out.shape == (batch, horizon + 1, 8)
    for b, i in itertools.product(range(batch), range(horizon + 1)):
        expected = []
        for m, n, l in itertools.product(range(m_), range(n_), range(l_)):
            c, total = continuation[b], rewards[b]
            for k in range(1, i + 1):
                total = total + gamma ** k * c * model_rewards[b, k - 1, m, n]
                c = c * model_cont[b, k - 1, m]
            expected.append(total + gamma ** (i + 1) * c * q[b, i, m, l])
        torch.testing.assert_close(out[b, i].sort().values, torch.stack(expected).sort().values)


def test_inverse_variance_weights():
    # horizon 0: {0, 2} (mean 1, var 1); horizon 1: {1, 5} (mean 3, var 4) → w = (0.8, 0.2).
    target, weights = steve_combine(torch.tensor([[[0.0, 2.0], [1.0, 5.0]]]))
    torch.testing.assert_close(weights, torch.tensor([[0.8, 0.2]]))
    torch.testing.assert_close(target, torch.tensor([0.8 * 1 + 0.2 * 3]))


def test_a_horizon_whose_candidates_agree_takes_the_weight():
    target, weights = steve_combine(torch.tensor([[[1.0, 3.0], [4.0, 4.0], [0.0, 9.0]]]))
    assert weights[0, 1] > 1 - 1e-6
    torch.testing.assert_close(target, torch.tensor([4.0]))


def test_weights_are_per_sample_and_sum_to_one_over_horizons():
    torch.manual_seed(1)
    candidates = torch.randn(16, 4, 8) * torch.rand(16, 4, 1) * 3
    target, weights = steve_combine(candidates)
    torch.testing.assert_close(weights.sum(-1), torch.ones(16))
    # Per sample: the batch's other rows change nothing.
    alone, alone_weights = steve_combine(candidates[:1])
    torch.testing.assert_close(alone, target[:1])
    torch.testing.assert_close(alone_weights, weights[:1])


@pytest.mark.parametrize("reduction, expected_weights", [("mve", [0.0, 0.0, 1.0]), ("mean", [1 / 3] * 3),
                                                         ("td", [1.0, 0.0, 0.0])])
def test_ablations_weight_the_ensemble_means(reduction, expected_weights):
    candidates = torch.tensor([[[1.0, 3.0], [4.0, 6.0], [7.0, 11.0]]])
    target, weights = reduce_candidates(candidates, reduction)
    torch.testing.assert_close(weights, torch.tensor([expected_weights]))
    torch.testing.assert_close(target, (torch.tensor(expected_weights) * torch.tensor([2.0, 5.0, 9.0])).sum()[None])


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="target_reduction 'bogus'"):
        reduce_candidates(torch.zeros(1, 1, 2), "bogus")
