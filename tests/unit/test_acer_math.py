"""ACER math (retrace, trust region, importance weights, layouts) against hand-computed numbers."""

import pytest
import torch

from behaviorlab.algorithms.common.importance import (
    acer_discrete_policy_loss,
    bias_correction_weights,
    importance_ratios,
    sdn_q,
    truncated_traces,
)
from behaviorlab.algorithms.common.retrace import retrace_targets
from behaviorlab.algorithms.common.sequences import (
    discounts_from_terminated,
    from_time_major,
    to_time_major,
    valid_mask,
)
from behaviorlab.algorithms.common.trust_region import trust_region_projection

F64 = torch.float64


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


# Shared 3-step example, B=2, γ=0.9. Column 0 terminates at the last step (discount 0);
# column 1 is truncated there (keeps γ and bootstraps from V[3]=4).
REWARDS = t([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
DISCOUNTS = t([[0.9, 0.9], [0.9, 0.9], [0.0, 0.9]])
Q_TAKEN = t([[0.6, 0.6], [1.5, 1.5], [2.5, 2.5]])
VALUES = t([[0.5, 0.5], [1.0, 1.0], [2.0, 2.0], [4.0, 4.0]])


def test_retrace_traces_zero_is_one_step_td():
    targets = retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, VALUES, torch.zeros(3, 2, dtype=F64))
    # r_t + d_t V_{t+1}: 1 + .9*1 = 1.9; 2 + .9*2 = 3.8; terminated 3 + 0 = 3, truncated 3 + .9*4 = 6.6
    torch.testing.assert_close(targets, t([[1.9, 1.9], [3.8, 3.8], [3.0, 6.6]]))


def test_retrace_traces_one_is_q_opc():
    targets = retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, VALUES, torch.ones(3, 2, dtype=F64))
    # terminated: t1 = 2 + .9*(2 + 3 - 2.5) = 4.25;  t0 = 1 + .9*(1 + 4.25 - 1.5) = 4.375
    # truncated:  t1 = 2 + .9*(2 + 6.6 - 2.5) = 7.49; t0 = 1 + .9*(1 + 7.49 - 1.5) = 7.291
    torch.testing.assert_close(targets, t([[4.375, 7.291], [4.25, 7.49], [3.0, 6.6]]))


def test_retrace_mixed_traces_and_first_trace_unused():
    traces = t([[0.3, 0.3], [0.5, 0.5], [0.25, 0.25]])
    targets = retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, VALUES, traces)
    # terminated: t1 = 2 + .9*(2 + .25*(3 - 2.5)) = 3.9125;  t0 = 1 + .9*(1 + .5*(3.9125 - 1.5)) = 2.985625
    # truncated:  t1 = 2 + .9*(2 + .25*(6.6 - 2.5)) = 4.7225; t0 = 1 + .9*(1 + .5*(4.7225 - 1.5)) = 3.350125
    expected = t([[2.985625, 3.350125], [3.9125, 4.7225], [3.0, 6.6]])
    torch.testing.assert_close(targets, expected)
    traces[0] = 0.9
    torch.testing.assert_close(retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, VALUES, traces), expected)


def test_retrace_padded_segment():
    # One segment of length 2 padded to 3: trace 0 at the padded step, bootstrap at values[2].
    # Garbage (99) in the padded step must not leak: t1 = 2 + .9*2 = 3.8; t0 = 1 + .9*(1 + 1*(3.8 - 1.5)) = 3.97
    targets = retrace_targets(
        rewards=t([[1.0], [2.0], [99.0]]),
        discounts=t([[0.9], [0.9], [99.0]]),
        q_taken=t([[0.6], [1.5], [99.0]]),
        values=t([[0.5], [1.0], [2.0], [99.0]]),
        traces=t([[1.0], [1.0], [0.0]]),
    )
    mask = valid_mask(torch.tensor([2]), 3)
    torch.testing.assert_close(targets[mask], t([3.97, 3.8]))


def _paper_retrace(rewards, terminated, q_taken, values, traces, gamma):
    """Algorithm 2 of the paper for one segment, plain Python floats and done flags."""
    T = len(rewards)
    q_ret = 0.0 if terminated[T - 1] else values[T]
    out = [0.0] * T
    for i in reversed(range(T)):
        if terminated[i]:  # the episode ended at step i: nothing after it counts
            q_ret = 0.0
        q_ret = rewards[i] + gamma * q_ret
        out[i] = q_ret
        q_ret = traces[i] * (q_ret - q_taken[i]) + values[i]
    return out


def test_retrace_matches_paper_loop_on_random_data():
    gen = torch.Generator().manual_seed(0)
    T, B, gamma = 6, 5, 0.95
    rewards = torch.randn(T, B, generator=gen, dtype=F64)
    q_taken = torch.randn(T, B, generator=gen, dtype=F64)
    values = torch.randn(T + 1, B, generator=gen, dtype=F64)
    traces = torch.rand(T, B, generator=gen, dtype=F64)
    terminated = torch.rand(T, B, generator=gen) < 0.3
    terminated[-1, 0], terminated[-1, 1] = True, False  # both endings occur
    targets = retrace_targets(rewards, discounts_from_terminated(terminated, gamma, F64), q_taken, values, traces)
    for b in range(B):
        expected = _paper_retrace(
            rewards[:, b].tolist(), terminated[:, b].tolist(), q_taken[:, b].tolist(),
            values[:, b].tolist(), traces[:, b].tolist(), gamma,
        )
        torch.testing.assert_close(targets[:, b], t(expected))


