"""Central inference through the CLI: two env runners acting via one inference server."""

import time

import pytest

from behaviorlab.platform.report import read_results

pytestmark = pytest.mark.integration

SPEC = """\
algorithm: IMPALA
env: CartPole-v1
config: {min_time_s_per_iteration: 1, train_batch_size_per_learner: 200}
resources: {num_env_runners: 2, num_envs_per_env_runner: 4, num_cpus_per_env_runner: 0.5,
            central_inference: true, inference_timeout_ms: 2}
stop: {env_steps: 800}   # not an iteration count: on a busy machine IMPALA's runners may not report in 2 iterations
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
    assert [row["training_iteration"] for row in rows] == list(range(1, len(rows) + 1))
    last = rows[-1]
    for key in METRICS:
        assert key in last, f"{key} missing; central keys: {sorted(k for k in last if 'central' in k)}"
    # Both runners' requests can share a server batch: between one runner's 4 envs and all 8.
    assert 4 <= last["env_runners/central_inference/mean_inference_batch"] <= 8
    assert 0 < last["env_runners/central_inference/rtt_p50_ms"] <= last["env_runners/central_inference/rtt_p99_ms"]
    assert last["central_inference/policy_lag_updates"] >= 0
    assert last["num_env_steps_sampled_lifetime"] > 0
    assert list(trial_dirs[0].glob("checkpoint_*")), "the final checkpoint is missing"


def test_each_step_stores_the_distribution_and_weights_version_that_acted(local_ray):
    import numpy as np
    import ray
    import torch
    from ray.rllib.algorithms.impala import IMPALAConfig
    from ray.rllib.core.columns import Columns
    from ray.rllib.utils.metrics import WEIGHTS_SEQ_NO

    from behaviorlab.platform.central_inference import CentralInferenceEnvRunner, InferenceServer

    config = IMPALAConfig().environment("CartPole-v1").env_runners(
        num_envs_per_env_runner=3, env_runner_cls=CentralInferenceEnvRunner)
    runner = CentralInferenceEnvRunner(config=config)
    assert all(p.is_meta for p in runner.module.parameters())  # the runner holds no weights
    spaces = runner.get_spaces()
    module = config.get_rl_module_spec(spaces=spaces, inference_only=True).build()
    server = ray.remote(InferenceServer).remote(config, spaces, 3, 0.001, module.get_state(), 7)
    runner.connect_inference_server(server)

    def check(episodes, version):
        assert sum(map(len, episodes)) >= 30
        for episode in episodes:
            assert set(np.asarray(episode.get_extra_model_outputs(WEIGHTS_SEQ_NO)).tolist()) == {version}
            logits = np.asarray(episode.get_extra_model_outputs(Columns.ACTION_DIST_INPUTS))
            with torch.no_grad():
                expected = module.forward_inference({Columns.OBS: torch.as_tensor(
                    np.asarray(episode.get_observations())[:-1])})[Columns.ACTION_DIST_INPUTS].numpy()
            np.testing.assert_allclose(logits, expected, atol=1e-5)
            log_probs = torch.log_softmax(torch.as_tensor(logits), -1).numpy()
            taken = np.asarray(episode.get_actions())
            np.testing.assert_allclose(np.asarray(episode.get_extra_model_outputs(Columns.ACTION_LOGP)),
                                       log_probs[np.arange(len(taken)), taken], atol=1e-5)

    check(runner.sample(num_timesteps=30), 7)
    with torch.no_grad():  # a push: later steps act with (and record) the new weights
        for parameter in module.parameters():
            parameter.add_(0.5)
    ray.get(server.set_weights.remote(module.get_state(), 9))
    check(runner.sample(num_timesteps=30, force_reset=True), 9)
    runner.stop()


def test_stopping_the_algorithm_ends_its_inference_server(local_ray):
    import ray

    from behaviorlab.platform.runner import build_algorithm_config, trainable_class
    from behaviorlab.platform.spec import ExperimentSpec

    spec = ExperimentSpec.model_validate({
        "algorithm": "IMPALA", "env": "CartPole-v1",
        "resources": {"num_env_runners": 1, "num_envs_per_env_runner": 2, "central_inference": True},
        "stop": {"iterations": 1}})
    algo = trainable_class(spec)(config=build_algorithm_config(spec))
    server = algo.env_runner_group.inference_server
    assert ray.get(server.version.remote()) == 0
    algo.stop()
    # The algorithm object (and its handles) still exists, as in a driver that builds several in turn.
    # ray.kill goes through the GCS while calls go straight to the actor, so a call right after the
    # kill may still be answered: the server must be gone within seconds, not at once.
    deadline = time.monotonic() + 30
    with pytest.raises(ray.exceptions.RayActorError):
        while time.monotonic() < deadline:
            ray.get(server.version.remote(), timeout=30)
            time.sleep(0.2)
