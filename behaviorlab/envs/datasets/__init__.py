"""Offline data: the trajectory dataset format every domain shares, and readers that convert
public datasets into it (VPT Minecraft recordings)."""

from behaviorlab.envs.datasets.trajectories import (
    DatasetError,
    DatasetInfo,
    DatasetSpec,
    EpisodeRecord,
    ShardWriter,
    Steps,
    TrajectoryReader,
    TrajectoryWriter,
    dataset_info,
)

__all__ = [
    "DatasetError", "DatasetInfo", "DatasetSpec", "EpisodeRecord", "ShardWriter", "Steps", "TrajectoryReader",
    "TrajectoryWriter", "dataset_info",
]
