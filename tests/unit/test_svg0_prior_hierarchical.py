"""SVG0Prior's hierarchical (latent-variable) variant: the KL bound against Monte-Carlo marginal KLs,
the held-z schedule, what the EnvRunner stores, and which network each loss term trains."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from torch.distributions import Normal

from behaviorlab.algorithms.svg0_prior.hierarchical_module import (
    BEHAVIOUR_LOG_PROB, LATENT, LATENT_STEPS_LEFT, LATENTS, STEPS_LEFT, HierarchicalSVG0PriorTorchRLModule,
    latent_segments)
from behaviorlab.algorithms.svg0_prior.losses import gaussian_kl, latent_kl, latent_schedule, latent_svg0_prior_loss
from behaviorlab.algorithms.svg0_prior.module import gather

LATENT_DIM = 3
DICT_SPACE = gym.spaces.Dict({"proprio": gym.spaces.Box(-1, 1, (3,)), "task": gym.spaces.Box(0, 1, (2,))})


# --- pure math ---------------------------------------------------------------------------------
def _lower_mean(z, scale, shift):
    """A non-linear lower level, so that the marginal over z is not Gaussian."""
    return scale * torch.tanh(2.0 * z) + shift


def _marginal_log_prob(actions, high, scale, shift, std, samples=4000):
    """log ∫ π^H(z) π^L(a|z) dz by Monte Carlo over z ~ π^H: actions [N, 1] → [N]."""
    z = high.sample((samples,))                                               # [M, 1]
    log_low = Normal(_lower_mean(z, scale, shift).T, std).log_prob(actions)   # [N, M]
    return torch.logsumexp(log_low, dim=1) - np.log(samples)


def test_latent_kl_bounds_the_marginal_kl_and_is_kl_high_alone_with_a_shared_lower_level():
    torch.manual_seed(0)
    high_p, high_q = Normal(torch.tensor([0.5]), torch.tensor([0.8])), Normal(torch.tensor([-0.3]), torch.tensor([1.2]))
    policy_low = dict(scale=1.0, shift=0.0, std=0.3)
    prior_low = dict(scale=0.8, shift=0.2, std=0.4)

    z = high_p.sample((4000,))
    actions = Normal(_lower_mean(z, policy_low["scale"], policy_low["shift"]), policy_low["std"]).sample()
    true_kl = (_marginal_log_prob(actions, high_p, **policy_low) - _marginal_log_prob(actions, high_q, **prior_low)).mean()

    z_s = high_p.sample((200_000,)).view(-1, 1, 1, 1)                         # [S, B=1, T=1, dz=1]
    low_p = Normal(_lower_mean(z_s, policy_low["scale"], policy_low["shift"]), policy_low["std"])
    low_q = Normal(_lower_mean(z_s, prior_low["scale"], prior_low["shift"]), prior_low["std"])
    high_p_bt, high_q_bt = (Normal(d.mean.view(1, 1, 1), d.stddev.view(1, 1, 1)) for d in (high_p, high_q))
    bound = latent_kl(high_p_bt, high_q_bt, torch.ones(1, 1), low_p, low_q)
    kl_high = gaussian_kl(high_p, high_q)
    assert 0.05 < true_kl < bound.item() - 0.05
    assert bound.item() > kl_high.item() + 0.05  # the lower levels' KL is in it

    # Shared lower level: the bound is KL_H alone, and still bounds the marginal KL.
    shared = latent_kl(high_p_bt, high_q_bt, torch.ones(1, 1))
    assert shared.item() == pytest.approx(kl_high.item(), abs=1e-6)
    shared_true_kl = (_marginal_log_prob(actions, high_p, **policy_low)
                      - _marginal_log_prob(actions, high_q, **policy_low)).mean()
    assert 0 < shared_true_kl < shared.item()
    # A held z (resampled = 0) carries no high-level KL.
    assert latent_kl(high_p_bt, high_q_bt, torch.zeros(1, 1)).item() == 0.0


def test_latent_schedule_marks_fresh_draws_and_continues_the_countdown_to_the_bootstrap_step():
    # k = 3: the first step holds a z drawn before the segment (countdown 1), step 2 draws afresh.
    resampled, countdown = latent_schedule(torch.tensor([[1, 0, 2, 1]]), hold_steps=3)
    torch.testing.assert_close(resampled, torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]]))
    torch.testing.assert_close(countdown, torch.tensor([[1, 0, 2, 1, 0]]))
    resampled, countdown = latent_schedule(torch.tensor([[2, 1, 0]]), hold_steps=3)
    torch.testing.assert_close(resampled, torch.tensor([[1.0, 0.0, 0.0, 1.0]]))  # x_T draws afresh
    torch.testing.assert_close(countdown, torch.tensor([[2, 1, 0, 2]]))
    resampled, countdown = latent_schedule(torch.zeros(2, 4, dtype=torch.long), hold_steps=1)
    assert bool((resampled == 1).all()) and bool((countdown == 0).all())


def test_latent_segments_pad_each_chunk_by_repeating_its_last_step():
    episode = SingleAgentEpisode(
        observations=[np.zeros(3, np.float32)] * 4, actions=[np.zeros(2, np.float32)] * 3, rewards=[0.0] * 3,
        extra_model_outputs={
            Columns.STATE_OUT: [{LATENT: np.full(2, t, np.float32), STEPS_LEFT: np.array(1 - t % 2)} for t in range(3)],
            Columns.ACTION_LOGP: [np.float32(-t) for t in range(3)]},
        len_lookback_buffer=0)
    episode.to_numpy()  # as EnvRunners hand them over
    columns = latent_segments([episode, episode.slice(slice(1, 3))], length=4)
    np.testing.assert_array_equal(columns[LATENTS][:, :, 0], [[0, 1, 2, 2], [1, 2, 2, 2]])
    np.testing.assert_array_equal(columns[LATENT_STEPS_LEFT], [[1, 0, 1, 1], [0, 1, 1, 1]])
    np.testing.assert_array_equal(columns[BEHAVIOUR_LOG_PROB], [[0, -1, -2, -2], [-1, -2, -2, -2]])


# --- the module and the loss -------------------------------------------------------------------
def _build(shared=True, hold_steps=1, prior_type="mlp", space=DICT_SPACE, critic_sees_latent=True):
    dict_keys = {"prior_keys": ["proprio"]} if isinstance(space, gym.spaces.Dict) else {}
    spec = RLModuleSpec(module_class=HierarchicalSVG0PriorTorchRLModule, observation_space=space,
                        action_space=gym.spaces.Box(-1, 1, (2,)),
                        model_config={**dict_keys, "policy_hiddens": [16], "critic_hiddens": [16],
                                      "prior_hiddens": [16], "lower_hiddens": [16], "action_samples": 3,
                                      "latent_dim": LATENT_DIM, "shared_lower_level": shared,
                                      "hold_steps": hold_steps, "prior_type": prior_type, "prior_lstm_size": 8,
                                      "critic_sees_latent": critic_sees_latent})
    torch.manual_seed(0)
    return spec.build()


def _obs(space, *lead):
    if isinstance(space, gym.spaces.Dict):
        return {"proprio": torch.randn(*lead, 3), "task": torch.rand(*lead, 2)}
    return torch.randn(*lead, *space.shape)


def _batch(hold_steps=1, b=4, t=6, space=DICT_SPACE):
    """Segments whose countdowns follow the hold schedule from a different phase per row."""
    steps_left = torch.tensor([[(hold_steps - 1 - (step + row)) % hold_steps for step in range(t)] for row in range(b)])
    batch = {Columns.OBS: _obs(space, b, t + 1), Columns.ACTIONS: torch.rand(b, t, 2) * 2 - 1,
             LATENTS: torch.randn(b, t, LATENT_DIM), LATENT_STEPS_LEFT: steps_left}
    return batch, dict(rewards=torch.randn(b, t), terminateds=torch.zeros(b, t), mask=torch.ones(b, t),
                       behaviour_log_prob=torch.full((b, t), -3.0), gamma=0.99, retrace_lambda=1.0)


def _loss(module, batch, rest, seed=1, **weights):
    torch.manual_seed(seed)  # the same z and action samples for every call with this seed
    out = module._forward_train(batch)["svg0"]
    weights = {"kl_weight": 0.1, "entropy_coeff": 1e-3, **weights}
    return out, *latent_svg0_prior_loss(out, actions=batch[Columns.ACTIONS], **rest, **weights)


def _grads(module, loss):
    module.zero_grad()
    loss.backward()
    return {name: (p.grad.abs().sum().item() if p.grad is not None else 0.0) for name, p in module.named_parameters()}


def _grad_vectors(module, loss, *prefixes):
    """The gradient of `loss` for the parameters under each prefix, flattened (zeros where none)."""
    module.zero_grad()
    loss.backward()
    return [torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel())
                       for n, p in module.named_parameters() if n.startswith(prefix)]) for prefix in prefixes]


def test_behaviour_log_prob_is_the_joint_of_the_sampled_z_and_a_and_a_held_z_adds_no_high_level_term():
    module = _build(hold_steps=3)
    obs = _obs(DICT_SPACE, 5, 1)
    initial = module.get_initial_state()
    state = {key: value.expand(5, *value.shape) for key, value in initial.items()}

    def recomputed(out):
        latent, actions = out[Columns.STATE_OUT][LATENT], out[Columns.ACTIONS][:, 0]
        high = Normal(*module.policy(gather(obs, module.policy_keys, DICT_SPACE)[:, 0]))
        low = Normal(*module.lower(gather(obs, module.lower_keys, DICT_SPACE)[:, 0], latent))
        return high.log_prob(latent).sum(-1), low.log_prob(actions).sum(-1)

    with torch.no_grad():
        drawn = module.forward_exploration({Columns.OBS: obs, Columns.STATE_IN: state})
        log_high, log_low = recomputed(drawn)
        torch.testing.assert_close(drawn[Columns.ACTION_LOGP][:, 0], log_high + log_low)
        assert bool((drawn[Columns.STATE_OUT][STEPS_LEFT] == 2).all())

        held = module.forward_exploration({Columns.OBS: obs, Columns.STATE_IN: drawn[Columns.STATE_OUT]})
        torch.testing.assert_close(held[Columns.STATE_OUT][LATENT], drawn[Columns.STATE_OUT][LATENT])
        _, log_low = recomputed(held)
        torch.testing.assert_close(held[Columns.ACTION_LOGP][:, 0], log_low)
        assert bool((held[Columns.STATE_OUT][STEPS_LEFT] == 1).all())


def test_held_steps_use_the_stored_z_and_fresh_steps_sample_it():
    module = _build(hold_steps=3)
    batch, rest = _batch(hold_steps=3)
    out, _, stats = _loss(module, batch, rest)
    lower_in = gather(batch[Columns.OBS], module.lower_keys, DICT_SPACE)[:, :6]
    at_stored = module.lower(lower_in, batch[LATENTS])[0]                          # [B, T, d]
    held = out.resampled[:, :6] == 0
    for sample_mean in out.policy_low.mean.detach():
        torch.testing.assert_close(sample_mean[held], at_stored[held].detach())
    spread = out.policy_low.mean.detach().std(0).sum(-1)                            # over the S samples
    assert bool((spread[~held] > 0).all())
    assert stats["resampled_fraction"].item() == pytest.approx(1 / 3)


@pytest.mark.parametrize("space", [DICT_SPACE, gym.spaces.Box(-1, 1, (4,))], ids=["dict", "box"])
def test_shared_lower_level_kl_is_kl_high_exactly_and_gives_the_lower_level_no_kl_gradient(space):
    module = _build(shared=True, space=space)
    batch, rest = _batch(space=space)
    out, _, stats = _loss(module, batch, rest)
    obs = batch[Columns.OBS]
    kl_high = gaussian_kl(Normal(*module.policy(gather(obs, module.policy_keys, space)[:, :6])),
                          Normal(*module.target_prior(gather(obs, module.prior_keys, space)[:, :6])))
    assert stats["kl_to_prior"].item() == pytest.approx(kl_high.mean().item(), rel=1e-6)
    assert not hasattr(module, "prior_lower")

    def lower_and_high_grads(kl_weight):
        _, loss, _ = _loss(module, batch, rest, kl_weight=kl_weight, prior_loss_coeff=0.0)
        return _grad_vectors(module, loss, "lower.", "policy.")

    (lower_without, high_without), (lower_with, high_with) = lower_and_high_grads(0.0), lower_and_high_grads(1.0)
    torch.testing.assert_close(lower_with, lower_without)   # the KL term has no lower-level part
    assert not torch.allclose(high_with, high_without)      # ... but it does move π^H


def test_separate_lower_levels_use_the_bound_and_the_kl_reaches_the_lower_level():
    module = _build(shared=False)
    batch, rest = _batch()
    out, _, stats = _loss(module, batch, rest)
    kl_high = gaussian_kl(out.policy_high, Normal(out.prior_high_target.mean[:, :6], out.prior_high_target.stddev[:, :6]))
    kl_low = gaussian_kl(out.policy_low, out.prior_low_target).mean(0)
    assert stats["kl_to_prior"].item() == pytest.approx((kl_high + kl_low).mean().item(), rel=1e-6)
    assert kl_low.mean().item() > 1e-3

    def lower_grads(kl_weight):
        _, loss, _ = _loss(module, batch, rest, kl_weight=kl_weight, prior_loss_coeff=0.0)
        return _grad_vectors(module, loss, "lower.")[0]

    assert not torch.allclose(lower_grads(1.0), lower_grads(0.0))


@pytest.mark.parametrize("shared,prior_type", [(True, "mlp"), (False, "mlp"), (True, "lstm")])
def test_the_prior_is_trained_only_by_distillation(shared, prior_type):
    module = _build(shared=shared, prior_type=prior_type)
    batch, rest = _batch()
    prior_names = ("prior.", "prior_lower.")
    _, total, _ = _loss(module, batch, rest)
    grads = _grads(module, total)
    assert all(v > 0 for n, v in grads.items() if n.startswith(prior_names))
    assert all(v == 0 for n, v in grads.items() if n.startswith("target_"))

    _, no_distill, _ = _loss(module, batch, rest, prior_loss_coeff=0.0)
    grads = _grads(module, no_distill)
    assert all(v == 0 for n, v in grads.items() if n.startswith(prior_names))
    for trained in ("policy.", "lower.", "critic."):
        assert any(v > 0 for n, v in grads.items() if n.startswith(trained)), trained

    # ... and the distillation trains nothing else (π^H's samples z_s enter it as constants).
    def others(prior_loss_coeff):
        _, loss, _ = _loss(module, batch, rest, prior_loss_coeff=prior_loss_coeff)
        return torch.cat(_grad_vectors(module, loss, "policy.", "lower.", "critic."))

    torch.testing.assert_close(others(1.0), others(0.0))


def test_the_critic_does_not_train_the_high_level_through_z():
    module = _build(shared=True, hold_steps=2)
    batch, rest = _batch(hold_steps=2)
    out, _, _ = _loss(module, batch, rest)
    grads = _grads(module, 0.5 * out.q_taken.pow(2).mean())  # the critic's own term
    assert all(v == 0 for n, v in grads.items() if n.startswith(("policy.", "lower.")))
    assert any(v > 0 for n, v in grads.items() if n.startswith("critic."))

    # The actor's Q term reaches π^H through the action (a_s depends on z_s) ...
    out, _, _ = _loss(module, batch, rest)
    assert any(v > 0 for n, v in _grads(module, -out.q_policy_sampled.mean()).items() if n.startswith("policy."))
    # ... and only through it: once the lower level ignores z, π^H gets nothing, although Q reads z.
    with torch.no_grad():
        module.lower.head.net[0].weight[:, -LATENT_DIM:] = 0.0
    out, _, _ = _loss(module, batch, rest)
    grads = _grads(module, -out.q_policy_sampled.mean())
    assert all(v == 0 for n, v in grads.items() if n.startswith("policy."))
    assert any(v > 0 for n, v in grads.items() if n.startswith("lower."))
    assert module.critic[0].weight[:, -LATENT_DIM - 1:-1].abs().sum() > 0  # Q does depend on z


def test_a_critic_without_z_values_the_same_action_equally_under_any_z():
    module = _build(critic_sees_latent=False)
    assert module.critic[0].in_features == 3 + 2 + 2  # proprio, task and the action: no z
    batch, rest = _batch()
    q_taken = _loss(module, batch, rest)[0].q_taken
    batch[LATENTS] = torch.randn_like(batch[LATENTS])
    torch.testing.assert_close(_loss(module, batch, rest)[0].q_taken, q_taken)
    out, _, _ = _loss(module, batch, rest)  # π^H still learns through the action
    assert any(v > 0 for n, v in _grads(module, -out.q_policy_sampled.mean()).items() if n.startswith("policy."))


@pytest.mark.parametrize("fields, message", [
    ({"hierarchical": True, "hold_steps": 3, "critic_sees_latent": False}, "needs hold_steps 1"),
    ({"critic_sees_latent": False}, "needs hierarchical=True")])
def test_a_critic_without_z_needs_a_fresh_z_every_step(fields, message):
    from behaviorlab.algorithms.svg0_prior.config import SVG0PriorConfig

    config = SVG0PriorConfig().environment("Pendulum-v1").training(**fields)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_kl_weight_zero_makes_the_policy_update_independent_of_the_prior():
    module = _build(shared=False)
    batch, rest = _batch()

    def policy_grads(kl_weight):
        _, loss, _ = _loss(module, batch, rest, kl_weight=kl_weight, prior_loss_coeff=0.0)
        return torch.cat(_grad_vectors(module, loss, "policy.", "lower."))

    before = {w: policy_grads(w) for w in (0.0, 0.1)}
    with torch.no_grad():
        for param in [*module.target_prior.parameters(), *module.target_prior_lower.parameters()]:
            param.add_(torch.randn_like(param))
    torch.testing.assert_close(policy_grads(0.0), before[0.0])
    assert not torch.allclose(policy_grads(0.1), before[0.1])


def test_lower_keys_must_be_among_the_prior_keys():
    spec = RLModuleSpec(module_class=HierarchicalSVG0PriorTorchRLModule, observation_space=DICT_SPACE,
                        action_space=gym.spaces.Box(-1, 1, (2,)),
                        model_config={"prior_keys": ["proprio"], "lower_keys": ["proprio", "task"]})
    with pytest.raises(ValueError, match="lower_keys .* must be among prior_keys"):
        spec.build()
