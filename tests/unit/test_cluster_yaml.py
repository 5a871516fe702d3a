"""Cluster YAMLs validate offline against Ray's own autoscaler schema (what `ray up` runs first)."""

import copy
import re
from pathlib import Path

import pytest
import yaml
from jsonschema.exceptions import ValidationError
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER = Path(__file__).parents[2] / "cluster"
RAY_UP_FILES = ["aws.yaml", "gcp.yaml", "local.yaml"]


def _load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def _pinned_ray_version() -> str:
    pyproject = (CLUSTER.parent / "pyproject.toml").read_text()
    return re.search(r'ray\[[^\]]*\]==([0-9.]+)', pyproject).group(1)


@pytest.mark.parametrize("name", RAY_UP_FILES)
def test_cluster_yaml_passes_rays_schema(name):
    validate_config(prepare_config(copy.deepcopy(_load(name))))


@pytest.mark.parametrize("name", RAY_UP_FILES)
def test_a_typo_in_a_cluster_yaml_is_caught(name):
    config = _load(name)
    config["max_worker"] = 3
    with pytest.raises(ValidationError, match="max_worker"):
        validate_config(prepare_config(config))


@pytest.mark.parametrize("name", RAY_UP_FILES)
def test_nodes_install_this_checkout(name):
    config = _load(name)
    assert config["file_mounts"] == {"~/behaviorlab": "."}
    assert ".venv" in config["rsync_exclude"]
    assert any("install" in command and "-e ~/behaviorlab" in command for command in config["setup_commands"])


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_cloud_clusters_have_gpu_learners_and_cpu_rollout_workers(name):
    types = _load(name)["available_node_types"]
    assert types["gpu_learner"]["resources"]["GPU"] == 1
    assert "GPU" not in types["cpu_rollout"]["resources"] and types["cpu_rollout"]["resources"]["CPU"] >= 8
    assert types["head"]["resources"] == {"CPU": 0}  # trials are scheduled on the workers
    for node_type in ("gpu_learner", "cpu_rollout"):
        assert 0 <= types[node_type]["min_workers"] <= types[node_type]["max_workers"]
    # Rollout nodes get the CPU torch build, not the multi-GB CUDA one.
    assert any("whl/cpu" in command for command in types["cpu_rollout"]["worker_setup_commands"])


def test_kuberay_manifest_is_a_raycluster_for_the_pinned_ray():
    cluster, claim = yaml.safe_load_all((CLUSTER / "kuberay.yaml").read_text())
    assert (cluster["apiVersion"], cluster["kind"]) == ("ray.io/v1", "RayCluster")
    assert cluster["spec"]["rayVersion"] == _pinned_ray_version()
    groups = {group["groupName"]: group for group in cluster["spec"]["workerGroupSpecs"]}
    assert set(groups) == {"gpu-learner", "cpu-rollout"}
    gpu = groups["gpu-learner"]["template"]["spec"]["containers"][0]["resources"]
    assert gpu["limits"]["nvidia.com/gpu"] == "1"
    for group in groups.values():
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    mount = head["containers"][0]["volumeMounts"][0]
    assert head["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert mount["mountPath"].endswith("behaviorlab_results")
