"""PTGM end to end on BabyAI through experiments/ptgm/babyai_pipeline.sh: bot dataset → π_L →
codebook → prior → a PTGM (PPO + goal-prior KL) smoke run over goal codes."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, cli_env

pytestmark = pytest.mark.integration
pytest.importorskip("minigrid")
pytest.importorskip("sklearn")


def test_babyai_pipeline_runs_every_stage(tmp_path):
    artifacts = tmp_path / "artifacts"
    env = {**cli_env(tmp_path / "results"), "ARTIFACTS": str(artifacts), "BIN": str(Path(sys.executable).parent)}
    result = subprocess.run(["bash", "experiments/ptgm/babyai_pipeline.sh", "40", "--smoke"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=420, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("low_level.pt", "low_level.json", "codebook.npz", "codebook.json", "prior.pt", "prior.json"):
        assert (artifacts / name).is_file(), name
    assert "episode 40/40" in result.stdout and "[prior] epoch 20/20" in result.stdout
    progress = next((tmp_path / "results").glob("ptgm-babyai-gotolocal-smoke/*/progress.csv"))
    rows = list(csv.DictReader(progress.open()))
    assert len(rows) == 2
    kl = [float(row["learners/default_policy/goal_prior_kl"]) for row in rows]
    assert all(value > 0 for value in kl)
    # PTGMCallbacks: cumulative low-level steps, more than the high-level steps RLlib counts.
    low = [float(row["env_runners/low_level_env_steps_lifetime"]) for row in rows]
    high = [float(row["env_runners/num_env_steps_sampled_lifetime"]) for row in rows]
    assert low[0] > high[0] and low[1] > low[0] and low[1] - low[0] > high[1] - high[0]


def _log_episodes(callbacks, env, logger, episodes: int, seed: int) -> tuple[int, int, list[float]]:
    """Run `episodes` goal-code episodes through the callbacks as an env runner would; returns
    (high-level steps, low-level steps from the infos, last reward of each episode)."""
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    high = low = 0
    last_rewards = []
    for index in range(episodes):
        obs, info = env.reset(seed=seed + index)
        episode = SingleAgentEpisode(observations=[obs], infos=[info])
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            episode.add_env_step(obs, 0, reward, infos=info, terminated=terminated, truncated=truncated)
            callbacks.on_episode_step(episode=episode, metrics_logger=logger)
            high += 1
            low += info["low_level_steps"]
            done = terminated or truncated
        callbacks.on_episode_end(episode=episode, metrics_logger=logger)
        last_rewards.append(reward)
    return high, low, last_rewards


def test_low_level_env_steps_are_a_lifetime_sum_over_iterations():
    """PTGMCallbacks' `low_level_env_steps_lifetime` is the cumulative count of low-level steps
    (env-runner logger → algorithm's root logger, as RLlib reduces them each iteration), and
    `episode_success_mean` is the fraction of episodes ending in a positive reward."""
    import numpy as np
    from ray.rllib.utils.metrics.metrics_logger import MetricsLogger

    from behaviorlab.algorithms.ptgm.callbacks import (
        LOW_LEVEL_STEPS,
        SUCCESS,
        PTGMCallbacks,
    )
    from behaviorlab.algorithms.ptgm.config import PTGMConfig
    from behaviorlab.algorithms.ptgm.env import GoalCodeEnv
    from behaviorlab.envs.minigrid import make_babyai

    config = PTGMConfig().training(goal_prior_path="prior.pt")
    config.validate()
    assert PTGMCallbacks in config.callbacks_class

    rng = np.random.default_rng(0)
    base = make_babyai("BabyAI-GoToLocal-v0", max_episode_steps=30)
    env = GoalCodeEnv(base, lambda obs, goal: int(rng.integers(3)), np.zeros((4, 147), np.float32), steps_per_goal=4)
    env.action_space.seed(0)
    callbacks, root = PTGMCallbacks(), MetricsLogger(root=True)
    total_high = total_low = 0
    for iteration in range(3):
        runner = MetricsLogger()
        high, low, last_rewards = _log_episodes(callbacks, env, runner, episodes=3, seed=10 * iteration)
        total_high, total_low = total_high + high, total_low + low
        root.aggregate([runner.reduce()], key="env_runners")
        results = root.reduce(compile=True)["env_runners"]
        assert results[LOW_LEVEL_STEPS] == total_low
        assert np.isclose(results[SUCCESS], np.mean([r > 0 for r in last_rewards]))  # random codes: ~0
    # Every high-level step but an episode's last takes exactly steps_per_goal low-level steps.
    assert total_high < total_low <= 4 * total_high
    assert total_low > 4 * (total_high - 9)

    # Success = the episode's last reward > 0 (BabyAI's only non-zero reward is the mission's).
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    runner = MetricsLogger()
    for rewards in ([0.0, 0.0, 0.7], [0.0, 0.0], [0.4], [0.0]):
        episode = SingleAgentEpisode(observations=[np.zeros(2)])
        for index, reward in enumerate(rewards):
            episode.add_env_step(np.zeros(2), 0, reward, terminated=index == len(rewards) - 1)
        callbacks.on_episode_end(episode=episode, metrics_logger=runner)
    assert runner.reduce(compile=True)[SUCCESS] == 0.5
