"""PTGM end to end on BabyAI through experiments/ptgm/babyai_pipeline.sh: bot dataset → π_L →
codebook → prior (their dataset passes as Ray Data jobs, which match the local ones) → smoke runs
of both high levels over goal codes (PTGM: PPO + goal-prior KL; PTGMACER: ACER + goal-prior KL);
the same on Crafter (crafter_pipeline.sh); and the KL term of both learners."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, cli_env

pytestmark = pytest.mark.integration
pytest.importorskip("minigrid")
pytest.importorskip("sklearn")


@pytest.mark.slow
def test_babyai_pipeline_runs_every_stage(tmp_path):
    artifacts = tmp_path / "artifacts"
    env = {**cli_env(tmp_path / "results"), "ARTIFACTS": str(artifacts), "BIN": str(Path(sys.executable).parent),
           "RAY_DATA": "1"}
    result = subprocess.run(["bash", "experiments/ptgm/babyai_pipeline.sh", "40", "--smoke"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=420, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("low_level.pt", "low_level.json", "codebook.npz", "codebook.json", "prior.pt", "prior.json"):
        assert (artifacts / name).is_file(), name
    assert "episode 40/40" in result.stdout and "[prior] epoch 20/20" in result.stdout
    assert "(Ray Data)" in result.stdout  # RAY_DATA=1: the goals and prior passes ran as Ray Data jobs
    progress = next((tmp_path / "results").glob("ptgm-babyai-gotolocal-smoke/*/progress.csv"))
    rows = list(csv.DictReader(progress.open()))
    assert len(rows) == 2
    kl = [float(row["learners/default_policy/goal_prior_kl"]) for row in rows]
    assert all(value > 0 for value in kl)
    # PTGMCallbacks: cumulative low-level steps, more than the high-level steps RLlib counts.
    low = [float(row["env_runners/low_level_env_steps_lifetime"]) for row in rows]
    high = [float(row["env_runners/num_env_steps_sampled_lifetime"]) for row in rows]
    assert low[0] > high[0] and low[1] > low[0] and low[1] - low[0] > high[1] - high[0]

    # The pipeline also wrote the off-policy high level's spec (PTGMACER): it trains from replay.
    acer = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run",
                           str(artifacts / "babyai_highlevel_acer.yaml"), "--smoke"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert acer.returncode == 0, acer.stdout[-3000:] + acer.stderr[-3000:]
    progress = next((tmp_path / "results").glob("ptgm-acer-babyai-gotolocal-smoke/*/progress.csv"))
    rows = list(csv.DictReader(progress.open()))
    assert len(rows) == 2
    assert all(float(row["learners/default_policy/goal_prior_kl"]) > 0 for row in rows)
    assert sum(float(row["replay/updates_per_iteration"]) for row in rows) > 0
    assert float(rows[-1]["env_runners/low_level_env_steps_lifetime"]) > float(rows[-1][
        "env_runners/num_env_steps_sampled_lifetime"])



@pytest.mark.slow
def test_crafter_pipeline_runs_every_stage(tmp_path):
    """Explorer dataset → π_L (Crafter view + inventory goals) → codebook → prior → a smoke run
    of the high level on place_table, as experiments/ptgm/crafter_pipeline.sh chains them."""
    pytest.importorskip("crafter")
    artifacts = tmp_path / "artifacts"
    env = {**cli_env(tmp_path / "results"), "ARTIFACTS": str(artifacts), "BIN": str(Path(sys.executable).parent)}
    result = subprocess.run(["bash", "experiments/ptgm/crafter_pipeline.sh", "4", "--smoke"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=420, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "episode 4/4" in result.stdout and "[prior] epoch 20/20" in result.stdout
    codebook = json.loads((artifacts / "codebook.json").read_text())
    assert codebook["goal_embedding"] == "crafter_state" and codebook["num_codes"] == 32
    # The continuous-skill baseline's VAE and its spec.
    skills = json.loads((artifacts / "skills.json").read_text())
    assert skills["skill_length"] == 10 and len(skills["history"]) == 20 and (artifacts / "skills_prior.pt").is_file()
    assert "make_skill_env" in (artifacts / "crafter_vae_skills.yaml").read_text()
    progress = next((tmp_path / "results").glob("ptgm-crafter-place-table-smoke/*/progress.csv"))
    rows = list(csv.DictReader(progress.open()))
    assert len(rows) == 2 and all(float(row["learners/default_policy/goal_prior_kl"]) > 0 for row in rows)
    # 10 low-level steps per code, fewer only where an episode ended.
    low = float(rows[-1]["env_runners/low_level_env_steps_lifetime"])
    assert 5 * float(rows[-1]["env_runners/num_env_steps_sampled_lifetime"]) < low

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


@pytest.mark.parametrize("algorithm", ["PTGM", "PTGMACER"])
def test_goal_prior_kl_pulls_the_high_level_policy_towards_the_prior(local_ray, tmp_path, algorithm):
    """Both high-level learners (PPO's on-policy, ACER's off-policy with replay) add λ·KL to the
    frozen prior: with a large λ the policy moves to a prior that prefers action 0 everywhere."""
    import torch

    from behaviorlab.algorithms.ptgm.models import GoalPrior, save_model
    from behaviorlab.platform.registry import algorithm_config_class

    prior = GoalPrior(obs_dim=4, num_codes=2, hidden=())  # one linear layer: logits 3, −3 everywhere
    with torch.no_grad():
        prior.net[-1].weight.zero_()
        prior.net[-1].bias.copy_(torch.tensor([3.0, -3.0]))
    save_model(tmp_path / "prior.pt", prior)
    config = (algorithm_config_class(algorithm)().environment("CartPole-v1")
              .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
              .training(goal_prior_path=str(tmp_path / "prior.pt"), goal_prior_kl_coeff=5.0, lr=5e-3,
                        entropy_coeff=0.0)
              .rl_module(model_config={"fcnet_hiddens": [32]}).debugging(seed=0))
    if algorithm == "PTGM":
        config.training(train_batch_size_per_learner=400, minibatch_size=100, num_epochs=2)
    else:
        config.training(replay_ratio=2, replay_start=100).reporting(min_sample_timesteps_per_iteration=400)
    algo = config.build_algo()
    try:
        if algorithm == "PTGM":  # the KL enters the rewards before GAE computes returns from them
            pieces = [type(piece).__name__ for piece in algo.learner_group._learner._learner_connector.connectors]
            assert pieces[-2:] == ["GoalPriorRewardPiece", "GeneralAdvantageEstimation"], pieces

        def prefers_action_0() -> float:
            logits = algo.get_module().forward_inference({"obs": torch.zeros(1, 4)})["action_dist_inputs"]
            return float(torch.softmax(logits, -1)[0, 0])

        before = prefers_action_0()
        kls = [algo.train()["learners"]["default_policy"]["goal_prior_kl"] for _ in range(3)]
        # D_KL(π_p ‖ π_θ) from a uniform policy to the prior's [0.9975, 0.0025] is ≈ 0.68.
        assert kls[-1] < 0.3 and kls[-1] < kls[0], kls
        assert before < 0.7 and prefers_action_0() > 0.8, (before, prefers_action_0())
    finally:
        algo.stop()


@pytest.mark.parametrize("algorithm", ["PTGM", "PTGMACER"])
def test_a_missing_goal_prior_stops_the_run_before_it_starts(tmp_path, algorithm):
    from behaviorlab.platform.registry import algorithm_config_class

    config = algorithm_config_class(algorithm)().training(goal_prior_path=str(tmp_path / "prior.pt"))
    problem, fix = config.missing_inputs()["goal_prior_path"]
    assert "prior.pt is not a file" in problem and "`prior` stage" in fix
    (tmp_path / "prior.pt").write_bytes(b"")
    assert config.missing_inputs() == {}


@pytest.mark.slow
def test_ray_data_passes_give_the_local_codebook_and_prior(tmp_path):
    """`goals --ray` and `prior --ray` read the dataset in Ray Data jobs (the shards in any order):
    the same codebook, the same labels and so the same prior training as the passes in process.
    Each stage runs in its own process, as a user runs it (Ray Data's driver threads stay out of
    pytest's process)."""
    import numpy as np

    from behaviorlab.algorithms.ptgm.goals import load_codebook
    from behaviorlab.algorithms.ptgm.pretrain import train_low_level
    from tests.unit.test_ptgm import _tiny_dataset

    _tiny_dataset(tmp_path / "data", episodes=400)  # 2,400 steps: 3 shards
    train_low_level(tmp_path / "data", tmp_path / "low.pt", k_min=1, k_max=3, epochs=1, hidden=(16,), log=None)

    def stage(*args):
        result = subprocess.run([sys.executable, "-m", "behaviorlab.algorithms.ptgm", *map(str, args)], cwd=REPO,
                                env=cli_env(tmp_path / "results"), capture_output=True, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result.stdout

    reports = {}
    for engine, flag in (("local", []), ("ray", ["--ray"])):
        out = tmp_path / engine
        goals = stage("goals", tmp_path / "data", tmp_path / "low.pt", out / "book.npz", "--num-codes", 6,
                      "--num-goals", 1000, *flag)
        prior = stage("prior", tmp_path / "data", out / "book.npz", out / "prior.pt", "--epochs", 2, "--hidden", 16,
                      *flag)
        assert ("(Ray Data)" in goals + prior) == bool(flag)
        reports[engine] = json.loads((out / "prior.json").read_text())
    local, ray = load_codebook(tmp_path / "local/book.npz"), load_codebook(tmp_path / "ray/book.npz")
    np.testing.assert_array_equal(ray.codes, local.codes)
    assert ray.metadata["dataset_rows"] == local.metadata["dataset_rows"]
    assert ray.metadata["embedding_job"]["engine"] == "Ray Data" and reports["ray"]["labelling_job"]["steps"] == 2400
    assert reports["ray"]["history"] == reports["local"]["history"]


def test_skill_prior_kl_pulls_the_continuous_skill_policy_towards_the_prior(local_ray, tmp_path):
    """The continuous-skill baseline's learner (PPO over a Box action, RLlib's diagonal Gaussian):
    the KL to a learned skill prior, in the rewards before GAE and in the loss, moves the policy's
    Gaussian to a prior N(1.5, 0.5²) everywhere (Pendulum's torque stands in for z)."""
    import numpy as np
    import torch

    from behaviorlab.algorithms.ptgm.models import SkillPrior, save_model
    from behaviorlab.platform.registry import algorithm_config_class

    prior = SkillPrior(obs_dim=3, latent_dim=1, hidden=())
    with torch.no_grad():
        prior.net[-1].weight.zero_()
        prior.net[-1].bias.copy_(torch.tensor([1.5, float(torch.log(torch.tensor(0.5)))]))
    save_model(tmp_path / "skill_prior.pt", prior)
    config = (algorithm_config_class("PTGMVAESkills")().environment("Pendulum-v1")
              .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
              .training(skill_prior_path=str(tmp_path / "skill_prior.pt"), skill_prior_kl_coeff=1.0, lr=1e-2,
                        entropy_coeff=0.0, train_batch_size_per_learner=400, minibatch_size=100, num_epochs=4)
              .rl_module(model_config={"fcnet_hiddens": [32]}).debugging(seed=0))
    algo = config.build_algo()
    try:
        pieces = [type(piece).__name__ for piece in algo.learner_group._learner._learner_connector.connectors]
        assert pieces[-2:] == ["GoalPriorRewardPiece", "GeneralAdvantageEstimation"], pieces

        def gaussian() -> list[float]:
            inputs = algo.get_module().forward_inference({"obs": torch.zeros(1, 3)})["action_dist_inputs"]
            return [float(inputs[0, 0]), float(inputs[0, 1].exp())]

        def kl(mean: float, std: float) -> float:  # KL(N(mean, std²) ‖ N(1.5, 0.5²))
            return float(np.log(0.5 / std) + (std ** 2 + (mean - 1.5) ** 2) / 0.5 - 0.5)

        before = gaussian()
        kls = [algo.train()["learners"]["default_policy"]["skill_prior_kl"] for _ in range(2)]
        after = gaussian()
        # An untrained policy, ≈ N(0, 1): KL ≈ ln 0.5 + (1 + 2.25)/0.5 − 0.5 ≈ 5.3.
        # After 2 iterations: the KL at that state, and the batch's mean KL the learner logs, are far below it.
        assert kl(*before) > 3 and kl(*after) < 0.2 * kl(*before) and max(kls) < 0.25 * kl(*before), (before, after, kls)
    finally:
        algo.stop()
