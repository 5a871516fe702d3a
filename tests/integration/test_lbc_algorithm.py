"""LBC built and trained in-process on CartPole: ψ per episode stored per step, one bandit update per
finished episode, finite per-member losses, 0 or 1 remote env runners, evaluation (fixed ψ and the
bandit's best arm), checkpoints."""

import math
from collections import Counter

import numpy as np
import pytest
import ray

from behaviorlab.algorithms.lbc.algorithm import LBC
from behaviorlab.algorithms.lbc.config import LBCConfig
from behaviorlab.algorithms.lbc.meta_controller import MetaController, build_arms
from behaviorlab.algorithms.lbc.psi import ARM, OMEGA, TAU

pytestmark = pytest.mark.integration

ENVS_PER_RUNNER = 2


def _config(num_env_runners):
    return (LBCConfig().environment("CartPole-v1")
            .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=ENVS_PER_RUNNER)
            .training(replay_ratio=1, replay_start=100).reporting(min_sample_timesteps_per_iteration=400)
            .rl_module(model_config={"fcnet_hiddens": [16]}).debugging(seed=0))


def _assert_psi_held_per_episode(episodes, config):
    """Every step of an episode carries the same ψ, drawn inside the region of its arm."""
    arms = build_arms(config.num_members, config.meta_controller_config())
    distinct = set()
    for episode in episodes:
        tau, omega = episode.get_extra_model_outputs(TAU), episode.get_extra_model_outputs(OMEGA)
        arm = episode.get_extra_model_outputs(ARM)
        assert tau.shape == omega.shape == (len(episode), config.num_members) and arm.shape == (len(episode),)
        assert (tau == tau[0]).all() and (omega == omega[0]).all() and (arm == arm[0]).all(), episode.id_
        region = arms[int(arm[0])]
        assert ((tau[0] >= region.tau_low * (1 - 1e-6)) & (tau[0] <= region.tau_high * (1 + 1e-6))).all()
        assert omega[0].sum() == pytest.approx(1.0, abs=1e-6)
        # The stored behaviour inputs are log μ_ψ: normalised log probabilities.
        log_mu = episode.get_extra_model_outputs("action_dist_inputs")
        np.testing.assert_allclose(np.exp(log_mu).sum(-1), 1.0, atol=1e-5)
        distinct.add((int(arm[0]), *tau[0].tolist()))
    assert len(distinct) > 5, "episodes must get their own ψ"


@pytest.mark.parametrize("num_env_runners", [0, 1])
def test_psi_per_episode_bandit_updates_and_member_losses(local_ray, num_env_runners):
    algo = _config(num_env_runners).build_algo()
    try:
        for _ in range(2):
            result = algo.train()
        controller, runners = result["meta_controller"], result["env_runners"]
        finished = runners["num_episodes_lifetime"]
        assert finished > 10
        assert controller["episodes"] == finished  # one update per finished episode
        assert controller["selections"] == finished + ENVS_PER_RUNNER  # plus one ongoing episode per sub-env
        assert sum(controller[f"arm_{k:02d}"]["pulls"] for k in range(21)) == finished
        assert set(controller["recent_psi"]["tau_mean"]) == {"member_0", "member_1", "member_2"}
        # Replayed episodes are the runners' chunks joined across sample() calls: ψ survives the cuts.
        episodes = [e for e in algo.local_replay_buffer.episodes if len(e)]
        _assert_psi_held_per_episode(episodes, algo.config)
        # The bandit got each finished episode's whole return (all its chunks) with the episode's arm.
        state = ray.get(algo.meta_controller.get_state.remote())
        assert len(state["history_arms"]) == finished  # fewer than the largest window: nothing dropped
        reported = Counter(zip(state["history_arms"], state["history_rewards"]))
        assert reported == Counter((int(e.get_extra_model_outputs(ARM)[0]), float(e.get_return())) for e in episodes if e.is_done)
        learner = result["learners"]["default_policy"]
        for member in range(3):
            for key in ("policy_loss", "q_loss", "entropy", "rho_mean", "total_loss"):
                assert math.isfinite(learner[f"member_{member}"][key]), (member, key)
            assert learner[f"member_{member}"]["rho_mean"] > 0
        assert result["replay"]["updates_per_iteration"] > 0
    finally:
        algo.stop()


def test_evaluation_acts_with_the_fixed_psi_and_leaves_the_bandit_alone(local_ray):
    config = _config(0).evaluation(evaluation_interval=1, evaluation_duration=3, evaluation_duration_unit="episodes",
                                   evaluation_num_env_runners=0)
    algo = config.build_algo()
    try:
        result = algo.train()
        assert result["evaluation"]["env_runners"]["num_episodes"] >= 3
        finished = result["env_runners"]["num_episodes_lifetime"]
        assert result["meta_controller"]["selections"] == finished + ENVS_PER_RUNNER
    finally:
        algo.stop()


def test_best_arm_evaluation_acts_with_the_bandits_best_arm_and_leaves_it_alone(local_ray):
    config = _config(0).training(psi_in_evaluation="best_arm").evaluation(
        evaluation_interval=1, evaluation_duration=2, evaluation_duration_unit="episodes", evaluation_num_env_runners=0)
    algo = config.build_algo()
    try:
        assert algo.train()["evaluation"]["env_runners"]["num_episodes"] >= 2
        state = ray.get(algo.meta_controller.get_state.remote())
        controller = MetaController(config.num_members, config.meta_controller_config())
        controller.set_state(state)
        best = controller.best_arm()
        episodes = algo.eval_env_runner.sample(num_episodes=2, explore=False)
        assert [int(arm) for e in episodes for arm in e.get_extra_model_outputs(ARM)] == [best] * sum(map(len, episodes))
        assert ray.get(algo.meta_controller.get_state.remote()) == state  # asked, never updated
    finally:
        algo.stop()


def test_checkpoint_restores_the_meta_controller(local_ray, tmp_path):
    algo = _config(0).build_algo()
    try:
        algo.train()
        saved = ray.get(algo.meta_controller.get_state.remote())
        assert sum(saved["pulls"]) > 10
        algo.save_to_path(tmp_path / "ckpt")
    finally:
        algo.stop()
    restored = LBC.from_checkpoint(str(tmp_path / "ckpt"))
    try:
        assert ray.get(restored.meta_controller.get_state.remote()) == saved
        result = restored.train()
        assert result["meta_controller"]["episodes"] > sum(saved["pulls"])  # it continues counting
    finally:
        restored.stop()
