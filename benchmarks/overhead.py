"""Platform overhead benchmarks (docs/benchmarks.md, "Platform"):

1. Time from launch to the first training result: `behaviorlab run` vs the same PPO CartPole run
   started by a plain RLlib + Tune script, each in a fresh process, `--repeats` times.
2. Sampling throughput of one RLlib EnvRunner (policy inference + connectors, behaviorlab's env
   creators) against the raw env step rate with random actions, for CartPole and Pong.

Usage: python benchmarks/overhead.py [--repeats 3] > table.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PLAIN_RLLIB = textwrap.dedent("""\
    import sys, time
    from ray import tune
    from ray.rllib.algorithms.ppo import PPOConfig
    config = (PPOConfig().environment("CartPole-v1")
              .training(lr=3e-4, train_batch_size_per_learner=2000, minibatch_size=250, num_epochs=10)
              .env_runners(num_env_runners=1, num_envs_per_env_runner=4))
    class FirstResult(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            print("FIRST_RESULT", flush=True)
    tune.Tuner("PPO", param_space=config, run_config=tune.RunConfig(
        storage_path=sys.argv[1], stop={"training_iteration": 1}, callbacks=[FirstResult()])).fit()
""")


def _time_to_first_line(cmd: list[str], marker: str, env: dict) -> float:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
    elapsed = float("nan")
    for line in proc.stdout:
        if marker in line:
            elapsed = time.monotonic() - start
            break
    proc.wait()
    return elapsed


def time_to_first_result(repeats: int) -> list[tuple[str, list[float]]]:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    spec = REPO / "experiments/ppo/cartpole.yaml"
    ours, plain = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(_time_to_first_line(
                [sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec), "--smoke", "--results-dir", tmp],
                "| iter", env))
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "plain.py"
            script.write_text(PLAIN_RLLIB)
            plain.append(_time_to_first_line([sys.executable, str(script), tmp], "FIRST_RESULT", env))
    return [("behaviorlab run --smoke", ours), ("plain RLlib + Tune script", plain)]


def raw_rate(env_id: str, env_config: dict, steps: int) -> float:
    from behaviorlab.envs import make_env

    env = make_env(env_id, env_config)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def plain_runner(env_id: str, env_config: dict, model_config: dict, num_envs: int):
    """One in-process RLlib EnvRunner acting with PPO's module (`model_config`), warmed up."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from behaviorlab.envs import register_with_tune

    register_with_tune(env_id)
    config = (PPOConfig().environment(env_id, env_config=env_config).env_runners(num_envs_per_env_runner=num_envs)
              .rl_module(model_config=model_config))
    runner = SingleAgentEnvRunner(config=config)
    runner.sample(num_timesteps=max(200, 4 * num_envs))  # warm-up: module build, first forward passes
    return runner


def runner_rate(env_id: str, env_config: dict, steps: int, model_config: dict, num_envs: int) -> float:
    runner = plain_runner(env_id, env_config, model_config, num_envs)
    start = time.perf_counter()
    runner.sample(num_timesteps=steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import ray

    print("| launch → first result (PPO CartPole-v1) | mean s | runs |\n|---|---|---|")
    for name, times in time_to_first_result(args.repeats):
        print(f"| {name} | {sum(times) / len(times):.1f} | {', '.join(f'{t:.1f}' for t in times)} |")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    atari_cnn = {"conv_filters": [[32, 8, 4], [64, 4, 2], [64, 3, 1]], "conv_activation": "relu"}
    cases = [("CartPole-v1", {}, 20_000, {}, 1), ("CartPole-v1", {}, 20_000, {}, 8),
             ("ALE/Pong-v5", {"clip_rewards": True}, 4_000, atari_cnn, 1),
             ("ALE/Pong-v5", {"clip_rewards": True}, 4_000, atari_cnn, 8)]
    print("\n| env | envs per runner | raw env steps/s (random actions, 1 env) | one EnvRunner steps/s (PPO policy) "
          "| ratio |\n|---|---|---|---|---|")
    for env_id, env_config, steps, model_config, num_envs in cases:
        raw = raw_rate(env_id, env_config, steps)
        sampled = runner_rate(env_id, env_config, steps, model_config, num_envs)
        print(f"| {env_id} | {num_envs} | {raw:,.0f} | {sampled:,.0f} | {sampled / raw:.2f} |")


if __name__ == "__main__":
    main()
