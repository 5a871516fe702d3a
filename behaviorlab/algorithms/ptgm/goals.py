"""Goal embeddings and the goal codebook (KMeans over goals sampled from the dataset).

Goal embedding for BabyAI ("babyai_view"): the 7×7×3 agent-centric symbolic view of the goal
state, flattened: what the agent should end up seeing. Direction and mission are left out (they
are not properties of the state to reach). For Crafter ("crafter_state"): the one-hot 9×7 view
and the inventory (what to see and what to hold); facing, daylight and sleep are left out. The
paper embeds Minecraft frames with MineCLIP; a symbolic view is already a compact, meaningful
state description, so no encoder is learned.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from behaviorlab.envs import crafter
from behaviorlab.envs.minigrid import IMAGE_SLICE

# Which entries of the flat observation a goal keeps.
GOAL_EMBEDDINGS = {"babyai_view": IMAGE_SLICE,
                   "crafter_state": np.r_[crafter.VIEW_SLICE, crafter.INVENTORY_SLICE],
                   "observation": slice(None)}


def goal_embedding(observations: np.ndarray, kind: str) -> np.ndarray:
    """Embeddings of a batch of flat observations, float32 [N, goal_dim]."""
    if kind not in GOAL_EMBEDDINGS:
        raise ValueError(f"goal embedding {kind!r}: choose one of {', '.join(GOAL_EMBEDDINGS)}")
    return np.ascontiguousarray(np.asarray(observations, np.float32)[:, GOAL_EMBEDDINGS[kind]])


@dataclass(frozen=True)
class Codebook:
    codes: np.ndarray  # float32 [N, goal_dim]: the dataset goal nearest each KMeans centre
    sample_indices: np.ndarray  # int64 [N]: which of the clustered goals each code is
    centres: np.ndarray  # float32 [N, goal_dim]: KMeans centres (kept for inspection)
    metadata: dict

    @property
    def num_codes(self) -> int:
        return len(self.codes)


def nearest_code(embeddings: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index of the code nearest (Euclidean) each embedding: the goal prior's label."""
    embeddings = np.asarray(embeddings, np.float64)
    codes = np.asarray(codes, np.float64)
    distances = (embeddings**2).sum(1)[:, None] - 2 * embeddings @ codes.T + (codes**2).sum(1)[None, :]
    return np.argmin(distances, axis=1)


def fit_codebook(goals: np.ndarray, num_codes: int, *, seed: int, n_init: int = 4, metadata: dict | None = None) -> Codebook:
    """KMeans (scikit-learn, seeded: the same goals and seed give the same codebook) into
    `num_codes` clusters; each code is the real goal nearest its centre, so π_L is only ever asked
    for goals like those it was trained on."""
    from sklearn.cluster import KMeans

    goals = np.asarray(goals, np.float32)
    if len(goals) < num_codes:
        raise ValueError(f"fit_codebook: {len(goals)} goals cannot make {num_codes} clusters; sample more goals")
    start = time.perf_counter()
    kmeans = KMeans(n_clusters=num_codes, random_state=seed, n_init=n_init).fit(goals)
    centres = kmeans.cluster_centers_.astype(np.float32)
    sample_indices = nearest_code(centres, goals)
    info = {"num_codes": num_codes, "seed": seed, "num_goals": len(goals), "inertia": float(kmeans.inertia_),
            "distinct_codes": len(np.unique(goals[sample_indices], axis=0)),
            "seconds": round(time.perf_counter() - start, 3), **(metadata or {})}
    return Codebook(goals[sample_indices], sample_indices.astype(np.int64), centres, info)


def save_codebook(path: str | Path, codebook: Codebook) -> None:
    """`path` (.npz: codes, sample_indices, centres) and `path` with .json (metadata)."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, codes=codebook.codes, sample_indices=codebook.sample_indices, centres=codebook.centres)
    path.with_suffix(".json").write_text(json.dumps(codebook.metadata, indent=2))


def load_codebook(path: str | Path) -> Codebook:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no codebook; make it with `python -m behaviorlab.algorithms.ptgm goals`")
    with np.load(path) as data:
        arrays = {key: data[key] for key in ("codes", "sample_indices", "centres")}
    metadata_file = path.with_suffix(".json")
    metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
    return Codebook(metadata=metadata, **arrays)
