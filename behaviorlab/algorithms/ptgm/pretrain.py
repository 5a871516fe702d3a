"""PTGM's offline stages, each reading the previous one's artifact by path:

    dataset ──bc──▶ low_level.pt   ──goals──▶ codebook.npz (+ .json)   ──prior──▶ prior.pt

`train_low_level`: π_L(a|s,g) by behaviour cloning, g = goal embedding of s_{t+k} (hindsight
relabelling, k redrawn every epoch), the goal dropped with probability `goal_dropout`.
`fit_goals`: KMeans codebook over the embeddings of relabelled goals.
`train_prior`: π_p(code|s), label = the code nearest the relabelled goal; accuracy on held-out episodes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from behaviorlab.algorithms.ptgm.goals import (
    fit_codebook,
    goal_embedding,
    load_codebook,
    nearest_code,
    save_codebook,
)
from behaviorlab.algorithms.ptgm.losses import behaviour_cloning_loss
from behaviorlab.algorithms.ptgm.models import (
    GoalConditionedPolicy,
    GoalPrior,
    load_model,
    save_model,
)
from behaviorlab.algorithms.ptgm.relabel import relabel
from behaviorlab.envs.datasets import DatasetError, TrajectoryReader


@dataclass(frozen=True)
class Transitions:
    obs: np.ndarray  # float32 [N, obs_dim]
    actions: np.ndarray  # int64 [N]
    episode_ids: np.ndarray  # int64 [N]; an episode's steps are contiguous
    num_actions: int


def load_transitions(path: str | Path) -> Transitions:
    """A whole trajectory dataset with flat observations and Discrete actions, in memory."""
    reader = TrajectoryReader(Path(path).expanduser())
    spec = reader.spec
    if spec.observation["type"] != "array" or len(spec.observation["shape"]) != 1 or spec.action["shape"]:
        raise DatasetError(f"{path}: PTGM needs flat vector observations and integer actions, the dataset holds "
                           f"obs {spec.observation}, action {spec.action}; collect it with `behaviorlab data collect`")
    steps = list(reader.iter_batches(65_536))
    actions = np.concatenate([s.action for s in steps]).astype(np.int64)
    # Datasets from `data collect` record the action count; otherwise the largest action seen decides.
    num_actions = reader.metadata.get("attributes", {}).get("num_actions") or int(actions.max()) + 1
    return Transitions(np.concatenate([s.obs for s in steps]).astype(np.float32), actions,
                       np.concatenate([s.episode_id for s in steps]), int(num_actions))


def _split_episodes(episode_ids: np.ndarray, validation_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Mask of the steps whose episode is held out."""
    unique = np.unique(episode_ids)
    held_out = rng.choice(unique, size=round(len(unique) * validation_fraction), replace=False)
    return np.isin(episode_ids, held_out)


def _write_report(path: Path, report: dict) -> dict:
    path.with_suffix(".json").write_text(json.dumps(report, indent=2))
    return report


