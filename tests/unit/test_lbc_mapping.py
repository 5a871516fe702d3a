"""LBC hybrid behaviour mapping: special cases, limits, a hand-computed example, centring, errors."""

import math

import pytest
import torch

from behaviorlab.algorithms.lbc.mapping import (
    centred_advantages, centred_logits, entropy_control, hybrid_behavior, hybrid_log_behavior)


def _random_case(n=3, b=5, a=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    stats = torch.randn(n, b, a, generator=generator) * 3
    tau = torch.rand(b, n, generator=generator) * 2 + 0.1
    omega = torch.distributions.Dirichlet(torch.ones(n)).sample((b,))
    return stats, tau, omega / omega.sum(-1, keepdim=True)


def test_one_hot_omega_is_exactly_the_selected_members_softmax():
    stats, tau, _ = _random_case()
    members = torch.tensor([0, 2, 1, 2, 0])  # a different member per row
    omega = torch.nn.functional.one_hot(members, 3).float()
    mu = hybrid_behavior(stats, tau, omega)
    for row, member in enumerate(members.tolist()):
        single = entropy_control(stats[member, row], tau[row, member])
        assert torch.equal(mu[row], single)  # bit for bit: Agent57-style selection
        torch.testing.assert_close(mu[row], torch.softmax(stats[member, row] / tau[row, member], -1), rtol=0, atol=1e-6)


def test_large_tau_gives_uniform_and_small_tau_gives_greedy():
    stats, _, omega = _random_case()
    for huge in (1e6, 1e30):
        mu = hybrid_behavior(stats, torch.full((5, 3), huge), omega)
        torch.testing.assert_close(mu, torch.full((5, 4), 0.25), rtol=0, atol=1e-5)
    for tiny in (1e-6, 1e-35):  # 1e-35 makes stats / τ overflow float32: the shift must come first
        mu = hybrid_behavior(stats * 1e4, torch.full((5, 3), tiny), omega)
        greedy = torch.nn.functional.one_hot(stats.argmax(-1), 4).float()  # [N, B, A]
        assert torch.isfinite(mu).all()
        torch.testing.assert_close(mu, torch.einsum("bn,nba->ba", omega, greedy), rtol=0, atol=1e-6)


def test_rows_are_distributions_for_any_mixture():
    for seed in range(5):
        stats, tau, omega = _random_case(n=4, b=16, a=7, seed=seed)
        mu = hybrid_behavior(stats * 50, tau, omega)
        assert mu.shape == (16, 7) and (mu >= 0).all()
        torch.testing.assert_close(mu.sum(-1), torch.ones(16), rtol=0, atol=1e-6)


def test_hand_computed_example():
    # Row 0. Member 0, τ = 1: softmax(0, ln 2, ln 3) = (1, 2, 3)/6.
    #        Member 1, τ = 2: softmax((0, 2 ln 2, 0)/2) = softmax(0, ln 2, 0) = (1, 2, 1)/4.
    #        ω = (1/4, 3/4): μ = (1/24 + 3/16, 2/24 + 6/16, 3/24 + 3/16) = (11, 22, 15)/48.
    # Row 1. Member 0 has equal stats (uniform at any τ) and ω = (1, 0): μ = (1, 1, 1)/3.
    ln2, ln3 = math.log(2), math.log(3)
    stats = torch.tensor([
        [[0.0, ln2, ln3], [5.0, 5.0, 5.0]],
        [[0.0, 2 * ln2, 0.0], [9.0, -1.0, 0.0]],
    ], dtype=torch.float64)
    tau = torch.tensor([[1.0, 2.0], [0.3, 0.7]], dtype=torch.float64)
    omega = torch.tensor([[0.25, 0.75], [1.0, 0.0]], dtype=torch.float64)
    expected = torch.tensor([[11 / 48, 22 / 48, 15 / 48], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    torch.testing.assert_close(hybrid_behavior(stats, tau, omega), expected, rtol=0, atol=1e-12)


def test_standardised_logits_keep_tau_meaningful_as_logits_grow():
    logits = torch.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]])
    centred = centred_logits(logits)
    torch.testing.assert_close(centred.mean(-1), torch.zeros(2), rtol=0, atol=1e-6)
    torch.testing.assert_close(centred[0].pow(2).mean().sqrt(), torch.tensor(1.0), rtol=0, atol=1e-5)
    assert torch.equal(centred[1], torch.zeros(3))  # constant logits: uniform at any τ
    # The same policy at 10x the logit scale, shifted: the same behaviour at the same τ.
    grown = centred_logits(10 * logits + 7)
    tau, omega = torch.tensor([[0.5], [0.5]]), torch.ones(2, 1)
    torch.testing.assert_close(hybrid_behavior(grown.unsqueeze(0), tau, omega), hybrid_behavior(centred.unsqueeze(0), tau, omega), rtol=0, atol=1e-5)


