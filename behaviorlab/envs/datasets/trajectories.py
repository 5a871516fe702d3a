"""Trajectory datasets: one on-disk format for every domain (Minecraft VPT, BabyAI, Crafter, …).

A dataset is a directory:

    metadata.json       format version, spec of observations/actions/info, counts, source, the
                        command that wrote it, and whether the last write finished (`complete`)
    episodes.parquet    one row per episode: episode_id, source, num_steps, shard, row (of its first step)
    shards/shard-000000.parquet, …   the steps; each episode's steps are contiguous, in write order

Step columns: `episode_id` (int64), `step` (int64, index within the episode), the observation and
the action (one column per leaf of a dict: `obs/pov`, `action/camera`, `action/hotbar.1`; plain
`obs` / `action` when not a dict), `reward` (float32, only in datasets with rewards), `terminated`
and `truncated` (bool; exactly one is set on an episode's last step), and optional `info/…`
extras (same rules as observations). Scalars are native parquet columns; arrays (images,
vectors) are fixed-size binary columns holding their little-endian bytes, shape and dtype in the
spec: parquet writes and reads such a column about ten times faster than nested lists.

Why parquet rather than npz: columns compress (zstd) and can be read one at a time; row groups
let a reader stream batches or pick one episode without loading a whole shard; and a cluster's
tasks can each stream their own shards for preprocessing (PTGM's `embedding_jobs`). An npz member
has to be read whole.

Crash safety: every file is written under a temporary name and renamed into place. metadata.json
is the commit record, rewritten after each finished shard; it names how many episodes of
episodes.parquet and how many rows of the shards are committed, and `complete` becomes true only
when the writer closes without error. A reader refuses an incomplete dataset;
`TrajectoryWriter(path, mode="append")` resumes it, first dropping the steps of any episode that a
crash cut off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = "behaviorlab.trajectories"
FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
EPISODES_FILE = "episodes.parquet"
SHARDS_DIR = "shards"
STAGING_DIR = ".staging"  # shards written by other processes (Ray tasks) before add_shard adopts them
# Steps buffered in memory before they are written as one parquet row group: bounds the writer's
# memory (256 128×128 RGB frames ≈ 12 MB) and is the unit a streaming reader decodes.
ROW_GROUP_STEPS = 256
_SHARD_NAME = re.compile(r"shard-(\d{6})\.parquet")
_COMPRESSION = "zstd"


class DatasetError(ValueError):
    """A dataset, index or recording that cannot be used; one line: `path: problem; fix`."""


# ---------------------------------------------------------------------------------------------
# Specs: what one step holds. JSON form (as in metadata.json):
#   {"type": "array", "shape": [128, 128, 3], "dtype": "uint8"}  or  {"type": "dict", "keys": {...}}


def describe(value: Any) -> dict:
    """The spec of one step's observation, action or info value."""
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str) or "/" in key or not key:
                raise DatasetError(f"dict key {key!r}: keys must be non-empty strings without '/' (they become column names)")
        return {"type": "dict", "keys": {key: describe(item) for key, item in value.items()}}
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise DatasetError(f"value of dtype {array.dtype}: only bool, integer and float arrays can be stored")
    return {"type": "array", "shape": list(array.shape), "dtype": array.dtype.name}


def format_spec(spec: dict) -> str:
    """`{pov: uint8[128,128,3]}`-style text of a spec."""
    if spec["type"] == "dict":
        return "{" + ", ".join(f"{key}: {format_spec(item)}" for key, item in spec["keys"].items()) + "}"
    shape = spec["shape"]
    return spec["dtype"] + (f"[{','.join(map(str, shape))}]" if shape else "")


@dataclass(frozen=True)
class Column:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def arrow_field(self) -> pa.Field:
        if not self.shape:
            return pa.field(self.name, pa.from_numpy_dtype(self.dtype), nullable=False)
        return pa.field(self.name, pa.binary(self.nbytes), nullable=False,
                        metadata={"shape": json.dumps(list(self.shape)), "dtype": self.dtype.name})


def _scalar(name: str, dtype: str) -> Column:
    return Column(name, (), np.dtype(dtype))


def _leaves(spec: dict, name: str) -> list[Column]:
    if spec["type"] == "dict":
        return [column for key, item in spec["keys"].items() for column in _leaves(item, f"{name}/{key}")]
    return [Column(name, tuple(spec["shape"]), np.dtype(spec["dtype"]))]