def train_low_level(dataset: str | Path, out: str | Path, *, k_min: int = 1, k_max: int = 10,
                    goal_dropout: float = 0.1, goal_embedding_kind: str = "babyai_view",
                    hidden: tuple[int, ...] = (256, 256), epochs: int = 20, batch_size: int = 256,
                    lr: float = 1e-3, seed: int = 0, log=print) -> dict:
    """Stage 1. Saves `out` (.pt) and a .json report with the loss of every epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = load_transitions(dataset)
    goals_all = goal_embedding(data.obs, goal_embedding_kind)
    model = GoalConditionedPolicy(data.obs.shape[1], goals_all.shape[1], data.num_actions, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    obs, actions, goals_all = torch.from_numpy(data.obs), torch.from_numpy(data.actions), torch.from_numpy(goals_all)
    start, losses = time.perf_counter(), []
    for epoch in range(epochs):
        steps, future = relabel(data.episode_ids, k_min, k_max, rng)  # fresh k each epoch
        order = rng.permutation(len(steps))
        total = 0.0
        for batch in np.array_split(order, max(1, len(order) // batch_size)):
            index, goal_index = torch.from_numpy(steps[batch]), torch.from_numpy(future[batch])
            present = torch.from_numpy(rng.random(len(batch)) >= goal_dropout).float()
            loss = behaviour_cloning_loss(model(obs[index], goals_all[goal_index], present), actions[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(steps))
        if log:
            log(f"[bc] epoch {epoch + 1}/{epochs} | loss {losses[-1]:.4f}")
    out = Path(out).expanduser()
    settings = {"dataset": str(dataset), "k_min": k_min, "k_max": k_max, "goal_dropout": goal_dropout,
                "goal_embedding": goal_embedding_kind, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed}
    save_model(out, model, settings)
    return _write_report(out, {**settings, "num_steps": len(data.obs), "loss_per_epoch": losses,
                               "seconds": round(time.perf_counter() - start, 2)})


def fit_goals(dataset: str | Path, low_level: str | Path, out: str | Path, *, num_codes: int = 16,
              num_goals: int = 20_000, seed: int = 0, log=print) -> dict:
    """Stage 2. Goals are relabelled future states (k range and embedding as π_L was trained
    with, read from `low_level`), `num_goals` of them sampled with `seed`."""
    _, settings = load_model(low_level)
    rng = np.random.default_rng(seed)
    data = load_transitions(dataset)
    _, future = relabel(data.episode_ids, settings["k_min"], settings["k_max"], rng)
    chosen = rng.choice(future, size=min(num_goals, len(future)), replace=False)
    goals = goal_embedding(data.obs[chosen], settings["goal_embedding"])
    codebook = fit_codebook(goals, num_codes, seed=seed, metadata={
        "dataset": str(dataset), "low_level": str(low_level), "goal_embedding": settings["goal_embedding"]})
    codebook.metadata["dataset_rows"] = chosen[codebook.sample_indices].tolist()  # the dataset step each code is
    save_codebook(out, codebook)
    if log:
        log(f"[goals] {num_codes} codes from {len(goals):,} goals in {codebook.metadata['seconds']:.2f} s "
            f"({codebook.metadata['distinct_codes']} distinct)")
    return codebook.metadata


def train_prior(dataset: str | Path, codebook: str | Path, out: str | Path, *, hidden: tuple[int, ...] = (256, 256),
                epochs: int = 20, batch_size: int = 256, lr: float = 1e-3, validation_fraction: float = 0.1,
                seed: int = 0, log=print) -> dict:
    """Stage 3. Saves `out` (.pt) and a .json report with loss and held-out accuracy per epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    book = load_codebook(codebook)
    _, settings = load_model(book.metadata["low_level"])
    data = load_transitions(dataset)
    embeddings = goal_embedding(data.obs, settings["goal_embedding"])
    held_out = _split_episodes(data.episode_ids, validation_fraction, rng)
    model = GoalPrior(data.obs.shape[1], book.num_codes, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    obs = torch.from_numpy(data.obs)
    start, history = time.perf_counter(), []
    for epoch in range(epochs):
        steps, future = relabel(data.episode_ids, settings["k_min"], settings["k_max"], rng)
        labels = torch.from_numpy(nearest_code(embeddings[future], book.codes))
        train = np.flatnonzero(~held_out[steps])
        total = 0.0
        model.train()
        for batch in np.array_split(rng.permutation(train), max(1, len(train) // batch_size)):
            loss = behaviour_cloning_loss(model(obs[steps[batch]]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        validation = np.flatnonzero(held_out[steps])
        with torch.no_grad():
            predicted = model(obs[steps[validation]]).argmax(-1)
        accuracy = float((predicted == labels[validation]).float().mean()) if len(validation) else float("nan")
        # What always predicting the most common held-out label would score: the bar to beat.
        majority = float(np.bincount(labels[validation]).max() / len(validation)) if len(validation) else float("nan")
        history.append({"loss": total / max(1, len(train)), "validation_accuracy": accuracy,
                        "majority_label_accuracy": majority})
        if log:
            log(f"[prior] epoch {epoch + 1}/{epochs} | loss {history[-1]['loss']:.4f} | held-out accuracy {accuracy:.3f} "
                f"(majority label {majority:.3f})")
    out = Path(out).expanduser()
    meta = {"dataset": str(dataset), "codebook": str(codebook), "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "validation_fraction": validation_fraction, "seed": seed}
    save_model(out, model, meta)
    return _write_report(out, {**meta, "history": history, "seconds": round(time.perf_counter() - start, 2)})
