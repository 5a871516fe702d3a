"""ACER built and trained in-process: the average network moves, replay runs, continuous works."""

import pytest
import torch

from behaviorlab.algorithms.acer.algorithm import ACER
from behaviorlab.algorithms.acer.config import ACERConfig

pytestmark = pytest.mark.integration


def _module_state(algo):
    module = algo.learner_group._learner.module["default_policy"]
    return {name: p.detach().clone() for name, p in module.named_parameters()} | {
        name: b.detach().clone() for name, b in module.named_buffers()}


def _avg_params(algo):
    module = algo.learner_group._learner.module["default_policy"]
    return [avg.detach().clone() for _, avg in module.average_policy_parameters()]


def test_discrete_acer_updates_average_network_and_replays(local_ray):
    config = (ACERConfig().environment("CartPole-v1").env_runners(num_env_runners=0, num_envs_per_env_runner=2)
              .training(replay_ratio=2, replay_start=100).reporting(min_sample_timesteps_per_iteration=400)
              .rl_module(model_config={"fcnet_hiddens": [32]}).debugging(seed=0))
    algo = config.build_algo()
    try:
        before = _avg_params(algo)
        result = algo.train()
        after = _avg_params(algo)
        moved = sum(float((a - b).abs().sum()) for a, b in zip(after, before))
        assert moved > 0, "θ_avg must follow θ"
        learner = result["learners"]["default_policy"]
        assert learner["avg_policy_param_distance"] > 0
        assert result["replay"]["updates_per_iteration"] > 0
        assert 0.0 < learner["rho_mean"] < 10.0
        # The acting copy on the EnvRunner has no critic and no average network.
        runner_module = algo.env_runner.module
        assert not hasattr(runner_module, "q") and not hasattr(runner_module, "target_pi")
    finally:
        algo.stop()


def test_several_env_runners_feed_one_learner(local_ray):
    config = (ACERConfig().environment("CartPole-v1").env_runners(num_env_runners=2, num_envs_per_env_runner=2)
              .training(replay_ratio=1, replay_start=100).reporting(min_sample_timesteps_per_iteration=400)
              .rl_module(model_config={"fcnet_hiddens": [16]}).debugging(seed=0))
    algo = config.build_algo()
    try:
        result = algo.train()
        # Each training step samples 2 runners × 2 envs × 20-step segments = 80 env steps.
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 400
        assert result["learners"]["default_policy"]["avg_policy_param_distance"] > 0
    finally:
        algo.stop()


def test_checkpoint_keeps_the_replay_buffer(local_ray, tmp_path):
    config = (ACERConfig().environment("CartPole-v1").env_runners(num_env_runners=0)
              .training(replay_ratio=1, replay_start=50).reporting(min_sample_timesteps_per_iteration=200)
              .rl_module(model_config={"fcnet_hiddens": [16]}).debugging(seed=0))
    algo = config.build_algo()
    try:
        algo.train()
        stored = algo.local_replay_buffer.get_num_timesteps()
        assert stored >= 200
        algo.save_to_path(tmp_path / "ckpt")
    finally:
        algo.stop()
    restored = ACER.from_checkpoint(str(tmp_path / "ckpt"))
    try:
        assert restored.local_replay_buffer.get_num_timesteps() == stored
    finally:
        restored.stop()


def test_continuous_acer_trains_on_pendulum(local_ray):
    config = (ACERConfig().environment("Pendulum-v1").env_runners(num_env_runners=0)
              .training(replay_ratio=1, replay_start=50, truncation_c=5.0)
              .reporting(min_sample_timesteps_per_iteration=200)
              .rl_module(model_config={"fcnet_hiddens": [32]}).debugging(seed=0))
    algo = config.build_algo()
    try:
        result = algo.train()
        learner = result["learners"]["default_policy"]
        for key in ("q_loss", "v_loss", "policy_loss", "entropy", "kl_to_average_policy"):
            assert torch.isfinite(torch.tensor(learner[key])), key
        assert learner["avg_policy_param_distance"] > 0
    finally:
        algo.stop()


def test_trial_size_check_handles_search_spaces_and_refuses_oversized_trials(local_ray, tmp_path):
    from behaviorlab.platform.runner import RunError, check_trial_fits
    from behaviorlab.platform.spec import load_spec

    spec_file = tmp_path / "grid.yaml"
    spec_file.write_text("algorithm: ACER\nenv: CartPole-v1\nstop: {iterations: 1}\nseeds: [0, 1]\n"
                         "config: {lr: {grid_search: [1.0e-3, 3.0e-4]}, initial_log_std: {choice: [0.0, -1.0]}}\n")
    check_trial_fits(load_spec(spec_file))  # 2 CPUs: the algorithm and one env runner
    spec_file.write_text("algorithm: ACER\nenv: CartPole-v1\nstop: {iterations: 1}\nresources: {num_env_runners: 2}\n")
    with pytest.raises(RunError, match="needs 3 CPUs"):
        check_trial_fits(load_spec(spec_file))
