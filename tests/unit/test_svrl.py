"""SVRLDQN's config, learner target and the SV-RL testbed envs (no Ray cluster started)."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.dqn.dqn_learner import QF_NEXT_PREDS, QF_PREDS, QF_TARGET_NEXT_PREDS
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.common.matrix_estimation import approximate_rank, soft_impute
from behaviorlab.algorithms.svrl.config import SVRLDQNConfig
from behaviorlab.algorithms.svrl.learner import GENERATOR_STATE
from behaviorlab.envs import make_env, registered_envs
from behaviorlab.envs.random_mdp import RandomMDP

B, A = 16, 6


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small SVDs are far slower with 2 threads on a busy machine
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def learner():
    config = (SVRLDQNConfig().training(svrl_keep_prob=0.5, double_q=True, gamma=0.9)
              .rl_module(model_config={"fcnet_hiddens": [8]}).debugging(seed=3))
    return config.build_learner(env=RandomMDP(num_states=5, num_actions=A))


def _batch_and_outputs():
    g = torch.Generator().manual_seed(0)
    target_next = (torch.randn(B, 2, generator=g) @ torch.randn(2, A, generator=g)).requires_grad_()
    online_next = torch.zeros(B, A)
    online_next[:, 0] = 1.0  # the online net's argmax: action 0 everywhere
    fwd_out = {QF_PREDS: torch.randn(B, A, generator=g, requires_grad=True),
               QF_TARGET_NEXT_PREDS: target_next, QF_NEXT_PREDS: online_next}
    batch = {Columns.ACTIONS: torch.randint(A, (B,), generator=g), Columns.REWARDS: torch.randn(B, generator=g),
             Columns.TERMINATEDS: torch.arange(B) % 5 == 0, "n_step": torch.ones(B), "weights": torch.ones(B)}
    return batch, fwd_out


def _huber_loss(batch, fwd_out, next_values):
    q_selected = fwd_out[QF_PREDS].gather(-1, batch[Columns.ACTIONS][:, None]).squeeze(-1)
    target = batch[Columns.REWARDS] + 0.9 * (~batch[Columns.TERMINATEDS]).float() * next_values
    return torch.nn.functional.huber_loss(q_selected, target.detach())


def test_target_reads_the_completed_matrix_at_the_online_argmax(learner):
    batch, fwd_out = _batch_and_outputs()
    generator = torch.Generator()
    generator.set_state(learner._svrl_generator.get_state())
    loss = learner.compute_loss_for_module(module_id=DEFAULT_MODULE_ID, config=learner.config, batch=batch,
                                           fwd_out=fwd_out)
    raw = fwd_out[QF_TARGET_NEXT_PREDS].detach()
    observed = torch.rand(raw.shape, generator=generator) < 0.5  # the same Bernoulli mask
    completed = soft_impute(raw, observed)
    rows = torch.arange(B)
    assert not torch.equal(completed[:, 0], raw[:, 0]), "some hidden entries in the read column"
    assert torch.allclose(loss, _huber_loss(batch, fwd_out, completed[rows, 0]))  # Q†(s', argmax online)
    assert not torch.allclose(loss, _huber_loss(batch, fwd_out, raw[rows, 0]))  # not plain double DQN
    assert not torch.allclose(loss, _huber_loss(batch, fwd_out, completed.max(-1).values))  # not Q† argmax
    loss.backward()
    assert fwd_out[QF_TARGET_NEXT_PREDS].grad is None  # no gradient through the estimate
    assert fwd_out[QF_PREDS].grad is not None
    for key in ("svrl_approx_rank", "svrl_relative_change", "svrl_imputation_error", "svrl_greedy_changed"):
        assert np.isfinite(learner.metrics.peek((DEFAULT_MODULE_ID, key))), key
    assert learner.metrics.peek((DEFAULT_MODULE_ID, "svrl_approx_rank")) <= 2


def test_mask_generator_is_trial_seeded_and_checkpointed(learner):
    state = learner.get_state()
    first = torch.rand(4, generator=learner._svrl_generator)
    learner.set_state(state)
    assert torch.equal(torch.rand(4, generator=learner._svrl_generator), first)
    again = torch.Generator().manual_seed(3)  # the trial seed
    assert torch.equal(torch.rand(4, generator=again), first)
    assert GENERATOR_STATE not in learner.get_state(components="rl_module")  # weight syncs stay lean


def test_config_defaults_schedule_and_refusals():
    config = SVRLDQNConfig()
    assert (config.svrl_keep_prob, config.svrl_method, config.double_q, config.dueling) == (0.9, "soft_impute", True, True)
    assert config.keep_prob_at(10**9) == 0.9  # no schedule by default
    config.training(svrl_keep_prob_schedule_updates=100)
    assert config.keep_prob_at(50) == pytest.approx(0.95) and config.keep_prob_at(500) == 1.0
    for fields, message in (({"svrl_keep_prob": 0.0}, "svrl_keep_prob must be in"),
                            ({"svrl_method": "svd"}, "svrl_method must be one of soft_impute, usvt"),
                            ({"num_atoms": 51}, "distributional DQN")):
        with pytest.raises(ValueError, match=message):
            SVRLDQNConfig().environment("CartPole-v1").training(**fields).validate()


def test_discrete_pendulum_maps_21_actions_onto_the_torque_range():
    assert registered_envs()["DiscretePendulum-v1"] == "value-based testbed"
    env = make_env("DiscretePendulum-v1")
    assert env.action_space == gym.spaces.Discrete(21)
    assert env.action(0)[0] == -2.0 and env.action(10)[0] == 0.0 and env.action(20)[0] == 2.0
    env.reset(seed=0)
    _, reward, *_ = env.step(3)
    assert reward <= 0
    with pytest.raises(ValueError, match="num_actions must be an integer >= 2"):
        make_env("DiscretePendulum-v1", {"num_actions": 1})


def test_random_mdp_is_fixed_by_its_seed_and_high_rank():
    env = make_env("RandomMDP-v0", {"num_states": 50, "num_actions": 18, "mdp_seed": 0})
    assert np.array_equal(env.rewards, RandomMDP(mdp_seed=0).rewards)
    obs, _ = env.reset(seed=1)
    assert obs.sum() == 1.0 and env.observation_space.contains(obs)
    steps = 0
    truncated = False
    while not truncated:
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        assert not terminated
    assert steps == 50
    q = env.optimal_q()
    assert approximate_rank(torch.tensor(np.linalg.svd(q - q.mean(1, keepdims=True), compute_uv=False))) >= 15
    assert approximate_rank(torch.tensor(np.linalg.svd(q, compute_uv=False))) == 1  # the state values dominate


def test_rank_completion_check_separates_low_from_high_rank_action_structure():
    from behaviorlab.algorithms.svrl.rank import completion_check

    g = torch.Generator().manual_seed(0)
    values = 10 * torch.randn(256, 1, generator=g) - 50  # state values dominate Q, as in trained nets
    low = values + torch.randn(256, 2, generator=g) @ torch.randn(2, 21, generator=g)
    high = values + torch.randn(256, 21, generator=g)
    assert completion_check(low)[0] < 0.5 < 1.0 < completion_check(high)[0]
