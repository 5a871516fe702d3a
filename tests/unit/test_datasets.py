"""Trajectory dataset format: round trips, streaming, random access, crash safety, resume, errors."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from behaviorlab.envs.datasets import (
    DatasetError,
    DatasetSpec,
    ShardWriter,
    TrajectoryReader,
    TrajectoryWriter,
    dataset_info,
)


def make_step(episode: int, step: int):
    """Values that encode (episode, step), so every read can be checked against what was written."""
    obs = {"image": np.full((6, 5, 3), 10 * episode + step, np.uint8),
           "state": np.array([episode, step, 0.5], np.float32)}
    return obs, np.int64(episode + step), float(step) / 10, {"tag": np.int32(100 * episode + step)}


def write_episodes(writer, lengths, first_episode=0):
    for episode, length in enumerate(lengths, start=first_episode):
        for step in range(length):
            obs, action, reward, info = make_step(episode, step)
            writer.add_step(obs, action, reward=reward, info=info)
        writer.end_episode(terminated=episode % 2 == 0, source=f"run-{episode}")


def check_episode(steps, episode, length):
    assert len(steps) == length
    np.testing.assert_array_equal(steps.episode_id, np.full(length, episode))
    np.testing.assert_array_equal(steps.step, np.arange(length))
    assert steps.obs["image"].dtype == np.uint8 and steps.obs["image"].shape == (length, 6, 5, 3)
    np.testing.assert_array_equal(steps.obs["image"][:, 2, 3, 1], 10 * episode + np.arange(length))
    assert steps.obs["state"].dtype == np.float32
    np.testing.assert_array_equal(steps.obs["state"][:, 1], np.arange(length))
    assert steps.action.dtype == np.int64
    np.testing.assert_array_equal(steps.action, episode + np.arange(length))
    assert steps.reward.dtype == np.float32
    np.testing.assert_allclose(steps.reward, np.arange(length) / 10)
    assert steps.info["tag"].dtype == np.int32
    np.testing.assert_array_equal(steps.info["tag"], 100 * episode + np.arange(length))
    last = np.arange(length) == length - 1
    np.testing.assert_array_equal(steps.terminated, last & (episode % 2 == 0))
    np.testing.assert_array_equal(steps.truncated, last & (episode % 2 == 1))


LENGTHS = [4, 9, 1, 13, 6]  # with shard_steps=5, episodes start and end mid-shard and span shards


@pytest.fixture
def dataset(tmp_path):
    path = tmp_path / "data"
    with TrajectoryWriter(path, shard_steps=5, source="unit test", command="pytest") as writer:
        write_episodes(writer, LENGTHS)
    return path


def test_round_trip_episodes_in_order_with_dtypes_and_flags(dataset):
    reader = TrajectoryReader(dataset)
    assert reader.num_episodes == len(LENGTHS) and reader.num_steps == sum(LENGTHS)
    seen = []
    for record, steps in reader.iter_episodes():
        check_episode(steps, record.episode_id, LENGTHS[record.episode_id])
        assert record.source == f"run-{record.episode_id}"
        seen.append(record.episode_id)
    assert seen == list(range(len(LENGTHS)))


def test_random_access_by_episode_id(dataset):
    reader = TrajectoryReader(dataset)
    for episode in (3, 0, 4):  # 3 spans three shards
        check_episode(reader.episode(episode), episode, LENGTHS[episode])
    with pytest.raises(KeyError, match="no episode 7"):
        reader.episode(7)


def test_random_access_inside_large_shards(tmp_path):
    """Episodes that start in the middle of a shard's later row groups."""
    with TrajectoryWriter(tmp_path / "d", shard_steps=2000) as writer:
        for episode, length in enumerate([300, 450, 20]):
            for step in range(length):
                writer.add_step(np.int32(episode * 1000 + step), np.int64(step))
            writer.end_episode(terminated=True)
    reader = TrajectoryReader(tmp_path / "d")
    for episode, length in ((1, 450), (2, 20), (0, 300)):
        steps = reader.episode(episode)
        np.testing.assert_array_equal(steps.obs, episode * 1000 + np.arange(length))
        np.testing.assert_array_equal(steps.step, np.arange(length))


