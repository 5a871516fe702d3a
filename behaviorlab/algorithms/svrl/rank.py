"""`behaviorlab rank`: the singular-value spectrum of a trained Q network over states it visits —
the paper's "Q matrices are approximately low rank" diagnostic, on any discrete-action DQN-family
checkpoint (DQN, SVRLDQN, or any RLModule with RLlib's QNetAPI).

For each trial, the module acts ε-greedily (ε = 0.05) in the trial's own env (`env` and
`env_config` from its params.json) for `num_states` steps; Q over those states is an
[num_states, |A|] matrix. Reported: its approximate rank (singular values holding 99 % of the
squared-singular-value energy, as in the paper), the same for Q − mean_a Q (the part that decides the
greedy action; the state values often dominate Q's energy and make every task look rank 1), the
normalised spectra, and what SV-RL's completion does to this Q: rows shuffled and split into batches
of 32 (the learner's matrix), 10 % of the entries hidden and filled by SoftImpute; the imputed entries' error
relative to their deviation from the row mean (the action-dependent part, which decides the greedy
action; the state value would make any error look small) and the share of rows whose greedy action
changed (the design's pre-check, on real Qs).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from behaviorlab.algorithms.common.matrix_estimation import approximate_rank, soft_impute
from behaviorlab.algorithms.svrl.learner import imputation_error

EPSILON = 0.05
BATCH = 32
KEEP_PROB = 0.9


class RankError(ValueError):
    """A path that holds no usable checkpoint; the message says what to give instead."""


@dataclass
class Spectrum:
    trial: str
    env: str
    num_states: int
    num_actions: int
    rank_q: int                 # 99 % energy rank of Q
    rank_advantage: int         # 99 % energy rank of Q − mean_a Q
    singular_values: list[float]           # of Q, divided by the largest
    advantage_singular_values: list[float]  # of Q − mean_a Q, divided by the largest
    completion_error: float          # ‖Q† − Q‖ / ‖Q − mean_a Q‖ over the hidden entries, mean over batches
    completion_greedy_changed: float  # share of rows whose argmax changed


@torch.no_grad()
def completion_check(q: torch.Tensor, keep_prob: float = KEEP_PROB, batch: int = BATCH,
                     seed: int = 0) -> tuple[float, float]:
    """SV-RL's completion applied to random `batch`-row blocks of q [N, |A|] (shuffled first, as a
    replay minibatch: consecutive states of one trajectory are near-identical rows, which would
    make completion look easy): (mean error of the imputed entries relative to their deviation from
    the row mean, share of rows whose greedy action changed)."""
    generator = torch.Generator().manual_seed(seed)
    q = q[torch.randperm(q.shape[0], generator=generator)]
    errors, changed = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small SVDs: ~40× faster than with 2 threads on a busy machine
    try:
        for start in range(0, q.shape[0] - batch + 1, batch):
            block = q[start:start + batch].float()
            observed = torch.rand(block.shape, generator=generator) < keep_prob
            completed = soft_impute(block, observed)
            hidden = ~observed
            if bool(hidden.any()):
                errors.append(imputation_error(block, completed, hidden))
            changed.append(float((completed.argmax(-1) != block.argmax(-1)).float().mean()))
    finally:
        torch.set_num_threads(threads)
    return float(np.mean(errors)) if errors else 0.0, float(np.mean(changed)) if changed else 0.0


def trial_dirs(path: str | Path) -> list[Path]:
    """Trial directories under an experiment directory, or the trial holding a checkpoint."""
    path = Path(path).expanduser()
    if not path.exists():
        raise RankError(f"{path} does not exist; give an experiment or trial directory, or a checkpoint_* inside one")
    for candidate in (path, *path.parents):
        if (candidate / "params.json").is_file():
            return [candidate]
    trials = sorted(p.parent for p in path.glob("*/params.json"))
    if not trials:
        raise RankError(f"{path} holds no trial (no params.json); give a directory that `behaviorlab run` wrote")
    return trials


def _checkpoint(trial: Path, given: Path) -> Path:
    if given.name.startswith("checkpoint_"):
        return given
    checkpoints = sorted(trial.glob("checkpoint_*"))  # zero-padded: the newest sorts last
    if not checkpoints:
        raise RankError(f"{trial} has no checkpoint; run with `checkpoint: {{at_end: true}}` in the spec")
    return checkpoints[-1]


@torch.no_grad()
def spectrum(path: str | Path, num_states: int = 512, seed: int = 0, trusted: bool = False) -> list[Spectrum]:
    """The Q spectrum of every trial under `path` (see the module docstring). The checkpoints' pickles
    load through `checkpoint_pickles` (no code runs) unless `trusted`."""
    from ray.rllib.algorithms.dqn.dqn_learner import QF_PREDS
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.rl_module import RLModule

    from behaviorlab.envs import make_env
    from behaviorlab.platform.checkpoint_pickles import UntrustedCheckpoint, checkpoint_pickles

    if num_states < 2:
        raise RankError(f"--states {num_states}: a spectrum needs at least 2 states; give e.g. --states 512")
    results = []
    for trial in trial_dirs(path):
        params = json.loads((trial / "params.json").read_text())
        module_dir = _checkpoint(trial, Path(path).expanduser()) / "learner_group" / "learner" / "rl_module" / DEFAULT_MODULE_ID
        if not module_dir.is_dir():
            raise RankError(f"{module_dir} is missing: not a single-agent RLlib checkpoint")
        try:
            with checkpoint_pickles(trusted):
                module = RLModule.from_checkpoint(str(module_dir)).unwrapped()
        except UntrustedCheckpoint as error:
            raise RankError(f"{module_dir}: {error}") from None
        if not hasattr(module, "compute_q_values"):
            raise RankError(f"{trial.name}: its {type(module).__name__} has no Q values (rank needs a DQN-family module)")
        env = make_env(params["env"], params.get("env_config") or {})
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        states = []
        for _ in range(num_states):
            states.append(np.asarray(obs, np.float32))
            q = module.compute_q_values({Columns.OBS: torch.from_numpy(states[-1])[None]})[QF_PREDS][0]
            action = int(rng.integers(len(q))) if rng.random() < EPSILON else int(q.argmax())
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                obs, _ = env.reset()
        env.close()
        q = module.compute_q_values({Columns.OBS: torch.from_numpy(np.stack(states))})[QF_PREDS].double()
        values, advantage_values = torch.linalg.svdvals(q), torch.linalg.svdvals(q - q.mean(-1, keepdim=True))
        results.append(Spectrum(
            trial.name, params["env"], q.shape[0], q.shape[1], approximate_rank(values), approximate_rank(advantage_values),
            (values / values[0]).tolist(), (advantage_values / advantage_values[0].clamp(min=1e-12)).tolist(),
            *completion_check(q, seed=seed)))
    return results


def write(spectra: list[Spectrum], out: Path) -> list[Path]:
    """rank.json and spectrum.png (normalised singular values, one line per trial) under `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "rank.json").write_text(json.dumps([asdict(s) for s in spectra], indent=1))
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for s in spectra:
        for ax, values in zip(axes, (s.singular_values, s.advantage_singular_values)):
            ax.semilogy(range(1, len(values) + 1), np.maximum(values, 1e-8), marker=".", label=s.trial)
    for ax, title in zip(axes, ("Q", "Q − mean over actions")):
        ax.set(title=f"{title}: singular values / largest", xlabel="index")
    axes[0].legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(out / "spectrum.png", dpi=120)
    plt.close(figure)
    return [out / "rank.json", out / "spectrum.png"]
