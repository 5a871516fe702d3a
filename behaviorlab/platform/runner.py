"""Spec → RLlib AlgorithmConfig → Tune Tuner, on an embedded local Ray or an existing cluster."""

from __future__ import annotations

import copy
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from behaviorlab.platform.registry import algorithm_class, algorithm_config_class, apply_config
from behaviorlab.platform.report import Trial, parse_result_lines
from behaviorlab.platform.spec import ExperimentSpec, is_search_space, result_key, sample_value
from behaviorlab.platform.wandb_settings import WandbSettings
from behaviorlab.platform.wandb_settings import resolve as resolve_wandb

DEFAULT_RESULTS_DIR = Path(os.environ.get("BEHAVIORLAB_RESULTS", "~/behaviorlab_results")).expanduser()
META_DIR = "behaviorlab"  # inside each experiment directory: spec, commit, versions
SMOKE_ITERATIONS = 2
# --smoke: at most this many envs per runner, and these caps on config values (a few iterations
# need neither big batches nor a big replay buffer, nor wait long before learning starts).
SMOKE_ENVS_PER_RUNNER = 2
SMOKE_REPLAY_CAPACITY = 5_000
SMOKE_TRAIN_BATCH = 512
SMOKE_ITERATION_STEPS = 400  # min_sample_timesteps_per_iteration (ACER's default 2,000 is minutes on Atari)
SMOKE_CONFIG_CAPS = {"replay_start": 200, "num_steps_sampled_before_learning_starts": 200}
ENV_RUNNER_RESTART_DELAY_S = 1.0  # RLlib's default is 60 s: a crashed runner would idle a minute
VERSIONED_PACKAGES = ("behaviorlab", "ray", "torch", "gymnasium", "ale-py", "mujoco", "numpy", "wandb", "pydantic")
CONNECT_TIMEOUT_S = 20  # --address: how long to wait for the cluster's GCS port (ray.init retries for ~20 min)
STOP_BUDGET_S = 12  # after SIGINT/SIGTERM: Tune's last save and the teardown, then exit regardless


class RunError(Exception):
    """A run that cannot start; the message says why and what to do."""


class RunInterrupted(Exception):
    """SIGINT or SIGTERM stopped the run; the line saying how to resume is already printed."""

    def __init__(self, exit_code: int):
        super().__init__(exit_code)
        self.exit_code = exit_code


def to_tune(value: Any) -> Any:
    """Replace the spec's search-space mappings (at any depth) by Tune's sampling objects."""
    from ray import tune

    if is_search_space(value):
        kind, args = next(iter(value.items()))
        if kind in ("grid_search", "choice"):
            return getattr(tune, kind)(list(args))
        return getattr(tune, kind)(*args)
    if isinstance(value, dict):
        return {key: to_tune(sub) for key, sub in value.items()}
    return value


