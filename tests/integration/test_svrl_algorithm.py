"""SVRLDQN end to end: a smoke run through the CLI, the rank diagnostic on its checkpoint, and a
checkpoint/resume round trip that keeps the mask generator."""

import json
from pathlib import Path

import pytest
import torch

from behaviorlab.algorithms.svrl.algorithm import SVRLDQN
from behaviorlab.algorithms.svrl.config import SVRLDQNConfig

pytestmark = pytest.mark.integration


def test_smoke_run_through_the_cli_then_rank_its_checkpoint(run_cli, tmp_path):
    # experiments/svrl/random_mdp.yaml with 200-step iterations: the smoke run's 2 iterations learn.
    spec = tmp_path / "random_mdp.yaml"
    text = (Path(__file__).parents[2] / "experiments/svrl/random_mdp.yaml").read_text()
    spec.write_text(text.replace("config:\n", "config:\n  min_sample_timesteps_per_iteration: 200\n", 1)
                    .replace("num_steps_sampled_before_learning_starts: 500", "num_steps_sampled_before_learning_starts: 100"))
    run = run_cli("run", spec, "--smoke")
    assert run.returncode == 0, run.stderr[-2000:]
    experiment = run_cli.results / "svrl-random-mdp-smoke"
    rows = [json.loads(line) for line in next(experiment.glob("trial_*/result.json")).read_text().splitlines()]
    learner = rows[-1]["learners"]["default_policy"]
    assert learner["svrl_hidden_share"] == pytest.approx(0.1, abs=0.03)
    assert 0 < learner["svrl_relative_change"] < 1 and 1 <= learner["svrl_approx_rank"] <= 18
    rank = run_cli("rank", experiment, "--states", "64", "--out", experiment / "rank")
    assert rank.returncode == 0, rank.stderr[-2000:]
    assert "RandomMDP-v0, Q over 64 visited states x 18 actions: rank (99 % energy)" in rank.stdout
    assert json.loads((experiment / "rank" / "rank.json").read_text())[0]["num_actions"] == 18
    bad = run_cli("rank", experiment / "nothing")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "does not exist" in bad.stderr


def test_checkpoint_resume_keeps_weights_mask_generator_and_schedule(local_ray, tmp_path):
    config = (SVRLDQNConfig().environment("RandomMDP-v0", env_config={"num_states": 10, "num_actions": 6})
              .env_runners(num_env_runners=0, rollout_fragment_length=4)
              .training(num_steps_sampled_before_learning_starts=100, svrl_keep_prob_schedule_updates=1000)
              .reporting(min_sample_timesteps_per_iteration=200)
              .rl_module(model_config={"fcnet_hiddens": [16]}).debugging(seed=5))
    from behaviorlab.envs import register_with_tune

    register_with_tune("RandomMDP-v0")
    algo = config.build_algo()
    try:
        result = algo.train()
        learner = algo.learner_group._learner
        updates, generator_state = learner._svrl_updates, learner._svrl_generator.get_state()
        weights = {k: v.clone() for k, v in learner.module["default_policy"].state_dict().items()}
        assert updates > 0
        assert result["learners"]["default_policy"]["svrl_keep_prob"] > 0.9  # the schedule moved p towards 1
        algo.save_to_path(tmp_path / "ckpt")
    finally:
        algo.stop()
    restored = SVRLDQN.from_checkpoint(str(tmp_path / "ckpt"))
    try:
        learner = restored.learner_group._learner
        assert learner._svrl_updates == updates
        assert torch.equal(learner._svrl_generator.get_state(), generator_state)
        for key, value in learner.module["default_policy"].state_dict().items():
            assert torch.equal(value, weights[key]), key
        restored.train()
        assert learner._svrl_updates > updates
    finally:
        restored.stop()
