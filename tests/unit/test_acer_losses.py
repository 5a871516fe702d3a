"""ACER losses and segment batching on hand-made tensors (no Ray)."""

import numpy as np
import pytest
import torch

from behaviorlab.algorithms.acer.losses import (
    ACTION_DIST_INPUTS, ADVANTAGE_POLICY_SAMPLE, ADVANTAGE_SAMPLED, ADVANTAGE_TAKEN, AVG_DIST_INPUTS, POLICY_SAMPLE,
    Q_VALUES, VALUES, best_action_neglected, continuous_acer_loss, discrete_acer_loss)
from behaviorlab.algorithms.common.segments import episodes_to_segments

B, T, A = 3, 4, 2


def _discrete_inputs(*, off_policy: bool, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T + 1, A, generator=gen, requires_grad=True)
    q = torch.randn(B, T + 1, A, generator=gen, requires_grad=True)
    behaviour = torch.randn(B, T, A, generator=gen) if off_policy else logits[:, :-1].detach().clone()
    fwd = {ACTION_DIST_INPUTS: logits, Q_VALUES: q, AVG_DIST_INPUTS: logits[:, :-1].detach() + 0.1}
    mask = torch.ones(B, T)
    mask[2, 2:] = 0  # a short segment: two real steps, then padding
    batch = dict(rewards=torch.randn(B, T, generator=gen), terminateds=torch.zeros(B, T), mask=mask,
                 behaviour_dist_inputs=behaviour, actions=torch.randint(0, A, (B, T), generator=gen))
    return fwd, batch


def test_discrete_on_policy_ratios_are_one_and_bias_correction_vanishes():
    fwd, batch = _discrete_inputs(off_policy=False)
    _, stats = discrete_acer_loss(fwd_out=fwd, **batch, gamma=0.99, truncation_c=10.0, q_loss_coeff=0.5,
                                  entropy_coeff=0.01, trust_region_delta=1.0)
    assert stats["rho_mean"].item() == pytest.approx(1.0, abs=1e-6)
    assert stats["bias_correction"].item() == 0.0


def test_best_action_neglected_counts_states_whose_best_q_action_the_policy_drops():
    probs = torch.tensor([[0.995, 0.005, 0.0], [0.5, 0.3, 0.2], [0.001, 0.009, 0.99], [0.2, 0.7, 0.1]])
    q_values = torch.tensor([[0.0, 1.0, -1.0], [2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.5, 0.4]])
    # best actions 1, 0, 1, 1 with π 0.005, 0.5, 0.009, 0.7: two of four below 1 %
    assert best_action_neglected(probs.clamp_min(1e-12).log(), q_values).item() == pytest.approx(0.5)
    assert best_action_neglected(probs.clamp_min(1e-12).log(), q_values, threshold=0.001).item() == 0.0


def test_discrete_loss_trains_policy_and_critic_and_ignores_padding():
    fwd, batch = _discrete_inputs(off_policy=True)
    loss, _ = discrete_acer_loss(fwd_out=fwd, **batch, gamma=0.99, truncation_c=10.0, q_loss_coeff=0.5,
                                 entropy_coeff=0.01, trust_region_delta=1.0)
    loss.backward()
    logits_grad, q_grad = fwd[ACTION_DIST_INPUTS].grad, fwd[Q_VALUES].grad
    assert logits_grad[:, :-1].abs().sum() > 0 and q_grad[:, :-1].abs().sum() > 0
    assert torch.all(logits_grad[2, 2:T] == 0) and torch.all(q_grad[2, 2:T] == 0)  # padded steps
    assert torch.all(logits_grad[:, -1] == 0)  # the bootstrap observation only supplies V


def test_trust_region_shrinks_the_policy_step_toward_the_average_policy():
    fwd, batch = _discrete_inputs(off_policy=True, seed=3)
    fwd[AVG_DIST_INPUTS] = fwd[ACTION_DIST_INPUTS][:, :-1].detach() + torch.tensor([3.0, -3.0])
    kwargs = dict(**batch, gamma=0.99, truncation_c=10.0, q_loss_coeff=0.0, entropy_coeff=0.0)
    free, _ = discrete_acer_loss(fwd_out=fwd, **kwargs, trust_region_delta=None)
    (free_grad,) = torch.autograd.grad(free, fwd[ACTION_DIST_INPUTS])
    tight, stats = discrete_acer_loss(fwd_out=fwd, **kwargs, trust_region_delta=1e-4)
    (tight_grad,) = torch.autograd.grad(tight, fwd[ACTION_DIST_INPUTS])
    assert stats["trust_region_active"] > 0
    assert not torch.allclose(free_grad, tight_grad)
    loose, _ = discrete_acer_loss(fwd_out=fwd, **kwargs, trust_region_delta=1e9)
    (loose_grad,) = torch.autograd.grad(loose, fwd[ACTION_DIST_INPUTS])
    assert torch.allclose(free_grad, loose_grad, atol=1e-6)  # an inactive constraint changes nothing


