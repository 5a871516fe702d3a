import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def cli_env(results: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env["BEHAVIORLAB_RESULTS"] = str(results)
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture
def run_cli(tmp_path):
    """Run `behaviorlab ...` in a subprocess, results under tmp_path/results."""
    results = tmp_path / "results"

    def run(*args, timeout=300, extra_env=None, **kwargs):
        env = {**cli_env(results), **(extra_env or {})}
        return subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", *map(str, args)], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=timeout, **kwargs)

    run.results = results
    return run


@pytest.fixture(scope="module")
def local_ray():
    """A 2-CPU Ray instance for the tests of one module that build algorithms in-process."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A PPO CartPole-v1 run of 2 iterations (`run --smoke`): a real run directory with a checkpoint,
    shared by the tests that load policies (data collect --policy, eval)."""
    results = tmp_path_factory.mktemp("results")
    done = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "run", "experiments/ppo/cartpole.yaml",
                           "--smoke"], cwd=REPO, env=cli_env(results), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return results / "ppo-cartpole-smoke"
