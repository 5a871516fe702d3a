"""Tune's population-based schedulers with one race fixed (Ray 2.60).

In synchronous mode (`synch: true`) the first trials to reach a perturbation point are paused,
and pausing saves a checkpoint. When the last trial arrives while a lower-quantile trial is still
saving, PBT's exploit pauses that trial through Tune's stop path, which records a STOP decision
for "after the save" and drops the save. The trial restarts from the donor's checkpoint as it
should, but its next save picks up the stale STOP and the trial ends early, e.g. at iteration 3 of
8 (seen in CI under load). Tune has no public hook for this, so the exploit drops the stale
decision itself.
"""

from __future__ import annotations

from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining as _TunePBT
from ray.tune.schedulers.pb2 import PB2 as _TunePB2
from ray.tune.schedulers.trial_scheduler import TrialScheduler


class _NoStaleStopOnExploit:
    def _exploit(self, tune_controller, trial: Trial, trial_to_clone: Trial) -> None:
        was_saving = trial.status == Trial.RUNNING and trial.is_saving
        super()._exploit(tune_controller, trial, trial_to_clone)
        if was_saving:
            # The wrapper Tune hands to schedulers keeps the controller as `_tune_controller`.
            cached = tune_controller._tune_controller._cached_trial_decisions
            if cached.get(trial.trial_id) == TrialScheduler.STOP:
                del cached[trial.trial_id]


class PopulationBasedTraining(_NoStaleStopOnExploit, _TunePBT):
    """`ray.tune.schedulers.PopulationBasedTraining`, same arguments."""


class PB2(_NoStaleStopOnExploit, _TunePB2):
    """`ray.tune.schedulers.pb2.PB2`, same arguments."""