def _flatten(value: Any, spec: dict, name: str, out: dict[str, np.ndarray]) -> None:
    """Check one value against its spec and add its leaves to `out` as column → array."""
    if spec["type"] == "dict":
        if not isinstance(value, Mapping) or set(value) != set(spec["keys"]):
            got = sorted(value) if isinstance(value, Mapping) else type(value).__name__
            raise DatasetError(f"{name}: expected a dict with keys {sorted(spec['keys'])}, got {got}")
        for key, item in spec["keys"].items():
            _flatten(value[key], item, f"{name}/{key}", out)
        return
    array = np.asarray(value)
    dtype = np.dtype(spec["dtype"])
    if array.shape != tuple(spec["shape"]) or not np.can_cast(array.dtype, dtype, "safe"):
        got = {"type": "array", "shape": list(array.shape), "dtype": array.dtype.name}
        raise DatasetError(f"{name}: got {format_spec(got)}, the dataset holds {format_spec(spec)}")
    out[name] = array.astype(dtype, copy=False)


def _unflatten(spec: dict, name: str, columns: Mapping[str, np.ndarray]) -> Any:
    if spec["type"] == "dict":
        return {key: _unflatten(item, f"{name}/{key}", columns) for key, item in spec["keys"].items()}
    return columns[name]


@dataclass(frozen=True)
class DatasetSpec:
    """What each step holds: observation, action and info specs, and whether there is a reward."""

    observation: dict
    action: dict
    reward: bool
    info: dict | None = None

    @classmethod
    def of_step(cls, obs: Any, action: Any, reward: float | None = None, info: Mapping | None = None) -> DatasetSpec:
        return cls(describe(obs), describe(action), reward is not None, None if info is None else describe(dict(info)))

    def to_json(self) -> dict:
        return {"observation": self.observation, "action": self.action, "reward": self.reward, "info": self.info}

    @classmethod
    def from_json(cls, data: dict) -> DatasetSpec:
        return cls(data["observation"], data["action"], bool(data["reward"]), data.get("info"))

    def columns(self) -> list[Column]:
        columns = [_scalar("episode_id", "int64"), _scalar("step", "int64")]
        columns += _leaves(self.observation, "obs") + _leaves(self.action, "action")
        if self.reward:
            columns.append(_scalar("reward", "float32"))
        columns += [_scalar("terminated", "bool"), _scalar("truncated", "bool")]
        if self.info is not None:
            columns += _leaves(self.info, "info")
        return columns

    def schema(self) -> pa.Schema:
        return pa.schema([column.arrow_field() for column in self.columns()])

    def column(self, name: str) -> Column:
        for column in self.columns():
            if column.name == name:
                return column
        raise KeyError(f"no column {name!r}; the columns are {', '.join(c.name for c in self.columns())}")


# ---------------------------------------------------------------------------------------------
# Steps as numpy arrays, as readers return them.


@dataclass
class Steps:
    """Consecutive steps (one episode, or a batch that may span episodes), leading axis = step."""

    episode_id: np.ndarray
    step: np.ndarray
    obs: Any  # array, or dict of arrays (nested as the spec)
    action: Any
    reward: np.ndarray | None
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict | None

    def __len__(self) -> int:
        return len(self.episode_id)


@dataclass(frozen=True)
class EpisodeRecord:
    episode_id: int
    source: str  # where it came from, e.g. the VPT relpath; "" if not given
    num_steps: int
    shard: int  # shard holding its first step
    row: int  # row of its first step in that shard


def decode_column(chunked: pa.ChunkedArray, column: Column) -> np.ndarray:
    """A fixed-size binary column as the array it holds, [rows, *column.shape]."""
    width = column.nbytes
    parts = [np.frombuffer(chunk.buffers()[1], np.uint8, count=len(chunk) * width, offset=chunk.offset * width)
             for chunk in chunked.chunks if len(chunk)]
    flat = np.concatenate(parts) if parts else np.empty(0, np.uint8)  # a copy: callers get writable arrays
    return flat.view(column.dtype.newbyteorder("<")).astype(column.dtype, copy=False).reshape(len(chunked), *column.shape)


def _table_to_steps(table: pa.Table, spec: DatasetSpec) -> Steps:
    arrays = {}
    for column in spec.columns():
        values = table.column(column.name)
        arrays[column.name] = decode_column(values, column) if column.shape else np.array(values.to_numpy())
    return Steps(
        episode_id=arrays["episode_id"], step=arrays["step"],
        obs=_unflatten(spec.observation, "obs", arrays), action=_unflatten(spec.action, "action", arrays),
        reward=arrays.get("reward"), terminated=arrays["terminated"], truncated=arrays["truncated"],
        info=None if spec.info is None else _unflatten(spec.info, "info", arrays),
    )


# ---------------------------------------------------------------------------------------------
# Files


def _shard_path(root: Path, index: int) -> Path:
    return root / SHARDS_DIR / f"shard-{index:06d}.parquet"


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def _write_atomically(path: Path, write) -> None:
    """write(tmp_path), then rename over `path`: readers see the old file or the new one, never half."""
    tmp = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _damaged(path: Path, problem: str) -> DatasetError:
    return DatasetError(f"{path}: {problem}; the dataset is damaged: re-create it")


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise _damaged(path, "missing") from None
    except (pa.ArrowException, OSError) as error:
        raise _damaged(path, f"unreadable ({error})") from None


