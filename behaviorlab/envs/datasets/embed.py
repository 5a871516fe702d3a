"""Frames → MineCLIP embeddings: a trajectory dataset of frames (a converted VPT dataset) becomes one
whose observation is the 512-d MineCLIP embedding of the 16-frame clip ending at each step, with the
actions, rewards, info and episode ids kept. PTGM clusters these embeddings into its goal codebook.

One job per episode (read it, embed it, write it as a staging shard that the output's writer adopts),
run in this process or as a Ray Data job whose actors each load the checkpoint once. Re-running
resumes: episodes already in the output are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from behaviorlab.envs.datasets.mineclip import WINDOW, load_mineclip
from behaviorlab.envs.datasets.ray_jobs import quiet_ray_data, start_ray
from behaviorlab.envs.datasets.trajectories import (
    METADATA_FILE,
    DatasetError,
    DatasetSpec,
    ShardWriter,
    TrajectoryReader,
    TrajectoryWriter,
    describe,
    format_spec,
)


def _check_frames(spec: DatasetSpec, frame_key: str, source: Path) -> None:
    """Refuse, before writing anything, a dataset whose observation `frame_key` is not RGB frames."""
    obs = spec.observation
    frames = obs["keys"].get(frame_key) if obs["type"] == "dict" else obs
    if frames is None or frames["type"] != "array" or len(frames["shape"]) != 3 or frames["shape"][-1] != 3 \
            or frames["dtype"] != "uint8":
        raise DatasetError(f"{source}: observation {frame_key!r} is not uint8 RGB frames [H, W, 3] (the observation is "
                           f"{format_spec(obs)}); embed a dataset of frames (e.g. from `behaviorlab data convert-vpt`) "
                           f"or pass --frame-key")


def _at(value: Any, index: int) -> Any:
    """Step `index` of a nested dict of per-step arrays."""
    return {key: _at(item, index) for key, item in value.items()} if isinstance(value, dict) else value[index]


def episode_source(record) -> str:
    """The output episode's source: the input's (a VPT relpath), or its id if it has none."""
    return record.source or f"episode {record.episode_id}"


class EpisodeEmbedder:
    """Embeds one input episode per call and writes it as a shard (also Ray Data's actor class)."""

    def __init__(self, source: str, checkpoint: str, frame_key: str, batch_size: int, device: str):
        self.reader = TrajectoryReader(source)
        _check_frames(self.reader.spec, frame_key, Path(source))
        self.encoder = load_mineclip(checkpoint, device=device)
        self.frame_key = frame_key
        self.batch_size = batch_size

    def spec(self) -> DatasetSpec:
        """The input's spec with the observation replaced by the embedding."""
        embedding = describe(np.zeros(self.encoder.shape.embed_dim, np.float32))
        return replace(self.reader.spec, observation=embedding)

    def embed(self, episode_id: int, shard_file: str) -> int:
        steps = self.reader.episode(episode_id)
        frames = steps.obs[self.frame_key] if isinstance(steps.obs, dict) else steps.obs
        embeddings = self.encoder.embed_episode(frames, batch_size=self.batch_size)
        shard = ShardWriter(shard_file, self.spec())
        try:
            for t in range(len(steps)):
                shard.add_step(episode_id, embeddings[t], _at(steps.action, t),
                               None if steps.reward is None else float(steps.reward[t]),
                               None if steps.info is None else _at(steps.info, t))
            shard.end_episode(terminated=bool(steps.terminated[-1]))
            shard.close()
        except BaseException:
            shard.abort()
            raise
        return len(steps)

    def __call__(self, jobs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Ray Data batch of jobs → their step counts."""
        counts = [self.embed(int(episode_id), str(shard_file))
                  for episode_id, shard_file in zip(jobs["episode_id"], jobs["shard_file"])]
        return {**jobs, "num_steps": np.asarray(counts, np.int64)}


@dataclass(frozen=True)
class EmbeddingSummary:
    path: Path
    episodes_embedded: int  # in this run
    episodes_skipped: int  # already in the output (a resumed run)
    steps_embedded: int
    seconds: float

    @property
    def steps_per_second(self) -> float:
        return self.steps_embedded / max(self.seconds, 1e-9)


def embed_dataset(source: str | Path, out: str | Path, checkpoint: str | Path, *, frame_key: str = "pov",
                  batch_size: int = 64, device: str = "cpu", use_ray: bool = False, ray_actors: int = 1,
                  command: str = "", progress: bool = True) -> EmbeddingSummary:
    """Write at `out` (created, or resumed) the MineCLIP embeddings of every episode of `source`.

    frame_key: the observation entry holding the frames ("pov" in VPT datasets; ignored when the
    observation is the frames themselves). batch_size: frames per forward pass. use_ray: a Ray Data
    job with `ray_actors` actors, each holding one copy of the network (on a GPU if `device` is
    "cuda"); otherwise this process does the work.
    """
    if batch_size < 1 or ray_actors < 1:
        raise DatasetError(f"batch size {batch_size}, actors {ray_actors}: both must be at least 1")
    source, out, checkpoint = Path(source), Path(out), Path(checkpoint).expanduser().resolve()
    # Loaded here too so bad input fails before anything starts; with Ray on the CPU, since the
    # driver (a cluster's head node) may have no GPU.
    embedder = EpisodeEmbedder(str(source), str(checkpoint), frame_key, batch_size, "cpu" if use_ray else device)
    attributes = {"embedding": "mineclip", "checkpoint": str(checkpoint), "window": WINDOW,
                  "pool": embedder.encoder.shape.pool, "frame_key": frame_key}
    writer = TrajectoryWriter(out, mode="append" if (out / METADATA_FILE).exists() else "create", spec=embedder.spec(),
                              source=f"MineCLIP embeddings of {source.resolve()}", command=command, attributes=attributes)
    started_ray = False
    start = time.perf_counter()
    steps = embedded = 0
    try:
        with writer:
            done = writer.sources
            todo = [record for record in embedder.reader.episodes if episode_source(record) not in done]
            jobs = [{"episode_id": record.episode_id, "shard_file": str(writer.staging_file())} for record in todo]
            if progress:
                print(f"embedding {len(todo)} of {embedder.reader.num_episodes} episodes of {source} into {out} "
                      f"({'Ray Data' if use_ray else 'local'}, {embedder.encoder.shape.pool} pooling)", flush=True)
            if use_ray and jobs:
                started_ray = start_ray()
                start = time.perf_counter()  # rates count from here, after Ray's start-up
                del embedder.encoder  # the actors hold their own copies
                results = _ray_results(jobs, str(source), str(checkpoint), frame_key, batch_size, device, ray_actors)
            else:
                results = ({**job, "num_steps": embedder.embed(job["episode_id"], job["shard_file"])} for job in jobs)
            records = {record.episode_id: record for record in todo}
            for finished, result in enumerate(results, start=1):
                record = records[int(result["episode_id"])]
                writer.add_shard(result["shard_file"], [(record.episode_id, episode_source(record), int(result["num_steps"]))])
                steps += int(result["num_steps"])
                embedded += 1
                if progress:
                    print(f"[{time.perf_counter() - start:7.1f}s] {finished}/{len(jobs)} episodes | steps {steps:,} | "
                          f"{steps / max(time.perf_counter() - start, 1e-9):,.1f} steps/s | {episode_source(record)}", flush=True)
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    return EmbeddingSummary(out, embedded, embedder.reader.num_episodes - len(todo), steps, time.perf_counter() - start)


def _ray_results(jobs: list[dict], source: str, checkpoint: str, frame_key: str, batch_size: int, device: str,
                 actors: int) -> Iterator[dict]:
    import ray.data

    quiet_ray_data()
    dataset = ray.data.from_items(jobs, override_num_blocks=len(jobs))
    results = dataset.map_batches(EpisodeEmbedder, batch_size=1, concurrency=actors,
                                  num_gpus=1 if device.startswith("cuda") else 0,
                                  fn_constructor_kwargs={"source": source, "checkpoint": checkpoint, "frame_key": frame_key,
                                                         "batch_size": batch_size, "device": device})
    yield from results.iter_rows()
