"""Central inference through the CLI: two env runners acting via one inference server."""

import pytest

from behaviorlab.platform.report import read_results

pytestmark = pytest.mark.integration

SPEC = """\
algorithm: IMPALA
env: CartPole-v1
config: {min_time_s_per_iteration: 1, train_batch_size_per_learner: 200}
resources: {num_env_runners: 2, num_envs_per_env_runner: 4, num_cpus_per_env_runner: 0.5,
            central_inference: true, inference_timeout_ms: 2}
stop: {iterations: 2}
checkpoint: {every: 0, at_end: true}
logging: {wandb: {mode: disabled}, tensorboard: false}
"""
METRICS = ("central_inference/env_frames_per_s", "env_runners/central_inference/mean_inference_batch",
           "env_runners/central_inference/rtt_p50_ms", "env_runners/central_inference/rtt_p99_ms",
           "central_inference/policy_lag_updates")


def test_two_runner_central_inference_run_reports_its_metrics(run_cli, tmp_path):
    spec = tmp_path / "impala-central.yaml"
    spec.write_text(SPEC)
    proc = run_cli("run", spec, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    trial_dirs = list((run_cli.results / "impala-central").glob("trial_*"))
    assert len(trial_dirs) == 1
    rows = read_results(trial_dirs[0])
    assert [row["training_iteration"] for row in rows] == [1, 2]
    last = rows[-1]
    for key in METRICS:
        assert key in last, f"{key} missing; central keys: {sorted(k for k in last if 'central' in k)}"
    # Both runners' requests can share a server batch: between one runner's 4 envs and all 8.
    assert 4 <= last["env_runners/central_inference/mean_inference_batch"] <= 8
    assert 0 < last["env_runners/central_inference/rtt_p50_ms"] <= last["env_runners/central_inference/rtt_p99_ms"]
    assert last["central_inference/policy_lag_updates"] >= 0
    assert last["num_env_steps_sampled_lifetime"] > 0
    assert list(trial_dirs[0].glob("checkpoint_*")), "the final checkpoint is missing"
