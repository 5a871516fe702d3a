"""LBC's meta-controller: a non-stationary bandit over regions of the behaviour space Ψ.

ψ = (τ_1, ω_1, …, τ_N, ω_N) parametrises the hybrid behaviour μ_ψ (see `mapping.py`). Ψ is cut
into arms: one arm = one τ bin (every member's τ drawn log-uniformly, independently, inside the
bin) × one region of the ω simplex. Pulling an arm draws a concrete ψ inside its region; an env
runner holds that ψ for one episode and reports the episode back with the arm's index.

Objective (Fan et al. 2023, eq. 7): maximise L_P = E_{ψ ~ P_Ψ}[V^TV_{μ_ψ} + c · V^TD_{μ_ψ}].
Interpretation implemented here:

- V^TV is the episode's undiscounted return (`episodic_return`).
- V^TD, the exploration/diversity value of a behaviour, has two parts. The count-based UCB bonus
  c_ucb · sqrt(log n / n_k) inside each bandit plays it for the selection itself; on top of that the
  caller may pass a per-episode `exploration_bonus` (e.g. an intrinsic or novelty return), which is
  added to the bandit reward with weight `td_weight`:  r = episodic_return + td_weight · exploration_bonus.

Bandit: an ensemble of sliding-window UCBs (Garivier & Moulines 2011) that all see every
(arm, reward) pair and differ in UCB constant c and window W; the paper uses an ensemble of bandits
with different hyperparameters. Here each `select()` asks one ensemble member chosen uniformly at
random, so fast (small W) and slow (large W) trackers share the pulls. One member's index for arm k,
over the last W pulls of any arm:

    n_k = pulls of k in the window,  m_k = mean normalised reward of k in the window,
    UCB_k = m_k + c · sqrt(log(min(t, W)) / n_k),  and +∞ when n_k = 0,

so an arm that left the window is retried, which is what lets the bandit follow a best arm that
changes as the policies learn. Rewards are normalised to [0, 1] by the min and max of that
member's window, which makes c mean the same in every game whatever its score scale (an outlier
sets the scale only while it is in the window).

Collapse guards: a warm-up hands every arm out `min_pulls` times (least-selected first) before any
UCB is consulted, and afterwards a uniform ε floor picks a random arm with probability ε, so every
arm keeps an expected selection share ≥ ε / K.

Concurrency: one controller serves every env runner (a Ray actor or the driver holds it). Selects
that happen between two updates see the same statistics; the uniform ensemble choice, ε and random
tie-breaking spread them over arms. The class is plain Python (no global state, no Ray), its
randomness is one seeded numpy Generator, and `get_state()` / `set_state()` round-trip it exactly.

Special cases are configurations: ω one-hot arms only = Agent57-style selection of one member;
a single arm (one τ bin, one ω mode, or `pinned_arm`) = a fixed behaviour, e.g. the uniform
mixture or the best single member.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

OMEGA_MODES = ("one_hot", "dominant", "uniform", "simplex")


@dataclass(frozen=True)
class MetaControllerConfig:
    """Arm construction and bandit settings.

    tau_range: (τ_min, τ_max), cut into `num_tau_bins` bins of equal width on a log scale; τ_min =
        τ_max with one bin pins τ to a value. The default suits standardised logits (τ = 0.1 is
        nearly greedy, τ = 10 nearly uniform).
    omega_modes: regions of the ω simplex, each giving these arms per τ bin:
        "one_hot": N arms, ω = e_i (member i alone);
        "dominant": N arms, ω_i ∈ [dominant_min_weight, 1), the rest split by a flat Dirichlet;
        "uniform": 1 arm, ω = 1/N;
        "simplex": 1 arm, ω ~ flat Dirichlet over the whole simplex.
        With N = 1 every mode is the point ω = (1,), so one arm per τ bin is built.
    bandits: the ensemble, one (ucb_c, window) pair per sliding-window UCB. Every window must
        exceed the number of arms, or the +∞ bonus of absent arms turns UCB into round-robin.
    epsilon: probability of a uniformly random arm after warm-up (the floor).
    min_pulls: selections of every arm before UCB is consulted.
    td_weight: c in V^TV + c · V^TD, the weight of the caller's `exploration_bonus`.
    pinned_arm: if set, `select()` always returns this arm (its ψ still sampled); updates are
        still recorded, so the statistics stay comparable with an unpinned run.
    """

    tau_range: tuple[float, float] = (0.1, 10.0)
    num_tau_bins: int = 3
    omega_modes: tuple[str, ...] = ("one_hot", "dominant", "uniform")
    dominant_min_weight: float = 0.5
    bandits: tuple[tuple[float, int], ...] = ((0.5, 400), (1.0, 200), (1.5, 100))
    epsilon: float = 0.05
    min_pulls: int = 1
    td_weight: float = 1.0
    pinned_arm: int | None = None

    def __post_init__(self) -> None:
        # YAML/JSON configs give lists; tuples keep equal configs equal in saved states.
        object.__setattr__(self, "tau_range", tuple(self.tau_range))
        object.__setattr__(self, "omega_modes", tuple(self.omega_modes))
        object.__setattr__(self, "bandits", tuple(tuple(pair) for pair in self.bandits))
        tau_min, tau_max = self.tau_range
        if not (0 < tau_min <= tau_max and math.isfinite(tau_max)):
            raise ValueError(f"MetaControllerConfig: tau_range must satisfy 0 < tau_min <= tau_max < inf, got {self.tau_range}")
        if self.num_tau_bins < 1 or (tau_min == tau_max and self.num_tau_bins != 1):
            raise ValueError(f"MetaControllerConfig: num_tau_bins must be >= 1, and 1 when tau_min == tau_max; got {self.num_tau_bins}")
        unknown = [mode for mode in self.omega_modes if mode not in OMEGA_MODES]
        if not self.omega_modes or unknown or len(set(self.omega_modes)) != len(self.omega_modes):
            raise ValueError(f"MetaControllerConfig: omega_modes must be distinct names from {OMEGA_MODES}, got {self.omega_modes}")
        if not 0 < self.dominant_min_weight < 1:
            raise ValueError(f"MetaControllerConfig: dominant_min_weight must be in (0, 1), got {self.dominant_min_weight}")
        if not self.bandits or any(c < 0 or window < 1 for c, window in self.bandits):
            raise ValueError(f"MetaControllerConfig: bandits must be non-empty (ucb_c >= 0, window >= 1) pairs, got {self.bandits}")
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"MetaControllerConfig: epsilon must be in [0, 1], got {self.epsilon}")
        if self.min_pulls < 0:
            raise ValueError(f"MetaControllerConfig: min_pulls must be >= 0, got {self.min_pulls}")


@dataclass(frozen=True)
class ArmRegion:
    """One region of Ψ: every member's τ in [tau_low, tau_high] (log-uniform) and ω in the region
    named by omega_mode (`member` is the favoured member of "one_hot"/"dominant", else None)."""

    tau_low: float
    tau_high: float
    omega_mode: str
    member: int | None
    num_members: int
    dominant_min_weight: float

    @property
    def label(self) -> str:
        omega = self.omega_mode if self.member is None else f"{self.omega_mode}[{self.member}]"
        return f"tau[{self.tau_low:.3g},{self.tau_high:.3g}]/{omega}"

    def sample(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A concrete ψ inside the region: {"tau": [N], "omega": [N]} as float64 arrays."""
        n = self.num_members
        tau = np.exp(rng.uniform(math.log(self.tau_low), math.log(self.tau_high), size=n))
        # Clip the round trip through log/exp back into the closed interval.
        tau = np.clip(tau, self.tau_low, self.tau_high)
        if self.omega_mode == "one_hot" or n == 1:
            omega = np.zeros(n)
            omega[self.member or 0] = 1.0
        elif self.omega_mode == "uniform":
            omega = np.full(n, 1.0 / n)
        elif self.omega_mode == "simplex":
            omega = rng.dirichlet(np.ones(n))
        else:  # dominant
            weight = rng.uniform(self.dominant_min_weight, 1.0)
            omega = np.insert((1.0 - weight) * rng.dirichlet(np.ones(n - 1)), self.member, weight)
        return {"tau": tau, "omega": omega}


