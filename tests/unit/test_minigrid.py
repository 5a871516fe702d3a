"""BabyAI through behaviorlab's env registry, and `collect_babyai` (bot episodes → trajectory dataset)."""

import numpy as np
import pytest

pytest.importorskip("minigrid")

from behaviorlab.envs import (
    EnvConfigError,
    check_env_config,
    env_info,
    make_env,
    registered_envs,
)
from behaviorlab.envs.datasets import DatasetError, TrajectoryReader, dataset_info
from behaviorlab.envs.datasets.collect import collect_babyai
from behaviorlab.envs.minigrid import (
    DIRECTION_SLICE,
    IMAGE_SLICE,
    MISSION_SLICE,
    MISSION_VOCABULARY,
    OBSERVATION_SIZE,
    encode_mission,
)

LEVEL = "BabyAI-GoToLocal-v0"


def test_registry_lists_babyai_levels():
    babyai = {env_id for env_id, family in registered_envs().items() if family == "babyai"}
    assert {LEVEL, "BabyAI-PickupLoc-v0", "BabyAI-BossLevel-v0"} <= babyai
    assert env_info(LEVEL).family == "babyai"
    check_env_config(LEVEL, {"max_episode_steps": 10})
    with pytest.raises(EnvConfigError, match="max_episode_steps"):
        check_env_config(LEVEL, {"max_episode_step": 10})


def test_flat_observation_layout_and_time_limit():
    env = make_env(LEVEL, {"max_episode_steps": 3})
    obs, _ = env.reset(seed=0)
    assert obs.shape == (OBSERVATION_SIZE,) and obs.dtype == np.float32 and env.observation_space.contains(obs)
    raw = env.unwrapped.gen_obs()
    np.testing.assert_array_equal(obs[IMAGE_SLICE], raw["image"].reshape(-1))
    assert obs[DIRECTION_SLICE].sum() == 1 and obs[DIRECTION_SLICE].argmax() == raw["direction"]
    np.testing.assert_array_equal(obs[MISSION_SLICE], encode_mission(raw["mission"]))
    assert env.action_space.n == 7
    truncated = [env.step(0)[3] for _ in range(3)]
    assert truncated == [False, False, True]


def test_mission_bag_of_words_counts_known_and_unknown_words():
    counts = encode_mission("go to the red ball, then go to a zebra")
    words = dict(zip(MISSION_VOCABULARY, counts))
    assert words["go"] == 2 and words["to"] == 2 and words["red"] == 1 and words["then"] == 1
    assert counts[-1] == 1  # "zebra"
    assert counts.sum() == 10


def _all_steps(path):
    return {record.source: steps for record, steps in TrajectoryReader(path).iter_episodes()}


def test_collection_writes_a_readable_dataset_with_the_env_spaces(tmp_path):
    summary = collect_babyai(tmp_path / "d", [LEVEL, "BabyAI-PickupLoc-v0"], 6, seed=3, progress=None)
    assert summary.episodes_written + summary.episodes_skipped == 6 and summary.total_episodes == summary.episodes_written
    info = dataset_info(tmp_path / "d")
    assert info.complete and info.num_steps == summary.steps_written
    assert info.spec.observation == {"type": "array", "shape": [OBSERVATION_SIZE], "dtype": "float32"}
    assert info.spec.action == {"type": "array", "shape": [], "dtype": "int64"} and info.spec.reward
    assert info.attributes["num_actions"] == 7
    episodes = _all_steps(tmp_path / "d")
    assert {source.split("#")[0] for source in episodes} == {LEVEL, "BabyAI-PickupLoc-v0"}
    for steps in episodes.values():
        assert steps.terminated[-1] and steps.reward[-1] > 0  # the bot solves these levels
        assert np.all((steps.action >= 0) & (steps.action < 7))


def test_collection_is_seeded_and_resumes_where_it_stopped(tmp_path):
    collect_babyai(tmp_path / "once", [LEVEL], 5, seed=1, progress=None)
    collect_babyai(tmp_path / "twice", [LEVEL], 2, seed=1, progress=None)
    resumed = collect_babyai(tmp_path / "twice", [LEVEL], 5, seed=1, progress=None)
    assert resumed.episodes_written == 3 and resumed.total_episodes == 5
    once, twice = _all_steps(tmp_path / "once"), _all_steps(tmp_path / "twice")
    assert sorted(once) == sorted(twice) == [f"{LEVEL}#{i}" for i in range(5)]
    for source, steps in once.items():
        np.testing.assert_array_equal(twice[source].obs, steps.obs)
        np.testing.assert_array_equal(twice[source].action, steps.action)
    with pytest.raises(DatasetError, match="seed"):
        collect_babyai(tmp_path / "twice", [LEVEL], 6, seed=2, progress=None)


def test_collection_rejects_unknown_levels(tmp_path):
    with pytest.raises(DatasetError, match="unknown BabyAI level"):
        collect_babyai(tmp_path / "d", ["BabyAI-Nope-v0"], 1, progress=None)
