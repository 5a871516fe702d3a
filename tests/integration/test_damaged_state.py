"""`behaviorlab run --resume` on an experiment whose saved state is damaged: one line naming the
damaged file, exit 2, and nothing in the experiment directory changed (issue 23). Before, a
truncated experiment_state-*.json made Tune log a traceback and start the trials again from
iteration 1 over their checkpoints and rows, and a truncated pickle gave a 30-line traceback."""

import hashlib
import json
import math
import shutil
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from behaviorlab.platform.state_check import EXPERIMENT_STATE, _checkpoints_to_restore, find_damage

pytestmark = pytest.mark.integration

NAME = "broken-state"
# Checkpoints at iterations 1 and 2, then the trial fails at iteration 3 (ERROR: a resume restores
# it from its latest checkpoint), so the run ends by itself, deterministically, with no kill.
SPEC = """\
algorithm: PPO
env: test_damaged_state:LateInfiniteRewardCartPole
config: {train_batch_size_per_learner: 500, minibatch_size: 250, num_epochs: 2}
resources: {num_env_runners: 1}
logging: {wandb: {mode: disabled}, tensorboard: false}
stop: {iterations: 10}
checkpoint: {every: 1}
"""


class LateInfiniteRewardCartPole(gym.Wrapper):
    """CartPole whose reward becomes +inf after 1,000 steps (the first two iterations' worth): the
    non-finite-return guard then fails the trial. Loaded by SPEC from this module."""

    def __init__(self, finite_steps: int = 1000):
        super().__init__(gym.wrappers.TimeLimit(CartPoleEnv(), max_episode_steps=500))
        self.finite_steps, self.steps = finite_steps, 0

    def step(self, action):
        self.steps += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward if self.steps <= self.finite_steps else math.inf, terminated, truncated, info


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def _latest_checkpoint(exp_dir: Path) -> Path:
    state = json.loads(max(exp_dir.glob(EXPERIMENT_STATE)).read_text())
    ((trial_dir, checkpoint),) = _checkpoints_to_restore(state)
    return exp_dir / trial_dir / checkpoint


@pytest.fixture(scope="module")
def errored_run(tmp_path_factory):
    """A real experiment directory: trial ERROR after checkpoints 000000 and 000001."""
    import subprocess
    import sys

    from .conftest import REPO, cli_env

    root = tmp_path_factory.mktemp("errored")
    spec = root / f"{NAME}.yaml"
    spec.write_text(SPEC)
    proc = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", str(spec)], cwd=REPO,
                          env=cli_env(root / "results"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "1 of 1 trials failed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    exp_dir = root / "results" / NAME
    assert find_damage(str(exp_dir)) is None
    assert _latest_checkpoint(exp_dir).name == "checkpoint_000001"
    return spec, exp_dir


def _truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


DAMAGES = {
    "truncated experiment state": lambda exp: (_truncate(max(exp.glob(EXPERIMENT_STATE))), "truncated or corrupt JSON"),
    "truncated tuner.pkl": lambda exp: (_truncate(exp / "tuner.pkl"), "truncated or corrupt pickle"),
    "truncated module weights": lambda exp: (_truncate(_latest_checkpoint(exp) / "learner_group" / "learner" / "rl_module"
                                                       / "default_policy" / "module_state.pkl"),
                                             "truncated or corrupt pickle"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_resume_refuses_a_damaged_state_and_changes_nothing(errored_run, run_cli, damage):
    spec, original = errored_run
    exp_dir = run_cli.results / NAME
    shutil.copytree(original, exp_dir)
    damaged_file, problem = DAMAGES[damage](exp_dir)
    before = _snapshot(run_cli.results)
    proc = run_cli("run", spec, "--resume", timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: cannot resume {exp_dir}: {damaged_file} is damaged: {problem}"), lines[0]
    assert "nothing was changed" in lines[0] and "without --resume" in lines[0]
    assert "| iter" not in proc.stdout
    assert _snapshot(run_cli.results) == before  # no row, checkpoint or record written, no new directory


def test_only_what_tune_reads_is_checked(errored_run, tmp_path):
    """A newer checkpoint directory Tune never registered (a kill cut its copy off) is not read by
    a resume, so it does not block one; a file the latest checkpoint's metadata lists, or the
    searcher state Tune restores, does."""
    _, original = errored_run
    exp_dir = tmp_path / NAME
    shutil.copytree(original, exp_dir)
    latest = _latest_checkpoint(exp_dir)
    partial = latest.parent / "checkpoint_000002"
    partial.mkdir()
    (partial / "algorithm_state.pkl").write_bytes(b"\x80\x05")
    assert find_damage(str(exp_dir)) is None
    (latest / "env_runner" / "state.pkl").unlink()  # listed by env_runner/metadata.json
    assert find_damage(str(exp_dir)) == (str(latest / "env_runner" / "state.pkl"), "missing")
    shutil.rmtree(exp_dir)
    shutil.copytree(original, exp_dir)
    searcher = max(exp_dir.glob("basic-variant-state-*.json"))  # a pickle, despite its name
    searcher.write_bytes(b"\x80\x05not a pickle")
    path, problem = find_damage(str(exp_dir))
    assert path == str(searcher) and problem.startswith("truncated or corrupt pickle (")
