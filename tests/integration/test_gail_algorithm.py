"""GAIL through the real CLI: the shipped seals/CartPole spec's smoke run, on its shipped expert data."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_gail_smoke_run_logs_true_return_and_d_and_checkpoints_d(run_cli):
    done = run_cli("run", "experiments/gail/seals_cartpole.yaml", "--smoke", timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    (trial,) = (run_cli.results / "gail-seals-cartpole-smoke").glob("trial_*")
    rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    last = rows[-1]
    learners = last["learners"]
    assert {"accuracy_policy", "accuracy_expert", "loss"} <= set(learners["discriminator"])
    gail_reward = learners["default_policy"]["gail_reward_mean"]
    # The reported return is the env's: seals CartPole pays 0 or 1 per step of 500-step episodes,
    # while −log D is a positive real number per step.
    env_return = last["env_runners"]["episode_return_mean"]
    assert 0 <= env_return <= 500 and gail_reward > 0
    assert learners["default_policy"]["env_reward_mean"] == pytest.approx(env_return / 500, abs=0.2)
    (checkpoint,) = trial.glob("checkpoint_*")
    modules = checkpoint / "learner_group" / "learner" / "rl_module"
    assert (modules / "discriminator").is_dir() and (modules / "default_policy").is_dir()
    assert not list((checkpoint / "env_runner").rglob("*discriminator*"))
