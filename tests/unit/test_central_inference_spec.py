"""Spec keys of central inference: accepted for off-policy-corrected learners only, with one-line errors."""

import pytest

from behaviorlab.platform.runner import build_algorithm_config, trainable_class
from behaviorlab.platform.spec import SpecError, load_spec


def _load(tmp_path, algorithm: str, resources: str):
    path = tmp_path / "spec.yaml"
    path.write_text(f"algorithm: {algorithm}\nenv: CartPole-v1\nstop: {{iterations: 1}}\nresources: {resources}\n")
    return load_spec(path)


@pytest.mark.parametrize("algorithm", ["IMPALA", "APPO", "ACER", "LBC"])
def test_off_policy_corrected_learners_accept_central_inference(tmp_path, algorithm):
    spec = _load(tmp_path, algorithm, "{central_inference: true, inference_max_batch: 16, inference_timeout_ms: 2}")
    trainable = trainable_class(spec)
    assert trainable.__name__.endswith("CentralInference")
    assert (trainable.inference_max_batch, trainable.inference_timeout_ms) == (16, 2)
    config = build_algorithm_config(spec)
    assert config.env_runner_cls.__name__ == "CentralInferenceEnvRunner"
    # RLlib's pull-based state server (IMPALA's/APPO's default) would keep the server's weights stale.
    assert config.use_env_runner_state_server is False


@pytest.mark.parametrize("algorithm", ["PPO", "DQN", "SAC"])
def test_learners_without_off_policy_correction_are_refused(tmp_path, algorithm):
    with pytest.raises(SpecError) as error:
        _load(tmp_path, algorithm, "{central_inference: true}")
    assert str(error.value) == (f"{tmp_path / 'spec.yaml'}:resources.central_inference: {algorithm} does not correct "
                                "for a lagging behaviour policy; use IMPALA, APPO, ACER or LBC (V-trace / Retrace), "
                                "or remove central_inference")


@pytest.mark.parametrize("resources, key, words", [
    ("{inference_max_batch: 8}", "resources.inference_max_batch", "applies only with central inference"),
    ("{inference_timeout_ms: 1}", "resources.inference_timeout_ms", "applies only with central inference"),
    ("{central_inference: true, inference_max_batch: 0}", "resources.inference_max_batch", "greater than or equal to 1"),
    ("{central_inference: true, inference_timeout_ms: -1}", "resources.inference_timeout_ms", "greater than or equal to 0"),
    ("{central_inference: yes please}", "resources.central_inference", "valid boolean"),
])
def test_bad_central_inference_keys_name_the_key(tmp_path, resources, key, words):
    with pytest.raises(SpecError) as error:
        _load(tmp_path, "IMPALA", resources)
    assert error.value.key == key and words in str(error.value)


def test_without_central_inference_nothing_changes(tmp_path):
    spec = _load(tmp_path, "IMPALA", "{num_env_runners: 1}")
    assert trainable_class(spec).__name__ == "IMPALA"
    assert build_algorithm_config(spec).env_runner_cls is None


def test_the_server_gets_a_share_of_the_learners_gpu_in_the_trial(tmp_path):
    spec = _load(tmp_path, "IMPALA", "{central_inference: true, num_gpus_per_learner: 0.75}")
    bundles = trainable_class(spec).default_resource_request(build_algorithm_config(spec)).bundles
    assert sum(bundle.get("GPU", 0) for bundle in bundles) == 1.0 and {"GPU": 0.25} in bundles
    cpu_only = _load(tmp_path, "IMPALA", "{central_inference: true}")
    bundles = trainable_class(cpu_only).default_resource_request(build_algorithm_config(cpu_only)).bundles
    assert not any(bundle.get("GPU", 0) for bundle in bundles)
