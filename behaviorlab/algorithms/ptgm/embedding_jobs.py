"""The passes of PTGM's offline stages that read every step of a dataset: the goal embeddings of
sampled steps (the goals stage clusters them) and the nearest code of every step (the prior
stage's labels).

They run in this process over `TrajectoryReader` batches or, with `use_ray`, as a Ray Data job
(a task per parquet shard) on a local Ray or, under `ray job submit`, across a cluster. Both paths
give each batch to the same function and put its rows back in dataset order by (episode_id,
step), so they return the same arrays. Only the small results (codes, sampled
embeddings) come back to the driver; the observations stay with the tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from behaviorlab.algorithms.ptgm.goals import goal_embedding, nearest_code
from behaviorlab.envs.datasets.trajectories import (
    Column,
    DatasetError,
    StepIndex,
    TrajectoryReader,
    decode_column,
)

BATCH_STEPS = 4096


def open_flat_dataset(path: str | Path) -> TrajectoryReader:
    """A reader of a dataset PTGM can use: flat vector observations, integer actions."""
    reader = TrajectoryReader(Path(path).expanduser())
    spec = reader.spec
    if spec.observation["type"] != "array" or len(spec.observation["shape"]) != 1 or spec.action["shape"]:
        raise DatasetError(f"{path}: PTGM needs flat vector observations and integer actions, the dataset holds "
                           f"obs {spec.observation}, action {spec.action}; collect it with `behaviorlab data collect`")
    return reader


def _sampled_embeddings(rows: np.ndarray, obs: np.ndarray, *, kind: str, wanted: np.ndarray) -> dict:
    keep = np.isin(rows, wanted)
    return {"row": rows[keep], "embedding": goal_embedding(obs[keep], kind)}


def _nearest_codes(rows: np.ndarray, obs: np.ndarray, *, kind: str, codes: np.ndarray) -> dict:
    return {"row": rows, "code": nearest_code(goal_embedding(obs, kind), codes)}


class _ShardPass:
    """Ray Data's view of `fn`: one shard file per call, streamed in batches → fn(rows, observations)."""

    def __init__(self, fn: Callable[..., dict], index: StepIndex, obs_column: Column, kwargs: dict):
        self.fn, self.index, self.obs_column, self.kwargs = fn, index, obs_column, kwargs

    def __call__(self, job: dict) -> Iterator[dict]:
        (shard,) = job["shard"]
        for batch in pq.ParquetFile(shard).iter_batches(BATCH_STEPS, columns=["episode_id", "step", "obs"]):
            rows = self.index.rows(batch.column("episode_id").to_numpy(), batch.column("step").to_numpy())
            yield self.fn(rows, decode_column(pa.chunked_array([batch.column("obs")]), self.obs_column), **self.kwargs)


def _ray_batches(reader: TrajectoryReader, fn: Callable[..., dict], kwargs: dict) -> Iterator[dict]:
    import ray.data

    from behaviorlab.envs.datasets.ray_jobs import quiet_ray_data

    quiet_ray_data()
    # One task per shard file, as in the VPT conversion: `ray.data.read_parquet` gives the same
    # rows, but its file listing and read planning cost 2–3× this whole pass (docs/benchmarks.md).
    shards = [{"shard": str(path)} for path in reader.shard_files()]
    shard_pass = _ShardPass(fn, reader.step_index(), reader.spec.column("obs"), kwargs)
    yield from ray.data.from_items(shards, override_num_blocks=len(shards)).map_batches(
        shard_pass, batch_size=1, batch_format="numpy").iter_batches(batch_size=None, batch_format="numpy")


def _local_batches(reader: TrajectoryReader, fn: Callable[..., dict], kwargs: dict) -> Iterator[dict]:
    index = reader.step_index()
    for steps in reader.iter_batches(BATCH_STEPS):
        yield fn(index.rows(steps.episode_id, steps.step), steps.obs, **kwargs)


def _run(reader: TrajectoryReader, fn: Callable[..., dict], kwargs: dict, use_ray: bool) -> dict[str, np.ndarray]:
    """fn over every step; its outputs concatenated, sorted by row."""
    started_ray = False
    if use_ray:
        from behaviorlab.envs.datasets.ray_jobs import start_ray

        started_ray = start_ray()
    try:
        batches = list((_ray_batches if use_ray else _local_batches)(reader, fn, kwargs))
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    if not batches:
        raise DatasetError(f"{reader.root}: the dataset has no steps; collect some first")
    merged = {key: np.concatenate([batch[key] for batch in batches]) for key in batches[0]}
    order = np.argsort(merged["row"], kind="stable")
    return {key: values[order] for key, values in merged.items()}


def embed_rows(reader: TrajectoryReader, kind: str, rows: np.ndarray, *, use_ray: bool = False) -> np.ndarray:
    """Goal embeddings of the steps at `rows` (dataset order; repeats allowed), float32 [len(rows), goal_dim]."""
    rows = np.asarray(rows, np.int64)
    wanted = np.unique(rows)
    found = _run(reader, _sampled_embeddings, {"kind": kind, "wanted": wanted}, use_ray)
    if not np.array_equal(found["row"], wanted):
        raise DatasetError(f"{reader.root}: {len(wanted) - len(found['row']):,} of the requested steps are not in the "
                           f"shards; the dataset is damaged, rebuild it")
    return found["embedding"][np.searchsorted(found["row"], rows)]


def code_of_every_step(reader: TrajectoryReader, kind: str, codes: np.ndarray, *, use_ray: bool = False) -> np.ndarray:
    """Index of the code nearest each step's goal embedding, int64 [num_steps] in dataset order.
    The prior's label for a step whose goal is row j is then this array's entry j."""
    found = _run(reader, _nearest_codes, {"kind": kind, "codes": np.asarray(codes)}, use_ray)
    if not np.array_equal(found["row"], np.arange(reader.num_steps)):
        raise DatasetError(f"{reader.root}: the shards' steps do not match episodes.parquet ({len(found['row']):,} "
                           f"read, {reader.num_steps:,} listed); the dataset is damaged, rebuild it")
    return found["code"]
