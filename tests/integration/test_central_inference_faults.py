"""Central inference under faults: an env runner killed mid-run, the inference server killed (issue #29).

IMPALA on CartPole-v1, 2 runners x 4 envs acting through one inference server, built in process as
`behaviorlab run` builds it. Every env step the runners take is counted on disk by the env itself
(one byte per step, one file per process), so the steps the algorithm received can be compared
with the steps the envs took, including those of the killed runner.
"""

import os
import signal
import time

import pytest

# ~100 s on 2 cores (two actor restarts): the slow tier. The default tier keeps the config check
# (tests/unit/test_central_inference_spec.py) that guards the stale-weights defect this test also catches.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENVS = 4
FRAGMENT = 50  # IMPALA's rollout_fragment_length
# One sample call: vectorised steps until FRAGMENT x ENVS env steps, so the last one may add ENVS - 1.
SAMPLE_CALL_MAX_STEPS = FRAGMENT * ENVS + ENVS - 1
RECOVERY_S = 120  # Ray brings a killed actor back in ~15 s on a quiet 2-core machine


def counting_cartpole(env_config):
    """CartPole-v1 that appends one byte per env step to `<log_dir>/<pid>` (written before the step
    returns, so a killed runner's steps are on disk)."""
    import gymnasium as gym

    def count(reward):
        with open(os.path.join(env_config["log_dir"], str(os.getpid())), "ab") as log:
            log.write(b"x")
        return reward

    return gym.wrappers.TransformReward(gym.make("CartPole-v1"), count)


def _build(log_dir):
    """The IMPALA central-inference trainable, recording the env steps of every sample it receives."""
    import ray
    from ray import tune
    from ray.rllib.utils.metrics import WEIGHTS_SEQ_NO

    from behaviorlab.platform.runner import build_algorithm_config, trainable_class
    from behaviorlab.platform.spec import ExperimentSpec

    tune.register_env("CountingCartPole", counting_cartpole)
    spec = ExperimentSpec.model_validate({
        "algorithm": "IMPALA", "env": "CountingCartPole", "env_config": {"log_dir": str(log_dir)},
        "config": {"min_time_s_per_iteration": 1, "train_batch_size_per_learner": 200,
                   "rollout_fragment_length": FRAGMENT},
        "resources": {"num_env_runners": 2, "num_envs_per_env_runner": ENVS, "num_cpus_per_env_runner": 0.5,
                      "central_inference": True},
        "stop": {"iterations": 1}})
    config = build_algorithm_config(spec)
    # IMPALA reports NaN losses for an iteration in which its learner finished no update (as happens
    # while samples stall on a killed actor): not a divergence, so the platform's NaN stop is off.
    config.callbacks(on_train_result=None)

    class Recording(trainable_class(spec)):
        received_steps = 0
        acted_version = 0  # the newest learner weights version that acted on a received step

        def _sample_and_get_connector_states(self):
            episode_refs, *rest = super()._sample_and_get_connector_states()
            for episode in (e for ref in episode_refs for e in ray.get(ref)):
                self.received_steps += len(episode)
                self.acted_version = max([self.acted_version, *episode.get_extra_model_outputs(WEIGHTS_SEQ_NO)])
            return (episode_refs, *rest)

    return Recording(config=config)


def _runner_pids(algo) -> dict[int, int]:
    return dict(algo.env_runner_group.foreach_env_runner(lambda runner: (runner.worker_index, os.getpid()),
                                                         local_env_runner=False))


def _disk_steps(log_dir) -> dict[int, int]:
    return {int(name): os.path.getsize(log_dir / name) for name in os.listdir(log_dir)}


def _train_until(algo, condition, limit_s, what):
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {limit_s} s"
        algo.train()


def test_crashed_runner_and_server_lose_no_samples_and_a_server_gone_for_good_fails_the_trial(local_ray, tmp_path):
    """One build for three faults (CI time): an env runner crash, a server crash, then a server killed
    for good."""
    import ray

    algo = _build(tmp_path)
    group = algo.env_runner_group
    server = group.inference_server
    try:
        # Asked before sampling starts: a call to a runner waits behind its sample call in flight.
        before = _runner_pids(algo)
        # The learner's updated weights reach the server and act (not only its first weights).
        _train_until(algo, lambda: algo.acted_version > 0, RECOVERY_S, "acting with updated weights")

        # 1. Env runner 1 crashes in the sample call the last iteration sent it (Ray restarts the
        # actor, RLlib restores it). The other runner goes on sampling through the server meanwhile,
        # and the restarted runner is reconnected to the server and delivers samples of its own.
        os.kill(before[1], signal.SIGKILL)

        def back():
            pid = _runner_pids(algo).get(1)  # missing while runner 1 is out of service
            return pid not in (None, before[1]) and _disk_steps(tmp_path).get(pid, 0) >= FRAGMENT * ENVS
        _train_until(algo, back, RECOVERY_S, "the restarted runner's first sample")
        after = _runner_pids(algo)
        assert after[2] == before[2] and algo._counters["total_num_restored_workers"] == 1

        # 2. The server crashes: Ray restarts it and retries the runners' act calls. Beyond the calls
        # in flight at the crash, the algorithm receives calls that only the restarted server served.
        at_crash = algo.received_steps
        ray.kill(server, no_restart=False)
        in_flight = 2 * algo.config.max_requests_in_flight_per_env_runner
        _train_until(algo, lambda: algo.received_steps > at_crash + (in_flight + 1) * SAMPLE_CALL_MAX_STEPS,
                     RECOVERY_S, "sampling after the server's restart")
        assert group.num_healthy_remote_workers() == 2 and algo._counters["total_num_restored_workers"] == 1

        # Drain: a call queued behind every sample call in flight, then collect their results.
        group.foreach_env_runner(lambda runner: None, local_env_runner=False)
        for _, (ref, _, _) in group.fetch_ready_async_reqs(tags="sample_get_state_and_metrics", timeout_seconds=30):
            algo.received_steps += sum(map(len, ray.get(ref)))
        stepped = _disk_steps(tmp_path)
        assert set(stepped) == {before[1], before[2], after[1]}
        # Lost: the killed runner's unfinished sample call at most (RLlib returns a sample when it
        # ends); the server's crash lost nothing.
        lost = sum(stepped.values()) - algo.received_steps
        assert 0 <= lost <= SAMPLE_CALL_MAX_STEPS, (stepped, algo.received_steps)

        # 3. The server is killed for good: the next training step fails the trial, saying why.
        ray.kill(server, no_restart=True)
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="central inference: the inference server is gone .*ActorDiedError"):
            _train_until(algo, lambda: False, 60, "the trial's failure")
        assert time.monotonic() - start < 30
    finally:
        algo.stop()
