"""The causal-confusion study on MountainCar (de Haan et al. 2019, §7), driven by a YAML spec
(benchmarks/causal_confusion/mountaincar.yaml): `python -m behaviorlab.algorithms.causal_confusion SPEC`.

For each dataset size and seed: a random subset of the expert's demonstrations (on the original
observation: a dataset recorded by `behaviorlab data collect`, or episodes the expert plays from the
spec's demonstration env), turned into CONFOUNDED / ORIGINAL observations by `previous_action_slots`,
exactly as the envs show them; BC on each setting; the graph-parameterised
policy on CONFOUNDED and the return of every fixed graph; policy-execution intervention (the return of
its chosen graph after n episodes, read from the fixed-graph table); expert-query intervention and
DAgger at equal expert-label counts. Every return is a mean over `eval_episodes` greedy episodes on
the standard start. Supervised training is plain torch; the imitators' episodes are played by RLlib
EnvRunners (env_runner.py), the scripted expert's demonstrations by the platform's `rollout`.

Results in the output directory: `runs.json` (one record per size and seed), `summary.md`, and the
platform's results layout, so `behaviorlab report DIR` reads them: `behaviorlab/spec.yaml` and one
trial directory per (size, seed) (`params.json`, `result.json`, `progress.csv`) with one row per
policy-execution intervention episode (see `trial_rows`)."""

from __future__ import annotations

import csv
import functools
import importlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from behaviorlab.algorithms.causal_confusion.graph_policy import (
    GraphPolicy,
    all_graphs,
    disagreement,
    graph_cloning_loss,
    graph_losses,
)
from behaviorlab.algorithms.causal_confusion.intervention import (
    expert_query_intervention,
    policy_execution_intervention,
    top_states,
)
from behaviorlab.platform.results import flatten


class StudySpec(BaseModel):
    """Every field of a study spec (benchmarks/causal_confusion/*.yaml: not an ExperimentSpec, so it
    lives outside experiments/, which `behaviorlab validate` checks); `smoke`: the `--smoke` overrides."""

    model_config = ConfigDict(extra="forbid")
    name: str
    # The expert (demonstrations, and labels for queries and DAgger), acting on the original observation:
    # a run / trial / checkpoint directory, or `module:function` mapping observations [N, ...] to actions.
    expert_policy: str
    expert_data: str | None = None  # its trajectory dataset; None: it plays `demo_episodes` in `demo_env`
    demo_env: str = "RichStart-MountainCar-v0"
    demo_episodes: int = Field(100, ge=1)
    demo_epsilon: float = Field(0.0, ge=0.0, le=1.0)  # share of uniform random actions in played demonstrations
    env: str = "MountainCar-v0"  # the base env: imitators play Confounded-{env} and Original-{env}
    factor_sizes: list[int] = [1, 1, 3]  # input dimensions of each graph bit; the last one is the nuisance
    dataset_sizes: list[int] = Field(min_length=1)  # demonstration steps (random subset per seed)
    seeds: int = Field(ge=1)
    eval_episodes: int = Field(ge=1)
    hidden: list[int] = [50, 50]
    updates: int = Field(ge=1)  # Adam updates of `batch_size` examples for each network
    batch_size: int = 64
    lr: float = 1e-3
    intervention_episodes: list[int]  # report the chosen graph after these many episodes (max = budget)
    temperature: float = 10.0  # p(G) ∝ exp<w/T, G> (official code: 10)
    ridge_alpha: float = 1.0
    mixture_episodes: int = 10  # π_mix episodes whose states are ranked by disagreement
    query_budgets: list[int]  # expert labels for the expert-query intervention and DAgger
    query_rounds: int = 20  # graphs scored on the labelled states
    input_dropout: float = Field(0.0, ge=0.0, lt=1.0)  # > 0: also the DROPOUT baseline (BC on CONFOUNDED)
    smoke: dict[str, Any] = {}

    @property
    def confounded_env(self) -> str:
        return f"Confounded-{self.env}"

    @property
    def original_env(self) -> str:
        return f"Original-{self.env}"


def load_spec(path: str | Path, smoke: bool = False) -> StudySpec:
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    if smoke:
        data = {**data, **(data.get("smoke") or {})}
    return StudySpec(**data)


