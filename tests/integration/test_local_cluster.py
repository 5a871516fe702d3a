"""A real two-node Ray cluster on this machine: `behaviorlab local-cluster` submits the main job with
`ray job submit`, the trial and its EnvRunner land on different nodes, results land on disk, and
only the processes it started are stopped."""

import json
import re
import subprocess

import pytest

pytestmark = pytest.mark.integration


def _ray_processes() -> dict[int, str]:
    """pid → command line of every raylet and GCS server on the machine."""
    listing = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    rows = (line.strip().split(maxsplit=1) for line in listing.splitlines())
    return {int(row[0]): row[1] for row in rows if len(row) == 2 and ("raylet" in row[1] or "gcs_server" in row[1])}


@pytest.mark.slow
def test_two_node_job_uses_both_nodes_and_writes_results(run_cli, tmp_path):
    before = _ray_processes()
    results = tmp_path / "cluster-results"
    done = run_cli("local-cluster", "experiments/ppo/cartpole.yaml", "--nodes", 2, "--cpus-per-node", 1,
                   "--smoke", "--results-dir", results, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    # Head and worker each have one CPU: the PPO trial takes one, its EnvRunner the other.
    ran = dict(re.findall(r"local cluster: node (\w+) ran (.+)", done.stdout))
    assert len(ran) == 2, done.stdout
    (trial_node,) = [node for node, actors in ran.items() if "PPO ×1" in actors]
    (runner_node,) = [node for node, actors in ran.items() if "SingleAgentEnvRunner" in actors]
    assert trial_node != runner_node

    rows = [json.loads(line) for line in (results / "ppo-cartpole-smoke" / "trial_00000_seed=0" / "result.json")
            .read_text().splitlines()]
    assert [row["training_iteration"] for row in rows] == [1, 2]
    assert rows[-1]["num_env_steps_sampled_lifetime"] > 0
    assert list((results / "ppo-cartpole-smoke" / "trial_00000_seed=0").glob("wandb/offline-run-*"))
    assert "local cluster: stopped" in done.stdout
    # Its nodes are gone (their temp dirs are /tmp/blc-*), and Ray processes that were running before
    # (another cluster) are untouched; Ray instances started meanwhile by other jobs are not ours.
    after = _ray_processes()
    assert before.keys() <= after.keys()
    assert not [args for pid, args in after.items() if pid not in before and "/blc-" in args]


def test_local_cluster_refuses_a_bad_spec_before_starting_nodes(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: 100}\nseeds: []\n")
    done = run_cli("local-cluster", bad, timeout=60)
    assert done.returncode == 2
    assert "seeds" in done.stderr and "starting" not in done.stdout
