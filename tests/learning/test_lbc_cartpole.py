"""CI learning test: the shipped LBC CartPole spec learns within a small budget.

Env CartPole-v1, budget 30k env steps, seed 0, threshold: mean return (RLlib's episode_return_mean: the episodes ended in one iteration,
over every behaviour the bandit picks) ≥ 400; the run stops once it gets there.
Measured (experiments/lbc/cartpole.yaml, 2 shared cores): seed 0 reached 480 at 12.1k env steps in
two runs with identical curves (≈ 60 s of training), seed 1 reached 414 at 6.1k, seed 2 483 at 14.2k;
random play is ~22.
"""

import subprocess
import sys

import pytest
import yaml

from behaviorlab.platform.report import read_results
from tests.integration.conftest import REPO, cli_env

pytestmark = pytest.mark.learning

BUDGET_ENV_STEPS = 30_000
THRESHOLD = 400.0


def test_lbc_learns_cartpole(tmp_path):
    spec = yaml.safe_load((REPO / "experiments/lbc/cartpole.yaml").read_text())
    spec.update(name="lbc-learning", seeds=[0], stop={"env_steps": BUDGET_ENV_STEPS, "episode_return_mean": THRESHOLD},
                logging={"wandb": {"mode": "disabled"}, "tensorboard": False})
    spec_file = tmp_path / "lbc.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec_file)], cwd=REPO,
                          env=cli_env(tmp_path / "results"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (trial,) = (tmp_path / "results" / "lbc-learning").glob("trial_*")
    rows = read_results(trial)
    best = max(r.get("env_runners/episode_return_mean", 0) or 0 for r in rows)
    assert rows[-1]["num_env_steps_sampled_lifetime"] <= BUDGET_ENV_STEPS + 3000
    assert best >= THRESHOLD, f"best mean return {best:.1f} < {THRESHOLD} within {BUDGET_ENV_STEPS} env steps"
    # The bandit really ran: every finished episode reached it.
    assert rows[-1]["meta_controller/episodes"] == rows[-1]["env_runners/num_episodes_lifetime"]
