"""Sequential navigation with K targets whose order follows 2nd-order Markov dynamics
(the behaviour-prior papers' task family; no public code exists, so it is built here).

A body (a 2-DoF MuJoCo point mass, or the MuJoCo Ant) moves in a square arena with K targets.
Reaching the *next* target gives reward 1; the target after it is drawn from
`SecondOrderTargetSequence`: given the last two visited targets it is predictable (probability
`predictability`), given only the last one it is uniform. A prior with memory (LSTM) can learn the
sequence; one without memory cannot — the point of the task (see the point mass's
`land_on_targets`).

Observation (Dict): `proprio` (the body's own state), `targets` (K × 2 target positions relative to
the body), `next_target` (one-hot of the target to reach). A task is a sequence table
(`sequence_seeds`, one drawn per episode: a multi-task family) and a layout (`layout_seed`, or a new
random layout each episode); held-out tasks are seeds not used in training.
"""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np

POINT_MASS_XML = """
<mujoco model="point_mass">
  <option timestep="0.02"/>
  <worldbody>
    <light pos="0 0 5"/>
    <geom name="floor" type="plane" size="{size} {size} 0.1" contype="0" conaffinity="0"/>
    <body name="mass" pos="0 0 0.1">
      <joint name="x" type="slide" axis="1 0 0" limited="true" range="-{size} {size}" damping="2"/>
      <joint name="y" type="slide" axis="0 1 0" limited="true" range="-{size} {size}" damping="2"/>
      <geom name="ball" type="sphere" size="0.1" mass="1" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator>
    <motor joint="x" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>
    <motor joint="y" gear="{gear}" ctrlrange="-1 1" ctrllimited="true"/>
  </actuator>
</mujoco>
"""


class SecondOrderTargetSequence:
    """P(next | previous, last) over K ≥ 3 targets. For each `last`, a random bijection σ_last maps
    every other target `previous` to a distinct successor; the next target is σ_last(previous) with
    probability p and otherwise uniform over the remaining targets ≠ last. Every column of the
    pair-transition matrix then sums to one (doubly stochastic), so in the long run `previous` is
    uniform given `last` and P(next | last) is uniform: only a memory of two targets predicts."""

    def __init__(self, num_targets: int, predictability: float = 0.9, seed: int = 0):
        if num_targets < 3:
            raise ValueError(f"num_targets must be >= 3 for a 2nd-order sequence, got {num_targets}")
        if not 0 <= predictability <= 1:
            raise ValueError(f"predictability must be in [0, 1], got {predictability}")
        self.num_targets, self.predictability = num_targets, predictability
        rng = np.random.default_rng(seed)
        self.successor = np.full((num_targets, num_targets), -1)
        for last in range(num_targets):
            others = np.array([t for t in range(num_targets) if t != last])
            self.successor[others, last] = rng.permutation(others)

    def probabilities(self, previous: int, last: int) -> np.ndarray:
        k = self.num_targets
        probs = np.full(k, (1 - self.predictability) / (k - 2))
        probs[last] = 0.0
        probs[self.successor[previous, last]] = self.predictability
        return probs

    def sample_next(self, rng: np.random.Generator, previous: int | None, last: int | None) -> int:
        """The first two targets of an episode are uniform (without immediate repeats)."""
        if last is None:
            return int(rng.integers(self.num_targets))
        if previous is None:
            return int(rng.choice([t for t in range(self.num_targets) if t != last]))
        return int(rng.choice(self.num_targets, p=self.probabilities(previous, last)))


