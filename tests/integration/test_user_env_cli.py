"""A user's env and algorithm config in a package next to the spec, run from its own directory through
the real CLI with no PYTHONPATH to it; `--set` overrides validated and recorded."""

import subprocess
import sys
import textwrap

import pytest
import yaml

from .conftest import cli_env

pytestmark = pytest.mark.integration

PACKAGE = {
    "__init__.py": """
        import gymnasium as gym


        class Corridor(gym.Env):
            \"\"\"Walk right to the end of a corridor; Discrete observations (one-hot for RLlib).\"\"\"

            observation_space = gym.spaces.Discrete(4)
            action_space = gym.spaces.Discrete(2)

            def __init__(self, length=4):
                self.length = length

            def reset(self, *, seed=None, options=None):
                super().reset(seed=seed)
                self.pos = 0
                return self.pos, {}

            def step(self, action):
                self.pos = max(0, min(self.length - 1, self.pos + (1 if action else -1)))
                done = self.pos == self.length - 1
                return self.pos, float(done), done, False, {}


        gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=20)
        """,
    "algos.py": """
        from ray.rllib.algorithms.ppo import PPOConfig


        class MyPPOConfig(PPOConfig):
            pass
        """,
}
SPEC = """\
algorithm: corridor_pkg.algos:MyPPOConfig
env: corridor_pkg:Corridor-v0
config:
  lr: ${LR:-3e-4}
  train_batch_size_per_learner: 64
  minibatch_size: 32
  num_epochs: 1
resources: {num_env_runners: 1}
stop: {env_steps: 1000}
logging: {wandb: {mode: disabled}, tensorboard: false}
"""


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "corridor_pkg").mkdir()
    for name, text in PACKAGE.items():
        (tmp_path / "corridor_pkg" / name).write_text(textwrap.dedent(text))
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path


def behaviorlab(user_dir, *args, timeout=300):
    """The CLI run from the user's directory, which is on no PYTHONPATH."""
    return subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", *args], cwd=user_dir,
                          env=cli_env(user_dir / "results"), capture_output=True, text=True, timeout=timeout)


def test_validate_user_env_and_algorithm_and_set_errors_name_the_key(user_dir):
    ok = behaviorlab(user_dir, "validate", "spec.yaml", "--set", "env_config.length=6")
    assert ok.returncode == 0, ok.stderr
    assert "ok: spec.yaml (corridor_pkg.algos:MyPPOConfig on corridor_pkg:Corridor-v0)" in ok.stdout
    for override, expected in [
        ("env=corridor_pkg:Coridor-v0", "spec.yaml:--set env: module 'corridor_pkg' has no attribute or registered "
                                        "env id 'Coridor-v0'; did you mean 'corridor_pkg:Corridor-v0'?"),
        ("config.lrr=1e-3", "spec.yaml:--set config.lrr: MyPPOConfig has no field 'lrr'; did you mean 'lr'?"),
        ("algorithm=corridor_pkg:Corridor", "spec.yaml:--set algorithm: 'corridor_pkg:Corridor' is a class, not an "
                                            "AlgorithmConfig subclass"),
    ]:
        bad = behaviorlab(user_dir, "validate", "spec.yaml", "--set", override)
        assert bad.returncode == 2 and bad.stderr.startswith(f"error: {expected}"), (override, bad.stderr)
        assert bad.stderr.count("\n") == 1


def test_smoke_run_of_a_user_env_records_the_overrides(user_dir):
    done = behaviorlab(user_dir, "run", "spec.yaml", "--smoke", "--set", "config.lr=1e-3", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (saved,) = (user_dir / "results").glob("*/behaviorlab/spec.yaml")
    recorded = yaml.safe_load(saved.read_text())
    assert recorded["config"]["lr"] == 0.001 and recorded["env"] == "corridor_pkg:Corridor-v0"
