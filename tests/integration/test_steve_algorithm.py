"""STEVE end to end: a short Pendulum run through the CLI logs the horizon weights, model errors
and Q spread; a checkpoint keeps the replay buffer and a restored run continues from it."""

import json

import pytest
import torch
import yaml

from behaviorlab.algorithms.steve.config import STEVEConfig

pytestmark = pytest.mark.integration
SMALL = {"q_ensemble": 2, "model_ensemble": 2, "reward_ensemble": 2, "actor_hiddens": [32], "critic_hiddens": [32],
         "model_hiddens": [32], "reward_hiddens": [32], "num_steps_sampled_before_learning_starts": 50,
         "rollout_horizon": 2,
         # 4 env steps, then one learner call of 4 updates on 64 transitions each.
         "rollout_fragment_length": 4, "train_batch_size_per_learner": 256, "minibatch_size": 64}


def test_trains_on_pendulum_through_the_cli(run_cli, tmp_path):
    spec = tmp_path / "steve.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "steve-test", "algorithm": "STEVE", "env": "Pendulum-v1", "config": SMALL,
        "resources": {"num_env_runners": 0}, "stop": {"env_steps": 200}, "seeds": [0],
        "checkpoint": {"every": 0, "at_end": True}, "logging": {"wandb": {"mode": "disabled"}, "tensorboard": False}}))
    done = run_cli("run", spec, timeout=240)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (trial,) = (run_cli.results / "steve-test").glob("trial_*")
    rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    learner = rows[-1]["learners"]["default_policy"]
    weights = [learner[f"horizon_weight_{i}"] for i in range(3)]
    assert sum(weights) == pytest.approx(1.0, abs=1e-4)
    assert learner["model_use"] == pytest.approx(1.0 - weights[0], abs=1e-4)
    for key in ("q_ensemble_spread", "heldout_error_transition", "heldout_error_reward", "heldout_error_termination",
                "model_loss_transition", "critic_loss"):
        assert key in learner and learner[key] == learner[key], key
    assert learner["q_ensemble_spread"] > 0  # members trained on different data stay apart
    assert list(trial.glob("checkpoint_*"))


def _config():
    return (STEVEConfig().environment("Pendulum-v1").env_runners(num_env_runners=0).update_from_dict(SMALL)
            .reporting(min_sample_timesteps_per_iteration=100, min_time_s_per_iteration=0).debugging(seed=0))


def test_checkpoint_keeps_replay_and_resumes(local_ray, tmp_path):
    algo = _config().build_algo()
    try:
        for _ in range(2):
            result = algo.train()
        # One update of 64 per env step, in calls of 4.
        assert result["learners"]["default_policy"]["num_module_steps_trained"] == 64 * 100
        buffered = algo.local_replay_buffer.get_num_timesteps()
        assert buffered >= 200 and algo._transitions.size == buffered
        checkpoint = algo.save(str(tmp_path / "ckpt")).checkpoint.path
        module = algo.learner_group._learner.module["default_policy"].unwrapped()
        weights = {k: v.clone() for k, v in module.state_dict().items()}
        # EnvRunners hold only the actor.
        assert not hasattr(algo.env_runner.module, "q") and not hasattr(algo.env_runner.module, "transition")
    finally:
        algo.stop()

    restored = _config().build_algo()
    try:
        restored.restore(checkpoint)
        assert restored.local_replay_buffer.get_num_timesteps() == buffered
        assert restored._transitions.size == buffered  # the learner's draw is rebuilt from it
        module = restored.learner_group._learner.module["default_policy"].unwrapped()
        for name, value in module.state_dict().items():
            torch.testing.assert_close(value, weights[name], msg=name)
        result = restored.train()  # learning continues at once: the replay is there
        assert result["num_env_steps_sampled_lifetime"] > buffered
        assert "critic_loss" in result["learners"]["default_policy"]
    finally:
        restored.stop()