class SequentialNavigation(gym.Env):
    """The task logic; bodies subclass it with `_reset_body`, `_step_body`, `_position`, `_proprio`."""

    metadata = {"render_modes": []}
    arena_default = 2.0

    def __init__(self, num_targets: int = 4, predictability: float = 0.9, sequence_seeds: list[int] | int = 0,
                 layout_seed: int | None = None, arena_size: float | None = None, target_radius: float = 0.3,
                 min_target_distance: float = 0.8, max_episode_steps: int = 400):
        seeds = [sequence_seeds] if isinstance(sequence_seeds, int) else list(sequence_seeds)
        if not seeds:
            raise ValueError("sequence_seeds must name at least one task")
        self.sequences = [SecondOrderTargetSequence(num_targets, predictability, seed) for seed in seeds]
        self.num_targets, self.layout_seed = num_targets, layout_seed
        self.arena_size = float(arena_size or self.arena_default)
        self.target_radius, self.min_target_distance = target_radius, min_target_distance
        self.max_episode_steps = max_episode_steps
        proprio_dim = self._proprio().shape[0]
        self.observation_space = gym.spaces.Dict({
            "proprio": gym.spaces.Box(-np.inf, np.inf, (proprio_dim,), np.float32),
            "targets": gym.spaces.Box(-np.inf, np.inf, (2 * num_targets,), np.float32),
            "next_target": gym.spaces.Box(0.0, 1.0, (num_targets,), np.float32),
        })

    # --- the task -------------------------------------------------------------------------------
    def _layout(self, rng: np.random.Generator) -> np.ndarray:
        """K target positions at least `min_target_distance` apart (rejection sampling)."""
        span = self.arena_size - self.target_radius
        for _ in range(1000):
            points = rng.uniform(-span, span, size=(self.num_targets, 2))
            gaps = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(self.num_targets) * 1e9
            if gaps.min() >= self.min_target_distance:
                return points
        raise ValueError(f"cannot place {self.num_targets} targets {self.min_target_distance} apart in an arena "
                         f"of half-width {self.arena_size}; lower min_target_distance or num_targets")

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.sequence = self.sequences[int(self.np_random.integers(len(self.sequences)))]
        layout_rng = np.random.default_rng(self.layout_seed) if self.layout_seed is not None else self.np_random
        self.targets = self._layout(layout_rng)
        self._reset_body(self.np_random)
        self.previous, self.last = None, None
        self.next_target = self.sequence.sample_next(self.np_random, None, None)
        self.steps, self.reached = 0, 0
        return self._observation(), {"next_target": self.next_target}

    def step(self, action):
        terminated = self._step_body(np.asarray(action, dtype=np.float64))
        self.steps += 1
        reward = 0.0
        if np.linalg.norm(self._position() - self.targets[self.next_target]) < self.target_radius:
            reward = 1.0
            self.reached += 1
            self.previous, self.last = self.last, self.next_target
            self.next_target = self.sequence.sample_next(self.np_random, self.previous, self.last)
            self._on_reached(self.targets[self.last])
        truncated = self.steps >= self.max_episode_steps
        info = {"next_target": self.next_target, "targets_reached": self.reached}
        return self._observation(), reward, bool(terminated), truncated, info

    def _observation(self) -> dict[str, np.ndarray]:
        one_hot = np.zeros(self.num_targets, dtype=np.float32)
        one_hot[self.next_target] = 1.0
        return {"proprio": self._proprio().astype(np.float32),
                "targets": (self.targets - self._position()).reshape(-1).astype(np.float32),
                "next_target": one_hot}

    # --- the body ---------------------------------------------------------------------------------
    def _reset_body(self, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def _step_body(self, action: np.ndarray) -> bool:
        """Apply the action; True if the body failed (terminates the episode)."""
        raise NotImplementedError

    def _position(self) -> np.ndarray:
        raise NotImplementedError

    def _on_reached(self, target_position: np.ndarray) -> None:
        """Called when the next target is reached (after the next one is drawn)."""

    def _proprio(self) -> np.ndarray:
        raise NotImplementedError


class PointMassNavigation(SequentialNavigation):
    """2-DoF point mass (force-controlled ball on two slide joints, walls at the arena edge).
    Proprioception: position and velocity.

    `land_on_targets`: a reached target stops the mass at its centre, so the state after a reach
    holds the last target and nothing of the way there. Measured: only with it did an LSTM prior
    distilled from an expert pick the next target more often than an MLP prior (0.60 vs 0.44 of
    its choices; 0.46 vs 0.44 without), docs/benchmarks.md."""

    def __init__(self, *, frame_skip: int = 5, gear: float = 4.0, land_on_targets: bool = False, **task):
        self.land_on_targets = land_on_targets
        size = float(task.get("arena_size") or self.arena_default)
        self.model = mujoco.MjModel.from_xml_string(POINT_MASS_XML.format(size=size, gear=gear))
        self.data = mujoco.MjData(self.model)
        self.frame_skip = frame_skip
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        super().__init__(**task)

    def _reset_body(self, rng: np.random.Generator) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = rng.uniform(-0.5, 0.5, size=2) * self.arena_size
        mujoco.mj_forward(self.model, self.data)

    def _step_body(self, action: np.ndarray) -> bool:
        self.data.ctrl[:] = np.clip(action, -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        return False

    def _position(self) -> np.ndarray:
        return self.data.qpos[:2].copy()

    def _proprio(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[:2], self.data.qvel[:2]])

    def _on_reached(self, target_position: np.ndarray) -> None:
        if self.land_on_targets:
            self.data.qpos[:2], self.data.qvel[:2] = target_position, 0.0
            mujoco.mj_forward(self.model, self.data)


class AntNavigation(SequentialNavigation):
    """gymnasium's MuJoCo Ant-v5 as the body (its own reward is ignored; an unhealthy Ant ends the
    episode). Proprioception: Ant's observation without the x-y position."""

    arena_default = 5.0

    def __init__(self, **task):
        self.ant = gym.make("Ant-v5").unwrapped
        self.action_space = self.ant.action_space
        self._ant_obs, _ = self.ant.reset(seed=0)
        task.setdefault("target_radius", 0.6)
        task.setdefault("min_target_distance", 2.0)
        task.setdefault("max_episode_steps", 1000)
        super().__init__(**task)

    def _reset_body(self, rng: np.random.Generator) -> None:
        self._ant_obs, _ = self.ant.reset(seed=int(rng.integers(2**31)))

    def _step_body(self, action: np.ndarray) -> bool:
        self._ant_obs, _, terminated, _, _ = self.ant.step(action)
        return terminated

    def _position(self) -> np.ndarray:
        return self.ant.data.qpos[:2].copy()

    def _proprio(self) -> np.ndarray:
        return np.asarray(self._ant_obs, dtype=np.float64)

    def close(self) -> None:
        self.ant.close()
