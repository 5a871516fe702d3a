"""Run a shipped spec through the real CLI with a learning test's budget and read its one trial."""

import math
import subprocess
import sys
from pathlib import Path

import yaml

from behaviorlab.platform.report import read_results
from tests.integration.conftest import REPO, cli_env


def run_spec(spec_path: str, name: str, stop: dict, workdir: Path) -> list[dict]:
    """`behaviorlab run` of REPO/spec_path with seed 0, the given stop conditions and no loggers;
    returns the trial's result rows."""
    spec = yaml.safe_load((REPO / spec_path).read_text())
    spec.update(name=name, seeds=[0], stop=stop, logging={"wandb": {"mode": "disabled"}, "tensorboard": False})
    spec_file = workdir / f"{name}.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec_file)], cwd=REPO,
                          env=cli_env(workdir / "results"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (trial,) = (workdir / "results" / name).glob("trial_*")
    return read_results(trial)


def best_return(rows: list[dict]) -> float:
    """The best reported mean return; -inf if no episode ended (a missing value is not 0: returns
    can be negative)."""
    returns = [r.get("env_runners/episode_return_mean") for r in rows]
    return max((v for v in returns if isinstance(v, (int, float)) and math.isfinite(v)), default=-math.inf)