@pytest.mark.parametrize("batch_size, drop_last", [(7, False), (7, True), (1, False), (100, False)])
def test_batches_stream_all_steps_in_order(dataset, batch_size, drop_last):
    batches = list(TrajectoryReader(dataset).iter_batches(batch_size, drop_last=drop_last))
    total = sum(LENGTHS)
    expected_sizes = [batch_size] * (total // batch_size) + ([] if drop_last or total % batch_size == 0 else [total % batch_size])
    assert [len(batch) for batch in batches] == expected_sizes
    episode_ids = np.concatenate([batch.episode_id for batch in batches])
    steps = np.concatenate([batch.step for batch in batches])
    expected = [(e, s) for e, length in enumerate(LENGTHS) for s in range(length)][:len(episode_ids)]
    assert list(zip(episode_ids.tolist(), steps.tolist())) == expected
    images = np.concatenate([batch.obs["image"][:, 0, 0, 0] for batch in batches])
    np.testing.assert_array_equal(images, 10 * episode_ids + steps)


def test_info_summary_and_files(dataset):
    info = dataset_info(dataset)
    assert info.complete and info.problem is None
    assert (info.num_episodes, info.num_steps, info.num_shards) == (5, 33, 7)  # 33 steps in shards of 5
    assert info.bytes_on_disk > 0
    text = info.summary()
    for expected in ("episodes:     5", "steps:        33", "{image: uint8[6,5,3], state: float32[3]}",
                     "action:       int64", "reward:       float32", "{tag: int32}", "created by:   pytest"):
        assert expected in text
    assert sorted(p.name for p in (dataset / "shards").iterdir()) == [f"shard-{i:06d}.parquet" for i in range(7)]
    metadata = json.loads((dataset / "metadata.json").read_text())
    assert metadata["format_version"] == 1 and metadata["source"] == "unit test"


def test_continuous_and_dict_actions_without_reward_or_info(tmp_path):
    vector = tmp_path / "vector"
    with TrajectoryWriter(vector) as writer:
        for step in range(3):
            writer.add_step(np.float64(step), np.array([step, -step], np.float32))
        writer.end_episode(terminated=True)
    steps = TrajectoryReader(vector).episode(0)
    assert steps.reward is None and steps.info is None
    np.testing.assert_array_equal(steps.action, [[0, 0], [1, -1], [2, -2]])
    assert steps.action.dtype == np.float32 and steps.obs.dtype == np.float64

    buttons = tmp_path / "buttons"
    with TrajectoryWriter(buttons) as writer:
        writer.add_step({"pov": np.zeros((2, 2, 3), np.uint8)}, {"attack": 1, "camera": np.array([1.5, -3.0], np.float32)})
        writer.end_episode(terminated=False)
    action = TrajectoryReader(buttons).episode(0).action
    assert action["attack"].tolist() == [1] and action["camera"].tolist() == [[1.5, -3.0]]


def test_steps_must_match_the_spec(tmp_path):
    with TrajectoryWriter(tmp_path / "d") as writer:
        obs, action, reward, info = make_step(0, 0)
        writer.add_step(obs, action, reward=reward, info=info)
        with pytest.raises(DatasetError, match=r"obs/image: got uint8\[6,6,3\], the dataset holds uint8\[6,5,3\]"):
            writer.add_step({**obs, "image": np.zeros((6, 6, 3), np.uint8)}, action, reward=reward, info=info)
        with pytest.raises(DatasetError, match=r"obs/state: got float64\[3\]"):  # no silent narrowing
            writer.add_step({**obs, "state": np.zeros(3)}, action, reward=reward, info=info)
        with pytest.raises(DatasetError, match="obs: expected a dict with keys"):
            writer.add_step({"image": obs["image"]}, action, reward=reward, info=info)
        with pytest.raises(DatasetError, match="every step must give one"):
            writer.add_step(obs, action, info=info)
        writer.add_step(obs, np.int32(2), reward=reward, info=info)  # int32 → int64 is safe
        writer.end_episode(terminated=True)
        with pytest.raises(DatasetError):
            writer.add_step({**obs, "image": None}, action, reward=reward, info=info)
        with pytest.raises(DatasetError, match="end_episode.. with no step"):  # the failed step opened nothing
            writer.end_episode(terminated=False)
    episode = TrajectoryReader(tmp_path / "d").episode(0)
    assert episode.action.tolist() == [0, 2] and episode.step.tolist() == [0, 1]
    assert episode.terminated.tolist() == [False, True] and TrajectoryReader(tmp_path / "d").num_episodes == 1


def test_an_error_mid_write_leaves_an_incomplete_dataset_that_append_resumes(tmp_path):
    path = tmp_path / "data"
    with pytest.raises(RuntimeError, match="boom"):
        with TrajectoryWriter(path, shard_steps=5) as writer:
            write_episodes(writer, [4, 9])
            for step in range(3):  # episode 2 is cut off
                writer.add_step(*make_step(2, step)[:2], reward=0.0, info=make_step(2, step)[3])
            raise RuntimeError("boom")
    info = dataset_info(path)
    assert not info.complete and "incomplete dataset" in info.problem and info.num_episodes == 2
    with pytest.raises(DatasetError, match="incomplete dataset .* resume it"):
        TrajectoryReader(path)

    with TrajectoryWriter(path, mode="append", shard_steps=5) as writer:
        assert writer.sources == {"run-0", "run-1"} and writer.next_episode_id == 2
        write_episodes(writer, [6, 2], first_episode=2)
    reader = TrajectoryReader(path)
    lengths = [4, 9, 6, 2]
    assert reader.num_steps == sum(lengths) == sum(len(b) for b in reader.iter_batches(4))
    for record, steps in reader.iter_episodes():
        check_episode(steps, record.episode_id, lengths[record.episode_id])


def test_a_killed_writer_leaves_no_complete_dataset_and_append_drops_its_leftovers(tmp_path):
    path = tmp_path / "data"
    writer = TrajectoryWriter(path, shard_steps=3)
    write_episodes(writer, [2])
    for step in range(5):  # episode 1 spans the next shards; then the process "dies": no close, no __exit__
        writer.add_step(*make_step(1, step)[:2], reward=0.0, info=make_step(1, step)[3])
    (path / "shards" / ".shard-000002.parquet.1234abcd.tmp").write_bytes(b"half a file")
    assert sorted(p.name for p in (path / "shards").iterdir()) == [
        ".shard-000002.parquet.1234abcd.tmp", "shard-000000.parquet", "shard-000001.parquet"]
    assert not dataset_info(path).complete and dataset_info(path).num_episodes == 1
    del writer

    with TrajectoryWriter(path, mode="append", shard_steps=3) as resumed:
        # shard 1 held only the cut-off episode; shard 0's last row too (checked by reading below)
        assert [p.name for p in sorted((path / "shards").iterdir())] == ["shard-000000.parquet"]
        write_episodes(resumed, [4], first_episode=1)
    reader = TrajectoryReader(path)
    assert [record.num_steps for record in reader.episodes] == [2, 4]
    for record, steps in reader.iter_episodes():
        check_episode(steps, record.episode_id, [2, 4][record.episode_id])


def test_a_failed_first_write_removes_the_directory_it_created(tmp_path):
    path = tmp_path / "data"
    with pytest.raises(RuntimeError):
        with TrajectoryWriter(path) as writer:
            writer.add_step(*make_step(0, 0)[:2], reward=0.0, info=make_step(0, 0)[3])
            raise RuntimeError("before any episode ended")
    assert not path.exists()


def test_closing_with_an_open_episode_is_an_error_and_not_complete(tmp_path):
    path = tmp_path / "data"
    with pytest.raises(DatasetError, match="closed with episode 1 open .*call end_episode"):
        with TrajectoryWriter(path) as writer:
            write_episodes(writer, [3])
            writer.add_step(*make_step(1, 0)[:2], reward=0.0, info=make_step(1, 0)[3])
    assert not dataset_info(path).complete and dataset_info(path).num_episodes == 1


def test_append_to_a_complete_dataset_and_create_refuses_an_existing_one(dataset):
    with pytest.raises(DatasetError, match="already exists and holds a dataset.*mode='append'"):
        TrajectoryWriter(dataset)
    with TrajectoryWriter(dataset, mode="append", shard_steps=5) as writer:
        assert not dataset_info(dataset).complete  # until the append finishes
        write_episodes(writer, [3], first_episode=5)
    reader = TrajectoryReader(dataset)
    assert reader.num_episodes == 6
    check_episode(reader.episode(5), 5, 3)


def test_append_must_keep_the_attributes(tmp_path):
    path = tmp_path / "data"
    with TrajectoryWriter(path, attributes={"frame_size": [64, 64]}) as writer:
        write_episodes(writer, [1])
    with pytest.raises(DatasetError, match=r"was written with frame_size=\[64, 64\], this write uses \[32, 32\]"):
        TrajectoryWriter(path, mode="append", attributes={"frame_size": [32, 32]})


def test_shards_written_elsewhere_are_adopted(tmp_path):
    path = tmp_path / "data"
    obs, action, reward, info = make_step(0, 0)
    spec = DatasetSpec.of_step(obs, action, reward, info)
    with TrajectoryWriter(path, spec=spec, shard_steps=5) as writer:
        write_episodes(writer, [3])
        staged = writer.staging_file()
        shard = ShardWriter(staged, writer.spec)  # as a Ray task would, in another process
        for episode, length in ((7, 4), (8, 2)):
            for step in range(length):
                obs, action, reward, info = make_step(episode, step)
                shard.add_step(episode, obs, action, reward, info)
            shard.end_episode(terminated=episode % 2 == 0)
        shard.close()
        with pytest.raises(DatasetError, match=r"episode ids \[0\] are already in"):
            writer.add_shard(staged, [(0, "a", 4), (8, "b", 2)])
        with pytest.raises(DatasetError, match="holds 6 steps, the episodes given add up to 5"):
            writer.add_shard(staged, [(7, "a", 4), (8, "b", 1)])
        writer.add_shard(staged, [(7, "run-7", 4), (8, "run-8", 2)])
        assert writer.next_episode_id == 9
        write_episodes(writer, [2], first_episode=9)
    reader = TrajectoryReader(path)
    assert [(r.episode_id, r.num_steps) for r in reader.episodes] == [(0, 3), (7, 4), (8, 2), (9, 2)]
    for record, steps in reader.iter_episodes():
        check_episode(steps, record.episode_id, record.num_steps)
    assert not (path / ".staging").exists()


def test_step_index_gives_each_step_its_row_in_dataset_order(tmp_path):
    path = tmp_path / "data"
    obs, action, reward, info = make_step(0, 0)
    with TrajectoryWriter(path, spec=DatasetSpec.of_step(obs, action, reward, info), shard_steps=5) as writer:
        write_episodes(writer, [3])
        staged = writer.staging_file()
        shard = ShardWriter(staged, writer.spec)
        for episode, length in ((8, 4), (7, 2)):  # a shard from elsewhere, its ids out of order
            for step in range(length):
                shard.add_step(episode, *make_step(episode, step))
            shard.end_episode(terminated=True)
        shard.close()
        writer.add_shard(staged, [(8, "run-8", 4), (7, "run-7", 2)])
        write_episodes(writer, [6], first_episode=9)
    reader = TrajectoryReader(path)
    steps = next(reader.iter_batches(100))
    index = reader.step_index()
    np.testing.assert_array_equal(index.rows(steps.episode_id, steps.step), np.arange(reader.num_steps))
    np.testing.assert_array_equal(reader.step_episode_ids(), steps.episode_id)
    assert reader.step_episode_ids().tolist()[:9] == [0, 0, 0, 8, 8, 8, 8, 7, 7]
    shard_rows = [pq.ParquetFile(file).metadata.num_rows for file in reader.shard_files()]
    assert len(shard_rows) == reader.metadata["num_shards"] > 1 and sum(shard_rows) == reader.num_steps


def test_a_shard_with_other_columns_is_refused(tmp_path):
    with TrajectoryWriter(tmp_path / "data", spec=DatasetSpec.of_step(np.float32(0), np.int64(0))) as writer:
        other = ShardWriter(writer.staging_file(), DatasetSpec.of_step(np.float32(0), np.float32(0)))
        other.add_step(0, np.float32(0), np.float32(0))
        other.end_episode(terminated=True)
        other.close()
        with pytest.raises(DatasetError, match="its columns differ"):
            writer.add_shard(other.path, [(0, "", 1)])


def test_errors_name_the_path_and_the_fix(tmp_path, dataset):
    with pytest.raises(DatasetError, match=r"nowhere: no such dataset; check the path"):
        dataset_info(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DatasetError, match=r"plain: not a trajectory dataset \(no metadata.json\)"):
        TrajectoryReader(tmp_path / "plain")
    (dataset / "shards" / "shard-000002.parquet").unlink()
    reader = TrajectoryReader(dataset)
    with pytest.raises(DatasetError, match=r"shard-000002.parquet: missing; the dataset is damaged"):
        list(reader.iter_batches(10))
    (dataset / "metadata.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"metadata.json: unreadable .*re-create it"):
        dataset_info(dataset)


def test_cli_info_on_complete_and_interrupted_datasets(dataset, tmp_path, capsys):
    from behaviorlab.platform.cli import main

    assert main(["data", "info", str(dataset)]) == 0
    assert "status:       complete" in capsys.readouterr().out
    writer = TrajectoryWriter(tmp_path / "cut", shard_steps=2)
    write_episodes(writer, [1])
    for step in range(2):  # the second step closes shard 0, committing episode 0; the writer is never closed
        writer.add_step(*make_step(1, step)[:2], reward=0.0, info=make_step(1, step)[3])
    assert main(["data", "info", str(tmp_path / "cut")]) == 2
    captured = capsys.readouterr()
    assert "status:       INCOMPLETE" in captured.out and "episodes:     1" in captured.out
    assert captured.err.count("\n") == 1 and "incomplete dataset (a write stopped after 1 episodes)" in captured.err


def test_cli_collect_writes_a_dataset_and_refuses_bad_flags_in_one_line(tmp_path, capsys):
    from behaviorlab.platform.cli import main

    assert main(["data", "collect", str(tmp_path / "bot"), "--levels", "BabyAI-GoToLocal-v0", "--episodes", "2"]) == 0
    assert "2 episodes (2 new" in capsys.readouterr().out
    assert TrajectoryReader(tmp_path / "bot").num_episodes == 2
    assert main(["data", "collect", str(tmp_path / "crafter"), "--env", "crafter", "--levels", "x", "--episodes", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith("data collect --env crafter: --levels is for BabyAI; Crafter has one world generator")
    assert not (tmp_path / "crafter").exists()
