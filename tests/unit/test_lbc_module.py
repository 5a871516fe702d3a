"""LBC's population module and learner: μ is the hybrid of the members' statistics, evaluation uses
the fixed ψ, and a member's importance ratios π_i/μ_ψ are exactly 1 when μ_ψ = π_i."""

import gymnasium as gym
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from behaviorlab.algorithms.acer.losses import Q_VALUES
from behaviorlab.algorithms.common.importance import importance_ratios
from behaviorlab.algorithms.common.segments import BEHAVIOUR_DIST_INPUTS, MASK, REWARDS, TERMINATEDS
from behaviorlab.algorithms.lbc.config import LBCConfig
from behaviorlab.algorithms.lbc.mapping import centred_logits, hybrid_behavior
from behaviorlab.algorithms.lbc.module import LBCTorchRLModule
from behaviorlab.algorithms.lbc.psi import ARM, OMEGA, TAU

N, A, OBS_DIM = 3, 4, 5
OBS_SPACE, ACTION_SPACE = gym.spaces.Box(-2.0, 2.0, (OBS_DIM,)), gym.spaces.Discrete(A)


def _config(**training):
    return LBCConfig().training(**training).rl_module(model_config={"fcnet_hiddens": [16]})


def _module(inference_only=False, **training):
    torch.manual_seed(0)
    spec = RLModuleSpec(module_class=LBCTorchRLModule, observation_space=OBS_SPACE, action_space=ACTION_SPACE,
                        model_config=_config(**training).model_config, inference_only=inference_only)
    module = spec.build()
    if not inference_only:
        module.make_target_networks()
    return module


def _obs(rows, seed=0):
    return torch.randn(rows, OBS_DIM, generator=torch.Generator().manual_seed(seed)) * 2