def train(module: GraphPolicy, x: np.ndarray, actions: np.ndarray, spec: StudySpec, seed: int,
          graph: np.ndarray | None = None, input_dropout: float = 0.0) -> GraphPolicy:
    """Adam on the cross-entropy: with `graph`, that fixed graph (plain BC when it is all ones); without,
    G uniform per example (the graph-parameterised policy). `input_dropout`: each input dimension of a
    training example zeroed with this probability, the rest scaled by 1/(1-p) (the DROPOUT baseline)."""
    from behaviorlab.algorithms.common.bc import behaviour_cloning_loss

    generator = torch.Generator().manual_seed(seed)
    x, actions = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(actions, dtype=torch.int64)
    optimizer = torch.optim.Adam(module.parameters(), lr=spec.lr)
    for _ in range(spec.updates):
        index = torch.randint(len(x), (spec.batch_size,), generator=generator)
        batch = x[index]
        if input_dropout:
            batch = batch * (torch.rand(batch.shape, generator=generator) >= input_dropout) / (1 - input_dropout)
        if graph is None:
            loss = graph_cloning_loss(module, batch, actions[index], generator)
        else:
            loss = behaviour_cloning_loss(module(batch, torch.as_tensor(graph, dtype=torch.float32)), actions[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return module


class Study:
    def __init__(self, spec: StudySpec):
        from behaviorlab.algorithms.common.bc import resolve_data_path
        from behaviorlab.envs import make_env
        from behaviorlab.envs.datasets.trajectories import TrajectoryReader
        from behaviorlab.platform.policy import load_policy, rollout

        self.spec = spec
        if ":" in spec.expert_policy:
            module_name, _, attr = spec.expert_policy.partition(":")
            self.expert_act = getattr(importlib.import_module(module_name), attr)
        else:
            self.expert_act = load_policy(resolve_data_path(spec.expert_policy)).act_batch
        if spec.expert_data:
            episodes = [(steps.obs, steps.action) for _, steps in
                        TrajectoryReader(resolve_data_path(spec.expert_data)).iter_episodes()]
        else:
            demo_env, noise = make_env(spec.demo_env), np.random.default_rng(0)

            def demonstrate(obs):
                if noise.random() < spec.demo_epsilon:
                    return int(noise.integers(demo_env.action_space.n))
                return self.expert_act(np.asarray(obs)[None])[0].item()

            played = [rollout(demo_env, demonstrate, seed) for seed in range(spec.demo_episodes)]
            episodes = [(played_episode.observations, played_episode.actions) for played_episode in played]
        self.obs = np.concatenate([np.asarray(obs, np.float32) for obs, _ in episodes])
        self.actions = np.concatenate([np.asarray(actions, np.int64) for _, actions in episodes])
        self.starts = np.concatenate([np.arange(len(actions)) == 0 for _, actions in episodes])
        self.action_space = make_env(spec.confounded_env).action_space
        self.graphs = all_graphs(len(spec.factor_sizes))
        self.full = np.ones(len(spec.factor_sizes))

    @functools.cached_property
    def runners(self) -> dict:
        """EnvRunners by (env, sub-envs), built at the first episode: `eval_episodes` wide for evaluations,
        and one CONFOUNDED env for the intervention's single episodes (a wide runner would step all its
        sub-envs to the time limit)."""
        from behaviorlab.algorithms.causal_confusion.env_runner import make_runner

        spec, wide = self.spec, self.spec.eval_episodes
        with torch.random.fork_rng():  # building a module draws initial weights: the runs' numbers stay the same
            return {(env_id, width): make_runner(env_id, spec.factor_sizes, spec.hidden, width)
                    for env_id, width in ((spec.confounded_env, wide), (spec.original_env, wide),
                                          (spec.confounded_env, 1))}

    def _play(self, module: GraphPolicy, graph, env_id: str, first_seed: int, count: int, explore: bool = False):
        from behaviorlab.algorithms.causal_confusion.env_runner import play

        runner = self.runners[env_id, 1 if count == 1 else self.spec.eval_episodes]
        return play(runner, module, graph, first_seed, count, explore)

    def _return(self, module: GraphPolicy, graph, env_id: str, seed: int) -> float:
        """Mean return of `eval_episodes` greedy episodes, episode i reset with seed `seed + i`."""
        episodes = self._play(module, graph, env_id, seed, self.spec.eval_episodes)
        return float(np.mean([episode.get_return() for episode in episodes]))

    def _expert_labels(self, states: np.ndarray) -> np.ndarray:
        """The expert reads the original observation only (the slot follows it)."""
        return np.asarray(self.expert_act(states[:, : -self.spec.factor_sizes[-1]]), np.int64)

    def _new(self) -> GraphPolicy:
        return GraphPolicy(self.spec.factor_sizes, int(self.action_space.n), self.spec.hidden)

    def run_one(self, size: int, seed: int) -> dict:
        from behaviorlab.envs.confounded import previous_action_slots

        spec, rng = self.spec, np.random.default_rng([seed, size])
        torch.manual_seed(seed)
        eval_seed = 10_000 * (seed + 1)  # evaluation episodes: the same starts for every policy of a run
        slots = {mode: previous_action_slots(self.actions, self.starts, self.action_space, mode, rng)
                 for mode in ("confounded", "original")}
        pick = rng.choice(len(self.actions), size=min(size, len(self.actions)), replace=False)
        x = {mode: np.concatenate([self.obs, slot], axis=1)[pick] for mode, slot in slots.items()}
        a = self.actions[pick]
        record: dict[str, Any] = {"size": size, "seed": seed}

        bc = {mode: train(self._new(), x[mode], a, spec, seed, self.full) for mode in x}
        record["bc_confounded"] = self._return(bc["confounded"], self.full, spec.confounded_env, eval_seed)
        record["bc_original"] = self._return(bc["original"], self.full, spec.original_env, eval_seed)

        graph_policy = train(self._new(), x["confounded"], a, spec, seed)
        mask_returns = {_key(g): self._return(graph_policy, g, spec.confounded_env, eval_seed)
                        for g in self.graphs.numpy()}
        record["mask_returns"] = mask_returns

        # Policy execution: one greedy episode of π_G per round, from fresh starts (round i: seed eval_seed + 5000 + i)
        played = []

        def episode_return(graph: np.ndarray) -> float:
            played.extend(self._play(graph_policy, graph, spec.confounded_env, eval_seed + 5_000 + len(played), 1))
            return played[-1].get_return()

        execution = policy_execution_intervention(
            episode_return, len(self.full), max(spec.intervention_episodes), rng, temperature=spec.temperature,
            alpha=spec.ridge_alpha)
        record["execution_chosen"] = {n: _key(execution.modes[n - 1]) for n in spec.intervention_episodes}
        record["execution_history"] = [[_key(g), round(r, 1)] for g, r in zip(execution.graphs, execution.scores)]
        record["execution_modes"] = [_key(mode) for mode in execution.modes]
        record["execution_lengths"] = [len(episode) for episode in played]

        # Expert queries: states of π_mix ranked by disagreement, the top ones labelled by the expert.
        states = self._mixture_states(graph_policy, eval_seed + 7_000)
        with torch.no_grad():
            scores = disagreement(torch.stack([graph_policy(torch.as_tensor(states), g) for g in self.graphs])).numpy()
        record["query_chosen"], record["dagger"] = {}, {}
        for budget in spec.query_budgets:
            chosen = top_states(scores, budget)
            queried_x = torch.as_tensor(states[chosen])
            labels = torch.as_tensor(self._expert_labels(states[chosen]))

            def loss(graph: np.ndarray) -> float:
                graph = torch.as_tensor(graph, dtype=torch.float32)[None]
                return graph_losses(graph_policy, queried_x, labels, graph)[0].item()

            with torch.no_grad():
                search = expert_query_intervention(loss, len(self.full), spec.query_rounds, rng,
                                                   temperature=spec.temperature, alpha=spec.ridge_alpha)
            record["query_chosen"][budget] = _key(search.chosen)
            record["dagger"][budget] = self._dagger(bc["confounded"], x["confounded"], a, budget, seed, eval_seed)
        # Last, so that every measurement above draws the same random numbers with or without it.
        if spec.input_dropout:
            dropout = train(self._new(), x["confounded"], a, spec, seed, self.full, spec.input_dropout)
            record["dropout_bc"] = self._return(dropout, self.full, spec.confounded_env, eval_seed)
        return record

    def _mixture_states(self, graph_policy: GraphPolicy, seed: int) -> np.ndarray:
        """States visited by π_mix (every bit 0.5: each step an action sampled from the mean of the graphs'
        distributions). The runner samples with torch's global generator: seeded here, and forked so the
        rest of the run draws the same numbers as before."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            episodes = self._play(graph_policy, np.full(len(self.full), 0.5), self.spec.confounded_env, seed,
                                  self.spec.mixture_episodes, explore=True)
        return np.asarray(np.concatenate([_states(episode) for episode in episodes]), np.float32)

    def _dagger(self, bc: GraphPolicy, x: np.ndarray, a: np.ndarray, budget: int, seed: int, eval_seed: int) -> float:
        """One DAgger round at `budget` expert labels: states of the confounded BC policy's own episodes
        (a random `budget` of them) labelled by the expert, added to the demonstrations; BC retrained."""
        rng, width = np.random.default_rng([seed, budget, 1]), self.spec.eval_episodes
        visited: list[np.ndarray] = []  # episodes in seed order (eval_seed + 8000 + i) until `budget` states
        while sum(map(len, visited)) < budget:
            for episode in self._play(bc, self.full, self.spec.confounded_env, eval_seed + 8_000 + len(visited), width):
                if sum(map(len, visited)) < budget:
                    visited.append(_states(episode))
        states = np.asarray(np.concatenate(visited), np.float32)
        states = states[rng.choice(len(states), budget, replace=False)]
        retrained = train(self._new(), np.concatenate([x, states]), np.concatenate([a, self._expert_labels(states)]),
                          self.spec, seed, self.full)
        return self._return(retrained, self.full, self.spec.confounded_env, eval_seed)


def _key(graph) -> str:
    return "".join(str(int(bit)) for bit in np.asarray(graph))


def _states(episode) -> np.ndarray:
    """The observations an episode's actions were taken in (RLlib's include the final one)."""
    return np.asarray(episode.get_observations())[:-1]


def trial_rows(record: dict, wall_s: float) -> list[dict]:
    """One result row per policy-execution intervention episode n (Tune's `training_iteration`), for
    `behaviorlab report`: `env_runners/episode_return_mean` is the return of the graph chosen after n
    episodes (its fixed-graph evaluation), `num_env_steps_sampled_lifetime` the intervention's env steps
    so far (evaluation episodes are measurements, not counted), `gap_closed` (R_chosen − R_CONFOUNDED) /
    (R_ORIGINAL − R_CONFOUNDED) (None where the two BC returns are equal); every row also carries the
    run's other measurements (BC, fixed graphs, expert queries, DAgger, DROPOUT) and its wall time."""
    masks, gap = record["mask_returns"], record["bc_original"] - record["bc_confounded"]
    constant = {"bc_original": record["bc_original"], "bc_confounded": record["bc_confounded"], "mask_returns": masks,
                "query": {str(n): {"chosen_graph": key, "episode_return_mean": masks[key]}
                          for n, key in record["query_chosen"].items()},
                "dagger": {str(n): {"episode_return_mean": value} for n, value in record["dagger"].items()},
                **({"dropout_bc": record["dropout_bc"]} if "dropout_bc" in record else {})}
    rows, steps = [], 0
    for n, ((graph, episode_return), chosen, length) in enumerate(
            zip(record["execution_history"], record["execution_modes"], record["execution_lengths"]), start=1):
        steps += length
        rows.append({"training_iteration": n, "num_env_steps_sampled_lifetime": steps, "time_total_s": wall_s,
                     "env_runners": {"episode_return_mean": masks[chosen]},
                     "gap_closed": (masks[chosen] - record["bc_confounded"]) / gap if gap else None,
                     "intervention": {"graph": graph, "episode_return": episode_return, "episode_len": length,
                                      "chosen_graph": chosen, "drops_nuisance": int(chosen[-1] == "0")},
                     **constant})
    return rows


def write_trial(out: Path, record: dict, wall_s: float) -> Path:
    """The run's trial directory as Tune writes one: params.json, result.json (a JSON line per row),
    progress.csv."""
    trial = out / f"size{record['size']}_seed{record['seed']}"
    trial.mkdir(parents=True, exist_ok=True)
    (trial / "params.json").write_text(json.dumps({"dataset_size": record["size"], "seed": record["seed"]}))
    rows = trial_rows(record, wall_s)
    (trial / "result.json").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with (trial / "progress.csv").open("w", newline="") as file:
        flat = [flatten(row) for row in rows]
        writer = csv.DictWriter(file, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
    return trial


def summarise(spec: StudySpec, runs: list[dict]) -> str:
    """Markdown tables: mean ± std over seeds of every measured return, per dataset size."""
    graph_keys = [_key(g) for g in all_graphs(len(spec.factor_sizes)).numpy()]
    lines = [f"# {spec.name}", "", f"{len(runs)} runs; returns are means over {spec.eval_episodes} episodes; "
             "± is the std over seeds. Graph bits: "
             + ", ".join(f"factor {i} ({n} dims)" for i, n in enumerate(spec.factor_sizes))
             + "; the last factor is the previous action.", ""]

    def stat(values) -> str:
        values = np.asarray(values, float)
        return f"{values.mean():.1f} ± {values.std():.1f}"

    for size in spec.dataset_sizes:
        rows = [r for r in runs if r["size"] == size]
        if not rows:
            continue
        orig, conf = np.mean([r["bc_original"] for r in rows]), np.mean([r["bc_confounded"] for r in rows])
        lines += [f"## {size} demonstration steps, {len(rows)} seeds", "",
                  f"- ORIGINAL BC {stat([r['bc_original'] for r in rows])}, CONFOUNDED BC "
                  f"{stat([r['bc_confounded'] for r in rows])} (gap {orig - conf:.1f})"
                  + (f"; DROPOUT BC {stat([r['dropout_bc'] for r in rows])}" if "dropout_bc" in rows[0] else ""),
                  "- fixed graphs: "
                  + ", ".join(f"{k} {stat([r['mask_returns'][k] for r in rows])}" for k in graph_keys)]
        modes = (("policy execution", "execution_chosen", None), ("expert queries", "query_chosen", "dagger"))
        for label, field, compare in modes:
            for n in next(iter(rows))[field]:
                chosen = [r[field][n] for r in rows]
                returns = [r["mask_returns"][k] for r, k in zip(rows, chosen)]
                gap = (np.mean(returns) - conf) / (orig - conf) if orig != conf else float("nan")
                order = sorted(set(chosen), key=lambda k: (-chosen.count(k), k))  # most often chosen first
                counts = ", ".join(f"{k} ×{chosen.count(k)}" for k in order)
                line = (f"- {label}, {n} {'episodes' if compare is None else 'labels'}: chosen graph's return "
                        f"{stat(returns)}, gap closed {gap:.0%}, nuisance bit dropped in "
                        f"{sum(k[-1] == '0' for k in chosen)}/{len(chosen)} runs (chosen: {counts})")
                if compare:
                    line += f"; DAgger {stat([r[compare][n] for r in rows])}"
                lines.append(line)
        lines.append("")
    return "\n".join(lines)


def run_study(spec: StudySpec, out: Path, progress=lambda line: print(line, flush=True)) -> list[dict]:
    import yaml

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(spec.model_dump_json(indent=2))
    # What `behaviorlab report` reads from a run's spec: the title (algorithm, env).
    (out / "behaviorlab").mkdir(exist_ok=True)
    (out / "behaviorlab" / "spec.yaml").write_text(yaml.safe_dump({"algorithm": "causal_confusion",
                                                                   **spec.model_dump()}, sort_keys=False))
    study, runs, start = Study(spec), [], time.perf_counter()
    for size in spec.dataset_sizes:
        for seed in range(spec.seeds):
            run_start = time.perf_counter()
            record = study.run_one(size, seed)
            runs.append(record)
            write_trial(out, record, time.perf_counter() - run_start)
            (out / "runs.json").write_text(json.dumps(runs, indent=1))
            chosen = record["execution_chosen"][max(spec.intervention_episodes)]
            masks = record["mask_returns"]
            progress(f"[{time.perf_counter() - start:6.0f}s] size {size:,} seed {seed}"
                     f" | ORIGINAL {record['bc_original']:7.1f}"
                     f" | CONFOUNDED {record['bc_confounded']:7.1f} | best graph {max(masks, key=masks.get)}"
                     f" | intervention → {chosen} {masks[chosen]:7.1f}")
    (out / "summary.md").write_text(summarise(spec, runs))
    return runs