def build_arms(num_members: int, config: MetaControllerConfig) -> tuple[ArmRegion, ...]:
    """Arms in a fixed order: τ bins ascending, then config.omega_modes in order, members ascending."""
    if num_members < 1:
        raise ValueError(f"build_arms: num_members must be >= 1, got {num_members}")
    edges = np.geomspace(*config.tau_range, config.num_tau_bins + 1)
    # With one member every ω region is the point (1,): keep one arm per τ bin.
    modes = config.omega_modes[:1] if num_members == 1 else config.omega_modes
    arms = []
    for low, high in zip(edges[:-1], edges[1:]):
        for mode in modes:
            members = range(num_members) if mode in ("one_hot", "dominant") else [None]
            arms.extend(ArmRegion(float(low), float(high), mode, member, num_members, config.dominant_min_weight) for member in members)
    return tuple(arms)


class MetaController:
    """The bandit meta-controller over `build_arms(num_members, config)`; see the module docstring."""

    def __init__(self, num_members: int, config: MetaControllerConfig | None = None, seed: int | None = 0):
        self.config = config or MetaControllerConfig()
        self.num_members = num_members
        self.arms = build_arms(num_members, self.config)
        num_arms = len(self.arms)
        too_small = [window for _, window in self.config.bandits if window <= num_arms]
        if too_small:
            raise ValueError(f"MetaController: every bandit window must exceed the number of arms ({num_arms}); got windows {too_small}: use larger windows or fewer arms")
        if self.config.pinned_arm is not None and not 0 <= self.config.pinned_arm < num_arms:
            raise ValueError(f"MetaController: pinned_arm must be in [0, {num_arms}), got {self.config.pinned_arm}")
        self._rng = np.random.default_rng(seed)
        max_window = max(window for _, window in self.config.bandits)
        self._history_arms: deque[int] = deque(maxlen=max_window)
        self._history_rewards: deque[float] = deque(maxlen=max_window)
        self._selections = np.zeros(num_arms, dtype=np.int64)
        self._pulls = np.zeros(num_arms, dtype=np.int64)

    @property
    def num_arms(self) -> int:
        return len(self.arms)

    def select(self) -> tuple[int, dict[str, np.ndarray]]:
        """Choose an arm and draw ψ inside it: (arm index, {"tau": [N], "omega": [N]})."""
        arm = self._choose_arm()
        self._selections[arm] += 1
        return arm, self.arms[arm].sample(self._rng)

    def update(self, arm: int, episodic_return: float, exploration_bonus: float = 0.0) -> None:
        """Record a finished episode of `arm`: reward = episodic_return + td_weight · exploration_bonus."""
        if not 0 <= arm < self.num_arms:
            raise ValueError(f"MetaController.update: arm must be in [0, {self.num_arms}), got {arm}")
        reward = float(episodic_return) + self.config.td_weight * float(exploration_bonus)
        if not math.isfinite(reward):
            raise ValueError(f"MetaController.update: reward must be finite, got return {episodic_return!r} and bonus {exploration_bonus!r}")
        self._history_arms.append(int(arm))
        self._history_rewards.append(reward)
        self._pulls[arm] += 1

    def best_arm(self) -> int | None:
        """The arm with the highest mean reward over the largest window (the exploiting choice:
        no UCB bonus, no ε), ties to the lowest index; None before any episode was reported.
        Evaluation acts with it; it changes no counter and draws no random number, so asking
        leaves the training selections exactly as they would be."""
        means = self.stats()["window_mean_reward"]
        return None if np.isnan(means).all() else int(np.nanargmax(means))

    def stats(self) -> dict[str, Any]:
        """Per-arm metrics, each a [K] array (labels a list): lifetime `pulls` (updates) and
        `selections`, `selection_share`, and over the largest window `window_pulls` and
        `window_mean_reward` (raw reward, NaN for an arm absent from the window)."""
        arms, rewards = self._window(len(self._history_arms))
        window_pulls = np.bincount(arms, minlength=self.num_arms)
        sums = np.bincount(arms, weights=rewards, minlength=self.num_arms)
        with np.errstate(invalid="ignore", divide="ignore"):
            window_mean = np.where(window_pulls > 0, sums / window_pulls, np.nan)
        total = self._selections.sum()
        return {
            "labels": [arm.label for arm in self.arms],
            "pulls": self._pulls.copy(),
            "selections": self._selections.copy(),
            "selection_share": self._selections / total if total else np.zeros(self.num_arms),
            "window_pulls": window_pulls,
            "window_mean_reward": window_mean,
        }

    def get_state(self) -> dict[str, Any]:
        """A plain picklable snapshot (checkpoints): config, RNG state, window and counters."""
        return {
            "config": asdict(self.config),
            "num_members": self.num_members,
            "rng": self._rng.bit_generator.state,
            "history_arms": list(self._history_arms),
            "history_rewards": list(self._history_rewards),
            "selections": self._selections.tolist(),
            "pulls": self._pulls.tolist(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore `get_state()`'s snapshot; the controller then continues exactly as the saved one."""
        if state["num_members"] != self.num_members or state["config"] != asdict(self.config):
            raise ValueError(
                "MetaController.set_state: the state was saved with a different configuration "
                f"(num_members {state['num_members']}, config {state['config']}); build the controller with the saved one"
            )
        self._rng.bit_generator.state = state["rng"]
        self._history_arms = deque(state["history_arms"], maxlen=self._history_arms.maxlen)
        self._history_rewards = deque(state["history_rewards"], maxlen=self._history_rewards.maxlen)
        self._selections = np.array(state["selections"], dtype=np.int64)
        self._pulls = np.array(state["pulls"], dtype=np.int64)

    def _window(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The last `size` (arm, reward) pairs as arrays."""
        start = max(len(self._history_arms) - size, 0)
        return np.array(self._history_arms, dtype=np.int64)[start:], np.array(self._history_rewards, dtype=np.float64)[start:]

    def _choose_arm(self) -> int:
        if self.config.pinned_arm is not None:
            return self.config.pinned_arm
        if self._selections.min() < self.config.min_pulls:
            return self._random_argmax(-self._selections.astype(np.float64))
        if self._rng.random() < self.config.epsilon:
            return int(self._rng.integers(self.num_arms))
        ucb_c, window = self.config.bandits[int(self._rng.integers(len(self.config.bandits)))]
        return self._random_argmax(self._ucb_scores(ucb_c, window))

    def _ucb_scores(self, ucb_c: float, window: int) -> np.ndarray:
        arms, rewards = self._window(window)
        counts = np.bincount(arms, minlength=self.num_arms)
        if len(rewards) and rewards.max() > rewards.min():
            rewards = (rewards - rewards.min()) / (rewards.max() - rewards.min())
        else:  # no spread: no arm looks better, the bonus alone decides
            rewards = np.zeros_like(rewards)
        sums = np.bincount(arms, weights=rewards, minlength=self.num_arms)
        pulled = counts > 0
        scores = np.full(self.num_arms, np.inf)
        log_t = math.log(max(len(arms), 1))
        scores[pulled] = sums[pulled] / counts[pulled] + ucb_c * np.sqrt(log_t / counts[pulled])
        return scores

    def _random_argmax(self, scores: np.ndarray) -> int:
        """argmax with ties broken uniformly, so simultaneous selects do not all pick the lowest index."""
        best = np.flatnonzero(scores == scores.max())
        return int(best[0]) if len(best) == 1 else int(self._rng.choice(best))