def _random_psi(rows, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tau = torch.exp(torch.empty(rows, N).uniform_(-2.3, 2.3, generator=generator))
    omega = torch.distributions.Dirichlet(torch.ones(N)).sample((rows,))
    return tau, omega / omega.sum(-1, keepdim=True), torch.randint(0, 21, (rows,), generator=generator)


def _explore(module, obs, tau, omega, arm):
    return module.forward_exploration({Columns.OBS: obs, TAU: tau, OMEGA: omega, ARM: arm})


@pytest.mark.parametrize("statistic", ["standardised_logits", "log_probs"])
@pytest.mark.parametrize("shared_torso", [False, True])
def test_exploration_acts_with_the_hybrid_behavior_of_the_members(statistic, shared_torso):
    module = _module(behavior_statistic=statistic, shared_torso=shared_torso)
    assert len(module.torsos) == (1 if shared_torso else N)
    obs = _obs(8)
    tau, omega, arm = _random_psi(8)
    out = _explore(module, obs, tau, omega, arm)
    with torch.no_grad():
        logits = module.member_logits(obs)
    assert logits.shape == (N, 8, A)
    assert not torch.allclose(logits[0], logits[1])  # distinct members even with a shared torso
    stats = logits.log_softmax(-1) if statistic == "log_probs" else centred_logits(logits)
    log_mu = out[Columns.ACTION_DIST_INPUTS]
    torch.testing.assert_close(log_mu.exp(), hybrid_behavior(stats, tau, omega), rtol=0, atol=1e-6)
    # RLlib's Categorical over these inputs is μ itself: they are normalised log probabilities.
    torch.testing.assert_close(log_mu.logsumexp(-1), torch.zeros(8), rtol=0, atol=1e-6)
    # ψ is handed back unchanged, so RLlib stores it with the step.
    assert torch.equal(out[TAU], tau) and torch.equal(out[OMEGA], omega) and torch.equal(out[ARM], arm)


def test_inference_uses_the_fixed_psi():
    module = _module(inference_tau=0.5, inference_omega=[0.2, 0.3, 0.5])
    obs = _obs(6, seed=1)
    out = module.forward_inference({Columns.OBS: obs})
    with torch.no_grad():
        stats = centred_logits(module.member_logits(obs))
    expected = hybrid_behavior(stats, torch.full((6, N), 0.5), torch.tensor([[0.2, 0.3, 0.5]] * 6))
    torch.testing.assert_close(out[Columns.ACTION_DIST_INPUTS].exp(), expected, rtol=0, atol=1e-6)
    assert set(out) == {Columns.ACTION_DIST_INPUTS}


def test_inference_acts_with_the_psi_an_env_runner_put_in_the_batch():
    module = _module(inference_tau=0.5)
    obs, tau, omega = _obs(4, seed=2), torch.full((4, N), 0.3), torch.tensor([[0.0, 1.0, 0.0]] * 4)
    arm = torch.full((4,), 7)
    out = module.forward_inference({Columns.OBS: obs, TAU: tau, OMEGA: omega, ARM: arm})
    with torch.no_grad():
        expected = hybrid_behavior(centred_logits(module.member_logits(obs)), tau, omega)
    torch.testing.assert_close(out[Columns.ACTION_DIST_INPUTS].exp(), expected, rtol=0, atol=1e-6)
    assert torch.equal(out[ARM], arm)


def test_acting_copy_holds_only_encoders_and_policy_heads():
    full, acting = _module(), _module(inference_only=True)
    assert not any(hasattr(acting, name) for name in ("qs", "target_torsos", "target_pis"))
    acting.set_state(full.get_state(inference_only=True))
    obs = _obs(5)
    tau, omega, arm = _random_psi(5)
    torch.testing.assert_close(_explore(acting, obs, tau, omega, arm)[Columns.ACTION_DIST_INPUTS],
                               _explore(full, obs, tau, omega, arm)[Columns.ACTION_DIST_INPUTS])
    # One average network per member: θ_avg pairs cover every encoder and policy head parameter.
    acting_params = sum(p.numel() for p in acting.parameters())
    assert sum(main.numel() for main, _ in full.average_policy_parameters()) == acting_params


@pytest.mark.parametrize("shared_torso", [False, True])
def test_member_q_values_are_the_q_heads_of_forward_train(shared_torso):
    module = _module(shared_torso=shared_torso)
    obs = _obs(6, seed=2)
    with torch.no_grad():
        q_values = module.member_q_values(obs)
        train_q = module.forward_train({Columns.OBS: obs[:, None]})[Q_VALUES]   # segments of one step
    assert q_values.shape == (N, 6, A)
    torch.testing.assert_close(q_values, train_q[:, :, 0])
    assert not torch.allclose(q_values[0], q_values[1])


def _learner(**training):
    torch.manual_seed(0)
    config = _config(**training).training(trust_region=False)
    return config, config.build_learner(spaces={DEFAULT_MODULE_ID: (OBS_SPACE, ACTION_SPACE)})


def _segment_batch(module, tau, omega, segments=4, steps=6):
    """Segments whose stored behaviour is the module's own μ_ψ (ψ per segment row)."""
    obs = _obs(segments * (steps + 1), seed=3).reshape(segments, steps + 1, OBS_DIM)
    acting_obs = obs[:, :-1].reshape(-1, OBS_DIM)
    rows_tau, rows_omega = tau.repeat_interleave(steps, 0), omega.repeat_interleave(steps, 0)
    log_mu = _explore(module, acting_obs, rows_tau, rows_omega, torch.zeros(len(acting_obs), dtype=torch.long))[
        Columns.ACTION_DIST_INPUTS]
    actions = torch.multinomial(log_mu.exp(), 1, generator=torch.Generator().manual_seed(4)).squeeze(-1)
    return {
        Columns.OBS: obs, Columns.ACTIONS: actions.reshape(segments, steps),
        BEHAVIOUR_DIST_INPUTS: log_mu.reshape(segments, steps, A),
        REWARDS: torch.ones(segments, steps), TERMINATEDS: torch.zeros(segments, steps), MASK: torch.ones(segments, steps),
    }


def _member_ratios(learner, batch):
    """π_i(·|s)/μ(·|s) for every member, state and action: [N, segments, steps, A]."""
    module = learner.module[DEFAULT_MODULE_ID]
    with torch.no_grad():
        logits = module.forward_train(batch)[Columns.ACTION_DIST_INPUTS][:, :, :-1]
    return importance_ratios(logits.log_softmax(-1), batch[BEHAVIOUR_DIST_INPUTS].expand_as(logits))


def _logged_rho(learner, batch, member):
    module = learner.module[DEFAULT_MODULE_ID]
    learner.compute_loss_for_module(module_id=DEFAULT_MODULE_ID, config=learner.config, batch=batch,
                                    fwd_out=module.forward_train(batch))
    return learner.metrics.peek((DEFAULT_MODULE_ID, f"member_{member}", "rho_mean"))


@pytest.mark.parametrize("member", [0, 2])
def test_log_prob_statistic_one_hot_tau_one_is_exactly_the_member_policy(member):
    # Φ_i = log π_i: f_τ(Φ_i) = π_i^(1/τ)/Z, so one-hot ω on member i with τ_i = 1 makes μ_ψ = π_i.
    config, learner = _learner(behavior_statistic="log_probs")
    module = learner.module[DEFAULT_MODULE_ID]
    tau = torch.exp(torch.randn(4, N))
    tau[:, member] = 1.0
    omega = torch.nn.functional.one_hot(torch.full((4,), member), N).float()
    batch = _segment_batch(module, tau, omega)
    ratios = _member_ratios(learner, batch)
    torch.testing.assert_close(ratios[member], torch.ones_like(ratios[member]), rtol=0, atol=1e-5)
    for other in set(range(N)) - {member}:
        assert (ratios[other] - 1).abs().max() > 0.05  # other members are corrected, not ignored
    assert _logged_rho(learner, batch, member) == pytest.approx(1.0, abs=1e-5)  # the learner's own ratios


def test_standardised_statistic_equals_the_member_policy_only_at_tau_one_over_logit_std():
    # centred_logits divides by std_a(l) + eps, so softmax(Φ_i / τ) = softmax(l / ((std + eps) τ)):
    # that is π_i exactly where τ_i(s) = 1 / (std_a l_i(s) + eps), a per-state temperature.
    config, learner = _learner(behavior_statistic="standardised_logits")
    module = learner.module[DEFAULT_MODULE_ID]
    member, steps = 1, 6
    omega = torch.nn.functional.one_hot(torch.full((4,), member), N).float()
    unit_tau = _segment_batch(module, torch.ones(4, N), omega, steps=steps)
    assert (_member_ratios(learner, unit_tau)[member] - 1).abs().max() > 0.05

    # Per step, τ_1 = 1 / (std + eps) of member 1's logits at that observation.
    with torch.no_grad():
        logits = module.member_logits(unit_tau[Columns.OBS][:, :-1].reshape(-1, OBS_DIM))[member]
    centred = logits - logits.mean(-1, keepdim=True)
    matching_tau = torch.ones(len(logits), N)
    matching_tau[:, member] = 1.0 / (centred.pow(2).mean(-1).sqrt() + 1e-6)
    acting_obs = unit_tau[Columns.OBS][:, :-1].reshape(-1, OBS_DIM)
    log_mu = _explore(module, acting_obs, matching_tau, omega.repeat_interleave(steps, 0),
                      torch.zeros(len(acting_obs), dtype=torch.long))[Columns.ACTION_DIST_INPUTS]
    matched = dict(unit_tau, **{BEHAVIOUR_DIST_INPUTS: log_mu.reshape(4, steps, A)})
    ratios = _member_ratios(learner, matched)[member]
    torch.testing.assert_close(ratios, torch.ones_like(ratios), rtol=0, atol=1e-4)


def test_learner_sums_one_acer_loss_per_member_with_its_own_discount():
    _, learner = _learner(member_gammas=[0.0, 0.5, 0.99], member_entropy_coeffs=[0.0, 0.01, 0.1])
    module = learner.module[DEFAULT_MODULE_ID]
    batch = _segment_batch(module, torch.ones(4, N), torch.full((4, N), 1.0 / N))
    fwd_out = module.forward_train(batch)
    total = learner.compute_loss_for_module(module_id=DEFAULT_MODULE_ID, config=learner.config, batch=batch, fwd_out=fwd_out)
    logged = lambda member, name: learner.metrics.peek((DEFAULT_MODULE_ID, f"member_{member}", name))  # noqa: E731
    assert total.item() == pytest.approx(sum(logged(i, "total_loss") for i in range(N)), rel=1e-5)
    # γ_0 = 0: member 0's Retrace target is the reward alone (1), so its Q loss is ½·mean(1 − Q(s, a))².
    q_taken = fwd_out[Q_VALUES][0, :, :-1].gather(-1, batch[Columns.ACTIONS].unsqueeze(-1)).squeeze(-1)
    assert logged(0, "q_loss") == pytest.approx(0.5 * (1 - q_taken).pow(2).mean().item(), rel=1e-5)
    assert logged(2, "q_loss") != pytest.approx(logged(0, "q_loss"), rel=1e-3)  # γ_2 = 0.99 bootstraps
