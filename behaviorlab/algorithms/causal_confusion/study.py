"""The causal-confusion study on MountainCar (de Haan et al. 2019, §7), driven by a YAML spec
(benchmarks/causal_confusion/mountaincar.yaml): `python -m behaviorlab.algorithms.causal_confusion SPEC`.

For each dataset size and seed: a random subset of the expert's demonstrations (on the original
observation: a dataset recorded by `behaviorlab data collect`, or episodes the expert plays from the
spec's demonstration env), turned into CONFOUNDED / ORIGINAL observations by `previous_action_slots`,
exactly as the envs show them; BC on each setting; the graph-parameterised
policy on CONFOUNDED and the return of every fixed graph; policy-execution intervention (the return of
its chosen graph after n episodes, read from the fixed-graph table); expert-query intervention and
DAgger at equal expert-label counts. Every return is a mean over `eval_episodes` greedy episodes on
the standard start. Results: `runs.json` (one record per size and seed) and `summary.md` in the output
directory. Supervised training is plain torch; episodes go through the platform's `evaluate` and
`rollout` (not RLlib EnvRunners)."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
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


class MaskedPolicy:
    """A graph policy with one fixed graph, acting through the platform's `evaluate` and `rollout`."""

    def __init__(self, module: GraphPolicy, graph, observation_space: gym.Space):
        self.module, self.observation_space = module, observation_space
        self.graph = torch.as_tensor(graph, dtype=torch.float32)

    def act_batch(self, obs: np.ndarray, greedy: bool = True) -> np.ndarray:
        with torch.no_grad():
            logits = self.module(torch.as_tensor(np.asarray(obs, np.float32)), self.graph)
        if greedy:
            return logits.argmax(-1).numpy()
        return torch.distributions.Categorical(logits=logits).sample().numpy()

    def act(self, obs) -> int:
        return int(self.act_batch(np.asarray(obs)[None])[0])

    def check_env(self, env: gym.Env, env_id: str) -> None:
        if env.observation_space.shape != self.observation_space.shape:
            raise ValueError(f"{env_id}: observations of shape {env.observation_space.shape}, the policy reads "
                             f"{self.observation_space.shape}")


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
        self.env = make_env(spec.confounded_env)
        self.action_space = self.env.action_space
        self.graphs = all_graphs(len(spec.factor_sizes))
        self.full = np.ones(len(spec.factor_sizes))

    def _policy(self, module: GraphPolicy, graph) -> MaskedPolicy:
        return MaskedPolicy(module, graph, self.env.observation_space)

    def _return(self, module: GraphPolicy, graph, env_id: str, seed: int) -> float:
        from behaviorlab.platform.policy import evaluate

        return float(evaluate(self._policy(module, graph), env_id, self.spec.eval_episodes, seed=seed).mean())

    def _expert_labels(self, states: np.ndarray) -> np.ndarray:
        """The expert reads the original observation only (the slot follows it)."""
        return np.asarray(self.expert_act(states[:, : -self.spec.factor_sizes[-1]]), np.int64)

    def _new(self) -> GraphPolicy:
        return GraphPolicy(self.spec.factor_sizes, int(self.action_space.n), self.spec.hidden)

    def run_one(self, size: int, seed: int) -> dict:
        from behaviorlab.envs.confounded import previous_action_slots
        from behaviorlab.platform.policy import rollout

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

        # Policy execution: one greedy episode of π_G per round, from fresh starts.
        episode_seeds = iter(range(eval_seed + 5_000, eval_seed + 6_000))
        execution = policy_execution_intervention(
            lambda g: rollout(self.env, self._policy(graph_policy, g).act, next(episode_seeds)).episode_return,
            len(self.full), max(spec.intervention_episodes), rng, temperature=spec.temperature, alpha=spec.ridge_alpha)
        record["execution_chosen"] = {n: _key(execution.modes[n - 1]) for n in spec.intervention_episodes}
        record["execution_history"] = [[_key(g), round(r, 1)] for g, r in zip(execution.graphs, execution.scores)]

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
        """States visited by π_mix: each step, an action sampled from the mean of the graphs' distributions."""
        from behaviorlab.platform.policy import rollout

        generator = torch.Generator().manual_seed(seed)

        def act(obs):
            with torch.no_grad():
                batch = torch.as_tensor(obs)[None].expand(len(self.graphs), -1)
                probs = torch.softmax(graph_policy(batch, self.graphs), -1)
            return int(torch.multinomial(probs.mean(0), 1, generator=generator))

        visited = [rollout(self.env, act, seed + i).observations for i in range(self.spec.mixture_episodes)]
        return np.asarray(np.concatenate(visited), np.float32)

    def _dagger(self, bc: GraphPolicy, x: np.ndarray, a: np.ndarray, budget: int, seed: int, eval_seed: int) -> float:
        """One DAgger round at `budget` expert labels: states of the confounded BC policy's own episodes
        (a random `budget` of them) labelled by the expert, added to the demonstrations; BC retrained."""
        from behaviorlab.platform.policy import rollout

        rng = np.random.default_rng([seed, budget, 1])
        policy = self._policy(bc, self.full)
        visited = []
        episode = 0
        while sum(map(len, visited)) < budget:
            visited.append(rollout(self.env, policy.act, eval_seed + 8_000 + episode).observations)
            episode += 1
        states = np.asarray(np.concatenate(visited), np.float32)
        states = states[rng.choice(len(states), budget, replace=False)]
        retrained = train(self._new(), np.concatenate([x, states]), np.concatenate([a, self._expert_labels(states)]),
                          self.spec, seed, self.full)
        return self._return(retrained, self.full, self.spec.confounded_env, eval_seed)


def _key(graph) -> str:
    return "".join(str(int(bit)) for bit in np.asarray(graph))


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
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.json").write_text(spec.model_dump_json(indent=2))
    study, runs, start = Study(spec), [], time.perf_counter()
    for size in spec.dataset_sizes:
        for seed in range(spec.seeds):
            record = study.run_one(size, seed)
            runs.append(record)
            (out / "runs.json").write_text(json.dumps(runs, indent=1))
            chosen = record["execution_chosen"][max(spec.intervention_episodes)]
            masks = record["mask_returns"]
            progress(f"[{time.perf_counter() - start:6.0f}s] size {size:,} seed {seed}"
                     f" | ORIGINAL {record['bc_original']:7.1f}"
                     f" | CONFOUNDED {record['bc_confounded']:7.1f} | best graph {max(masks, key=masks.get)}"
                     f" | intervention → {chosen} {masks[chosen]:7.1f}")
    (out / "summary.md").write_text(summarise(spec, runs))
    return runs