def test_continuous_loss_on_policy_and_gradients():
    d, n = 2, 5
    gen = torch.Generator().manual_seed(1)
    mean = torch.randn(B, T + 1, d, generator=gen)
    dist = torch.cat([mean, torch.full((B, T + 1, d), -0.5)], -1).requires_grad_(True)
    values = torch.randn(B, T + 1, generator=gen, requires_grad=True)
    fwd = {ACTION_DIST_INPUTS: dist, VALUES: values, AVG_DIST_INPUTS: dist[:, :-1].detach(),
           ADVANTAGE_TAKEN: torch.randn(B, T, generator=gen, requires_grad=True),
           ADVANTAGE_SAMPLED: torch.randn(B, T + 1, n, generator=gen),
           POLICY_SAMPLE: torch.randn(B, T, d, generator=gen), ADVANTAGE_POLICY_SAMPLE: torch.randn(B, T, generator=gen)}
    batch = dict(rewards=torch.randn(B, T, generator=gen), terminateds=torch.zeros(B, T), mask=torch.ones(B, T),
                 behaviour_dist_inputs=dist[:, :-1].detach().clone(), actions=torch.randn(B, T, d, generator=gen))
    loss, stats = continuous_acer_loss(fwd_out=fwd, **batch, gamma=0.99, truncation_c=5.0, q_loss_coeff=0.5,
                                       entropy_coeff=0.01, trust_region_delta=1.0)
    assert stats["rho_mean"].item() == pytest.approx(1.0, abs=1e-6)
    assert stats["kl_to_average_policy"].item() == pytest.approx(0.0, abs=1e-6)
    loss.backward()
    assert dist.grad[..., :d].abs().sum() > 0 and dist.grad[..., d:].abs().sum() > 0  # mean and log std
    assert values.grad.abs().sum() > 0 and fwd[ADVANTAGE_TAKEN].grad.abs().sum() > 0


class FakeEpisode:
    """The slice of RLlib's SingleAgentEpisode interface that segment batching uses."""

    def __init__(self, steps, terminated, start=0):
        self.steps, self.is_terminated, self.start = steps, terminated, start

    def __len__(self):
        return self.steps

    def get_observations(self):
        return np.arange(self.start, self.start + self.steps + 1, dtype=np.float32)[:, None]

    def get_actions(self):
        return np.arange(self.start, self.start + self.steps)

    def get_rewards(self):
        return np.ones(self.steps)

    def get_extra_model_outputs(self, key):
        return np.zeros((self.steps, A))

    def slice(self, s):
        last = s.stop == self.steps
        return FakeEpisode(s.stop - s.start, self.is_terminated and last, self.start + s.start)


def test_segments_pad_mask_and_terminal_flags():
    seg = episodes_to_segments([FakeEpisode(4, False), FakeEpisode(2, True), FakeEpisode(0, False)], length=4)
    assert seg["obs"].shape == (2, 5, 1) and seg["actions"].shape == (2, 4)
    np.testing.assert_array_equal(seg["mask"], [[1, 1, 1, 1], [1, 1, 0, 0]])
    np.testing.assert_array_equal(seg["terminateds"], [[0, 0, 0, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(seg["obs"][1, :, 0], [0, 1, 2, 2, 2])  # x_L repeated into padding
    np.testing.assert_array_equal(seg["rewards"][1], [1, 1, 0, 0])


def test_long_chunks_are_split_with_the_terminal_on_the_last_piece():
    seg = episodes_to_segments([FakeEpisode(5, True)], length=4)
    np.testing.assert_array_equal(seg["mask"], [[1, 1, 1, 1], [1, 0, 0, 0]])
    np.testing.assert_array_equal(seg["terminateds"], [[0, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(seg["obs"][1, :2, 0], [4, 5])