def shrink_for_smoke(spec: ExperimentSpec, cpus: int, gpus: int) -> tuple[ExperimentSpec, list[str]]:
    """The same experiment as one trial of a couple of iterations that fits a machine of `cpus` CPUs
    and `gpus` GPUs (a trial takes 1 CPU plus its env runners' and remote learners' share), with
    replay buffers and batches cut to smoke size; and the changes made to resources and config."""
    smoke = spec.model_copy(deep=True)
    smoke.name = f"{spec.name}-smoke"
    smoke.config = {key: sample_value(value) for key, value in spec.config.items()}
    smoke.seeds = spec.seeds[:1]
    smoke.env = spec.envs[0]
    smoke.stop = {"iterations": SMOKE_ITERATIONS}
    smoke.tune.num_samples = 1
    smoke.tune.scheduler = None
    smoke.tune.search = None
    smoke.checkpoint.every = 0
    smoke.checkpoint.at_end = True
    changes: list[str] = []

    def cap(where: dict | Any, key: str, limit: float, label: str) -> None:
        value = where[key] if isinstance(where, dict) else getattr(where, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
            if isinstance(where, dict):
                where[key] = type(value)(limit)
            else:
                setattr(where, key, type(value)(limit))
            changes.append(f"{label} {value:g}→{limit:g}")

    resources = smoke.resources
    cap(resources, "num_learners", 0, "num_learners")  # the learner runs in the algorithm's process
    cap(resources, "num_gpus_per_learner", gpus, "num_gpus_per_learner")
    cap(resources, "num_cpus_per_env_runner", 1, "num_cpus_per_env_runner")
    cap(resources, "num_env_runners", int(max(cpus - 1, 0) // resources.num_cpus_per_env_runner), "num_env_runners")
    cap(resources, "num_envs_per_env_runner", SMOKE_ENVS_PER_RUNNER, "num_envs_per_env_runner")
    fragment = smoke.config.get("rollout_fragment_length")
    for key in ("train_batch_size_per_learner", "train_batch_size"):
        if key in smoke.config:
            limit = SMOKE_TRAIN_BATCH
            if isinstance(fragment, int) and not isinstance(fragment, bool):
                # On-policy algorithms train on whole rounds of fragments from every env (RLlib checks it).
                round_size = max(resources.num_env_runners, 1) * resources.num_envs_per_env_runner * fragment
                limit = round_size * max(1, SMOKE_TRAIN_BATCH // round_size)
            cap(smoke.config, key, limit, key)
    for key, limit in SMOKE_CONFIG_CAPS.items():
        if key in smoke.config:
            cap(smoke.config, key, limit, key)
    # Off-policy algorithms sample at least this many env steps per iteration, set or by default.
    key = "min_sample_timesteps_per_iteration"
    steps = smoke.config.get(key, getattr(algorithm_config_class(spec.algorithm)(), key, None))
    if isinstance(steps, int) and steps > SMOKE_ITERATION_STEPS:
        smoke.config[key] = SMOKE_ITERATION_STEPS
        changes.append(f"{key} {steps}→{SMOKE_ITERATION_STEPS}")
    replay = smoke.config.get("replay_buffer_config")
    if isinstance(replay, dict) and "capacity" in replay:
        smoke.config["replay_buffer_config"] = replay = dict(replay)
        cap(replay, "capacity", SMOKE_REPLAY_CAPACITY, "replay capacity")
    if "minibatch_size" in smoke.config and "train_batch_size_per_learner" in smoke.config:
        cap(smoke.config, "minibatch_size", smoke.config["train_batch_size_per_learner"], "minibatch_size")
    return smoke, changes


def smoke_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """`shrink_for_smoke` to this machine, saying in one line what it did."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    import torch

    gpus = torch.cuda.device_count()
    smoke, changes = shrink_for_smoke(spec, cpus, gpus)
    print(f"smoke: 1 trial ({smoke.env}, seed {smoke.seeds[0]}), {SMOKE_ITERATIONS} iterations on this machine ({cpus} CPUs, "
          f"{gpus} GPUs)" + (f"; shrunk {', '.join(changes)}" if changes else ""), flush=True)
    return smoke


def build_algorithm_config(spec: ExperimentSpec):
    """An AlgorithmConfig whose fields may hold Tune search spaces (Tune resolves them per trial)."""
    from ray import tune

    from behaviorlab.platform.callbacks import stop_on_non_finite

    resources = spec.resources
    config = apply_config(algorithm_config_class(spec.algorithm)(), to_tune(copy.deepcopy(spec.config)))
    envs = spec.envs
    config.environment(env=tune.grid_search(envs) if len(envs) > 1 else envs[0], env_config=dict(spec.env_config))
    config.env_runners(num_env_runners=resources.num_env_runners,
                       num_envs_per_env_runner=resources.num_envs_per_env_runner,
                       num_cpus_per_env_runner=resources.num_cpus_per_env_runner)
    config.learners(num_learners=resources.num_learners, num_gpus_per_learner=resources.num_gpus_per_learner)
    if resources.central_inference:
        from behaviorlab.platform.central_inference import CentralInferenceEnvRunner

        # Weights must reach the inference server through the group's syncs: RLlib's pull-based
        # state server (IMPALA's and APPO's default) would hand them to the runners instead.
        config.env_runners(env_runner_cls=CentralInferenceEnvRunner, use_env_runner_state_server=False)
    config.fault_tolerance(restart_failed_env_runners=True, restart_failed_sub_environments=True,
                           delay_between_env_runner_restarts_s=ENV_RUNNER_RESTART_DELAY_S)
    config.callbacks(on_train_result=stop_on_non_finite)
    config.debugging(seed=tune.grid_search(list(spec.seeds)) if len(spec.seeds) > 1 else spec.seeds[0])
    return config


def trainable_class(spec: ExperimentSpec) -> type:
    """The Tune trainable: the spec's algorithm, served by an inference server with central inference."""
    algorithm = algorithm_class(spec.algorithm)
    if not spec.resources.central_inference:
        return algorithm
    from behaviorlab.platform.central_inference import DEFAULT_TIMEOUT_MS, central_inference_algorithm

    timeout_ms = spec.resources.inference_timeout_ms
    return central_inference_algorithm(algorithm, spec.resources.inference_max_batch,
                                       DEFAULT_TIMEOUT_MS if timeout_ms is None else timeout_ms)


def _scheduler(spec: ExperimentSpec):
    import importlib

    from behaviorlab.platform.spec import SCHEDULERS

    options = dict(spec.tune.scheduler or {})
    kind = options.pop("type", "fifo")
    module_name, _, attr = SCHEDULERS[kind].partition(":")
    scheduler_class = getattr(importlib.import_module(module_name), attr)
    if kind in ("pbt", "pb2"):
        # Tune's default unit is seconds of training; iterations are what a spec author means and
        # do not depend on how loaded the machine is.
        options.setdefault("time_attr", "training_iteration")
    if kind == "pbt":
        options["hyperparam_mutations"] = {
            key: to_tune(space) for key, space in options["hyperparam_mutations"].items()}
    if kind == "fifo":
        return scheduler_class(**options)
    return scheduler_class(metric=result_key(spec.tune.metric), mode=spec.tune.mode, **options)


def _search(spec: ExperimentSpec):
    options = dict(spec.tune.search or {})
    if options.pop("type", "random") == "random":
        return None
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch(metric=result_key(spec.tune.metric), mode=spec.tune.mode, **options)


def trial_dirname(trial) -> str:
    """Trial folders named by index and seed, short enough for every filesystem."""
    seed = trial.config.get("seed")
    index = trial.trial_id.rsplit("_", 1)[-1]
    return f"trial_{index}" + (f"_seed={seed}" if seed is not None else "")


def _logger_callbacks(spec: ExperimentSpec) -> list:
    from ray.tune.logger import TBXLoggerCallback

    from behaviorlab.platform.callbacks import CSVLogger, JsonLogger

    callbacks = [CSVLogger(), JsonLogger()]
    if spec.logging.tensorboard:
        callbacks.append(TBXLoggerCallback())
    wandb = wandb_settings(spec)
    if wandb.mode != "disabled":
        from behaviorlab.platform.callbacks import WandbLogger

        callbacks.append(WandbLogger(project=wandb.project, group=wandb.group, **wandb.init_kwargs()))
    return callbacks


def wandb_settings(spec: ExperimentSpec) -> WandbSettings:
    """The spec's logging.wandb with WANDB_MODE / WANDB_PROJECT / WANDB_ENTITY / WANDB_DIR winning;
    online only where a key is configured, so a run never blocks on the network."""
    return resolve_wandb(spec.logging.wandb, spec.name)


def wandb_mode(spec: ExperimentSpec) -> str:
    return wandb_settings(spec).mode


def build_tuner(spec: ExperimentSpec, storage: str):
    from ray import tune

    from behaviorlab.platform.callbacks import ProgressPrinter

    metric = result_key(spec.tune.metric)
    tune_config = tune.TuneConfig(
        num_samples=spec.tune.num_samples, scheduler=_scheduler(spec), search_alg=_search(spec),
        max_concurrent_trials=spec.tune.max_concurrent_trials, trial_dirname_creator=trial_dirname,
        metric=None if spec.tune.scheduler or spec.tune.search else metric,
        mode=None if spec.tune.scheduler or spec.tune.search else spec.tune.mode)
    run_config = tune.RunConfig(
        name=spec.name, storage_path=storage,
        stop={result_key(name): value for name, value in spec.stop.items()},
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=spec.checkpoint.every,
                                                checkpoint_at_end=spec.checkpoint.at_end,
                                                num_to_keep=spec.checkpoint.keep),
        callbacks=[ProgressPrinter(metric), *_logger_callbacks(spec)],
        verbose=0)
    return tune.Tuner(trainable_class(spec), param_space=build_algorithm_config(spec), tune_config=tune_config, run_config=run_config)


def _git_commit() -> dict[str, Any]:
    source = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


@dataclass
class ResultsLocation:
    """Where experiment directories go: a local directory, or a URI (s3://, gs://, …) that every
    node of a multi-node cluster can write to. All file access goes through pyarrow's filesystem,
    the one Tune itself uses for storage."""

    uri: str          # as given (local paths made absolute)
    filesystem: Any   # pyarrow.fs.FileSystem
    path: str         # the path inside that filesystem

    @classmethod
    def parse(cls, results_dir: str | Path) -> ResultsLocation:
        import pyarrow.fs

        text = str(results_dir)
        if "://" in text:
            try:
                filesystem, path = pyarrow.fs.FileSystem.from_uri(text)
            except (pyarrow.ArrowInvalid, pyarrow.ArrowNotImplementedError, OSError) as error:
                raise RunError(f"--results-dir {text}: {error}; use a local path or an s3://, gs:// or "
                               "file:// URI whose credentials are configured") from None
            return cls(text.rstrip("/"), filesystem, path.rstrip("/"))
        local = Path(text).expanduser().resolve()
        blocking = next((p for p in (local, *local.parents) if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise RunError(f"--results-dir {text}: {blocking} is a file, not a directory; "
                           "give a directory (it is created if missing)")
        return cls(str(local), pyarrow.fs.LocalFileSystem(), str(local))

    @property
    def is_remote(self) -> bool:
        import pyarrow.fs

        return not isinstance(self.filesystem, pyarrow.fs.LocalFileSystem)

    def child(self, name: str) -> str:
        return f"{self.uri}/{name}"

    def existing_names(self, under: str = "") -> set[str]:
        """Directories in the results directory, or in its subdirectory `under`."""
        import pyarrow.fs

        selector = pyarrow.fs.FileSelector(f"{self.path}/{under}".rstrip("/"), allow_not_found=True)
        return {info.base_name for info in self.filesystem.get_file_info(selector)
                if info.type == pyarrow.fs.FileType.Directory}

    def reserve(self, name: str) -> bool:
        """Create the experiment directory `name` if no one else has: True when this process got it.
        Atomic on a local filesystem (mkdir). Object stores have no atomic create, so there each
        claimant writes a marker and keeps the name only if its marker is the only one."""
        import uuid

        import pyarrow.fs

        target = f"{self.path}/{name}"
        try:
            if not self.is_remote:
                os.makedirs(self.path, exist_ok=True)
                os.mkdir(target)
                return True
            if self.filesystem.get_file_info(target).type != pyarrow.fs.FileType.NotFound:
                return False
            marker = f"{META_DIR}/reserved-{uuid.uuid4().hex}"
            self.write_text(f"{name}/{marker}", "")
            selector = pyarrow.fs.FileSelector(target, recursive=True)
            if {info.path for info in self.filesystem.get_file_info(selector)
                    if info.type == pyarrow.fs.FileType.File} == {f"{target}/{marker}"}:
                return True
            self.filesystem.delete_file(f"{target}/{marker}")
            return False
        except FileExistsError:
            return False
        except OSError as error:
            raise RunError(f"--results-dir {self.uri}: cannot create {name} there ({error}); "
                           "give a directory you can write to") from None

    def write_text(self, relative: str, text: str) -> None:
        target = f"{self.path}/{relative}"
        self.filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with self.filesystem.open_output_stream(target) as stream:
            stream.write(text.encode())


def record_run(results: ResultsLocation, exp_name: str, spec_path: Path, spec: ExperimentSpec, *,
               resumed: bool) -> None:
    """Write the spec, git commit and package versions next to the results."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    info = {"started": stamp, "resumed": resumed, "argv": sys.argv, "spec_file": str(spec_path.resolve()),
            "git": _git_commit(), "versions": _versions(), "spec": spec.model_dump()}
    name = f"resume-{stamp}.json" if resumed else "run.json"
    results.write_text(f"{exp_name}/{META_DIR}/{name}", json.dumps(info, indent=2, default=str))
    if not resumed:
        results.write_text(f"{exp_name}/{META_DIR}/spec.yaml", spec.effective_yaml(spec_path))


def experiment_name(results: ResultsLocation, name: str, resume: bool) -> str:
    """A new directory per run (`name`, `name-2`, …) so no earlier result is ever overwritten;
    with `resume`, the newest existing one."""
    present = results.existing_names()
    numbered = sorted(int(n[len(name) + 1:]) for n in present if n.startswith(f"{name}-") and n[len(name) + 1:].isdigit())
    existing = ([name] if name in present else []) + [f"{name}-{number}" for number in numbered]
    if resume:
        if not existing:
            raise RunError(f"nothing to resume: no results for '{name}' under {results.uri}; run without --resume")
        return existing[-1]
    if not existing:
        return name
    return f"{name}-{(numbered[-1] if numbered else 1) + 1}"


def reserve_experiment(results: ResultsLocation, name: str, attempts: int = 100) -> str:
    """`experiment_name`, with its directory created before anything starts, so that runs started
    at the same time (here or from other machines) never share one: the later one gets the next
    number."""
    candidate = experiment_name(results, name, resume=False)
    first = 1 if candidate == name else int(candidate[len(name) + 1:])
    for number in range(first, first + attempts):
        candidate = name if number == 1 else f"{name}-{number}"
        if results.reserve(candidate):
            return candidate
    raise RunError(f"--results-dir {results.uri}: {attempts} runs of '{name}' being created at once; "
                   "wait for some to start, or give another --name")


def _started(results: ResultsLocation, name: str) -> bool:
    """Whether the run left something to resume: Tune's experiment state and a trial."""
    from ray import tune

    return (any(n.startswith("trial_") for n in results.existing_names(name))
            and tune.Tuner.can_restore(results.child(name)))


def _discard_unstarted(results: ResultsLocation, name: str) -> None:
    """Remove a reserved directory whose run ended before any trial: it holds only our records."""
    if not any(n.startswith("trial_") for n in results.existing_names(name)):
        results.filesystem.delete_dir(f"{results.path}/{name}")


def resume_command(spec_path: Path, results: ResultsLocation, name: str, *, smoke: bool,
                   address: str | None, overrides: tuple[str, ...] = ()) -> str:
    """The command that continues this very run (by its directory's name, not 'the newest'), with
    the run's --set overrides: a resumed run rebuilds its configuration from the spec."""
    return shlex.join(["behaviorlab", "run", str(spec_path), *(["--smoke"] if smoke else []),
                       *(["--address", address] if address else []), "--results-dir", results.uri,
                       *(part for item in overrides for part in ("--set", item)), "--resume", name])


class _SignalStop:
    """SIGINT and SIGTERM stop the run as Tune stops on Ctrl-C (trials stopped, experiment state
    saved; Tune's handler is on SIGUSR1 when its own SIGINT one is disabled), and arm a watchdog
    that exits after STOP_BUDGET_S whatever the teardown is doing; a second signal exits at once.
    Exit code 128 + the signal, after one line saying how to resume (or that nothing started)."""

    def __init__(self, closing_line):
        self.signum: int | None = None
        self.in_fit = False
        self._closing_line = closing_line  # () -> str, read when the run ends
        self._said = threading.Lock()
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or 0)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Also after ray.init: Ray's C++ core replaced SIGTERM's handler with one that dumps
            # a stack trace and aborts.
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            self.exit_now()
        self.signum = signum
        print(f"\nbehaviorlab: {signal.Signals(signum).name}: stopping the trials and saving the experiment "
              f"state (at most {STOP_BUDGET_S} s; press Ctrl-C again to exit at once)", file=sys.stderr, flush=True)
        threading.Thread(target=self._watchdog, daemon=True).start()
        tune_stop = signal.getsignal(signal.SIGUSR1)
        if self.in_fit and callable(tune_stop):
            tune_stop(signum, frame)
        else:
            raise KeyboardInterrupt

    def say(self) -> None:
        """Print the closing line, once, whichever thread ends the run."""
        if self._said.acquire(blocking=False):
            sys.stdout.flush()
            print(self._closing_line(), file=sys.stderr, flush=True)

    def exit_now(self) -> None:
        self.say()
        os._exit(self.exit_code)

    def _watchdog(self) -> None:
        time.sleep(STOP_BUDGET_S)
        self.exit_now()


def prepare_cluster_auth(address: str | None) -> None:
    """Ray 2.60 clusters require token authentication, and a client must opt in through
    RAY_AUTH_MODE before Ray is first imported; call this before anything imports ray."""
    address = address or os.environ.get("RAY_ADDRESS")
    token = Path("~/.ray/auth_token").expanduser()
    if address and address != "local" and (token.exists() or os.environ.get("RAY_AUTH_TOKEN")):
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def prepare_local_node(address: str | None) -> None:
    """An embedded Ray (no --address) listens on 127.0.0.1 only: by default its GCS, raylet,
    workers and metrics ports listen on every interface, without authentication. Ray binds to
    loopback when its node address is loopback, which it is with this switch off (its default on
    macOS and Windows); call this before anything imports ray."""
    if not (address or os.environ.get("RAY_ADDRESS")):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


def _check_reachable(address: str) -> None:
    """ray.init retries an address where nothing listens for about 20 minutes: wait for the GCS
    port for CONNECT_TIMEOUT_S instead."""
    from ray._private.services import canonicalize_bootstrap_address_or_die, parse_address

    if address.startswith("ray://"):
        host, port = parse_address(address.removeprefix("ray://"))
    else:
        host, port = parse_address(canonicalize_bootstrap_address_or_die(address))
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise RunError(f"cannot connect to Ray at {address}: nothing answered at {host}:{port} for "
                               f"{CONNECT_TIMEOUT_S} s ({error.strerror or error}); start the cluster "
                               "(`ray start --head`, `ray up`) or check the address and port") from None
            time.sleep(1)


def _ray_init(address: str | None, spec: ExperimentSpec, verbose: bool) -> None:
    # RLlib reports no episode return until an episode has ended; that is not an error.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    if not verbose:
        # Before Ray starts: Tune's boxed overview would bury the progress lines.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    env_vars = {"WANDB_MODE": wandb_mode(spec), "WANDB_SILENT": "true",
                "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::UserWarning",
                # Ray leaves the variable unset in trial actors, so torch takes every core; on a
                # busy 2-core machine a small MLP update took 130-170 ms that way vs 4-6 ms on one.
                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if env_vars["WANDB_MODE"] == "online" and os.environ.get("WANDB_API_KEY"):
        env_vars["WANDB_API_KEY"] = os.environ["WANDB_API_KEY"]
    os.environ.update({k: v for k, v in env_vars.items() if k != "WANDB_API_KEY"})
    # Inside `ray job submit`, Ray merges this runtime env into the job's and refuses duplicate keys:
    # variables the job already sets (e.g. --runtime-env-json '{"env_vars": {"WANDB_MODE": …}}') win.
    job_runtime_env = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")).get("runtime_env") or {}
    env_vars = {k: v for k, v in env_vars.items() if k not in (job_runtime_env.get("env_vars") or {})}
    runtime_env = {"env_vars": env_vars}
    if "worker_process_setup_hook" not in job_runtime_env:
        runtime_env["worker_process_setup_hook"] = "behaviorlab.platform.logs.quiet_worker"
    if address:
        try:
            _check_reachable(address)
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=verbose,
                     logging_level=logging.INFO if verbose else logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as error:
            hint = ("if the cluster uses token authentication, put its token (`ray get-auth-token` on the head) "
                    "in ~/.ray/auth_token or RAY_AUTH_TOKEN")
            raise RunError(f"cannot connect to Ray at {address}: {str(error).splitlines()[0]}; {hint}") from None
    else:
        _start_local_ray(ray, verbose, include_dashboard=True, dashboard_host="127.0.0.1", runtime_env=runtime_env,
                         log_to_driver=verbose, logging_level=logging.INFO if verbose else logging.ERROR)


LOCAL_RAY_START_ATTEMPTS = 3


def _start_local_ray(ray, verbose: bool, **init_kwargs) -> None:
    """`ray.init` for an embedded local Ray, tried up to LOCAL_RAY_START_ATTEMPTS times: Ray gives its
    raylet a fixed 30 s to register (not configurable in 2.60), which a busy 2-core machine can miss."""
    for attempt in range(1, LOCAL_RAY_START_ATTEMPTS + 1):
        try:
            ray.init(**init_kwargs)
            return
        except Exception as error:  # e.g. "The current node timed out during startup" on a loaded machine
            ray.shutdown()  # stops the half-started node's processes before the next try
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            if attempt < LOCAL_RAY_START_ATTEMPTS:
                print(f"behaviorlab: Ray did not start ({reason}); retrying ({attempt + 1}/{LOCAL_RAY_START_ATTEMPTS})",
                      file=sys.stderr, flush=True)
                continue
            if verbose:
                raise
            raise RunError(f"Ray did not start on this machine after {LOCAL_RAY_START_ATTEMPTS} tries: {reason}; "
                           "retry when it is less loaded, or rerun with --verbose for Ray's logs") from None


@dataclass
class RunOutcome:
    exp_dir: str
    num_trials: int
    num_errors: int


def run_experiment(spec_path: Path, spec: ExperimentSpec, *, address: str | None = None, smoke: bool = False,
                   resume: bool | str = False, results_dir: str | Path | None = None,
                   verbose: bool = False) -> RunOutcome:
    """`resume`: True for the newest run of the spec's name, or the name of the run's directory.
    Raises RunError (cannot start) or RunInterrupted (SIGINT/SIGTERM)."""
    from ray import tune

    address = address or os.environ.get("RAY_ADDRESS")  # `ray job submit` sets RAY_ADDRESS
    if smoke:
        spec = smoke_spec(spec)
    results_location = ResultsLocation.parse(results_dir or DEFAULT_RESULTS_DIR)
    if isinstance(resume, str):  # the exact directory (the line printed on Ctrl-C names it)
        if resume not in results_location.existing_names():
            raise RunError(f"--resume {resume}: no such experiment under {results_location.uri}; "
                           "give a directory name from there, or --resume alone for the newest run of this spec")
        spec.name = resume
    elif resume:
        spec.name = experiment_name(results_location, spec.name, resume=True)
    exp_dir = results_location.child(spec.name)
    if resume and not tune.Tuner.can_restore(exp_dir):
        raise RunError(f"cannot resume {exp_dir}: it holds no Tune experiment state; run without --resume")
    if resume:  # before anything starts or is written: on a damaged state Tune restarts over the results
        from behaviorlab.platform.state_check import check_resumable
        check_resumable(exp_dir)
    if not resume:
        spec.name = reserve_experiment(results_location, spec.name)
        exp_dir = results_location.child(spec.name)
    command = resume_command(spec_path, results_location, spec.name, smoke=smoke, address=address,
                             overrides=spec.overrides)
    stop = _SignalStop(lambda: f"interrupted; the trials' state is saved in {exp_dir}; continue with:\n  {command}"
                       if _started(results_location, spec.name) else "interrupted before any trial started")
    stop.install()
    try:
        outcome = _start_and_fit(spec_path, spec, results_location, command, stop, address=address,
                                 resume=bool(resume), verbose=verbose)
    except KeyboardInterrupt:  # from the handler, before the trials started
        outcome = None
    finally:
        stop.restore()
        if not resume:  # a run that failed or was stopped before any trial leaves nothing behind
            _discard_unstarted(results_location, spec.name)
    if outcome is None:
        stop.signum = stop.signum or signal.SIGINT
        stop.say()
        import ray

        ray.shutdown()  # here, where the watchdog still bounds it
        raise RunInterrupted(stop.exit_code)
    return outcome


def _start_and_fit(spec_path: Path, spec: ExperimentSpec, results_location: ResultsLocation, command: str,
                   stop: _SignalStop, *, address: str | None, resume: bool, verbose: bool) -> RunOutcome | None:
    """Start Ray and run the Tuner; None when a signal stopped it."""
    from ray import tune

    from behaviorlab.envs import register_with_tune

    exp_dir = results_location.child(spec.name)
    print(f"behaviorlab: {spec.algorithm} on {spec.env_label} → {exp_dir}", flush=True)
    _ray_init(address, spec, verbose)
    stop.install()
    for env_id in spec.envs:
        register_with_tune(env_id)
    if not address:  # an attached cluster may autoscale
        check_trial_fits(spec)
    record_run(results_location, spec.name, spec_path, spec, resumed=resume)
    if resume:
        # The same param_space again: trials that Tune's searcher had not yet saved hold placeholders
        # for its objects (RLModule classes, …), resolved only from a param_space passed here.
        tuner = tune.Tuner.restore(exp_dir, trainable=trainable_class(spec),
                                   param_space=build_algorithm_config(spec),
                                   resume_unfinished=True, resume_errored=True)
    else:
        tuner = build_tuner(spec, results_location.uri)
    stop.in_fit = True
    try:
        results = tuner.fit()
    except Exception as error:  # a failure outside any trial (e.g. a config RLlib rejects at start)
        if stop.signum is not None:
            return None
        if verbose:
            raise
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        resumable = _started(results_location, spec.name)
        raise RunError(f"the run stopped: {first_line}; rerun with --verbose for the traceback"
                       + (f", or continue it with: {command}" if resumable else "")) from None
    finally:
        stop.in_fit = False
    if stop.signum is not None:
        return None
    _print_summary(spec, exp_dir, results, remote=results_location.is_remote)
    return RunOutcome(exp_dir, len(results), len(results.errors))


def check_trial_fits(spec: ExperimentSpec) -> None:
    """On a fixed-size cluster, a trial needing more CPUs/GPUs than exist would wait forever."""
    import ray

    sample = spec.model_copy(deep=True)  # one concrete trial: RLlib cannot validate search spaces
    sample.config, sample.seeds = sample_value(spec.config), spec.seeds[:1]
    config = build_algorithm_config(sample)
    needed = trainable_class(spec).default_resource_request(config).required_resources
    available = ray.cluster_resources()
    for resource in ("CPU", "GPU"):
        if needed.get(resource, 0) > available.get(resource, 0):
            raise RunError(
                f"one trial needs {needed[resource]:g} {resource}s (1 for the algorithm plus its env runners and "
                f"learners) but this Ray cluster has {available.get(resource, 0):g}; lower resources.num_env_runners / "
                f"num_learners / num_gpus_per_learner in the spec, or run on a bigger cluster with --address")


def _read_trial(result) -> Trial | None:
    """A finished trial's rows and parameters, read from result.json on whichever filesystem holds it."""
    from behaviorlab.platform.results import flatten

    try:
        with result.filesystem.open_input_stream(f"{result.path}/result.json") as stream:
            rows = parse_result_lines(stream.read().decode().splitlines())
    except (FileNotFoundError, OSError):
        return None
    return Trial(result.path.rsplit("/", 1)[-1], flatten(result.config or {}), rows)


def mean_std_text(values: list[float]) -> str:
    """`mean ± std over n seeds (min .., max ..)`, the sample std as in the report's tables; one value alone."""
    import statistics

    if len(values) == 1:
        return f"{values[0]:.4g} (1 seed)"
    return (f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.3g} over {len(values)} seeds "
            f"(min {min(values):.4g}, max {max(values):.4g})")


def _print_summary(spec: ExperimentSpec, exp_dir: str, results, *, remote: bool) -> None:
    """Per configuration the final metric's mean ± std over its seeds (a configuration's trials
    differ only in their seed), then the best configuration and the best trial (not over an env grid)."""
    from behaviorlab.platform.report import Experiment, best_group

    metric = result_key(spec.tune.metric)
    print(f"\nresults: {exp_dir}")
    trials = [trial for trial in map(_read_trial, results) if trial is not None]
    experiment = Experiment(Path(exp_dir), trials, spec.model_dump())
    groups = experiment.groups() if trials else {}
    reported = False
    for label, group in groups.items():
        finals = [value for value in (trial.final(metric) for trial in group) if value is not None]
        if finals:
            reported = True
            print(f"{label + ': ' if len(groups) > 1 else ''}final {spec.tune.metric} = {mean_std_text(finals)}")
    if not reported:
        print(f"no trial reported {spec.tune.metric}")
    elif len(spec.envs) == 1:  # across an env grid the values are not comparable: no best
        best_config = best_group(experiment, metric) if len(groups) > 1 else None
        if best_config:
            print(f"best configuration: {best_config[0]} ({best_config[1]})")
        sign = 1 if spec.tune.mode == "max" else -1
        _, name, value = max((sign * value, trial.name, value) for trial in trials
                             if (value := trial.final(metric)) is not None)
        print(f"best trial: {name}  final {spec.tune.metric} = {value:.4g}")
    if results.errors:
        print(f"{len(results.errors)} of {len(results)} trials failed; their error.txt files say why")
    local_dir = f"./{spec.name}" if remote else exp_dir.removeprefix("file://")
    if remote:
        print(f"copy it for reports: aws s3 sync / gsutil -m rsync -r {exp_dir} {local_dir}")
    print(f"report: behaviorlab report {local_dir}")
    wandb = wandb_settings(spec)
    if wandb.mode == "offline":
        # WandbLoggerCallback runs on the driver: offline runs lie under the driver's copy.
        print(f"wandb (offline): wandb sync {wandb.offline_runs(local_dir)}")