def test_centred_advantages_have_zero_mean_under_the_policy():
    q = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    probs = torch.tensor([[0.75, 0.25], [0.5, 0.5]])
    advantages = centred_advantages(q, probs)  # V = 1.5 and 2
    torch.testing.assert_close(advantages, torch.tensor([[-0.5, 1.5], [0.0, 0.0]]))
    torch.testing.assert_close((probs * advantages).sum(-1), torch.zeros(2))
    with pytest.raises(ValueError, match="same shape"):
        centred_advantages(q, probs[:, :1])


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s, t, w: (s[0], t, w), r"stats must be a floating \[N, B, A\]"),
        (lambda s, t, w: (s.long(), t, w), r"stats must be a floating"),
        (lambda s, t, w: (s, t.T, w), r"tau has shape \(3, 5\), expected \[B, N\]"),
        (lambda s, t, w: (s, t, w[:, :2]), r"omega has shape \(5, 2\)"),
        (lambda s, t, w: (s, t, w * 0.9), r"omega rows must sum to 1"),
        (lambda s, t, w: (s, t, torch.tensor([[1.5, -0.5, 0.0]] * 5)), r"omega must be >= 0"),
        (lambda s, t, w: (s, t.index_fill(1, torch.tensor([1]), 0.0), w), r"tau must be finite and > 0"),
        (lambda s, t, w: (s, -t, w), r"tau must be finite and > 0"),
        (lambda s, t, w: (s, t.index_fill(1, torch.tensor([1]), math.inf), w), r"tau must be finite and > 0"),
        (lambda s, t, w: (s.index_fill(2, torch.tensor([0]), math.nan), t, w), r"NaN or inf"),
    ],
)
def test_bad_inputs_raise(change, match):
    with pytest.raises(ValueError, match=match):
        hybrid_behavior(*change(*_random_case()))


def test_log_behavior_is_the_log_of_the_mixture_and_stays_finite_where_probabilities_underflow():
    stats, tau, omega = _random_case(n=3, b=16, a=6, seed=3)
    log_mu = hybrid_log_behavior(stats, tau, omega)
    torch.testing.assert_close(log_mu.exp(), hybrid_behavior(stats, tau, omega), rtol=0, atol=1e-6)
    # One-hot rows: exactly the selected member's log-softmax (log 0 = -inf drops the others).
    members = torch.tensor([0, 1, 2, 1])
    one_hot = torch.nn.functional.one_hot(members, 3).float()
    sharp = hybrid_log_behavior(stats[:, :4] * 10, tau[:4] * 0.05, one_hot)
    for row, member in enumerate(members.tolist()):
        scaled = stats[member, row] * 10
        expected = torch.log_softmax((scaled - scaled.max()) / (tau[row, member] * 0.05), -1)
        assert torch.equal(sharp[row], expected)
    # There μ underflows to 0 for some actions, yet log μ stays finite.
    assert (hybrid_behavior(stats[:, :4] * 10, tau[:4] * 0.05, one_hot) == 0).any()
    assert torch.isfinite(sharp).all()
    with pytest.raises(ValueError, match="hybrid_log_behavior: omega rows must sum to 1"):
        hybrid_log_behavior(stats, tau, omega * 0.5)
    with pytest.raises(ValueError, match="hybrid_log_behavior: every tau must be finite and > 0"):
        hybrid_log_behavior(stats, -tau, omega)
