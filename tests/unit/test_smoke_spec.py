"""`--smoke` shrinks any spec to one short trial that fits the machine: env runners, envs per runner,
learners and GPUs to what is there, replay buffers and batches to smoke size."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from behaviorlab.platform.registry import algorithm_class
from behaviorlab.platform.runner import SMOKE_ITERATIONS, build_algorithm_config, shrink_for_smoke
from behaviorlab.platform.spec import ExperimentSpec

REPO = Path(__file__).parents[2]
# Experiment specs (other YAML under experiments/, e.g. a benchmark script's settings, has no algorithm).
SHIPPED = sorted(p for p in REPO.glob("experiments/**/*.yaml") if "algorithm" in (yaml.safe_load(p.read_text()) or {}))


def _spec(path: Path) -> ExperimentSpec:
    """The file's spec as validated by its schema (no env is built: only resources and config matter here)."""
    raw = yaml.safe_load(path.read_text())
    return ExperimentSpec.model_validate({"name": path.stem, **raw})


def _needs(spec: ExperimentSpec) -> dict:
    """CPUs and GPUs one trial asks Ray for, as the runner's fit check computes them; RLlib validates the config."""
    config = build_algorithm_config(spec)
    config.validate()
    return algorithm_class(spec.algorithm).default_resource_request(config).required_resources


def test_a_cluster_spec_is_shrunk_to_two_cpus_and_says_what_changed():
    spec = _spec(REPO / "experiments/lbc/atari57.yaml")
    smoke, changes = shrink_for_smoke(spec, cpus=2, gpus=0)
    assert changes == ["num_learners 1→0", "num_gpus_per_learner 1→0", "num_env_runners 8→1",
                       "num_envs_per_env_runner 8→2", "replay_start 10000→200",
                       "min_sample_timesteps_per_iteration 2000→400", "replay capacity 50000→5000"]  # 2000: ACER's default
    assert smoke.stop == {"iterations": SMOKE_ITERATIONS} and smoke.seeds == [0] and smoke.name == "lbc-atari57-smoke"
    assert spec.resources.num_env_runners == 8 and spec.config["replay_buffer_config"]["capacity"] == 50000
    needs = _needs(smoke)
    assert needs.get("CPU", 0) <= 2 and needs.get("GPU", 0) == 0


def test_a_big_machine_keeps_what_fits():
    spec = _spec(REPO / "experiments/svg0_prior/ant_nav.yaml")  # 8 runners x 4 envs, a GPU learner
    smoke, changes = shrink_for_smoke(spec, cpus=16, gpus=1)
    assert changes == ["num_envs_per_env_runner 4→2", "min_sample_timesteps_per_iteration 1000→400"]
    assert smoke.resources.num_env_runners == 8 and smoke.resources.num_gpus_per_learner == 1
    assert shrink_for_smoke(spec, cpus=1, gpus=0)[0].resources.num_env_runners == 0


def test_fixed_fragments_keep_the_train_batch_a_whole_number_of_rounds():
    spec = ExperimentSpec(algorithm="PPO", env="CartPole-v1", stop={"env_steps": 1e6},
                          config={"train_batch_size_per_learner": 2000, "rollout_fragment_length": 100},
                          resources={"num_env_runners": 4, "num_envs_per_env_runner": 5})
    smoke, changes = shrink_for_smoke(spec, cpus=2, gpus=0)
    # 1 runner x 2 envs x 100 steps = 200 per round: 2 rounds fit in 512
    assert smoke.config["train_batch_size_per_learner"] == 400 and "train_batch_size_per_learner 2000→400" in changes
    _needs(smoke)


def test_minibatch_stays_within_the_shrunk_train_batch():
    spec = ExperimentSpec(algorithm="PPO", env="CartPole-v1", stop={"env_steps": 1e6},
                          config={"train_batch_size_per_learner": 8000, "minibatch_size": 1024,
                                  "lr": {"grid_search": [1e-4, 3e-4]}})
    smoke, changes = shrink_for_smoke(spec, cpus=2, gpus=0)
    assert smoke.config == {"train_batch_size_per_learner": 512, "minibatch_size": 512, "lr": 1e-4}
    assert changes == ["train_batch_size_per_learner 8000→512", "minibatch_size 1024→512"]
    _needs(smoke)


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO / "experiments")) for p in SHIPPED])
def test_every_shipped_spec_smokes_on_two_cpus_without_a_gpu(path):
    needs = _needs(shrink_for_smoke(_spec(path), cpus=2, gpus=0)[0])
    assert needs.get("CPU", 0) <= 2 and needs.get("GPU", 0) == 0, needs