def test_retrace_targets_are_constants_and_shapes_are_checked():
    values = VALUES.clone().requires_grad_(True)
    assert not retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, values, torch.ones(3, 2, dtype=F64)).requires_grad
    with pytest.raises(ValueError, match="values"):
        retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, VALUES[:3], torch.ones(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="traces"):
        retrace_targets(REWARDS, DISCOUNTS, Q_TAKEN, VALUES, torch.ones(2, 3, dtype=F64))


def test_trust_region_projection():
    g = t([[1.0, 0.0], [3.0, 1.0], [1.0, -2.0]])
    k = t([[1.0, 1.0], [1.0, 2.0], [0.0, 0.0]])
    z = trust_region_projection(g, k, delta=1.0)
    # row 0: k.g = 1 <= δ, inactive -> g.  row 1: k.g = 5, |k|^2 = 5, scale (5-1)/5 = .8,
    # z = (3 - .8, 1 - 1.6) = (2.2, -0.6), and k.z = 2.2 - 1.2 = 1 = δ.  row 2: k = 0 -> g.
    torch.testing.assert_close(z, t([[1.0, 0.0], [2.2, -0.6], [1.0, -2.0]]))
    assert torch.isclose((k[1] * z[1]).sum(), t(1.0))
    assert torch.isfinite(z).all()


def test_ratios_are_one_on_policy_and_bias_correction_vanishes():
    logp = torch.log_softmax(t([[0.2, -1.0, 0.5], [2.0, 0.0, -3.0]]), dim=-1)
    assert torch.equal(importance_ratios(logp, logp), torch.ones(2, 3, dtype=F64))
    actions = torch.tensor([0, 2])
    q_values = t([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]])
    # On-policy (ρ(a) = 1 <= c = 1) and off-policy with every ρ(a) <= c = 10.
    for behaviour, c in ((logp.exp(), 1.0), (t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]), 10.0)):
        logits = logp.clone().requires_grad_(True)
        _, diag = acer_discrete_policy_loss(torch.log_softmax(logits, -1), actions, behaviour, q_values, t([1.0, 1.0]), c)
        assert torch.equal(diag["bias_correction_term"], torch.zeros(2, dtype=F64))
        assert torch.equal(bias_correction_weights(importance_ratios(logp, behaviour.log()), c), torch.zeros(2, 3, dtype=F64))


def test_policy_loss_gradient_matches_hand_derived_g():
    # π = (.5, .3, .2), μ = (.25, .7, .05) -> ρ = (2, 3/7, 4); a = 0; c = 1.5
    # Q = (1, 2, 4) -> V = .5 + .6 + .8 = 1.9; Q_ret = 3
    # truncated coefficient α = min(1.5, 2)*(3 - 1.9) = 1.65
    # bias weights [1 - c/ρ]_+ = (.25, 0, .625); β_a = w_a π_a (Q_a - V) = (-.1125, 0, .2625), Σβ = .15
    # with ∂logπ(a)/∂logit_j = 1[a=j] - π_j:  g_j = α(1[j=0] - π_j) + β_j - π_j Σβ
    # g = (.825 - .1125 - .075, -.495 - .045, -.33 + .2625 - .03) = (.6375, -.54, -.0975)
    logits = torch.log(t([[0.5, 0.3, 0.2]])).requires_grad_(True)
    loss, diag = acer_discrete_policy_loss(
        torch.log_softmax(logits, dim=-1), torch.tensor([0]), t([[0.25, 0.7, 0.05]]), t([[1.0, 2.0, 4.0]]), t([3.0]), 1.5,
    )
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    torch.testing.assert_close(grad, -t([[0.6375, -0.54, -0.0975]]))
    torch.testing.assert_close(diag["rho_taken"], t([2.0]))
    torch.testing.assert_close(diag["values"], t([1.9]))


def test_truncated_traces():
    rho = t([8.0, 0.125])
    torch.testing.assert_close(truncated_traces(rho), t([1.0, 0.125]))
    # d = 3: ρ^(1/3) = (2, .5) -> min(1, .) = (1, .5), times λ = .5
    torch.testing.assert_close(truncated_traces(rho, lam=0.5, action_dim=3), t([0.5, 0.25]))


def test_sdn_q():
    # 1 + 2 - mean(1, 3, 5) = 0;  -1 + .5 - mean(.5, -.5) = -.5
    q = sdn_q(t([1.0, -1.0]), t([2.0, 0.5]), t([[1.0, 3.0, 5.0], [0.5, -0.5, 0.0]]))
    torch.testing.assert_close(q, t([0.0, -0.5]))


def test_time_major_layout_and_round_trip():
    flat = torch.arange(6)  # segment 0 = steps 0,1,2; segment 1 = steps 3,4,5
    assert torch.equal(to_time_major(flat, 3), torch.tensor([[0, 3], [1, 4], [2, 5]]))
    features = torch.arange(24.0).reshape(6, 2, 2)
    assert torch.equal(from_time_major(to_time_major(features, 3)), features)
    with pytest.raises(ValueError):
        to_time_major(flat, 4)


def test_discounts_and_valid_mask():
    torch.testing.assert_close(discounts_from_terminated(torch.tensor([[False, True]]), 0.9, F64), t([[0.9, 0.0]]))
    # rows are time steps, columns segments of lengths 3, 1, 2
    expected = torch.tensor([[True, True, True], [True, False, True], [True, False, False]])
    assert torch.equal(valid_mask(torch.tensor([3, 1, 2]), 3), expected)
