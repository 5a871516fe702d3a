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
