"""The causal-confusion study's smoke run on the committed MountainCar expert and its demonstrations:
every stage runs (BC ×2, 8 fixed graphs, both interventions, DAgger), the results are written, and
`behaviorlab report` reads them (one trial per size and seed, a row per intervention episode)."""

import json
from pathlib import Path

import numpy as np
import pytest

from behaviorlab.algorithms.causal_confusion.__main__ import main
from behaviorlab.platform.cli import main as cli
from behaviorlab.platform.report import load_experiment

pytestmark = pytest.mark.integration
SPEC = Path(__file__).parents[2] / "benchmarks" / "causal_confusion" / "mountaincar.yaml"


def test_smoke_study_writes_every_measurement(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(SPEC.parents[2])  # the spec's data paths are relative to the repository
    assert main([str(SPEC), "--smoke", "--out", str(tmp_path)]) == 0
    (run,) = json.loads((tmp_path / "runs.json").read_text())
    assert sorted(run["mask_returns"]) == [format(i, "03b") for i in range(8)]
    assert all(-200 <= value <= 0 for value in run["mask_returns"].values())
    assert all(-200 <= run[key] <= 0 for key in ("bc_original", "bc_confounded", "dropout_bc"))
    assert set(run["execution_chosen"]) == {"3"} and set(run["query_chosen"]) == set(run["dagger"]) == {"20"}
    assert "ORIGINAL BC" in (tmp_path / "summary.md").read_text() and "size 300 seed 0" in capsys.readouterr().out

    (trial,) = load_experiment(tmp_path).trials
    assert trial.params == {"dataset_size": 300, "seed": 0}
    chosen = [run["mask_returns"][key] for key in run["execution_modes"]]
    assert trial.series("env_runners/episode_return_mean") == (list(np.cumsum(run["execution_lengths"])), chosen)
    assert cli(["report", str(tmp_path)]) == 0
    assert "size300_seed0 | 0 | 3 |" in (tmp_path / "report" / "trials.md").read_text()


def test_spec_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.read_text() + "seedz: 3\n")
    assert main([str(bad)]) == 2
    assert "seedz" in capsys.readouterr().err
