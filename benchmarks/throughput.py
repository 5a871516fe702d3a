"""Sampling throughput: local (per-runner) vs central (SEED-style) inference, and RLlib's ceiling
(docs/benchmarks.md, "SEED: central inference and sampling throughput"; issue #29).

1. Ceiling: env steps/s of one plain RLlib EnvRunner (PPO's module with the given network) against
   the raw env stepped with random actions, as envs per runner grow.
2. Profile (`--profile-envs`): where that EnvRunner's sample() time goes (env step, forward pass,
   connectors, episode bookkeeping), by cProfile.
3. Throughput grid: IMPALA (and ACER) on MinAtar/Breakout-v1 with the MinAtar network of the LBC
   benchmark (`--env pong`: ALE/Pong-v5 with the Nature CNN, for tables 1 and 2 too), local vs
   central inference, for R runners x E envs per runner. Each cell builds the algorithm through the
   platform (`build_algorithm_config` + `trainable_class`, as `behaviorlab run` does), trains one
   warm-up iteration, then trains for `--seconds` and reports env frames/s over that time, with the
   server's mean batch, the act round trip p50/p99 (central) and the policy lag in learner updates.
4. `--learning`: CartPole-v1, central vs local, until the return reaches 475, `--budget` env steps
   or `--cell-minutes` of training time, each a `behaviorlab run` of the shipped spec (ACER:
   `experiments/acer/cartpole.yaml`; IMPALA: `benchmarks/specs/cartpole-impala-central.yaml`, RLlib's
   tuned settings) with central inference switched, to check that it does not change what is learned.

`--gpu` (one GPU, < 5 min): Atari Pong with the Nature CNN, learner on 0.75 GPU and the inference
server on the remaining 0.25, R in {1, 2, 4, 8} x 32 envs, 15 s cells; local inference runs the CNN
on the runners' CPUs.

Usage: python benchmarks/throughput.py [--env minatar|pong] [--seconds 20] [--algorithms IMPALA ACER]
       [--learning] [--gpu]
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import plain_runner, raw_rate, runner_rate  # noqa: E402  (the ceiling measurement of the Platform table)

MINATAR = "MinAtar/Breakout-v1"
MINATAR_NET = {"conv_filters": [[16, 3, 1]], "conv_activation": "relu", "head_fcnet_hiddens": [128],
               "vf_share_layers": True}
PONG = "ALE/Pong-v5"
NATURE_CNN = {"conv_filters": [[32, 8, 4], [64, 4, 2], [64, 3, 1]], "conv_activation": "relu"}
# Per-algorithm settings of the grid: short iterations so the timed window holds several.
SETTINGS = {
    "IMPALA": {"min_time_s_per_iteration": 1, "train_batch_size_per_learner": 500, "lr": 5e-4},
    "ACER": {"min_sample_timesteps_per_iteration": 1000, "replay_ratio": 1.0},
}
CEILING_ENVS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
WARMUP_LIMIT_S = 120
REPO = Path(__file__).resolve().parents[1]
LEARNING_SPECS = {"ACER": REPO / "experiments/acer/cartpole.yaml",
                  "IMPALA": REPO / "benchmarks/specs/cartpole-impala-central.yaml"}
SOLVED = 475


def _spec(algorithm, env, model_config, runners, envs, central, *, gpu=0.0, config=None, seed=0):
    from behaviorlab.platform.spec import ExperimentSpec

    # Two runners on two cores: each asks for half a CPU so the trial fits next to the driver.
    cpus = 1.0 if gpu or runners == 1 else 0.5
    resources = {"num_env_runners": runners, "num_envs_per_env_runner": envs, "num_cpus_per_env_runner": cpus,
                 "num_gpus_per_learner": gpu, "central_inference": central}
    return ExperimentSpec.model_validate({
        "algorithm": algorithm, "env": env,
        "config": {**(SETTINGS[algorithm] if config is None else config),
                   **({"model_config": model_config} if model_config else {})},
        "resources": resources, "stop": {"iterations": 1}, "seeds": [seed]})


def _build(spec):
    from behaviorlab.envs import register_with_tune
    from behaviorlab.platform.runner import build_algorithm_config, trainable_class

    register_with_tune(spec.env)
    return trainable_class(spec)(config=build_algorithm_config(spec))


def _lag(result: dict) -> float | None:
    central = result.get("central_inference", {}).get("policy_lag_updates")
    if central is not None:
        return central
    return result.get("learners", {}).get("default_policy", {}).get("diff_num_grad_updates_vs_sampler_policy")


def throughput_cell(algorithm, env, model_config, runners, envs, central, seconds, gpu=0.0) -> dict:
    algo = _build(_spec(algorithm, env, model_config, runners, envs, central, gpu=gpu))
    try:
        result = algo.train()
        deadline = time.perf_counter() + WARMUP_LIMIT_S
        # Warm-up until samples flow: a local IMPALA runner here took ~20 s to its first sample.
        while result["num_env_steps_sampled_lifetime"] == 0 and time.perf_counter() < deadline:
            result = algo.train()
        result = algo.train()
        steps0, start = result["num_env_steps_sampled_lifetime"], time.perf_counter()
        timed = []
        while time.perf_counter() - start < seconds:
            timed.append(algo.train())
        rate = (timed[-1]["num_env_steps_sampled_lifetime"] - steps0) / (time.perf_counter() - start)
    finally:
        algo.stop()
    served = [r.get("env_runners", {}).get("central_inference", {}) for r in timed]
    return {"frames_per_s": rate, "batch": _mean([s.get("mean_inference_batch") for s in served]),
            "p50": _mean([s.get("rtt_p50_ms") for s in served]), "p99": _max([s.get("rtt_p99_ms") for s in served]),
            "lag": _mean([_lag(r) for r in timed])}


# Where one EnvRunner's sample() spends its time, by RLlib 2.60 function (file suffix, name):
# cumulative times. "module-to-env connectors" (added in sample_profile) is every pipeline call
# minus the env-to-module ones; "the rest" is what none of these covers.
PROFILE_PARTS = {
    "env step (vector env + wrappers)": [("env/env_runner.py", "_try_env_step")],
    "policy forward pass": [("torch/torch_rl_module.py", "forward_exploration")],
    "env-to-module connectors": [("env_to_module/env_to_module_pipeline.py", "__call__")],
    "episode bookkeeping and callbacks": [("env/single_agent_episode.py", "add_env_step"),
                                          ("env/single_agent_env_runner.py", "_new_episode"),
                                          ("env/single_agent_env_runner.py", "_make_on_episode_callback"),
                                          ("env/single_agent_episode.py", "to_numpy")],
}


def sample_profile(env: str, model_config: dict, num_envs: int, steps: int) -> tuple[float, dict[str, float]]:
    """(env steps/s without the profiler, {part: share of the profiled sample() time}) of one plain
    EnvRunner, as `runner_rate` builds it; the parts of PROFILE_PARTS plus the module-to-env
    connectors and the rest."""
    import cProfile
    import pstats

    runner = plain_runner(env, {}, model_config, num_envs)
    start = time.perf_counter()
    runner.sample(num_timesteps=steps)
    rate = steps / (time.perf_counter() - start)
    profiler = cProfile.Profile()
    profiler.runcall(runner.sample, num_timesteps=steps)
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, primitive calls, own, cumulative, callers)

    def cumulative(suffix: str, name: str) -> float:
        return sum(row[3] for (file, _, function), row in stats.items() if file.endswith(suffix) and function == name)

    total = cumulative("env/single_agent_env_runner.py", "sample")
    parts = {part: sum(cumulative(*key) for key in keys) for part, keys in PROFILE_PARTS.items()}
    parts["module-to-env connectors"] = (cumulative("connectors/connector_pipeline_v2.py", "__call__")
                                         - parts["env-to-module connectors"])
    parts["the rest of sample()"] = total - sum(parts.values())
    return rate, {part: seconds / total for part, seconds in parts.items()}


def _finite(values) -> list[float]:
    """Iterations without the metric (no sample or no learner report in them) are left out."""
    return [v for v in values if v is not None and math.isfinite(v)]


def _mean(values) -> float | None:
    values = _finite(values)
    return sum(values) / len(values) if values else None


def _max(values) -> float | None:
    values = _finite(values)
    return max(values) if values else None


def learning_cell(algorithm, central, budget, seed, minutes=None) -> tuple[float, int, bool, float]:
    """(final return, env steps, whether it reached SOLVED, wall minutes) on CartPole-v1: a
    `behaviorlab run` of the shipped spec with central inference switched, stopping at SOLVED,
    `budget` env steps or `minutes` of training time (a shared machine's limit)."""
    import tempfile

    from behaviorlab.platform.report import read_results
    from behaviorlab.platform.runner import run_experiment
    from behaviorlab.platform.spec import load_spec

    path = LEARNING_SPECS[algorithm]
    overrides = [f"resources.central_inference={str(central).lower()}", f"seeds=[{seed}]",
                 f"stop={{env_steps: {budget}, episode_return_mean: {SOLVED}"
                 + (f", time_s: {minutes * 60:g}}}" if minutes else "}"),
                 "logging={wandb: {mode: disabled}, tensorboard: false}", "checkpoint={every: 0, at_end: false}"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as results:
        outcome = run_experiment(path, load_spec(path, overrides), results_dir=results)
        (trial,) = Path(outcome.exp_dir).glob("trial_*")
        last = read_results(trial)[-1]
    final = last.get("env_runners/episode_return_mean", float("nan"))
    return final, int(last["num_env_steps_sampled_lifetime"]), final >= SOLVED, (time.perf_counter() - start) / 60


def _fmt(value, pattern="{:,.1f}") -> str:
    return "–" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env", choices=("minatar", "pong"), default="minatar",
                        help="the CPU tables' env: MinAtar/Breakout-v1 with the MinAtar net, or ALE/Pong-v5 with the "
                             "Nature CNN")
    parser.add_argument("--seconds", type=float, default=20, help="timed window of one grid cell")
    parser.add_argument("--algorithms", nargs="+", default=["IMPALA"], choices=sorted(SETTINGS),
                        help="algorithms of the grid and the learning runs")
    parser.add_argument("--runners", nargs="+", type=int, default=[1, 2], help="env runners per grid cell")
    parser.add_argument("--envs", nargs="+", type=int, default=[8, 32], help="envs per runner in the grid")
    parser.add_argument("--ceiling-envs", nargs="+", type=int, default=list(CEILING_ENVS),
                        help="envs per runner of the sampling-ceiling table")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the sampling-ceiling table")
    parser.add_argument("--profile-envs", nargs="*", type=int, default=[64],
                        help="envs per runner of the table of where one EnvRunner's time goes (none: skip it)")
    parser.add_argument("--no-grid", action="store_true", help="skip the local-vs-central throughput grid")
    parser.add_argument("--learning", action="store_true",
                        help="also run the CartPole learning check (local vs central inference)")
    parser.add_argument("--budget", type=int, default=30_000, help="env steps of one learning run")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds of the learning runs")
    parser.add_argument("--inference", nargs="+", default=["local", "central"], choices=["local", "central"],
                        help="the learning runs' inference settings")
    parser.add_argument("--cell-minutes", type=float, default=None, help="training-time cap of one learning run")
    parser.add_argument("--gpu", action="store_true",
                        help="the GPU version: Pong, Nature CNN, 1-8 runners x 32 envs (< 5 min on one GPU)")
    args = parser.parse_args()
    import ray
    import torch

    torch.set_num_threads(1)  # the in-process ceiling runner: one core, as an EnvRunner actor has
    if args.gpu:
        env, net, gpu, runners, envs, seconds = PONG, NATURE_CNN, 0.75, [1, 2, 4, 8], [32], 15
    else:
        env, net = (MINATAR, MINATAR_NET) if args.env == "minatar" else (PONG, NATURE_CNN)
        gpu, runners, envs, seconds = 0.0, args.runners, args.envs, args.seconds

    if not (args.gpu or args.no_ceiling):
        print(f"\n| envs per runner | one EnvRunner steps/s ({env}, PPO module) | raw env steps/s | ratio |"
              "\n|---|---|---|---|")
        for num_envs in args.ceiling_envs:
            raw = raw_rate(env, {}, 20_000)  # next to each point: the machine's load varies by minutes
            sampled = runner_rate(env, {}, 4_000, net, num_envs)
            print(f"| {num_envs} | {sampled:,.0f} | {raw:,.0f} | {sampled / raw:.3f} |", flush=True)

    if not args.gpu and args.profile_envs:
        profiles = [(num_envs, *sample_profile(env, net, num_envs, 20_000)) for num_envs in args.profile_envs]
        print(f"\n| share of one EnvRunner's sample() ({env}, PPO module, cProfile) | "
              + " | ".join(f"{num_envs} envs" for num_envs, _, _ in profiles) + " |\n|---|"
              + "---|" * len(profiles))
        for part in profiles[0][2]:
            print(f"| {part} | " + " | ".join(f"{shares[part]:.0%}" for _, _, shares in profiles) + " |")
        print("| env steps/s without the profiler | " + " | ".join(f"{rate:,.0f}" for _, rate, _ in profiles) + " |",
              flush=True)

    if not args.no_grid:  # the ceiling and profile runners live in this process; the grid's trials need Ray
        ray.init(**({} if args.gpu else {"num_cpus": 2}), include_dashboard=False, log_to_driver=False)
        print(f"\n| algorithm | runners × envs | inference | env frames/s | mean server batch | RTT p50 ms | "
              f"RTT p99 ms | policy lag (updates) |\n|---|---|---|---|---|---|---|---|")
    for algorithm in [] if args.no_grid else args.algorithms:
        for num_runners in runners:
            for num_envs in envs:
                for central in (False, True):
                    row = throughput_cell(algorithm, env, net, num_runners, num_envs, central, seconds, gpu)
                    print(f"| {algorithm} | {num_runners} × {num_envs} | {'central' if central else 'local'} | "
                          f"{row['frames_per_s']:,.0f} | {_fmt(row['batch'])} | {_fmt(row['p50'], '{:.2f}')} | "
                          f"{_fmt(row['p99'], '{:.2f}')} | {_fmt(row['lag'], '{:.2f}')} |", flush=True)
        ray.shutdown()  # each learning run below is a `behaviorlab run` with its own local Ray

    if args.learning:
        print("\n| algorithm | inference | seed | env steps | final return (CartPole-v1) | reached 475 | minutes |"
              "\n|---|---|---|---|---|---|---|")
        for algorithm in args.algorithms:
            for seed in args.seeds:
                for central in [inference == "central" for inference in args.inference]:
                    final, steps, solved, minutes = learning_cell(algorithm, central, args.budget, seed,
                                                                  args.cell_minutes)
                    print(f"| {algorithm} | {'central' if central else 'local'} | {seed} | {steps:,} | {final:.1f} | "
                          f"{'yes' if solved else 'no'} | {minutes:.1f} |", flush=True)

if __name__ == "__main__":
    main()
