"""PTGM's offline stages, each reading the previous one's artifact by path:

    dataset ──bc──▶ low_level.pt   ──goals──▶ codebook.npz (+ .json)   ──prior──▶ prior.pt

`train_low_level`: π_L(a|s,g) by behaviour cloning, g = goal embedding of s_{t+k} (hindsight
relabelling, k redrawn every epoch), the goal dropped with probability `goal_dropout`.
`fit_goals`: KMeans codebook over the embeddings of dataset states drawn uniformly.
`train_prior`: π_p(code|s), label = the code nearest the relabelled goal; accuracy on held-out episodes.
`train_skills` (the continuous-skill baseline, SPiRL-style; no π_L or codebook): a VAE over
k-step action segments → skill decoder π_L(a|s,z), encoder q(z|s,a_0:k), learned prior p(z|s).
The goals and prior stages read the dataset's observations through `embedding_jobs` (in process,
or as Ray Data jobs with `use_ray`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from behaviorlab.algorithms.common.bc import behaviour_cloning_loss
from behaviorlab.algorithms.ptgm.embedding_jobs import (
    code_of_every_step,
    embed_rows,
    open_flat_dataset,
)
from behaviorlab.algorithms.ptgm.goals import (
    fit_codebook,
    goal_embedding,
    load_codebook,
    save_codebook,
)
from behaviorlab.algorithms.ptgm.losses import gaussian_kl, skill_vae_loss
from behaviorlab.algorithms.ptgm.models import (
    GoalConditionedPolicy,
    GoalPrior,
    SkillEncoder,
    SkillPrior,
    load_model,
    save_model,
)
from behaviorlab.algorithms.ptgm.relabel import episode_ends, relabel


@dataclass(frozen=True)
class Transitions:
    obs: np.ndarray  # float32 [N, obs_dim]
    actions: np.ndarray  # int64 [N]
    episode_ids: np.ndarray  # int64 [N]; an episode's steps are contiguous
    num_actions: int


def load_transitions(path: str | Path) -> Transitions:
    """A whole trajectory dataset with flat observations and Discrete actions, in memory."""
    reader = open_flat_dataset(path)
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


def _engine(use_ray: bool) -> str:
    return "Ray Data" if use_ray else "local"


def sample_goal_steps(num_steps: int, num_goals: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct dataset steps, uniform over all states. Relabelled futures clipped at episode ends
    made about two thirds of the goals an episode's last state (18 % of the states) on Crafter."""
    return np.sort(rng.choice(num_steps, size=min(num_goals, num_steps), replace=False))


def fit_goals(dataset: str | Path, low_level: str | Path, out: str | Path, *, num_codes: int = 16,
              num_goals: int = 20_000, seed: int = 0, use_ray: bool = False, log=print) -> dict:
    """Stage 2. Goals are `num_goals` dataset states drawn uniformly with `seed` (embedded as π_L
    was trained, read from `low_level`). Only the sampled steps' embeddings are gathered (a Ray
    Data job with `use_ray`); KMeans runs here, on the sample."""
    _, settings = load_model(low_level)
    reader = open_flat_dataset(dataset)
    chosen = sample_goal_steps(reader.num_steps, num_goals, np.random.default_rng(seed))
    start = time.perf_counter()
    goals = embed_rows(reader, settings["goal_embedding"], chosen, use_ray=use_ray)
    embedding_seconds = round(time.perf_counter() - start, 2)
    codebook = fit_codebook(goals, num_codes, seed=seed, metadata={
        "dataset": str(dataset), "low_level": str(low_level), "goal_embedding": settings["goal_embedding"],
        "embedding_job": {"engine": _engine(use_ray), "steps_read": reader.num_steps, "seconds": embedding_seconds}})
    codebook.metadata["dataset_rows"] = chosen[codebook.sample_indices].tolist()  # the dataset step each code is
    save_codebook(out, codebook)
    if log:
        log(f"[goals] embedded {len(goals):,} sampled goals from {reader.num_steps:,} steps in {embedding_seconds:.2f} s "
            f"({_engine(use_ray)}); {num_codes} codes in {codebook.metadata['seconds']:.2f} s "
            f"({codebook.metadata['distinct_codes']} distinct)")
    return codebook.metadata


