"""Tune and RLlib callbacks: concise progress lines, the non-finite metric guard, result logs
that survive trial restarts and a wandb logger that lets an interrupted run end."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

from ray import tune
from ray.air.integrations.wandb import WandbLoggerCallback
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from behaviorlab.platform.results import flatten


class NonFiniteMetricError(FloatingPointError):
    """A loss or return became NaN/inf; training further would only burn compute."""


def non_finite_metric(result: dict) -> str | None:
    """Name of the first loss or episode-return metric that is NaN/inf, or None."""
    flat = flatten(result)
    for key, value in flat.items():
        watched = key.startswith("learners/") and "loss" in key or key.startswith("env_runners/episode_return")
        if watched and isinstance(value, (int, float)) and not math.isfinite(value):
            # NaN is also what an empty window reduces to: no finished episode yet, or an iteration
            # in which an asynchronous learner (IMPALA's thread on a busy machine) finished no update.
            # Only inf, or NaN from a module that did train, is a real failure.
            if math.isnan(value) and (key.startswith("env_runners/") or not _module_trained(flat, key)):
                continue
            return key
    return None


def _module_trained(flat: dict, loss_key: str) -> bool:
    """Whether the module owning `learners/<module>/…loss…` trained on any step this iteration."""
    steps = flat.get(f"learners/{loss_key.split('/')[1]}/num_module_steps_trained")
    return isinstance(steps, (int, float)) and math.isfinite(steps) and steps > 0


def stop_on_non_finite(*, algorithm, metrics_logger=None, result: dict, **kwargs) -> None:
    """RLlib `on_train_result` hook: end the trial, naming the metric, once it is NaN/inf."""
    bad = non_finite_metric(result)
    if bad is not None:
        raise NonFiniteMetricError(
            f"metric '{bad}' became {flatten(result)[bad]} at iteration {result.get('training_iteration')}; "
            "lower the learning rate or check the env's rewards")


def trial_label(trial) -> str:
    """Short trial name: its index plus the parameters that vary between trials, at their current
    values (PBT changes them when a trial exploits another)."""
    current = flatten(trial.config)
    params = " ".join(f"{key.split('/')[-1]}={_short(current.get(key, value))}"
                      for key, value in sorted(trial.evaluated_params.items()))
    index = trial.trial_id.rsplit("_", 1)[-1]
    return f"#{index}" + (f" {params}" if params else "")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


class ProgressPrinter(tune.Callback):
    """One line per training iteration per trial, instead of Ray's multi-screen tables."""

    def __init__(self, metric_key: str):
        self.metric_key = metric_key
        self.start = time.monotonic()
        self._last_steps: dict[str, float] = {}

    def __getstate__(self):  # restored runs print elapsed time since their own start
        return {"metric_key": self.metric_key}

    def __setstate__(self, state):
        self.__init__(state["metric_key"])

    def _print(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.start)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", file=sys.stdout, flush=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        flat = flatten(result)
        steps = flat.get("num_env_steps_sampled_lifetime", 0.0)
        delta = steps - self._last_steps.get(trial.trial_id, steps - flat.get("env_runners/num_env_steps_sampled", 0.0))
        self._last_steps[trial.trial_id] = steps
        rate = delta / max(flat.get("time_this_iter_s", 0.0), 1e-9)
        ret = flat.get("env_runners/episode_return_mean", math.nan)
        parts = [trial_label(trial), f"iter {flat.get('training_iteration', 0):>4}",
                 f"env steps {int(steps):>9,}", f"return {ret:8.2f}" if math.isfinite(ret) else "return        —", f"{rate:7,.0f} steps/s"]
        if self.metric_key not in ("env_runners/episode_return_mean", "training_iteration"):
            value = flat.get(self.metric_key)
            if isinstance(value, (int, float)):
                parts.append(f"{self.metric_key.split('/')[-1]} {value:.4g}")
        failures = flat.get("env_runners/num_env_step_failures", 0) or 0
        if failures:
            parts.append(f"env failures {int(failures)}")
        self._print(" | ".join(parts))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._print(f"{trial_label(trial)} finished")

    def on_trial_error(self, iteration, trials, trial, **info):
        message = "see error.txt in the trial directory"
        if trial.error_file:
            try:
                with open(trial.error_file) as file:
                    lines = [line.strip() for line in file.read().strip().splitlines() if line.strip()]
                message = lines[-1] if lines else message
            except OSError:
                pass
        self._print(f"{trial_label(trial)} FAILED: {message}")


class _KeepLocalRows:
    """Tune re-downloads a trial's log from storage each time the trial restarts (every PBT exploit
    or pause), but storage is synced only periodically, so the stale copy overwrote the rows logged
    since. Download only when this driver has no local copy (a run resumed by a new driver)."""

    def _restore_from_remote(self, file_name: str, trial) -> None:
        if not Path(trial.local_path, file_name).exists():
            super()._restore_from_remote(file_name, trial)


class CSVLogger(_KeepLocalRows, CSVLoggerCallback):
    """progress.csv, one row per reported iteration."""


class JsonLogger(_KeepLocalRows, JsonLoggerCallback):
    """result.json, one line per reported iteration."""


class WandbLogger(WandbLoggerCallback):
    """Ray's wandb logger, except that a run stopped by a signal ends in seconds. Tune stops the
    running trials without `log_trial_end`, so their logging actors never got the END that makes
    them call `wandb.finish`, and `on_experiment_end` waited out the whole upload timeout (30 min)."""

    STOPPED_TRIAL_TIMEOUT_S = 5  # wandb.finish of an offline run takes about a second

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ended: set = set()

    def _signal_logging_actor_stop(self, trial) -> None:
        self._ended.add(trial)
        super()._signal_logging_actor_stop(trial=trial)

    def _cleanup_logging_actor(self, trial) -> None:
        self._ended.discard(trial)  # a restarted trial gets a new actor
        super()._cleanup_logging_actor(trial)

    def on_experiment_end(self, trials, **info):
        stopped = [trial for trial in self._trial_logging_actors if trial not in self._ended]
        for trial in stopped:  # their runs are finished (flushed, closed) rather than killed mid-write
            self._signal_logging_actor_stop(trial)
        if stopped:
            self._upload_timeout = min(self._upload_timeout, self.STOPPED_TRIAL_TIMEOUT_S)
        super().on_experiment_end(trials, **info)
