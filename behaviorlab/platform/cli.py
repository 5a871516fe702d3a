"""`behaviorlab` command line: run, validate, eval, envs, algorithms, report, compare, rank, local-cluster, data."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
# Modules of the optional extras (pyproject.toml) → the extra that installs them.
EXTRAS = {"minatar": "minatar", "minigrid": "ptgm", "crafter": "ptgm", "sklearn": "ptgm", "av": "ptgm",
          "seals": "imitation", "moviepy": "video", "optuna": "optuna", "minerl": "minecraft"}
# What `env:` takes besides the listed ids (`behaviorlab envs` and its --help).
ENV_FORMS = """also: any other gymnasium id (Taxi-v3, FrozenLake-v1, one you register with gym.register), and
  env: my_pkg:MyEnv-v0    gymnasium's module:EnvId: imports my_pkg (which registers MyEnv-v0), then
                          gym.make("MyEnv-v0") with its registered time limit and wrappers
  env: my_pkg.envs:MyEnv  module:Class: a gymnasium.Env class, or a function of **env_config returning one
my_pkg is imported from the working directory too; Discrete/Tuple observations are one-hot flattened."""


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _validate(args) -> int:
    from behaviorlab.platform.spec import SpecError, load_spec

    status = 0
    for file in args.files:  # every file is checked, whatever an earlier one did
        try:
            spec = load_spec(file, args.overrides)
        except SpecError as error:
            print(f"error: {error}", file=sys.stderr)
            status = EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print(f"\ninterrupted while validating {file}", file=sys.stderr)
            return 130
        except Exception as error:  # a validator bug must not hide the files after this one
            detail = " ".join(str(error).split())
            print(f"error: {file}: validation failed with {type(error).__name__}: {detail}; please report this",
                  file=sys.stderr)
            status = status or 1
        else:
            print(f"ok: {file} ({spec.algorithm} on {spec.env_label})")
    return status


def _run(args) -> int:
    from behaviorlab.platform.spec import SpecError, check_experiment_name, check_inputs, load_spec

    try:
        spec = load_spec(args.file, args.overrides)
        check_inputs(Path(args.file), spec)
        # The names on the command line follow the spec's `name:` rule: one directory, no `..`.
        if args.name is not None:
            check_experiment_name(args.file, "--name", args.name)
        if isinstance(args.resume, str):
            check_experiment_name(args.file, "--resume", args.resume)
    except SpecError as error:
        return _fail(str(error))
    if args.name:
        spec.name = args.name
    from behaviorlab.platform.runner import RunError, RunInterrupted, run_experiment

    try:
        outcome = run_experiment(Path(args.file), spec, address=args.address, smoke=args.smoke, resume=args.resume,
                                 results_dir=args.results_dir, verbose=args.verbose)
    except RunError as error:
        return _fail(str(error))
    except RunInterrupted as stopped:  # it printed how to resume and stopped Ray
        # Not Python's exit: finalizing Ray's C++ core took 10 s and more after a signal.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stopped.exit_code)
    _exit_at_once_on_signals()
    return 1 if outcome.num_errors else 0


def _exit_at_once_on_signals() -> None:
    """After the run: everything is saved, so a signal during Ray's shutdown ends the process
    with 128 + the signal, not with a KeyboardInterrupt traceback from an atexit hook."""
    def exit_now(signum, frame):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, exit_now)


def _eval(args) -> int:
    from behaviorlab.envs import EnvConfigError
    from behaviorlab.platform.policy import PolicyError, evaluate_episodes, evaluation_env_config, load_policy

    try:
        policy = load_policy(args.run, trusted=args.trust_checkpoint)
        env_id = policy.env_id
        if not env_id:
            raise PolicyError(f"{policy.checkpoint}: its trial has no params.json naming the env; "
                              "evaluate a checkpoint inside a trial directory")
        env_config, wrappers = evaluation_env_config(env_id, policy.run_config.get("env_config"))
        print(f"policy: {policy.checkpoint}\nenv: {env_id}: {wrappers}", flush=True)
        episodes = evaluate_episodes(policy, env_id, args.episodes, greedy=args.deterministic, seed=args.seed,
                                     env_config=env_config, video_dir=args.video)
    except (PolicyError, EnvConfigError, ImportError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    returns = episodes.returns
    actions = ("the policy's own actions (it outputs no distribution)" if policy.outputs_actions
               else "greedy actions" if args.deterministic else "sampled actions")
    print(f"{args.episodes} episodes (seeds {args.seed}..{args.seed + args.episodes - 1}, {actions}): "
          f"return {returns.mean():.2f} ± {returns.std():.2f} (std over episodes; min {returns.min():.2f}, "
          f"max {returns.max():.2f})")
    if episodes.successes is not None:
        print(f"success rate {episodes.successes.mean():.2f} ({int(episodes.successes.sum())} of {args.episodes})")
    if env_id.startswith("ALE/"):
        from behaviorlab.envs.atari_scores import hns

        print(f"human-normalised score of the mean return: {hns(env_id, float(returns.mean())):.3f}")
    if args.video:
        print(f"videos: {Path(args.video) / 'eval-episode-*.mp4'}")
    return 0


def _envs(args) -> int:
    from behaviorlab.envs import registered_envs

    envs = registered_envs()
    families = sorted(set(envs.values()))
    if args.family and args.family not in families:
        return _fail(f"envs --family {args.family}: no such family; valid: {', '.join(families)}")
    for family in families:
        if args.family and family != args.family:
            continue
        ids = sorted(env_id for env_id, f in envs.items() if f == family)
        print(f"{family} ({len(ids)}):")
        print("  " + "\n  ".join(ids))
    print(ENV_FORMS)
    return 0


def _algorithms(args) -> int:
    from behaviorlab.platform.registry import ALGORITHMS

    for name, path in ALGORITHMS.items():
        print(f"{name:8s} {path.replace(':', '.')}")
    return 0


def _report(args) -> int:
    from behaviorlab.platform.report import ReportError, best_group, load_experiment, report
    from behaviorlab.platform.spec import result_key

    try:
        experiment = load_experiment(args.dir)  # once: its warnings about damaged files are printed once
        paths = report(experiment, metric=args.metric, threshold=args.threshold, out_dir=args.out, smooth=args.smooth)
    except ReportError as error:
        return _fail(str(error))
    print("\n".join(str(p) for p in paths))
    env_grid = isinstance(experiment.spec.get("env"), dict)  # values on different envs are not comparable
    best = None if env_grid else best_group(experiment, result_key(args.metric), args.threshold)
    if best and len(experiment.trials) > 1:
        print(f"best configuration: {best[0]} ({best[1]})")
    return 0


def _compare(args) -> int:
    from behaviorlab.platform.report import ReportError, compare

    try:
        paths = compare(args.dirs, args.out, metric=args.metric, threshold=args.threshold, smooth=args.smooth)
    except ReportError as error:
        return _fail(str(error))
    print("\n".join(str(p) for p in paths))
    return 0


def _rank(args) -> int:
    from behaviorlab.algorithms.svrl.rank import RankError, spectrum, write

    try:
        spectra = spectrum(args.path, num_states=args.states, seed=args.seed, trusted=args.trust_checkpoint)
    except RankError as error:
        return _fail(str(error))
    for s in spectra:
        print(f"{s.trial}: {s.env}, Q over {s.num_states} visited states x {s.num_actions} actions: rank (99 % energy) "
              f"{s.rank_q}, of Q - mean_a Q {s.rank_advantage}; singular values / largest "
              + " ".join(f"{v:.3f}" for v in s.singular_values[:6])
              + f"; 10 % hidden in 32-row batches: imputed-entry error {s.completion_error:.3f}, "
                f"greedy action changed {s.completion_greedy_changed:.3f}")
    if args.out:
        print("\n".join(str(p) for p in write(spectra, Path(args.out))))
    return 0


def _local_cluster(args) -> int:
    from behaviorlab.platform.local_cluster import run_spec_on_local_cluster
    from behaviorlab.platform.spec import SpecError, load_spec

    try:
        load_spec(args.file)  # fail on a bad spec before starting any node
    except SpecError as error:
        return _fail(str(error))
    results_dir = args.results_dir
    if results_dir and "://" not in results_dir:
        results_dir = str(Path(results_dir).resolve())  # the job runs in another working dir
    run_args = (["--smoke"] if args.smoke else []) + (["--results-dir", results_dir] if results_dir else [])
    try:
        return run_spec_on_local_cluster(Path(args.file), num_nodes=args.nodes, cpus_per_node=args.cpus_per_node,
                                         run_args=run_args, timeout_s=args.timeout)
    except RuntimeError as error:
        return _fail(str(error))


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _frame_size(text: str) -> tuple[int, int]:
    """`128` → (128, 128); `72x128` → (72, 128): height x width."""
    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame size; give N (square) or HEIGHTxWIDTH, e.g. 128 or 72x128")
    return int(parts[0]), int(parts[-1])


def _resumable(command: str, work, errors: tuple[type[Exception], ...]) -> tuple[object, int | None]:
    """Run a data pass that re-running resumes: (its result, None), or (None, the exit code) after a
    one-line error for `errors`, or after Ctrl-C with the command that resumes it."""
    try:
        return work(), None
    except errors as error:
        return None, _fail(str(error))
    except KeyboardInterrupt:
        print(f"\ninterrupted; resume with: {command}", file=sys.stderr)
        return None, 130


def _data_convert_vpt(args) -> int:
    from behaviorlab.envs.datasets import DatasetError
    from behaviorlab.envs.datasets.vpt import convert_vpt

    height, width = args.size
    command = " ".join(["behaviorlab data convert-vpt", args.index, args.out,
                        f"--size {height}" if height == width else f"--size {height}x{width}",
                        *(["--ray"] if args.ray else []), *(["--no-cursor"] if args.no_cursor else [])])
    _, code = _resumable(command, lambda: convert_vpt(args.index, args.out, size=args.size, use_ray=args.ray,
                                                      cursor=not args.no_cursor, command=command), (DatasetError,))
    return code or 0


def _data_collect_policy(args, out: str) -> int:
    """`data collect --policy RUN --env ID`: a trained policy's episodes; nothing written on bad input."""
    from behaviorlab.envs import EnvConfigError
    from behaviorlab.envs.datasets import DatasetError
    from behaviorlab.envs.datasets.collect import collect_policy
    from behaviorlab.platform.policy import PolicyError

    if args.levels or args.max_episode_steps:
        return _fail(f"data collect --env {args.env}: --levels and --max-episode-steps are for babyai/crafter; "
                     f"the env's own time limit applies")
    command = " ".join(["behaviorlab data collect --policy", args.policy, "--env", args.env, "--episodes",
                        str(args.episodes), "--out", out, "--actions", args.actions, "--seed", str(args.seed)]
                       + ["--trust-checkpoint"] * args.trust_checkpoint)
    try:
        summary = collect_policy(out, args.policy, args.env, args.episodes, greedy=args.actions == "greedy",
                                 seed=args.seed, command=command, trusted=args.trust_checkpoint)
    except (DatasetError, PolicyError, EnvConfigError, ImportError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        print("\ninterrupted; nothing was written", file=sys.stderr)
        return 130
    print(f"{out}: {summary.episodes:,} episodes, {summary.steps:,} steps, mean return {summary.mean_return:.2f} "
          f"({args.actions} actions of {summary.checkpoint})")
    return 0


def _data_collect(args) -> int:
    from behaviorlab.envs.datasets import DatasetError
    from behaviorlab.envs.datasets.collect import CRAFTER_POLICIES, collect_babyai, collect_crafter

    if args.out and args.out_option and args.out != args.out_option:
        return _fail(f"data collect: two output directories ({args.out}, --out {args.out_option}); give one")
    args.out = args.out or args.out_option
    if not args.out:
        return _fail("data collect: give the dataset directory to write, e.g. --out data/expert")
    if args.env not in ("babyai", "crafter"):
        if not args.policy or args.policy in CRAFTER_POLICIES:
            return _fail(f"data collect --env {args.env}: give the trained policy to record, --policy RUN_DIR "
                         f"(a run directory, trial directory or checkpoint_* directory)")
        return _data_collect_policy(args, args.out)
    limit = ["--max-episode-steps", str(args.max_episode_steps)] if args.max_episode_steps else []
    if args.env == "babyai":
        if not args.levels:
            return _fail("data collect --env babyai: give the levels to play, e.g. --levels BabyAI-GoToLocal-v0")
        command = " ".join(["behaviorlab data collect", args.out, "--levels", *args.levels,
                            "--episodes", str(args.episodes), "--seed", str(args.seed), *limit])
        collect = lambda: collect_babyai(args.out, args.levels, args.episodes, seed=args.seed,  # noqa: E731
                                         max_episode_steps=args.max_episode_steps, command=command)
    else:
        if args.levels:
            return _fail("data collect --env crafter: --levels is for BabyAI; Crafter has one world generator")
        policy = args.policy or "explorer"
        command = " ".join(["behaviorlab data collect", args.out, "--env crafter", "--policy", policy,
                            "--episodes", str(args.episodes), "--seed", str(args.seed), *limit])
        collect = lambda: collect_crafter(args.out, args.episodes, policy=policy, seed=args.seed,  # noqa: E731
                                          max_episode_steps=args.max_episode_steps or 1000, command=command)
    summary, code = _resumable(command, collect, (DatasetError, ImportError))
    if code is not None:
        return code
    print(f"{args.out}: {summary.total_episodes:,} episodes ({summary.episodes_written:,} new, "
          f"{summary.steps_written:,} steps at {summary.steps_per_second:,.0f} steps/s, "
          f"{summary.episodes_skipped} skipped)")
    return 0


def _data_embed(args) -> int:
    from behaviorlab.envs.datasets import DatasetError
    from behaviorlab.envs.datasets.embed import embed_dataset
    from behaviorlab.envs.datasets.mineclip import MineCLIPError

    command = " ".join(["behaviorlab data embed", args.dataset, args.out, "--mineclip", args.mineclip,
                        "--frame-key", args.frame_key, "--batch-size", str(args.batch_size), "--device", args.device,
                        *(["--ray", "--actors", str(args.actors)] if args.ray else [])])
    summary, code = _resumable(command, lambda: embed_dataset(
        args.dataset, args.out, args.mineclip, frame_key=args.frame_key, batch_size=args.batch_size, device=args.device,
        use_ray=args.ray, ray_actors=args.actors, command=command), (DatasetError, MineCLIPError))
    if code is not None:
        return code
    print(f"{args.out}: {summary.episodes_embedded} episodes embedded ({summary.steps_embedded:,} steps at "
          f"{summary.steps_per_second:,.1f} steps/s), {summary.episodes_skipped} already there")
    return 0


def _data_info(args) -> int:
    from behaviorlab.envs.datasets import DatasetError, dataset_info

    try:
        info = dataset_info(args.path)
    except DatasetError as error:
        return _fail(str(error))
    print(info.summary())
    return _fail(info.problem) if info.problem else 0


def _add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a spec value without editing the file, e.g. --set config.lr=1e-3 --set "
                             "stop.env_steps=5e4 --set env=Taxi-v3 (VALUE is YAML; repeatable; validated like the "
                             "file and recorded in the run's spec.yaml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="behaviorlab", description="Sample-efficient RL experiments on Ray RLlib + Tune.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment spec (embedded local Ray unless --address)")
    run.add_argument("file", help="experiment YAML, e.g. experiments/ppo/cartpole.yaml")
    run.add_argument("--address", help="attach to a running Ray cluster (e.g. auto, 10.0.0.1:6379)")
    run.add_argument("--smoke", action="store_true", help="one trial, a couple of iterations: a quick real check")
    run.add_argument("--resume", nargs="?", const=True, default=False, metavar="EXPERIMENT",
                     help="continue the newest run of this spec from its checkpoints, or the run in the directory "
                          "EXPERIMENT of the results directory (as printed when a run is interrupted)")
    run.add_argument("--results-dir", help="where experiment directories go: a path or an s3:// / gs:// URI "
                                          "(default ~/behaviorlab_results or $BEHAVIORLAB_RESULTS)")
    run.add_argument("--name", help="experiment name (default: the spec's name, else the file name)")
    run.add_argument("--verbose", action="store_true", help="show Ray worker logs")
    _add_set_argument(run)
    run.set_defaults(func=_run)

    validate = sub.add_parser("validate", help="check spec files without starting anything")
    validate.add_argument("files", nargs="+", help="experiment YAML files")
    _add_set_argument(validate)
    validate.set_defaults(func=_validate)

    evaluate = sub.add_parser("eval", help="play a trained policy on the env it was trained on: mean ± std return "
                                           "(success rate, HNS for Atari), optionally mp4 videos")
    evaluate.add_argument("run", help="a run directory printed by `behaviorlab run` (its best trial's newest "
                                      "checkpoint), a trial directory (its newest checkpoint) or a checkpoint_* directory")
    evaluate.add_argument("--episodes", type=_positive_int, default=10, help="episodes to play (default 10)")
    evaluate.add_argument("--deterministic", action="store_true",
                          help="act with the mode of the policy's action distribution (default: sample from it)")
    evaluate.add_argument("--video", metavar="DIR", help="also write one mp4 per episode to DIR "
                                                         "(gymnasium's RecordVideo; episodes then play one at a time)")
    evaluate.add_argument("--seed", type=int, default=0, help="episode i is reset with seed SEED + i (default 0)")
    evaluate.add_argument("--trust-checkpoint", action="store_true",
                          help="load the checkpoint's pickles as RLlib does, running any code they name (default: only "
                               "what an RLlib module checkpoint holds loads)")
    evaluate.set_defaults(func=_eval)

    envs = sub.add_parser("envs", help="list registered env ids by family (Atari, MuJoCo, MinAtar, BabyAI, Crafter, "
                                       "seals, ...) and the module:EnvId / module:Class forms",
                          epilog=ENV_FORMS, formatter_class=argparse.RawDescriptionHelpFormatter)
    envs.add_argument("--family", help="only this family, e.g. atari, babyai, causal confusion, classic control, "
                                       "crafter, minatar, mujoco, navigation, seals, value-based testbed")
    envs.set_defaults(func=_envs)

    algorithms = sub.add_parser("algorithms", help="list registered algorithms")
    algorithms.set_defaults(func=_algorithms)

    report = sub.add_parser("report", help="curves (PNG) and tables (markdown, CSV) from a results directory")
    report.add_argument("dir", help="an experiment directory printed by `behaviorlab run`")
    report.add_argument("--metric", default="episode_return_mean", help="friendly name or result key")
    report.add_argument("--threshold", type=float, help="also tabulate env steps and wall time to reach this metric value")
    report.add_argument("--out", help="output directory (default DIR/report)")
    report.add_argument("--smooth", type=_positive_int, default=1,
                        help="moving average over this many reports of each trial, for the curves and "
                             "--threshold (default 1: none)")
    report.set_defaults(func=_report)

    compare = sub.add_parser("compare", help="several experiments on one plot and table")
    compare.add_argument("dirs", nargs="+", help="experiment directories printed by `behaviorlab run`")
    compare.add_argument("--out", default="comparison", help="output directory (default ./comparison)")
    compare.add_argument("--metric", default="episode_return_mean",
                         help="friendly name or result key (default episode_return_mean)")
    compare.add_argument("--threshold", type=float, help="also tabulate env steps and wall time to reach this metric value")
    compare.add_argument("--smooth", type=_positive_int, default=1,
                         help="moving average over this many reports of each trial, for the curves and "
                              "--threshold (default 1: none)")
    compare.set_defaults(func=_compare)

    rank = sub.add_parser("rank", help="singular-value spectrum of Q over visited states (the SV-RL low-rank "
                                        "diagnostic) for a discrete-action DQN-family checkpoint")
    rank.add_argument("path", help="experiment or trial directory, or a checkpoint_* inside a trial")
    rank.add_argument("--states", type=int, default=512, help="visited states in the Q matrix (default 512)")
    rank.add_argument("--seed", type=int, default=0,
                      help="seed of the episodes that visit the states and of the completion check (default 0)")
    rank.add_argument("--out", help="also write rank.json and spectrum.png to this directory")
    rank.add_argument("--trust-checkpoint", action="store_true",
                      help="load the checkpoints' pickles as RLlib does, running any code they name (default: only "
                           "what an RLlib module checkpoint holds loads)")
    rank.set_defaults(func=_rank)

    local = sub.add_parser("local-cluster", help="start a multi-node Ray cluster on this machine, submit a spec "
                                                 "to it with `ray job submit`, show where actors ran, stop it")
    local.add_argument("file", help="experiment YAML inside this repository")
    local.add_argument("--nodes", type=int, default=2, help="Ray nodes to start, head included (default 2)")
    local.add_argument("--cpus-per-node", type=int, default=1, help="CPUs each node offers (default 1)")
    local.add_argument("--smoke", action="store_true", help="pass --smoke to the run")
    local.add_argument("--results-dir", help="where the job writes results (default as for `run`)")
    local.add_argument("--timeout", type=float, default=1800, help="seconds before the job is abandoned")
    local.set_defaults(func=_local_cluster)

    data = sub.add_parser("data", help="trajectory datasets: convert VPT recordings, collect, embed, summarise")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    convert = data_sub.add_parser("convert-vpt", help="VPT Minecraft recordings (index JSON of .mp4 + .jsonl) → a "
                                                      "trajectory dataset; re-running resumes")
    convert.add_argument("index", help='index file {"basedir": DIR, "relpaths": [...]}')
    convert.add_argument("out", help="dataset directory to create, or to resume")
    convert.add_argument("--size", type=_frame_size, default=(128, 128),
                         help="stored frame size: N (square) or HEIGHTxWIDTH (default 128)")
    convert.add_argument("--ray", action="store_true", help="decode segments as a Ray Data job (local Ray, or the "
                                                            "cluster under `ray job submit`)")
    convert.add_argument("--no-cursor", action="store_true", help="do not draw the mouse cursor on frames with a GUI open")
    convert.set_defaults(func=_data_convert_vpt)
    collect = data_sub.add_parser("collect", help="a task-agnostic dataset (BabyAI's bot on random missions of chosen "
                                                  "levels, a scripted explorer in Crafter; re-running resumes), or a "
                                                  "trained policy's episodes in any env: --policy RUN --env ID --out DIR")
    collect.add_argument("out", nargs="?", help="dataset directory to create, or to resume (or --out)")
    collect.add_argument("--out", dest="out_option", metavar="DIR", help="dataset directory to create")
    collect.add_argument("--env", default="babyai", help="babyai (default), crafter, or an env id (`behaviorlab envs`) "
                                                         "to record --policy in")
    collect.add_argument("--levels", nargs="+", help="BabyAI level ids, e.g. BabyAI-GoToLocal-v0 (--env babyai)")
    collect.add_argument("--policy", help="--env crafter: explorer (behaviorlab.envs.crafter.CrafterExplorer, default) "
                                          "or random; --env ID: a run directory printed by `behaviorlab run` (its best "
                                          "trial's newest checkpoint), a trial directory or a checkpoint_* directory")
    collect.add_argument("--actions", choices=("greedy", "sampled"), default="greedy",
                         help="--policy RUN: the mode of the policy's action distribution (default) or samples from "
                              "it; recorded in the dataset's attributes")
    collect.add_argument("--episodes", type=int, required=True, help="episodes the dataset should hold")
    collect.add_argument("--seed", type=int, default=0, help="collection seed: each episode's reset seed derives "
                                                             "from it and the episode's index (default 0)")
    collect.add_argument("--max-episode-steps", type=int,
                         help="time limit (default: each BabyAI level's own; Crafter 1000)")
    collect.add_argument("--trust-checkpoint", action="store_true",
                         help="--policy RUN: load the checkpoint's pickles as RLlib does, running any code they "
                              "name (default: only what an RLlib module checkpoint holds loads)")
    collect.set_defaults(func=_data_collect)
    embed = data_sub.add_parser("embed", help="MineCLIP embeddings of a dataset's frames, one per step (the clip of "
                                              "its last 16 frames): PTGM's Minecraft goals; re-running resumes")
    embed.add_argument("dataset", help="dataset of RGB frames, e.g. from `data convert-vpt --size 160x256`")
    embed.add_argument("out", help="dataset directory to create, or to resume")
    embed.add_argument("--mineclip", required=True, help="MineCLIP checkpoint (attn.pth or avg.pth from its README)")
    embed.add_argument("--frame-key", default="pov", help="observation entry with the frames (default pov, as VPT)")
    embed.add_argument("--batch-size", type=int, default=64, help="frames per forward pass")
    embed.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    embed.add_argument("--ray", action="store_true", help="embed episodes as a Ray Data job (local Ray, or the cluster "
                                                          "under `ray job submit`)")
    embed.add_argument("--actors", type=int, default=1, help="with --ray: actors, each holding one copy of the network")
    embed.set_defaults(func=_data_embed)
    info = data_sub.add_parser("info", help="episodes, steps, observation/action spec and size of a dataset")
    info.add_argument("path", help="dataset directory")
    info.set_defaults(func=_data_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        from behaviorlab.platform.runner import prepare_cluster_auth, prepare_local_node

        prepare_cluster_auth(args.address)  # before the first `import ray`
        prepare_local_node(args.address)
    from behaviorlab.platform.logs import quiet_worker

    quiet_worker()  # the driver too: progress lines, not library notices
    try:
        return args.func(args)
    except ModuleNotFoundError as error:
        extra = EXTRAS.get((error.name or "").partition(".")[0])
        if extra is None:
            raise
        return _fail(f"this needs the {error.name} package, part of an optional extra: pip install 'behaviorlab[{extra}]'")


if __name__ == "__main__":
    sys.exit(main())