def _read_metadata(root: Path) -> dict:
    if not root.exists():
        raise DatasetError(f"{root}: no such dataset; check the path (datasets are written by "
                           f"`behaviorlab data convert-vpt` or TrajectoryWriter)")
    file = root / METADATA_FILE
    if not file.is_file():
        raise DatasetError(f"{root}: not a trajectory dataset (no {METADATA_FILE}); point at a directory written by "
                           f"`behaviorlab data convert-vpt` or TrajectoryWriter")
    try:
        metadata = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _damaged(file, f"unreadable ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise DatasetError(f"{file}:format: not {FORMAT!r}; point at a directory written by TrajectoryWriter")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise DatasetError(f"{file}:format_version: {metadata.get('format_version')!r} is not supported (this behaviorlab "
                           f"reads {FORMAT_VERSION}); read it with the behaviorlab version that wrote it")
    for key, kind in (("complete", bool), ("num_episodes", int), ("num_steps", int), ("num_shards", int),
                      ("last_shard_rows", int)):
        if not isinstance(metadata.get(key), kind):
            raise _damaged(file, f"key {key!r} is missing or not {kind.__name__}")
    spec = metadata.get("spec")
    try:
        if spec is not None:
            DatasetSpec.from_json(spec).schema()
    except (KeyError, TypeError, ValueError) as error:
        raise _damaged(file, f"key 'spec' is malformed ({error!r})") from None
    return metadata


def _read_episodes(root: Path, count: int) -> list[EpisodeRecord]:
    """The first `count` rows of episodes.parquet: the committed episodes (later rows may come
    from a commit that was cut off between writing this file and metadata.json)."""
    table = _open_parquet(root / EPISODES_FILE).read()
    if table.num_rows < count:
        raise _damaged(root / EPISODES_FILE, f"has {table.num_rows} episodes, metadata.json lists {count}")
    rows = table.slice(0, count).to_pydict()
    return [EpisodeRecord(*values) for values in zip(rows["episode_id"], rows["source"], rows["num_steps"],
                                                     rows["shard"], rows["row"])]


def _write_episodes(root: Path, episodes: Sequence[EpisodeRecord]) -> None:
    table = pa.table({
        "episode_id": pa.array([e.episode_id for e in episodes], pa.int64()),
        "source": pa.array([e.source for e in episodes], pa.string()),
        "num_steps": pa.array([e.num_steps for e in episodes], pa.int64()),
        "shard": pa.array([e.shard for e in episodes], pa.int64()),
        "row": pa.array([e.row for e in episodes], pa.int64()),
    })
    _write_atomically(root / EPISODES_FILE, lambda tmp: pq.write_table(table, tmp))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------
# Writing


class ShardWriter:
    """Streams steps into one parquet file; the file appears under its name only on close().

    TrajectoryWriter uses it for its shards; a separate process (a Ray task) uses it to write a
    shard under `TrajectoryWriter.staging_file()` that the dataset's writer then adopts with
    `add_shard`, so the steps never pass through the driver.
    """

    def __init__(self, path: str | Path, spec: DatasetSpec):
        self.path = Path(path)
        self.spec = spec
        self._columns = spec.columns()
        self._schema = spec.schema()
        self._tmp = _temporary(self.path)
        self._file: pq.ParquetWriter | None = None
        self._buffer: dict[str, list] = {column.name: [] for column in self._columns}
        self._written = 0
        self._episode: tuple[int, int] | None = None  # (id, steps so far) of the open episode

    @property
    def rows(self) -> int:
        return self._written + len(self._buffer["episode_id"])

    def continue_episode(self, episode_id: int, steps_so_far: int) -> None:
        """Go on with an episode whose first `steps_so_far` steps are in the previous shard."""
        if self._episode is not None:
            raise DatasetError(f"{self.path}: continue_episode() while episode {self._episode[0]} is open")
        self._episode = (episode_id, steps_so_far)

    def add_step(self, episode_id: int, obs: Any, action: Any, reward: float | None = None,
                 info: Mapping | None = None) -> None:
        """Append one step of `episode_id` (a new id starts an episode; the previous must be ended)."""
        open_id, steps = self._episode if self._episode is not None else (episode_id, 0)
        if open_id != episode_id:
            raise DatasetError(f"{self.path}: step of episode {episode_id} while episode {open_id} is open; "
                               f"call end_episode() first")
        if (reward is None) == self.spec.reward:
            raise DatasetError(f"reward: the dataset {'has' if self.spec.reward else 'has no'} rewards, "
                               f"so every step must {'give' if self.spec.reward else 'omit'} one")
        if (info is None) != (self.spec.info is None):
            raise DatasetError(f"info: the dataset {'has no' if self.spec.info is None else 'has'} info columns, "
                               f"so every step must {'omit' if self.spec.info is None else 'give'} info")
        values = {"episode_id": np.int64(episode_id), "step": np.int64(steps)}
        _flatten(obs, self.spec.observation, "obs", values)
        _flatten(action, self.spec.action, "action", values)
        if reward is not None:
            values["reward"] = np.float32(reward)
        values["terminated"] = values["truncated"] = False
        if info is not None:
            _flatten(dict(info), self.spec.info, "info", values)
        # The previous row group is written only now, so the last step stays in memory for end_episode.
        if len(self._buffer["episode_id"]) >= ROW_GROUP_STEPS:
            self._flush()
        for name, value in values.items():
            self._buffer[name].append(value)
        self._episode = (episode_id, steps + 1)  # only now: a step that failed its checks opens nothing

    def end_episode(self, *, terminated: bool) -> int:
        """Mark the last step: `terminated` (the task ended) or else truncated (a time limit, the
        end of a recording). Returns the episode's number of steps (in all shards)."""
        if self._episode is None:
            raise DatasetError(f"{self.path}: end_episode() with no step since the last episode ended")
        self._buffer["terminated"][-1] = bool(terminated)
        self._buffer["truncated"][-1] = not terminated
        self._episode, steps = None, self._episode[1]
        return steps

    def _flush(self) -> None:
        if self._file is None:
            self._file = pq.ParquetWriter(self._tmp, self._schema, compression=_COMPRESSION)
        arrays = []
        for column in self._columns:
            values = self._buffer[column.name]
            if column.shape:
                data = np.ascontiguousarray(np.stack(values), dtype=column.dtype.newbyteorder("<"))
                arrays.append(pa.FixedSizeBinaryArray.from_buffers(pa.binary(column.nbytes), len(values),
                                                                   [None, pa.py_buffer(data)]))
            else:
                arrays.append(pa.array(np.asarray(values, column.dtype)))
        self._file.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self._written += len(self._buffer["episode_id"])
        self._buffer = {name: [] for name in self._buffer}

    def close(self) -> None:
        """Write what is buffered and move the file to its name (steps of an episode not yet ended
        are kept: TrajectoryWriter continues such an episode in its next shard)."""
        if self._buffer["episode_id"] or self._file is None:
            self._flush()
        self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the file."""
        if self._file is not None:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


@dataclass
class _OpenEpisode:
    episode_id: int
    shard: int
    row: int
    steps: int = 0


class TrajectoryWriter:
    """Writes a trajectory dataset step by step (or adopts shards written elsewhere), committing
    after each shard of `shard_steps` steps. Use as a context manager: leaving the block normally
    marks the dataset complete; an exception keeps the committed episodes, leaves the dataset
    incomplete (so readers refuse it and `mode="append"` resumes it), and removes the directory
    if this writer created it and committed nothing.

    mode="create": `path` must not exist or be an empty directory. mode="append": `path` is an
    existing dataset, complete or interrupted; new episodes are added after the committed ones.
    `spec` fixes what each step holds (default: taken from the first step); `source`, `command`
    and `attributes` (domain settings, e.g. the VPT frame size; an append must match them) are
    recorded in metadata.json.
    """

    def __init__(self, path: str | Path, *, mode: str = "create", spec: DatasetSpec | None = None,
                 shard_steps: int = 1000, source: str = "", command: str = "", attributes: Mapping | None = None):
        if mode not in ("create", "append"):
            raise ValueError(f"mode must be 'create' or 'append', not {mode!r}")
        if shard_steps < 1:
            raise ValueError(f"shard_steps must be at least 1, not {shard_steps}")
        self.root = Path(path)
        self.shard_steps = shard_steps
        self._shard: ShardWriter | None = None
        self._episode: _OpenEpisode | None = None
        self._pending: list[tuple[EpisodeRecord, tuple[int, int]]] = []  # ended in the open shard, with end position
        self._closed = False
        attributes = dict(attributes or {})
        if mode == "create":
            self._create(spec, source, command, attributes)
        else:
            self._open_existing(spec, command, attributes)
        self._ids = {episode.episode_id for episode in self._episodes}
        self._next_id = max(self._ids, default=-1) + 1
        self._shard_index = self._end[0]

    def _create(self, spec: DatasetSpec | None, source: str, command: str, attributes: dict) -> None:
        existed = self.root.exists()
        if existed and (not self.root.is_dir() or any(self.root.iterdir())):
            what = "holds a dataset" if (self.root / METADATA_FILE).exists() else "is not an empty directory"
            raise DatasetError(f"{self.root}: already exists and {what}; choose a new path"
                               + (", or append to it (mode='append')" if what == "holds a dataset" else ""))
        (self.root / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
        self._created = not existed
        self._spec = spec
        self._episodes: list[EpisodeRecord] = []
        self._num_steps = 0
        self._end = (0, 0)  # (shards holding committed rows, committed rows of the last of them)
        self._metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "complete": False, "source": source,
                          "created_by": command, "created_at": _now(), "attributes": attributes}
        self._commit(complete=False)

    def _open_existing(self, spec: DatasetSpec | None, command: str, attributes: dict) -> None:
        metadata = _read_metadata(self.root)
        for key, value in attributes.items():
            stored = metadata.get("attributes", {}).get(key)
            if stored != value:
                raise DatasetError(f"{self.root}: was written with {key}={stored!r}, this write uses {value!r}; "
                                   f"use the same settings or write to a new path")
        stored_spec = None if metadata["spec"] is None else DatasetSpec.from_json(metadata["spec"])
        if spec is not None and stored_spec is not None and spec != stored_spec:
            raise DatasetError(f"{self.root}: holds obs {format_spec(stored_spec.observation)}, action "
                               f"{format_spec(stored_spec.action)}, but this write gives obs {format_spec(spec.observation)}, "
                               f"action {format_spec(spec.action)}; write to a new path")
        self._created = False
        self._spec = stored_spec or spec
        self._metadata = metadata
        self._episodes = _read_episodes(self.root, metadata["num_episodes"])
        self._num_steps = metadata["num_steps"]
        self._end = (metadata["num_shards"], metadata["last_shard_rows"])
        self._drop_uncommitted()
        self._metadata["updated_by"] = command
        self._commit(complete=False)  # until this write finishes, the dataset is not complete

    def _drop_uncommitted(self) -> None:
        """Remove what a crashed write left past the commit point: later shards, temporary files,
        and the rows of a cut-off episode at the end of the last committed shard."""
        num_shards, last_rows = self._end
        for file in (self.root / SHARDS_DIR).iterdir():
            match = _SHARD_NAME.fullmatch(file.name)
            if file.name.startswith(".") or (match and int(match.group(1)) >= num_shards):
                file.unlink()
        shutil.rmtree(self.root / STAGING_DIR, ignore_errors=True)
        if num_shards:
            last = _shard_path(self.root, num_shards - 1)
            table = _open_parquet(last).read()
            if table.num_rows < last_rows:
                raise _damaged(last, f"has {table.num_rows} rows, metadata.json commits {last_rows}")
            if table.num_rows > last_rows:
                _write_atomically(last, lambda tmp: pq.write_table(table.slice(0, last_rows), tmp,
                                                                   compression=_COMPRESSION,
                                                                   row_group_size=ROW_GROUP_STEPS))

    @property
    def spec(self) -> DatasetSpec | None:
        return self._spec

    @property
    def num_episodes(self) -> int:
        """Episodes finished so far (committed or waiting for their shard to close)."""
        return len(self._episodes) + len(self._pending)

    @property
    def num_steps(self) -> int:
        return self._num_steps + sum(record.num_steps for record, _ in self._pending)

    @property
    def sources(self) -> set[str]:
        """Sources of the episodes finished so far: what a resumed conversion can skip."""
        return {e.source for e in self._episodes} | {record.source for record, _ in self._pending}

    @property
    def next_episode_id(self) -> int:
        return self._next_id

    def add_step(self, obs: Any, action: Any, *, reward: float | None = None, info: Mapping | None = None) -> None:
        """Append a step to the open episode (the first step opens one)."""
        self._check_open()
        if self._spec is None:
            self._spec = DatasetSpec.of_step(obs, action, reward, info)
        if self._shard is not None and self._shard.rows >= self.shard_steps:
            self._close_shard()
        if self._shard is None:
            self._shard = ShardWriter(_shard_path(self.root, self._shard_index), self._spec)
            if self._episode is not None:
                self._shard.continue_episode(self._episode.episode_id, self._episode.steps)
        episode = self._episode or _OpenEpisode(self._next_id, self._shard_index, self._shard.rows)
        self._shard.add_step(episode.episode_id, obs, action, reward, info)
        if self._episode is None:  # opened only by a step that passed the checks
            self._episode = episode
            self._next_id += 1
        self._episode.steps += 1

    def end_episode(self, *, terminated: bool, source: str = "") -> int:
        """Close the open episode (see ShardWriter.end_episode for `terminated`); returns its id."""
        self._check_open()
        if self._episode is None:
            raise DatasetError(f"{self.root}: end_episode() with no step since the last episode ended")
        self._shard.end_episode(terminated=terminated)
        episode, self._episode = self._episode, None
        record = EpisodeRecord(episode.episode_id, source, episode.steps, episode.shard, episode.row)
        self._pending.append((record, (self._shard_index + 1, self._shard.rows)))
        self._ids.add(record.episode_id)
        return record.episode_id

    def staging_file(self) -> Path:
        """A fresh path for a ShardWriter in another process; hand the result to add_shard."""
        (self.root / STAGING_DIR).mkdir(exist_ok=True)
        return self.root / STAGING_DIR / f"{uuid.uuid4().hex}.parquet"

    def add_shard(self, file: str | Path, episodes: Sequence[tuple[int, str, int]]) -> None:
        """Adopt a finished ShardWriter file holding whole episodes, given as (episode_id, source,
        num_steps) in file order, and commit them. The file is moved into the dataset."""
        self._check_open()
        file = Path(file)
        if self._episode is not None:
            raise DatasetError(f"{self.root}: add_shard() while episode {self._episode.episode_id} is open; "
                               f"call end_episode() first")
        if not episodes:
            raise DatasetError(f"{file}: add_shard() needs the episodes the file holds")
        if self._spec is None:
            raise DatasetError(f"{self.root}: add_shard() needs a dataset spec; pass spec= to TrajectoryWriter")
        parquet = _open_parquet(file)
        if not parquet.schema_arrow.equals(self._spec.schema()):
            raise DatasetError(f"{file}: its columns differ from the dataset's; write it with "
                               f"ShardWriter(path, writer.spec)")
        rows = parquet.metadata.num_rows
        if sum(steps for _, _, steps in episodes) != rows:
            raise DatasetError(f"{file}: holds {rows} steps, the episodes given add up to "
                               f"{sum(steps for _, _, steps in episodes)}")
        repeated = self._ids & {episode_id for episode_id, _, _ in episodes}
        if repeated:
            raise DatasetError(f"{file}: episode ids {sorted(repeated)} are already in {self.root}; "
                               f"number new episodes from writer.next_episode_id")
        if self._shard is not None:
            self._close_shard()
        os.replace(file, _shard_path(self.root, self._shard_index))
        row = 0
        for episode_id, source, steps in episodes:
            record = EpisodeRecord(int(episode_id), source, int(steps), self._shard_index, row)
            self._pending.append((record, (self._shard_index + 1, row + record.num_steps)))
            self._ids.add(record.episode_id)
            row += record.num_steps
        self._next_id = max(self._next_id, max(self._ids) + 1)
        self._shard_index += 1
        self._commit_pending()

    def _check_open(self) -> None:
        if self._closed:
            raise DatasetError(f"{self.root}: the writer is closed; open a new one with mode='append'")

    def _close_shard(self) -> None:
        shard, self._shard = self._shard, None
        shard.close()
        self._shard_index += 1  # an open episode goes on in the next shard
        self._commit_pending()

    def _commit_pending(self) -> None:
        if not self._pending:
            return
        self._episodes.extend(record for record, _ in self._pending)
        self._num_steps += sum(record.num_steps for record, _ in self._pending)
        self._end = self._pending[-1][1]
        self._pending.clear()
        self._commit(complete=False)

    def _commit(self, *, complete: bool) -> None:
        self._metadata.update(
            complete=complete, spec=None if self._spec is None else self._spec.to_json(),
            num_episodes=len(self._episodes), num_steps=self._num_steps,
            num_shards=self._end[0], last_shard_rows=self._end[1], updated_at=_now(),
        )
        _write_episodes(self.root, self._episodes)  # first: metadata.json says how many of its rows count
        text = json.dumps(self._metadata, indent=2)
        _write_atomically(self.root / METADATA_FILE, lambda tmp: tmp.write_text(text))

    def close(self) -> None:
        """Finish: write the last shard and mark the dataset complete."""
        if self._closed:
            return
        if self._episode is not None:
            episode = self._episode
            self._abort()
            raise DatasetError(f"{self.root}: closed with episode {episode.episode_id} open ({episode.steps} steps, "
                               f"dropped); call end_episode() before closing")
        if self._shard is not None:
            self._close_shard()
        self._commit(complete=True)
        shutil.rmtree(self.root / STAGING_DIR, ignore_errors=True)
        self._closed = True

    def _abort(self) -> None:
        """After an error: keep the episodes that ended (they are committed), not the open one."""
        self._closed = True
        shard, self._shard = self._shard, None
        if shard is not None:
            try:
                shard.close()
            except Exception:  # e.g. the error came in the middle of a step: its buffer is inconsistent
                shard.abort()
                self._pending.clear()
            else:
                self._commit_pending()
        if self._created and not self._episodes:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


# ---------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class StepIndex:
    """Row numbers of steps in dataset order (the order `iter_batches` yields them), so that jobs
    reading the shards in any order (Ray Data) can put their results in place."""

    episode_ids: np.ndarray  # int64 [episodes], sorted
    first_rows: np.ndarray  # int64 [episodes]: the row of each episode's first step

    def rows(self, episode_id: np.ndarray, step: np.ndarray) -> np.ndarray:
        return self.first_rows[np.searchsorted(self.episode_ids, episode_id)] + np.asarray(step, np.int64)


class TrajectoryReader:
    """Streams a complete dataset: episodes one at a time, fixed-size batches, or one episode by id.
    Memory stays at about one row group plus what is returned."""

    def __init__(self, path: str | Path):
        self.root = Path(path)
        self.metadata = _read_metadata(self.root)
        if not self.metadata["complete"]:
            raise DatasetError(_incomplete_message(self.root, self.metadata["num_episodes"]))
        self.spec = None if self.metadata["spec"] is None else DatasetSpec.from_json(self.metadata["spec"])
        self.episodes = _read_episodes(self.root, self.metadata["num_episodes"])
        self._by_id = {episode.episode_id: episode for episode in self.episodes}

    @property
    def num_episodes(self) -> int:
        return len(self.episodes)

    @property
    def num_steps(self) -> int:
        return self.metadata["num_steps"]

    def shard_files(self) -> list[Path]:
        """The shard files, in dataset order (what distributed jobs split among their tasks)."""
        return [_shard_path(self.root, index) for index in range(self.metadata["num_shards"])]

    def _in_dataset_order(self) -> tuple[np.ndarray, np.ndarray]:
        """Episode ids and lengths in the order their steps are stored."""
        ordered = sorted(self.episodes, key=lambda episode: (episode.shard, episode.row))
        return (np.array([episode.episode_id for episode in ordered], np.int64),
                np.array([episode.num_steps for episode in ordered], np.int64))

    def step_index(self) -> StepIndex:
        """Where each (episode_id, step) is in dataset order, from episodes.parquet alone."""
        ids, lengths = self._in_dataset_order()
        first_rows = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        by_id = np.argsort(ids)
        return StepIndex(ids[by_id], first_rows[by_id])

    def step_episode_ids(self) -> np.ndarray:
        """The episode id of every step, in dataset order (int64 [num_steps]), from episodes.parquet alone."""
        return np.repeat(*self._in_dataset_order())

    def _shard(self, index: int) -> pq.ParquetFile:
        path = _shard_path(self.root, index)
        shard = _open_parquet(path)
        if not shard.schema_arrow.equals(self.spec.schema()):
            raise _damaged(path, "its columns differ from metadata.json's spec")
        return shard

    def _record_batches(self) -> Iterator[pa.RecordBatch]:
        for index in range(self.metadata["num_shards"]):
            path = _shard_path(self.root, index)
            try:
                yield from self._shard(index).iter_batches(batch_size=ROW_GROUP_STEPS)
            except (pa.ArrowException, OSError) as error:
                raise _damaged(path, f"unreadable ({error})") from None

    def iter_batches(self, batch_size: int, *, drop_last: bool = False) -> Iterator[Steps]:
        """Batches of `batch_size` consecutive steps in dataset order (across episode and shard
        boundaries; `episode_id` tells them apart); the last may be shorter unless `drop_last`."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in self._record_batches():
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_size:
                table = pa.Table.from_batches(pending)
                yield _table_to_steps(table.slice(0, batch_size), self.spec)
                rest = table.slice(batch_size)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows and not drop_last:
            yield _table_to_steps(pa.Table.from_batches(pending), self.spec)

    def iter_episodes(self) -> Iterator[tuple[EpisodeRecord, Steps]]:
        """(record, steps) of every episode, in dataset order."""
        records = iter(self.episodes)
        record = next(records, None)
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in self._record_batches():
            while batch.num_rows and record is not None:
                take = min(record.num_steps - rows, batch.num_rows)
                pending.append(batch.slice(0, take))
                rows += take
                batch = batch.slice(take)
                if rows == record.num_steps:
                    yield record, _table_to_steps(pa.Table.from_batches(pending), self.spec)
                    record, pending, rows = next(records, None), [], 0
        if record is not None:
            raise _damaged(self.root, f"the shards end inside episode {record.episode_id}")

    def episode(self, episode_id: int) -> Steps:
        """One episode's steps, reading only the row groups that hold them."""
        record = self._by_id.get(episode_id)
        if record is None:
            raise KeyError(f"{self.root}: no episode {episode_id} (ids run {min(self._by_id, default=None)}–"
                           f"{max(self._by_id, default=None)})")
        tables, shard, row, left = [], record.shard, record.row, record.num_steps
        while left:
            if shard >= self.metadata["num_shards"]:
                raise _damaged(self.root, f"the shards end inside episode {episode_id}")
            table = _read_rows(self._shard(shard), row, left)
            tables.append(table)
            left -= table.num_rows
            shard, row = shard + 1, 0
        return _table_to_steps(pa.concat_tables(tables), self.spec)


def _read_rows(shard: pq.ParquetFile, start: int, count: int) -> pa.Table:
    """Rows [start, start + count) of a shard, clipped to its end."""
    groups, first_row, offset = [], None, 0
    for index in range(shard.metadata.num_row_groups):
        size = shard.metadata.row_group(index).num_rows
        if offset + size > start and offset < start + count:
            groups.append(index)
            first_row = offset if first_row is None else first_row
        offset += size
    if not groups:
        return shard.schema_arrow.empty_table()
    return shard.read_row_groups(groups).slice(start - first_row, count)


def _incomplete_message(root: Path, num_episodes: int) -> str:
    return (f"{root}: incomplete dataset (a write stopped after {num_episodes} episodes); resume it by "
            f"re-running the command that wrote it (or TrajectoryWriter(path, mode='append')), or delete it")


@dataclass(frozen=True)
class DatasetInfo:
    path: Path
    complete: bool
    num_episodes: int
    num_steps: int
    num_shards: int
    bytes_on_disk: int
    spec: DatasetSpec | None
    source: str
    created_by: str
    created_at: str
    updated_at: str
    attributes: dict

    damage: str | None = None  # what is wrong with the files, when they do not hold what metadata.json says

    @property
    def problem(self) -> str | None:
        """Why the dataset cannot be read (damaged) or not yet (incomplete), or None."""
        if self.damage:
            return self.damage
        return None if self.complete else _incomplete_message(self.path, self.num_episodes)

    def summary(self) -> str:
        spec = self.spec
        status = "complete" if self.complete else "INCOMPLETE (a write was interrupted)"
        lines = [
            f"path:         {self.path}",
            f"status:       {'DAMAGED (see the error below)' if self.damage else status}",
            f"episodes:     {self.num_episodes:,}",
            f"steps:        {self.num_steps:,}",
            f"shards:       {self.num_shards:,}",
            f"size on disk: {_human_bytes(self.bytes_on_disk)}",
            f"observation:  {format_spec(spec.observation) if spec else '— (no steps yet)'}",
            f"action:       {format_spec(spec.action) if spec else '—'}",
            f"reward:       {('float32' if spec.reward else 'none') if spec else '—'}",
            f"info:         {format_spec(spec.info) if spec and spec.info else 'none'}",
        ]
        if self.attributes:
            lines.append(f"attributes:   {', '.join(f'{k}={v}' for k, v in self.attributes.items())}")
        lines += [f"source:       {self.source or '—'}", f"created by:   {self.created_by or '—'}",
                  f"created:      {self.created_at}, last written {self.updated_at}"]
        return "\n".join(lines)


def _human_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def _find_damage(root: Path, metadata: dict) -> str | None:
    """Why the committed files do not hold what metadata.json says, or None. Reads episodes.parquet
    and the shards' footers (row counts, columns), not their steps."""
    try:
        episodes = _read_episodes(root, metadata["num_episodes"])
        if sum(episode.num_steps for episode in episodes) != metadata["num_steps"]:
            raise _damaged(root / EPISODES_FILE, f"its episodes hold {sum(e.num_steps for e in episodes)} steps, "
                                                 f"metadata.json lists {metadata['num_steps']}")
        spec = None if metadata["spec"] is None else DatasetSpec.from_json(metadata["spec"])
        rows, last = 0, metadata["num_shards"] - 1
        for index in range(metadata["num_shards"]):
            path = _shard_path(root, index)
            shard = _open_parquet(path)
            if spec is not None and not shard.schema_arrow.equals(spec.schema()):
                raise _damaged(path, "its columns differ from metadata.json's spec")
            count = shard.metadata.num_rows
            if index == last:  # rows after the commit point belong to an interrupted write
                if count < metadata["last_shard_rows"]:
                    raise _damaged(path, f"has {count} rows, metadata.json commits {metadata['last_shard_rows']}")
                count = metadata["last_shard_rows"]
            rows += count
        if rows != metadata["num_steps"]:
            raise _damaged(root / SHARDS_DIR, f"the {metadata['num_shards']} shards hold {rows} committed steps, "
                                              f"metadata.json lists {metadata['num_steps']}")
    except DatasetError as error:
        return str(error)
    return None


def dataset_info(path: str | Path) -> DatasetInfo:
    """Counts, spec, provenance and size of a dataset, complete or not (see `.complete`), and
    whether its files hold what its metadata says (see `.damage`); DatasetError when the path is
    not a dataset or its metadata is damaged."""
    root = Path(path)
    metadata = _read_metadata(root)
    size = sum(file.stat().st_size for file in root.rglob("*") if file.is_file())
    return DatasetInfo(
        path=root, complete=metadata["complete"], num_episodes=metadata["num_episodes"],
        num_steps=metadata["num_steps"], num_shards=metadata["num_shards"], bytes_on_disk=size,
        spec=None if metadata["spec"] is None else DatasetSpec.from_json(metadata["spec"]),
        source=metadata.get("source", ""), created_by=metadata.get("created_by", ""),
        created_at=metadata.get("created_at", ""), updated_at=metadata.get("updated_at", ""),
        attributes=metadata.get("attributes", {}), damage=_find_damage(root, metadata),
    )
