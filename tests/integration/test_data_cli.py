"""`behaviorlab data convert-vpt --ray` and `data embed --ray`: the per-segment / per-episode tasks as
a Ray Data job on a local Ray give the same dataset as the pass in one process."""

import numpy as np
import pytest

from behaviorlab.envs.datasets import TrajectoryReader, dataset_info
from behaviorlab.envs.datasets.vpt import convert_vpt
from tests.unit.test_vpt import episodes_by_source, recordings  # noqa: F401  (recordings is a fixture)

pytestmark = pytest.mark.integration


def test_ray_data_conversion_matches_the_local_one(recordings, tmp_path, run_cli):  # noqa: F811
    result = run_cli("data", "convert-vpt", recordings, tmp_path / "ray", "--size", "32", "--ray", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "(32x32 frames, Ray Data)" in result.stdout and "4/4 segments" in result.stdout
    assert dataset_info(tmp_path / "ray").complete

    convert_vpt(recordings, tmp_path / "local", size=(32, 32), progress=False)
    with_ray, local = episodes_by_source(tmp_path / "ray"), episodes_by_source(tmp_path / "local")
    assert sorted(with_ray) == sorted(local) == ["a", "c", "sub/b"]
    for source, steps in local.items():
        other = with_ray[source]
        np.testing.assert_array_equal(other.info["frame_index"], steps.info["frame_index"])
        np.testing.assert_array_equal(other.obs["pov"], steps.obs["pov"])
        for key, values in steps.action.items():
            np.testing.assert_array_equal(other.action[key], values)
    # ids follow the index order whichever task finishes first
    ids = {record.source: record.episode_id for record in TrajectoryReader(tmp_path / "ray").episodes}
    assert ids == {"a": 0, "sub/b": 1, "c": 2}


def test_ray_data_embedding_matches_the_local_one(recordings, tmp_path, run_cli):  # noqa: F811
    import torch

    from behaviorlab.envs.datasets.embed import embed_dataset
    from tests.unit.test_mineclip import released_layout

    checkpoint = tmp_path / "attn.pth"
    torch.save({"state_dict": released_layout("attn")}, checkpoint)
    convert_vpt(recordings, tmp_path / "vpt", size=(32, 32), progress=False)
    result = run_cli("data", "embed", tmp_path / "vpt", tmp_path / "ray", "--mineclip", checkpoint, "--ray",
                     "--actors", "2", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "(Ray Data, attn pooling)" in result.stdout and "3/3 episodes" in result.stdout
    assert dataset_info(tmp_path / "ray").complete

    embed_dataset(tmp_path / "vpt", tmp_path / "local", checkpoint, progress=False)
    with_ray, local = episodes_by_source(tmp_path / "ray"), episodes_by_source(tmp_path / "local")
    assert sorted(with_ray) == sorted(local) == ["a", "c", "sub/b"]
    for source, steps in local.items():
        np.testing.assert_allclose(with_ray[source].obs, steps.obs, atol=1e-6)
        np.testing.assert_array_equal(with_ray[source].action["camera"], steps.action["camera"])


def test_data_embed_names_a_missing_checkpoint(recordings, tmp_path, run_cli):  # noqa: F811
    convert_vpt(recordings, tmp_path / "vpt", size=(32, 32), progress=False)
    result = run_cli("data", "embed", tmp_path / "vpt", tmp_path / "out", "--mineclip", tmp_path / "attn.pth")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(
        f"{tmp_path / 'attn.pth'}: not found; download attn.pth (or avg.pth) from the MineCLIP README "
        "(https://github.com/MineDojo/MineCLIP) and pass its path")
    assert not (tmp_path / "out").exists()