def train_prior(dataset: str | Path, codebook: str | Path, out: str | Path, *, hidden: tuple[int, ...] = (256, 256),
                epochs: int = 20, batch_size: int = 256, lr: float = 1e-3, validation_fraction: float = 0.1,
                seed: int = 0, use_ray: bool = False, log=print) -> dict:
    """Stage 3. Saves `out` (.pt) and a .json report with loss and held-out accuracy per epoch.
    Every step's nearest code is found once (a Ray Data job with `use_ray`); a step's label is
    then the code of the step its relabelled goal is."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    book = load_codebook(codebook)
    _, settings = load_model(book.metadata["low_level"])
    data = load_transitions(dataset)
    start = time.perf_counter()
    step_codes = code_of_every_step(open_flat_dataset(dataset), settings["goal_embedding"], book.codes, use_ray=use_ray)
    labelling = {"engine": _engine(use_ray), "steps": len(step_codes), "seconds": round(time.perf_counter() - start, 2)}
    if log:
        log(f"[prior] nearest code of {len(step_codes):,} steps in {labelling['seconds']:.2f} s ({labelling['engine']})")
    held_out = _split_episodes(data.episode_ids, validation_fraction, rng)
    model = GoalPrior(data.obs.shape[1], book.num_codes, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    obs = torch.from_numpy(data.obs)
    start, history = time.perf_counter(), []
    for epoch in range(epochs):
        steps, future = relabel(data.episode_ids, settings["k_min"], settings["k_max"], rng)
        labels = torch.from_numpy(step_codes[future])
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
    return _write_report(out, {**meta, "labelling_job": labelling, "history": history,
                               "seconds": round(time.perf_counter() - start, 2)})


def segment_starts(episode_ids: np.ndarray, length: int) -> np.ndarray:
    """Every step t whose segment t … t + length − 1 lies inside t's episode (episodes shorter than
    `length` give none)."""
    if length < 1:
        raise ValueError(f"segment length must be at least 1, not {length}")
    steps = np.arange(len(episode_ids))
    return steps[steps + length - 1 <= episode_ends(episode_ids)]


def skill_paths(decoder: str | Path) -> dict[str, Path]:
    """The files the `skills` stage writes next to the decoder file DECODER.pt."""
    decoder = Path(decoder).expanduser()
    return {"decoder": decoder, "encoder": decoder.with_name(f"{decoder.stem}_encoder.pt"),
            "prior": decoder.with_name(f"{decoder.stem}_prior.pt"), "report": decoder.with_suffix(".json")}


def train_skills(dataset: str | Path, out: str | Path, *, skill_length: int = 10, latent_dim: int = 8,
                 beta: float = 0.1, hidden: tuple[int, ...] = (256, 256), epochs: int = 20, batch_size: int = 256,
                 lr: float = 1e-3, validation_fraction: float = 0.1, seed: int = 0, log=print) -> dict:
    """The continuous-skill baseline's offline stage (SPiRL, Pertsch et al. 2020): a VAE over
    k-step action segments cut from the dataset's episodes (never across an episode's end).

    q(z | s_0, a_0:k) → z (reparameterised) → the decoder π_L(a_t | s_t, z) reconstructs each of the
    k actions; loss = Σ_t NLL + β·KL(q ‖ N(0, I)). The learned prior p(z|s_0) is fitted at the same
    time to the detached posterior, by KL(q ‖ p), as SPiRL does. An epoch draws as many segments as
    the dataset has steps / k (so it costs about one behaviour-cloning epoch). Saves `out` (the
    decoder, a GoalConditionedPolicy with goal_dim = latent_dim), `<stem>_encoder.pt`,
    `<stem>_prior.pt` and a .json report with, per epoch, the train loss and, on held-out episodes,
    the reconstruction NLL per step, the KL per segment, the prior's KL, and how often the
    decoder's greedy action is the data's with z = the posterior mean and with z = 0.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, not {beta}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = load_transitions(dataset)
    starts = segment_starts(data.episode_ids, skill_length)
    if not len(starts):
        raise ValueError(f"{dataset}: no episode has {skill_length} steps; lower --skill-length")
    held_out = _split_episodes(data.episode_ids, validation_fraction, rng)[starts]
    train, validation = starts[~held_out], starts[held_out]
    obs_dim = data.obs.shape[1]
    encoder = SkillEncoder(obs_dim, data.num_actions, skill_length, latent_dim, hidden)
    decoder = GoalConditionedPolicy(obs_dim, latent_dim, data.num_actions, hidden)
    prior = SkillPrior(obs_dim, latent_dim, hidden)
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters(), *prior.parameters()], lr=lr)
    obs, actions = torch.from_numpy(data.obs), torch.from_numpy(data.actions)
    offsets = torch.arange(skill_length)

    def forward(batch_starts: np.ndarray, sample: bool) -> dict[str, torch.Tensor]:
        rows = torch.from_numpy(batch_starts)[:, None] + offsets  # [B, k]
        mean, log_std = encoder(obs[rows[:, 0]], actions[rows])
        z = mean + torch.exp(log_std) * torch.randn_like(mean) if sample else mean
        logits = decoder(obs[rows].flatten(0, 1), z.repeat_interleave(skill_length, 0)).view(*rows.shape, -1)
        loss, nll, kl = skill_vae_loss(logits, actions[rows], mean, log_std, beta)
        prior_kl = gaussian_kl(mean.detach(), log_std.detach(), *prior(obs[rows[:, 0]]))
        return {"loss": loss, "nll": nll, "kl": kl, "prior_kl": prior_kl, "logits": logits, "rows": rows}

    start, history = time.perf_counter(), []
    per_epoch = max(1, len(data.obs) // skill_length)
    for epoch in range(epochs):
        chosen = rng.choice(train, size=min(per_epoch, len(train)), replace=False)
        total = 0.0
        for module in (encoder, decoder, prior):
            module.train()
        for batch in np.array_split(chosen, max(1, len(chosen) // batch_size)):
            result = forward(batch, sample=True)
            optimizer.zero_grad()
            (result["loss"] + result["prior_kl"].mean()).backward()
            optimizer.step()
            total += result["loss"].item() * len(batch)
        for module in (encoder, decoder, prior):
            module.eval()
        history.append({"loss": total / len(chosen), **_skill_validation(forward, decoder, obs, actions, validation)})
        if log:
            entry = history[-1]
            log(f"[skills] epoch {epoch + 1}/{epochs} | loss {entry['loss']:.3f} | held-out NLL/step "
                f"{entry['nll_per_step']:.3f}, KL {entry['kl']:.2f}, prior KL {entry['prior_kl']:.2f}, greedy match "
                f"{entry['greedy_match']:.3f} (z = 0: {entry['greedy_match_z0']:.3f})")
    paths = skill_paths(out)
    settings = {"dataset": str(dataset), "skill_length": skill_length, "latent_dim": latent_dim, "beta": beta,
                "epochs": epochs, "batch_size": batch_size, "lr": lr, "validation_fraction": validation_fraction,
                "seed": seed, "encoder": str(paths["encoder"]), "prior": str(paths["prior"])}
    save_model(paths["decoder"], decoder, settings)
    save_model(paths["encoder"], encoder, settings)
    save_model(paths["prior"], prior, settings)
    return _write_report(paths["decoder"], {**settings, "num_steps": len(data.obs), "segments": len(starts),
                                            "held_out_segments": len(validation), "history": history,
                                            "seconds": round(time.perf_counter() - start, 2)})


@torch.no_grad()
def _skill_validation(forward, decoder, obs, actions, validation) -> dict:
    """Held-out segments, z = the posterior mean: NLL per step, KLs per segment, how often the
    decoder's greedy action is the data's (and with z = 0, N(0, I)'s mode: what z adds)."""
    if not len(validation):
        return {key: float("nan") for key in ("nll_per_step", "kl", "prior_kl", "greedy_match", "greedy_match_z0")}
    sums = dict.fromkeys(("nll", "kl", "prior_kl", "match", "match_z0"), 0.0)
    for batch in np.array_split(validation, max(1, len(validation) // 1024)):
        out = forward(batch, sample=False)
        flat_obs, data_actions = obs[out["rows"]].flatten(0, 1), actions[out["rows"]]
        zero_z = torch.zeros(len(flat_obs), decoder.kwargs["goal_dim"])
        for key in ("nll", "kl", "prior_kl"):
            sums[key] += out[key].sum().item()
        sums["match"] += (out["logits"].argmax(-1) == data_actions).sum().item()
        sums["match_z0"] += (decoder(flat_obs, zero_z).argmax(-1) == data_actions.flatten()).sum().item()
    steps = len(validation) * out["rows"].shape[1]
    return {"nll_per_step": sums["nll"] / steps, "kl": sums["kl"] / len(validation),
            "prior_kl": sums["prior_kl"] / len(validation), "greedy_match": sums["match"] / steps,
            "greedy_match_z0": sums["match_z0"] / steps}
