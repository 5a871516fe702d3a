"""CI learning test: the shipped ACER CartPole spec learns within a small budget.

Env CartPole-v1, budget 25k env steps, seed 0, threshold: best mean return (100-episode window) ≥ 300.
Measured (docs/benchmarks.md): seeds 0–2 pass 150 by ~6k env steps, 300 by 11–17k and 475 at ~30k;
random play is ~22.
"""

import subprocess
import sys

import pytest
import yaml

from behaviorlab.platform.report import read_results
from tests.integration.conftest import REPO, cli_env

pytestmark = pytest.mark.learning

BUDGET_ENV_STEPS = 25_000
THRESHOLD = 300.0


def test_acer_learns_cartpole(tmp_path):
    spec = yaml.safe_load((REPO / "experiments/acer/cartpole.yaml").read_text())
    spec.update(name="acer-learning", seeds=[0], stop={"env_steps": BUDGET_ENV_STEPS},
                logging={"wandb": {"mode": "disabled"}, "tensorboard": False})
    spec_file = tmp_path / "acer.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec_file)], cwd=REPO,
                          env=cli_env(tmp_path / "results"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (trial,) = (tmp_path / "results" / "acer-learning").glob("trial_*")
    rows = read_results(trial)
    best = max(r.get("env_runners/episode_return_mean", 0) or 0 for r in rows)
    assert rows[-1]["num_env_steps_sampled_lifetime"] <= BUDGET_ENV_STEPS + 3000
    assert best >= THRESHOLD, f"best mean return {best:.1f} < {THRESHOLD} within {BUDGET_ENV_STEPS} env steps"
